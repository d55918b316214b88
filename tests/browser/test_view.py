"""The canvas view as a person sees it: every tab keeps its own pan and zoom, a tab
or an import far from the origin opens with its nodes on screen, zoom to fit shows
every node, and paste puts the copy at the mouse (or the view's centre)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VIEWPORT = "#canvas g.viewport"


def transform(editor) -> str:
    return editor.page.locator(VIEWPORT).get_attribute("transform")


def expect_transform(editor, value: str) -> None:
    expect(editor.page.locator(VIEWPORT)).to_have_attribute("transform", value)


def canvas_box(editor) -> dict:
    return editor.page.locator("#canvas").bounding_box()


def body_box(editor, node_id: str) -> dict:
    return editor.node(node_id).locator(".node-body").bounding_box()


def on_screen(editor, node_id: str) -> bool:
    """True when the node's body lies wholly inside the visible canvas."""
    box, canvas = body_box(editor, node_id), canvas_box(editor)
    return (box["x"] >= canvas["x"] and box["y"] >= canvas["y"]
            and box["x"] + box["width"] <= canvas["x"] + canvas["width"]
            and box["y"] + box["height"] <= canvas["y"] + canvas["height"])


def inject(node_id: str, tab: str, x: int, y: int, name: str = "") -> dict:
    return {"id": node_id, "type": "inject", "z": tab, "name": name or node_id[:4],
            "x": x, "y": y, "wires": [[]]}


def tab(tab_id: str, label: str) -> dict:
    return {"id": tab_id, "type": "tab", "label": label, "disabled": False, "info": ""}


def tab_element(editor, label: str):
    return editor.page.locator("#tab-list .tab", has_text=label)


def test_each_tab_keeps_its_own_pan_and_zoom(editor):
    page = editor.page
    editor.server.request("POST", "/flows", [
        tab("1111111111111111", "One"), tab("2222222222222222", "Two"),
        inject("a1a1a1a1a1a1a1a1", "1111111111111111", 300, 260),
        inject("b2b2b2b2b2b2b2b2", "2222222222222222", 200, 120)])
    editor.open()
    expect_transform(editor, "translate(0, 0) scale(1)")
    canvas = canvas_box(editor)
    page.mouse.move(canvas["x"] + 600, canvas["y"] + 400)
    page.mouse.wheel(80, 120)  # the wheel pans
    expect_transform(editor, "translate(-80, -120) scale(1)")
    page.locator('[data-menu="zoom-in"]').click()
    expect(page.locator(VIEWPORT)).to_have_attribute("transform", re.compile(r"scale\(1\.2\)$"))
    one_view = transform(editor)
    one_at = body_box(editor, "a1a1a1a1a1a1a1a1")
    assert on_screen(editor, "a1a1a1a1a1a1a1a1")
    editor.screenshot("view-01-tab-one-panned")

    tab_element(editor, "Two").click()
    expect(editor.node("b2b2b2b2b2b2b2b2")).to_be_visible()
    expect_transform(editor, "translate(0, 0) scale(1)")  # not tab One's offset
    assert on_screen(editor, "b2b2b2b2b2b2b2b2")
    page.locator('[data-menu="zoom-out"]').click()
    zoomed_out = re.compile(r"scale\(0\.833+4?\)$")
    expect(page.locator(VIEWPORT)).to_have_attribute("transform", zoomed_out)
    two_view = transform(editor)
    editor.screenshot("view-02-tab-two")

    tab_element(editor, "One").click()
    expect_transform(editor, one_view)
    assert body_box(editor, "a1a1a1a1a1a1a1a1") == one_at  # where the person left it
    tab_element(editor, "Two").click()
    expect_transform(editor, two_view)

    page.locator("#add-tab").click()  # a new tab starts at the origin, unzoomed
    expect(page.locator("#tab-list .tab")).to_have_count(3)
    expect_transform(editor, "translate(0, 0) scale(1)")


