"""The editor while the runtime is down (issue 16): the person sees Node-RED's red
"Lost connection to server" notice and a clear badge, the node statuses greyed out as
stale, and a deploy says the runtime is not reachable; a runtime started again on the
same port and data directory clears all that and shows its own statuses. Screenshot 96."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.editor_page import EditorPage

pytestmark = pytest.mark.browser

FLOWS = [
    {"id": "t1", "type": "tab", "label": "Flow 1"},
    {"id": "i1", "type": "inject", "z": "t1", "x": 120, "y": 100, "wires": [["f1"]],
     "props": [{"p": "payload"}], "payload": "", "payloadType": "date", "once": True,
     "onceDelay": 0.1},
    {"id": "f1", "type": "function", "z": "t1", "x": 320, "y": 100, "wires": [[]],
     "name": "heartbeat", "outputs": 1,
     "func": "node.status({fill: 'green', shape: 'dot', text: 'up ' + msg.payload}); return msg;"},
]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """The servers a test starts (the first one with the flows); all stopped at the end."""
    started = [start_server(tmp_path / "data")]
    started[0].request("POST", "/flows", FLOWS)
    yield started
    for server in started:
        if server.process.poll() is None:
            stop_server(server)


def greyed(editor: EditorPage) -> bool:
    """Whether the heartbeat node's status is shown greyed out."""
    style = editor.node("f1").locator(".node-status").evaluate(
        "el => { const s = getComputedStyle(el); return [s.opacity, s.filter]; }")
    return float(style[0]) < 1 and "grayscale" in style[1]


def test_runtime_down_then_back(servers: list[Server], browser: Any) -> None:
    first = servers[0]
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    editor = EditorPage(page, first)
    editor.open()
    status = editor.node("f1").locator(".status-text")
    expect(status).to_have_text(re.compile(r"^up \d+$"))
    before = status.text_content()
    badge = page.locator("#offline-badge")
    expect(badge).to_be_hidden()
    assert not greyed(editor)

    first.process.kill()  # the runtime dies
    first.process.wait(timeout=10)
    notice = page.locator("[data-notification=error]", has_text="Lost connection to server")
    expect(notice).to_contain_text(re.compile(r"reconnecting( in \d+s\.|\.\.\.)"))
    expect(badge).to_be_visible()
    expect(badge).to_have_text("disconnected")
    expect(status).to_have_text(before)  # the last known status, greyed as stale
    assert greyed(editor)

    editor.move_node("f1", 60, 40)  # a change to deploy
    page.locator("#deploy-button").click()
    refused = page.locator("[data-notification=error]", has_text="Cannot deploy")
    expect(refused.locator(".notification-text")).to_have_text(
        "Cannot deploy: the flowrt runtime is not reachable")
    expect(refused).to_contain_text("Failed to fetch")  # the browser's reason
    expect(page.locator("#deploy-button")).to_be_enabled()  # the changes wait for the runtime
    editor.screenshot("96-offline")

    port = int(first.url.rsplit(":", 1)[1])
    servers.append(start_server(first.data_dir, port=port))  # back, same port and data
    # Unless the editor's own retry came first (then the notice is already gone):
    with contextlib.suppress(PlaywrightError):
        notice.get_by_role("button", name="Try now").click(timeout=2000)
    expect(notice).to_have_count(0)
    expect(badge).to_be_hidden()
    # The new runtime's status (its inject ran again), no longer greyed.
    expect(status).not_to_have_text(before)
    expect(status).to_have_text(re.compile(r"^up \d+$"))
    assert not greyed(editor)
    editor.deploy()
    saved = {n["id"]: n for n in servers[1].flows()}["f1"]
    assert (saved["x"], saved["y"]) != (320, 100)
    context.close()
    assert not errors, errors
