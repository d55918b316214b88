"""Forms in words, config nodes and deploying with invalid nodes (issue 16), asserted on
what the person sees: label texts, the option a select shows, the sidebar's and the
deploy dialog's words. Screenshots 30-39 are of these views."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import Server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
DEMO = Path(__file__).resolve().parents[2] / "flows" / "demo.json"
RAW_KEYS = {"Nl", "Rap", "Rh", "Tosidebar", "Tostatus", "Noerr", "Verifyservercert",
            "Inputs", "Complete", "Target Type", "Status Val", "Op1type"}


def broker(node_id: str, name: str, protocol: str = "4") -> dict:
    return {"id": node_id, "type": "mqtt-broker", "name": name, "broker": "127.0.0.1",
            "port": "1", "protocolVersion": protocol, "autoConnect": False}


def flow_node(node_id: str, type_: str, y: int, x: int = 200, **extra: object) -> dict:
    return {"id": node_id, "type": type_, "z": "t1", "x": x, "y": y, "wires": [], **extra}


def visible_labels(panel: Locator) -> list[str]:
    """The label texts of the form rows the person can see."""
    return [text.strip() for text in panel.locator(
        ".form-row:visible > label, fieldset:visible > legend").all_inner_texts()]


def picked(select: Locator) -> str:
    """The text a select shows."""
    return select.locator("option:checked").inner_text()


def test_add_new_broker_shows_its_name_in_the_picker(editor: EditorPage) -> None:
    node_id = editor.drag_from_palette("mqtt out", 300, 200)
    panel = editor.edit(node_id)
    picker = editor.field(panel, "/broker")
    assert picked(picker) == "none"
    picker.select_option(label="Add new mqtt-broker...")
    broker_panel = editor.page.locator(".tray-panel").last
    expect(broker_panel.locator(".tray-title")).to_have_text("Edit mqtt-broker node")
    sections = broker_panel.locator("fieldset.form-section > legend").all_inner_texts()
    assert sections == ["Connection", "Security", "Messages"], sections
    # The TLS configuration only with "Use TLS".
    expect(broker_panel.get_by_text("TLS configuration", exact=True)).to_be_hidden()
    broker_panel.locator('[data-path="/usetls"] input').check()
    expect(broker_panel.get_by_text("TLS configuration", exact=True)).to_be_visible()
    broker_panel.locator('[data-path="/usetls"] input').uncheck()
    editor.field(broker_panel, "/name").fill("my broker")
    editor.field(broker_panel, "/broker").fill("localhost")
    editor.screenshot("30-new-broker-form")
    editor.done()
    expect(picker.locator("option:checked")).to_have_text("my broker")
    # Once, not once per retry: the picker lists "none", the broker and "Add new".
    assert picker.locator("option").all_inner_texts() == [
        "none", "my broker", "Add new mqtt-broker..."]
    editor.screenshot("31-picker-shows-new-broker")
    editor.done()
    # Reopened, the node still shows its broker.
    panel = editor.edit(node_id)
    expect(editor.field(panel, "/broker").locator("option:checked")).to_have_text("my broker")
    editor.done()


def test_the_demo_publish_node_shows_its_broker(server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", json.loads(DEMO.read_text()))
    editor.open()
    publish = next(n for n in server.flows() if n.get("name") == "publish")
    panel = editor.edit(publish["id"])
    expect(editor.field(panel, "/broker").locator("option:checked")).to_have_text("local broker")
    # Help beside the form: the sidebar shows the type's help while the form is open.
    help_pane = editor.page.locator("#sidebar-help")
    expect(help_pane).to_be_visible()
    expect(help_pane.locator("h3")).to_have_text("mqtt out")
    tray, sidebar = panel.bounding_box(), editor.page.locator("#sidebar").bounding_box()
    assert tray["x"] + tray["width"] <= sidebar["x"] + 1, (tray, sidebar)
    editor.screenshot("32-demo-publish-with-help")
    editor.page.locator(".tray-panel [data-action=cancel]").click()
    expect(editor.page.locator("#sidebar-info")).to_be_visible()  # back where it was


def test_labels_and_choices_are_words(server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB, broker("b4", "v4 broker"),
        flow_node("in", "mqtt in", 60, broker="b4", topic="a/b", qos="1", nl=False,
                  rap=True, rh=0, inputs=0, datatype="auto-detect"),
        flow_node("dbg", "debug", 120, active=True, tosidebar=True, console=False,
                  tostatus=False, complete="payload", targetType="msg"),
        flow_node("fn", "function", 180, func="return msg;", outputs=1, noerr=0),
        flow_node("sw", "switch", 240, property="payload", propertyType="msg",
                  rules=[{"t": "eq", "v": "1", "vt": "str"}, {"t": "else"}], checkall="true",
                  outputs=2, wires=[[], []]),
    ])
    editor.open()

    panel = editor.edit("in")
    labels = visible_labels(panel)
    assert labels[:5] == ["Name", "Topic", "QoS", "Output", "Server"], labels
    assert not RAW_KEYS & set(labels), labels
    qos = editor.field(panel, "/qos")
    assert qos.locator("option").all_inner_texts() == [
        "0 - at most once", "1 - at least once", "2 - exactly once"]
    assert picked(qos) == "1 - at least once"
    assert picked(editor.field(panel, "/datatype")) == \
        "auto-detect (parsed JSON object, string or buffer)"
    # MQTT 5 options stay hidden for a 3.1.1 broker.
    expect(panel.get_by_text("Retained messages", exact=True)).to_be_hidden()
    assert "Retained messages" not in labels
    editor.screenshot("33-mqtt-in-words")
    editor.page.locator(".tray-panel [data-action=cancel]").click()

    panel = editor.edit("dbg")
    labels = visible_labels(panel)
    assert {"Output", "To the debug window", "To the system console",
            "To the node status (32 characters)"} <= set(labels), labels
    assert not RAW_KEYS & set(labels), labels
    output = panel.locator('[data-path="/complete"]')
    assert picked(output.locator("select")) == "msg."
    editor.screenshot("34-debug-words")
    editor.page.locator(".tray-panel [data-action=cancel]").click()

    panel = editor.edit("fn")
    labels = visible_labels(panel)
    assert not RAW_KEYS & set(labels), labels
    assert picked(editor.field(panel, "/language")) == "JavaScript"
    editor.page.locator(".tray-panel [data-action=cancel]").click()

    panel = editor.edit("sw")
    labels = visible_labels(panel)
    assert "Outputs" not in labels and "When a rule matches" in labels, labels
    tests = panel.locator('[data-path^="/rules/"][data-key="t"] select')
    assert [picked(t) for t in tests.all()] == ["==", "otherwise"]
    # "otherwise" has no value field; changing the test to "is between" shows two.
    second = panel.locator('[data-path="/rules/1"]')
    expect(second.get_by_text("Value", exact=True)).to_be_hidden()
    tests.nth(1).select_option(label="is between")
    expect(second.get_by_text("Value", exact=True)).to_be_visible()
    expect(second.get_by_text("and", exact=True)).to_be_visible()
    panel.locator("[data-add=rules]").click()
    editor.screenshot("35-switch-rules")
    editor.done()
    # One output per rule, saved as Node-RED saves it.
    expect(editor.node("sw").locator('[data-port="out-2"]')).to_have_count(1)
    editor.deploy()
    deployed = next(n for n in server.flows() if n["id"] == "sw")
    assert deployed["outputs"] == 3 and len(deployed["rules"]) == 3


def test_inject_properties_in_words(editor: EditorPage) -> None:
    node_id = editor.drag_from_palette("inject", 300, 200)
    panel = editor.edit(node_id)
    items = panel.locator('[data-path="/props"] .form-array-item')
    expect(items).to_have_count(2)
    # The values of msg.payload and of a string msg.topic are the fields below (as
    # Node-RED saves them); another property has its value in its row.
    payload_row, topic_row = items.nth(0), items.nth(1)
    expect(payload_row.locator('[data-key="p"] input')).to_have_value("payload")
    expect(payload_row.get_by_text("Value", exact=True)).to_be_hidden()
    expect(topic_row.get_by_text("Value", exact=True)).to_be_hidden()
    panel.locator("[data-add=props]").click()
    third = items.nth(2)
    third.locator('[data-key="p"] input').fill("sensor")
    expect(third.get_by_text("Value", exact=True)).to_be_visible()
    assert picked(third.locator("select.typed-type")) == "string"
    third.locator('[data-key="v"] input').fill("kitchen")
    assert picked(panel.locator('[data-path="/payload"] select')) == "timestamp"
    expect(panel.locator('[data-path="/payload"] input')).to_be_hidden()
    expect(panel.get_by_text("… after (seconds)")).to_be_hidden()
    panel.locator('[data-path="/once"] input').check()
    expect(panel.get_by_text("… after (seconds)")).to_be_visible()
    editor.screenshot("43-inject-words")
    editor.done()
    editor.deploy()
    props = next(n for n in editor.server.flows() if n["id"] == node_id)["props"]
    assert props[2] == {"p": "sensor", "vt": "str", "v": "kitchen"}


def test_change_rules_in_words(server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", [TAB, flow_node("ch", "change", 80, rules=[
        {"t": "set", "p": "payload", "pt": "msg", "to": "hi", "tot": "str"},
        {"t": "change", "p": "topic", "pt": "msg", "from": "a", "fromt": "str", "to": "b",
         "tot": "str"},
        {"t": "delete", "p": "secret", "pt": "msg"}])])
    editor.open()
    panel = editor.edit("ch")
    rules = panel.locator('[data-path="/rules"] .form-array-item')
    assert [picked(r.locator('[data-key="t"] select')) for r in rules.all()] == \
        ["Set", "Change", "Delete"]
    assert rules.nth(0).locator(".form-row:visible > label").all_inner_texts() == \
        ["Action", "Property", "to the value"]
    assert rules.nth(1).locator(".form-row:visible > label").all_inner_texts() == \
        ["Action", "Property", "Search for", "Replace with"]
    assert rules.nth(2).locator(".form-row:visible > label").all_inner_texts() == \
        ["Action", "Property"]
    assert picked(rules.nth(0).locator('[data-key="p"] select')) == "msg."
    rules.nth(2).locator('[data-key="t"] select').select_option(label="Move")
    assert rules.nth(2).locator(".form-row:visible > label").all_inner_texts() == \
        ["Action", "Property", "to"]
    editor.screenshot("44-change-rules")
    editor.page.locator(".tray-panel [data-action=cancel]").click()


def test_mqtt5_fields_follow_the_broker_protocol(server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB, broker("b", "cloud"),
        flow_node("out", "mqtt out", 80, broker="b", topic="x", qos="", retain=""),
    ])
    editor.open()
    panel = editor.edit("out")
    assert picked(editor.field(panel, "/retain")) == "from msg.retain (else no)"
    expect(panel.get_by_text("Response topic")).to_be_hidden()
    # Switch the broker to MQTT 5 in its own (stacked) form.
    panel.locator(".edit-config").click()
    broker_panel = editor.page.locator(".tray-panel").last
    expect(broker_panel.get_by_text("Session expiry (seconds)")).to_be_hidden()
    editor.field(broker_panel, "/protocolVersion").select_option(label="MQTT V5")
    expect(broker_panel.get_by_text("Session expiry (seconds)")).to_be_visible()
    editor.done()
    for words in ("Response topic", "Content type", "User properties (JSON)",
                  "Correlation data", "Message expiry (seconds)"):
        expect(panel.get_by_text(words, exact=True)).to_be_visible()
    editor.screenshot("36-mqtt-out-v5")
    editor.done()


def test_true_in_the_debug_output_shows_the_whole_message(server: Server,
                                                          editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB,
        flow_node("inj", "inject", 80, props=[{"p": "payload"}], payload="hello",
                  payloadType="str", wires=[["dbg"]]),
        flow_node("dbg", "debug", 80, x=420, active=True, tosidebar=True, complete="payload",
                  targetType="msg"),
    ])
    editor.open()
    panel = editor.edit("dbg")
    output = panel.locator('[data-path="/complete"] input')
    output.fill("true")
    editor.done()
    editor.deploy()
    assert next(n for n in server.flows() if n["id"] == "dbg")["complete"] == "true"
    editor.sidebar("debug")
    editor.node("inj").locator("[data-button=inject]").click()
    message = editor.page.locator(".debug-message").last
    expect(message.locator(".debug-format")).to_have_text("msg : Object")
    expect(message).not_to_contain_text("msg.True")
    expect(message).not_to_contain_text("undefined")
    editor.screenshot("37-debug-whole-message")


def test_config_sidebar_lists_used_and_unused_and_deletes(server: Server,
                                                          editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB, broker("used", "used broker"), broker("spare", "spare broker"),
        flow_node("out", "mqtt out", 80, broker="used", topic="x"),
        flow_node("in", "mqtt in", 140, broker="used", topic="x"),
    ])
    editor.open()
    editor.sidebar("config")
    pane = editor.page.locator("#sidebar-config")
    used = pane.locator('[data-config-node="used"]')
    spare = pane.locator('[data-config-node="spare"]')
    expect(pane.locator('[data-config-type="mqtt-broker"] h4')).to_have_text("mqtt-broker (2)")
    expect(used).to_contain_text("used broker")
    expect(used.locator(".config-users")).to_have_text("2 users")
    expect(used.locator(".config-delete")).to_have_count(0)
    expect(spare.locator(".config-users")).to_have_text("unused")
    editor.screenshot("38-config-sidebar")
    # Open one: its form.
    used.locator(".config-open").click()
    panel = editor.page.locator('.tray-panel[data-editing="used"]')
    expect(panel.locator(".tray-title")).to_have_text("Edit mqtt-broker node")
    panel.locator("[data-action=cancel]").click()
    # Delete the unused one.
    spare.locator(".config-delete").click()
    editor.page.locator("dialog [data-action=confirm]").click()
    expect(spare).to_have_count(0)
    editor.sidebar("config")
    expect(pane.locator('[data-config-type="mqtt-broker"] h4')).to_have_text("mqtt-broker (1)")
    editor.deploy()
    assert "spare" not in {n["id"] for n in server.flows()}


def test_deploy_with_an_unconfigured_node_lists_it_and_runs_the_rest(
        server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB,
        flow_node("inj", "inject", 80, props=[{"p": "payload"}], payload="still runs",
                  payloadType="str", wires=[["dbg"]]),
        flow_node("dbg", "debug", 80, x=420, active=True, tosidebar=True, complete="payload",
                  targetType="msg"),
    ])
    editor.open()
    bridge = editor.drag_from_palette("cloud-bridge", 300, 300)
    # Flagged on the canvas before any deploy, as Node-RED's red triangle.
    marker = editor.node(bridge).locator("[data-marker=invalid]")
    expect(marker).to_have_count(1)
    expect(marker.locator("title")).to_have_text("Cloud broker: no mqtt-broker chosen")
    editor.page.locator("#deploy-button").click()
    dialog = editor.page.locator("dialog[open]")
    expect(dialog.locator("h2")).to_have_text("Deploy with invalid nodes?")
    expect(dialog.locator(f'[data-problem-node="{bridge}"]')).to_have_text(
        "cloud bridge (cloud-bridge)Cloud broker: no mqtt-broker chosen")
    expect(dialog).not_to_contain_text("$[")
    editor.screenshot("39-deploy-invalid-dialog")
    with editor.expect_deploy():
        dialog.get_by_role("button", name="Deploy anyway").click()
    warning = editor.page.locator("[data-notification=warning]").last
    expect(warning).to_contain_text("1 node does not run; the rest of the flows run")
    expect(warning).to_contain_text("cloud bridge (cloud-bridge): cloud-bridge needs an "
                                    "mqtt-broker config node")
    editor.screenshot("40-deployed-rest-runs")
    assert bridge in {n["id"] for n in server.flows()}
    # The rest runs.
    editor.sidebar("debug")
    editor.node("inj").locator("[data-button=inject]").click()
    expect(editor.page.locator(".debug-message").last).to_contain_text("still runs")


def test_unknown_types_cannot_be_deployed_and_say_why(server: Server,
                                                      editor: EditorPage) -> None:
    editor.import_text(json.dumps([{"id": "odd", "type": "not-installed", "x": 100, "y": 100,
                                    "z": "", "wires": []}]))
    editor.page.locator("#deploy-button").click()
    dialog = editor.page.locator("dialog[open]")
    expect(dialog.locator("h2")).to_have_text("Cannot deploy: node types not installed")
    expect(dialog).to_contain_text("not-installed (not-installed)")
    expect(dialog.get_by_role("button", name="Deploy anyway")).to_have_count(0)
    editor.screenshot("41-deploy-unknown-types")
    dialog.get_by_role("button", name="Close").click()
    assert server.flows() == []


def test_cloud_bridge_modes_are_a_table(server: Server, editor: EditorPage) -> None:
    server.request("POST", "/flows", [
        TAB, broker("b", "cloud"), flow_node("cb", "cloud-bridge", 80, broker="b",
                                             wires=[[], []]),
    ])
    editor.open()
    panel = editor.edit("cb")
    table = panel.locator('[data-path="/modes"]')
    expect(table.locator("legend")).to_have_text("Sending per priority")
    normal = table.locator('tr[data-row="normal"]')
    assert picked(normal.locator("select")) == "batch"
    expect(normal.locator("input").first).to_have_value("5")
    critical = table.locator('tr[data-row="critical"]')
    assert picked(critical.locator("select")) == "stream"
    expect(critical.locator("input").first).to_be_disabled()
    normal.locator("select").select_option("stream")
    critical.locator("select").select_option("batch")
    critical.locator("input").first.fill("2")
    panel.locator('[data-path="/modes"]').scroll_into_view_if_needed()
    editor.screenshot("42-cloud-bridge-modes")
    editor.done()
    editor.deploy()
    modes = next(n for n in server.flows() if n["id"] == "cb")["modes"]
    assert modes["normal"] == "stream"
    assert modes["critical"] == {"batch": {"interval": 2, "maxMessages": 500}}
