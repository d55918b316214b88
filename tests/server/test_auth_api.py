"""Admin auth end to end: tokens, permissions, revocation and /comms."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from flowrt.server.auth import hash_password
from tests.server.conftest import FlowrtProcess
from tests.server.test_auth import NODE_RED_HASH


@pytest.fixture
def secured(flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> FlowrtProcess:
    return flowrt_factory(data_dir=secured_data_dir(tmp_path)).start()


def secured_data_dir(tmp_path: Path, settings: str = "") -> Path:
    """A data directory whose settings (``settings``, then adminAuth) have an admin
    (``admin`` / ``adminpw``, every permission) and a read-only ``viewer`` (``password``)."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.toml").write_text(settings + f'''
[adminAuth]
[[adminAuth.users]]
username = "admin"
password = "{hash_password('adminpw')}"
permissions = "*"
[[adminAuth.users]]
username = "viewer"
password = "{NODE_RED_HASH}"
permissions = "read"
''')
    return data


async def login(client: aiohttp.ClientSession, username: str, password: str) -> str:
    form = {"client_id": "node-red-editor", "grant_type": "password", "scope": "*",
            "username": username, "password": password}
    async with client.post("/auth/token", data=form) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_routes_need_a_token_with_the_right_permission(secured: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(secured.url) as client:
        for path in ("/flows", "/nodes", "/settings", "/flow/global", "/credentials/x/y"):
            async with client.get(path) as r:
                assert r.status == 401, path
                assert (await r.json())["code"] == "unauthorized"
        async with client.post("/flows", json=[]) as r:
            assert r.status == 401
        for path in ("/healthz", "/flows-examples"):
            async with client.get(path) as r:
                assert r.status == 200, path
        async with client.get("/auth/login") as r:
            assert (await r.json())["type"] == "credentials"
        async with client.post("/auth/token", json={"grant_type": "password",
                                                    "username": "admin", "password": "no"}) as r:
            assert r.status == 403
            assert (await r.json())["code"] == "invalid_grant"

        viewer = await login(client, "viewer", "password")  # a Node-RED bcrypt hash
        async with client.get("/flows", headers=bearer(viewer)) as r:
            assert r.status == 200
        async with client.get("/settings", headers=bearer(viewer)) as r:
            assert (await r.json())["user"] == {"username": "viewer", "permissions": "read"}
        async with client.post("/flows", json=[], headers=bearer(viewer)) as r:
            assert r.status == 403
            assert "flows.write" in (await r.json())["message"]

        admin = await login(client, "admin", "adminpw")
        async with client.post("/flows", json=[], headers=bearer(admin)) as r:
            assert r.status == 204
        async with client.get("/flows", headers={"Authorization": "Bearer forged"}) as r:
            assert r.status == 401
        async with client.post("/auth/revoke", json={"token": admin},
                               headers=bearer(admin)) as r:
            assert r.status == 200
        async with client.get("/flows", headers=bearer(admin)) as r:
            assert r.status == 401


async def test_comms_needs_a_token(secured: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(secured.url) as client:
        token = await login(client, "viewer", "password")
        async with client.ws_connect("/comms") as ws:
            await ws.send_str(orjson.dumps({"subscribe": "notification/#"}).decode())
            assert await ws.receive_json(timeout=10) == {"auth": "fail"}
            assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE
        async with client.ws_connect("/comms") as ws:
            await ws.send_str(orjson.dumps({"auth": token}).decode())
            assert await ws.receive_json(timeout=10) == {"auth": "ok"}
            await ws.send_str(orjson.dumps({"subscribe": "notification/#"}).decode())
            frame = await ws.receive_json(timeout=10)
            assert {"topic": "notification/runtime-state", "data": {"state": "start"}} in frame


async def test_revoked_token_ends_the_comms_session(secured: FlowrtProcess) -> None:
    async with aiohttp.ClientSession(secured.url) as client:
        admin = await login(client, "admin", "adminpw")
        async with client.ws_connect("/comms") as ws:
            await ws.send_str(orjson.dumps({"auth": admin}).decode())
            assert await ws.receive_json(timeout=10) == {"auth": "ok"}
            async with client.post("/auth/revoke", json={}, headers=bearer(admin)) as r:
                assert r.status == 200
            other = await login(client, "admin", "adminpw")
            async with client.post("/flows", json=[], headers=bearer(other)) as r:
                assert r.status == 204  # publishes a deploy notification to every socket
            assert await ws.receive_json(timeout=10) == {"auth": "fail"}


async def test_metrics_need_a_token_unless_opened(secured: FlowrtProcess,
                                                 flowrt_factory: type[FlowrtProcess],
                                                 tmp_path: Path) -> None:
    async with aiohttp.ClientSession(secured.url) as client:
        async with client.get("/metrics") as r:
            assert r.status == 401  # it names every node
        viewer = await login(client, "viewer", "password")
        async with client.get("/metrics", headers=bearer(viewer)) as r:
            assert r.status == 200 and "flowrt_deploys_total" in await r.text()
    opened = flowrt_factory(data_dir=secured_data_dir(tmp_path / "opened"),
                            env={"FLOWRT_METRICS_PUBLIC": "true"}).start()
    async with aiohttp.ClientSession(opened.url) as client, client.get("/metrics") as r:
        assert r.status == 200


async def test_comms_that_never_authenticates_is_closed(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    flowrt = flowrt_factory(data_dir=secured_data_dir(tmp_path),
                            env={"FLOWRT_COMMS_AUTH_TIMEOUT": "1"}).start()
    async with aiohttp.ClientSession(flowrt.url) as client, client.ws_connect("/comms") as ws:
        assert await ws.receive_json(timeout=10) == {"auth": "fail"}
        assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE


async def test_parallel_wrong_passwords_then_the_right_one_is_throttled(
        secured: FlowrtProcess) -> None:
    form = {"grant_type": "password", "username": "admin"}
    async with aiohttp.ClientSession(secured.url) as client:
        async def attempt(password: str) -> int:
            async with client.post("/auth/token", data={**form, "password": password}) as r:
                return r.status

        statuses = await asyncio.gather(*(attempt(f"guess{n}") for n in range(30)))
        assert sorted(statuses) == [403] * 5 + [429] * 25
        async with client.post("/auth/token", data={**form, "password": "adminpw"}) as r:
            assert r.status == 429
            assert int(r.headers["Retry-After"]) >= 1
            assert (await r.json())["code"] == "too_many_attempts"
        async with client.post("/auth/token", data={**form, "username": "u" * 500_000,
                                                    "password": "x"}) as r:
            assert r.status == 413  # not even read
        async with client.post("/auth/token", json={**form, "username": "u" * 1000,
                                                    "password": "x"}) as r:
            assert r.status == 400
            assert "username is longer than 256 characters" in (await r.json())["message"]
    assert "uuuuuuuu" not in secured.stderr()
