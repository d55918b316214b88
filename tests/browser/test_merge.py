"""Two editors on one server (two browser contexts): a deploy refused as stale (409)
merges node by node: changes to different nodes merge by themselves, a property both
changed is shown side by side (before / yours / the server's) for the person to pick."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "f1", "type": "tab", "label": "Flow 1"}


def comment(node_id: str, name: str, y: int) -> dict:
    return {"id": node_id, "type": "comment", "z": "f1", "name": name, "info": "",
            "x": 200, "y": y, "wires": []}


@pytest.fixture
def editors(server: Server, browser: object) -> Iterator[tuple[EditorPage, EditorPage]]:
    """Editors A and B, in two browser contexts, on flows with comments X, Y and Z."""
    server.request("POST", "/flows", [TAB, comment("x1", "X", 100), comment("y1", "Y", 200),
                                      comment("z1", "Z", 300)])
    contexts, pages, errors = [], [], []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 850})  # type: ignore[attr-defined]
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}"))
        editor = EditorPage(page, server)
        editor.open()
        contexts.append(context)
        pages.append(editor)
    yield pages[0], pages[1]
    for context in contexts:
        context.close()
    assert not errors, errors


def rename(editor: EditorPage, node_id: str, name: str) -> None:
    panel = editor.edit(node_id)
    editor.field(panel, "/name").fill(name)
    editor.done()
    expect(editor.node(node_id).locator(".node-label")).to_have_text(name)


def deploy_refused_then_merge(editor: EditorPage) -> None:
    """Press Deploy on a stale editor: the 409 dialog, then Merge."""
    page = editor.page
    # A's deploy was announced on /comms; B's notice offers the same merge: put it away.
    notice = page.locator("[data-notification=warning]", has_text="updated")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Close").click()
    with editor.expect_deploy() as response:
        page.locator("#deploy-button").click()
    assert response.value.status == 409
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Flows changed on the server")
    dialog.locator("[data-action=merge-flows]").click()


def node_of(server: Server, node_id: str) -> dict:
    return next(n for n in server.flows() if n["id"] == node_id)


def test_changes_to_different_nodes_both_survive(editors: tuple[EditorPage, EditorPage]) -> None:
    a, b = editors
    a.move_node("x1", 200, 0)
    rename(a, "x1", "X moved by A")
    a.deploy()
    moved_x = node_of(a.server, "x1")["x"]
    assert moved_x > 300

    rename(b, "y1", "Y renamed by B")
    deploy_refused_then_merge(b)
    expect(b.page.locator("dialog.merge-dialog")).to_have_count(0)  # nothing to pick
    expect(b.node("x1").locator(".node-label")).to_have_text("X moved by A")
    expect(b.node("y1").locator(".node-label")).to_have_text("Y renamed by B")
    x_box = b.node("x1").locator(".node-body").bounding_box()
    z_box = b.node("z1").locator(".node-body").bounding_box()
    assert x_box["x"] > z_box["x"] + 150  # B's canvas shows X where A moved it
    b.deploy()

    assert node_of(b.server, "x1")["name"] == "X moved by A"
    assert node_of(b.server, "x1")["x"] == moved_x
    assert node_of(b.server, "y1")["name"] == "Y renamed by B"
    assert node_of(b.server, "z1")["name"] == "Z"


def test_the_same_property_changed_twice_is_picked_side_by_side(
        editors: tuple[EditorPage, EditorPage]) -> None:
    a, b = editors
    rename(a, "z1", "Z from A")
    a.deploy()

    rename(b, "z1", "Z from B")
    b.move_node("z1", 0, 120)
    rename(b, "y1", "Y from B")
    deploy_refused_then_merge(b)

    picker = b.page.locator("dialog.merge-dialog")
    expect(picker.locator("[data-merge-node]")).to_have_count(1)  # Y merged by itself
    row = picker.locator('[data-merge-node="z1"] [data-merge-field="name"]')
    # B's move of Z merged by itself: only the name is to pick.
    expect(picker.locator('[data-merge-node="z1"] [data-merge-field]')).to_have_count(1)
    base, mine, theirs = (row.locator(f".merge-{side} pre") for side in ("base", "mine", "theirs"))
    expect(base).to_have_text('"Z"')
    expect(mine).to_have_text('"Z from B"')
    expect(theirs).to_have_text('"Z from A"')
    mine_box, theirs_box = mine.bounding_box(), theirs.bounding_box()
    assert abs(mine_box["y"] - theirs_box["y"]) < 2  # side by side, yours first
    assert mine_box["x"] < theirs_box["x"]
    apply = picker.locator("[data-action=apply-merge]")
    expect(apply).to_be_disabled()
    expect(picker.locator(".merge-progress")).to_have_text("1 left to pick")
    b.screenshot("merge-picker")
    row.locator(".merge-theirs input").check()
    expect(apply).to_be_enabled()
    apply.click()
    expect(picker).to_have_count(0)

    expect(b.node("z1").locator(".node-label")).to_have_text("Z from A")
    expect(b.node("y1").locator(".node-label")).to_have_text("Y from B")
    b.deploy()
    z = node_of(b.server, "z1")
    assert z["name"] == "Z from A"
    assert z["y"] > 380  # B's move kept
    assert node_of(b.server, "y1")["name"] == "Y from B"
