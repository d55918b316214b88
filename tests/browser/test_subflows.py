"""Subflows in the editor, as a Node-RED user makes them: Selection to Subflow, the
subflow's own tab with its port nodes, env properties and an instance's override that
the runtime uses, the toolbar's inputs / outputs, convert to nodes, deleting a subflow,
and Node-RED's JSON on export (the same numbers Node-RED 4.1 writes) and import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "", "env": []}


def change(node_id: str, name: str, x: int, wires: list[str], rules: list | None = None) -> dict:
    """A change node on the test tab at (x, 100)."""
    return {"id": node_id, "type": "change", "z": "t1", "name": name, "rules": rules or [],
            "action": "", "property": "", "from": "", "to": "", "reg": False,
            "x": x, "y": 100, "wires": [wires]}


# inject -> A (payload from env GREETING) -> B -> C -> debug, the flow that was turned
# into a subflow in Node-RED 4.1's editor to get NODE_RED_SUBFLOW below.
PIPELINE = [
    TAB,
    {"id": "i1", "type": "inject", "z": "t1", "name": "", "props": [{"p": "payload"}],
     "repeat": "", "crontab": "", "once": False, "onceDelay": 0.1, "topic": "",
     "payload": "hi", "payloadType": "str", "x": 120, "y": 100, "wires": [["c1"]]},
    change("c1", "A", 300, ["c2"], [{"t": "set", "p": "payload", "pt": "msg",
                                     "to": "GREETING", "tot": "env"}]),
    change("c2", "B", 460, ["c3"]),
    change("c3", "C", 620, ["d1"]),
    {"id": "d1", "type": "debug", "z": "t1", "name": "", "active": True, "tosidebar": True,
     "console": False, "tostatus": False, "complete": "false", "statusVal": "",
     "statusType": "auto", "x": 800, "y": 100, "wires": []},
]

# What Node-RED 4.1 exported after "Selection to Subflow" on A, B, C of PIPELINE
# (ids of the new subflow and instance aside).
NODE_RED_SUBFLOW = {"type": "subflow", "name": "Subflow 1", "info": "",
                    "in": [{"x": 60, "y": 80, "wires": [{"id": "c1"}]}],
                    "out": [{"x": 640, "y": 80, "wires": [{"id": "c3", "port": 0}]}]}
NODE_RED_INNER = {"c1": (180, 80), "c2": (340, 80), "c3": (500, 80)}
NODE_RED_INSTANCE = {"z": "t1", "x": 460, "y": 100, "wires": [["d1"]]}

CORPUS = Path(__file__).resolve().parents[1] / "compat" / "flows"
PUBLIC_SUBFLOW_FLOW = CORPUS / "ha-node-red-flows__eg-lights-motion-control-daynight-flow.json"


def rect(locator) -> dict:
    """The on-screen box of `locator`, found and measured in one step (a redraw replaces
    the canvas' elements: finding and measuring apart could fall between)."""
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }")


def load(editor, flows: list[dict]) -> None:
    """Deploy `flows` and reload the editor on them."""
    editor.server.request("POST", "/flows", flows)
    editor.open()


def select(editor, *ids: str) -> None:
    editor.click_node(ids[0])
    for node_id in ids[1:]:
        editor.click_node(node_id, modifiers=["Shift"])


def context_action(editor, node_id: str, action: str) -> None:
    editor.node(node_id).locator(".node-body").click(button="right")
    editor.page.locator(f'[data-context-menu] [data-context-action="{action}"]').click()


def instances(editor) -> list[str]:
    return editor.page.eval_on_selector_all(
        '#canvas [data-type^="subflow:"]', "els => els.map(e => e.dataset.nodeId)")


def to_subflow(editor) -> str:
    """Select A, B, C and make them a subflow from the context menu; the instance's id."""
    select(editor, "c1", "c2", "c3")
    context_action(editor, "c2", "selection-to-subflow")
    expect(editor.page.locator('#canvas [data-type^="subflow:"]')).to_have_count(1)
    return instances(editor)[0]


