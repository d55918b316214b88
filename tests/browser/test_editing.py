"""Editing on the canvas: undo/redo, copy/paste with new ids, delete, keyboard
shortcuts, tabs, validation markers (local and from the server), and escaping."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_undo_redo_and_copy_paste(editor):
    page = editor.page
    inject = editor.drag_from_palette("inject", 150, 100)
    debug = editor.drag_from_palette("debug", 400, 100)
    editor.wire(inject, 0, debug)
    page.keyboard.press("Control+z")
    expect(editor.wire_locator(inject, 0, debug)).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(editor.node(debug)).to_have_count(0)
    page.keyboard.press("Control+y")
    expect(editor.node(debug)).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(editor.wire_locator(inject, 0, debug)).to_have_count(1)

    editor.click_node(debug)
    page.keyboard.press("Control+x")
    expect(editor.node(debug)).to_have_count(0)
    page.keyboard.press("Control+v")
    expect(editor.node(debug)).to_have_count(1)  # paste after a cut keeps the id
    editor.wire(inject, 0, debug)

    editor.click_node(inject)
    editor.click_node(debug, modifiers=["Shift"])
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(4)
    copies = [i for i in editor.node_ids() if i not in (inject, debug)]
    assert len(copies) == 2 and all(len(i) == 16 for i in copies)
    inject_copy = next(i for i in copies if editor.node(i).get_attribute("data-type") == "inject")
    debug_copy = next(i for i in copies if i != inject_copy)
    expect(editor.wire_locator(inject_copy, 0, debug_copy)).to_have_count(1)
    expect(page.locator("#canvas .node.selected")).to_have_count(2)
    editor.screenshot("08-copy-paste")

    page.keyboard.press("Delete")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(page.locator("#canvas [data-node-id]")).to_have_count(4)



def test_select_and_delete_wire_lasso_and_move(editor):
    page = editor.page
    a = editor.drag_from_palette("inject", 150, 100)
    b = editor.drag_from_palette("debug", 400, 100)
    c = editor.drag_from_palette("debug", 400, 220)
    editor.wire(a, 0, b)
    editor.wire(a, 0, c)  # one output, two wires
    wire = editor.wire_locator(a, 0, c)
    box = wire.locator(".wire-hit").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(wire).to_have_class("wire selected")
    page.keyboard.press("Delete")
    expect(wire).to_have_count(0)
    expect(editor.wire_locator(a, 0, b)).to_have_count(1)

    canvas = page.locator("#canvas").bounding_box()
    page.mouse.move(canvas["x"] + 300, canvas["y"] + 40)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 600, canvas["y"] + 300, steps=6)
    page.mouse.up()
    expect(page.locator("#canvas .node.selected")).to_have_count(2)
    before = editor.node(b).get_attribute("transform")
    editor.move_node(b, 0, 60)
    assert editor.node(b).get_attribute("transform") != before
    page.keyboard.press("Control+z")
    expect(editor.node(b)).to_have_attribute("transform", before)


def test_script_in_a_node_name_stays_inert(editor):
    page = editor.page
    evil = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    node = editor.drag_from_palette("inject", 200, 100)
    panel = editor.edit(node)
    editor.field(panel, "/name").fill(evil)
    editor.done()
    expect(editor.node(node).locator(".node-label")).to_have_text(evil)
    editor.deploy()
    editor.sidebar("info")
    expect(page.locator("#sidebar-info h3")).to_have_text(evil)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(editor.node(node).locator(".node-label")).to_have_text(evil)
    assert page.evaluate("window.pwned") is None
    assert page.locator("#canvas script, #canvas img, #sidebar script").count() == 0
    editor.screenshot("09-script-name-inert")


def test_validation_errors_shown_on_nodes(editor):
    page = editor.page
    threshold = editor.drag_from_palette("threshold", 250, 100)
    panel = editor.edit(threshold)
    editor.field(panel, "/cooldown").fill("soon")
    expect(panel.locator('[data-error-path="/cooldown"]')).to_be_visible()
    editor.done()
    marker = editor.node(threshold).locator("[data-marker=invalid]")
    expect(marker).to_have_count(1)
    expect(marker.locator("title")).to_have_text("Cooldown (seconds): must be a number")

    unknown = {"id": "0123456789abcdef", "type": "no-such-node", "z": page.locator(
        "#tab-list .tab").first.get_attribute("data-tab-id"), "x": 250, "y": 220, "wires": []}
    editor.import_text(json.dumps([unknown]))
    expect(editor.node(unknown["id"])).to_have_class(re.compile(r"\bunknown\b.*\binvalid\b"))
    # Types that are not installed cannot be deployed: the dialog says why, nothing is sent.
    page.locator("#deploy-button").click()
    expect(page.locator("dialog[open] h2")).to_have_text("Cannot deploy: node types not installed")
    page.locator("dialog[open]").get_by_role("button", name="Close").click()
    assert editor.server.flows() == []
    editor.click_node(unknown["id"])
    page.keyboard.press("Delete")
    # The invalid threshold deploys anyway; the server reports it did not run.
    page.locator("#deploy-button").click()
    with editor.expect_deploy():
        page.locator("dialog [data-action=confirm]").click()
    expect(page.locator("[data-notification=warning]").last).to_contain_text("1 node does not run")
    server_marker = editor.node(threshold).locator("[data-marker=invalid] title")
    expect(server_marker).to_contain_text("cooldown")
    editor.screenshot("10-validation-errors")
    assert [n["type"] for n in editor.server.flows() if n["type"] != "tab"] == ["threshold"]


def test_tabs_add_rename_disable_delete(editor):
    page = editor.page
    page.locator("#add-tab").click()
    expect(page.locator("#tab-list .tab")).to_have_count(2)
    tab = page.locator("#tab-list .tab.active")
    tab.dblclick()
    page.locator("#tab-label").fill("Gateway <b>2</b>")
    page.locator("#tab-enabled").uncheck()
    page.locator("dialog [data-action=tab-done]").click()
    expect(tab).to_have_text("Gateway <b>2</b>")
    expect(tab).to_have_class("tab active disabled")
    editor.drag_from_palette("inject", 200, 100)
    editor.deploy()
    saved = next(n for n in editor.server.flows() if n["type"] == "tab" and n["disabled"])
    assert saved["label"] == "Gateway <b>2</b>"
    tab.dblclick()
    page.locator("dialog [data-action=delete-tab]").click()
    expect(page.locator("#tab-list .tab")).to_have_count(1)
    expect(page.locator("#canvas [data-node-id]")).to_have_count(0)


def test_palette_filter_help_and_keyboard_deploy(editor):
    page = editor.page
    page.locator("#palette-filter").fill("thresh")
    expect(page.locator('[data-palette-type="threshold"]')).to_be_visible()
    expect(page.locator('[data-palette-type="inject"]')).to_be_hidden()
    expect(page.locator('[data-category="network"]')).to_be_hidden()
    expect(page.locator('[data-palette-type="mqtt-broker"]')).to_have_count(0)  # config type
    page.locator("#palette-filter").fill("")
    node = editor.drag_from_palette("threshold", 250, 150)
    editor.sidebar("help")
    expect(page.locator("#sidebar-help h3")).to_have_text("threshold")
    editor.click_node(node)
    with editor.expect_deploy():
        page.keyboard.press("Control+d")
    expect(page.locator("#deploy-button")).to_be_disabled()
    assert [n["type"] for n in editor.server.flows() if n["type"] != "tab"] == ["threshold"]
    page.keyboard.press("Control+=")
    page.keyboard.press("Control+=")
    expect(page.locator("#canvas .viewport")).to_have_attribute(
        "transform", re.compile(r"scale\(1\.4"))


def test_plugin_gets_a_form_without_front_end_code(editor):
    node = editor.drag_from_palette("unit-convert", 250, 150)
    panel = editor.edit(node)
    expect(panel.locator("label", has_text="Decimal places")).to_be_visible()
    editor.field(panel, "/to").select_option(label="K")
    editor.field(panel, "/decimals").fill("-1")
    expect(panel.locator('[data-error-path="/decimals"]')).to_be_visible()
    editor.field(panel, "/decimals").fill("1")
    expect(panel.locator('[data-error-path="/decimals"]')).to_have_count(0)
    editor.done()
    editor.deploy()
    saved = next(n for n in editor.server.flows() if n["id"] == node)
    assert (saved["from"], saved["to"], saved["decimals"]) == ("C", "K", 1)
