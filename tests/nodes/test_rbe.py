"""rbe ("filter"): Node-RED's own rbe_spec.js scenarios, the quirks recorded in
nodered.md §4.4, and flowrt's `fields` and `maxInterval` additions."""

from __future__ import annotations

import math
import random

import pytest
from flowrt_nodes.rbe import js_equal

from flowrt.jsvalue import js_string, parse_float
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def rbe(**config):
    return [TAB, {"id": "n1", "type": "rbe", "z": "t1", "x": 0, "y": 0, "wires": [[]], **config}]


async def run(config, messages):
    """Feed messages to an rbe node; return the messages it sent and the harness."""
    async with FlowHarness(rbe(**config)) as h:
        for msg in messages:
            h.send("n1", dict(msg))
        await h.settle()
        return h.outputs("n1"), h


def payloads_of(values):
    return [{"payload": v} for v in values]


# ------------------------------------------------------------ rbe_spec.js scenarios
async def test_1_defaults():
    async with FlowHarness(rbe(name="rbe1")) as h:
        node = h.node("n1")
        assert node.config["func"] == "rbe"
        assert node.label == "rbe1"
    # The default gap is a fixed 0: in deadband any change passes, in deadbandEq all do.
    out, _ = await run({"func": "deadband"}, payloads_of([1, 1, 1.5, 1.5, 1]))
    assert [m["payload"] for m in out] == [1, 1.5, 1]
    out, _ = await run({"func": "deadbandEq"}, payloads_of([1, 1, 1]))
    assert [m["payload"] for m in out] == [1, 1, 1]


async def test_2_rbe_blocks_repeats_per_topic():
    values = ["a", "a", "a", 2, 2, {"b": 1, "c": 2}, {"c": 2, "b": 1}, {"c": 2, "b": 1},
              True, False, False, True]
    out, _ = await run({"func": "rbe"}, payloads_of(values))
    assert [m["payload"] for m in out] == ["a", 2, {"b": 1, "c": 2}, True, False, True]
    topics = [{"topic": t, "payload": 1} for t in ("a", "b", "b", "a", "c")]
    out, _ = await run({"func": "rbe"}, topics)
    assert [m["topic"] for m in out] == ["a", "b", "c"]


async def test_3_septopics_false_uses_one_stream():
    msgs = [{"topic": t, "payload": "a"} for t in "abc"]
    msgs += [{"topic": "a", "payload": 2}, {"topic": "b", "payload": 2}]
    msgs += [{"topic": "a", "payload": {"b": 1, "c": 2}},
             {"topic": "b", "payload": {"c": 2, "b": 1}},
             {"topic": "c", "payload": {"c": 2, "b": 1}}]
    msgs += [{"topic": t, "payload": v} for t, v in zip("abcd", [True, False, False, True],
                                                         strict=True)]
    msgs += [{"topic": t, "payload": 1} for t in "abcd"] + [{"topic": "a", "payload": 2}]
    out, _ = await run({"func": "rbe", "septopics": False}, msgs)
    assert [(m["topic"], m["payload"]) for m in out] == [
        ("a", "a"), ("a", 2), ("a", {"b": 1, "c": 2}), ("a", True), ("b", False), ("d", True),
        ("a", 1), ("a", 2)]


async def test_4_other_property_and_messages_without_it_are_ignored():
    obj = {"b": 1, "c": 2}
    msgs = [{"foo": "a"}, {"payload": "a"}, {"foo": "a"}, {"payload": "a"}, {"foo": "a"},
            {"foo": "b"}, {"foo": obj}, {"foo": {"c": 2, "b": 1}}, {"payload": obj}]
    out, h = await run({"func": "rbe", "property": "foo"}, msgs)
    assert [m["foo"] for m in out] == ["a", "b", obj]
    assert h.warnings == []


async def test_5_rbei_absorbs_the_first_value_per_topic():
    pairs = [("a", "a"), ("a", "b"), ("a", "a"), ("b", "a"), ("b", "b"), ("c", "a"), ("c", "b")]
    out, _ = await run({"func": "rbei"}, [{"payload": p, "topic": t} for p, t in pairs])
    assert [(m["payload"], m["topic"]) for m in out] == [("b", "a"), ("b", "b"), ("c", "a"),
                                                          ("c", "b")]


async def test_6_reset_clears_one_topic_or_everything():
    msgs = [{"topic": "a", "payload": "a"}, {"topic": "a", "payload": "a"},
            {"topic": "b", "payload": "b"}, {"reset": True},
            {"topic": "a", "payload": "a"}, {"topic": "b", "payload": "b"},
            {"topic": "b", "payload": "b"}, {"topic": "b", "reset": ""},
            {"topic": "b", "payload": "b"}, {"topic": "a", "payload": "a"}, {"reset": ""},
            {"topic": "b", "payload": "b"}, {"topic": "a", "payload": "a"}, {"topic": "c"},
            {"topic": "b", "payload": "b"}, {"topic": "a", "payload": "a"},
            {"topic": "c", "payload": "c"}]
    out, _ = await run({"func": "rbe"}, msgs)
    assert [m["payload"] for m in out] == ["a", "b", "a", "b", "b", "b", "a", "c"]


