"""The node-list scope picker of catch, status and complete (issue 16): what the person
picks and sees ticked, what is saved (Node-RED's keys), and what the deployed catch then
catches. Screenshot 94."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def thrower(n: int) -> list[dict]:
    """inject iN → function fN ("thrower N"), which reports an error for every message."""
    return [
        {"id": f"i{n}", "type": "inject", "z": "t1", "x": 120, "y": 60 * n, "wires": [[f"f{n}"]],
         "props": [{"p": "payload"}], "payload": "", "payloadType": "date"},
        {"id": f"f{n}", "type": "function", "z": "t1", "x": 300, "y": 60 * n, "wires": [[]],
         "name": f"thrower {n}", "outputs": 1, "func": "node.error('boom', msg); return null;"},
    ]


FLOWS = [TAB, *thrower(1), *thrower(2), *thrower(3),
         {"id": "c1", "type": "catch", "z": "t1", "x": 120, "y": 260, "wires": [["d1"]],
          "name": "", "scope": None, "uncaught": False},
         {"id": "d1", "type": "debug", "z": "t1", "x": 320, "y": 260, "wires": [],
          "active": True, "tosidebar": True, "complete": "error.source.name",
          "targetType": "msg"},
         {"id": "s1", "type": "status", "z": "t1", "x": 120, "y": 320, "wires": [[]],
          "name": "", "scope": None},
         {"id": "k1", "type": "complete", "z": "t1", "x": 120, "y": 380, "wires": [[]],
          "name": "", "scope": ["f2"]}]


def options(select: Locator) -> list[str]:
    return [text.strip() for text in select.locator("option").all_inner_texts()]


def ticked(panel: Locator) -> list[str]:
    """The labels of the ticked nodes, as the list shows them."""
    return [row.locator(".node-choice-label").inner_text()
            for row in panel.locator(".node-choice").all()
            if row.locator("input").is_checked()]


@pytest.fixture
def flows(editor: EditorPage) -> EditorPage:
    editor.server.request("POST", "/flows", FLOWS)
    editor.open()
    return editor


def test_catch_scoped_to_two_picked_nodes_catches_only_theirs(flows: EditorPage) -> None:
    editor = flows
    panel = editor.edit("c1")
    mode = panel.locator("[data-scope-mode]")
    assert options(mode) == ["all nodes", "in the same group", "selected nodes"]
    expect(mode.locator("option:checked")).to_have_text("all nodes")
    uncaught = panel.locator('[data-path="/uncaught"]')
    expect(uncaught).to_be_visible()
    expect(panel.locator(".node-choices-box")).to_be_hidden()

    mode.select_option(label="selected nodes")
    expect(uncaught).to_be_hidden()  # as Node-RED: only for all nodes or a group
    choices = panel.locator(".node-choice")
    # The flow's other nodes, by label and type; not the catch node itself.
    expect(choices.locator(".node-choice-label")).to_contain_text(
        ["debug", "inject", "status", "thrower 1", "thrower 2", "thrower 3"])
    expect(panel.locator('[data-node-choice="c1"]')).to_have_count(0)
    panel.locator(".node-choice-filter").fill("thrower")
    expect(choices.filter(has_text="inject").first).to_be_hidden()
    panel.get_by_label("thrower 1").check()
    panel.get_by_label("thrower 3").check()
    editor.screenshot("94-catch-scope-picker")
    editor.done()
    editor.deploy()
    saved = {n["id"]: n for n in editor.server.flows()}["c1"]
    assert saved["scope"] == ["f1", "f3"], saved

    panel = editor.edit("c1")
    expect(panel.locator("[data-scope-mode] option:checked")).to_have_text("selected nodes")
    assert ticked(panel) == ["thrower 1", "thrower 3"]
    panel.locator("[data-action=cancel]").click()

    # The deployed catch: thrower 2's error is not caught, 1's and 3's are.
    editor.sidebar("debug")
    caught = editor.page.locator('#debug-messages .debug-message[data-debug-node="d1"]')
    for n in (2, 1, 3):
        editor.node(f"i{n}").locator("[data-button]").click()
        expect(editor.page.locator("#debug-messages .debug-message.error")).to_have_count(
            {2: 1, 1: 2, 3: 3}[n])  # each thrower's own error entry: its message was handled
    expect(caught).to_have_count(2)
    expect(caught.locator(".debug-value")).to_have_text(["thrower 1", "thrower 3"])


def test_status_offers_the_three_scopes_and_complete_the_node_list(flows: EditorPage) -> None:
    editor = flows
    panel = editor.edit("s1")
    assert options(panel.locator("[data-scope-mode]")) == [
        "all nodes", "in the same group", "selected nodes"]
    expect(panel.locator('[data-path="/scope"] > label')).to_have_text("Report status from")
    panel.locator("[data-scope-mode]").select_option(label="in the same group")
    editor.done()
    panel = editor.edit("s1")
    expect(panel.locator("[data-scope-mode] option:checked")).to_have_text("in the same group")
    panel.locator("[data-action=cancel]").click()

    panel = editor.edit("k1")
    expect(panel.locator('[data-path="/scope"] > label')).to_have_text("Report completion of")
    expect(panel.locator("[data-scope-mode]")).to_have_count(0)
    assert ticked(panel) == ["thrower 2"]
    panel.get_by_label("thrower 1").check()
    editor.done()
    editor.deploy()
    saved = {n["id"]: n for n in editor.server.flows()}
    assert saved["k1"]["scope"] == ["f2", "f1"]
    assert saved["s1"]["scope"] == "group"
