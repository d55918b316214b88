"""Dashboard 2 (`ui-*`) widgets: its config nodes place them, its keys configure them."""

from __future__ import annotations

import orjson

from flowrt.dashboard import dashboard_for
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
CONFIG = [
    {"id": "base", "type": "ui-base", "name": "My Dashboard", "path": "/dashboard"},
    {"id": "theme", "type": "ui-theme", "name": "Theme", "colors": {
        "surface": "#ffffff", "primary": "#aa0000", "bgPage": "#eeeeee",
        "groupBg": "#ffffff", "groupOutline": "#cccccc"}},
    {"id": "p1", "type": "ui-page", "name": "Overview", "ui": "base", "path": "/page1",
     "theme": "theme", "order": 1, "visible": "true", "disabled": "false"},
    {"id": "p2", "type": "ui-page", "name": "Hidden", "ui": "base", "path": "/page2",
     "theme": "theme", "order": 2, "visible": "false", "disabled": "false"},
    {"id": "g1", "type": "ui-group", "name": "Plant", "page": "p1", "width": "6",
     "order": 1, "showTitle": True},
]


def widget(node_type: str, node_id: str, **config: object) -> dict:
    return {"id": node_id, "type": node_type, "z": "t1", "group": "g1", "order": 1,
            "x": 0, "y": 0, "wires": [[]], **config}


async def test_pages_groups_theme_and_title():
    async with FlowHarness([TAB, *CONFIG, widget("ui-text", "t", label="Temp")]) as h:
        hub = dashboard_for(h.runtime.endpoints)
        layout = hub.layout()
    assert layout["site"]["title"] == "My Dashboard"
    assert layout["site"]["colors"]["primary"] == "#aa0000"
    [page] = layout["pages"]  # the invisible page is left out
    assert (page["name"], page["columns"]) == ("Overview", 12)
    assert page["groups"][0]["widgets"][0]["label"] == "Temp"


async def test_gauge_segments_units_and_value_property():
    gauge = widget("ui-gauge", "g", gtype="gauge-tank", min=0, max=50, units="°C",
                   prefix="~", segments=[{"from": 0, "color": "blue"},
                                         {"from": 30, "color": "red"}])
    async with FlowHarness([TAB, *CONFIG, gauge]) as h:
        h.send("g", {"payload": 31.5})
        await h.settle()
        node = h.node("g")
        options, state = node.drawing(), node.state()
    assert (options["style"], options["units"], options["max"]) == ("level", "°C", 50)
    assert options["segments"][1] == {"from": 30, "color": "red"}
    assert state == {"value": 31.5, "text": "~31.5"}


async def test_button_emulate_click_and_notification_confirm():
    nodes = [TAB, *CONFIG,
             widget("ui-button", "b", payload="go", payloadType="str", topic="cmd",
                    topicType="str", emulateClick=True),
             {"id": "n", "type": "ui-notification", "z": "t1", "ui": "base", "x": 0,
              "y": 0, "wires": [[]], "position": "center center", "displayTime": "0"}]
    async with FlowHarness(nodes) as h:
        hub = dashboard_for(h.runtime.endpoints)
        client = hub.connect()
        while client.take() is not None:
            pass
        h.send("b", {"payload": "anything"})
        h.send("n", {"payload": "Valve open", "topic": "Plant"})
        await h.settle()
        toast = orjson.loads(client.take() or b"{}")
        hub.page_event("n", "OK")
        await h.settle()
        assert [(m["payload"], m["topic"]) for m in h.outputs("b")] == [("go", "cmd")]
        assert (toast["title"], toast["text"]) == ("Plant", "Valve open")
        assert h.payloads("n") == ["OK"]


async def test_chart_series_from_category_and_template_vue_bindings():
    nodes = [TAB, *CONFIG,
             widget("ui-chart", "c", category="sensor", categoryType="msg"),
             widget("ui-template", "tp", format='<p v-text="msg.payload.sensor"></p>'
                    '<span @click="x">{{ msg.payload.value }}</span>')]
    async with FlowHarness(nodes) as h:
        h.send("c", {"payload": 3, "sensor": "s1"})
        h.send("tp", {"payload": {"sensor": "s1", "value": 7}})
        await h.settle()
        assert h.node("tp").state()["html"] == "<p>s1</p><span>7</span>"
        assert h.node("c").state()["series"][0]["name"] == "s1"
