"""Figures nodes report through Node.metrics() appear in /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from flowrt.node import Node
from flowrt.server.health import _family, _node_metric_families
from flowrt.testing import FlowHarness


class Buffering(Node):
    """Pretends to hold messages, to report figures."""

    type = "test-buffering"

    def metrics(self) -> dict[str, float]:
        return {"queued": 7, "evicted_total": 2}


async def test_node_metrics_become_labelled_prometheus_families(tmp_path):
    flow = [{"id": "t", "type": "tab"},
            {"id": "b1", "type": "test-buffering", "z": "t", "name": "buf", "x": 0, "y": 0,
             "wires": [[]]},
            {"id": "sf", "type": "store-forward", "z": "t", "queue": "q1", "x": 0, "y": 0,
             "wires": [[], []]}]
    async with FlowHarness(flow, node_types=[Buffering], data_dir=tmp_path) as h:
        await h.inject("sf", payload=1, priority="high")
        await h.node("sf")._show_status()
        text = "".join(_family(*f) for f in _node_metric_families(h.runtime.nodes.values()))
    samples = {(s.name, s.labels.get("id")): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert samples[("flowrt_node_queued", "b1")] == 7
    assert samples[("flowrt_node_evicted_total", "b1")] == 2
    assert ("flowrt_node_delivered_total", "sf") in samples
    assert samples[("flowrt_node_queued_high", "sf")] + samples[
        ("flowrt_node_delivered_total", "sf")] >= 1
