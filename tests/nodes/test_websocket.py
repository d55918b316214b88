"""websocket-listener, websocket-client, websocket in/out over real sockets.

Node-RED's 22-websocket_spec.js scenarios, ported: the listener is served through
the runtime's flow routes (``flowrt.server.flow_routes``) by a real aiohttp server
and reached by a real aiohttp websocket client; the client node connects to a
websocket server started here. Timers (the client's reconnect delay) run on the
harness's fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from flowrt import websockets
from flowrt.server.app import build_context, create_app
from flowrt.server.flow_routes import flow_routes_middleware
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings
from flowrt.testing import FlowHarness
from tests.nodes.test_mqtt_tls import make_pki
from tests.server.conftest import FlowrtProcess, flowrt_factory, free_port

__all__ = ["flowrt_factory"]  # the fixture, imported for the process test

TAB = "t1"
WAIT = 5.0


def node(node_id: str, node_type: str, wires: list[list[str]] | None = None,
         **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "z": TAB, "wires": wires or [], **config}


def listener(node_id: str = "l1", path: str = "/ws", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "websocket-listener", "path": path, **config}


def client_config(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "websocket-client", "path": url, **config}


def flow(*nodes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": TAB, "type": "tab"}, *nodes]


class Served:
    """A harness whose flow routes a real HTTP server serves."""

    def __init__(self, harness: FlowHarness, server: TestServer,
                 session: aiohttp.ClientSession) -> None:
        self.h = harness
        self.server = server
        self.session = session

    def url(self, path: str) -> str:
        return str(self.server.make_url(path)).replace("http://", "ws://")

    async def connect(self, path: str = "/ws", **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
        return await asyncio.wait_for(self.session.ws_connect(self.url(path), **kwargs), WAIT)


@contextlib.asynccontextmanager
async def serving(flows: list[dict[str, Any]], **harness: Any) -> AsyncIterator[Served]:
    state = SimpleNamespace(runtime=None, settings=None)
    app = web.Application(middlewares=[flow_routes_middleware])
    app[CONTEXT] = state  # type: ignore[misc]  # the middleware reads .runtime, .settings
    # The harness stops first: the listeners close their connections themselves.
    async with TestServer(app) as server, aiohttp.ClientSession() as session, \
            FlowHarness(flows, **harness) as h:
        state.runtime, state.settings = h.runtime, h.runtime.settings
        yield Served(h, server, session)


async def receive(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    return await asyncio.wait_for(ws.receive(), WAIT)


async def until(h: FlowHarness, predicate: Any) -> None:
    await h.wait_for(predicate, WAIT)
    await h.settle()


def server_of(h: FlowHarness, node_id: str = "l1") -> websockets.WebSocketServer:
    server = h.node(node_id).server  # type: ignore[attr-defined]
    assert server is not None
    return server


# ------------------------------------------------------------------ listener


async def test_listener_properties_as_node_red() -> None:
    flows = flow(listener("n1"), listener("n2", "/ws2", wholemsg="true"))
    async with FlowHarness(flows) as h:
        n1, n2 = h.node("n1"), h.node("n2")
        assert n1.path == "/ws" and n1.is_server  # type: ignore[attr-defined]
        assert n1.wholemsg is False and n2.wholemsg is True  # type: ignore[attr-defined]


async def test_listener_receives_text_and_binary_with_the_session() -> None:
    flows = flow(listener(), node("in", "websocket in", [[]], server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await ws.send_str("hello")
        await ws.send_bytes(b"\x00\xff")
        await until(s.h, lambda: len(s.h.outputs("in")) == 2)
        text, binary = s.h.outputs("in")
        assert text["payload"] == "hello" and binary["payload"] == b"\x00\xff"
        session = text["_session"]
        assert session["type"] == "websocket" and len(session["id"]) == 16
        assert binary["_session"] == session
        await ws.close()


@pytest.mark.parametrize(("frame", "expected"), [
    ('{"text":"hello"}', {"text": "hello"}),
    ("hello", {"payload": "hello"}),  # not JSON
    ("123", {"payload": 123}),  # JSON, not an object
    ("[1,2]", {"payload": [1, 2]}),
])
async def test_listener_receives_whole_messages(frame: str, expected: dict[str, Any]) -> None:
    flows = flow(listener(wholemsg="true"), node("in", "websocket in", [[]], server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await ws.send_str(frame)
        await until(s.h, lambda: len(s.h.outputs("in")) == 1)
        msg = dict(s.h.outputs("in")[0])
        msg.pop("_msgid")
        assert msg.pop("_session")["type"] == "websocket"
        assert msg == expected
        await ws.close()


@pytest.mark.parametrize(("payload", "frame"), [
    ("hello", "hello"),
    ({"a": 1}, '{"a":1}'),
    (12.5, "12.5"),
    (False, "false"),
    (None, "null"),
    (b"hello", b"hello"),
])
async def test_listener_sends_payloads_as_node_red(payload: Any, frame: str | bytes) -> None:
    flows = flow(listener(), node("out", "websocket out", server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await until(s.h, lambda: server_of(s.h).connections)
        await s.h.inject("out", payload=payload)
        msg = await receive(ws)
        assert msg.type is (WSMsgType.BINARY if isinstance(frame, bytes) else WSMsgType.TEXT)
        assert msg.data == frame
        await ws.close()


async def test_listener_sends_nothing_without_a_payload() -> None:
    flows = flow(listener(), node("out", "websocket out", server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await until(s.h, lambda: server_of(s.h).connections)
        await s.h.inject("out", {"topic": "hello"})
        await s.h.inject("out", payload="")
        await s.h.inject("out", payload="marker")
        assert (await receive(ws)).data == "marker"  # the first frame that came
        assert s.h.errors == [] and s.h.warnings == []
        await ws.close()


async def test_listener_sends_whole_messages_without_the_session() -> None:
    flows = flow(listener(wholemsg="true"), node("out", "websocket out", server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await until(s.h, lambda: server_of(s.h).connections)
        await s.h.inject("out", {"text": "hello", "data": b"\x01"})
        sent = json.loads((await receive(ws)).data)
        assert sent["text"] == "hello" and "_msgid" in sent and "_session" not in sent
        assert sent["data"] == {"type": "Buffer", "data": [1]}
        await ws.close()


async def test_echo_and_echo_wholemsg() -> None:
    flows = flow(listener(), node("in", "websocket in", [["out"]], server="l1"),
                 node("out", "websocket out", server="l1"),
                 listener("l2", "/whole", wholemsg="true"),
                 node("in2", "websocket in", [["out2"]], server="l2"),
                 node("out2", "websocket out", server="l2"))
    async with serving(flows) as s:
        ws = await s.connect()
        await ws.send_str("hello")
        assert (await receive(ws)).data == "hello"
        whole = await s.connect("/whole")
        await whole.send_str('{"text":"hello"}')
        echoed = json.loads((await receive(whole)).data)
        assert echoed["text"] == "hello" and "_session" not in echoed
        await ws.close()
        await whole.close()


async def test_replies_go_to_the_session_and_the_rest_is_broadcast() -> None:
    flows = flow(listener(), node("in", "websocket in", [["out"]], server="l1"),
                 node("out", "websocket out", server="l1"))
    async with serving(flows) as s:
        a, b = await s.connect(), await s.connect()
        await until(s.h, lambda: len(server_of(s.h).connections) == 2)
        await b.send_str("from b")
        assert (await receive(b)).data == "from b"
        await s.h.inject("out", payload="to all")
        assert (await receive(a)).data == "to all"  # a got nothing before it
        assert (await receive(b)).data == "to all"
        # A session that has gone: nothing is sent, and nothing fails.
        await s.h.inject("out", payload="x", _session={"type": "websocket", "id": "gone"})
        assert s.h.errors == []
        await a.close()
        await b.close()


async def test_several_in_and_out_nodes_share_one_listener() -> None:
    flows = flow(listener(), node("in1", "websocket in", [[]], server="l1"),
                 node("in2", "websocket in", [[]], server="l1"),
                 node("out1", "websocket out", server="l1"),
                 node("out2", "websocket out", server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await ws.send_str("hello")
        await until(s.h, lambda: s.h.outputs("in1") and s.h.outputs("in2"))
        assert s.h.payloads("in1") == s.h.payloads("in2") == ["hello"]
        assert s.h.outputs("in1")[0] is not s.h.outputs("in2")[0]  # each its own copy
        await s.h.inject("out1", payload="one")
        await s.h.inject("out2", payload="two")
        assert [(await receive(ws)).data, (await receive(ws)).data] == ["one", "two"]
        assert [r["owner"] for r in s.h.runtime.endpoints.routes()] == ["l1"]
        await ws.close()


async def test_status_counts_connections() -> None:
    flows = flow(listener(), node("in", "websocket in", [[]], server="l1"),
                 node("out", "websocket out", server="l1"))
    async with serving(flows) as s:
        assert s.h.status("in") == {}
        a = await s.connect()
        await until(s.h, lambda: s.h.status("in").get("text") == "connected 1")
        b = await s.connect()
        await until(s.h, lambda: s.h.status("out").get("text") == "connected 2")
        assert s.h.status("in") == {"fill": "green", "shape": "dot", "text": "connected 2"}
        await a.close()
        await until(s.h, lambda: s.h.status("in").get("text") == "connected 1")
        await b.close()
        await until(s.h, lambda: s.h.status("in") == {
            "fill": "red", "shape": "ring", "text": "node-red:common.status.disconnected"})


async def test_redeploy_closes_connections_and_the_route() -> None:
    flows = flow(listener(), node("in", "websocket in", [[]], server="l1"))
    async with serving(flows) as s:
        ws = await s.connect()
        await until(s.h, lambda: server_of(s.h).connections)
        handlers = set(server_of(s.h)._handlers)
        await s.h.deploy(flow())
        closed = await receive(ws)
        assert closed.type is WSMsgType.CLOSE and closed.data == aiohttp.WSCloseCode.GOING_AWAY
        assert all(task.done() for task in handlers)
        assert s.h.runtime.endpoints.routes() == []
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.connect()
        assert refused.value.status == 404
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_two_listeners_on_one_path_is_an_error() -> None:
    flows = flow(listener("l1"), listener("l2"))
    async with serving(flows, settings={"strictDeploy": False}) as s:
        assert [e["msg"] for e in s.h.errors] == [
            "Cannot have two WebSocket listeners on the same path: /ws"]
        assert len(s.h.runtime.endpoints.routes()) == 1


async def test_a_plain_get_is_told_to_upgrade() -> None:
    async with serving(flow(listener())) as s, \
            s.session.get(s.server.make_url("/ws")) as response:
        assert response.status == 426
        assert "websocket endpoint" in await response.text()


async def test_listener_path_under_http_node_root() -> None:
    flows = flow(listener(path="ws"), node("in", "websocket in", [[]], server="l1"))
    async with serving(flows, settings={"httpNodeRoot": "/api"}) as s:
        ws = await s.connect("/api/ws")
        await ws.send_str("x")
        await until(s.h, lambda: s.h.payloads("in") == ["x"])
        await ws.close()


async def test_the_client_s_first_subprotocol_is_accepted() -> None:
    async with serving(flow(listener())) as s:
        ws = await s.connect(protocols=("testprotocol", "other"))
        assert ws.protocol == "testprotocol"
        await ws.close()


async def test_a_client_that_reads_too_slowly_is_closed(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(websockets, "MAX_QUEUED_BYTES", 256 * 1024)
    flows = flow(listener(), node("out", "websocket out", server="l1"))
    async with serving(flows) as s, contextlib.AsyncExitStack() as stack:
        # A raw client that completes the handshake and then never reads.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", s.server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        stack.callback(writer.close)
        writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 101")
        await until(s.h, lambda: server_of(s.h).connections)
        connection = next(iter(server_of(s.h).connections.values()))
        frame = b"x" * 65536
        for _ in range(2000):  # at most 128 MiB: the kernel's buffers fill long before
            if not connection.open:
                break
            await s.h.inject("out", payload=frame)
        assert not connection.open
        assert any("reads too slowly" in w["msg"] for w in s.h.warnings)
        await until(s.h, lambda: not server_of(s.h).connections)
        assert connection.queued_bytes == 0


async def test_reading_pauses_while_the_run_queue_is_full() -> None:
    flows = flow(listener(), node("in", "websocket in", [[]], server="l1"))
    async with serving(flows, settings={"maxPendingMessages": 4}) as s:
        ws = await s.connect()
        for number in range(100):
            await ws.send_str(str(number))
        await until(s.h, lambda: len(s.h.outputs("in")) == 100)
        assert s.h.payloads("in") == [str(n) for n in range(100)]
        assert s.h.runtime.dispatcher.dropped == 0
        await ws.close()


async def test_missing_configuration_is_reported() -> None:
    flows = flow(node("n1", "websocket in", [[]], mode="server"),
                 node("n2", "websocket out", mode="server"))
    async with FlowHarness(flows) as h:
        assert [(e["id"], e["msg"]) for e in h.errors] == [
            ("n1", "Missing server configuration"), ("n2", "Missing server configuration")]
        await h.inject("n2", payload="x")
        assert h.errors[-1]["msg"] == "Missing server configuration"


@pytest.mark.parametrize(("config", "problem"), [
    (listener(path=""), "path is empty"),
    (listener(path="ws://host/ws"), "is a URL"),
    (client_config("c1", "/ws"), "not a websocket URL"),
])
async def test_bad_configuration_is_refused(config: dict[str, Any], problem: str) -> None:
    async with FlowHarness(flow(), settings={"strictDeploy": False}) as h:
        await h.deploy(flow(config))
        failed = h.runtime.failed_nodes()
        assert len(failed) == 1 and problem in failed[0]["error"]


# --------------------------------------------------------------- full server


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    app = create_app(build_context(Settings(), tmp_path / "data"))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_echo_through_the_real_flowrt_server(app_client: TestClient) -> None:
    runtime = app_client.app[CONTEXT].runtime
    await runtime.deploy(flow(listener(), node("in", "websocket in", [["out"]], server="l1"),
                              node("out", "websocket out", server="l1")), "full", None)
    ws = await asyncio.wait_for(app_client.ws_connect("/ws"), WAIT)
    await ws.send_str("hello")
    assert (await receive(ws)).data == "hello"
    await ws.send_bytes(b"\x01\x02")
    echoed = await receive(ws)
    assert echoed.type is WSMsgType.BINARY and echoed.data == b"\x01\x02"
    # The admin API stays the admin API.
    assert (await app_client.get("/flows")).status == 200
    await ws.close()


async def test_close_connections_before_the_http_server_stops(app_client: TestClient
                                                             ) -> None:
    runtime = app_client.app[CONTEXT].runtime
    await runtime.deploy(flow(listener(), node("in", "websocket in", [[]], server="l1")),
                         "full", None)
    ws = await asyncio.wait_for(app_client.ws_connect("/ws"), WAIT)
    await runtime.endpoints.server_stopping()
    closed = await receive(ws)
    assert closed.type is WSMsgType.CLOSE and closed.data == aiohttp.WSCloseCode.GOING_AWAY
    await runtime.deploy(flow(), "full", None)  # the listener closes after it: harmless


async def test_sigterm_with_a_client_connected_stops_gracefully(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text("shutdownTimeout = 3\n")
    (data / "flows.json").write_text(json.dumps(flow(
        listener(), node("in", "websocket in", [["out"]], server="l1"),
        node("out", "websocket out", server="l1"))))
    process = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession() as session:
        ws = await asyncio.wait_for(
            session.ws_connect(process.url.replace("http", "ws") + "/ws"), WAIT)
        await ws.send_str("hello")
        assert (await receive(ws)).data == "hello"
        code = await asyncio.to_thread(process.stop)
        assert "graceful stop did not finish" not in process.stderr()
        assert code == 0


# -------------------------------------------------------------------- client


class EchoServer:
    """A websocket server for the client node: records, echoes, can restart."""

    def __init__(self, *, echo: bool = True, autoping: bool = True,
                 protocols: tuple[str, ...] = ()) -> None:
        self.echo = echo
        self.autoping = autoping
        self.protocols = protocols
        self.port = free_port()
        self.received: list[str | bytes] = []
        self.pings = 0
        self.sockets: list[web.WebSocketResponse] = []
        self.headers: list[dict[str, str]] = []
        self.changed = asyncio.Event()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> EchoServer:
        app = web.Application()
        app.router.add_get("/ws", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True,
                          ssl_context=ssl_context).start()
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=self.autoping, protocols=self.protocols)
        await ws.prepare(request)
        self.sockets.append(ws)
        self.headers.append(dict(request.headers))
        self.changed.set()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    self.pings += 1
                elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.received.append(msg.data)
                    if self.echo:
                        await (ws.send_str(msg.data) if msg.type is WSMsgType.TEXT
                               else ws.send_bytes(msg.data))
                self.changed.set()
        finally:
            self.sockets.remove(ws)
            self.changed.set()
        return ws

    async def until(self, predicate: Any) -> None:
        async with asyncio.timeout(WAIT):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def echo_server() -> AsyncIterator[EchoServer]:
    server = await EchoServer().start()
    yield server
    await server.stop()


def connected_client(h: FlowHarness, node_id: str = "c1") -> bool:
    return bool(h.node(node_id).connected)  # type: ignore[attr-defined]


async def test_client_properties_as_node_red() -> None:
    flows = flow(client_config("n1", "ws://127.0.0.1:1/ws"),
                 client_config("n2", "ws://127.0.0.1:1/ws", wholemsg="true",
                               subprotocol="testprotocol1, testprotocol2"))
    async with FlowHarness(flows) as h:
        n1, n2 = h.node("n1"), h.node("n2")
        assert n1.path == "ws://127.0.0.1:1/ws" and not n1.is_server  # type: ignore[attr-defined]
        assert n1.wholemsg is False and n2.wholemsg is True  # type: ignore[attr-defined]
        assert n1.subprotocol == []  # type: ignore[attr-defined]
        assert n2.subprotocol == ["testprotocol1", "testprotocol2"]  # type: ignore[attr-defined]


async def test_client_echo_text_and_binary(echo_server: EchoServer) -> None:
    flows = flow(client_config("c1", echo_server.url),
                 node("out", "websocket out", client="c1"),
                 node("in", "websocket in", [[]], client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: connected_client(h))
        assert h.status("in") == {"fill": "green", "shape": "dot", "text": "connected"}
        await h.inject("out", payload="hello")
        await h.inject("out", payload=b"hello")
        await until(h, lambda: len(h.outputs("in")) == 2)
        assert h.payloads("in") == ["hello", b"hello"]
        assert echo_server.received == ["hello", b"hello"]
        assert h.outputs("in")[0]["_session"]["type"] == "websocket"


async def test_client_whole_messages(echo_server: EchoServer) -> None:
    flows = flow(client_config("c1", echo_server.url, wholemsg="true"),
                 node("out", "websocket out", client="c1"),
                 node("in", "websocket in", [[]], client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: connected_client(h))
        await h.inject("out", {"text": "hello"})
        await echo_server.until(lambda: echo_server.received)
        assert json.loads(echo_server.received[0])["text"] == "hello"
        await until(h, lambda: h.outputs("in"))
        assert h.outputs("in")[0]["text"] == "hello"
        await echo_server.sockets[0].send_str("hello")  # not JSON: the payload
        await until(h, lambda: len(h.outputs("in")) == 2)
        assert h.payloads("in")[1] == "hello"


async def test_client_replies_with_a_session_are_not_sent(echo_server: EchoServer) -> None:
    flows = flow(client_config("c1", echo_server.url),
                 node("out", "websocket out", client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: connected_client(h))
        await h.inject("out", payload="dropped", _session={"type": "websocket", "id": "x"})
        await h.inject("out", payload="sent")
        await echo_server.until(lambda: echo_server.received)
        assert echo_server.received == ["sent"]


async def test_client_subprotocol_and_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_TOKEN", "Bearer abc")
    server = await EchoServer(protocols=("testprotocol",)).start()
    headers = [{"keyType": "Authorization", "keyValue": "", "valueType": "env",
                "valueValue": "WS_TOKEN"},
               {"keyType": "other", "keyValue": "X-Site", "valueType": "other",
                "valueValue": "north"}]
    flows = flow(client_config("c1", server.url, subprotocol="testprotocol",
                               headers=headers),
                 node("out", "websocket out", client="c1"))
    try:
        async with FlowHarness(flows) as h:
            await until(h, lambda: connected_client(h))
            assert server.sockets[0].ws_protocol == "testprotocol"
            assert server.headers[0]["Authorization"] == "Bearer abc"
            assert server.headers[0]["X-Site"] == "north"
    finally:
        await server.stop()


async def test_client_closes_on_delete(echo_server: EchoServer) -> None:
    flows = flow(client_config("c1", echo_server.url),
                 node("out", "websocket out", client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: connected_client(h))
        await h.deploy(flow())
        await echo_server.until(lambda: not echo_server.sockets)
        await h.advance(10)  # no reconnect after close
        assert echo_server.sockets == []


async def test_client_reconnects_after_the_server_restarts(echo_server: EchoServer) -> None:
    flows = flow(client_config("c1", echo_server.url),
                 node("in", "websocket in", [[]], client="c1"),
                 node("out", "websocket out", client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: connected_client(h))
        await echo_server.stop()
        await until(h, lambda: h.status("in").get("text") ==
                    "node-red:common.status.disconnected")
        await h.inject("out", payload="lost")
        await h.inject("out", payload="lost too")
        assert [w["msg"] for w in h.warnings] == [
            f"An error occurred while sending: not connected to {echo_server.url} "
            "(messages are dropped until the connection is made again)"]
        await h.advance(3)  # an attempt while the server is down fails
        await until(h, lambda: h.node("c1").client.attempts == 2)  # type: ignore[attr-defined]
        assert not connected_client(h)
        await echo_server.start()
        await h.advance(3)
        await until(h, lambda: connected_client(h))
        assert h.status("in").get("text") == "connected"
        await h.inject("out", payload="back")
        await until(h, lambda: h.payloads("in") == ["back"])
    # Nothing left running: the client's task, its connection's writer, its session.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_client_heartbeat_pings_and_a_silent_server_is_left(tmp_path: Path) -> None:
    server = await EchoServer(autoping=False).start()  # receives pings, never answers
    flows = flow(client_config("c1", server.url, hb="1"),
                 node("in", "websocket in", [[]], client="c1"))
    try:
        async with FlowHarness(flows) as h:
            await until(h, lambda: connected_client(h))
            await server.until(lambda: server.pings >= 1)
            # No pong: the client gives the connection up and reports the timeout.
            await until(h, lambda: not connected_client(h))
            await server.until(lambda: not server.sockets)
            await h.advance(3)
            await until(h, lambda: connected_client(h))
    finally:
        await server.stop()


async def test_client_wss_with_mutual_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.path("ca.pem"))
    context.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    server = EchoServer()
    await server.start(context)
    wss = server.url.replace("ws://", "wss://")
    tls = {"id": "tls", "type": "tls-config", "ca": pki.path("ca.pem"),
           "cert": pki.path("client.pem"), "key": pki.path("client.key")}
    other = {"id": "other", "type": "tls-config", "ca": pki.path("other-ca.pem")}
    flows = flow(tls, other, client_config("c1", wss, tls="tls"),
                 client_config("c2", wss, tls="other"),
                 node("out", "websocket out", client="c1"),
                 node("in", "websocket in", [[]], client="c1"),
                 node("in2", "websocket in", [[]], client="c2"))
    try:
        async with FlowHarness(flows) as h:
            await until(h, lambda: connected_client(h))
            await h.inject("out", payload="secret")
            await until(h, lambda: h.payloads("in") == ["secret"])
            # A server certificate from a CA the node does not trust: never connected.
            await until(h, lambda: h.node("c2").client.attempts >= 1  # type: ignore[attr-defined]
                        and h.status("in2").get("text") ==
                        "node-red:common.status.disconnected")
            assert not connected_client(h, "c2")
    finally:
        await server.stop()


async def test_client_to_an_absent_server_shows_disconnected() -> None:
    flows = flow(client_config("c1", f"ws://127.0.0.1:{free_port()}/ws"),
                 node("in", "websocket in", [[]], client="c1"))
    async with FlowHarness(flows) as h:
        await until(h, lambda: h.node("c1").client.attempts == 1  # type: ignore[attr-defined]
                    and h.status("in").get("text") == "node-red:common.status.disconnected")


# ------------------------------------------------------- listener and client


async def test_echo_between_a_listener_and_a_client_in_one_flow() -> None:
    flows = flow(listener(), node("echo-in", "websocket in", [["echo-out"]], server="l1"),
                 node("echo-out", "websocket out", server="l1"))
    async with serving(flows) as s:
        url = s.url("/ws")
        await s.h.deploy(flow(*s.h.flows[1:], client_config("c1", url),
                              node("out", "websocket out", client="c1"),
                              node("in", "websocket in", [[]], client="c1")))
        await until(s.h, lambda: connected_client(s.h))
        await until(s.h, lambda: s.h.status("echo-in").get("text") == "connected 1")
        await s.h.inject("out", payload="ping")
        await until(s.h, lambda: s.h.payloads("in") == ["ping"])
        assert s.h.payloads("echo-in") == ["ping"]


async def test_a_client_message_is_not_fed_back_more_than_once() -> None:
    # Node-RED's "should NOT feedback more than once": the client's session id means
    # nothing to the listener, so the reply goes nowhere.
    async with serving(flow()) as s:
        url = s.url("/ws")
        await s.h.deploy(flow(
            listener("server", wholemsg="true"),
            client_config("client", url, wholemsg="true"),
            node("n1", "websocket in", [["n2"]], client="client"),
            node("n2", "websocket out", server="server"),
            node("n3", "websocket out", server="server")))
        await until(s.h, lambda: connected_client(s.h, "client"))
        await until(s.h, lambda: server_of(s.h, "server").connections)
        await s.h.inject("n3", payload="ping")
        await until(s.h, lambda: s.h.outputs("n1"))
        for _ in range(20):
            await asyncio.sleep(0)
            await s.h.settle()
        assert s.h.payloads("n1") == ["ping"]
