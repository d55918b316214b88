"""threshold: level sequences with hysteresis and cooldown, escalation, passthrough,
bad values, status, and state kept across redeploys and restarts."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
T0_MS = 1_767_225_600_000
TEMP = {"property": "payload.temperature", "direction": "above", "warning": 30,
        "critical": "40", "hysteresis": 2, "label": "temperature"}


def flow(rules=(TEMP,), **config):
    return [TAB,
            {"id": "th", "type": "threshold", "z": "t1", "x": 0, "y": 0, "wires": [[], []],
             "rules": list(rules), **config},
            {"id": "other", "type": "junction", "z": "t1", "x": 0, "y": 0, "wires": [[]]}]


async def feed(h, readings, key="dev1", every=10.0, prop="temperature"):
    """Send (value) readings ``every`` seconds apart; return the alert levels per reading."""
    levels = []
    for value in readings:
        before = len(h.outputs("th"))
        await h.inject("th", topic=key, payload={prop: value})
        levels.append(",".join(m["level"] for m in h.outputs("th")[before:]) or "-")
        await h.advance(every)
    return levels


async def test_normal_warning_critical_warning_clear_with_hysteresis_and_cooldown():
    async with FlowHarness(flow(cooldown=60)) as h:
        readings = [25, 31, 32, 41, 39, 37.5, 29, 29, 29, 29, 29, 29, 29, 28.5, 27.9, 20]
        assert await feed(h, readings) == [
            "-", "warning", "-", "critical",  # escalations alert at once
            "-",         # 39 is within the hysteresis of critical (40 - 2): still critical
            "warning",   # 37.5 dropped below 38: one alert for the change of level
            "-", "-", "-", "-", "-",  # 29 stays warning (28 < 29): repeats need 60 s
            "warning",   # 60 s after the last warning alert
            "-",
            "-",         # 28.5 is not past 30 - 2 yet
            "clear", "-"]
        clear = h.outputs("th")[-1]
        assert clear["topic"] == "alert/dev1/temperature"
        assert clear["payload"] == {
            "key": "dev1", "metric": "temperature", "level": "clear", "value": 27.9,
            "threshold": 30.0, "direction": "above", "timestamp": T0_MS + 140_000,
            "message": "dev1 temperature back to normal (27.9)"}
        critical = h.outputs("th")[1]
        assert critical["payload"]["threshold"] == 40.0 and critical["payload"]["value"] == 41
        assert critical["payload"]["message"] == \
            "dev1 temperature 41 above critical threshold 40"


async def test_escalation_is_never_held_back_and_repeats_wait_for_the_cooldown():
    async with FlowHarness(flow(cooldown=30)) as h:
        assert await feed(h, [31, 45, 46, 47, 48, 49], every=8) == [
            "warning", "critical", "-", "-", "-", "critical"]


async def test_below_rules_and_a_single_threshold():
    rule = {"property": "payload", "direction": "below", "critical": 10, "hysteresis": 1}
    async with FlowHarness(flow([rule], cooldown=0)) as h:
        levels = []
        for value in (12, 9.5, 10.5, 11.5, 9):
            before = len(h.outputs("th"))
            await h.inject("th", topic="tank", payload=value)
            levels.append(",".join(m["level"] for m in h.outputs("th")[before:]) or "-")
        assert levels == ["-", "critical", "critical", "clear", "critical"]
        assert h.outputs("th")[0]["topic"] == "alert/tank/payload"


async def test_passthrough_carries_every_message_unchanged_unless_disabled():
    async with FlowHarness(flow()) as h:
        msgs = [{"topic": "d", "payload": {"temperature": v}, "extra": [v]} for v in (1, 35, 2)]
        for msg in msgs:
            await h.inject("th", dict(msg))
        assert [{k: m[k] for k in ("topic", "payload", "extra")} for m in h.outputs("th", 1)] \
            == msgs
    async with FlowHarness(flow(passthrough=False)) as h:
        await h.inject("th", topic="d", payload={"temperature": 35})
        assert h.outputs("th", 1) == [] and len(h.outputs("th")) == 1


async def test_bad_values_are_reported_counted_and_not_fatal():
    humidity = {"property": "payload.humidity", "warning": 80}
    async with FlowHarness(flow([TEMP, humidity])) as h:
        await h.inject("th", topic="d", payload={"temperature": "hot", "humidity": 85})
        await h.inject("th", topic="d", payload={"pressure": 1000})
        await h.inject("th", topic="d", payload={"temperature": "41.5"})
        assert [m["level"] for m in h.outputs("th")] == ["warning", "critical"]
        assert [w["msg"] for w in h.warnings] == [
            "d: payload.temperature is not a number ('hot'); rule temperature skipped",
            "d: none of payload.temperature, payload.humidity in the message"]
        assert len(h.outputs("th", 1)) == 3
        assert h.status("th") == {"fill": "red", "shape": "dot",
                                  "text": "0 warning, 1 critical, 2 rejected"}


async def test_status_counts_keys_by_their_highest_level():
    async with FlowHarness(flow()) as h:
        for key, value in (("a", 31), ("b", 35), ("c", 45), ("d", 20)):
            await h.inject("th", topic=key, payload={"temperature": value})
        assert h.status("th")["text"] == "2 warning, 1 critical"
        for key in "abc":
            await h.inject("th", topic=key, payload={"temperature": 0})
        assert h.status("th") == {"fill": "green", "shape": "dot", "text": "all normal"}
        assert h.runtime.contexts.node("th", "t1").get("state") is None  # nothing kept


async def test_state_survives_a_nodes_redeploy_of_other_nodes_and_of_itself():
    async with FlowHarness(flow(cooldown=600)) as h:
        await feed(h, [35])
        node = h.node("th")
        changed = flow(cooldown=600)
        changed[2]["name"] = "renamed"
        await h.deploy(changed, "nodes")
        assert h.node("th") is node  # untouched by the deploy
        changed[1]["name"] = "renamed too"
        await h.deploy(changed, "nodes")
        assert h.node("th") is not node
        assert h.status("th")["text"] == "1 warning, 0 critical"
        assert await feed(h, [36, 20]) == ["-", "clear"]  # still warning, within cooldown


async def test_state_survives_a_restart_with_a_persistent_context_store(tmp_path):
    settings = {"contextStorage": {"default": {"module": "sqlite"}}}
    async with FlowHarness(flow(cooldown=600), settings=settings, data_dir=tmp_path) as h:
        assert await feed(h, [45]) == ["critical"]
    async with FlowHarness(flow(cooldown=600), settings=settings, data_dir=tmp_path) as h:
        assert h.status("th")["text"] == "0 warning, 1 critical"
        assert await feed(h, [46, 35]) == ["-", "warning"]
    async with FlowHarness(flow(cooldown=600), data_dir=tmp_path) as h:  # memory store
        assert await feed(h, [35]) == ["warning"]


@pytest.mark.parametrize(("rule", "error"), [
    ({"property": "payload"}, r"rules\[0\]: set a warning or a critical threshold"),
    ({"property": "payload", "warning": 50, "critical": 40},
     r"rules\[0\]: critical 40 must be above warning 50"),
    ({"property": "payload", "direction": "below", "warning": 10, "critical": 20},
     r"critical 20 must be below warning 10"),
    ({"property": "payload[", "warning": 1}, r"rules\[0\].property: invalid property"),
])
async def test_bad_rules_fail_the_deploy_with_their_position(rule, error):
    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match=error):
            await h.deploy(flow([rule]))
