"""/nodes, /settings, /credentials, /inject, /debug, /comms, /healthz and /metrics
against a real ``flowrt run`` process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import FlowrtProcess

V2 = {"Node-RED-API-Version": "v2"}
PLUGIN = '''
from flowrt.node import Node


class Vault(Node):
    """Holds a login; sets its status to the user name it was given."""

    type = "vault"
    credentials = {"user": "text", "password": "password"}

    async def start(self):
        self.status(fill="green", shape="dot", text=self.creds.get("user", "-"))
'''
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
INJECT = {"id": "in1", "type": "inject", "z": "t1", "x": 1, "y": 1, "wires": [["d1", "d2"]],
          "props": [{"p": "payload"}], "payload": "hello", "payloadType": "str"}
DEBUG = {"type": "debug", "z": "t1", "x": 2, "y": 1, "wires": [], "active": True}


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "vault.py").write_text(PLUGIN)
    (data / "nodes" / "broken.py").write_text("raise RuntimeError('boom')\n")
    return data


@pytest.fixture
async def client(flowrt: FlowrtProcess) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(flowrt.url, timeout=aiohttp.ClientTimeout(total=20)) as s:
        yield s


class Comms:
    """A /comms client: ``next_event(topic)`` takes the oldest unread event on a topic."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def next_event(self, topic: str) -> Any:
        async with asyncio.timeout(10):
            while True:
                for index, event in enumerate(self.unread):
                    if event["topic"] == topic:
                        return self.unread.pop(index)["data"]
                frame = await self.ws.receive_json()
                assert isinstance(frame, list), frame
                self.unread.extend(frame)


async def test_node_types_lists_types_with_schema_help_origin_and_load_errors(
        flowrt_factory: type[FlowrtProcess], plugin_dir: Path) -> None:
    server = flowrt_factory(data_dir=plugin_dir).start()
    async with aiohttp.ClientSession(server.url) as client, client.get("/node-types") as r:
        assert r.content_type == "application/json"
        nodes = await r.json()
    by_type = {n["type"]: n for n in nodes if "type" in n}
    assert by_type["vault"]["origin"] == "data dir"
    assert by_type["vault"]["help"].startswith("Holds a login")
    assert by_type["inject"]["origin"] == "built-in"
    assert by_type["inject"]["schema"]["properties"]["once"]["default"] is False
    errors = [n for n in nodes if "error" in n]
    assert any(e["origin"] == "data dir" and "boom" in e["error"] for e in errors)


async def test_nodes_answers_node_red_node_sets(
        flowrt_factory: type[FlowrtProcess], plugin_dir: Path) -> None:
    server = flowrt_factory(data_dir=plugin_dir).start()
    async with aiohttp.ClientSession(server.url) as client:
        for accept in ("application/json", "text/html"):
            async with client.get("/nodes", headers={"Accept": accept}) as r:
                assert r.content_type == "application/json"
                sets = await r.json()
    keys = {"id", "name", "types", "enabled", "local", "user", "module", "version"}
    assert all(keys <= set(entry) for entry in sets), sets
    by_id = {entry["id"]: entry for entry in sets}
    mqtt = by_id["flowrt/mqtt"]
    assert sorted(mqtt["types"]) == ["mqtt in", "mqtt out", "mqtt-broker"]
    assert mqtt["module"] == "flowrt" and mqtt["enabled"] is True and mqtt["local"] is False
    assert mqtt["version"]
    assert by_id["local/vault"]["types"] == ["vault"] and by_id["local/vault"]["local"] is True
    assert "boom" in by_id["local/broken"]["err"] and by_id["local/broken"]["types"] == []
    every_type = [t for entry in sets for t in entry["types"]]
    assert len(every_type) == len(set(every_type)) and "inject" in every_type


async def test_settings(client: aiohttp.ClientSession) -> None:
    async with client.get("/settings") as r:
        settings = await r.json()
    assert settings["httpNodeRoot"] == "/"
    assert settings["context"] == {"default": "default", "stores": ["default"]}
    assert settings["flowEncryptionType"] == "system"
    assert "user" not in settings
    async with client.get("/auth/login") as r:
        assert await r.json() == {}


async def test_credentials_are_split_encrypted_and_never_returned(
        flowrt_factory: type[FlowrtProcess], plugin_dir: Path) -> None:
    server = flowrt_factory(data_dir=plugin_dir).start()
    vault = {"id": "v1", "type": "vault", "z": "t1", "x": 1, "y": 1,
             "credentials": {"user": "alice", "password": "s3cret", "extra": "dropped"}}
    async with aiohttp.ClientSession(server.url) as client:
        async with client.post("/flows", json={"flows": [TAB, vault]}, headers=V2) as r:
            assert r.status == 200
        async with client.get("/flows") as r:
            assert await r.json() == [TAB, {k: v for k, v in vault.items() if k != "credentials"}]
        async with client.get("/credentials/vault/v1") as r:
            assert await r.json() == {"user": "alice", "has_password": True}
        async with client.get("/credentials/nope/v1") as r:
            assert r.status == 404
        unchanged = {**vault, "credentials": {"user": "alice", "password": "__PWRD__"}}
        async with client.post("/flows", json={"flows": [TAB, unchanged]}, headers=V2) as r:
            assert r.status == 200
    raw = (plugin_dir / "flows_cred.json").read_bytes() + (plugin_dir / "flows.json").read_bytes()
    assert b"s3cret" not in raw and b"alice" not in raw
    assert server.stop() == 0
    again = flowrt_factory(data_dir=plugin_dir).start()
    async with aiohttp.ClientSession(again.url) as client, client.ws_connect("/comms") as ws:
        comms = Comms(ws)
        await comms.send({"subscribe": "status/#"})
        assert await comms.next_event("status/v1") == {"fill": "green", "shape": "dot",
                                                       "text": "alice"}
        async with client.get("/credentials/vault/v1") as r:
            assert await r.json() == {"user": "alice", "has_password": True}