async def test_7_deadband_eq():
    out, _ = await run({"func": "deadbandEq", "gap": "10", "inout": "out"},
                       payloads_of([0, 2, 4, 6, 8, 10, 15, 20]))
    assert [m["payload"] for m in out] == [0, 10, 20]


async def test_8_deadband_reads_numbers_like_parse_float():
    out, _ = await run({"func": "deadband", "gap": "10"},
                       payloads_of([0, 2, 4, "6 deg", 8, 20, 15, "5 deg"]))
    assert [m["payload"] for m in out] == [0, 20, "5 deg"]


async def test_9_deadband_percent_gap():
    out, _ = await run({"func": "deadband", "gap": "10%"},
                       payloads_of([100, 95, 105, 111, 120, 135]))
    assert [m["payload"] for m in out] == [100, 111, 135]


async def test_10_non_numeric_value_warns_and_is_dropped():
    out, h = await run({"func": "deadband", "gap": "10"}, payloads_of(["banana"]))
    assert out == []
    assert [(w["id"], w["type"], w["msg"]) for w in h.warnings] == [
        ("n1", "rbe", "no number found in payload")]


async def test_11_narrowband_eq_with_start():
    out, _ = await run({"func": "narrowbandEq", "gap": "10", "start": "1", "inout": "out"},
                       payloads_of([100, 0, 10, 5, 15, 10, 20, 25]))
    assert [m["payload"] for m in out] == [0, 5, 10]


async def test_12_narrowband():
    out, _ = await run({"func": "narrowband", "gap": "10"},
                       payloads_of([0, 20, 40, "6 deg", 18, 20, 50, "5 deg"]))
    assert [m["payload"] for m in out] == [0, "6 deg", "5 deg"]


async def test_13_narrowband_gap_zero():
    out, _ = await run({"func": "narrowband", "gap": "0"}, payloads_of([1, 1, 1, 1, 0, 1]))
    assert [m["payload"] for m in out] == [1, 1, 1, 1, 1]


async def test_14_narrowband_inout_in_with_start():
    out, _ = await run({"func": "narrowband", "gap": "10", "inout": "in", "start": "500"},
                       payloads_of([50, 55, 200, 205]))
    assert [m["payload"] for m in out] == [55, 205]


async def test_start_is_read_as_javascript_numbers_it():
    # rbe.js computes n - node.start on the start text, so "0x10" is 16 as in Number().
    out, _ = await run({"func": "narrowbandEq", "gap": "10", "start": "0x10"},
                       payloads_of([100, 20, 30]))
    assert [m["payload"] for m in out] == [20]


async def test_stream_keys_are_javascript_strings_of_the_topic():
    # rbe.js keys node.previous by the topic, so 1e21 and "1e+21" are one stream.
    msgs = [{"topic": 1e21, "payload": 1}, {"topic": "1e+21", "payload": 1},
            {"topic": 1, "payload": 1}, {"topic": "1", "payload": 1}]
    out, _ = await run({"func": "rbe"}, msgs)
    assert [m["topic"] for m in out] == [1e21, 1]


async def test_property_may_start_with_msg_as_get_message_property_allows():
    out, _ = await run({"func": "rbe", "property": "msg.payload"}, payloads_of([1, 1, 2]))
    assert [m["payload"] for m in out] == [1, 2]


# --------------------------------------------------------- extra quirks from the mock
@pytest.mark.parametrize(("config", "values", "expected"), [
    ({"func": "rbe"}, [{}, {}, {"a": 1}], [{"a": 1}]),
    ({"func": "rbe"}, ["1", 1, 1, "1"], ["1", 1, "1"]),
    ({"func": "deadband", "gap": ""}, [5, 5, 6, 6.5], [5, 6, 6.5]),
    ({"func": "deadbandEq", "gap": "10", "inout": "in"}, [0, 5, 10, 15, 25, 26], [0, 25]),
    ({"func": "rbe"}, [1, True, 1.0, None, None, [1], [1], "x"], [1, True, 1.0, None, [1], "x"]),
    ({"func": "deadband", "gap": 2}, [[5], "7", "7.5e0", 9.6], [[5], "7.5e0", 9.6]),
])
async def test_recorded_edge_cases(config, values, expected):
    out, _ = await run(config, payloads_of(values))
    assert [m["payload"] for m in out] == expected


async def test_reset_uses_msg_topic_not_topi():
    msgs = [{"dev": "x", "payload": 1}, {"dev": "x", "reset": True}, {"dev": "x", "payload": 1},
            {"dev": "x", "topic": "x", "reset": True}, {"dev": "x", "payload": 1}]
    out, _ = await run({"func": "rbe", "topi": "dev"}, msgs)
    assert len(out) == 2  # the first reset named no msg.topic: stream x kept its value