def test_flows_far_from_the_origin_open_on_screen(editor):
    page = editor.page
    far_tab = tab("3333333333333333", "Far away")
    editor.import_text(json.dumps([
        far_tab, inject("c3c3c3c3c3c3c3c3", far_tab["id"], 3000, 2000),
        inject("d4d4d4d4d4d4d4d4", far_tab["id"], 3300, 2100)]))
    expect(tab_element(editor, "Far away")).to_have_class(re.compile(r"\bactive\b"))
    expect(editor.node("c3c3c3c3c3c3c3c3")).to_be_visible()
    assert on_screen(editor, "c3c3c3c3c3c3c3c3")
    assert on_screen(editor, "d4d4d4d4d4d4d4d4")
    editor.screenshot("view-03-imported-tab-in-view")

    # Into the current tab (no tab in the JSON): the view pans to the new nodes.
    page.locator("#add-tab").click()
    expect_transform(editor, "translate(0, 0) scale(1)")
    editor.import_text(json.dumps([inject("e5e5e5e5e5e5e5e5", "", 4000, 3000)]))
    expect(editor.node("e5e5e5e5e5e5e5e5")).to_be_visible()
    assert on_screen(editor, "e5e5e5e5e5e5e5e5")
    assert transform(editor) != "translate(0, 0) scale(1)"


def scale_of(editor) -> float:
    return float(re.search(r"scale\(([\d.]+)\)", transform(editor)).group(1))