def test_selection_to_subflow_opens_in_its_tab_and_runs_with_the_override(editor):
    page = editor.page
    load(editor, PIPELINE)
    b_box = rect(editor.node("c2").locator(".node-body"))
    instance = to_subflow(editor)

    # One instance, named after the subflow, where the selection was, with its wires.
    for inner in ("c1", "c2", "c3"):
        expect(editor.node(inner)).to_have_count(0)
    expect(editor.node(instance).locator(".node-label")).to_have_text("Subflow 1")
    box = rect(editor.node(instance).locator(".node-body"))
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert centre == pytest.approx((b_box["x"] + b_box["width"] / 2,
                                    b_box["y"] + b_box["height"] / 2), abs=1)
    expect(editor.wire_locator("i1", 0, instance)).to_have_count(1)
    expect(editor.wire_locator(instance, 0, "d1")).to_have_count(1)
    expect(editor.node(instance).locator("[data-port]")).to_have_count(2)
    palette = page.locator('[data-category="subflows"]')
    expect(palette.locator(".palette-node")).to_have_text(["Subflow 1"])
    editor.screenshot("70-subflow-instance")

    # Its form leads to the template, which opens in a tab of its own.
    panel = editor.edit(instance)
    expect(panel.locator(".tray-title")).to_have_text("Edit subflow instance: Subflow 1")
    panel.locator("[data-action=edit-template]").click()
    tab = page.locator("[data-subflow-tab]")
    expect(tab).to_have_text("Subflow 1\u00d7")  # the name, then the close button
    expect(tab).to_have_class("tab subflow-tab active")
    for inner in ("c1", "c2", "c3"):
        expect(editor.node(inner)).to_be_visible()
    expect(page.locator('[data-subflow-port="in-0"]')).to_be_visible()
    expect(page.locator('[data-subflow-port="out-0"]')).to_contain_text("output1")
    expect(page.locator('[data-wire="subflow-in:0:c1"]')).to_have_count(1)
    expect(page.locator('[data-wire="subflow-out:0:c3:0"]')).to_have_count(1)
    in_port = rect(page.locator('[data-subflow-port="in-0"]'))
    assert in_port["x"] + in_port["width"] < rect(editor.node("c1"))["x"]
    expect(page.locator("#subflow-toolbar [data-subflow-outputs]")).to_have_text("1")
    editor.screenshot("71-subflow-tab")

    # An env property, defined on the template...
    page.locator("[data-subflow-action=properties]").click()
    dialog = page.locator("dialog.subflow-dialog")
    dialog.locator("[data-action=env-add]").click()
    row = dialog.locator("[data-env-row]").last
    row.locator(".env-name").fill("GREETING")
    row.locator(".env-value").fill("from the template")
    editor.screenshot("72-subflow-properties")
    dialog.locator("[data-action=subflow-done]").click()
    expect(dialog).to_have_count(0)

    # ...and overridden on the instance, which the runtime then uses.
    page.locator('[data-tab-id="t1"]').click()
    panel = editor.edit(instance)
    value = panel.locator('[data-env-name="GREETING"]')
    expect(value).to_have_value("from the template")
    value.fill("from the instance")
    editor.screenshot("73-subflow-instance-env")
    editor.done()
    editor.deploy()
    deployed = {n["id"]: n for n in editor.server.flows()}
    assert deployed[instance]["env"] == [{"name": "GREETING", "type": "str",
                                          "value": "from the instance"}]
    editor.sidebar("debug")
    editor.node("i1").locator("[data-button=inject]").click()
    message = page.locator("#debug-messages .debug-message").first
    expect(message).to_contain_text("string[17]from the instance")


