"""Node-RED's example flows (kept by the compat corpus), loaded and run unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from flowrt.messages import Message
from flowrt.testing import FlowHarness

EXAMPLES = Path(__file__).resolve().parents[1] / "compat" / "flows" / "nodered-examples"


def example_flow(name: str) -> list[dict]:
    """One of Node-RED's example flows, as it ships."""
    return json.loads((EXAMPLES / name).read_text())


async def fire_all(h: FlowHarness, flow: list[dict]) -> None:
    """Fire every inject node of ``flow`` once, in file order, letting each settle."""
    for item in flow:
        if item["type"] == "inject":
            h.node(item["id"]).trigger()  # type: ignore[attr-defined]
            await h.settle()


async def run_example(name: str) -> tuple[FlowHarness, list[Message]]:
    """Run one example flow: fire its inject node, return what its debug node received."""
    flow = example_flow(name)
    inject = next(n["id"] for n in flow if n["type"] == "inject")
    debug = next(n["id"] for n in flow if n["type"] == "debug")
    # What reaches the debug node is what left the nodes wired to it.
    senders = [n["id"] for n in flow if any(debug in port for port in n.get("wires", []))]
    harness = FlowHarness(flow)
    async with harness as h:
        assert h.node(inject).trigger()  # type: ignore[attr-defined]
        await h.settle()
        received = [m for s in senders for m in h.outputs(s)]
        assert not h.errors, h.errors
    return harness, received
