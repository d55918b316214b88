"""Groups in the editor, as a Node-RED user makes them: group the selection
(ctrl-shift-g), name and style it, drag it with its nodes, the box following its nodes,
nodes dropped into it and alt-dragged out, ungroup (ctrl-shift-u), delete with its
nodes, and Node-RED's JSON on export."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.test_subflows import PIPELINE, load, rect, select

pytestmark = pytest.mark.browser

# Node-RED 4.1's new group, as its export writes it (ids and geometry aside).
NODE_RED_GROUP_STYLE = {"stroke": "#999999", "stroke-opacity": "1", "fill": "none",
                        "fill-opacity": "1", "label": True, "label-position": "nw",
                        "color": "#a4a4a4"}
INJECT, DEBUG, OTHER = "i1", "d1", "c3"
FLOW = [PIPELINE[0], {**PIPELINE[1], "wires": [["d1"]]}, {**PIPELINE[5], "x": 400},
        {**PIPELINE[4], "x": 300, "y": 300, "wires": [[]]}]


def box(editor, locator_or_id):
    """The on-screen box of a node's body (by id) or of a locator."""
    return rect(editor.node(locator_or_id).locator(".node-body")
                if isinstance(locator_or_id, str) else locator_or_id)


def inside(inner: dict, outer: dict) -> bool:
    return (outer["x"] <= inner["x"] and outer["y"] <= inner["y"]
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


def drag(page, start: tuple[float, float], dx: float, dy: float, *, alt: bool = False) -> None:
    page.mouse.move(*start)
    if alt:
        page.keyboard.down("Alt")
    page.mouse.down()
    page.mouse.move(start[0] + dx, start[1] + dy, steps=8)
    page.mouse.up()
    if alt:
        page.keyboard.up("Alt")


def group_of(editor) -> dict:
    (group,) = [n for n in json.loads(editor.export_text("all")) if n["type"] == "group"]
    return group


def test_group_name_drag_fit_and_ungroup(editor):
    page = editor.page
    load(editor, FLOW)
    select(editor, INJECT, DEBUG)
    page.keyboard.press("Control+Shift+g")
    group = page.locator("#canvas [data-group-id]")
    expect(group).to_have_count(1)
    outline = group.locator(".group-box")
    assert inside(box(editor, INJECT), box(editor, outline))
    assert inside(box(editor, DEBUG), box(editor, outline))
    assert not inside(box(editor, OTHER), box(editor, outline))

    # Its dialog names it; the name shows on the box.
    corner = box(editor, outline)
    page.mouse.dblclick(corner["x"] + 6, corner["y"] + 6)
    dialog = page.locator("dialog.group-dialog")
    dialog.locator("#group-name").fill("Sensors")
    editor.screenshot("80-group-dialog")
    dialog.locator("[data-action=group-done]").click()
    expect(group.locator(".group-label")).to_have_text("Sensors")
    editor.screenshot("81-group-named")

    # Dragging the box by its label area moves both nodes with it.
    before = {n: box(editor, n) for n in (INJECT, DEBUG, OTHER)}
    label = rect(group.locator(".group-label"))
    drag(page, (label["x"] + 5, label["y"] + 5), 100, 60)
    for node_id in (INJECT, DEBUG):
        after = box(editor, node_id)
        assert (after["x"] - before[node_id]["x"], after["y"] - before[node_id]["y"]) \
            == pytest.approx((100, 60), abs=1)
    assert box(editor, OTHER) == before[OTHER]
    assert inside(box(editor, DEBUG), box(editor, outline))
    editor.screenshot("82-group-moved")

    # A node dragged within the group takes the box with it.
    width = box(editor, outline)["width"]
    editor.click_node(DEBUG)
    debug = box(editor, DEBUG)
    drag(page, (debug["x"] + 50, debug["y"] + 15), 120, 0)
    expect(outline).not_to_have_attribute("width", str(width))
    assert box(editor, outline)["width"] == pytest.approx(width + 120, abs=1)
    assert inside(box(editor, DEBUG), box(editor, outline))

    # Saved as Node-RED saves a group.
    saved = group_of(editor)
    assert list(saved) == ["id", "type", "z", "name", "style", "nodes", "x", "y", "w", "h"]
    assert saved["style"] == NODE_RED_GROUP_STYLE and saved["nodes"] == [INJECT, DEBUG]
    members = {n["id"]: n for n in json.loads(editor.export_text("all"))}
    assert members[INJECT]["g"] == saved["id"] and "g" not in members[OTHER]

    # Ungroup: the box goes, the nodes stay where they are.
    page.mouse.click(label["x"] + 105, label["y"] + 65)
    page.keyboard.press("Control+Shift+u")
    expect(group).to_have_count(0)
    expect(editor.node(INJECT)).to_be_visible()
    expect(editor.node(DEBUG)).to_be_visible()
    assert "g" not in {n["id"]: n for n in json.loads(editor.export_text("all"))}[INJECT]


def test_drop_into_alt_drag_out_and_delete_with_nodes(editor):
    page = editor.page
    load(editor, FLOW)
    select(editor, INJECT, DEBUG)
    page.locator("#main-menu-button").click()
    page.locator('#main-menu [data-menu="group"]').click()
    outline = page.locator("#canvas .group-box")
    expect(outline).to_have_count(1)

    # C dropped inside the box joins the group, which grows around it.
    target = box(editor, outline)
    other = box(editor, OTHER)
    drag(page, (other["x"] + 50, other["y"] + 15),
         target["x"] + target["width"] / 2 - other["x"] - 50,
         target["y"] + target["height"] - 20 - other["y"] - 15)
    assert group_of(editor)["nodes"] == [INJECT, DEBUG, OTHER]
    assert inside(box(editor, OTHER), box(editor, outline))
    editor.screenshot("83-group-node-dropped-in")

    # Alt-dragged out, it leaves; the box shrinks back.
    other = box(editor, OTHER)
    drag(page, (other["x"] + 50, other["y"] + 15), 0, 250, alt=True)
    assert group_of(editor)["nodes"] == [INJECT, DEBUG]
    assert not inside(box(editor, OTHER), box(editor, outline))

    # A selected group deleted goes with its nodes (Node-RED's delete); undo restores it.
    corner = box(editor, outline)
    page.mouse.click(corner["x"] + 6, corner["y"] + 6)
    expect(page.locator("#canvas .group.selected")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(outline).to_have_count(0)
    expect(editor.node(INJECT)).to_have_count(0)
    expect(editor.node(DEBUG)).to_have_count(0)
    expect(editor.node(OTHER)).to_be_visible()
    page.keyboard.press("Control+z")
    expect(outline).to_have_count(1)
    expect(editor.node(INJECT)).to_be_visible()