def test_export_is_node_red_json(editor):
    load(editor, PIPELINE)
    instance = to_subflow(editor)
    exported = {n["id"]: n for n in json.loads(editor.export_text("all"))}
    sub_id = exported[instance]["type"].removeprefix("subflow:")
    definition = exported[sub_id]
    assert {k: v for k, v in definition.items() if k != "id"} == NODE_RED_SUBFLOW
    assert {k: v for k, v in exported[instance].items() if k not in ("id", "type")} \
        == NODE_RED_INSTANCE
    assert list(exported[instance]) == ["id", "type", "z", "x", "y", "wires"]
    for node_id, (x, y) in NODE_RED_INNER.items():
        assert (exported[node_id]["z"], exported[node_id]["x"], exported[node_id]["y"]) \
            == (sub_id, x, y)
    assert exported["c3"]["wires"] == [[]] and exported["i1"]["wires"] == [[instance]]

    # Exporting just the instance brings its definition and nodes, as Node-RED does.
    editor.click_node(instance)
    selected = {n["id"] for n in json.loads(editor.export_text("selected"))}
    assert selected == {instance, sub_id, "c1", "c2", "c3"}


def test_multiple_inputs_are_refused_as_node_red_does(editor):
    page = editor.page
    flows = [*PIPELINE[:2], change("c1", "A", 300, ["c2"]), change("c2", "B", 460, []),
             {**PIPELINE[1], "id": "i2", "y": 200, "wires": [["c2"]]}]
    load(editor, flows)
    select(editor, "c1", "c2")
    context_action(editor, "c1", "selection-to-subflow")
    expect(page.locator("[data-notification=error]")).to_contain_text(
        "Cannot create subflow: multiple inputs to selection")
    expect(editor.node("c1")).to_be_visible()
    expect(page.locator('[data-category="subflows"]')).to_have_count(0)


def test_ports_from_the_toolbar_and_wiring_them(editor):
    page = editor.page
    load(editor, PIPELINE)
    instance = to_subflow(editor)
    editor.click_node(instance)
    context_action(editor, instance, "edit-template")
    expect(page.locator("[data-subflow-tab]")).to_have_class("tab subflow-tab active")

    # A second output, wired from B by dragging to its port node.
    page.locator("[data-subflow-action=add-output]").click()
    expect(page.locator("#subflow-toolbar [data-subflow-outputs]")).to_have_text("2")
    out1 = page.locator('[data-subflow-port="out-1"]')
    expect(out1).to_be_visible()
    start = rect(editor.node("c2").locator('[data-port="out-0"]'))
    end = rect(out1.locator('[data-port="in"]'))
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(end["x"] + 5, end["y"] + 5, steps=8)
    page.mouse.up()
    port_wire = page.locator('[data-wire="subflow-out:1:c2:0"]')
    expect(port_wire).to_have_count(1)
    # A port wire is selected and deleted like any wire; undo brings it back.
    middle = port_wire.locator(".wire-hit").evaluate(
        "e => { const p = e.getPointAtLength(e.getTotalLength() / 2), m = e.getScreenCTM();"
        " return [p.x * m.a + p.y * m.c + m.e, p.x * m.b + p.y * m.d + m.f]; }")
    page.mouse.click(*middle)
    expect(port_wire).to_have_class("wire selected")
    page.keyboard.press("Delete")
    expect(port_wire).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(port_wire).to_have_count(1)
    # No input: the instance loses its input port and the wire into it.
    page.locator('[data-subflow-inputs="0"]').click()
    expect(page.locator('[data-subflow-port="in-0"]')).to_have_count(0)
    editor.screenshot("74-subflow-ports")

    page.locator('[data-tab-id="t1"]').click()
    expect(editor.node(instance).locator("[data-port^=out-]")).to_have_count(2)
    expect(editor.node(instance).locator('[data-port="in"]')).to_have_count(0)
    expect(editor.wire_locator("i1", 0, instance)).to_have_count(0)
    # Undo goes back to where the change was made, and brings the input and its wire back.
    page.keyboard.press("Control+z")
    expect(page.locator('[data-subflow-port="in-0"]')).to_be_visible()
    page.locator('[data-tab-id="t1"]').click()
    expect(editor.wire_locator("i1", 0, instance)).to_have_count(1)


