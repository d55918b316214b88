"""What each scenario sends and how many outputs it expects.

Load goes to ``bench/in/load``; readiness probes to ``bench/in/probe`` (so per-topic state
in rbe and aggregate is not disturbed by them); outputs come back on ``bench/out``.
Throughput payloads are chosen so the expected output count is exact; latency payloads
are send timestamps (integer microseconds since the epoch) that pass every filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench import flows


def _integers(i: int) -> str:
    return str(i)


def _half_pass(i: int) -> str:
    # 0, 0.1, 1, 1.1, 2, 2.1, ...: a deadband of 0.5 on the last output passes every other one.
    return f"{i // 2}.1" if i % 2 else str(i // 2)


def _percent(i: int) -> str:
    return str(i % 100)


def _reading(i: int) -> str:
    return f'{{"temperature": {i % 50}}}'


def group_reading(group: int, value: int) -> str:
    """A reading for the ``groups`` scenario's aggregate: value ``value`` of group
    ``group``."""
    return f'{{"g": {group}, "v": {value}}}'


def _group_reading(i: int) -> str:
    # Group i % GROUPS: a burst of n gives every group n / GROUPS values.
    return group_reading(i % flows.GROUPS, i)


def _stamped_reading(sent_us: int) -> str:
    # The send time rides beside the reading, untouched by the conversion.
    return f'{{"temperature": 21.5, "sent": {sent_us}}}'


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario.

    ``kind`` says what is measured: ``load`` (bursts, steady rates, latency), ``deploy``
    (a full redeploy of the same flow), ``groups`` (the memory of many aggregate groups)
    or ``http`` (HTTP requests, no broker). ``latency_payload`` turns a send time
    (integer microseconds) into a latency message. ``expected_outputs`` maps the
    burst's input count to the exact expected output count; ``latency_fanout`` is how
    many outputs one latency message produces (a window of 10 inputs produces one
    output for ``aggregate``).
    """

    name: str
    title: str
    build: Callable[..., flows.Flow]
    burst_payload: Callable[[int], str]
    expected_outputs: Callable[[int], int]
    latency_fanout: float = 1.0
    probe_payloads: tuple[str, ...] = ("1000",)
    latency_payload: Callable[[int], str] = str
    needs_cloud: bool = False
    kind: str = "load"
    same_flow_file: bool = True
    note: str = ""

    def outputs_per_input(self, n: int) -> float:
        """Expected outputs per input message for a burst of n."""
        return self.expected_outputs(n) / n if n else 0.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("relay", "relay: mqtt in → mqtt out", flows.relay, _integers, lambda n: n),
        Scenario("filter", "filter: mqtt in → rbe deadband 0.5 → mqtt out",
                 flows.filter_deadband, _half_pass, lambda n: (n + 1) // 2),
        Scenario("function", "function: mqtt in → JavaScript function (°C to °F) → mqtt out",
                 flows.function_js, _reading, lambda n: n,
                 probe_payloads=('{"temperature": 20}',), latency_payload=_stamped_reading),
        Scenario("jsonata", "jsonata: mqtt in → change with a JSONata expression → mqtt out",
                 flows.jsonata_change, _reading, lambda n: n,
                 probe_payloads=('{"temperature": 20}',), latency_payload=_stamped_reading),
        Scenario("aggregate", "aggregate: count window of 10 → mqtt out", flows.aggregate,
                 _integers, lambda n: n // flows.AGGREGATE_SIZE,
                 latency_fanout=1 / flows.AGGREGATE_SIZE,
                 probe_payloads=("1000",) * flows.AGGREGATE_SIZE, same_flow_file=False,
                 note="Node-RED has no aggregate node: it runs a function node doing the "
                      "same count window"),
        Scenario("fanout", "fan-out: mqtt in → 3 x rbe → 3 x mqtt out", flows.fanout,
                 _integers, lambda n: 3 * n, latency_fanout=3.0),
        Scenario("bridge", "threshold (> 50) + bridge to a second broker",
                 flows.threshold_bridge, _percent, lambda n: n, needs_cloud=True,
                 same_flow_file=False,
                 note="flowrt: threshold node + cloud-bridge nodes (acknowledged, durable "
                      "delivery); Node-RED has neither: a function node with the same "
                      "edge-triggered alert + passthrough, and mqtt out nodes with QoS 1. "
                      "Every reading is forwarded to the second broker (counted); alerts go "
                      "to bench/alerts (not counted)"),
        Scenario("big", "1,000-node flow (10 tabs x 100 nodes)", flows.big, _integers,
                 lambda n: n, kind="deploy"),
        Scenario("tabs", "100 tabs x 10 nodes", flows.tabs, _integers, lambda n: n,
                 kind="deploy"),
        Scenario("groups", f"aggregate with {flows.GROUPS:,} groups (count windows of "
                 f"{flows.AGGREGATE_SIZE}, each half full)", flows.aggregate_groups,
                 _group_reading, lambda n: n // flows.AGGREGATE_SIZE, kind="groups",
                 probe_payloads=('{"g": "probe", "v": 1}',) * flows.AGGREGATE_SIZE,
                 same_flow_file=False,
                 note="Node-RED has no aggregate node: it runs a function node doing the "
                      "same count windows"),
        Scenario("http", "http: http in (GET /bench) → change (small JSON) → http response",
                 flows.http_json, _integers, lambda n: n, kind="http"),
    )
}

# What ``make bench`` runs: the scenarios of the performance issue, then the cost of growth.
DEFAULT_ORDER = ("relay", "filter", "fanout", "aggregate", "groups", "tabs")
# Every scenario, for ``--scenarios all``: the default ones and the user-code, bridge,
# 1,000-node and HTTP ones.
ALL_ORDER = (*DEFAULT_ORDER, "function", "jsonata", "bridge", "big", "http")
