"""Process lifecycle (exit codes, warnings) and in-process app behaviour."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import aiohttp.web
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flowrt import credentials
from flowrt.admin_routes import AdminRequest, AdminRoute, AdminRouteError
from flowrt.node import Node
from flowrt.server import comms, editor
from flowrt.server.app import build_context, create_app
from flowrt.server.logs import JsonFormatter
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings
from tests.server.conftest import FlowrtProcess
from tests.server.test_runtime_api import PLUGIN


def test_bad_settings_exit_1_with_one_line_naming_the_key(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text('port = "x"\n')
    code, stderr = flowrt_factory(data_dir=data).run_to_exit()
    assert code == 1
    assert len(stderr.splitlines()) == 1, stderr
    assert "setting 'port'" in stderr and "settings.toml" in stderr


def test_invalid_flow_file_exits_1_naming_the_file(flowrt_factory: type[FlowrtProcess],
                                                   tmp_path: Path) -> None:
    flow_file = tmp_path / "broken.json"
    flow_file.write_text('[{"id": "a", "type": "tab"},')
    code, stderr = flowrt_factory(str(flow_file)).run_to_exit()
    assert code == 1
    assert "broken.json is not valid JSON" in stderr


def test_port_in_use_exits_1(flowrt_factory: type[FlowrtProcess]) -> None:
    process = flowrt_factory()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", process.port))
        sock.listen()
        code, stderr = process.run_to_exit()
    assert code == 1
    # One line, before any flow started (nothing to start and stop again).
    [line] = stderr.splitlines()
    assert f"cannot listen on 127.0.0.1:{process.port}: the port is already in use" in line
    assert not (process.data_dir / "flows.json").exists()


def test_start_prints_the_editor_url_and_warns_about_open_access(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "settings.toml").write_text("fancy = 1\n")
    process = flowrt_factory(host="0.0.0.0").start()
    assert f"editor: http://127.0.0.1:{process.port}/" in process.stdout
    assert process.stop() == 0
    stderr = process.stderr()
    assert "NO ADMIN AUTHENTICATION and listening on 0.0.0.0" in stderr
    assert "unknown setting fancy" in stderr
    assert (tmp_path / "data" / "flows.json").exists()


async def test_sigterm_with_an_open_editor_connection_stops_promptly(
        flowrt: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(flowrt.url) as client, client.ws_connect("/comms") as ws:
        await ws.send_str('{"subscribe": "notification/#"}')
        assert await ws.receive_json(timeout=10)
        started = time.monotonic()
        code = await asyncio.to_thread(flowrt.stop)
        assert (await ws.receive(timeout=10)).type in (aiohttp.WSMsgType.CLOSE,
                                                      aiohttp.WSMsgType.CLOSED)
    assert code == 0
    assert time.monotonic() - started < 5  # not aiohttp's 60 s wait for open handlers


# ------------------------------------------------------------------ in-process
@pytest.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     request: pytest.FixtureRequest) -> AsyncIterator[TestClient]:
    web_dir = tmp_path / "web"
    (web_dir / "templates").mkdir(parents=True)
    (web_dir / "static").mkdir()
    (web_dir / "templates" / "index.html").write_text(
        "<title>flowrt {{ version }}</title><p>{{ settings.httpNodeRoot }}"
        "{{ '<script>' }}</p>")
    (web_dir / "static" / "app.js").write_text("export {};")
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    (flows_dir / "demo.json").write_text('[{"id": "t", "type": "tab"}]')
    (flows_dir / "notes.txt").write_text("not a flow")
    dirs = {"web": web_dir, "flows": flows_dir}
    monkeypatch.setattr(editor, "resource_dir", dirs.__getitem__)
    settings = Settings(**getattr(request, "param", {}))
    data = tmp_path / "data"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "vault.py").write_text(PLUGIN)
    app = create_app(build_context(settings, data))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_editor_page_static_files_and_examples(app_client: TestClient) -> None:
    r = await app_client.get("/")
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    assert "<title>flowrt 0." in page and "<p>/&lt;script&gt;</p>" in page
    r = await app_client.get("/static/app.js")
    assert (r.status, await r.text()) == (200, "export {};")
    r = await app_client.get("/flows-examples")
    assert await r.json() == ["demo.json"]
    r = await app_client.get("/flows-examples/demo.json")
    assert await r.json() == [{"id": "t", "type": "tab"}]
    for name in ("notes.txt", "..%2Fdata%2Fflows.json", "missing.json"):
        r = await app_client.get(f"/flows-examples/{name}")
        assert r.status == 404, name


async def test_cors_is_off_by_default(app_client: TestClient) -> None:
    r = await app_client.get("/flows", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize("app_client", [{"http_admin_cors": "http://ok.example"}],
                         indirect=True)
async def test_cors_when_configured(app_client: TestClient) -> None:
    r = await app_client.options("/flows", headers={"Origin": "http://ok.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "http://ok.example"


@pytest.mark.parametrize("app_client", [{"debug_rate_limit": 5}], indirect=True)
async def test_debug_flood_is_rate_limited_per_connection(app_client: TestClient) -> None:
    hub = app_client.app[CONTEXT].comms
    assert hub is not None
    now = [1000.0]
    hub.clock = lambda: now[0]
    ws = await app_client.ws_connect("/comms")
    await ws.send_str('{"subscribe": "notification/runtime-state"}')
    assert (await ws.receive_json(timeout=5))[0]["data"] == {"state": "start"}
    assert hub.connection_count == 1
    events = hub.events
    for number in range(20):
        events.publish("debug", {"id": "d", "msg": str(number), "format": "number"})
    received: list[dict] = []
    while len(received) < 5:
        received.extend(await ws.receive_json(timeout=5))
    assert [e["data"]["msg"] for e in received] == ["0", "1", "2", "3", "4"]
    now[0] += 1.5
    events.publish("debug", {"id": "d", "msg": "later", "format": "number"})
    frame = await ws.receive_json(timeout=5)
    assert "15 debug messages were not shown" in frame[0]["data"]["msg"]
    assert frame[1]["data"]["msg"] == "later"
    assert hub.debug_dropped == 15
    await ws.close()


def test_topic_matching() -> None:
    assert comms.topic_matches("status/#", "status/abc")
    assert comms.topic_matches("notification/+", "notification/runtime-state")
    assert not comms.topic_matches("notification/+", "notification/node/added")
    assert comms.topic_matches("#", "debug")
    assert not comms.topic_matches("debug", "status/x")



@pytest.mark.parametrize("app_client", [{"web_socket_keep_alive_time": 0.1}], indirect=True)
async def test_heartbeat_when_idle(app_client: TestClient) -> None:
    ws = await app_client.ws_connect("/comms")
    frame = await ws.receive_json(timeout=5)
    assert frame[0]["topic"] == "hb" and isinstance(frame[0]["data"], int)
    await ws.close()


async def test_deploy_with_plain_or_encrypted_credentials(app_client: TestClient) -> None:
    ctx = app_client.app[CONTEXT]
    flows = [{"id": "t1", "type": "tab"}, {"id": "v1", "type": "vault", "z": "t1", "x": 1, "y": 1}]
    v2 = {"Node-RED-API-Version": "v2"}
    r = await app_client.post("/flows", headers=v2, json={
        "flows": flows, "credentials": {"v1": {"user": "bob", "password": "pw"}}})
    assert r.status == 200
    assert ctx.runtime.credentials == {"v1": {"user": "bob", "password": "pw"}}
    secret = credentials.system_secret(ctx.data_dir)
    assert secret is not None
    blob = credentials.encrypt({"v1": {"user": "eve", "password": "x"}}, secret)
    r = await app_client.post("/flows", headers=v2, json={"flows": flows, "credentials": blob})
    assert r.status == 200
    assert ctx.runtime.get_node("v1").creds == {"user": "eve", "password": "x"}
    bad = credentials.encrypt({"v1": {}}, "wrong")
    for given in (bad, {"v1": "not an object"}):
        r = await app_client.post("/flows", headers=v2, json={"flows": flows,
                                                              "credentials": given})
        assert (r.status, (await r.json())["code"]) == (400, "invalid_credentials")


@pytest.mark.parametrize("app_client", [{"nodes_excludes": ["inject"]}], indirect=True)
async def test_excluded_node_types_are_not_loaded(app_client: TestClient) -> None:
    types = {n.get("type") for n in await (await app_client.get("/node-types")).json()}
    assert "inject" not in types and "vault" in types
    sets = await (await app_client.get("/nodes")).json()
    listed = {t for entry in sets for t in entry["types"]}
    assert "inject" not in listed and "vault" in listed


async def test_unexpected_errors_hide_the_traceback(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    async def explode(request: aiohttp.web.Request) -> aiohttp.web.Response:
        raise RuntimeError("secret internals")

    app = create_app(build_context(Settings(), tmp_path))
    app.router.add_get("/explode", explode)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/explode")
        body = await r.json()
    assert r.status == 500
    assert body == {"error": "unexpected_error", "code": "unexpected_error",
                    "message": "internal server error (see the server log)", "details": []}
    assert "secret internals" in caplog.text  # logged for the operator


class Pinged(Node):
    """A node type with its own admin route (the ``admin_routes`` hook)."""

    type = "test-pinged"
    pings: ClassVar[list[Any]] = []

    @staticmethod
    async def ping(request: AdminRequest) -> int:
        node = request.node(request.params["id"])
        if not isinstance(node, Pinged):
            raise AdminRouteError(404, "not_found", "no such node")
        Pinged.pings.append(request.body)
        return 202


Pinged.admin_routes = (AdminRoute("POST", "/ping/{id}", Pinged.ping),)


async def test_node_types_add_admin_routes_through_their_hook(tmp_path: Path) -> None:
    ctx = build_context(Settings(), tmp_path)
    ctx.runtime.registry.register(Pinged, "test", __name__)
    app = create_app(ctx)
    flows = [{"id": "t1", "type": "tab"},
             {"id": "p1", "type": "test-pinged", "z": "t1", "x": 1, "y": 1, "wires": []}]
    async with TestClient(TestServer(app)) as client:
        await ctx.runtime.deploy(flows)
        r = await client.post("/ping/p1", json={"n": 1})
        assert r.status == 202
        r = await client.post("/ping/nope", json={})
        assert (r.status, (await r.json())["code"]) == (404, "not_found")
    assert Pinged.pings == [{"n": 1}]


def test_json_log_lines() -> None:
    record = logging.LogRecord("flowrt.node.inject", logging.WARNING, __file__, 1,
                               "bad %s", ("value",), None)
    record.node_id = "n1"
    entry = orjson.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["message"], entry["node_id"]) == ("warning", "bad value", "n1")
    assert entry["time"].endswith("Z")