def test_convert_to_nodes_and_delete_the_subflow(editor):
    page = editor.page
    load(editor, PIPELINE)
    instance = to_subflow(editor)
    sub_id = editor.node(instance).get_attribute("data-type").removeprefix("subflow:")
    context_action(editor, instance, "convert-to-nodes")
    expect(editor.node(instance)).to_have_count(0)
    labels = page.locator('#canvas [data-type="change"] .node-label')
    expect(labels).to_have_text(["A", "B", "C"])
    ids = page.eval_on_selector_all('#canvas [data-type="change"]',
                                    "els => els.map(e => e.dataset.nodeId)")
    assert not {"c1", "c2", "c3"} & set(ids)  # copies: the subflow keeps its nodes
    a, b, c = ids
    for source, target in (("i1", a), (a, b), (b, c), (c, "d1")):
        expect(editor.wire_locator(source, 0, target)).to_have_count(1)
    xs = [rect(editor.node(i))["x"] for i in ids]
    assert xs == sorted(xs)
    editor.screenshot("75-subflow-converted")

    # Deleting the subflow (an instance made again first) asks, then takes the instance too.
    page.keyboard.press("Control+z")
    expect(editor.node(instance)).to_be_visible()
    # A second instance, dragged from the palette, drawn like the first.
    second = editor.drag_from_palette(f"subflow:{sub_id}", 400, 400)
    expect(editor.node(second).locator(".node-label")).to_have_text("Subflow 1")
    expect(editor.node(second).locator("[data-port]")).to_have_count(2)
    page.locator('[data-category="subflows"] .palette-node').dblclick()
    page.locator("[data-subflow-action=delete]").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text('"Subflow 1" has 2 instances')
    dialog.locator("[data-action=confirm]").click()
    expect(page.locator('[data-tab-id="t1"]')).to_have_class("tab active")
    expect(page.locator("[data-subflow-tab]")).to_have_count(0)
    expect(editor.node(instance)).to_have_count(0)
    expect(editor.node(second)).to_have_count(0)
    expect(page.locator('[data-category="subflows"]')).to_have_count(0)


def test_public_subflow_flow_imports_and_exports_unchanged(editor):
    page = editor.page
    flows = json.loads(PUBLIC_SUBFLOW_FLOW.read_text())
    definition = next(n for n in flows if n["type"] == "subflow")
    instance = next(n for n in flows if n["type"].startswith("subflow:"))
    editor.import_text(json.dumps(flows))
    node = editor.node(instance["id"])
    expect(node.locator(".node-label")).to_have_text(definition["name"])
    expect(node.locator("[data-port^=out-]")).to_have_count(len(definition["out"]))
    expect(node.locator(".node-body")).to_have_attribute("fill", definition["color"])
    expect(page.locator(f'[data-palette-type="{instance["type"]}"]')).to_have_text(
        definition["name"])
    # The file has no tab: its flow nodes land on the current one, the rest is as it was.
    exported = json.loads(editor.export_text("all"))
    (tab,) = [n for n in exported if n["type"] == "tab"]
    outer = instance["z"]
    assert {n["id"]: n for n in exported if n is not tab} == {
        n["id"]: {**n, "z": tab["id"]} if n.get("z") == outer else n for n in flows}

    # Its template: every node of the subflow, its four output ports and its env list.
    node.locator(".node-body").click(position={"x": 50, "y": 20})  # the import selected all
    node.locator(".node-body").click(button="right", position={"x": 50, "y": 20})
    page.locator('[data-context-action="edit-template"]').click()
    inner = [n for n in flows if n.get("z") == definition["id"]]
    expect(page.locator("#canvas [data-node-id]")).to_have_count(len(inner))
    expect(page.locator("[data-subflow-port^=out-]")).to_have_count(4)
    page.locator("[data-subflow-action=properties]").click()
    names = page.locator("dialog.subflow-dialog .env-name")
    expect(names).to_have_count(len(definition["env"]))
    assert [names.nth(i).input_value() for i in range(names.count())] \
        == [e["name"] for e in definition["env"]]
    editor.screenshot("76-public-subflow-template")
    page.locator("dialog.subflow-dialog [data-action=subflow-done]").click()
    expect(page.locator("dialog.subflow-dialog")).to_have_count(0)
    # Done with nothing changed leaves the definition as it came (env entries' `ui` too).
    exported = {n["id"]: n for n in json.loads(editor.export_text("all"))}
    assert exported[definition["id"]] == definition
