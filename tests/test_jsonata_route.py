"""POST /jsonata/evaluate (flowrt.server.jsonata_routes, flowrt.jsonata_tester): the editor's
JSONata tester evaluates with the runtime's engine in a child process, answers errors in
the one error shape with their position, cuts off an expression that would run forever
while the server keeps answering, and is an admin route like the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from flowrt.server.app import build_context, create_app
from flowrt.server.auth import hash_password
from flowrt.server.jsonata_routes import TESTER
from flowrt.settings import Settings
from tests.server.conftest import FlowrtProcess

FOREVER = "($loop := function($n) { $loop($n + 1) }; $loop(0))"
"""Tail recursion: the library runs it in constant stack, so it never ends by itself."""


async def client_for(tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(build_context(Settings(**settings), tmp_path / "data"))
    return TestClient(TestServer(app))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with await client_for(tmp_path) as test_client:
        # Generous: what these tests check must not depend on how loaded the machine is.
        test_client.app[TESTER].time_limit = 30.0
        yield test_client


async def evaluate(client: TestClient, expression: str, message: Any) -> tuple[int, Any]:
    async with client.post("/jsonata/evaluate",
                           json={"expression": expression, "message": message}) as r:
        return r.status, await r.json()


async def test_the_result_is_the_runtimes(client: TestClient) -> None:
    assert await evaluate(client, "$sum(payload)", {"payload": [1, 2, 3]}) == \
        (200, {"result": 6})
    # Node-RED's legacy mode: an expression naming msg sees {"msg": message}.
    assert await evaluate(client, 'msg.payload & "!"', {"payload": "hi"}) == \
        (200, {"result": "hi!"})
    assert await evaluate(client, "payload.readings.value",
                          {"payload": {"readings": [{"value": 3}, {"value": 4}]}}) == \
        (200, {"result": [3, 4]})
    # Undefined (Node-RED's "No match") has no result; null is a result.
    assert await evaluate(client, "nothing", {"payload": 1}) == (200, {})
    assert await evaluate(client, "null", {}) == (200, {"result": None})


async def test_a_syntax_error_names_its_position(client: TestClient) -> None:
    status, body = await evaluate(client, "payload.(", {"payload": 1})
    assert status == 400
    assert set(body) == {"error", "code", "message", "details"}
    assert body["code"] == "invalid_expression"
    assert body["message"] == "Expected ) before end of expression"
    (detail,) = body["details"]
    assert detail == {"path": "/expression", "message": body["message"], "position": 9,
                      "code": "S0203"}


async def test_an_evaluation_error_and_what_the_tester_cannot_know(client: TestClient) -> None:
    status, body = await evaluate(client, "payload.foo(1)", {"payload": 1})
    assert (status, body["code"]) == (400, "evaluation_failed")
    assert body["details"][0]["code"] == "T1006"
    assert body["details"][0]["position"] == 12  # JSONata points after the token
    status, body = await evaluate(client, '$flowContext("count")', {})
    assert (status, body["code"]) == (400, "evaluation_failed")
    assert "$flowContext reads the running flows" in body["message"]


async def test_an_expression_that_would_run_forever_is_cut_off(tmp_path: Path) -> None:
    async with await client_for(tmp_path) as client:
        client.app[TESTER].time_limit = 2.0
        test = asyncio.ensure_future(evaluate(client, FOREVER, {}))
        # The server keeps answering while it runs: the evaluation is not on its loop.
        async with client.get("/healthz") as r:
            assert r.status == 200
        assert not test.done()
        status, body = await test
    assert (status, body["code"]) == (400, "evaluation_timeout")
    assert body["message"] == "the expression ran for more than 2 s and was stopped"


async def test_a_result_too_large_is_refused(client: TestClient) -> None:
    status, body = await evaluate(client, '$pad("", 1100000, "x")', {})
    assert (status, body["code"]) == (400, "result_too_large")


@pytest.mark.parametrize("body", [[], {"expression": 1, "message": {}}, {"expression": "1"}])
async def test_a_malformed_request_says_what_is_expected(client: TestClient,
                                                         body: Any) -> None:
    async with client.post("/jsonata/evaluate", json=body) as r:
        assert r.status == 400
        assert (await r.json())["code"] == "bad_request"


async def test_it_is_an_admin_route(tmp_path: Path) -> None:
    # A real server process: in-process, aiohttp's NotAppKeyWarning about the request's
    # "user" key (auth_routes) is an error under this suite's warning filters.
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.toml").write_text(f"""
[[adminAuth.users]]
username = "admin"
password = "{hash_password('secret')}"
permissions = "*"
[[adminAuth.users]]
username = "viewer"
password = "{hash_password('look')}"
permissions = "read"
""")
    server = FlowrtProcess(data).start()
    try:
        async with aiohttp.ClientSession(server.url) as client:
            await check_admin_rules(client)
    finally:
        server.stop()


async def check_admin_rules(client: aiohttp.ClientSession) -> None:
    request = {"expression": "1 + 1", "message": {}}
    async with client.post("/jsonata/evaluate", json=request) as r:
        assert r.status == 401
        assert (await r.json())["code"] == "unauthorized"
    tokens = {}
    for name, password in (("admin", "secret"), ("viewer", "look")):
        async with client.post("/auth/token", json={"username": name,
                                                    "password": password}) as r:
            tokens[name] = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
    async with client.post("/jsonata/evaluate", json=request, headers=tokens["viewer"]) as r:
        assert r.status == 403
        assert "jsonata.write" in (await r.json())["message"]
    async with client.post("/jsonata/evaluate", json=request, headers=tokens["admin"]) as r:
        assert (r.status, await r.json()) == (200, {"result": 2})
    # Same-origin and JSON bodies, as every state-changing route.
    async with client.post("/jsonata/evaluate", json=request, headers={
            **tokens["admin"], "Origin": "https://elsewhere.example"}) as r:
        assert (r.status, (await r.json())["code"]) == (403, "forbidden_origin")
    async with client.post("/jsonata/evaluate", data=b'{"expression": "1", "message": 1}',
                           headers={**tokens["admin"], "Content-Type": "text/plain"}) as r:
        assert r.status == 415
