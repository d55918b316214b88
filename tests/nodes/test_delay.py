"""delay: fixed, variable and random delays, rate limits, per-topic queues, and the
msg.reset / msg.flush controls, all on the fake clock."""

from __future__ import annotations

from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def delay(**config):
    return [TAB, {"id": "d", "type": "delay", "z": "t1", "x": 1, "y": 1, "wires": [[]],
                  **config},
            {"id": "done", "type": "complete", "z": "t1", "x": 1, "y": 1, "scope": ["d"],
             "wires": [[]]}]


async def test_fixed_delay_holds_each_message_for_the_timeout():
    async with FlowHarness(delay(pauseType="delay", timeout="2", timeoutUnits="seconds")) as h:
        await h.inject("d", payload="a")
        await h.advance(1)
        await h.inject("d", payload="b")
        await h.advance(0.99)
        assert h.payloads("d") == []
        await h.advance(0.02)
        assert h.payloads("d") == ["a"]
        assert h.payloads("done") == ["a"]  # completes when sent, not when received
        assert h.status("d") == {"fill": "blue", "shape": "dot", "text": "1"}
        await h.advance(1)
        assert h.payloads("d") == ["a", "b"]


async def test_timeout_units_and_string_values():
    async with FlowHarness(delay(pauseType="delay", timeout="250",
                                 timeoutUnits="milliseconds")) as h:
        await h.inject("d", payload=1)
        await h.advance(0.249)
        assert h.payloads("d") == []
        await h.advance(0.002)
        assert h.payloads("d") == [1]
    async with FlowHarness(delay(pauseType="delay", timeout=1, timeoutUnits="minutes")) as h:
        await h.inject("d", payload=1)
        await h.advance(59)
        assert h.payloads("d") == []
        await h.advance(1.1)
        assert h.payloads("d") == [1]


async def test_delayv_takes_msg_delay_in_ms_and_falls_back_to_timeout():
    async with FlowHarness(delay(pauseType="delayv", timeout="1",
                                 timeoutUnits="seconds")) as h:
        await h.inject("d", payload="short", delay=100)
        await h.inject("d", payload="default")
        await h.inject("d", payload="negative", delay=-5)
        await h.settle()
        assert h.payloads("d") == []
        await h.advance(0)
        assert h.payloads("d") == ["negative"]
        await h.advance(0.1)
        assert h.payloads("d") == ["negative", "short"]
        await h.advance(0.9)
        assert h.payloads("d") == ["negative", "short", "default"]


async def test_random_delay_falls_between_first_and_last():
    async with FlowHarness(delay(pauseType="random", randomFirst="1", randomLast="3",
                                 randomUnits="seconds")) as h:
        for i in range(20):
            h.send("d", {"payload": i})
        await h.settle()
        await h.advance(0.999)
        assert h.payloads("d") == []
        await h.advance(2.002)
        assert sorted(h.payloads("d")) == list(range(20))


async def test_reset_drops_delayed_messages_and_flush_sends_them_now():
    async with FlowHarness(delay(pauseType="delay", timeout="5")) as h:
        for i in range(3):
            await h.inject("d", payload=i)
        await h.inject("d", reset=True)
        assert h.status("d") == {"fill": "blue", "shape": "ring", "text": "0"}
        await h.advance(6)
        assert h.payloads("d") == []
        # The reset message completes at once, the discarded messages complete too.
        assert h.payloads("done") == [None, 0, 1, 2]
        for i in range(3):
            await h.inject("d", payload=i)
        await h.inject("d", flush=2)  # a bare flush message is not itself delayed
        assert h.payloads("d") == [0, 1]
        await h.inject("d", flush=True)
        assert h.payloads("d") == [0, 1, 2]
        await h.advance(6)
        assert h.payloads("d") == [0, 1, 2]


async def test_flush_with_a_payload_is_released_too():
    async with FlowHarness(delay(pauseType="delay", timeout="5")) as h:
        await h.inject("d", payload="old")
        await h.inject("d", payload="new", flush=True)
        assert h.payloads("d") == ["old", "new"]


async def test_rate_limit_queues_and_spaces_messages():
    async with FlowHarness(delay(pauseType="rate", rate="2", nbRateUnits="1",
                                 rateUnits="second")) as h:
        for i in range(4):
            h.send("d", {"payload": i})
        await h.settle()
        assert h.payloads("d") == [0]  # the first passes at once
        await h.advance(0.5)
        assert h.payloads("d") == [0, 1]
        await h.advance(1)
        assert h.payloads("d") == [0, 1, 2, 3]
        assert h.payloads("done") == [0, 1, 2, 3]
        await h.advance(0.5)  # the queue emptied: the next message passes at once
        await h.inject("d", payload=4)
        assert h.payloads("d")[-1] == 4


async def test_rate_period_uses_nb_rate_units():
    # 3 messages per 12 seconds: one every 4 s.
    async with FlowHarness(delay(pauseType="rate", rate="3", nbRateUnits="12",
                                 rateUnits="second")) as h:
        for i in range(3):
            h.send("d", {"payload": i})
        await h.settle()
        await h.advance(3.9)
        assert h.payloads("d") == [0]
        await h.advance(0.2)
        assert h.payloads("d") == [0, 1]


async def test_rate_to_front_flush_and_reset():
    async with FlowHarness(delay(pauseType="rate", rate="1", rateUnits="second")) as h:
        for payload in ("first", "a", "b"):
            h.send("d", {"payload": payload})
        h.send("d", {"payload": "urgent", "toFront": True})
        await h.settle()
        await h.inject("d", flush=1)
        assert h.payloads("d") == ["first", "urgent"]
        await h.inject("d", reset=True)
        assert h.status("d") == {"fill": "blue", "shape": "ring", "text": "0"}
        await h.advance(5)
        assert h.payloads("d") == ["first", "urgent"]
        await h.inject("d", payload="after reset")
        assert h.payloads("d")[-1] == "after reset"


async def test_rate_queue_status_shows_depth():
    async with FlowHarness(delay(pauseType="rate", rate="1", rateUnits="second")) as h:
        for i in range(4):
            h.send("d", {"payload": i})
        await h.settle()
        await h.advance(0.5)
        assert h.status("d") == {"fill": "blue", "shape": "dot", "text": "3"}


async def test_allowrate_lets_msg_rate_change_the_interval():
    async with FlowHarness(delay(pauseType="rate", rate="1", rateUnits="second",
                                 allowrate=True)) as h:
        h.send("d", {"payload": 0})
        h.send("d", {"payload": 1, "rate": 100})
        h.send("d", {"payload": 2})
        await h.settle()
        await h.advance(0.21)
        assert h.payloads("d") == [0, 1, 2]


async def test_rate_drop_mode_drops_or_sends_to_second_output():
    async with FlowHarness(delay(pauseType="rate", rate="1", rateUnits="second",
                                 drop=True, outputs=2)) as h:
        for i in range(3):
            await h.inject("d", payload=i)
        await h.advance(1.01)
        await h.inject("d", payload=3)
        assert h.payloads("d") == [0, 3]
        assert h.payloads("d", 1) == [1, 2]
        assert h.node("d").dropped == 2
    async with FlowHarness(delay(pauseType="rate", rate="1", drop=True)) as h:
        await h.inject("d", payload=0)
        await h.inject("d", payload=1)
        await h.inject("d", reset=True)
        await h.inject("d", payload=2)
        assert h.payloads("d") == [0, 2]


async def test_burst_passes_up_to_rate_then_blocks_for_the_period():
    async with FlowHarness(delay(pauseType="burst", rate="2", nbRateUnits="1",
                                 rateUnits="second")) as h:
        for i in range(3):
            await h.inject("d", payload=i)
        assert h.payloads("d") == [0, 1]
        assert h.status("d")["fill"] == "red"
        await h.advance(1)
        await h.inject("d", payload=3)
        assert h.payloads("d") == [0, 1, 3]


async def test_queue_mode_sends_latest_of_each_topic_in_turn():
    async with FlowHarness(delay(pauseType="queue", rate="1", rateUnits="second")) as h:
        for topic, payload in (("a", 1), ("b", 2), ("a", 3), ("c", 4)):
            h.send("d", {"topic": topic, "payload": payload})
        await h.settle()
        assert h.payloads("d") == []
        await h.advance(1)
        assert h.payloads("d") == [3]  # the later "a" replaced the first, in its place
        await h.advance(2)
        assert h.payloads("d") == [3, 2, 4]
        assert h.payloads("done") == [1, 3, 2, 4]


async def test_timed_mode_sends_every_topic_each_period():
    async with FlowHarness(delay(pauseType="timed", rate="1", rateUnits="second",
                                 outputs=2)) as h:
        for topic, payload in (("a", 1), ("b", 2), ("a", 3)):
            h.send("d", {"topic": topic, "payload": payload})
        h.send("d", {"payload": "no topic"})
        await h.settle()
        await h.advance(1)
        assert h.payloads("d") == [3, 2, "no topic"]
        assert h.outputs("d")[2]["topic"] == "_none_"
        assert h.payloads("d", 1) == [1]


async def test_queue_flush_and_reset():
    async with FlowHarness(delay(pauseType="queue", rate="1", rateUnits="minute")) as h:
        for topic in "abc":
            h.send("d", {"topic": topic, "payload": topic})
        await h.settle()
        await h.inject("d", topic="x", flush=True)
        assert h.payloads("d") == ["a", "b", "c"]  # the bare flush message is not sent
        h.send("d", {"topic": "a", "payload": 1})
        await h.inject("d", topic="y", reset=True)
        assert h.status("d") == {"text": "reset"}
        await h.advance(120)
        assert h.payloads("d") == ["a", "b", "c"]


async def test_buffer_limit_reports_and_discards():
    settings = {"nodeMessageBufferMaxLength": 2}
    flow = [*delay(pauseType="rate", rate="1"),
            {"id": "c", "type": "catch", "z": "t1", "x": 1, "y": 1, "scope": None,
             "wires": [[]]}]
    async with FlowHarness(flow, settings=settings) as h:
        for i in range(4):
            h.send("d", {"payload": i})
        await h.settle()
        # 0 passes, 1 and 2 queue, 3 overflows: the queue is discarded (Node-RED's rule).
        assert [m["error"]["message"] for m in h.outputs("c")] == [
            "too many pending messages in delay node"]
        await h.advance(5)
        assert h.payloads("d") == [0]
        assert h.node("d").dropped == 3
    async with FlowHarness(delay(pauseType="delay", timeout="1"), settings=settings) as h:
        for i in range(3):
            h.send("d", {"payload": i})
        await h.settle()
        await h.advance(2)
        assert h.payloads("d") == [0, 1]  # timers: the newest message is refused
        assert h.errors[0]["msg"] == "too many pending messages in delay node"


async def test_close_completes_held_messages():
    async with FlowHarness(delay(pauseType="delay", timeout="60")) as h:
        await h.inject("d", payload=1)
        clock = h.clock
        await h.deploy([TAB])
        assert clock.pending() == 0
        assert h.payloads("done") == [1]


async def test_invalid_rate_fails_the_deploy_with_a_clear_message():
    import pytest

    from flowrt.errors import DeployError

    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match="rate must be a positive number"):
            await h.deploy(delay(pauseType="rate", rate="0"))
