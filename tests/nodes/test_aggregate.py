"""aggregate: count, tumbling and sliding windows on the fake clock, groups, rejected
values, eviction, flushing, event time, and statistics checked against plain Python."""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import struct
from pathlib import Path

import numpy as np
import pytest
from flowrt_nodes.aggregate import pairwise_sum, summarize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
T0 = 1_767_225_600.0  # the FakeClock's start: a whole minute
T0_MS = int(T0 * 1000)
ALL_STATS = ["count", "min", "max", "mean", "sum", "stddev", "median", "p90", "p95", "p99",
             "first", "last", "rate"]


def agg(**config):
    return [TAB, {"id": "a", "type": "aggregate", "z": "t1", "x": 0, "y": 0, "wires": [[]],
                  **config}]


async def test_seed_pattern_60_readings_a_minute_become_one_message_per_device_minute():
    async with FlowHarness(agg(window="tumbling", size=60, property="payload.temperature",
                               stats=["count", "mean", "min", "max"])) as h:
        for second in range(180):
            for device in ("d1", "d2", "d3"):
                h.send("a", {"topic": device, "payload": {"temperature": 20 + second % 60}})
            await h.settle()
            await h.advance(1)
        out = h.outputs("a")
        assert len(out) == 9
        assert sorted((m["topic"], m["payload"]["windowStart"]) for m in out) == sorted(
            (d, T0_MS + minute * 60_000) for d in ("d1", "d2", "d3") for minute in range(3))
        first = out[0]["payload"]
        assert first["count"] == 60 and "rejected" not in first
        assert first["windowEnd"] - first["windowStart"] == 60_000
        assert first["temperature"] == {"count": 60, "mean": 49.5, "min": 20.0, "max": 79.0}


async def test_message_exactly_on_a_boundary_opens_the_next_window():
    async with FlowHarness(agg(size=10, stats=["count", "first", "last"])) as h:
        await h.inject("a", topic="x", payload=1)  # at T0, itself a boundary
        await h.advance(9.999)
        await h.inject("a", topic="x", payload=2)
        await h.advance(0.001)  # T0 + 10: the window [T0, T0+10) closes on the clock
        await h.inject("a", topic="x", payload=3)
        await h.advance(10)
        windows = [m["payload"] for m in h.outputs("a")]
        assert [(w["windowStart"] - T0_MS, w["payload"]["first"], w["payload"]["last"])
                for w in windows] == [(0, 1.0, 2.0), (10_000, 3.0, 3.0)]


async def test_windows_close_on_the_clock_without_traffic_and_idle_nodes_keep_no_timer():
    async with FlowHarness(agg(size=60)) as h:
        for value in (3, 1, 2):
            await h.inject("a", topic="x", payload=value)
        await h.advance(59)
        assert h.outputs("a") == []
        await h.advance(1)
        assert [m["payload"]["payload"] for m in h.outputs("a")] == [
            {"count": 3, "min": 1.0, "max": 3.0, "mean": 2.0}]
        await h.advance(600)
        assert len(h.outputs("a")) == 1  # no empty windows unless asked for
        assert h.clock.pending() == 0
        assert h.status("a")["text"] == "0 groups, 1 windows"


async def test_emit_empty_reports_quiet_windows_of_known_groups():
    async with FlowHarness(agg(size=10, emitEmpty=True, stats=["count", "mean", "sum", "rate"])
                           ) as h:
        await h.inject("a", topic="x", payload=4)
        await h.advance(30)
        assert [m["payload"]["payload"] for m in h.outputs("a")] == [
            {"count": 1, "mean": 4.0, "sum": 4.0, "rate": 0.1},
            {"count": 0, "mean": None, "sum": 0.0, "rate": 0.0},
            {"count": 0, "mean": None, "sum": 0.0, "rate": 0.0}]
        assert [m["payload"]["windowStart"] - T0_MS for m in h.outputs("a")] == [
            0, 10_000, 20_000]


async def test_count_windows_close_on_the_nth_message_per_group():
    async with FlowHarness(agg(window="count", size=3, stats=["count", "sum", "rate"])) as h:
        for i in range(7):
            h.send("a", {"topic": "even" if i % 2 == 0 else "odd", "payload": i})
            await h.advance(1)
        out = h.outputs("a")
        assert [(m["topic"], m["payload"]["payload"]["sum"]) for m in out] == [
            ("even", 6.0), ("odd", 9.0)]
        assert out[0]["payload"]["windowEnd"] - out[0]["payload"]["windowStart"] == 4000
        assert out[0]["payload"]["payload"]["rate"] == 0.75  # 3 values over 4 s


