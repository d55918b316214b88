"""Dashboard 1 (`ui_*`) widgets: the messages they accept and emit, as Node-RED
Dashboard's, and what the dashboard hub sends pages (layout, updates, bounded queues)."""

from __future__ import annotations

import orjson

from flowrt.dashboard import TICK, Client, DashboardHub, dashboard_for
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
UI_TAB = {"id": "tab1", "type": "ui_tab", "name": "Home", "order": 1}
UI_GROUP = {"id": "g1", "type": "ui_group", "name": "Sensors", "tab": "tab1", "width": "6",
            "order": 1}


def widget(node_type: str, node_id: str = "w1", **config: object) -> dict:
    return {"id": node_id, "type": node_type, "z": "t1", "group": "g1", "order": 1,
            "x": 0, "y": 0, "wires": [[]], **config}


def flow(*nodes: dict) -> list[dict]:
    return [TAB, UI_TAB, UI_GROUP, *nodes]


def hub_of(h: FlowHarness) -> DashboardHub:
    return dashboard_for(h.runtime.endpoints)


def frames(client: Client) -> list[dict]:
    out = []
    while (frame := client.take()) is not None:
        out.append(orjson.loads(frame))
    return out


async def tick(h: FlowHarness) -> None:
    await h.settle()
    await h.advance(TICK)
    await h.settle()


async def test_layout_has_tabs_groups_and_widgets_in_order():
    nodes = flow(widget("ui_text", "b", order=2, label="Second"),
                 widget("ui_gauge", "a", order=1, title="Temp"))
    async with FlowHarness(nodes) as h:
        layout = hub_of(h).layout()
    [page] = layout["pages"]
    assert page["name"] == "Home"
    [group] = page["groups"]
    assert (group["name"], group["width"]) == ("Sensors", 6)
    assert [w["id"] for w in group["widgets"]] == ["a", "b"]
    assert group["widgets"][0]["kind"] == "gauge"
    assert group["widgets"][0]["title"] == "Temp"


async def test_a_page_opened_later_gets_the_last_values_and_chart_history():
    nodes = flow(widget("ui_gauge", "g", min=0, max=100),
                 widget("ui_chart", "c", chartType="line"))
    async with FlowHarness(nodes) as h:
        h.send("g", {"payload": 42})
        for i in range(5):
            h.send("c", {"payload": i, "topic": "temp"})
        h.send("c", {"payload": 9, "topic": "hum"})
        await h.settle()
        client = hub_of(h).connect()
        layout, update = frames(client)
    assert layout["type"] == "layout"
    assert update["widgets"]["g"]["value"] == 42
    series = {s["name"]: [p[1] for p in s["points"]] for s in update["widgets"]["c"]["series"]}
    assert series == {"temp": [0, 1, 2, 3, 4], "hum": [9]}


async def test_updates_are_merged_per_widget_and_tick():
    async with FlowHarness(flow(widget("ui_gauge", "g"), widget("ui_chart", "c"))) as h:
        client = hub_of(h).connect()
        frames(client)
        for value in (1, 2, 3):
            h.send("g", {"payload": value})
            h.send("c", {"payload": value, "topic": "t"})
        await tick(h)
        [update] = frames(client)
    assert update["widgets"]["g"]["value"] == 3  # only the last value of the tick
    assert [p[2] for p in update["widgets"]["c"]["points"]] == [1, 2, 3]  # every point


async def test_chart_clears_on_empty_array_and_keeps_a_point_window():
    async with FlowHarness(flow(widget("ui_chart", "c", removeOlderPoints="3"))) as h:
        for i in range(10):
            h.send("c", {"payload": i, "topic": "x"})
        await h.settle()
        chart = h.node("c")
        assert [p[1] for p in chart.state()["series"][0]["points"]] == [7, 8, 9]
        h.send("c", {"payload": []})
        await h.settle()
        assert chart.state() == {"series": []}