async def test_inject_debug_and_status_over_comms(client: aiohttp.ClientSession) -> None:
    flows = [TAB, INJECT, {**DEBUG, "id": "d1"},
             {**DEBUG, "id": "d2", "tostatus": True, "statusType": "counter"}]
    async with client.ws_connect("/comms") as ws:
        comms = Comms(ws)
        for topic in ("debug", "status/#", "notification/#"):
            await comms.send({"subscribe": topic})
        async with client.post("/flows", json=flows) as r:
            assert r.status == 204
        assert (await comms.next_event("notification/runtime-deploy"))["revision"]
        async with client.post("/inject/in1", json={}) as r:
            assert r.status == 200
        first = await comms.next_event("debug")
        assert (first["id"], first["msg"], first["format"]) == ("d1", "hello", "string[5]")
        assert (await comms.next_event("debug"))["id"] == "d2"
        assert [(await comms.next_event("status/d2"))["text"] for _ in range(2)] == ["0", "1"]
        async with client.post("/debug/d1/disable", json={}) as r:
            assert r.status == 201
        async with client.post("/inject/in1", json={"__user_inject_props__": [
                {"p": "payload", "v": "7", "vt": "num"}]}) as r:
            assert r.status == 200
        second = await comms.next_event("debug")
        assert (second["id"], second["msg"], second["format"]) == ("d2", "7", "number")
        async with client.post("/debug/d1/enable", json={}) as r:
            assert r.status == 200
        async with client.post("/debug/disable", json={"nodes": ["d1", "d2"]}) as r:
            assert r.status == 201
        async with client.post("/debug/enable", json={"nodes": "d1"}) as r:
            assert r.status == 400
    for path in ("/inject/nope", "/inject/d1", "/debug/nope/enable", "/debug/in1/enable"):
        async with client.post(path, json={}) as r:
            assert r.status == 404, path


async def test_comms_replays_retained_state_and_ignores_garbage(
        client: aiohttp.ClientSession) -> None:
    async with client.ws_connect("/comms") as ws:
        comms = Comms(ws)
        await ws.send_str("not json")
        await comms.send({"subscribe": "notification/+"})
        assert await comms.next_event("notification/runtime-state") == {"state": "start"}


async def test_missing_types_at_boot(flowrt_factory: type[FlowrtProcess],
                                     tmp_path: Path) -> None:
    flow_file = tmp_path / "demo.json"
    flow_file.write_bytes(orjson.dumps([TAB, {"id": "x1", "type": "mystery", "z": "t1",
                                              "x": 1, "y": 1}]))
    server = flowrt_factory(str(flow_file)).start()
    async with aiohttp.ClientSession(server.url) as client:
        async with client.get("/healthz") as r:
            assert r.status == 503
            assert await r.json() == {"status": "unavailable", "state": "stop",
                                      "reason": "missing-types", "nodes": 0,
                                      "missing": ["mystery"]}
        async with client.ws_connect("/comms") as ws:
            comms = Comms(ws)
            await comms.send({"subscribe": "notification/#"})
            state = await comms.next_event("notification/runtime-state")
            assert (state["error"], state["types"]) == ("missing-types", ["mystery"])
        async with client.post("/flows", json=[TAB]) as r:
            assert r.status == 204
        async with client.get("/healthz") as r:
            assert r.status == 200
    assert orjson.loads(flow_file.read_bytes()) == [TAB]  # deploys save to FLOWFILE


async def test_metrics_parse_with_prometheus_client(client: aiohttp.ClientSession) -> None:
    async with client.post("/flows", json=[TAB, INJECT, {**DEBUG, "id": "d1"},
                                           {**DEBUG, "id": "d2"}]) as r:
        assert r.status == 204
    async with client.ws_connect("/comms") as ws:
        for _ in range(3):
            async with client.post("/inject/in1", json={}) as r:
                assert r.status == 200
        comms = Comms(ws)
        for _ in range(6):
            await comms.next_event("debug")
    async with client.get("/metrics") as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("flowrt_messages_sent_total", (("type", "inject"),))] == 6  # 2 wires
    assert samples[("flowrt_messages_received_total", (("type", "debug"),))] == 6
    assert samples[("flowrt_deploys_total", ())] == 1
    assert samples[("flowrt_flows_running", ())] == 1
    assert samples[("flowrt_process_resident_memory_bytes", ())] > 10_000_000
    assert samples[("flowrt_event_loop_lag_seconds", ())] >= 0
    assert ("flowrt_run_queue_depth", ()) in samples


async def test_request_size_limit(flowrt_factory: type[FlowrtProcess]) -> None:
    server = flowrt_factory(env={"FLOWRT_API_MAX_LENGTH": "2000"}).start()
    async with aiohttp.ClientSession(server.url) as client, \
            client.post("/flows", json=[{**TAB, "info": "x" * 5000}]) as r:
        assert r.status == 413
        assert (await r.json())["code"] == "request_too_large"
