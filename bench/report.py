"""Turn raw runs into medians and flowrt/Node-RED ratios; write Markdown and JSON.

A run is the dict ``bench.run`` records for one (scenario, runtime, repeat); ``metrics()``
flattens it into named figures, ``summarise()`` takes medians over repeats and pairs
repeats for per-repeat ratios (for flowrt, and for flowrt on the asyncio loop when that
variant ran), ``markdown()`` renders the tables.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLOWRT, NODERED = "flowrt", "nodered"
VARIANTS = ("flowrt-asyncio",)  # other flowrt runs, each also compared with Node-RED
STEADY_RATES = (500.0, 2_000.0, 5_000.0)
LATENCY_RATE = 2_000.0  # the steady rate whose latency is reported
CPU_TARGET_SCENARIOS = ("relay", "filter", "fanout", "aggregate")


def _steady_key(rate: float, figure: str) -> str:
    return f"steady{rate:g}_{figure}"


@dataclass(frozen=True)
class Metric:
    """A named figure: its label and unit in tables, and whether higher is better."""

    key: str
    label: str
    unit: str
    higher_is_better: bool = False
    digits: int = 1


METRICS: tuple[Metric, ...] = (
    Metric("burst_offered_rate", "burst: offered", "msg/s", True, 0),
    Metric("burst_delivered_rate", "burst: delivered", "msg/s", True, 0),
    Metric("burst_delivered_pct", "burst: delivered share", "%", True, 1),
    Metric("cpu_us_per_msg", "CPU per message (burst)", "µs", False, 1),
    Metric("cold_rate", "first burst after start (cold): delivered", "msg/s", True, 0),
    Metric("cold_cpu_us_per_msg", "CPU per message (cold burst)", "µs", False, 1),
    Metric("pinned_rate", "pinned burst: delivered", "msg/s", True, 0),
    Metric("pinned_cpu_us_per_msg", "CPU per message (pinned burst)", "µs", False, 1),
    *(Metric(_steady_key(rate, "offered"), f"steady {rate:,.0f} msg/s: rate reaching the broker",
             "msg/s", True, 0) for rate in STEADY_RATES),
    *(Metric(_steady_key(rate, "cpu_pct"), f"CPU at a steady {rate:,.0f} msg/s",
             "% of a core", False, 1) for rate in STEADY_RATES),
    *(Metric(_steady_key(rate, "cpu_us"), f"CPU per message at a steady {rate:,.0f} msg/s",
             "µs", False, 1) for rate in STEADY_RATES),
    Metric("lat_p50_ms", f"latency p50 at {LATENCY_RATE:,.0f} msg/s", "ms", False, 2),
    Metric("lat_p95_ms", f"latency p95 at {LATENCY_RATE:,.0f} msg/s", "ms", False, 2),
    Metric("lat_p99_ms", f"latency p99 at {LATENCY_RATE:,.0f} msg/s", "ms", False, 2),
    Metric("steady_lost", "messages lost at the steady rates", "msgs", False, 0),
    Metric("kb_per_group", "memory per aggregate group", "kB", False, 2),
    Metric("groups_rss_mb", "RSS holding the groups", "MB", False, 1),
    Metric("http_rate", "http: requests answered per second", "req/s", True, 0),
    Metric("http_p50_ms", "http: latency p50", "ms", False, 2),
    Metric("http_p99_ms", "http: latency p99", "ms", False, 2),
    Metric("http_cpu_us", "http: runtime CPU per request", "µs", False, 1),
    Metric("ready_s", "time to ready (GET /flows 200)", "s", False, 2),
    Metric("first_msg_s", "time to first message through the flow", "s", False, 2),
    Metric("deploy_s", "POST /flows (full deploy) of the same flow", "s", False, 2),
    Metric("idle_rss_mb", "idle RSS", "MB", False, 1),
    Metric("idle_cpu_pct", "idle CPU", "% of a core", False, 2),
    Metric("peak_rss_mb", "peak RSS (VmHWM)", "MB", False, 1),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Target:
    """A goal from the performance issue: a ratio (flowrt/Node-RED) or an absolute bound."""

    metric: str
    scenarios: tuple[str, ...] | None  # None: every scenario that has the metric
    limit: float
    at_least: bool
    absolute: bool = False

    def describe(self) -> str:
        """Human-readable form, e.g. ``≥ 1.0x`` or ``< 2 s``."""
        if self.absolute:
            return f"< {self.limit:g} {METRIC_BY_KEY[self.metric].unit}"
        return f"{'≥' if self.at_least else '≤'} {self.limit:g}x"

    def met(self, value: float) -> bool:
        """Whether value (a ratio, or the flowrt figure when absolute) meets the target."""
        if self.absolute:
            return value < self.limit
        return value >= self.limit if self.at_least else value <= self.limit


# The performance issue's targets (flowrt / Node-RED, medians of the same run).
TARGETS: tuple[Target, ...] = (
    *(Target(_steady_key(rate, "cpu_pct"), CPU_TARGET_SCENARIOS, 0.6, at_least=False)
      for rate in STEADY_RATES),
    Target("pinned_cpu_us_per_msg", CPU_TARGET_SCENARIOS, 0.6, at_least=False),
    Target("lat_p99_ms", None, 0.5, at_least=False),
    Target("idle_rss_mb", None, 0.35, at_least=False),
    Target("ready_s", None, 0.5, at_least=False),
    Target("burst_delivered_rate", None, 1.0, at_least=True),
    Target("pinned_rate", None, 1.0, at_least=True),
    Target("deploy_s", ("big",), 2.0, at_least=False, absolute=True),
)


def metrics(run: dict[str, Any]) -> dict[str, float]:
    """Flatten one run into ``{metric key: value}``, leaving out what it did not measure."""
    out: dict[str, float] = {}
    for key in ("ready_s", "first_msg_s", "idle_rss_mb", "idle_cpu_pct", "peak_rss_mb",
                "deploy_s"):
        if isinstance(run.get(key), int | float):
            out[key] = float(run[key])
    burst = run.get("burst")
    if burst:
        out["burst_offered_rate"] = burst["offered_rate"]
        out["burst_delivered_rate"] = burst["delivered_rate"]
        out["burst_delivered_pct"] = burst["delivered_frac"] * 100
        out["cpu_us_per_msg"] = burst["cpu_us_per_msg"]
    cold = run.get("burst_cold")
    if cold:
        out["cold_rate"] = cold["delivered_rate"]
        out["cold_cpu_us_per_msg"] = cold["cpu_us_per_msg"]
    pinned = run.get("burst_pinned")
    if pinned:
        out["pinned_rate"] = pinned["delivered_rate"]
        out["pinned_cpu_us_per_msg"] = pinned["cpu_us_per_msg"]
    steady = run.get("steady")
    if steady:
        out["steady_lost"] = sum(step["lost"] for step in steady)
        for step in steady:
            out[_steady_key(step["rate"], "offered")] = step["offered_rate"]
            out[_steady_key(step["rate"], "cpu_pct")] = step["cpu_pct"]
            if step.get("cpu_us_per_msg") is not None:
                out[_steady_key(step["rate"], "cpu_us")] = step["cpu_us_per_msg"]
            if step["rate"] == LATENCY_RATE:
                for key in ("p50", "p95", "p99"):
                    if f"{key}_ms" in step:
                        out[f"lat_{key}_ms"] = step[f"{key}_ms"]
    groups = run.get("groups")
    if groups:
        out["kb_per_group"] = groups["kb_per_group"]
        out["groups_rss_mb"] = groups["rss_mb"]
    http = run.get("http")
    if http:
        out["http_rate"] = http["rate"]
        for key, source in (("http_p50_ms", "p50_ms"), ("http_p99_ms", "p99_ms"),
                            ("http_cpu_us", "cpu_us_per_request")):
            if http.get(source) is not None:
                out[key] = http[source]
    return out


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarise(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, metric): medians per runtime, ratio of the medians,
    per-repeat ratios (pairing runs of the same repeat), and the target verdict; the
    flowrt variants that ran get the same figures under ``variants``."""
    by_key: dict[tuple[str, str, str], dict[int, float]] = {}
    scenarios: list[str] = []
    for run in runs:
        if not run.get("ok"):
            continue
        if run["scenario"] not in scenarios:
            scenarios.append(run["scenario"])
        for key, value in metrics(run).items():
            by_key.setdefault((run["scenario"], key, run["runtime"]), {})[run["repeat"]] = value
    rows = []
    for scenario in scenarios:
        for metric in METRICS:
            a = by_key.get((scenario, metric.key, FLOWRT), {})
            b = by_key.get((scenario, metric.key, NODERED), {})
            variants = {v: by_key[(scenario, metric.key, v)] for v in VARIANTS
                        if (scenario, metric.key, v) in by_key}
            if not a and not b and not variants:
                continue
            med_b = median(list(b.values()))
            row: dict[str, Any] = {"scenario": scenario, "metric": metric.key,
                                   **_compared(a, b, med_b), "nodered": med_b,
                                   "nodered_values": [b[r] for r in sorted(b)]}
            if variants:
                row["variants"] = {v: _compared(values, b, med_b)
                                   for v, values in variants.items()}
            target = _target_for(scenario, metric.key)
            if target is not None:
                row["target"] = target.describe()
                value = row["flowrt"] if target.absolute else row["ratio"]
                row["met"] = None if value is None else target.met(value)
            rows.append(row)
    return rows


