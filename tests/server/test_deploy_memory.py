"""A deploy releases the graph it replaces: RSS stays flat over many large deploys."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.server.conftest import FlowrtProcess

NODES = 20_000
DEPLOYS = 20
# Deploys before the baseline: the allocator's pools settle first. Measured RSS (MB)
# after each deploy: 143 159 160 172 172 183 187 188 189 190 192 192 193 192 194 195 195
# 194 194 194 - flat once settled; before the fix every deploy kept its ~40 MB graph.
WARM_UP = 5
TOLERANCE = 1.2
JSON = {"Content-Type": "application/json"}


def big_flow(tag: str) -> list[dict]:
    """NODES change and debug nodes; ``tag`` changes every node, so each deploy
    replaces the whole graph."""
    flows: list[dict] = [{"id": "t1", "type": "tab", "label": tag}]
    for i in range(NODES // 2):
        flows.append({"id": f"c{i}", "type": "change", "z": "t1", "x": 1, "y": i,
                      "wires": [[f"d{i}"]], "rules": [
                          {"t": "set", "p": "payload", "pt": "msg", "to": tag, "tot": "str"}]})
        flows.append({"id": f"d{i}", "type": "debug", "z": "t1", "x": 2, "y": i,
                      "wires": [], "active": True, "name": tag})
    return flows


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_rss_is_flat_over_twenty_deploys_of_a_20k_node_flow(
        flowrt: FlowrtProcess) -> None:
    assert flowrt.proc is not None
    pid = flowrt.proc.pid
    baseline = 0.0
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(flowrt.url, timeout=timeout) as client:
        for number in range(DEPLOYS):
            body = io.BytesIO(orjson.dumps(big_flow(f"deploy {number}")))
            async with client.post("/flows", data=body, headers=JSON) as r:
                assert r.status == 204, await r.text()
            if number == WARM_UP - 1:
                baseline = rss_mb(pid)
    final = rss_mb(pid)
    # Before the fix every deploy kept the graph it replaced (about 40 MB each here).
    assert final <= baseline * TOLERANCE, (baseline, final)