async def test_chart_time_window_drops_old_points():
    async with FlowHarness(flow(widget("ui_chart", "c", removeOlder="1",
                                       removeOlderUnit="60"))) as h:
        h.send("c", {"payload": 1, "topic": "x", "timestamp": 0})
        h.send("c", {"payload": 2, "topic": "x", "timestamp": 61_000})
        await h.settle()
        assert [p[1] for p in h.node("c").state()["series"][0]["points"]] == [2]


async def test_bar_chart_keeps_each_topics_latest_value():
    async with FlowHarness(flow(widget("ui_chart", "c", chartType="bar"))) as h:
        for topic, value in (("a", 1), ("b", 2), ("a", 3)):
            h.send("c", {"payload": value, "topic": topic})
        await h.settle()
        assert h.node("c").state() == {"bars": [{"label": "a", "value": 3},
                                                {"label": "b", "value": 2}]}


async def test_button_click_sends_payload_and_topic():
    nodes = flow(widget("ui_button", "b", payload="42", payloadType="num", topic="press",
                        topicType="str"))
    async with FlowHarness(nodes) as h:
        hub_of(h).page_event("b", None)
        await h.settle()
        [msg] = h.outputs("b")
    assert (msg["payload"], msg["topic"]) == (42, "press")


async def test_button_without_payload_sends_its_id_and_passes_input_only_with_passthru():
    async with FlowHarness(flow(widget("ui_button", "b"))) as h:
        h.send("b", {"payload": "in"})
        await h.settle()
        hub_of(h).page_event("b", None)
        await h.settle()
        assert h.payloads("b") == ["b"]
    async with FlowHarness(flow(widget("ui_button", "b", passthru=True))) as h:
        h.send("b", {"payload": "in"})
        await h.settle()
        assert h.payloads("b") == ["in"]


async def test_disabled_widget_ignores_clicks():
    async with FlowHarness(flow(widget("ui_button", "b"))) as h:
        h.send("b", {"enabled": False})
        await h.settle()
        hub_of(h).page_event("b", None)
        await h.settle()
        assert h.outputs("b") == []
        assert h.node("b").snapshot()["disabled"] is True


async def test_switch_toggle_sends_on_and_off_values():
    nodes = flow(widget("ui_switch", "s", onvalue="ON", onvalueType="str", offvalue="OFF",
                        offvalueType="str", topic="lamp", topicType="str"))
    async with FlowHarness(nodes) as h:
        hub_of(h).page_event("s", True)
        hub_of(h).page_event("s", False)
        await h.settle()
        assert [(m["payload"], m["topic"]) for m in h.outputs("s")] == [("ON", "lamp"),
                                                                       ("OFF", "lamp")]
        h.clear()
        h.send("s", {"payload": "ON"})
        h.send("s", {"payload": "maybe"})  # neither value: ignored, not passed on
        await h.settle()
        assert h.node("s").state()["value"] is True
        assert h.payloads("s") == ["ON"]


async def test_switch_topic_from_the_last_message_by_default():
    async with FlowHarness(flow(widget("ui_switch", "s", topic="topic",
                                       topicType="msg"))) as h:
        h.send("s", {"payload": True, "topic": "room/lamp"})
        await h.settle()
        h.clear()
        hub_of(h).page_event("s", False)
        await h.settle()
        [msg] = h.outputs("s")
        assert (msg["payload"], msg["topic"]) == (False, "room/lamp")


async def test_slider_numeric_text_input_dropdown_emit_values():
    nodes = flow(widget("ui_slider", "sl", min=0, max=10),
                 widget("ui_text_input", "ti", mode="number"),
                 widget("ui_dropdown", "dd", options=[
                     {"label": "One", "value": 1, "type": "num"},
                     {"label": "Two", "value": "two", "type": "str"}]),
                 widget("ui_numeric", "nu"))
    async with FlowHarness(nodes) as h:
        hub = hub_of(h)
        hub.page_event("sl", 7)
        hub.page_event("ti", "3.5")
        hub.page_event("dd", 0)
        hub.page_event("nu", 4.0)
        await h.settle()
        assert h.payloads("sl") == [7]
        assert h.payloads("ti") == [3.5]
        assert h.payloads("dd") == [1]
        assert h.payloads("nu") == [4]