def _compared(a: dict[int, float], b: dict[int, float], med_b: float | None) -> dict[str, Any]:
    """One flowrt runtime's figures (repeat → value) against Node-RED's."""
    med_a = median(list(a.values()))
    per_repeat = [ratio(a[r], b[r]) for r in sorted(a) if r in b]
    return {"flowrt": med_a, "ratio": ratio(med_a, med_b),
            "per_repeat_ratios": [r for r in per_repeat if r is not None],
            "flowrt_values": [a[r] for r in sorted(a)]}


def _target_for(scenario: str, metric: str) -> Target | None:
    for target in TARGETS:
        if target.metric == metric and (target.scenarios is None or scenario in target.scenarios):
            return target
    return None


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(row: dict[str, Any]) -> str:
    if "target" not in row:
        return ""
    mark = {True: "✅", False: "❌", None: "?"}[row.get("met")]
    return f"{mark} {row['target']}"


def markdown(result: dict[str, Any]) -> str:
    """The whole report as Markdown: setup, target verdicts, one table per scenario,
    failures, durable-queue figures."""
    meta = result.get("meta", {})
    rows: list[dict[str, Any]] = result.get("summary", [])
    variants = list(dict.fromkeys(v for r in rows for v in r.get("variants", {})))
    lines = ["# flowrt vs Node-RED benchmark", ""]
    for key, value in meta.items():
        lines.append(f"- **{key}**: {value}")
    loops = {r["runtime"]: r["event_loop"] for r in result.get("runs", [])
             if r.get("event_loop")}
    if loops:
        lines.append("- **event loops**: " + ", ".join(f"{rt} on {loop}"
                                                      for rt, loop in sorted(loops.items())))
    lines.append("")
    lines.append("Ratios are flowrt / Node-RED of the medians over repeats; per-repeat ratios "
                 "pair the runs of each repeat (interleaved, who starts rotating).")
    lines.append("")
    extra_head = "".join(f" {v} | ratio |" for v in variants)
    extra_rule = "---:|---:|" * len(variants)
    targeted = [r for r in rows if "target" in r]
    if targeted:
        lines += ["## Targets", "",
                  "| scenario | metric | flowrt | Node-RED | ratio | target |" + extra_head,
                  "|---|---|---:|---:|---:|---|" + extra_rule]
        for row in targeted:
            metric = METRIC_BY_KEY[row["metric"]]
            lines.append(f"| {row['scenario']} | {metric.label} ({metric.unit}) | "
                         f"{_fmt(row['flowrt'], metric.digits)} | "
                         f"{_fmt(row['nodered'], metric.digits)} | {_fmt_ratio(row['ratio'])} | "
                         f"{_verdict(row)} |" + _variant_cells(row, variants, metric))
        lines.append("")
    notes: dict[str, str] = result.get("scenario_notes", {})
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        lines += [f"## {result.get('scenario_titles', {}).get(scenario, scenario)}", ""]
        if notes.get(scenario):
            lines += [f"Note: {notes[scenario]}.", ""]
        lines += ["| metric | flowrt | Node-RED | ratio | per-repeat ratios |" + extra_head,
                  "|---|---:|---:|---:|---|" + extra_rule]
        for row in (r for r in rows if r["scenario"] == scenario):
            metric = METRIC_BY_KEY[row["metric"]]
            per = ", ".join(f"{r:.2f}" for r in row["per_repeat_ratios"])
            lines.append(f"| {metric.label} ({metric.unit}) | "
                         f"{_fmt(row['flowrt'], metric.digits)} | "
                         f"{_fmt(row['nodered'], metric.digits)} | {_fmt_ratio(row['ratio'])} | "
                         f"{per} |" + _variant_cells(row, variants, metric))
        lines.append("")
    commits = sorted({r["flowrt_commit"] for r in result.get("runs", []) if r.get("flowrt_commit")})
    if len(commits) > 1:
        lines += [f"Note: flowrt changed during the run ({', '.join(commits)}).", ""]
    failures = [r for r in result.get("runs", []) if not r.get("ok")]
    if failures:
        lines += ["## Failed runs", ""]
        for run in failures:
            lines.append(f"- {run['scenario']} / {run['runtime']} / repeat {run['repeat']}: "
                         f"{run.get('error', '?')}")
        lines.append("")
    for title, key in (("Broker-only baseline (harness ceiling)", "baseline"),
                       ("Durable queue", "durable_queue")):
        section = result.get(key)
        if section:
            lines += [f"## {title}", "", "| figure | value |", "|---|---:|"]
            for name, value in _flatten(section):
                lines.append(f"| {name} | {_fmt(value, 2) if isinstance(value, float) else value}"
                             " |")
            lines.append("")
    return "\n".join(lines)


def _variant_cells(row: dict[str, Any], variants: list[str], metric: Metric) -> str:
    cells = ""
    for variant in variants:
        figures = row.get("variants", {}).get(variant, {})
        cells += (f" {_fmt(figures.get('flowrt'), metric.digits)} |"
                  f" {_fmt_ratio(figures.get('ratio'))} |")
    return cells


def _flatten(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(doc, dict):
        items: list[tuple[str, Any]] = []
        for key, value in doc.items():
            items += _flatten(value, f"{prefix}{key}." if isinstance(value, dict) else
                              f"{prefix}{key}")
        return items
    return [(prefix.rstrip("."), doc)]


def write(result: dict[str, Any], directory: Path, stem: str) -> tuple[Path, Path]:
    """Write ``stem.json`` and ``stem.md`` into directory (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md_path.write_text(markdown(result) + "\n")
    return json_path, md_path