async def test_non_numeric_and_missing_values_are_left_out_and_reported_once_per_window():
    async with FlowHarness(agg(size=10, properties=["payload.t", "payload.h"],
                               stats=["count", "mean"])) as h:
        for payload in ({"t": 20, "h": 50}, {"t": "hot", "h": 52}, {"h": "54"},
                        {"t": math.inf, "h": True}, "garbage", {"t": "21.0", "h": 48}):
            await h.inject("a", topic="dev", payload=payload)
        await h.advance(10)
        window = h.outputs("a")[0]["payload"]
        # count: the messages that gave a number ("garbage" gave none); the five rejected
        # values are reported through the warning, the status and /metrics only.
        assert set(window) == {"group", "windowStart", "windowEnd", "count", "t", "h"}
        assert window["count"] == 5
        assert h.node("a").metrics()["rejected_total"] == 5
        assert window["t"] == {"count": 2, "mean": 20.5}
        assert window["h"] == {"count": 5, "mean": 41.0}  # 50, 52, "54", true (1), 48
        assert len(h.warnings) == 1
        assert "group 'dev': payload.t is not a number ('hot')" in h.warnings[0]["msg"]
        await h.inject("a", topic="dev", payload={"t": None, "h": 1})
        await h.advance(10)
        assert len(h.warnings) == 2  # reported again in the next window
        assert h.status("a")["fill"] == "yellow"
        assert h.status("a")["text"].endswith(", 6 rejected")


async def test_a_count_window_closes_on_its_nth_numeric_value():
    async with FlowHarness(agg(window="count", size=2, stats=["count", "sum"])) as h:
        for value in (1, "n/a", None, 2, "x", 3):
            await h.inject("a", topic="s", payload=value)
        windows = [m["payload"] for m in h.outputs("a")]
        assert [(w["count"], w["payload"]) for w in windows] == [(2, {"count": 2, "sum": 3.0})]
        assert h.node("a").metrics()["rejected_total"] == 3


async def test_many_groups_evict_the_least_recently_updated_and_flush_it():
    async with FlowHarness(agg(window="count", size=100, maxGroups=3, groupBy="payload.dev",
                               property="payload.v", stats=["count"])) as h:
        for dev in ("a", "b", "c", "a", "d", "e"):
            await h.inject("a", payload={"dev": dev, "v": 1})
        flushed = [m["payload"] for m in h.outputs("a")]
        assert [(p["group"], p["count"], p["partial"]) for p in flushed] == [
            ("b", 1, True), ("c", 1, True)]
    # Closing flushes the three groups still held: the most recently updated ones.
    assert sorted(m["payload"]["group"] for m in h.outputs("a")[2:]) == ["a", "d", "e"]


@pytest.mark.parametrize(("window", "expected", "warning"), [
    ("tumbling", {"count": 3, "payload": {"count": 3, "max": 3.0}},
     "group 'x': more than 3 messages (maxSamples); left out of the window"),
    ("sliding", {"count": 3, "payload": {"count": 3, "max": 5.0}},
     "group 'x': more than 3 values in the window (maxSamples); the oldest are dropped"),
])
async def test_values_per_group_and_window_are_bounded(window, expected, warning):
    async with FlowHarness(agg(window=window, size=10, slide=10, maxSamples=3,
                               stats=["count", "max"])) as h:
        for value in range(1, 6):
            await h.inject("a", topic="x", payload=value)
        await h.advance(10)
        window_msg = h.outputs("a")[0]["payload"]
        assert {k: window_msg[k] for k in expected} == expected
        assert h.warnings[0]["msg"].startswith(warning)


async def test_partial_windows_are_flushed_on_redeploy_unless_disabled():
    flow = agg(size=60, stats=["count"])
    async with FlowHarness(flow) as h:
        await h.inject("a", topic="x", payload=1)
        await h.advance(30)
        changed = agg(size=60, stats=["count"], name="renamed", flushOnClose=False)
        await h.deploy(changed, "nodes")
        window = h.outputs("a")[0]["payload"]
        assert window["partial"] is True and window["count"] == 1
        assert window["windowEnd"] - window["windowStart"] == 30_000
        await h.inject("a", topic="x", payload=1)
        await h.deploy(agg(size=60, stats=["count"]), "nodes")
        assert len(h.outputs("a")) == 1
        assert h.clock.pending() == 0  # the closed node's timer was cancelled