async def test_dropdown_options_replaced_by_msg_options():
    async with FlowHarness(flow(widget("ui_dropdown", "dd"))) as h:
        h.send("dd", {"options": ["a", {"Bee": "b"}]})
        await h.settle()
        assert h.node("dd").state()["choices"] == [{"label": "a", "value": "a"},
                                                   {"label": "Bee", "value": "b"}]
        hub_of(h).page_event("dd", 1)
        await h.settle()
        assert h.payloads("dd") == ["b"]


async def test_text_format_escapes_user_strings():
    async with FlowHarness(flow(widget("ui_text", "t", format="{{msg.payload}} °C"))) as h:
        h.send("t", {"payload": "<img src=x onerror=alert(1)>"})
        await h.settle()
        assert h.node("t").state()["html"] == "&lt;img src=x onerror=alert(1)&gt; °C"


async def test_template_removes_scripts_and_handlers_and_forwards():
    template = ('<div onclick="steal()"><b>{{msg.payload}}</b><script>window.ran=1'
                '</script></div><p ng-bind="msg.topic"></p>')
    async with FlowHarness(flow(widget("ui_template", "t", format=template))) as h:
        h.send("t", {"payload": "<i>hi</i>", "topic": "T"})
        await h.settle()
        html = h.node("t").state()["html"]
        assert h.payloads("t") == ["<i>hi</i>"]
    assert html == "<div><b>&lt;i&gt;hi&lt;/i&gt;</b></div><p>T</p>"


async def test_ui_control_and_label_change_options():
    async with FlowHarness(flow(widget("ui_button", "b", label="Go"))) as h:
        h.send("b", {"ui_control": {"label": "Stop", "width": 99}})
        await h.settle()
        assert h.node("b").snapshot()["control"] == {"label": "Stop"}


async def test_toast_reaches_open_pages():
    toast = {"id": "n", "type": "ui_toast", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             "position": "top right", "displayTime": "5"}
    async with FlowHarness(flow(toast)) as h:
        client = hub_of(h).connect()
        frames(client)
        h.send("n", {"payload": "Too hot", "topic": "Alert"})
        await h.settle()
        [shown] = frames(client)
    assert (shown["type"], shown["title"], shown["text"], shown["timeout"]) == (
        "toast", "Alert", "Too hot", 5)


def test_a_slow_client_drops_its_oldest_frames_and_is_resynced():
    client = Client(max_bytes=100)
    for i in range(20):
        client.put(orjson.dumps({"i": i, "pad": "x" * 20}), frozenset({"w"}))
    assert client.queued_bytes <= 100
    assert client.dropped > 0
    assert client.stale == {"w"}
    assert orjson.loads(client.frames[-1][0])["i"] == 19


async def test_deploy_changes_send_a_new_layout():
    async with FlowHarness(flow(widget("ui_text", "a"))) as h:
        client = hub_of(h).connect()
        frames(client)
        await h.deploy(flow(widget("ui_text", "a"), widget("ui_text", "b", order=2)))
        await tick(h)
        kinds = [f["type"] for f in frames(client)]
        assert kinds == ["layout", "update"]


def test_the_last_layout_is_never_dropped():
    client = Client(max_bytes=50)
    client.put(orjson.dumps({"type": "layout", "pages": []}), None)
    for i in range(5):
        client.put(orjson.dumps({"type": "update", "i": i, "pad": "x" * 20}), frozenset({"w"}))
    # The updates went (their widget is resent in full once the page catches up).
    assert [orjson.loads(frame)["type"] for frame, _ in client.frames] == ["layout"]
    assert client.stale == {"w"}
    client.put(orjson.dumps({"type": "layout", "pages": [1]}), None)  # a newer one
    assert [orjson.loads(frame).get("pages") for frame, _ in client.frames] == [[1]]
