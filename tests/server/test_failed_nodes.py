"""``flowrt run`` with a node that fails: the process serves, the rest of the flow runs,
``/healthz`` and ``/metrics`` name the node, ``/comms`` shows its red status; a deploy
answers 200 unless ``strictDeploy`` is set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.server.conftest import FlowrtProcess
from tests.server.test_runtime_api import Comms

PLUGIN = '''
from flowrt.node import Node


class Compiles(Node):
    """Compiles its code when created, as the function node compiles JavaScript."""

    type = "test-compiles"
    schema = {"type": "object", "properties": {"code": {"type": "string", "default": ""}}}

    def __init__(self, config, ctx):
        super().__init__(config, ctx)
        if config["code"] != "fine":
            raise SyntaxError("JavaScript: unexpected end of input (line 1, col 4)")
'''

FLOWS = [
    {"id": "t1", "type": "tab", "label": "Flow 1"},
    {"id": "inj", "type": "inject", "z": "t1", "x": 0, "y": 0, "props": [{"p": "payload"}],
     "payload": "hello", "payloadType": "str", "wires": [["bad", "dbg"]]},
    {"id": "bad", "type": "test-compiles", "z": "t1", "x": 0, "y": 0, "code": "a(",
     "wires": [["dbg"]]},
    {"id": "dbg", "type": "debug", "z": "t1", "x": 0, "y": 0, "active": True,
     "complete": "payload", "wires": []},
]


def data_dir(tmp_path: Path, settings: str = "") -> Path:
    data = tmp_path / "data"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "compiles.py").write_text(PLUGIN)
    (data / "flows.json").write_text(json.dumps(FLOWS))
    if settings:
        (data / "settings.toml").write_text(settings)
    return data


async def healthz(client: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    async with client.get("/healthz") as r:
        return r.status, await r.json()


async def test_run_serves_and_reports_a_node_that_fails_to_configure(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    server = flowrt_factory(data_dir=data_dir(tmp_path)).start()
    async with aiohttp.ClientSession(server.url, timeout=aiohttp.ClientTimeout(20)) as client:
        status, body = await healthz(client)
        assert status == 200 and body["status"] == "degraded" and body["state"] == "start"
        [failed] = body["failedNodes"]
        assert failed["id"] == "bad" and failed["type"] == "test-compiles"
        assert failed["flow"] == "t1" and failed["stage"] == "configure"
        assert "JavaScript: unexpected end of input (line 1, col 4)" in failed["error"]
        async with client.ws_connect("/comms") as ws:
            comms = Comms(ws)
            await comms.send({"subscribe": "status/#"})
            await comms.send({"subscribe": "debug"})
            status_event = await comms.next_event("status/bad")
            assert (status_event["fill"], status_event["shape"]) == ("red", "ring")
            # The good path delivers; the wire to the failed node drops and counts.
            async with client.post("/inject/inj", json={}) as r:
                assert r.status == 200
            debug = await comms.next_event("debug")
            assert debug["msg"] == "hello"
        async with client.get("/metrics") as r:
            metrics = await r.text()
        assert "flowrt_failed_nodes 1" in metrics
        assert 'flowrt_node_dropped_total{type="test-compiles",id="bad",name=""} 1' in metrics
        # Fixing the node through a deploy clears the failure.
        fixed = [dict(n, code="fine") if n["id"] == "bad" else n for n in FLOWS]
        async with client.post("/flows", json=fixed) as r:
            assert r.status == 204
        status, body = await healthz(client)
        assert (status, body["status"]) == (200, "ok") and "failedNodes" not in body
    assert server.stop() == 0
    assert "node bad (test-compiles) in flow t1 failed to configure" in server.stderr()
    assert "Traceback" not in server.stderr()


async def test_strict_deploy_refuses_a_deploy_with_a_failing_node(
        flowrt_factory: type[FlowrtProcess], tmp_path: Path) -> None:
    data = data_dir(tmp_path, "strictDeploy = true\n")
    (data / "flows.json").write_text("[]")
    server = flowrt_factory(data_dir=data).start()
    async with aiohttp.ClientSession(server.url, timeout=aiohttp.ClientTimeout(20)) as client:
        async with client.post("/flows", json=FLOWS) as r:
            assert r.status == 400
            error = await r.json()
        assert error["code"] == "deploy_failed"
        assert error["details"][0]["id"] == "bad" and "JavaScript" in error["message"]
        assert error["details"][0]["path"] == "$[2]"
        async with client.get("/flows") as r:
            assert await r.json() == []
        status, body = await healthz(client)
        assert (status, body["status"]) == (200, "ok")
