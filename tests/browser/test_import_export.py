"""Import and export: a Node-RED export goes in and comes back out equal; id conflicts
offer an import copy; examples load from flows/; exports never carry credentials; the
"Imported" toast sits where Node-RED's does, over the header, not over the nodes."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NODE_RED_EXPORT = [
    {"id": "9f1b2c3d4e5f6a7b", "type": "tab", "label": "Sensors", "disabled": False, "info": "",
     "env": []},
    {"id": "64c1d7b3.a65b38", "type": "inject", "z": "9f1b2c3d4e5f6a7b", "name": "tick",
     "props": [{"p": "payload"}, {"p": "topic", "vt": "str"}], "repeat": "", "crontab": "",
     "once": False, "onceDelay": 0.1, "topic": "t/1", "payload": "21.5", "payloadType": "num",
     "x": 130, "y": 80, "wires": [["1a2b3c4d5e6f7a8b"]]},
    {"id": "1a2b3c4d5e6f7a8b", "type": "rbe", "z": "9f1b2c3d4e5f6a7b", "name": "",
     "func": "deadband",
     "gap": "0.5", "start": "", "inout": "out", "septopics": True, "property": "payload",
     "topi": "topic", "x": 310, "y": 80, "wires": [["c0ffee0000000001"]]},
    {"id": "c0ffee0000000001", "type": "debug", "z": "9f1b2c3d4e5f6a7b", "name": "out",
     "active": True, "tosidebar": True, "console": False, "tostatus": False, "complete": "false",
     "statusVal": "", "statusType": "auto", "x": 490, "y": 80, "wires": []},
    {"id": "c0ffee0000000002", "type": "comment", "z": "9f1b2c3d4e5f6a7b", "name": "note",
     "info": "", "x": 130, "y": 160, "wires": []},
]


def test_import_node_red_export_and_export_it_back_equal(editor):
    editor.import_text(json.dumps(NODE_RED_EXPORT))
    expect(editor.page.locator("[data-tab-id='9f1b2c3d4e5f6a7b']")).to_have_text("Sensors")
    expect(editor.page.locator("#canvas [data-node-id]")).to_have_count(4)
    expect(editor.wire_locator("64c1d7b3.a65b38", 0, "1a2b3c4d5e6f7a8b")).to_have_count(1)
    editor.screenshot("05-imported-node-red-flow")
    assert json.loads(editor.export_text("all", "compact")) == NODE_RED_EXPORT
    formatted = editor.export_text("flow", "formatted")
    assert json.loads(formatted) == NODE_RED_EXPORT
    assert formatted.startswith("[\n    {")


def test_id_conflict_offers_import_copy_with_new_ids(editor):
    page = editor.page
    editor.import_text(json.dumps(NODE_RED_EXPORT))
    expect(page.locator("#canvas [data-node-id]")).to_have_count(4)
    editor.import_text(json.dumps(NODE_RED_EXPORT[1:3]))
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("2 of the nodes being imported already exist")
    editor.screenshot("06-import-conflict")
    dialog.locator("[data-action=import-copy]").click()
    expect(page.locator("#canvas [data-node-id]")).to_have_count(6)
    ids = editor.node_ids()
    assert len(set(ids)) == 6
    copies = [i for i in ids if i not in {n["id"] for n in NODE_RED_EXPORT}]
    assert all(len(i) == 16 for i in copies)
    inject_copy = next(i for i in copies
                       if editor.node(i).get_attribute("data-type") == "inject")
    rbe_copy = next(i for i in copies if i != inject_copy)
    expect(editor.wire_locator(inject_copy, 0, rbe_copy)).to_have_count(1)


def test_import_rejects_bad_json_inline(editor):
    editor.import_text('{"not": "an array of nodes"}')
    expect(editor.page.locator("#import-error")).to_have_text("Item 0 missing 'id'")
    editor.page.locator("#import-text").fill("[1, 2")
    editor.page.locator("dialog [data-action=import]").click()
    expect(editor.page.locator("#import-error")).to_contain_text("Not valid JSON")


def test_the_import_toast_covers_neither_the_tabs_nor_the_imported_nodes(editor):
    page = editor.page
    editor.import_text(json.dumps(NODE_RED_EXPORT))
    toast = page.locator("[data-notification]", has_text="Imported")
    expect(toast).to_be_visible()
    box = toast.bounding_box()
    header = page.locator("#header").bounding_box()
    tabs = page.locator("#tabs").bounding_box()
    width = page.viewport_size["width"]
    # Top centre of the window, as Node-RED's, within the header's height.
    assert box["y"] <= 2
    assert box["x"] + box["width"] / 2 == pytest.approx(width / 2, abs=2)
    assert box["y"] + box["height"] <= header["y"] + header["height"] <= tabs["y"]
    # Every imported node is on screen and what is under its middle is the node itself.
    for node_id in ("64c1d7b3.a65b38", "1a2b3c4d5e6f7a8b", "c0ffee0000000001"):
        body = editor.node(node_id).locator(".node-body")
        expect(body).to_be_in_viewport()
        nb = body.bounding_box()
        hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)"
                            "?.closest('[data-node-id]')?.dataset.nodeId",
                            [nb["x"] + nb["width"] / 2, nb["y"] + 4])
        assert hit == node_id
    editor.screenshot("import-toast")


def test_import_example_into_new_tab(editor):
    page = editor.page
    examples = editor.server.request("GET", "/flows-examples")
    assert examples, "the repository ships example flows in flows/"
    editor.menu("import")
    page.locator("#import-example").select_option(examples[0])
    expect(page.locator("#import-text")).not_to_have_value("")
    page.locator("#import-target").select_option("new")
    page.locator("dialog [data-action=import]").click()
    expect(page.locator("[data-notification]", has_text="Imported")).to_be_visible()
    example = editor.server.request("GET", f"/flows-examples/{examples[0]}")
    tabs = [n for n in example if n["type"] == "tab"]
    expected_tabs = len(tabs) if tabs else 2  # no tabs in the file: one new tab beside Flow 1
    expect(page.locator("#tab-list .tab")).to_have_count(expected_tabs)
    assert editor.node_ids()


def test_credentials_never_shown_or_exported(editor):
    page = editor.page
    mqtt_in = editor.drag_from_palette("mqtt in", 150, 100)
    panel = editor.edit(mqtt_in)
    panel.locator("[data-config-type=mqtt-broker]").select_option("__add__")
    broker_panel = page.locator(".tray-panel[data-editing-type=mqtt-broker]")
    expect(broker_panel).to_be_visible()
    editor.field(broker_panel, "/broker").fill("127.0.0.1")
    broker_panel.locator("[data-credential=user]").fill("alice")
    broker_panel.locator("[data-credential=password]").fill("s3cret-pw")
    editor.screenshot("07-config-node-stacked-tray")
    editor.done()
    editor.field(panel, "/topic").fill("sensors/#")
    editor.done()
    exported = editor.export_text("all", "formatted")
    assert "s3cret-pw" not in exported and "credentials" not in exported
    editor.deploy()
    broker = next(n for n in editor.server.flows() if n["type"] == "mqtt-broker")
    assert "credentials" not in broker
    panel = editor.edit(mqtt_in)
    panel.locator(".edit-config").click()
    broker_panel = page.locator(f'.tray-panel[data-editing="{broker["id"]}"]')
    password = broker_panel.locator("[data-credential=password]")
    expect(password).to_have_attribute("placeholder", "stored — type to replace")
    expect(password).to_have_value("")
    expect(broker_panel.locator("[data-credential=user]")).to_have_value("alice")
    assert "s3cret-pw" not in page.content()
