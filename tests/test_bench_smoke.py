"""Fast checks of the benchmark harness's own logic (no timing; one sleeping child process
to pin)."""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import flows, measure, proc, report, runtimes
from bench.run import parse_args
from bench.scenarios import SCENARIOS

BENCH_FLOWS = Path(__file__).resolve().parent.parent / "bench" / "flows"


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [([1.0], 99, 1.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([0.0, 10.0], 95, 9.5),
     ([5.0, 6.0, 7.0], 0, 5.0), ([5.0, 6.0, 7.0], 100, 7.0)],
)
def test_percentile_interpolates_like_numpy(values: list[float], p: float,
                                            expected: float) -> None:
    assert measure.percentile(values, p) == pytest.approx(expected)


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        measure.percentile([], 50)
    with pytest.raises(ValueError):
        measure.percentile([1.0], 101)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"1700000000123456", 1700000000123456.0),
     (b'{"count":100,"min":1,"max":1700000000000001,"mean":5}', 1700000000000001.0),
     (b'{"stats":{"payload":{"max":42}}}', 42.0),
     (b'{"topic":"t","payload":1700000000000002,"ts":1700000000000,"_sfid":"x"}',
      1700000000000002.0),
     (b'{"temperature":70.7,"sent":1700000000000003}', 1700000000000003.0),
     (b"not a timestamp", None), (b'{"count":3}', None)],
)
def test_sent_time_from_payload(payload: bytes, expected: float | None) -> None:
    assert measure.sent_time_us(payload) == expected


def test_reading_scenarios_keep_the_send_time_beside_the_reading() -> None:
    stamped = SCENARIOS["function"].latency_payload(1700000000000004)
    assert json.loads(stamped) == {"temperature": 21.5, "sent": 1700000000000004}
    assert measure.sent_time_us(stamped.encode()) == 1700000000000004.0
    assert SCENARIOS["jsonata"].latency_payload is SCENARIOS["function"].latency_payload


def test_latency_figures_from_records() -> None:
    sent = 1_700_000_000.0
    records = [(sent + (i + 1) / 1000, str(int(sent * 1e6)).encode()) for i in range(100)]
    figures = measure.latency_figures(records)
    assert figures["samples"] == 100
    assert figures["p50_ms"] == pytest.approx(50.5, abs=0.01)
    assert figures["max_ms"] == pytest.approx(100.0, abs=0.01)


def _deadband_passes(values: list[float], gap: float) -> int:
    """Node-RED's rbe deadband with inout "out": passes when |v - last output| > gap."""
    last, passed = None, 0
    for v in values:
        if last is None or abs(v - last) > gap:
            last, passed = v, passed + 1
    return passed


@pytest.mark.parametrize("n", [1, 2, 999, 20_000])
def test_filter_expected_count_matches_deadband(n: int) -> None:
    scenario = SCENARIOS["filter"]
    values = [float(scenario.burst_payload(i)) for i in range(n)]
    assert scenario.expected_outputs(n) == _deadband_passes(values, 0.5)


def test_bridge_payloads_cross_the_threshold() -> None:
    scenario = SCENARIOS["bridge"]
    values = [int(scenario.burst_payload(i)) for i in range(1000)]
    crossings = sum(1 for a, b in itertools.pairwise(values)
                    if (a > flows.THRESHOLD) != (b > flows.THRESHOLD))
    assert crossings == 19  # alerts happen, but only readings are counted
    assert scenario.expected_outputs(1000) == 1000


def test_committed_flow_files_are_current() -> None:
    for name, flow in flows.flow_files().items():
        path = BENCH_FLOWS / name
        assert path.exists(), f"run `python -m bench.flows` to write {name}"
        assert path.read_text() == flows.dumps(flow), f"{name} is stale: python -m bench.flows"


def test_flows_reference_their_wires_and_brokers() -> None:
    for name, flow in flows.flow_files().items():
        ids = {node["id"] for node in flow}
        assert len(ids) == len(flow), name
        for node in flow:
            for output in node.get("wires", []):
                assert set(output) <= ids, (name, node["id"])
            if "broker" in node and node["type"] != "mqtt-broker":
                assert node["broker"] in ids, (name, node["id"])
    big = flows.big(1883)
    assert sum(1 for node in big if "z" in node) == 1000


