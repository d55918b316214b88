"""The flows' own HTTP routes: Express paths, and the admin API never shadowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from flowrt.errors import ConfigError
from flowrt.http_endpoints import Endpoints
from flowrt.server.app import build_context, create_app
from flowrt.server.state import CONTEXT
from flowrt.settings import Settings


async def _echo(request: web.Request, params: dict[str, str]) -> web.StreamResponse:
    return web.json_response({"method": request.method, "params": params})


@pytest.mark.parametrize(("path", "url", "params"), [
    ("/sensor/:id", "/sensor/7", {"id": "7"}),
    ("/sensor/:id", "/SENSOR/7/", {"id": "7"}),
    ("/a/:x/b/:y", "/a/1/b/two", {"x": "1", "y": "two"}),
    ("/opt/:name?", "/opt", {}),
    ("/opt/:name?", "/opt/n", {"name": "n"}),
    ("/files/*", "/files/a/b.txt", {"0": "a/b.txt"}),
    ("plain", "/plain", {}),
    ("/dots.json", "/dots.json", {}),
])
def test_express_paths_match_with_their_parameters(path: str, url: str,
                                                   params: dict[str, str]) -> None:
    endpoints = Endpoints()
    endpoints.add("get", path, _echo, "n1")
    found = endpoints.resolve("GET", url)
    assert found is not None, f"{path} should match {url}"
    assert found[1] == params


@pytest.mark.parametrize(("path", "url"), [
    ("/sensor/:id", "/sensor"),
    ("/sensor/:id", "/sensor/7/extra"),
    ("/dots.json", "/dotsXjson"),
    ("/a", "/ab"),
])
def test_express_paths_do_not_match_other_paths(path: str, url: str) -> None:
    endpoints = Endpoints()
    endpoints.add("GET", path, _echo, "n1")
    assert endpoints.resolve("GET", url) is None


def test_methods_the_first_route_wins_and_removal() -> None:
    endpoints = Endpoints("/api")
    remove_first = endpoints.add("POST", "/x", _echo, "first")
    endpoints.add("POST", "/x", _echo, "second")
    endpoints.add("GET", "/x", _echo, "get")
    assert endpoints.resolve("POST", "/x") is None  # outside httpNodeRoot
    found = endpoints.resolve("POST", "/api/x")
    assert found is not None and found[0].owner == "first"
    head = endpoints.resolve("HEAD", "/api/x")
    assert head is not None and head[0].owner == "get"
    assert endpoints.resolve("DELETE", "/api/x") is None
    remove_first()
    remove_first()  # twice is harmless
    found = endpoints.resolve("POST", "/api/x")
    assert found is not None and found[0].owner == "second"
    assert [r["owner"] for r in endpoints.routes()] == ["second", "get"]


def test_a_root_without_a_slash_is_refused() -> None:
    with pytest.raises(ConfigError, match="httpNodeRoot must start with '/'"):
        Endpoints("api")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    app = create_app(build_context(Settings(), tmp_path / "data"))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_flow_routes_are_served_but_never_shadow_the_admin_api(client: TestClient
                                                                     ) -> None:
    endpoints = client.app[CONTEXT].runtime.endpoints
    endpoints.add("GET", "/flows", _echo, "shadow")  # the admin API's path
    endpoints.add("POST", "/nodes", _echo, "other-method")
    endpoints.add("GET", "/hello/:who", _echo, "hello")

    flows = await client.get("/flows")
    assert flows.status == 200 and isinstance(await flows.json(), list)
    hello = await client.get("/hello/world")
    assert hello.status == 200
    assert await hello.json() == {"method": "GET", "params": {"who": "world"}}
    # An admin path with a method the admin API does not answer: the flow's route.
    posted = await client.post("/nodes")
    assert (await posted.json())["method"] == "POST"
    missing = await client.get("/nowhere")
    assert missing.status == 404


def test_held_requests_are_found_by_id_until_released() -> None:
    class Held:
        owner = "n1"
        jsonp_callback = None
        answered = False

        def answer(self, status: int, headers: list[tuple[str, str]],
                   body: bytes | None) -> None:
            pass

    endpoints = Endpoints()
    held = Held()
    first, second = endpoints.hold(held), endpoints.hold(held)
    assert first != second and len(first) == 24
    assert endpoints.held(first) is held
    assert endpoints.held({"not": "an id"}) is None
    endpoints.release(first)
    endpoints.release(first)
    assert endpoints.held(first) is None and endpoints.held_count() == 1


async def test_preflights_are_not_answered_for_admin_paths(tmp_path: Path) -> None:
    settings = Settings.from_keys({"httpNodeCors": {"origin": "*"}}, "test")
    app = create_app(build_context(settings, tmp_path / "data"))
    async with TestClient(TestServer(app)) as client:
        endpoints = client.app[CONTEXT].runtime.endpoints
        preflight = {"Origin": "http://elsewhere.example",
                     "Access-Control-Request-Method": "POST"}
        admin = await client.options("/flows", headers=preflight)
        assert "Access-Control-Allow-Origin" not in admin.headers
        unknown = await client.options("/anything", headers=preflight)
        assert unknown.status == 204
        assert unknown.headers["Access-Control-Allow-Origin"] == "*"
        endpoints.add("POST", "/flows", _echo, "flow")  # a flow serving an admin path
        served = await client.options("/flows", headers=preflight)
        assert served.headers["Access-Control-Allow-Origin"] == "*"


async def test_requests_held_for_a_flow_are_answered_when_the_server_stops(
        tmp_path: Path) -> None:
    flows = [{"id": "t1", "type": "tab"},
             {"id": "in", "type": "http in", "z": "t1", "url": "/wait", "method": "get",
              "wires": [[]]}]
    app = create_app(build_context(Settings(), tmp_path / "data"))
    client = TestClient(TestServer(app))
    await client.start_server()
    runtime = client.app[CONTEXT].runtime
    await runtime.deploy(flows)
    async with aiohttp.ClientSession() as session:
        waiting = asyncio.ensure_future(session.get(client.make_url("/wait")))
        for _ in range(500):
            if runtime.endpoints.held_count():
                break
            await asyncio.sleep(0.01)
        assert runtime.endpoints.held_count() == 1
        await asyncio.wait_for(client.close(), 10)
        answer = await asyncio.wait_for(waiting, 10)
        assert answer.status == 503
