"""What the editor shows for the requests the hardening changed (issue 11): the inject and
debug buttons (now JSON posts), the warning when live updates were dropped for a slow
connection (``commsMaxQueueBytes``), and a deploy the disk cannot hold (507)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.editor_page import EditorPage
from tests.tmpfs import fill, small_tmpfs

pytestmark = pytest.mark.browser

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
INJECT = {"id": "in1", "type": "inject", "z": "t1", "name": "test reading", "x": 150, "y": 100,
          "wires": [["d1"]], "props": [{"p": "payload"}], "payload": "x" * 900,
          "payloadType": "str"}
DEBUG = {"id": "d1", "type": "debug", "z": "t1", "name": "readings", "x": 400, "y": 100,
         "wires": [], "active": True, "tosidebar": True, "complete": "payload",
         "targetType": "msg"}


@pytest.fixture
def page_on(browser: object) -> Iterator[object]:
    """Open an editor page on a given server; fails on page errors."""
    contexts: list[object] = []
    errors: list[str] = []

    def open_on(server: Server) -> EditorPage:
        context = browser.new_context(viewport={"width": 1400, "height": 850})  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        editor = EditorPage(page, server)
        editor.open()
        return editor

    yield open_on
    for context in contexts:
        context.close()  # type: ignore[attr-defined]
    assert not errors, errors


def test_inject_and_debug_buttons_say_what_they_did(server: Server, page_on) -> None:
    server.request("POST", "/flows", [TAB, INJECT, DEBUG])
    editor = page_on(server)
    editor.sidebar("debug")
    editor.node("in1").locator("[data-button=inject]").click()
    expect(editor.page.locator("[data-notification=success]",
                               has_text="Injected: test reading")).to_be_visible()
    message = editor.page.locator("#debug-messages .debug-message").first
    expect(message.locator(".debug-node")).to_have_text("readings")

    button = editor.node("d1").locator("[data-button=debug]")
    expect(button).to_have_class(ACTIVE)
    button.click()
    expect(button).not_to_have_class(ACTIVE)  # the button shows the node is off
    editor.screenshot("15-inject-and-debug-buttons")
    editor.node("in1").locator("[data-button=inject]").click()
    expect(editor.page.locator("[data-notification=success]",
                               has_text="Injected: test reading")).to_have_count(2)
    expect(editor.page.locator("#debug-messages .debug-message")).to_have_count(1)


ACTIVE = re.compile(r"\bactive\b")


def test_dropped_live_updates_are_announced(tmp_path: Path, page_on) -> None:
    # A queue smaller than one debug message: every such message is dropped for this
    # connection, which must be told instead of silently missing output.
    server = start_server(tmp_path / "data", "commsMaxQueueBytes = 400\n")
    try:
        server.request("POST", "/flows", [TAB, INJECT, DEBUG])
        editor = page_on(server)
        editor.node("in1").locator("[data-button=inject]").click()
        warning = editor.page.locator("[data-notification=warning]",
                                      has_text="not sent to this editor")
        expect(warning).to_be_visible()
        assert "null" not in warning.inner_text() and "undefined" not in warning.inner_text()
        editor.screenshot("16-live-updates-dropped")
    finally:
        stop_server(server)


def test_a_deploy_the_disk_cannot_hold_is_shown_as_an_error(tmp_path: Path, page_on) -> None:
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        server = start_server(disk / "data")
        try:
            server.request("POST", "/flows", [TAB, INJECT, DEBUG])
            editor = page_on(server)
            ballast = fill(disk)
            try:
                panel = editor.edit("in1")
                editor.field(panel, "/name").fill("renamed on a full disk")
                editor.done()
                with editor.expect_deploy() as answer:
                    editor.page.locator("#deploy-button").click()
                assert answer.value.status == 507
                error = editor.page.locator("[data-notification=error]").last
                expect(error).to_contain_text("could not save the flows: cannot write")
                expect(error).to_contain_text("No space left on device")
                expect(error).to_contain_text("disk is full")
                expect(error).to_contain_text("unchanged")
                editor.screenshot("17-deploy-disk-full")
            finally:
                ballast.unlink()
            names = {n["id"]: n.get("name") for n in server.flows()}
            assert names["in1"] == "test reading"  # the running flows did not change
        finally:
            stop_server(server)


def test_info_sidebar_and_config_picker_show_words_not_null(server: Server, page_on) -> None:
    broker = {"id": "b1", "type": "mqtt-broker", "name": "local broker", "broker": "127.0.0.1",
              "port": "1883"}
    mqtt_in = {"id": "m1", "type": "mqtt in", "z": "t1", "name": "sensors", "x": 150, "y": 200,
               "wires": [[]], "topic": "sensors/#", "broker": "b1"}
    # No "info" keys: older exports and hand-written flows omit them.
    server.request("POST", "/flows", [TAB, INJECT, DEBUG, broker, mqtt_in])
    editor = page_on(server)
    editor.sidebar("info")
    info = editor.page.locator("#sidebar-info")
    expect(info).to_contain_text("Flow: Flow 1")
    expect(info).not_to_contain_text("null")
    editor.click_node("in1")
    expect(info).to_contain_text("test reading")
    expect(info).not_to_contain_text("null")
    panel = editor.edit("m1")
    picker = editor.field(panel, "/broker")
    expect(picker.locator("option:checked")).to_have_text("local broker")
    expect(picker.locator("option")).to_have_text(["none", "local broker",
                                                   "Add new mqtt-broker..."])
    editor.screenshot("18-info-and-config-picker")