def _run(runtime: str, repeat: int, rate: float, p99: float, rss: float) -> dict[str, object]:
    return {"scenario": "relay", "runtime": runtime, "repeat": repeat, "ok": True,
            "ready_s": 1.0, "idle_rss_mb": rss,
            "burst": {"offered_rate": 50_000.0, "delivered_rate": rate, "delivered_frac": 1.0,
                      "cpu_us_per_msg": 10.0},
            "burst_pinned": {"offered_rate": 50_000.0, "delivered_rate": rate / 2,
                             "delivered_frac": 1.0, "cpu_us_per_msg": rss / 10},
            "steady": [{"rate": 500.0, "offered_rate": 500.0, "cpu_pct": rss / 20,
                        "cpu_us_per_msg": 7.0, "lost": 0},
                       {"rate": 2000.0, "offered_rate": 1990.0, "cpu_pct": rss / 10,
                        "cpu_us_per_msg": 6.0, "lost": 1,
                        "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": p99}]}


def test_summary_medians_ratios_and_targets() -> None:
    runs = [_run("flowrt", 0, 30_000.0, 2.0, 40.0), _run("nodered", 0, 20_000.0, 4.0, 100.0),
            _run("flowrt", 1, 10_000.0, 3.0, 60.0), _run("nodered", 1, 20_000.0, 3.0, 100.0),
            _run("flowrt", 2, 20_000.0, 1.0, 50.0),
            {"scenario": "relay", "runtime": "nodered", "repeat": 2, "ok": False,
             "error": "boom"}]
    rows = {row["metric"]: row for row in report.summarise(runs)}
    rate = rows["burst_delivered_rate"]
    assert rate["flowrt"] == 20_000.0 and rate["nodered"] == 20_000.0
    assert rate["ratio"] == pytest.approx(1.0) and rate["met"] is True
    assert rate["per_repeat_ratios"] == pytest.approx([1.5, 0.5])
    assert rows["pinned_rate"]["flowrt"] == 10_000.0
    assert rows["lat_p99_ms"]["ratio"] == pytest.approx(2.0 / 3.5)
    assert rows["lat_p99_ms"]["met"] is False  # target ≤ 0.5x
    assert rows["idle_rss_mb"]["met"] is False  # 50 / 100 = 0.5 > 0.35
    # CPU at 2k msg/s: medians 5% against 10%, ≤ 0.6x met; per message in the pinned burst
    assert rows["steady2000_cpu_pct"]["ratio"] == pytest.approx(0.5)
    assert rows["steady2000_cpu_pct"]["met"] is True
    assert rows["steady500_cpu_us"]["flowrt"] == 7.0
    assert rows["pinned_cpu_us_per_msg"]["ratio"] == pytest.approx(0.5)
    assert rows["steady_lost"]["flowrt"] == 1
    doc = {"meta": {"date": "today"}, "summary": list(rows.values()), "runs": runs,
           "durable_queue": {"enqueue_per_s": 1234.5}}
    text = report.markdown(doc)
    assert "| relay | burst: delivered (msg/s) | 20,000 | 20,000 | 1.00x |" in text
    assert "| CPU at a steady 2,000 msg/s (% of a core) | 5.0 | 10.0 | 0.50x | 0.40, 0.60 |" \
        in text
    assert "relay / nodered / repeat 2: boom" in text
    assert "enqueue_per_s" in text
    assert "flowrt-asyncio" not in text
    json.dumps(doc)  # the result document must stay JSON-serialisable


