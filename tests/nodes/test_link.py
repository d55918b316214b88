"""link call: a call its run queue could not take is that message's error at once."""

from __future__ import annotations

from flowrt.testing import FlowHarness

FLOW = [
    {"id": "t1", "type": "tab"},
    {"id": "lc", "type": "link call", "z": "t1", "links": ["svc"], "linkType": "static",
     "timeout": "30", "x": 0, "y": 0, "wires": [["after"]]},
    {"id": "after", "type": "junction", "z": "t1", "x": 0, "y": 0, "wires": [[]]},
    {"id": "svc", "type": "link in", "z": "t1", "links": [], "x": 0, "y": 0, "wires": [["ret"]]},
    {"id": "ret", "type": "link out", "z": "t1", "mode": "return", "links": [], "x": 0,
     "y": 0, "wires": []},
]


async def test_a_call_is_answered_through_its_return():
    async with FlowHarness(FLOW) as h:
        await h.inject("lc", payload=1)
        assert h.payloads("lc") == [1]


async def test_a_call_the_run_queue_drops_is_an_error_at_once():
    # It used to surface only as the 30 s timeout, with nothing said about the queue.
    async with FlowHarness(FLOW, settings={"maxPendingMessages": 1}) as h:
        h.send("after", {"payload": 0})  # the run queue is full until the loop drains it
        h.node("lc").on_input({"_msgid": "m1", "payload": 1})
        assert "run queue is full" in h.errors[-1]["msg"]
        await h.settle()
        await h.advance(31)
        assert [e["msg"] for e in h.errors if "timeout" in e["msg"]] == []