async def test_sliding_windows_emit_the_last_size_seconds_every_slide():
    async with FlowHarness(agg(window="sliding", size=10, slide=5,
                               stats=["count", "min", "max"])) as h:
        for value in range(1, 13):  # one value a second, t = 0..11
            await h.inject("a", topic="x", payload=value)
            await h.advance(1)
        await h.advance(20)
        windows = [(m["payload"]["windowStart"] - T0_MS, m["payload"]["payload"])
                   for m in h.outputs("a")]
        assert windows == [
            (-5000, {"count": 5, "min": 1.0, "max": 5.0}),
            (0, {"count": 10, "min": 1.0, "max": 10.0}),
            (5000, {"count": 7, "min": 6.0, "max": 12.0}),
            (10_000, {"count": 2, "min": 11.0, "max": 12.0})]
        assert h.clock.pending() == 0 and h.status("a")["text"].startswith("0 groups,")


async def test_sliding_window_flushes_its_current_contents_on_close():
    async with FlowHarness(agg(window="sliding", size=10, slide=5, stats=["count"])) as h:
        await h.advance(2)
        await h.inject("a", topic="x", payload=1)
        await h.deploy(agg(window="sliding", size=10, slide=5, stats=["count", "sum"]), "nodes")
        window = h.outputs("a")[0]["payload"]
        assert window["partial"] and window["payload"] == {"count": 1}


async def test_event_time_places_messages_by_their_timestamp_and_drops_late_ones():
    past = T0_MS - 3_600_000
    async with FlowHarness(agg(size=60, timeProperty="ts", stats=["count", "sum"])) as h:
        for offset, value in ((0, 1), (59_999, 2), (60_000, 4), (30_000, 8), (61_000, 16)):
            await h.inject("a", topic="x", payload=value, ts=past + offset)
        await h.inject("a", topic="x", payload=32, ts="yesterday")
        assert [(m["payload"]["windowStart"], m["payload"]["payload"]) for m in h.outputs("a")
                ] == [(past, {"count": 2, "sum": 3.0})]
        await h.advance(60)  # the clock closes the second window too
        assert h.outputs("a")[1]["payload"]["payload"] == {"count": 2, "sum": 20.0}
        assert [w["msg"].split(":")[0] for w in h.warnings] == [
            "late message for group 'x'", "ts is not a time in ms ('yesterday')"]
        await h.inject("a", topic="x", payload=1, ts=past + 120_000)  # before the clock tick
        assert any("late message" in w["msg"] for w in h.warnings[2:])


async def test_properties_with_the_same_last_segment_keep_their_full_paths():
    async with FlowHarness(agg(window="count", size=1, groupBy="",
                               properties=["payload.a.v", "payload.b.v", "payload.c"],
                               outputTopic="stats")) as h:
        await h.inject("a", payload={"a": {"v": 1}, "b": {"v": 2}, "c": 3})
        msg = h.outputs("a")[0]
        assert msg["topic"] == "stats"
        assert set(msg["payload"]) == {"group", "windowStart", "windowEnd", "count",
                                       "payload.a.v", "payload.b.v", "c"}


@pytest.mark.parametrize(("config", "error"), [
    ({"size": 0}, "size must be a positive number of seconds"),
    ({"window": "count", "size": 2.5}, "size must be a positive whole number"),
    ({"window": "sliding", "size": 10, "slide": 0}, "slide must be a positive"),
    ({"groupBy": "a..b["}, "invalid property expression 'a..b\\['"),
])
async def test_bad_config_fails_the_deploy_with_a_clear_error(config, error):
    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match=error):
            await h.deploy(agg(**config))


# ------------------------------------------------------- statistics vs plain Python
def percentile(values, q):
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def reference(values, seconds):
    return {"count": len(values), "min": min(values), "max": max(values),
            "mean": statistics.fmean(values), "sum": math.fsum(values),
            "stddev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "median": statistics.median(values), "p90": percentile(values, 90),
            "p95": percentile(values, 95), "p99": percentile(values, 99),
            "first": values[0], "last": values[-1], "rate": len(values) / seconds}


READINGS = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-1000, 1000),
                     st.sampled_from(["n/a", None, "12.5"]))


async def feed(stream, size):
    async with FlowHarness(agg(window="count", size=size, stats=ALL_STATS)) as h:
        for value in stream:
            h.send("a", {"topic": "s", "payload": value})
            await h.advance(0.5)
        return [m["payload"] for m in h.outputs("a")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.lists(READINGS, min_size=1, max_size=60), size=st.integers(1, 20))
