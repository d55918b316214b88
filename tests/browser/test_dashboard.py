"""The dashboard at /ui in Chromium: what a person sees and what their clicks do.

A real Node-RED Dashboard 1 export (tests/compat/flows/, prepared as the compat corpus
does) opens with its tabs and groups; a gauge shows a value published over MQTT; a chart
plots 100 points; a button click and a switch toggle reach the flow; a template's
``<script>`` does not run. Screenshots at phone and desktop sizes go to tests/screenshots/.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.browser.conftest import SCREENSHOTS, Server
from tests.compat.corpus import load_nodes, prepare

COMPAT = Path(__file__).resolve().parents[1] / "compat" / "flows"
HEISHAMON = COMPAT / "NodeRed_Heishamon_control__flows-v3---2021-12-04.json"
ESP32 = COMPAT / ("Projeto-ESP32-MQTT-DHT22-BMP180-Reles-WebServer-NodeRed-HomeAssistant"
                  "__Todos-os-Fluxos.json")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WAIT = 10_000  # ms, the bound of every wait on the page

TAB = {"id": "t1", "type": "tab", "label": "Dashboard test"}
UI = [{"id": "ut", "type": "ui_tab", "name": "Plant", "order": 1},
      {"id": "ug", "type": "ui_group", "name": "Controls", "tab": "ut", "width": "6",
       "order": 1, "disp": True}]


@pytest.fixture(scope="module")
def broker() -> Iterator[Mosquitto]:
    """A private mosquitto for the MQTT flows."""
    mosquitto = Mosquitto().start()
    yield mosquitto
    mosquitto.stop()
    mosquitto.cleanup()


@pytest.fixture
def open_page(server: Server, browser: object) -> Iterator[object]:
    """Opens /ui at a viewport size; fails the test on page errors."""
    contexts: list = []
    errors: list[str] = []

    def opener(viewport: dict[str, int] = DESKTOP) -> object:
        context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/ui")
        page.locator('.ui-connection[data-state="connected"]').wait_for(timeout=WAIT)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not errors, errors


def deploy(server: Server, nodes: list[dict]) -> None:
    server.request("POST", "/flows", nodes)


def global_value(server: Server, key: str) -> tuple[str, str]:
    """A global context value as the admin API shows it: (text, format)."""
    answer = server.request("GET", f"/context/global/{key}")
    assert isinstance(answer, dict)
    return answer["msg"], answer["format"]


def widget(node_type: str, node_id: str, order: int, **config: object) -> dict:
    return {"id": node_id, "type": node_type, "z": "t1", "group": "ug", "order": order,
            "width": 0, "height": 0, "x": 100, "y": 40 * order, "wires": [[]], **config}


def remember(node_id: str, key: str) -> dict:
    """A change node that puts msg.payload in global context ``key``."""
    return {"id": node_id, "type": "change", "z": "t1", "x": 300, "y": 40, "wires": [[]],
            "rules": [{"t": "set", "p": key, "pt": "global", "to": "payload", "tot": "msg"}]}


def mqtt_flow(broker: Mosquitto, topic: str, *widgets: dict) -> list[dict]:
    mqtt_in = {"id": "in1", "type": "mqtt in", "z": "t1", "topic": topic, "qos": "0",
               "datatype": "auto-detect", "broker": "b1", "x": 80, "y": 200,
               "wires": [[w["id"] for w in widgets]]}
    return [TAB, *UI, {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1",
                       "port": str(broker.port)}, mqtt_in, *widgets]


def publish_retained(broker: Mosquitto, topic: str, payload: str) -> None:
    """Publish (retained: the flow's subscription gets it whenever it subscribes)."""
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-r", "-m", payload],
                   check=True, timeout=10)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll the admin API until ``predicate`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_dashboard1_export_opens_with_its_tabs_and_groups(server, open_page, broker):
    prepared = prepare(load_nodes(HEISHAMON), broker.port)
    deploy(server, prepared.nodes)
    tabs = {n["id"]: n["name"] for n in prepared.nodes if n["type"] == "ui_tab"}
    groups = [n for n in prepared.nodes if n["type"] == "ui_group"]
    # Tabs with widgets are in the menu, in their order; the first one is shown.
    used = {g["tab"] for g in groups if any(n.get("group") == g["id"] for n in prepared.nodes)}
    page = open_page(DESKTOP)
    nav = page.locator(".ui-nav-item")
    assert sorted(nav.all_text_contents()) == sorted(tabs[t] for t in used)
    first = nav.first.text_content()
    assert page.locator(".ui-title").text_content() == first
    first_tab = next(t for t, name in tabs.items() if name == first)
    shown = page.locator(".ui-group-title").all_text_contents()
    assert set(shown) == {g["name"] for g in groups if g["tab"] == first_tab
                          and any(n.get("group") == g["id"] for n in prepared.nodes)}
    # Groups sit side by side on a desktop, by their widths: 6 units of 48 px with 6 px
    # gaps, and their padding and border; a full-width widget fills the group's inside.
    boxes = [page.locator(".ui-group").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["width"] == pytest.approx(6 * 48 + 5 * 6 + 14, abs=0.5)
    inner = page.locator(".ui-group").first.locator(".ui-group-body").bounding_box()
    assert inner["width"] == pytest.approx(6 * 48 + 5 * 6, abs=0.5)
    assert boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"] - 1
    page.screenshot(path=str(SCREENSHOTS / "dashboard-d1-desktop.png"), full_page=True)
    # Another tab through the menu.
    page.locator(".ui-menu-button").click()
    other = nav.nth(1)
    other_name = other.text_content()
    other.click()
    page.locator(".ui-title", has_text=other_name).wait_for(timeout=WAIT)
    assert page.locator(".ui-group").count() > 0

    phone = open_page(PHONE)
    group_box = phone.locator(".ui-group").first.bounding_box()
    assert group_box["width"] <= PHONE["width"]
    assert phone.locator(".ui-nav").is_hidden()
    phone.screenshot(path=str(SCREENSHOTS / "dashboard-d1-phone.png"), full_page=True)


def test_dashboard2_export_opens_with_its_pages_groups_and_theme(server, open_page, broker):
    prepared = prepare(load_nodes(ESP32), broker.port)
    deploy(server, prepared.nodes)
    page = open_page(DESKTOP)
    # The page that has widgets, its groups with titles shown, in their order.
    assert page.locator(".ui-title").text_content() == "Automação Residêncial"
    titles = page.locator(".ui-group-title").all_text_contents()
    assert titles == ["Automação Residêncial", "Altitude NM", "Altitude R",
                      "Pressão Atmosférica NM", "Pressão Atmosférica R"]
    gauges = page.locator(".ui-gauge-title").all_text_contents()
    assert gauges[:2] == ["Temperatura", "Umidade"]
    # Its theme: black page and groups, so light text; a white header with dark text.
    colours = page.evaluate("""() => ({
        page: getComputedStyle(document.body).backgroundColor,
        title: getComputedStyle(document.querySelector('.ui-group-title')).color,
        header: getComputedStyle(document.querySelector('.ui-header')).backgroundColor,
        headerText: getComputedStyle(document.querySelector('.ui-title')).color})""")
    assert colours == {"page": "rgb(0, 0, 0)", "title": "rgb(238, 238, 238)",
                       "header": "rgb(255, 255, 255)", "headerText": "rgb(34, 34, 34)"}
    # Groups 3 columns of 12 wide: four to a row on a desktop.
    tops = [page.locator(".ui-group").nth(i).bounding_box()["y"] for i in range(5)]
    assert tops[0] == tops[1] == tops[2] == tops[3] < tops[4]
    page.screenshot(path=str(SCREENSHOTS / "dashboard-d2-desktop.png"), full_page=True)
    phone = open_page(PHONE)
    boxes = [phone.locator(".ui-group").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["width"] == boxes[1]["width"] > PHONE["width"] - 40  # one per row
    phone.screenshot(path=str(SCREENSHOTS / "dashboard-d2-phone.png"), full_page=True)


def test_gauge_shows_a_value_published_over_mqtt(server, open_page, broker):
    gauge = widget("ui_gauge", "g1", 1, title="Boiler", label="°C", min=0, max=100)
    publish_retained(broker, "plant/boiler", "63.5")
    deploy(server, mqtt_flow(broker, "plant/boiler", gauge))
    page = open_page(DESKTOP)
    value = page.locator('[data-widget-id="g1"] .ui-gauge-value')
    value.filter(has_text="63.5").wait_for(timeout=WAIT)
    assert page.locator('[data-widget-id="g1"] .ui-gauge-title').text_content() == "Boiler"
    # The filled arc ends at 63.5 % of the half circle: it has a path, coloured.
    fill = page.locator('[data-widget-id="g1"] .ui-gauge-fill')
    assert fill.get_attribute("d")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-gauge.png"))


def test_chart_plots_100_points(server, open_page):
    chart = widget("ui_chart", "c1", 1, label="Temperature", chartType="line", height=5,
                   removeOlder="1", removeOlderUnit="3600")
    readings = {"id": "fn", "type": "function", "z": "t1", "x": 200, "y": 300,
                "outputs": 1, "wires": [["c1"]], "func": (
                    "const now = Date.now();\n"
                    "for (let i = 0; i < 100; i++) {\n"
                    "  node.send({topic: 'boiler', payload: 20 + (i % 10),"
                    " timestamp: now - (100 - i) * 1000});\n}\nreturn null;")}
    inject = {"id": "go", "type": "inject", "z": "t1", "x": 80, "y": 300,
              "props": [{"p": "payload"}], "payload": "", "payloadType": "date",
              "wires": [["fn"]]}
    deploy(server, [TAB, *UI, chart, readings, inject])
    page = open_page(DESKTOP)
    server.request("POST", "/inject/go")
    body = page.locator('[data-widget-id="c1"] .ui-chart-body')
    page.wait_for_function("document.querySelector('[data-widget-id=\"c1\"] .ui-chart-body')"
                           "?.dataset.points === '100'", timeout=WAIT)
    assert body.get_attribute("data-points") == "100"
    # The line is drawn: the canvas holds pixels of the first series' colour (#1F77B4).
    coloured = page.evaluate("""() => {
        const canvas = document.querySelector('[data-widget-id="c1"] canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4)
            if (Math.abs(data[i] - 0x1f) < 30 && Math.abs(data[i + 1] - 0x77) < 30
                && Math.abs(data[i + 2] - 0xb4) < 30 && data[i + 3] > 0) n++;
        return n;
    }""")
    assert coloured > 200
    # A page opened later gets the same 100 points.
    later = open_page(DESKTOP)
    later.wait_for_function("document.querySelector('[data-widget-id=\"c1\"] .ui-chart-body')"
                            "?.dataset.points === '100'", timeout=WAIT)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-chart.png"))


def test_button_click_and_switch_toggle_reach_the_flow(server, open_page):
    button = widget("ui_button", "btn", 1, label="Test reading", payload="21.5",
                    payloadType="num", topic="test", topicType="str")
    switch = widget("ui_switch", "sw", 2, label="Pump", onvalue="on", onvalueType="str",
                    offvalue="off", offvalueType="str")
    button["wires"] = [["keep_button"]]
    switch["wires"] = [["keep_switch"]]
    deploy(server, [TAB, *UI, button, switch, remember("keep_button", "button"),
                    remember("keep_switch", "switch")])
    page = open_page(DESKTOP)
    page.get_by_role("button", name="Test reading").click()
    wait_until(lambda: global_value(server, "button") == ("21.5", "number"), timeout=10)
    toggle = page.get_by_role("switch", name="Pump")
    assert toggle.get_attribute("aria-checked") == "false"
    toggle.click()
    wait_until(lambda: global_value(server, "switch") == ("on", "string[2]"), timeout=10)
    page.locator('[role="switch"][aria-checked="true"]').wait_for(timeout=WAIT)
    toggle.click()
    wait_until(lambda: global_value(server, "switch") == ("off", "string[3]"), timeout=10)
    page.locator('[role="switch"][aria-checked="false"]').wait_for(timeout=WAIT)


def test_template_script_does_not_run(server, open_page):
    template = widget("ui_template", "tpl", 1, format=(
        '<p class="greeting">Hello {{msg.payload}}</p>'
        '<script>window.__templateRan = true;</script>'
        '<img src="x" onerror="window.__templateRan = true">'
        '<a href="javascript:window.__templateRan=true">link</a>'))
    inject = {"id": "inj", "type": "inject", "z": "t1", "x": 80, "y": 300,
              "props": [{"p": "payload"}], "payload": "<b>world</b>", "payloadType": "str",
              "once": False, "wires": [["tpl"]]}
    deploy(server, [TAB, *UI, template, inject])
    page = open_page(DESKTOP)
    server.request("POST", "/inject/inj")
    greeting = page.locator('[data-widget-id="tpl"] .greeting')
    greeting.filter(has_text="Hello <b>world</b>").wait_for(timeout=WAIT)
    assert page.locator('[data-widget-id="tpl"] b').count() == 0  # the payload is text
    assert page.locator('[data-widget-id="tpl"] script').count() == 0
    assert page.locator('[data-widget-id="tpl"] a').get_attribute("href") is None
    assert page.evaluate("window.__templateRan") is None
