"""flowrt.testing.FlowHarness: what a node was sent, across its sources, in order."""

from __future__ import annotations

from flowrt.testing import FlowHarness

FLOW = [
    {"id": "t", "type": "tab"},
    {"id": "a", "type": "change", "z": "t", "rules": [], "wires": [["sink"]]},
    {"id": "b", "type": "change", "z": "t", "rules": [], "wires": [["sink", "other"]]},
    {"id": "sink", "type": "debug", "z": "t", "wires": []},
    {"id": "other", "type": "debug", "z": "t", "wires": []},
]


async def test_received_merges_every_source_in_sending_order() -> None:
    async with FlowHarness(FLOW) as h:
        await h.inject("a", payload=1)
        await h.inject("b", payload=2)
        await h.inject("a", payload=3)
        assert [m["payload"] for m in h.received("sink")] == [1, 2, 3]
        assert [m["payload"] for m in h.received("other")] == [2]
        h.clear()
        assert h.received("sink") == []