def test_statistics_match_a_plain_python_reference(stream, size):
    windows = asyncio.run(feed(stream, size))
    # A window closes on its size-th numeric value; rejected values are not in it.
    arrivals = [(0.5 * i, float(v)) for i, v in enumerate(stream)
                if v is not None and v != "n/a"]
    assert len(windows) == len(arrivals) // size
    for n, window in enumerate(windows):
        chunk = arrivals[n * size:(n + 1) * size]
        numbers = [value for _, value in chunk]
        assert window["count"] == size and "rejected" not in window
        got = window["payload"]
        seconds = chunk[-1][0] - chunk[0][0]
        expected = reference(numbers, seconds or math.inf)
        if not seconds:
            assert got.pop("rate") is None  # one message: no duration to divide by
            del expected["rate"]
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-5)


# ------------------------------------------------------------------ the example flow
async def test_example_flow_edge_sensors_summarises_each_device_once_a_minute():
    """flows/edge-sensors.json without its MQTT nodes, run for three simulated minutes."""
    flows = json.loads((Path(__file__).parents[2] / "flows" / "edge-sensors.json").read_text())
    mqtt = {n["id"] for n in flows if n["type"] in ("mqtt out", "mqtt-broker")}
    flows = [n for n in flows if n["id"] not in mqtt]
    for n in flows:
        if "wires" in n:
            n["wires"] = [[t for t in port if t not in mqtt] for port in n["wires"]]
    async with FlowHarness(flows) as h:
        await h.advance(0.5)  # the inject fires once at 0.5 s, then every second
        for _ in range(180):
            await h.advance(1)
        readings = h.outputs("edge-sim")
        assert len(readings) == 3 * 181
        summaries = [m["payload"] for m in h.outputs("edge-aggregate")]
        assert len(summaries) == 9
        assert {(s["group"], s["windowStart"]) for s in summaries} == {
            (f"sensors/{d}", T0_MS + 60_000 * minute)
            for d in ("press-1", "press-2", "chiller") for minute in range(3)}
        assert all(s["count"] == 60 and s["temperature"]["count"] == 60 for s in summaries)
        forwarded = len(h.outputs("edge-filter"))
        assert 3 <= forwarded < len(readings) / 10  # the jitter stays at the edge
        assert h.errors == [] and h.warnings == []


# ------------------------------------------------- the same figures numpy computed
FINITE = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


def bits(value):
    return struct.pack("<d", value)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(FINITE, min_size=1, max_size=700))
def test_sum_and_mean_are_bit_for_bit_numpys(values):
    """The statistics used to be numpy's; sum and mean still are, to the last bit (numpy
    adds pairwise in blocks of eight, which neither fsum nor sum does)."""
    array = np.array(values, dtype=float)
    got = summarize(values, ("count", "min", "max", "mean", "sum", "first", "last"), None)
    assert bits(got["sum"]) == bits(float(array.sum()))
    assert bits(got["mean"]) == bits(float(array.mean()))
    assert (got["min"], got["max"]) == (float(array.min()), float(array.max()))
    assert (got["first"], got["last"], got["count"]) == (values[0], values[-1], len(values))


def test_sum_matches_numpy_across_its_block_and_recursion_sizes():
    rng = random.Random(7)
    for n in (*range(1, 140), 255, 256, 257, 1000, 8191, 8192, 8193, 100_000):
        values = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8) for _ in range(n)]
        assert bits(pairwise_sum(values)) == bits(float(np.array(values).sum())), n


def test_min_and_max_of_signed_zeros_may_differ_from_numpy_in_sign_only():
    """The one documented difference: between 0.0 and -0.0 (equal numbers) numpy's
    min/max keep the later, Python's the earlier; the value is the same."""
    got = summarize([0.0, -0.0], ("min", "max", "sum"), None)
    assert (got["min"], got["max"]) == (0.0, 0.0)
    assert math.copysign(1, got["min"]) == 1 and math.copysign(1, np.array([0.0, -0.0]).min()) == -1
    assert bits(got["sum"]) == bits(float(np.array([0.0, -0.0]).sum()))


@settings(max_examples=100, deadline=None)
@given(values=st.lists(FINITE.filter(lambda v: abs(v) < 1e150), min_size=1, max_size=200))
def test_stddev_and_percentiles_are_numpys(values):
    array = np.array(values, dtype=float)
    got = summarize(values, ("stddev", "median", "p90", "p95", "p99"), None)
    assert got["stddev"] == (float(array.std(ddof=1)) if len(values) > 1 else 0.0)
    assert [got[s] for s in ("median", "p90", "p95", "p99")] == \
        np.percentile(array, [50, 90, 95, 99]).tolist()
