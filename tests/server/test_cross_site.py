"""Host, Origin and JSON-only bodies against a real ``flowrt run`` without adminAuth
(issue 11, finding 2). The browser's view of the same attack: tests/browser/test_cross_site.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.server.conftest import FlowrtProcess

FLOWS = [{"id": "t1", "type": "tab", "label": "Flow 1"},
         {"id": "in1", "type": "inject", "z": "t1", "wires": [], "props": [{"p": "payload"}]}]
EVIL = "http://evil.example"


@pytest.fixture
async def client(flowrt: FlowrtProcess) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(flowrt.url, timeout=aiohttp.ClientTimeout(total=20)) as s:
        async with s.post("/flows", json=FLOWS) as r:
            assert r.status == 204
        yield s


async def error(response: aiohttp.ClientResponse) -> tuple[int, str, str]:
    body = await response.json()
    assert set(body) == {"error", "code", "message", "details"}, body
    return response.status, body["code"], body["message"]


@pytest.mark.parametrize(("path", "content_type"), [
    ("/flows", "text/plain"),
    ("/flows", "application/x-www-form-urlencoded"),
    ("/flow/t1", "text/plain"),
    ("/inject/in1", "application/x-www-form-urlencoded"),
    ("/inject/in1", None),
    ("/debug/d1/disable", "multipart/form-data; boundary=x"),
    ("/auth/revoke", "text/plain"),
])
async def test_state_changing_routes_take_only_json(client: aiohttp.ClientSession, path: str,
                                                    content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    method = "PUT" if path.startswith("/flow/") else "POST"
    body = b"[]" if content_type else None
    async with client.request(method, path, data=body, headers=headers,
                              skip_auto_headers=["Content-Type"]) as r:
        status, code, message = await error(r)
    assert (status, code) == (415, "unsupported_media_type")
    assert f"{method} {path} needs 'Content-Type: application/json'" in message
    async with client.get("/flows") as r:
        assert await r.json() == FLOWS


async def test_foreign_origins_cannot_change_anything(client: aiohttp.ClientSession,
                                                      flowrt: FlowrtProcess) -> None:
    for origin in (EVIL, f"http://127.0.0.1:{flowrt.port + 1}", "null",
                   f"https://localhost.evil.example:{flowrt.port}"):
        async with client.post("/flows", json=[], headers={"Origin": origin}) as r:
            status, code, message = await error(r)
        assert (status, code) == (403, "forbidden_origin"), origin
        assert "httpAdminOrigins" in message
    async with client.post("/inject/in1", json={}, headers={"Origin": EVIL}) as r:
        assert r.status == 403
    async with client.get("/flows") as r:
        assert await r.json() == FLOWS
    async with client.get("/flows", headers={"Origin": EVIL}) as r:
        assert r.status == 200  # reads are kept from the page by CORS, not refused
    async with client.post("/flows", json=FLOWS, headers={"Origin": flowrt.url}) as r:
        assert r.status == 204  # the editor's own origin
    async with client.post("/inject/in1", json={}) as r:
        assert r.status == 200  # no Origin: curl and scripts


async def test_comms_refuses_a_foreign_origin(client: aiohttp.ClientSession,
                                              flowrt: FlowrtProcess) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/comms", origin=EVIL)
    assert refused.value.status == 403
    async with client.ws_connect("/comms", origin=flowrt.url) as ws:
        await ws.send_json({"subscribe": "notification/runtime-state"})
        assert (await ws.receive_json(timeout=10))[0]["data"]["state"] == "start"


async def test_a_host_that_is_not_this_server_is_refused(client: aiohttp.ClientSession,
                                                         flowrt: FlowrtProcess) -> None:
    # DNS rebinding: the attacker's name resolves to this server, its page is same-origin.
    rebound = f"rebind.evil.example:{flowrt.port}"
    async with client.get("/flows", headers={"Host": rebound}) as r:
        status, code, message = await error(r)
    assert (status, code) == (403, "forbidden_host")
    assert "httpAdminHosts" in message
    async with client.post("/flows", json=[], headers={
            "Host": rebound, "Origin": f"http://{rebound}"}) as r:
        assert r.status == 403
    for host in (f"localhost:{flowrt.port}", f"127.0.0.1:{flowrt.port}", "[::1]",
                 "10.1.2.3:80", "app.localhost"):
        async with client.get("/flows", headers={"Host": host}) as r:
            assert r.status == 200, host


async def test_settings_allow_other_origins_and_host_names(
        flowrt_factory: type[FlowrtProcess]) -> None:
    flowrt = flowrt_factory(env={"FLOWRT_HTTP_ADMIN_ORIGINS": "https://tools.example",
                                 "FLOWRT_HTTP_ADMIN_HOSTS": "flowrt.example"}).start()
    async with aiohttp.ClientSession(flowrt.url) as client:
        async with client.post("/flows", json=[], headers={
                "Origin": "https://tools.example", "Host": "flowrt.example"}) as r:
            assert r.status == 204
        async with client.post("/flows", json=[], headers={"Origin": EVIL}) as r:
            assert r.status == 403
        # Behind a TLS proxy that keeps the Host header, the editor's origin is https.
        async with client.post("/flows", json=[], headers={
                "Origin": "https://flowrt.example", "Host": "flowrt.example"}) as r:
            assert r.status == 204


def test_an_allowed_origin_that_is_not_an_origin_stops_the_start(
        flowrt_factory: type[FlowrtProcess]) -> None:
    code, stderr = flowrt_factory(env={"FLOWRT_HTTP_ADMIN_ORIGINS": "tools.example"}
                                  ).run_to_exit()
    assert code == 1
    assert "allowed origin 'tools.example'" in stderr and "https://host" in stderr
