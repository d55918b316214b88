"""Fast checks of the benchmark harness's own logic (no processes, no timing)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bench import flows, measure, report
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
            "steps": [{"target_rate": 5000.0, "delivered_frac": 1.0, "offered_rate": 5000.0,
                       "delivered_rate": 4900.0},
                      {"target_rate": 10000.0, "delivered_frac": 1.0, "offered_rate": 10000.0,
                       "delivered_rate": 7000.0}],
            "latency": {"lost": 0, "cpu_pct": 5.0, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": p99}}


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
    assert rows["lat_p99_ms"]["ratio"] == pytest.approx(2.0 / 3.5)
    assert rows["idle_rss_mb"]["met"] is True  # 50 / 100 = 0.5
    assert rows["sustained_rate"]["flowrt"] == 5000.0
    doc = {"meta": {"date": "today"}, "summary": list(rows.values()), "runs": runs,
           "durable_queue": {"enqueue_per_s": 1234.5}}
    text = report.markdown(doc)
    assert "| relay | burst: delivered (msg/s) | 20,000 | 20,000 | 1.00x |" in text
    assert "relay / nodered / repeat 2: boom" in text
    assert "enqueue_per_s" in text
    assert "| relay | flowrt | 4,900 | 7,000 |" in text  # paced rates: medians per step
    json.dumps(doc)  # the result document must stay JSON-serialisable


def test_smoke_options() -> None:
    cfg = parse_args(["--smoke"])
    assert cfg.smoke and cfg.scenarios == ["relay"] and cfg.repeats == 1
    cfg = parse_args(["--scenarios", "relay,big", "--only", "nodered", "--repeats", "2"])
    assert cfg.scenarios == ["relay", "big"] and cfg.runtimes == ["nodered"]
    with pytest.raises(SystemExit):
        parse_args(["--scenarios", "nope"])
