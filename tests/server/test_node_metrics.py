"""Figures nodes report through Node.metrics() appear in /metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from flowrt.server.app import build_context, create_app
from flowrt.settings import Settings

BUFFERING = '''
from flowrt.node import Node


class Buffering(Node):
    """Pretends to hold messages, to report figures."""

    type = "test-buffering"

    def metrics(self):
        return {"queued": 7, "evicted_total": 2}
'''


def inject(id_: str, *props: dict[str, str]) -> dict[str, object]:
    return {"id": id_, "type": "inject", "z": "t", "x": 0, "y": 0, "wires": [["sf"]],
            "props": list(props)}


async def test_node_metrics_become_labelled_prometheus_families(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "buffering.py").write_text(BUFFERING)
    flow = [{"id": "t", "type": "tab"},
            {"id": "b1", "type": "test-buffering", "z": "t", "name": "buf", "x": 0, "y": 0,
             "wires": [[]]},
            {"id": "sf", "type": "store-forward", "z": "t", "queue": "q1", "x": 0, "y": 0,
             "wires": [[], []]},
            inject("put", {"p": "payload", "v": "1", "vt": "num"},
                   {"p": "priority", "v": "high", "vt": "str"}),
            inject("refresh", {"p": "action", "v": "resume", "vt": "str"})]
    app = create_app(build_context(Settings(), data))
    async with TestClient(TestServer(app)) as client:
        assert (await client.post("/flows", json=flow)).status == 204
        assert (await client.post("/inject/put", json={})).status == 200
        # A control message makes store-forward refresh its queue figures.
        assert (await client.post("/inject/refresh", json={})).status == 200
        deadline = time.monotonic() + 10
        while True:
            text = await (await client.get("/metrics")).text()
            samples = {(s.name, s.labels.get("id")): s.value
                       for fam in text_string_to_metric_families(text) for s in fam.samples}
            if samples.get(("flowrt_node_queued_high", "sf"), 0) + samples.get(
                    ("flowrt_node_delivered_total", "sf"), 0) >= 1:
                break
            assert time.monotonic() < deadline, text
            await asyncio.sleep(0.02)  # the queue's figures are read on its own thread
    assert samples[("flowrt_node_queued", "b1")] == 7
    assert samples[("flowrt_node_evicted_total", "b1")] == 2
    assert ("flowrt_node_delivered_total", "sf") in samples
