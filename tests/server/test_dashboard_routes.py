"""/ui and /ui/ws: who may look and who may click (dashboardAuth, adminAuth,
dashboardReadOnly), what a page receives, and the bounded queue of a page that stops
reading. In-process server on a real socket."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flowrt.server.app import build_context, create_app
from flowrt.server.dashboard_routes import hub_of
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings
from tests.server.test_comms import client_frame, read_frame

# Node-RED's documented example hash of "password" (bcrypt, 8 rounds: quick to check).
PASSWORD_HASH = "$2a$08$zZWtXTja0fB1pzD4sHCMyOCMYz2Z6dNbM6tl8sJogENOMcxWV9DN."
FLOWS = [
    {"id": "t1", "type": "tab", "label": "Flow"},
    {"id": "ut", "type": "ui_tab", "name": "Home"},
    {"id": "ug", "type": "ui_group", "name": "Group", "tab": "ut", "width": "6"},
    {"id": "btn", "type": "ui_button", "z": "t1", "group": "ug", "label": "Go",
     "payload": "pressed", "payloadType": "str", "wires": [["keep"]]},
    {"id": "keep", "type": "change", "z": "t1", "wires": [[]], "rules": [
        {"t": "set", "p": "clicked", "pt": "global", "to": "payload", "tot": "msg"}]},
]

Factory = Callable[..., Any]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Factory]:
    """Start an in-process server with the given settings and FLOWS deployed."""
    clients: list[TestClient] = []

    async def start(**settings: Any) -> TestClient:
        app = create_app(build_context(Settings.from_keys(settings), tmp_path / "data"))
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        await app[CONTEXT].runtime.deploy(FLOWS, "full")
        return client

    yield start
    for client in clients:
        await client.close()


async def first_messages(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    async with asyncio.timeout(10):
        return [orjson.loads((await ws.receive()).data) for _ in range(count)]


def clicked(client: TestClient) -> Any:
    return client.app[CONTEXT].runtime.contexts.global_.get("clicked")


async def click_and_settle(client: TestClient, ws: aiohttp.ClientWebSocketResponse) -> None:
    """Click the button on the page, and wait (bounded) until the flow ran what it sent."""
    await ws.send_json({"type": "event", "id": "btn", "value": None})
    await ws.send_json({"type": "resync"})  # answered after the event was handled
    async with asyncio.timeout(10):
        while orjson.loads((await ws.receive()).data)["type"] != "update":
            pass
        dispatcher = client.app[CONTEXT].runtime.dispatcher
        while True:
            for _ in range(3):
                await asyncio.sleep(0)
            if len(dispatcher) == 0:
                break


async def test_open_dashboard_sends_layout_and_state_and_takes_clicks(serve: Factory) -> None:
    client = await serve()
    page = await client.get("/ui")
    assert page.status == 200
    assert "<title>Dashboard</title>" in await page.text()
    async with client.ws_connect("/ui/ws") as ws:
        await ws.send_json({"auth": None})
        auth, layout, update = await first_messages(ws, 3)
        assert auth == {"type": "auth", "ok": True, "readOnly": False}
        assert layout["pages"][0]["groups"][0]["widgets"][0]["label"] == "Go"
        assert update["widgets"]["btn"]["op"] == "set"
        await click_and_settle(client, ws)
    assert clicked(client) == "pressed"


async def test_dashboard_auth_is_basic_authentication(serve: Factory) -> None:
    client = await serve(dashboardAuth={"user": "viewer", "pass": PASSWORD_HASH})
    assert (await client.get("/ui")).status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ui/ws")
    good = "Basic " + base64.b64encode(b"viewer:password").decode()
    assert (await client.get("/ui", headers={"Authorization": good})).status == 200
    async with client.ws_connect("/ui/ws", headers={"Authorization": good}) as ws:
        [auth] = await first_messages(ws, 1)
        assert auth["ok"] is True


async def test_with_admin_auth_the_page_needs_an_editor_token(serve: Factory) -> None:
    client = await serve(adminAuth={"users": [
        {"username": "admin", "password": PASSWORD_HASH, "permissions": "*"},
        {"username": "watcher", "password": PASSWORD_HASH, "permissions": "read"}]})
    assert (await client.get("/ui")).status == 200  # the page itself holds no data
    async with client.ws_connect("/ui/ws") as ws:
        await ws.send_json({"auth": "not-a-token"})
        [refused] = await first_messages(ws, 1)
        assert refused == {"type": "auth", "ok": False}
    auth = client.app[CONTEXT].auth
    watcher = (await auth.login("watcher", "password"))["access_token"]
    async with client.ws_connect("/ui/ws") as ws:
        await ws.send_json({"auth": watcher})
        [answer] = await first_messages(ws, 1)
        assert answer == {"type": "auth", "ok": True, "readOnly": True}
        await first_messages(ws, 2)
        await click_and_settle(client, ws)
    assert clicked(client) is None  # a reader's click does nothing
    admin = (await auth.login("admin", "password"))["access_token"]
    async with client.ws_connect("/ui/ws") as ws:
        await ws.send_json({"auth": admin})
        [answer, *_] = await first_messages(ws, 3)
        assert answer["readOnly"] is False
        await click_and_settle(client, ws)
    assert clicked(client) == "pressed"


async def test_read_only_dashboard_ignores_clicks(serve: Factory) -> None:
    client = await serve(dashboardReadOnly=True)
    async with client.ws_connect("/ui/ws") as ws:
        await ws.send_json({"auth": None})
        [answer, *_] = await first_messages(ws, 3)
        assert answer["readOnly"] is True
        await click_and_settle(client, ws)
    assert clicked(client) is None


async def test_a_page_that_stops_reading_costs_a_bounded_queue(serve: Factory) -> None:
    budget = 256 * 1024
    client = await serve(dashboardMaxQueueBytes=budget)
    hub = hub_of(client.app[CONTEXT])
    reader, writer = await _stalled_dashboard(client.port)  # type: ignore[arg-type]
    writer.write(client_frame({"auth": None}))
    async with asyncio.timeout(10):
        assert orjson.loads(await read_frame(reader))["type"] == "auth"
        assert orjson.loads(await read_frame(reader))["type"] == "layout"  # connected
    (page,) = hub.clients
    for number in range(400):  # 20 MB of notifications
        hub.toast({"id": "n", "text": "x" * 50_000, "n": number})
        await asyncio.sleep(0)
        assert page.queued_bytes <= budget
    assert page.dropped > 300
    metrics = await (await client.get("/metrics")).text()
    assert "flowrt_dashboard_pages 1" in metrics
    assert f"flowrt_dashboard_updates_dropped_total {page.dropped}" in metrics
    writer.close()


async def _stalled_dashboard(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket to /ui/ws with tiny receive buffers, not read until the test says so."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(b"GET /ui/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer
