"""batch: the cases of Node-RED's 19-batch_spec.js (count, interval on the fake clock,
concat, reset, buffer bound, completion), sequences that join turns back into arrays,
and Node-RED's batch examples with the output Node-RED 4.1.15 gives."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError, FlowValidationError
from flowrt.testing import FlowHarness
from tests.nodes.nodered_examples import example_flow, fire_all

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
TOO_MANY = "too many pending messages in batch node"


def node(id_, type_, wires=(), **config):
    return {"id": id_, "type": type_, "z": "t1", "x": 1, "y": 1,
            "wires": [list(w) for w in wires] or [[]], **config}


def batch(**config):
    """A batch node `b` (the spec's settings as defaults) with catch and complete nodes."""
    base = {"mode": "count", "count": 2, "overlap": 0, "interval": 10,
            "allowEmptySequence": False, "topics": []}
    return [TAB, node("b", "batch", **{**base, **config}),
            node("c", "catch", scope=["b"]), node("done", "complete", scope=["b"])]


def sequences(h: FlowHarness) -> list[list]:
    """What `b` sent, as payload lists, one per sequence, checking msg.parts on the way:
    index counts up from 0 to count - 1, every message of a sequence has the same id,
    and no message object was sent twice."""
    out = h.outputs("b")
    assert len({id(m) for m in out}) == len(out)
    result: list[list] = []
    counts: list[int] = []
    for msg in out:
        parts = msg["parts"]
        if parts["index"] == 0:
            result.append([])
            counts.append(parts["count"])
            first = msg
        assert parts["id"] == first["parts"]["id"]
        assert parts["index"] == len(result[-1])
        assert parts["count"] == counts[-1]
        result[-1].append(msg["payload"])
    assert [len(seq) for seq in result] == counts
    return result


# ------------------------------------------------------------------- count
async def count_six(**config):
    async with FlowHarness(batch(**config)) as h:
        for i in range(6):
            await h.inject("b", payload=i, parts={"count": 6, "index": i})
        return sequences(h)


async def test_count():
    assert await count_six(count=2) == [[0, 1], [2, 3], [4, 5]]


async def test_count_more_sent_than_count():
    assert await count_six(count=4) == [[0, 1, 2, 3]]


async def test_count_ends_early_at_the_end_of_a_sequence_with_honour_parts():
    assert await count_six(count=4, honourParts=True) == [[0, 1, 2, 3], [4, 5]]


async def test_count_with_overlap():
    assert await count_six(count=3, overlap=2) == [[0, 1, 2], [1, 2, 3], [2, 3, 4],
                                                   [3, 4, 5]]


async def test_sequence_id_is_the_first_messages_msgid_and_other_parts_keys_stay():
    async with FlowHarness(batch(count=2)) as h:
        await h.inject("b", payload=0, _msgid="first", parts={"type": "array", "len": 1})
        await h.inject("b", payload=1, _msgid="second")
        out = h.outputs("b")
        assert [m["parts"] for m in out] == [
            {"type": "array", "len": 1, "id": "first", "index": 0, "count": 2},
            {"id": "first", "index": 1, "count": 2}]
        assert [m["_msgid"] for m in out] == ["first", "second"]


async def test_count_too_many_pending_messages():
    async with FlowHarness(batch(count=5), settings={"nodeMessageBufferMaxLength": 2}) as h:
        for i in range(3):
            await h.inject("b", payload=i)
        assert h.outputs("b") == []
        assert [(m["payload"], m["error"]["message"]) for m in h.outputs("c")] == [
            (2, TOO_MANY)]
        assert h.payloads("done") == [0, 1]
        for i in range(3, 8):  # the buffer was emptied: counting starts again
            await h.inject("b", payload=i)
        assert h.payloads("c") == [2, 5]


async def test_count_reset():
    async with FlowHarness(batch(count=2, interval=0)) as h:
        for msg in ({"payload": 0}, {"payload": 1}, {"payload": 2},
                    {"payload": 3, "reset": True}, {"payload": 4}, {"payload": 5}):
            await h.inject("b", msg)
        assert sequences(h) == [[0, 1], [4, 5]]
        assert sorted(h.payloads("done")) == [0, 1, 2, 3, 4, 5]


async def test_count_completion_waits_for_the_batch():
    async with FlowHarness(batch(count=2)) as h:
        await h.inject("b", payload=0)
        assert h.payloads("done") == []
        await h.inject("b", payload=1)
        assert h.payloads("done") == [0, 1]


async def test_overlapping_messages_complete_when_they_leave_the_buffer():
    async with FlowHarness(batch(count=3, overlap=2)) as h:
        for i in range(4):
            await h.inject("b", payload=i)
        assert h.payloads("done") == [0, 1]


@pytest.mark.parametrize(("config", "message"), [
    ({"count": 2, "overlap": 2}, "Invalid count and overlap"),
    ({"count": "0"}, "Invalid count"),
    ({"count": 3, "overlap": "-1"}, "Invalid overlap"),
    ({"mode": "interval", "interval": "0"}, "Invalid interval"),
    ({"mode": "interval", "interval": ""}, "Invalid interval"),
])
async def test_invalid_configuration_fails_the_node(config, message):
    with pytest.raises(DeployError, match=message):
        async with FlowHarness(batch(**config)):
            pass


@pytest.mark.parametrize(("config", "message"), [
    ({"count": "x"}, r"\$\[1\]\.count: 'x' is not a valid integer"),
    ({"mode": "sometimes"}, r"\$\[1\]\.mode: 'sometimes' is not one of"),
])
async def test_configuration_the_schema_refuses(config, message):
    with pytest.raises(FlowValidationError, match=message):
        async with FlowHarness(batch(**config)):
            pass


async def test_keys_left_out_take_node_reds_runtime_defaults():
    async with FlowHarness([TAB, node("b", "batch")]) as h:  # count mode, count 1
        await h.inject("b", payload="x")
        assert [m["parts"]["count"] for m in h.outputs("b")] == [1]


# ---------------------------------------------------------------- interval
async def send_every(h: FlowHarness, step: float, payloads) -> None:
    """Node-RED's delayed_send: each message `step` seconds after the previous one."""
    for payload in payloads:
        await h.advance(step)
        await h.inject("b", payload=payload)


@pytest.mark.parametrize(("interval", "step"), [(1, 0.45), (0.5, 0.225)])
async def test_interval(interval, step):
    async with FlowHarness(batch(mode="interval", count=0, interval=interval)) as h:
        await send_every(h, step, range(4))
        await h.advance(interval)
        assert sequences(h) == [[0, 1], [2, 3]]


@pytest.mark.parametrize(("allow_empty", "expected"), [
    (False, [[0], [1], [2], [3]]),
    (True, [[None], [0], [1], [2], [None], [3]])])
async def test_interval_empty_sequences(allow_empty, expected):
    async with FlowHarness(batch(mode="interval", interval=1,
                                 allowEmptySequence=allow_empty)) as h:
        await send_every(h, 1.3, range(4))  # 1.3, 2.6, 3.9, 5.2; ticks at 1, 2 ... 6
        await h.advance(1)
        assert sequences(h) == expected
        empty = [m for m in h.outputs("b") if m["payload"] is None]
        assert all(set(m) == {"_msgid", "payload", "parts"} for m in empty)
        assert len({m["parts"]["id"] for m in empty}) == len(empty)


async def test_interval_too_many_pending_messages():
    async with FlowHarness(batch(mode="interval", interval=1),
                           settings={"nodeMessageBufferMaxLength": 2}) as h:
        for i in range(3):
            await h.inject("b", payload=i)
        assert [(m["payload"], m["error"]["message"]) for m in h.outputs("c")] == [
            (2, TOO_MANY)]
        assert h.payloads("done") == [0, 1]
        await h.advance(1)
        assert h.outputs("b") == []


async def test_interval_reset_discards_and_restarts_the_interval():
    async with FlowHarness(batch(mode="interval", interval=1)) as h:
        await send_every(h, 0.4, range(3))  # 0.4, 0.8 | tick at 1 | 1.2
        await h.advance(0.41)
        await h.inject("b", payload="3", reset=True)  # at 1.61: the next tick is at 2.61
        await send_every(h, 0.4, (4, 5))  # 2.01, 2.41
        await h.advance(0.3)
        assert sequences(h) == [[0, 1], [4, 5]]
        assert sorted(map(str, h.payloads("done"))) == ["0", "1", "2", "3", "4", "5"]


async def test_interval_messages_complete_when_sent():
    async with FlowHarness(batch(mode="interval", interval=2)) as h:
        await h.inject("b", payload=0)
        await h.advance(0.5)
        await h.inject("b", payload=1)
        assert h.payloads("done") == []
        await h.advance(1.5)
        assert h.payloads("done") == [0, 1]


async def test_closing_stops_the_interval_and_completes_held_messages():
    async with FlowHarness(batch(mode="interval", interval=1)) as h:
        await h.inject("b", payload=0)
        held = list(h.node("b")._queue)
        await h.deploy([TAB])
        assert held[0][1].done()
        await h.advance(5)
        assert h.outputs("b") == []


# ------------------------------------------------------------------ concat
def concat_flow(*topics, **config):
    return batch(mode="concat", interval=1, topics=[{"topic": t} for t in topics], **config)


async def concat(h: FlowHarness, inputs) -> None:
    for topic, payload, index, count in inputs:
        await h.inject("b", topic=topic, payload=payload,
                       parts={"id": topic, "index": index, "count": count})


@pytest.mark.parametrize("inputs", [
    [("TB", 0, 0, 2), ("TB", 1, 1, 2), ("TA", 2, 0, 2), ("TA", 3, 1, 2)],  # series
    [("TA", 2, 0, 2), ("TB", 0, 0, 2), ("TA", 3, 1, 2), ("TB", 1, 1, 2)],  # mixed
])
async def test_concat_two_sequences(inputs):
    async with FlowHarness(concat_flow("TA", "TB")) as h:
        await concat(h, inputs)
        assert sequences(h) == [[2, 3, 0, 1]]
        assert sorted(h.payloads("done")) == [0, 1, 2, 3]


async def test_concat_three_sequences():
    async with FlowHarness(concat_flow("TA", "TB", "TC")) as h:
        await concat(h, [("TC", 4, 0, 1), ("TB", 0, 0, 2), ("TB", 1, 1, 2),
                         ("TA", 2, 0, 2), ("TA", 3, 1, 2)])
        assert sequences(h) == [[2, 3, 0, 1, 4]]


async def test_concat_the_same_sequence_twice():
    async with FlowHarness(concat_flow("TA", "TA")) as h:
        await concat(h, [("TA", 9, 0, 2), ("TA", 8, 1, 2)])
        assert sequences(h) == [[9, 8, 9, 8]]  # copies: four distinct messages
        assert h.payloads("done") == [9, 8]
        await concat(h, [("TA", 7, 0, 2), ("TA", 6, 1, 2)])  # the next one works too
        assert sequences(h)[1:] == [[7, 6, 7, 6]]


async def test_concat_keeps_arrival_order_within_a_sequence_and_copies():
    async with FlowHarness(concat_flow("TA")) as h:
        await concat(h, [("TA", "b", 1, 2), ("TA", "a", 0, 2)])
        out = h.outputs("b")
        assert [m["payload"] for m in out] == ["b", "a"]  # Node-RED does not reorder
        assert out[0]["parts"]["id"] == out[0]["_msgid"]


async def test_concat_waits_for_the_first_sequence_of_each_topic():
    async with FlowHarness(concat_flow("TA", "TB")) as h:
        await concat(h, [("TA", 1, 0, 1)])
        await h.inject("b", topic="TA", payload=2, parts={"id": "second", "index": 0,
                                                          "count": 1})
        await concat(h, [("TB", 3, 0, 1)])
        assert sequences(h) == [[1, 3]]
        await h.inject("b", topic="TB", payload=4, parts={"id": "x", "index": 0,
                                                          "count": 1})
        assert sequences(h) == [[1, 3], [2, 4]]


async def test_concat_message_without_parts_is_an_error():
    async with FlowHarness(concat_flow("TA")) as h:
        await h.inject("b", topic="TA", payload=1, parts={"id": "x", "index": 0})
        await h.inject("b", topic="TA", payload=2)
        assert [m["error"]["message"] for m in h.outputs("c")] == [
            "no parts property in message"] * 2


async def test_concat_other_topics_are_warned_about_and_not_sent():
    async with FlowHarness(concat_flow("TA")) as h:
        await concat(h, [("TZ", 1, 0, 1)])
        await h.inject("b", payload=2, parts={"id": "x", "index": 0, "count": 1})
        assert h.outputs("b") == [] and h.outputs("c") == []
        assert [w["msg"] for w in h.warnings] == [
            "batch: msg.topic 'TZ' is not one of the topics to concatenate; message not sent",
            "batch: msg.topic 'undefined' is not one of the topics to concatenate; "
            "message not sent"]
        assert h.payloads("done") == [1, 2]


async def test_concat_too_many_pending_messages():
    async with FlowHarness(concat_flow("TA", "TB"),
                           settings={"nodeMessageBufferMaxLength": 2}) as h:
        for i in range(3):
            for topic in ("TA", "TB"):
                await h.inject("b", topic=topic, payload=f"{topic}{i}",
                               parts={"id": topic, "index": i, "count": 3})
        # TA0 TB0 TA1: overflow; TB1 TA2: kept; TB2: overflow again.
        assert [(m["payload"], m["error"]["message"]) for m in h.outputs("c")] == [
            ("TA1", TOO_MANY), ("TB2", TOO_MANY)]
        assert sorted(h.payloads("done")) == ["TA0", "TA2", "TB0", "TB1"]
        assert h.outputs("b") == []


async def test_concat_overflow_does_not_send_the_sequence_it_completes():
    async with FlowHarness(concat_flow("TA"), settings={"nodeMessageBufferMaxLength": 2}) as h:
        await concat(h, [("TA", 0, 0, 3), ("TA", 1, 1, 3), ("TA", 2, 2, 3)])
        assert h.outputs("b") == []
        assert h.payloads("c") == [2]
        assert h.payloads("done") == [0, 1]


async def test_concat_reset():
    async with FlowHarness(concat_flow("TA", "TB")) as h:
        await concat(h, [("TB", 0, 0, 2), ("TA", 1, 0, 2)])
        await h.inject("b", reset=True)
        await concat(h, [("TB", 0, 0, 2), ("TB", 1, 1, 2), ("TA", 2, 0, 2),
                         ("TA", 3, 1, 2)])
        assert sequences(h) == [[2, 3, 0, 1]]
        assert sorted(h.payloads("done"), key=str) == [0, 0, 1, 1, 2, 3, None]


# --------------------------------------------------------- batch → join round trips
async def test_batches_join_back_into_arrays():
    flow = [TAB, node("b", "batch", [["j"]], mode="count", count="3", overlap="1"),
            node("j", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        for i in range(7):
            await h.inject("b", payload=i)
        assert h.payloads("j") == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
        assert all("parts" not in m for m in h.outputs("j"))


async def test_interval_batches_join_back_into_arrays():
    flow = [TAB, node("b", "batch", [["j"]], mode="interval", interval="2",
                      allowEmptySequence=True),
            node("j", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        await h.inject("b", payload="a")
        await h.inject("b", payload="b")
        await h.advance(4)
        assert h.payloads("j") == [["a", "b"], [None]]


async def test_concatenated_split_sequences_join_back():
    flow = [TAB, node("s", "split", [["b"]]),
            node("b", "batch", [["j"]], mode="concat",
                 topics=[{"topic": "two"}, {"topic": "one"}]),
            node("j", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        await h.inject("s", topic="one", payload=[1, 2])
        await h.inject("s", topic="two", payload="a\nb\nc")
        # The first sequence's parts (type string, ch "\n") make the result a string.
        assert h.payloads("j") == ["a\nb\nc\n1\n2"]


# ------------------------------------------------------- Node-RED's example flows
async def test_node_red_example_number_based_group_mode():
    flow = example_flow("sequence__batch__01---Number-based-group-mode.json")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        # Node-RED 4.1.15: the joins' payloads, in order.
        assert h.payloads("8f4f683.99d1998") == [list(range(i, i + 5))
                                                  for i in range(0, 30, 5)]
        assert h.payloads("4cb873e6.f9996c") == [list(range(i, i + 5))
                                                  for i in range(0, 25, 4)]
        for batch_id, step in (("74853568.22b87c", 5), ("53645699.a35c48", 4)):
            out = h.outputs(batch_id)
            assert [m["parts"]["index"] for m in out] == [0, 1, 2, 3, 4] * (len(out) // 5)
            assert all(m["parts"]["count"] == 5 for m in out)
            assert [m["payload"] for m in out[::5]] == list(range(0, 30 - 5 + 1, step))
            for start in range(0, len(out), 5):
                assert {m["parts"]["id"] for m in out[start:start + 5]} == {
                    out[start]["_msgid"]}
        assert len(h.outputs("53645699.a35c48")) == 35  # 28 and 29 wait for more
        assert h.errors == [] and h.warnings == []


async def test_node_red_example_time_based_group_mode():
    """A delay node lets one message a second through; the batch sends what arrived in
    each 5 s interval (its phase from deploy): Node-RED sent 0-4, 5-9, ... 25-29."""
    flow = example_flow("sequence__batch__02---Time-based-group-mode.json")
    async with FlowHarness(flow) as h:
        await h.advance(0.5)  # off the interval's phase, as a click in the editor is
        await fire_all(h, flow)
        for _ in range(35):
            await h.advance(1)
        assert h.payloads("9223c119.c5268") == [list(range(i, i + 5))
                                                 for i in range(0, 30, 5)]
        assert h.errors == [] and h.warnings == []


async def test_node_red_example_concatenate_mode():
    flow = example_flow("sequence__batch__03---Concatenate-mode.json")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        assert h.payloads("f4d6dba4.7e8ab8") == [[1, 2, 3, 4, 5, 1, 2, 3, 4, 5]]
        assert h.payloads("7f1ce95c.7ddbc8") == [[-6, -8, -3, 1, 7, 2]]
        assert [m["topic"] for m in h.outputs("3412e439.eda55c")] == ["NEG"] * 3 + ["POS"] * 3
        assert h.errors == [] and h.warnings == []
