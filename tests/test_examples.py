"""The example flows in flows/ validate, and the demo does what the README tour says."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowrt import flowdoc
from flowrt.registry import discover
from flowrt.testing import FlowHarness

FLOWS = sorted((Path(__file__).parents[1] / "flows").glob("*.json"))


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_example_flow_validates(path):
    assert flowdoc.validate(flowdoc.load(path), discover()) == []


def without_mqtt(flows):
    mqtt = {n["id"] for n in flows if n["type"].startswith("mqtt")}
    kept = [n for n in flows if n["id"] not in mqtt]
    for n in kept:
        if "wires" in n:
            n["wires"] = [[t for t in port if t not in mqtt] for port in n["wires"]]
    return kept


async def test_demo_filters_alerts_and_summarises():
    flows = without_mqtt(flowdoc.load(FLOWS[0].parent / "demo.json"))
    async with FlowHarness(flows) as h:
        for _ in range(181):
            await h.advance(1)
        readings = h.outputs("demo-sim")
        filtered = h.outputs("demo-filter")
        summaries = h.payloads("demo-agg")
        assert len(readings) == 3 * 181
        assert 0 < len(filtered) < len(readings) / 2
        assert {s["group"] for s in summaries} == {
            f"sensors/{d}/temperature" for d in ("boiler", "pump", "fan")}
        assert all(s["count"] == 60 for s in summaries)
        alerts = h.payloads("demo-alert")
        assert alerts and {a["level"] for a in alerts} <= {"warning", "critical", "clear"}
        assert all(a["key"] == "sensors/boiler/temperature" for a in alerts)
        debug = [d for t, d in h.events if t == "debug" and "level" not in d]
        assert {d["name"] for d in debug} == {"filtered readings", "alerts", "summaries"}
        assert h.errors == []