def flow_box(editor, ids) -> dict:
    """The screen box around the bodies of nodes `ids`."""
    boxes = [body_box(editor, i) for i in ids]
    x0, y0 = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    x1 = max(b["x"] + b["width"] for b in boxes)
    y1 = max(b["y"] + b["height"] for b in boxes)
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def test_zoom_to_fit_centres_the_flow_and_keeps_labels_readable(editor):
    page = editor.page
    # A flow near the top-left corner, wider than the view: it fits at a scale under 1.
    spots = {"1" * 16: (100, 80), "2" * 16: (1300, 90), "3" * 16: (700, 500),
             "4" * 16: (150, 700), "5" * 16: (1250, 650)}
    ids = list(spots)
    editor.import_text(json.dumps([inject(i, "", x, y) for i, (x, y) in spots.items()]))
    expect(page.locator("#canvas [data-node-id]")).to_have_count(5)
    assert not all(on_screen(editor, i) for i in ids)

    fit = page.locator("#workspace-footer [data-zoom=fit]")
    expect(fit).to_be_visible()
    fit.click()
    expect(page.locator(VIEWPORT)).not_to_have_attribute("transform", "translate(0, 0) scale(1)")
    for node_id in ids:
        assert on_screen(editor, node_id), node_id
    assert 0.6 <= scale_of(editor) < 1
    # Centred: as much room left as right (the top-left node is not pinned to the edge).
    canvas, flow = canvas_box(editor), flow_box(editor, ids)
    left = flow["x"] - canvas["x"]
    right = canvas["x"] + canvas["width"] - (flow["x"] + flow["width"])
    assert left == pytest.approx(right, abs=12), (left, right)
    assert left >= 30
    editor.screenshot("view-04-zoom-to-fit")
    fitted = transform(editor)

    page.locator('[data-menu="zoom-in"]').click()
    page.locator('[data-menu="zoom-in"]').click()
    expect(page.locator(VIEWPORT)).not_to_have_attribute("transform", fitted)
    page.locator("#canvas").click(position={"x": 5, "y": 5})  # focus the canvas, as a person would
    page.keyboard.press("Shift+Digit1")
    expect_transform(editor, fitted)

    # One small node near the origin is magnified (up to the zoom limit, 2) and sits in
    # the middle of the view.
    page.locator("#add-tab").click()
    editor.import_text(json.dumps([inject("f" * 16, "", 100, 60)]))
    fit.click()
    expect(page.locator(VIEWPORT)).to_have_attribute("transform", re.compile(r"scale\(2\)$"))
    canvas, node = canvas_box(editor), body_box(editor, "f" * 16)
    middle = (canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    assert node["x"] + node["width"] / 2 == pytest.approx(middle[0], abs=2)
    # (a little above the middle: the room for its status badge under it is centred too)
    assert node["y"] + node["height"] / 2 == pytest.approx(middle[1], abs=25)


def test_zoom_to_fit_of_a_huge_flow_stops_at_a_readable_scale(editor):
    page = editor.page
    spots = {"1" * 16: (100, 80), "2" * 16: (4600, 90), "3" * 16: (2400, 1500),
             "4" * 16: (150, 2900), "5" * 16: (4500, 2950)}
    editor.import_text(json.dumps([inject(i, "", x, y, name=f"node {n}")
                                   for n, (i, (x, y)) in enumerate(spots.items(), 1)]))
    expect(page.locator("#canvas [data-node-id]")).to_have_count(5)
    page.locator("#workspace-footer [data-zoom=fit]").click()
    expect(page.locator(VIEWPORT)).to_have_attribute("transform", re.compile(r"scale\(0\.6\)$"))
    # The middle of the flow is in the middle of the view, its label readable there.
    canvas, middle = canvas_box(editor), body_box(editor, "3" * 16)
    assert middle["x"] + middle["width"] / 2 == pytest.approx(
        canvas["x"] + canvas["width"] / 2, abs=60)
    assert on_screen(editor, "3" * 16)
    label = editor.node("3" * 16).locator(".node-label")
    expect(label).to_have_text("node 3")
    assert label.bounding_box()["height"] >= 8
    editor.screenshot("view-05-zoom-to-fit-floor")


def test_paste_lands_at_the_mouse(editor):
    page = editor.page
    original = editor.drag_from_palette("inject", 150, 100)
    editor.click_node(original)
    page.keyboard.press("Control+c")
    canvas = canvas_box(editor)
    mouse = (canvas["x"] + 520, canvas["y"] + 330)
    page.mouse.move(*mouse)
    page.keyboard.press("Control+v")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(2)
    (copy,) = set(editor.node_ids()) - {original}
    box = body_box(editor, copy)
    assert abs(box["x"] - mouse[0]) <= 1 and abs(box["y"] - mouse[1]) <= 1, (box, mouse)
    expect(page.locator("#canvas .node.selected")).to_have_count(1)
    expect(editor.node(copy)).to_have_class(re.compile(r"\bselected\b"))
    editor.screenshot("view-05-paste-at-mouse")

    # Panned and zoomed: still where the mouse is.
    page.mouse.wheel(0, 60)
    page.locator('[data-menu="zoom-in"]').click()
    mouse = (canvas["x"] + 250, canvas["y"] + 420)
    page.mouse.move(*mouse)
    page.keyboard.press("Control+v")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(3)
    (second,) = set(editor.node_ids()) - {original, copy}
    box = body_box(editor, second)
    assert abs(box["x"] - mouse[0]) <= 1.5 and abs(box["y"] - mouse[1]) <= 1.5, (box, mouse)

    # Again at the same spot: the next copy steps down-right instead of covering it.
    page.keyboard.press("Control+v")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(4)
    (third,) = set(editor.node_ids()) - {original, copy, second}
    step = body_box(editor, third)
    assert step["x"] - box["x"] == pytest.approx(24, abs=1.5)  # 20 canvas px at zoom 1.2
    assert step["y"] - box["y"] == pytest.approx(24, abs=1.5)

    # With the mouse off the canvas (over the palette) the copy lands in the view's centre.
    palette = page.locator("#palette").bounding_box()
    page.mouse.move(palette["x"] + 20, palette["y"] + palette["height"] / 2)
    page.keyboard.press("Control+v")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(5)
    (centred,) = set(editor.node_ids()) - {original, copy, second, third}
    box = body_box(editor, centred)
    centre_x, centre_y = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    assert abs(box["x"] + box["width"] / 2 - centre_x) <= 2
    assert abs(box["y"] + box["height"] / 2 - centre_y) <= 15  # the box includes the status line
    editor.screenshot("view-06-paste-centred")