def test_the_asyncio_loop_variant_gets_its_own_columns_and_ratios() -> None:
    runs = [_run("flowrt", 0, 30_000.0, 2.0, 40.0), _run("nodered", 0, 20_000.0, 4.0, 100.0),
            _run("flowrt-asyncio", 0, 25_000.0, 3.0, 45.0)]
    runs[0]["event_loop"], runs[2]["event_loop"] = "uvloop", "asyncio"
    rows = {row["metric"]: row for row in report.summarise(runs)}
    variant = rows["burst_delivered_rate"]["variants"]["flowrt-asyncio"]
    assert variant["flowrt"] == 25_000.0 and variant["ratio"] == pytest.approx(1.25)
    assert rows["burst_delivered_rate"]["ratio"] == pytest.approx(1.5)  # flowrt itself
    text = report.markdown({"summary": list(rows.values()), "runs": runs})
    assert "| metric | flowrt | Node-RED | ratio | per-repeat ratios | flowrt-asyncio | ratio |" \
        in text
    assert "| burst: delivered (msg/s) | 30,000 | 20,000 | 1.50x | 1.50 | 25,000 | 1.25x |" in text
    assert "flowrt on uvloop, flowrt-asyncio on asyncio" in text


def test_steady_rates_window_marks_fall_inside_the_run() -> None:
    with pytest.raises(ValueError):
        measure.publish_paced(1, "t", 100.0, 1.0, marks=(0.5, 1.5))


def test_smoke_options() -> None:
    cfg = parse_args(["--smoke"])
    assert cfg.smoke and cfg.scenarios == ["relay"] and cfg.repeats == 1
    assert cfg.runtimes == ["flowrt", "nodered"]
    cfg = parse_args(["--scenarios", "relay,big", "--only", "nodered", "--repeats", "2"])
    assert cfg.scenarios == ["relay", "big"] and cfg.runtimes == ["nodered"]


def test_full_run_defaults_are_the_sceptics() -> None:
    cfg = parse_args([])
    assert cfg.repeats == 3 and cfg.pin and cfg.burst_n == 100_000
    assert cfg.scenarios == ["relay", "filter", "fanout", "aggregate", "groups", "tabs"]
    assert cfg.runtimes == ["flowrt", "flowrt-asyncio", "nodered"]
    assert cfg.steady_rates == [500.0, 2_000.0, 5_000.0]
    assert "http" in parse_args(["--scenarios", "all"]).scenarios
    cfg = parse_args(["--runtimes", "flowrt,flowrt-asyncio", "--no-pin", "--window", "2"])
    assert cfg.runtimes == ["flowrt", "flowrt-asyncio"] and not cfg.pin and cfg.window_s == 2


def test_group_scenario_fills_every_group_equally() -> None:
    scenario = SCENARIOS["groups"]
    n = flows.GROUPS * flows.AGGREGATE_SIZE // 2
    groups = [json.loads(scenario.burst_payload(i))["g"] for i in range(n)]
    assert len(set(groups)) == flows.GROUPS
    assert all(count == flows.AGGREGATE_SIZE // 2
               for count in collections.Counter(groups).values())
    tabs = flows.tabs(1883)
    assert sum(1 for node in tabs if node["type"] == "tab") == 100
    assert sum(1 for node in tabs if "z" in node) == 1000
    with pytest.raises(SystemExit):
        parse_args(["--scenarios", "nope"])


def test_every_flowrt_variant_runs_flowrts_flow_file() -> None:
    assert runtimes.flow_flavour("flowrt-asyncio") == runtimes.flow_flavour("flowrt") == "flowrt"
    assert runtimes.flow_flavour("nodered") == "nodered"
    assert any(n["type"] == "aggregate" for n in flows.aggregate(1883, "flowrt"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores")
def test_pinning_puts_the_runtime_on_one_core_and_everything_else_on_the_others() -> None:
    cores = sorted(os.sched_getaffinity(0))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with proc.pinned(child.pid, []) as sides:
            assert sides == {"runtime": cores[:1], "infrastructure": cores[1:]}
            assert os.sched_getaffinity(child.pid) == set(cores[:1])
            assert os.sched_getaffinity(0) == set(cores[1:])
        assert os.sched_getaffinity(child.pid) == os.sched_getaffinity(0) == set(cores)
    finally:
        child.kill()
        child.wait(timeout=5)
