"""anomaly: warm-up, detection of known outliers in seeded synthetic data for every
method, per-key models, bad values, bounded memory."""

from __future__ import annotations

import random
import statistics

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
OUTLIERS = {120: 10.0, 200: -9.0, 250: 12.0, 333: -10.0}


def flow(**config):
    return [TAB, {"id": "an", "type": "anomaly", "z": "t1", "x": 0, "y": 0, "wires": [[], []],
                  **config}]


def synthetic(seed=42, n=400, outliers=OUTLIERS):
    """Readings around 20 with a std of 0.5, and large spikes at known positions."""
    rng = random.Random(seed)
    return [20 + rng.gauss(0, 0.5) + outliers.get(i, 0.0) for i in range(n)]


async def scores(config, readings, topic="dev"):
    """Run readings through an anomaly node; return both outputs and the node."""
    async with FlowHarness(flow(**config)) as h:
        for value in readings:
            h.send("an", {"topic": topic, "payload": value})
        await h.settle()
        return h.outputs("an"), h.outputs("an", 1), h.node("an"), h


@pytest.mark.parametrize("method", ["zscore", "ewma", "mad"])
async def test_known_outliers_are_found_and_nothing_else(method):
    config = {"method": method, "threshold": 6, "minSamples": 30}
    out, flagged, _, _ = await scores(config, synthetic())
    assert len(out) == 400
    found = {i for i, m in enumerate(out) if m["anomaly"]["isAnomaly"]}
    assert found == set(OUTLIERS)
    assert [m["payload"] for m in flagged] == [out[i]["payload"] for i in sorted(OUTLIERS)]
    assert all(m["anomaly"]["method"] == method for m in out)


@pytest.mark.parametrize("method", ["zscore", "ewma", "mad"])
async def test_no_verdict_during_warm_up(method):
    readings = [20.0, 20.1, 19.9, 20.2, 19.8, 25.0, 20.1, 19.9, 20.0, 20.1, 90.0]
    out, flagged, _, _ = await scores({"method": method, "minSamples": 10, "window": 20},
                                   readings)
    assert [m["anomaly"]["score"] for m in out[:10]] == [None] * 10
    assert [m["payload"] for m in flagged] == [90.0]  # the first reading with a verdict
    assert out[0]["anomaly"] == {"score": None, "isAnomaly": False, "mean": None,
                                 "std": None, "method": method}


async def test_zscore_reports_the_window_mean_and_std_before_the_reading():
    readings = [10.0, 12.0, 14.0, 16.0, 30.0]
    out, _, _, _ = await scores({"method": "zscore", "minSamples": 4, "window": 4}, readings)
    last = out[-1]["anomaly"]
    assert last["mean"] == pytest.approx(13.0)
    assert last["std"] == pytest.approx(statistics.pstdev(readings[:4]))
    assert last["score"] == pytest.approx(17.0 / statistics.pstdev(readings[:4]))
    assert last["isAnomaly"] is True


async def test_mad_centres_on_the_median_and_ignores_earlier_spikes():
    readings = [20.0, 20.5, 19.5, 21.0, 19.0, 100.0, 20.0, 23.0]
    out, _, _, _ = await scores({"method": "mad", "minSamples": 5, "window": 10}, readings)
    last = out[-1]["anomaly"]  # history: 20, 20.5, 19.5, 21, 19, 100, 20
    assert last["mean"] == 20.0
    assert last["std"] == pytest.approx(1.4826 * 0.5)
    assert last["score"] == pytest.approx(3.0 / (1.4826 * 0.5))


async def test_models_are_per_key():
    async with FlowHarness(flow(minSamples=5, threshold=4)) as h:
        rng = random.Random(1)
        for _ in range(30):
            h.send("an", {"topic": "cold", "payload": 5 + rng.gauss(0, 0.2)})
            h.send("an", {"topic": "hot", "payload": 80 + rng.gauss(0, 0.2)})
        await h.settle()
        assert h.outputs("an", 1) == []
        await h.inject("an", topic="cold", payload=80.0)  # normal for "hot", not for "cold"
        assert [m["topic"] for m in h.outputs("an", 1)] == ["cold"]
        assert h.status("an")["text"] == "1 anomalies, 2 keys"


async def test_several_properties_are_scored_separately():
    readings = [{"t": 20 + (i % 3) * 0.1, "h": 50 + (i % 2)} for i in range(20)]
    readings.append({"t": 20.1, "h": 90})
    out, flagged, _, _ = await scores(
        {"properties": ["payload.t", "payload.h"], "minSamples": 10}, readings)
    last = out[-1]["anomaly"]
    assert last["isAnomaly"] is True and last["method"] == "zscore"
    assert last["fields"]["t"]["isAnomaly"] is False
    assert last["fields"]["h"]["isAnomaly"] is True
    assert len(flagged) == 1


async def test_non_numeric_and_missing_values_are_reported_counted_and_passed_on():
    out, flagged, node, h = await scores({"minSamples": 2}, [20, 21, "n/a", None, 20.5])
    assert len(out) == 5 and flagged == []
    assert out[2]["anomaly"]["score"] is None and out[2]["anomaly"]["mean"] == 20.5
    assert [w["msg"] for w in h.warnings] == ["payload is not a number ('n/a'): not scored",
                                              "payload is not a number (None): not scored"]
    assert node.rejected == 2
    # Only the three numbers entered the model: the next reading sees their spread.
    out, _, _, _ = await scores({"minSamples": 2}, [20, 21, "n/a", None, 20.5, 20])
    assert out[5]["anomaly"]["std"] == pytest.approx(statistics.pstdev([20, 21, 20.5]))


async def test_memory_is_bounded_by_window_and_max_keys():
    async with FlowHarness(flow(window=5, minSamples=3, maxKeys=3)) as h:
        for i in range(50):
            h.send("an", {"topic": f"k{i % 4}", "payload": float(i)})
        await h.settle()
        # Four keys take turns at three places, so each was evicted before it came back:
        # the three most recently seen hold their last value only...
        for key, last in (("k3", 47), ("k0", 48), ("k1", 49)):
            await h.inject("an", topic=key, payload=0.0)
            assert h.outputs("an")[-1]["anomaly"]["mean"] == last
        # ...and k2, the least recently seen, is gone: its model starts empty.
        await h.inject("an", topic="k2", payload=0.0)
        assert h.outputs("an")[-1]["anomaly"]["mean"] is None
        # A model keeps the last `window` values only.
        for i in range(50):
            h.send("an", {"topic": "one", "payload": float(i)})
        await h.inject("an", topic="one", payload=0.0)
        assert h.outputs("an")[-1]["anomaly"]["mean"] == statistics.mean(range(45, 50))


@pytest.mark.parametrize(("config", "error"), [
    ({"minSamples": 100, "window": 60}, r"minSamples \(100\) cannot exceed window \(60\)"),
    ({"method": "ewma", "alpha": 0}, r"alpha must be in \(0, 1\]"),
    ({"key": "a["}, "invalid property expression 'a\\['"),
])
async def test_bad_config_fails_the_deploy(config, error):
    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match=error):
            await h.deploy(flow(**config))
