"""``/context`` against a real ``flowrt run``: a function node fills node, flow and global
context in a memory store and a persistent (SQLite) one; the routes answer Node-RED's
shapes, delete keys (a persistent deletion survives a restart), and follow the admin
API's rules (tokens and permissions, same origin, one error shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flowrt.server.auth import hash_password
from tests.server.conftest import FlowrtProcess
from tests.server.test_auth_api import bearer, login
from tests.server.test_runtime_api import Comms

SETTINGS = """
[contextStorage.default]
module = "memory"
[contextStorage.file]
module = "sqlite"
[contextStorage.file.config]
flushInterval = 3600
"""
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
FUNC = ("flow.set('count', 5); flow.set('obj', {a: 1, b: [1, 2]}); global.set('g', 'hello');"
        "context.set('n', [1, 2, 3]); flow.set('kept', 'on disk', 'file');"
        "flow.set('gone', 7, 'file'); return msg;")
FLOWS = [TAB,
         {"id": "in1", "type": "inject", "z": "t1", "x": 1, "y": 1, "wires": [["f1"]],
          "props": [{"p": "payload"}], "payload": "", "payloadType": "date"},
         {"id": "f1", "type": "function", "z": "t1", "x": 2, "y": 1, "wires": [["d1"]],
          "func": FUNC, "outputs": 1},
         {"id": "d1", "type": "debug", "z": "t1", "x": 3, "y": 1, "wires": [], "active": True}]


def data_dir(tmp_path: Path, extra: str = "") -> Path:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.toml").write_text(SETTINGS + extra)
    return data


async def filled(client: aiohttp.ClientSession, headers: dict[str, str] | None = None) -> None:
    """Deploy the flow, press its inject and wait for the debug message the function's
    output makes (by then the function has set its context)."""
    async with client.post("/flows", json=FLOWS, headers=headers) as r:
        assert r.status in (200, 204), await r.text()
    async with client.ws_connect("/comms") as ws:
        comms = Comms(ws)
        if headers:
            await comms.send({"auth": headers["Authorization"].partition(" ")[2]})
            assert await ws.receive_json() == {"auth": "ok"}
        await comms.send({"subscribe": "debug"})
        async with client.post("/inject/in1", json={}, headers=headers) as r:
            assert r.status == 200
        assert (await comms.next_event("debug"))["id"] == "d1"


async def get(client: aiohttp.ClientSession, path: str,
              headers: dict[str, str] | None = None) -> Any:
    async with client.get(path, headers=headers) as r:
        assert r.status == 200, (path, await r.text())
        return await r.json()


@pytest.fixture
def server(flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> FlowrtProcess:
    return flowrt_factory(data_dir=data_dir(tmp_path)).start()


async def test_scopes_list_every_store_with_values_encoded_as_the_debug_sidebar(
        server: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(server.url) as client:
        await filled(client)
        assert await get(client, "/context/flow/t1") == {
            "default": {"count": {"msg": "5", "format": "number"},
                        "obj": {"msg": '{"a":1,"b":[1,2]}', "format": "Object"}},
            "file": {"kept": {"msg": "on disk", "format": "string[7]"},
                     "gone": {"msg": "7", "format": "number"}}}
        assert await get(client, "/context/global") == {
            "default": {"g": {"msg": "hello", "format": "string[5]"}}, "file": {}}
        assert await get(client, "/context/node/f1") == {
            "default": {"n": {"msg": "[1,2,3]", "format": "array[3]"}}, "file": {}}
        assert await get(client, "/context/flow/t1?store=file") == {
            "file": {"kept": {"msg": "on disk", "format": "string[7]"},
                     "gone": {"msg": "7", "format": "number"}}}
        # A node that does not run has no context; a flow never written has empty stores.
        assert await get(client, "/context/node/nope") == {}
        assert await get(client, "/context/flow/nope") == {"default": {}, "file": {}}


async def test_one_key_from_the_default_store_or_the_one_asked_for(
        server: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(server.url) as client:
        await filled(client)
        assert await get(client, "/context/flow/t1/count") == {"msg": "5", "format": "number"}
        assert await get(client, "/context/flow/t1/obj.b") == {"msg": "[1,2]",
                                                               "format": "array[2]"}
        assert await get(client, "/context/global/g?store=default") == {
            "msg": "hello", "format": "string[5]"}
        assert await get(client, "/context/flow/t1/kept?store=file") == {
            "msg": "on disk", "format": "string[7]", "store": "file"}
        assert await get(client, "/context/flow/t1/missing") == {
            "msg": "(undefined)", "format": "undefined"}
        async with client.get("/context/flow/t1/count?store=nope") as r:
            assert r.status == 404
            body = await r.json()
        assert body["code"] == body["error"] == "not_found"
        assert "nope" in body["message"] and body["details"] == []
        async with client.get("/context/flow/t1/a..b") as r:
            assert r.status == 400
            assert (await r.json())["code"] == "invalid_key"


async def test_delete_removes_a_key_and_a_persistent_removal_outlives_a_restart(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    first = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession(first.url) as client:
        await filled(client)
        async with client.delete("/context/flow/t1/count") as r:
            assert r.status == 204
        async with client.delete("/context/flow/t1/gone?store=file") as r:
            assert r.status == 204
        async with client.delete("/context/node/f1/n") as r:
            assert r.status == 204
        async with client.delete("/context/global/g") as r:
            assert r.status == 204
        async with client.delete("/context/node/nope/n") as r:  # nothing to delete
            assert r.status == 204
        assert set((await get(client, "/context/flow/t1"))["default"]) == {"obj"}
        assert set((await get(client, "/context/flow/t1"))["file"]) == {"kept"}
        assert await get(client, "/context/node/f1") == {"default": {}, "file": {}}
        assert await get(client, "/context/global") == {"default": {}, "file": {}}
        async with client.delete("/context/flow/t1/kept?store=nope") as r:
            assert r.status == 404
    assert first.stop() == 0  # a graceful stop flushes the persistent store

    second = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession(second.url) as client:
        assert await get(client, "/context/flow/t1") == {
            "default": {}, "file": {"kept": {"msg": "on disk", "format": "string[7]"}}}


async def test_tokens_permissions_and_same_origin(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = data_dir(tmp_path, f'''
[adminAuth]
[[adminAuth.users]]
username = "admin"
password = "{hash_password('adminpw')}"
permissions = "*"
[[adminAuth.users]]
username = "viewer"
password = "{hash_password('viewerpw')}"
permissions = "read"
''')
    server = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession(server.url) as client:
        async with client.get("/context/global") as r:
            assert r.status == 401
            assert (await r.json())["code"] == "unauthorized"
        admin = bearer(await login(client, "admin", "adminpw"))
        viewer = bearer(await login(client, "viewer", "viewerpw"))
        await filled(client, admin)
        assert (await get(client, "/context/flow/t1/count", viewer))["msg"] == "5"
        async with client.delete("/context/flow/t1/count", headers=viewer) as r:
            assert r.status == 403
            assert "context.write" in (await r.json())["message"]
        async with client.delete("/context/flow/t1/count", headers={
                **admin, "Origin": "http://evil.example"}) as r:
            assert r.status == 403
            assert (await r.json())["code"] == "forbidden_origin"
        assert (await get(client, "/context/flow/t1/count", viewer))["msg"] == "5"
        async with client.delete("/context/flow/t1/count", headers={
                **admin, "Origin": server.url}) as r:
            assert r.status == 204
        assert (await get(client, "/context/flow/t1/count", viewer))["format"] == "undefined"