async def test_numeric_topics_share_a_stream_with_their_text():
    out, _ = await run({"func": "rbe"}, [{"topic": 1, "payload": 5}, {"topic": "1", "payload": 5},
                                         {"topic": 0, "payload": 5}, {"topic": "", "payload": 5}])
    assert len(out) == 2


async def test_output_is_the_original_message_unmodified():
    out, _ = await run({"func": "deadband", "gap": "1"},
                       [{"payload": "3 V", "topic": "t", "extra": {"k": [1]}}])
    assert out[0]["payload"] == "3 V" and out[0]["extra"] == {"k": [1]}


def test_javascript_helpers():
    assert parse_float(" -12.5e1xyz") == -125.0
    assert parse_float(".5") == 0.5 and parse_float("Infinity") == math.inf
    assert math.isnan(parse_float(True)) and math.isnan(parse_float({"a": 1}))
    assert parse_float(["6 deg", 2]) == 6
    assert js_string(1.0) == "1" and js_string([1, None, "a"]) == "1,,a"
    assert js_equal({"a": [1, {"b": 2}]}, {"a": [1.0, {"b": 2}]})
    assert not js_equal({"a": True}, {"a": 1}) and not js_equal(math.nan, math.nan)


# --------------------------------------------------------------- flowrt additions
SEED_FIELDS = [{"property": "payload.temperature", "gap": 0.5},
               {"property": "payload.humidity", "gap": "2"},
               {"property": "payload.vibration", "gap": 10}]


async def test_fields_pass_when_any_field_moves_past_its_gap():
    readings = [
        {"temperature": 20.0, "humidity": 50, "vibration": 100},  # first: passes
        {"temperature": 20.4, "humidity": 51.9, "vibration": 109},  # nothing moved enough
        {"temperature": 20.4, "humidity": 52.1, "vibration": 100},  # humidity moved 2.1
        {"temperature": 20.9, "humidity": 52.1, "vibration": 100},  # temperature 0.5: no
        {"temperature": 21.0, "humidity": 52.1, "vibration": 100},  # 0.6 from 20.4: yes
        {"vibration": 111},  # vibration alone, 11 from 100: yes
        {"temperature": "warm"},  # no number: warned, dropped
    ]
    msgs = [{"topic": "dev1", "payload": r} for r in readings]
    out, h = await run({"func": "deadband", "fields": SEED_FIELDS}, msgs)
    assert [m["payload"] for m in out] == [readings[i] for i in (0, 2, 4, 5)]
    assert [w["msg"] for w in h.warnings] == ["no number found in payload.temperature"]


async def test_fields_state_is_per_topic_and_inout_in_compares_with_last_received():
    msgs = [{"topic": t, "payload": {"temperature": v}}
            for t, v in [("a", 20), ("b", 30), ("a", 20.3), ("a", 20.6), ("b", 30.4)]]
    out, _ = await run({"func": "deadband", "inout": "in", "fields": SEED_FIELDS[:1]}, msgs)
    assert [(m["topic"], m["payload"]["temperature"]) for m in out] == [("a", 20), ("b", 30)]


async def test_max_interval_passes_a_heartbeat_per_stream():
    async with FlowHarness(rbe(func="rbe", maxInterval="60")) as h:
        for _ in range(3):
            for topic in ("a", "b"):
                h.send("n1", {"topic": topic, "payload": 1})
            await h.advance(25)
        # a and b passed at t=0; at t=75 nothing has passed for 60 s or more
        assert [m["topic"] for m in h.outputs("n1")] == ["a", "b"]
        await h.advance(10)
        await h.inject("n1", topic="a", payload=1)
        await h.inject("n1", topic="a", payload=1)
        assert [m["topic"] for m in h.outputs("n1")] == ["a", "b", "a"]


async def test_max_interval_heartbeat_in_band_mode_updates_the_reference():
    async with FlowHarness(rbe(func="deadband", gap="5", maxInterval=10)) as h:
        for value in (20, 21, 22):
            await h.inject("n1", payload=value)
            await h.advance(6)
        # 22 arrived at t=12 (≥ 10 s after 20 passed) and passed as a heartbeat; the
        # reference is now 22, so 26 is within the gap and blocked.
        await h.inject("n1", payload=26)
        assert h.payloads("n1") == [20, 22]


async def test_seed_pattern_jitter_within_gap_passes_only_a_handful():
    rng = random.Random(7)
    msgs = [{"topic": f"sensor{d}", "payload": {"temperature": 21.0 + rng.uniform(-0.1, 0.1)}}
            for _ in range(600) for d in range(3)]
    out, _ = await run({"func": "deadband", "fields": SEED_FIELDS[:1]}, msgs)
    assert len(out) == 3  # 1800 jittery readings: one per sensor
    single, _ = await run({"func": "deadband", "gap": "0.5", "property": "payload.temperature"},
                          msgs)
    assert len(single) == 3


async def test_bad_property_path_fails_the_deploy():
    from flowrt.errors import DeployError

    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match="invalid property expression 'payload\\[x'"):
            await h.deploy(rbe(property="payload[x"))
