"""/flows and /flow/:id against a real ``flowrt run`` process."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from flowrt import flowdoc
from tests.server.conftest import FlowrtProcess

V2 = {"Node-RED-API-Version": "v2"}
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
NOTE = {"id": "c1", "type": "comment", "z": "t1", "name": "hello", "x": 100, "y": 80, "wires": []}
FLOWS = [TAB, NOTE]

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(flowrt: FlowrtProcess) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(flowrt.url, timeout=aiohttp.ClientTimeout(total=20)) as s:
        yield s


async def error_of(response: aiohttp.ClientResponse) -> dict:
    body = await response.json()
    assert set(body) == {"error", "code", "message", "details"}, body
    assert body["error"] == body["code"]
    return body


async def test_deploy_v1_and_v2_with_revisions(client: aiohttp.ClientSession) -> None:
    async with client.get("/flows") as r:
        assert (r.status, await r.json()) == (200, [])
    async with client.post("/flows", json=FLOWS) as r:
        assert r.status == 204
    async with client.get("/flows", headers=V2) as r:
        body = await r.json()
        assert body["flows"] == FLOWS
        rev = body["rev"]
    changed = [TAB, {**NOTE, "name": "changed"}]
    async with client.post("/flows", json={"flows": changed, "rev": rev},
                           headers={**V2, "Node-RED-Deployment-Type": "nodes"}) as r:
        assert r.status == 200
        new_rev = (await r.json())["rev"]
        assert new_rev != rev
    async with client.post("/flows", json={"flows": FLOWS, "rev": rev}, headers=V2) as r:
        assert r.status == 409
        assert (await error_of(r))["code"] == "version_mismatch"
    async with client.post("/flows", json={"flows": FLOWS}, headers=V2) as r:  # forced
        assert r.status == 200
    async with client.post("/flows", headers={**V2, **JSON, "Node-RED-Deployment-Type": "reload"}
                           ) as r:
        assert r.status == 200
    async with client.get("/flows", headers={"Node-RED-API-Version": "v3"}) as r:
        assert r.status == 400
        assert (await error_of(r))["code"] == "invalid_api_version"
    async with client.post("/flows", json=FLOWS,
                           headers={"Node-RED-Deployment-Type": "partial"}) as r:
        assert (r.status, (await error_of(r))["code"]) == (400, "invalid_deployment_type")


@pytest.mark.parametrize(("body", "headers", "code", "message"), [
    (b'[{"id": "x",', {}, "invalid_json", "not valid JSON: .*line 1 column"),
    (b"", {}, "invalid_json", "empty"),
    (b'{"id": "x"}', {}, "invalid_flows", "must be a JSON array of node objects, not an object"),
    (b'[1, 2]', {}, "invalid_flows", "2 problems in flow document"),
    (b'{"rev": "x"}', V2, "invalid_request", "v2 deploy body"),
    (b'{"flows": 3}', V2, "invalid_flows", "not a number"),
])
async def test_malformed_bodies_are_rejected(client: aiohttp.ClientSession, body: bytes,
                                             headers: dict, code: str, message: str) -> None:
    async with client.post("/flows", data=body, headers={**headers, **JSON}) as r:
        assert r.status == 400
        error = await error_of(r)
    assert error["code"] == code
    assert re.search(message, error["message"]), error


async def test_rejected_deploy_leaves_running_flows_untouched(
        client: aiohttp.ClientSession, flowrt: FlowrtProcess) -> None:
    async with client.post("/flows", json=FLOWS) as r:
        assert r.status == 204
    bad = [TAB, NOTE, {"id": "n9", "type": "no-such-type", "z": "t1", "x": 1, "y": 1},
           {"id": "n8", "type": "inject", "z": "t1", "x": 1, "y": 2, "once": "maybe"}]
    async with client.post("/flows", json=bad) as r:
        assert r.status == 400
        error = await error_of(r)
    assert {(d["id"], d["type"], d["path"]) for d in error["details"]} >= {
        ("n9", "no-such-type", "$[2].type"), ("n8", "inject", "$[3].once")}
    assert all(d["message"] for d in error["details"])
    async with client.get("/flows") as r:
        assert await r.json() == FLOWS
    async with client.get("/healthz") as r:
        assert r.status == 200
    assert orjson.loads((flowrt.data_dir / "flows.json").read_bytes()) == FLOWS


async def test_deploys_survive_a_restart(flowrt_factory: type[FlowrtProcess]) -> None:
    server = flowrt_factory().start()
    async with aiohttp.ClientSession(server.url) as client:
        async with client.post("/flows", json=FLOWS) as r:
            assert r.status == 204
        async with client.get("/flows", headers=V2) as r:
            rev = (await r.json())["rev"]
    assert server.stop(signal.SIGTERM) == 0
    again = flowrt_factory(data_dir=server.data_dir).start()
    async with aiohttp.ClientSession(again.url) as client, \
            client.get("/flows", headers=V2) as r:
        assert await r.json() == {"rev": rev, "flows": FLOWS}
    assert again.stop(signal.SIGINT) == 0


async def test_flow_routes(client: aiohttp.ClientSession) -> None:
    async with client.post("/flows", json=FLOWS) as r:
        assert r.status == 204
    async with client.get("/flow/t1") as r:
        assert await r.json() == {"id": "t1", "label": "Flow 1", "nodes": [NOTE]}
    new_note = {"id": "c2", "type": "comment", "name": "two", "x": 1, "y": 1}
    async with client.post("/flow", json={"label": "Second", "nodes": [new_note]}) as r:
        assert r.status == 200
        tab_id = (await r.json())["id"]
    async with client.get(f"/flow/{tab_id}") as r:
        assert await r.json() == {"id": tab_id, "label": "Second",
                                  "nodes": [{**new_note, "z": tab_id}]}
    async with client.post("/flow", json={"label": "Dup", "nodes": [new_note]}) as r:
        assert (r.status, (await error_of(r))["code"]) == (400, "duplicate_id")
    async with client.post("/flow", json={"label": "No nodes"}) as r:
        assert (r.status, (await error_of(r))["message"]) == (400, "missing nodes property")
    async with client.put(f"/flow/{tab_id}", json={"label": "Renamed", "nodes": []}) as r:
        assert (r.status, await r.json()) == (200, {"id": tab_id})
    async with client.get(f"/flow/{tab_id}") as r:
        assert await r.json() == {"id": tab_id, "label": "Renamed", "nodes": []}
    async with client.get("/flow/global") as r:
        assert await r.json() == {"id": "global", "configs": [], "subflows": []}
    async with client.delete(f"/flow/{tab_id}") as r:
        assert r.status == 204
    for method in ("GET", "PUT", "DELETE"):
        async with client.request(method, f"/flow/{tab_id}", json={"nodes": []}) as r:
            assert (r.status, (await error_of(r))["code"]) == (404, "not_found")
    async with client.get("/flows") as r:
        assert await r.json() == FLOWS


async def test_unknown_routes_and_methods_answer_json(client: aiohttp.ClientSession) -> None:
    async with client.get("/no/such/route") as r:
        assert (r.status, (await error_of(r))["code"]) == (404, "not_found")
    async with client.delete("/flows") as r:
        assert (r.status, (await error_of(r))["code"]) == (405, "method_not_allowed")


async def test_put_global_replaces_configs_and_subflows(client: aiohttp.ClientSession) -> None:
    async with client.post("/flows", json=FLOWS) as r:
        assert r.status == 204
    inner = {"id": "c9", "type": "comment", "name": "inside", "x": 1, "y": 1, "wires": []}
    subflow = {"id": "sf1", "type": "subflow", "name": "S", "in": [], "out": []}
    async with client.put("/flow/global", json={"subflows": [{**subflow, "nodes": [inner]}]}) as r:
        assert (r.status, await r.json()) == (200, {"id": "global"})
    async with client.get("/flow/global") as r:
        assert await r.json() == {"id": "global", "configs": [],
                                  "subflows": [{**subflow, "nodes": [{**inner, "z": "sf1"}]}]}
    async with client.get("/flows") as r:
        assert await r.json() == [*FLOWS, subflow, {**inner, "z": "sf1"}]
    async with client.delete("/flow/global") as r:
        assert r.status == 400


def nested(levels: int) -> dict:
    """A value ``levels`` objects deep."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def test_too_deep_config_is_refused_before_anything_starts(
        client: aiohttp.ClientSession) -> None:
    async with client.post("/flows", json=FLOWS) as r:
        assert r.status == 204
    deep = {**NOTE, "id": "c2", "deep": nested(300)}
    async with client.post("/flows", json=[TAB, NOTE, deep]) as r:
        assert r.status == 400
        error = await error_of(r)
    assert [(d["id"], d["type"], d["path"]) for d in error["details"]] == [
        ("c2", "comment", "$[2].deep")]
    async with client.get("/flows") as r:
        assert (r.status, await r.json()) == (200, FLOWS)


async def test_the_deepest_accepted_config_is_saved_and_served_everywhere(
        client: aiohttp.ClientSession, flowrt: FlowrtProcess) -> None:
    deepest = nested(flowdoc.MAX_NODE_DEPTH - 1)
    subflow = {"id": "sf1", "type": "subflow", "name": "S", "in": [], "out": []}
    inner = {"id": "c9", "type": "comment", "z": "sf1", "x": 1, "y": 1, "deep": deepest}
    flows = [TAB, {**NOTE, "deep": deepest}, subflow, inner]
    async with client.post("/flows", json=flows) as r:
        assert r.status == 204, await r.text()
    for path, headers in (("/flows", {}), ("/flows", V2), ("/flow/t1", {}),
                          ("/flow/global", {})):
        async with client.get(path, headers=headers) as r:
            assert r.status == 200, path
    assert orjson.loads((flowrt.data_dir / "flows.json").read_bytes()) == flows
