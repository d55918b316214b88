"""Search (ctrl-f), quick-add (ctrl-click on the canvas) and the context menu (right-click),
driven as a person would, asserting what the person sees."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TAB_A = "aaaaaaaaaaaaaaa1"
TAB_B = "bbbbbbbbbbbbbbb2"
FLOWS = [
    {"id": TAB_A, "type": "tab", "label": "Living room", "disabled": False, "info": ""},
    {"id": TAB_B, "type": "tab", "label": "Garden", "disabled": False, "info": ""},
    {"id": "1000000000000001", "type": "inject", "z": TAB_A, "name": "tick", "x": 150, "y": 100,
     "wires": [[]]},
    # Far off-screen on the second tab: finding it must pan it into view.
    {"id": "2000000000000002", "type": "debug", "z": TAB_B, "name": "Kitchen sensor",
     "x": 2600, "y": 1700, "wires": []},
    # Found by a property value only (the template text), not by its name.
    {"id": "3000000000000003", "type": "template", "z": TAB_A, "name": "greeting",
     "template": "hello from the kitchen", "field": "payload", "fieldType": "msg",
     "format": "handlebars", "syntax": "mustache", "output": "str", "x": 300, "y": 200,
     "wires": [[]]},
]


def _load(editor, flows):
    editor.server.request("POST", "/flows", flows)
    editor.page.reload()
    editor.page.wait_for_selector("body[data-ready=true]")


def _inside(inner, outer) -> bool:
    return (inner["x"] >= outer["x"] and inner["y"] >= outer["y"]
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


def test_search_finds_a_node_on_another_tab_and_reveals_it(editor):
    page = editor.page
    _load(editor, FLOWS)
    expect(page.locator(f'.tab[data-tab-id="{TAB_A}"]')).to_have_class("tab active")
    page.keyboard.press("Control+f")
    box = page.locator("[data-search]")
    expect(box.locator(".search-input")).to_be_focused()
    page.keyboard.type("kitchen")
    results = box.locator("[data-search-result]")
    expect(results).to_have_count(2)
    expect(box.locator(".search-count")).to_have_text("2 found")
    # The node named so comes first, with its type and its tab; then the one whose
    # property says so.
    first = results.nth(0)
    expect(first).to_have_attribute("data-search-result", "2000000000000002")
    expect(first.locator(".search-label")).to_have_text("Kitchen sensor")
    expect(first.locator(".search-type")).to_have_text("debug")
    expect(first.locator(".search-tab")).to_have_text("Garden")
    expect(results.nth(1).locator(".search-label")).to_have_text("greeting")
    expect(results.nth(1).locator(".search-tab")).to_have_text("Living room")
    editor.screenshot("60-search-results")

    page.keyboard.press("Enter")
    expect(box).to_have_count(0)
    expect(page.locator(f'.tab[data-tab-id="{TAB_B}"]')).to_have_class("tab active")
    node = editor.node("2000000000000002")
    expect(node).to_have_class("node selected")
    assert _inside(node.bounding_box(), page.locator("#canvas").bounding_box())
    expect(page.locator("#sidebar-info h3")).to_have_text("Kitchen sensor")
    editor.screenshot("61-search-revealed")

    # By id and by type, a click chooses; escape closes without choosing.
    page.keyboard.press("Control+f")
    page.keyboard.type("1000000000000001")
    expect(box.locator("[data-search-result]")).to_have_count(1)
    box.locator('[data-search-result="1000000000000001"]').click()
    expect(page.locator(f'.tab[data-tab-id="{TAB_A}"]')).to_have_class("tab active")
    expect(editor.node("1000000000000001")).to_have_class("node selected")
    page.keyboard.press("Control+f")
    page.keyboard.type("template")
    expect(box.locator("[data-search-result]")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(box).to_have_count(0)
    expect(editor.node("1000000000000001")).to_have_class("node selected")  # escape only closed


def test_quick_add_places_a_node_at_the_click_and_wires_it(editor):
    page = editor.page
    canvas = page.locator("#canvas").bounding_box()
    inject = editor.drag_from_palette("inject", 150, 100)
    expect(editor.node(inject)).to_have_class("node selected")

    page.keyboard.down("Control")
    page.mouse.click(canvas["x"] + 420, canvas["y"] + 240)
    page.keyboard.up("Control")
    quick = page.locator("[data-quick-add]")
    expect(quick.locator(".quick-add-input")).to_be_focused()
    page.keyboard.type("deb")
    items = quick.locator("[data-quick-add-type]")
    expect(items.first).to_have_attribute("data-quick-add-type", "debug")
    editor.screenshot("62-quick-add")
    page.keyboard.press("Enter")
    expect(quick).to_have_count(0)

    debug = page.locator('#canvas [data-type="debug"]')
    expect(debug).to_have_count(1)
    debug_id = debug.get_attribute("data-node-id")
    body = debug.locator(".node-body").bounding_box()
    assert abs(body["x"] + body["width"] / 2 - (canvas["x"] + 420)) <= 1
    assert abs(body["y"] + body["height"] / 2 - (canvas["y"] + 240)) <= 1
    expect(debug).to_have_class("node selected")
    expect(editor.wire_locator(inject, 0, debug_id)).to_have_count(1)  # from the selected node
    editor.screenshot("63-quick-add-placed")

    # Label search (palette label "function"), a click places it; the debug node that is
    # now selected has no output, so nothing is wired. Escape adds nothing.
    page.keyboard.down("Control")
    page.mouse.click(canvas["x"] + 420, canvas["y"] + 400)
    page.keyboard.up("Control")
    page.keyboard.type("function")
    quick.locator('[data-quick-add-type="function"]').click()
    function = page.locator('#canvas [data-type="function"]')
    expect(function).to_have_count(1)
    function_id = function.get_attribute("data-node-id")
    page.keyboard.down("Control")
    page.mouse.click(canvas["x"] + 700, canvas["y"] + 400)
    page.keyboard.up("Control")
    expect(quick).to_be_visible()
    page.keyboard.press("Escape")
    expect(quick).to_have_count(0)
    expect(page.locator("#canvas [data-node-id]")).to_have_count(3)

    editor.deploy()
    saved = {n["id"]: n for n in editor.server.flows()}
    assert (saved[debug_id]["x"], saved[debug_id]["y"]) == (420, 240)
    assert saved[inject]["wires"] == [[debug_id]]
    assert (saved[function_id]["x"], saved[function_id]["y"]) == (420, 400)
    assert not any(function_id in port for n in saved.values() for port in n.get("wires", []))

    page.keyboard.press("Control+z")  # one undo step takes the node and its wire back
    page.keyboard.press("Control+z")
    expect(page.locator('#canvas [data-type="debug"]')).to_have_count(0)
    expect(editor.wire_locator(inject, 0, debug_id)).to_have_count(0)


SUBFLOW_ID = "5000000000000005"
SUBFLOW_FLOWS = [
    {"id": TAB_A, "type": "tab", "label": "Living room", "disabled": False, "info": ""},
    {"id": SUBFLOW_ID, "type": "subflow", "name": "Lights", "info": "", "env": [],
     "in": [{"x": 60, "y": 80, "wires": [{"id": "5100000000000051"}]}],
     "out": [{"x": 400, "y": 80, "wires": [{"id": "5100000000000051", "port": 0}]}]},
    {"id": "5100000000000051", "type": "change", "z": SUBFLOW_ID, "name": "dim", "rules": [],
     "x": 220, "y": 80, "wires": [[]]},
]


def test_quick_add_lists_subflows_and_adds_an_instance(editor):
    page = editor.page
    _load(editor, SUBFLOW_FLOWS)
    canvas = page.locator("#canvas").bounding_box()
    page.keyboard.down("Control")
    page.mouse.click(canvas["x"] + 300, canvas["y"] + 200)
    page.keyboard.up("Control")
    quick = page.locator("[data-quick-add]")
    page.keyboard.type("lig")
    item = quick.locator("[data-quick-add-type]").first
    expect(item).to_have_attribute("data-quick-add-type", f"subflow:{SUBFLOW_ID}")
    expect(item.locator(".quick-add-label")).to_have_text("Lights")
    expect(item.locator(".search-type")).to_have_text("subflow")
    label = item.locator(".quick-add-label")  # the whole name shows, not "Li…"
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth")
    editor.screenshot("64-quick-add-subflow")
    page.keyboard.press("Enter")
    instance = page.locator(f'#canvas [data-type="subflow:{SUBFLOW_ID}"]')
    expect(instance).to_have_count(1)
    expect(instance.locator(".node-label")).to_have_text("Lights")
    expect(instance.locator('[data-port="in"]')).to_have_count(1)
    expect(instance.locator('[data-port="out-0"]')).to_have_count(1)
    body = instance.locator(".node-body").bounding_box()
    assert abs(body["x"] + body["width"] / 2 - (canvas["x"] + 300)) <= 1
    assert abs(body["y"] + body["height"] / 2 - (canvas["y"] + 200)) <= 1

    # Inside the subflow's own tab it is not offered: an instance would contain itself.
    page.locator(f'.palette-node[data-palette-type="subflow:{SUBFLOW_ID}"]').dblclick()
    subflow_tab = page.locator(f'.tab[data-tab-id="{SUBFLOW_ID}"]')
    expect(subflow_tab).to_have_class("tab subflow-tab active")
    page.keyboard.down("Control")
    page.mouse.click(canvas["x"] + 300, canvas["y"] + 300)
    page.keyboard.up("Control")
    page.keyboard.type("lig")
    expect(quick.locator(f'[data-quick-add-type="subflow:{SUBFLOW_ID}"]')).to_have_count(0)
    page.keyboard.press("Escape")

    editor.deploy()
    saved = [n for n in editor.server.flows() if n["type"] == f"subflow:{SUBFLOW_ID}"]
    assert [(n["z"], n["x"], n["y"]) for n in saved] == [(TAB_A, 300, 200)]


def _entries(page):
    menu = page.locator("[data-context-menu]")
    return {el.get_attribute("data-context-action"): el.is_enabled()
            for el in menu.locator("[data-context-action]").all()}


def test_context_menu_entries_and_delete(editor):
    page = editor.page
    inject = editor.drag_from_palette("inject", 150, 100)
    debug = editor.drag_from_palette("debug", 400, 100)
    editor.wire(inject, 0, debug)
    page.locator("#canvas").click(position={"x": 600, "y": 400})  # nothing selected
    menu = page.locator("[data-context-menu]")

    editor.node(debug).locator(".node-body").click(button="right")
    expect(menu).to_be_visible()
    expect(editor.node(debug)).to_have_class("node selected")  # right-click selects
    expect(menu.locator("[data-context-action]")).to_have_text([
        "Insert node…ctrl-click", "Import…ctrl-i", "Edit…enter", "Show node help",
        "Enable selected nodes", "Disable selected nodes",
        "Group selectionctrl-shift-g", "Ungroup selectionctrl-shift-u", "Selection to Subflow",
        "Edit subflow template", "Convert to nodes", "Undoctrl-z", "Redoctrl-y",
        "Cut selected nodesctrl-x", "Copy selected nodesctrl-c", "Paste nodesctrl-v",
        "Delete selectiondelete", "Export…ctrl-e", "Select allctrl-a"])
    entries = _entries(page)
    assert entries["delete"] and entries["copy"] and entries["cut"] and entries["edit"]
    assert entries["disable"] and not entries["enable"]
    assert not entries["paste"] and not entries["redo"]
    editor.screenshot("64-context-menu")

    menu.locator('[data-context-action="disable"]').click()
    expect(menu).to_have_count(0)
    expect(editor.node(debug)).to_have_class("node selected disabled")
    editor.node(debug).locator(".node-body").click(button="right")
    assert _entries(page)["enable"] and not _entries(page)["disable"]
    menu.locator('[data-context-action="delete"]').click()
    expect(editor.node(debug)).to_have_count(0)
    expect(editor.node(inject)).to_have_count(1)
    expect(editor.wire_locator(inject, 0, debug)).to_have_count(0)

    # On empty canvas nothing is selected: only what needs no selection is offered.
    page.locator("#canvas").click(position={"x": 600, "y": 400}, button="right")
    entries = _entries(page)
    assert entries["select-all"] and entries["undo"] and entries["insert"]
    assert not entries["delete"] and not entries["copy"] and not entries["edit"]
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)

    # Copy and Paste from the menu act as ctrl-c / ctrl-v.
    editor.node(inject).locator(".node-body").click(button="right")
    menu.locator('[data-context-action="copy"]').click()
    page.locator("#canvas").click(position={"x": 600, "y": 400}, button="right")
    menu.locator('[data-context-action="paste"]').click()
    expect(page.locator('#canvas [data-type="inject"]')).to_have_count(2)

    editor.deploy()
    assert [n["type"] for n in editor.server.flows() if n["type"] != "tab"] == ["inject", "inject"]
