"""Reordering the rules of switch and change (issue 16): drag a rule by its handle, or
move it with the arrow keys on the handle; the person sees the new order, and a
switch's wires move with its rules, as in Node-RED. Each rule reads as one line, as
Node-RED's rule rows do (`x-widget: row`). Screenshots 95, 96 and 97."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def rule(value: str) -> dict:
    return {"t": "eq", "v": value, "vt": "str"}


def sink(letter: str, y: int) -> dict:
    return {"id": f"d{letter}", "type": "debug", "z": "t1", "x": 520, "y": y, "wires": [],
            "name": f"to {letter}", "active": True}


FLOWS = [TAB,
         {"id": "sw1", "type": "switch", "z": "t1", "x": 250, "y": 160, "name": "route",
          "property": "payload", "propertyType": "msg", "checkall": "true", "repair": False,
          "rules": [rule("a"), rule("b"), rule("c")], "outputs": 3,
          "wires": [["da"], ["db"], ["dc"]]},
         sink("a", 80), sink("b", 160), sink("c", 240),
         {"id": "ch1", "type": "change", "z": "t1", "x": 250, "y": 320, "name": "", "wires": [[]],
          "rules": [{"t": "set", "p": "first", "pt": "msg", "to": "1", "tot": "str"},
                    {"t": "set", "p": "second", "pt": "msg", "to": "2", "tot": "str"}]}]


def values(panel: Locator) -> list[str]:
    """The rules' values, top to bottom, as the person sees them."""
    return [box.input_value() for box in
            panel.locator('.form-array-item [data-key="v"] input[type=text]').all()]


@pytest.fixture
def flows(editor: EditorPage) -> EditorPage:
    editor.server.request("POST", "/flows", FLOWS)
    editor.open()
    return editor


def test_dragging_the_third_rule_to_the_top_moves_its_wire_too(flows: EditorPage) -> None:
    editor = flows
    panel = editor.edit("sw1")
    assert values(panel) == ["a", "b", "c"]
    items = panel.locator(".form-array-item")
    expect(items.locator(".form-array-output")).to_have_text(["→ 1", "→ 2", "→ 3"])
    handle = items.nth(2).locator(".drag-handle")
    start = handle.bounding_box()
    top = items.nth(0).bounding_box()
    page = editor.page
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2, top["y"] + 5, steps=12)
    page.mouse.up()
    assert values(panel) == ["c", "a", "b"]
    expect(items.locator(".form-array-output")).to_have_text(["→ 1", "→ 2", "→ 3"])
    editor.screenshot("95-switch-rules-reordered")
    editor.done()
    # The wires follow the rules: output 1 (now "c") goes to "to c".
    for port, target in enumerate(("dc", "da", "db")):
        expect(editor.wire_locator("sw1", port, target)).to_have_count(1)
    expect(editor.wire_locator("sw1", 0, "da")).to_have_count(0)
    editor.deploy()
    saved = {n["id"]: n for n in editor.server.flows()}["sw1"]
    assert [r["v"] for r in saved["rules"]] == ["c", "a", "b"]
    assert saved["wires"] == [["dc"], ["da"], ["db"]]


def test_rules_move_with_the_arrow_keys_on_their_handle(flows: EditorPage) -> None:
    editor = flows
    panel = editor.edit("sw1")
    panel.get_by_role("button", name="Move Rule 1", exact=True).focus()
    editor.page.keyboard.press("ArrowDown")
    assert values(panel) == ["b", "a", "c"]
    # The moved rule's handle keeps the focus: pressing again moves it on.
    editor.page.keyboard.press("ArrowDown")
    assert values(panel) == ["b", "c", "a"]
    editor.page.keyboard.press("ArrowUp")
    assert values(panel) == ["b", "a", "c"]
    # Removing a rule takes its wire away and the others keep theirs.
    panel.locator(".form-array-item").nth(2).locator(".remove-item").click()
    editor.done()
    expect(editor.wire_locator("sw1", 0, "db")).to_have_count(1)
    expect(editor.wire_locator("sw1", 1, "da")).to_have_count(1)
    expect(editor.page.locator('#canvas [data-wire^="sw1:"]')).to_have_count(2)

    panel = editor.edit("ch1")
    first = panel.locator('.form-array-item [data-key="p"] input[type=text]')
    expect(first).to_have_count(2)
    assert [box.input_value() for box in first.all()] == ["first", "second"]
    panel.locator(".form-array-item").nth(1).locator(".drag-handle").press("ArrowUp")
    assert [box.input_value() for box in first.all()] == ["second", "first"]
    editor.done()
    editor.deploy()
    saved = {n["id"]: n for n in editor.server.flows()}
    assert [r["p"] for r in saved["ch1"]["rules"]] == ["second", "first"]
    assert saved["sw1"]["wires"] == [["db"], ["da"]]


def shown(text: Locator) -> bool:
    """Whether a label reads on screen (a label kept for screen readers only is 1 px)."""
    box = text.bounding_box()
    return box is not None and box["width"] > 2 and box["height"] > 2


def middle_y(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"] + box["height"] / 2


def test_a_rule_reads_as_one_line(flows: EditorPage) -> None:
    editor = flows
    panel = editor.edit("sw1")
    items = panel.locator(".form-array-item")
    first = items.nth(0)
    # Handle, test, value type and value, output and remove side by side on one line.
    parts = [first.locator(".drag-handle"), first.locator('[data-key="t"] select'),
             first.locator('[data-key="v"] .typed-type'), first.locator('[data-key="v"] input'),
             first.locator(".form-array-output"), first.locator(".remove-item")]
    centre = middle_y(parts[0])
    for part in parts:
        expect(part).to_be_visible()
        assert abs(middle_y(part) - centre) <= 3, part
    xs = [part.bounding_box()["x"] for part in parts]
    assert xs == sorted(xs)
    expect(first.locator('[data-key="t"] select')).to_have_accessible_name("Test")
    # The field names are not shown as labels: the row says "== string a → 1".
    assert not shown(first.get_by_text("Test", exact=True))
    assert not shown(first.get_by_text("Value", exact=True))
    assert first.bounding_box()["height"] < 50
    # "is between" shows its second value after the word "and", under the first (as
    # Node-RED's row does), the output still beside the rule.
    first.locator('[data-key="t"] select').select_option(label="is between")
    expect(first.get_by_text("and", exact=True)).to_be_visible()
    assert shown(first.get_by_text("and", exact=True))
    second = first.locator('[data-key="v2"] input')
    expect(second).to_be_visible()
    second.fill("9")
    editor.screenshot("96-switch-rule-rows")
    assert middle_y(parts[3]) < middle_y(second) < first.bounding_box()["y"] + 90
    editor.page.get_by_role("button", name="Cancel").click()

    panel = editor.edit("ch1")
    rule = panel.locator(".form-array-item").nth(0)
    assert shown(rule.get_by_text("to the value", exact=True))
    assert not shown(rule.get_by_text("Action", exact=True))
    action = rule.locator('[data-key="t"] select')
    prop = rule.locator('[data-key="p"] input')
    assert abs(middle_y(action) - middle_y(prop)) <= 3
    action.select_option(label="Change")
    expect(rule.get_by_text("Replace with", exact=True)).to_be_visible()
    assert shown(rule.get_by_text("Search for", exact=True))
    editor.screenshot("97-change-rule-rows")
