"""Run the benchmark: ``python -m bench.run [--smoke] [--repeats N] [--scenarios a,b|all]
[--runtimes flowrt,flowrt-asyncio,nodered] [--only RUNTIME] [--idle S] [--no-pin]``.

For every repeat and scenario it starts a private broker (two for the bridge scenario) and
runs the same flow on each runtime in turn (interleaved, the order rotated every
repeat), each from a fresh data dir: time to ready, first message through, idle RSS and
CPU, a saturating burst; then, with the runtime pinned to one core and the brokers and
clients to the other, the same burst again and steady rates (CPU over a window after a
warm-up, latency), and peak RSS. Results go to bench/results/ as Markdown and JSON.
``--smoke`` (CI) runs relay on flowrt only (plus Node-RED when it is already installed)
in well under a minute and exits non-zero when the harness delivers nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import flows, http_load, measure, nodered, report, runtimes
from bench.flows import HTTP_PATH
from bench.mosquitto import Broker, clients_available, mosquitto_binary
from bench.proc import pinned
from bench.scenarios import ALL_ORDER, DEFAULT_ORDER, SCENARIOS, Scenario, group_reading

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / ".cache" / "work"


@dataclass
class Config:
    """How much of everything to run; ``FULL`` and ``SMOKE`` are the two presets."""

    repeats: int = 3
    scenarios: list[str] = field(default_factory=lambda: list(DEFAULT_ORDER))
    runtimes: list[str] = field(default_factory=lambda: list(runtimes.ALL_RUNTIMES))
    idle_s: float = 30.0  # Node-RED's RSS drops ~25 MB within 30 s of start as V8 collects
    burst_n: int = 100_000
    cold_burst_n: int = 20_000  # the first traffic after start, before the measured bursts
    steady_rates: list[float] = field(default_factory=lambda: list(report.STEADY_RATES))
    warmup_s: float = 2.0
    window_s: float = 6.0
    pin: bool = True
    ready_timeout_s: float = 60.0
    probe_timeout_s: float = 30.0
    durable_queue_s: float = 5.0
    http_requests: int = http_load.REQUESTS
    http_concurrency: int = http_load.CONCURRENCY
    smoke: bool = False
    keep: bool = False


SMOKE = Config(repeats=1, scenarios=["relay"], runtimes=[runtimes.FLOWRT, runtimes.NODERED],
               idle_s=0.5, burst_n=5_000, cold_burst_n=1_000,
               steady_rates=[report.LATENCY_RATE], warmup_s=0.5,
               window_s=1.0, ready_timeout_s=30.0, probe_timeout_s=15.0,
               durable_queue_s=1.0, smoke=True)


def log(text: str) -> None:
    """Progress goes to stderr so stdout stays for the report path."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------ one run


def run_one(scenario: Scenario, runtime: str, repeat: int, cfg: Config,
            workroot: Path) -> dict[str, Any]:
    """Start broker(s) and one runtime on the scenario's flow, measure it, stop everything."""
    record: dict[str, Any] = {"scenario": scenario.name, "runtime": runtime, "repeat": repeat,
                              "ok": False}
    record["loadavg_1m"] = os.getloadavg()[0]
    if runtime == runtimes.FLOWRT:  # the tree may change while a long bench runs
        record["flowrt_commit"] = _flowrt_commit()
    workdir = workroot / f"{scenario.name}-{runtime}-{repeat}"
    started = None
    with contextlib.ExitStack() as stack:
        try:
            if scenario.kind == "http":
                _run_http(record, scenario, runtime, cfg, workdir, stack)
                return record
            edge = stack.enter_context(Broker.start(workdir, "edge"))
            cloud = stack.enter_context(Broker.start(workdir, "cloud")) \
                if scenario.needs_cloud else edge
            kwargs = {"cloud_port": cloud.port} if scenario.needs_cloud else {}
            flow = scenario.build(edge.port, runtimes.flow_flavour(runtime), **kwargs)
            flow_path = workdir / "flow.json"
            flow_path.write_text(json.dumps(flow, indent=2))
            started = runtimes.spawn(runtime, flow_path, workdir)
            stack.callback(started.stop)
            record["ready_s"] = started.wait_ready(cfg.ready_timeout_s)
            record["event_loop"] = started.event_loop()
            link = measure.Link(edge.port, cloud.port)
            record["first_msg_s"] = measure.probe(link, scenario.probe_payloads,
                                                  started.spawned_wall, cfg.probe_timeout_s)
            record.update(measure.idle(started.pid, cfg.idle_s))
            if scenario.kind == "load":
                brokers = {edge.process.pid, cloud.process.pid}
                _load_tests(record, scenario, link, started.pid, sorted(brokers), cfg)
            elif scenario.kind == "groups":
                _groups_test(record, scenario, link, started.pid, cfg)
            else:
                _deploy_test(record, scenario, link, started, flow_path, cfg)
            _finish(record, started, runtime)
        except Exception as err:  # one broken run must not stop the others
            record["error"] = f"{type(err).__name__}: {err}".strip()
            record["traceback"] = traceback.format_exc(limit=5)
            if started is not None:
                record["log_tail"] = started.process.log_tail(40)
    return record


def _finish(record: dict[str, Any], started: runtimes.RunningRuntime, runtime: str) -> None:
    """After the measurements: peak memory, then a clean stop (its time and exit code)."""
    record["peak_rss_mb"] = measure.proc_stats(started.pid).hwm_mb
    if not started.process.alive():
        raise RuntimeError(f"{runtime} died during the run")
    stop_started = time.monotonic()
    record["exit_code"] = started.stop()
    record["stop_s"] = time.monotonic() - stop_started
    record["ok"] = True


def _run_http(record: dict[str, Any], scenario: Scenario, runtime: str, cfg: Config,
              workdir: Path, stack: contextlib.ExitStack) -> None:
    """The ``http`` scenario: no broker; HTTP requests to the flow's route."""
    flow_path = workdir / "flow.json"
    workdir.mkdir(parents=True, exist_ok=True)
    flow_path.write_text(json.dumps(scenario.build(0, runtimes.flow_flavour(runtime)),
                                     indent=2))
    started = runtimes.spawn(runtime, flow_path, workdir)
    stack.callback(started.stop)
    try:
        record["ready_s"] = started.wait_ready(cfg.ready_timeout_s)
        url = f"{started.base_url}{HTTP_PATH}"
        record["first_msg_s"] = http_load.probe(url, started.spawned_wall,
                                                cfg.probe_timeout_s)
        record.update(measure.idle(started.pid, cfg.idle_s))
        record["http"] = http_load.load(url, started.pid, cfg.http_requests,
                                        cfg.http_concurrency)
        if record["http"]["failed"]:
            raise RuntimeError(f"{record['http']['failed']} requests failed, the first: "
                               f"{record['http']['first_failure']}")
        _finish(record, started, runtime)
    except Exception:
        record["log_tail"] = started.process.log_tail(40)
        raise


def _load_tests(record: dict[str, Any], scenario: Scenario, link: measure.Link, pid: int,
                brokers: list[int], cfg: Config) -> None:
    """A first (cold) burst, then a saturating one on the shared cores; then, pinned
    (runtime on one core, brokers and clients on the other) when cfg.pin and the machine
    has two cores, the burst again and the steady rates."""
    # The first traffic after start is the slowest for a JIT (Node-RED stalled for seconds
    # in its first burst): measured on its own, so the bursts after it compare warm runtimes.
    cold = cfg.cold_burst_n
    record["burst_cold"] = measure.burst(link, pid, scenario.burst_payload, cold,
                                         scenario.expected_outputs(cold))
    n, expected = cfg.burst_n, scenario.expected_outputs(cfg.burst_n)
    record["burst"] = measure.burst(link, pid, scenario.burst_payload, n, expected)
    pinning: contextlib.AbstractContextManager[dict[str, list[int]] | None] = \
        pinned(pid, brokers) if cfg.pin and len(os.sched_getaffinity(0)) >= 2 \
        else contextlib.nullcontext()
    with pinning as cores:
        record["pinned_cores"] = cores
        if cores is not None:
            record["burst_pinned"] = measure.burst(link, pid, scenario.burst_payload, n,
                                                   expected)
        record["steady"] = [
            measure.steady(link, pid, rate, cfg.warmup_s, cfg.window_s,
                           scenario.latency_fanout, stamp=scenario.latency_payload)
            for rate in cfg.steady_rates]


def _groups_test(record: dict[str, Any], scenario: Scenario, link: measure.Link, pid: int,
                 cfg: Config) -> None:
    """Half fill a count window in each of ``flows.GROUPS`` groups, let the runtime finish
    and idle as long as before the idle RSS, and take the RSS again: the growth per group.
    Then the other half, group after group (so windows close all along the burst), which
    must close every window (one output per group)."""
    per_group = flows.AGGREGATE_SIZE // 2
    half = flows.GROUPS * per_group
    measure.burst(link, pid, scenario.burst_payload, half, 0)  # no window closes yet
    with measure.Subscriber(link.out_port, [link.out_topic]) as out:
        out.wait_subscribed()
        measure.settle(out, pid)
    rss = measure.idle(pid, cfg.idle_s)["idle_rss_mb"]
    close = measure.burst(link, pid, lambda i: group_reading(i // per_group, i), half,
                          flows.GROUPS)
    if close["delivered"] != flows.GROUPS:
        raise RuntimeError(f"{close['delivered']} of {flows.GROUPS} windows closed")
    record["groups"] = {
        "groups": flows.GROUPS, "values_per_group": per_group, "rss_mb": rss,
        "kb_per_group": (rss - record["idle_rss_mb"]) * 1024 / flows.GROUPS,
        "closed": close["delivered"]}


def _deploy_test(record: dict[str, Any], scenario: Scenario, link: measure.Link,
                 started: runtimes.RunningRuntime, flow_path: Path, cfg: Config) -> None:
    """POST the same flow back as a full deploy; time the request and the first message
    through the redeployed flow."""
    body = flow_path.read_bytes()
    request = urllib.request.Request(
        f"{started.base_url}/flows", data=body, method="POST",
        headers={"Content-Type": "application/json", "Node-RED-Deployment-Type": "full"})
    wall, mono = time.time(), time.monotonic()
    with urllib.request.urlopen(request, timeout=60) as resp:
        resp.read()
        record["deploy_status"] = resp.status
    record["deploy_s"] = time.monotonic() - mono
    record["deploy_first_msg_s"] = measure.probe(link, scenario.probe_payloads, wall,
                                                 cfg.probe_timeout_s)
    record["nodes"] = sum(1 for n in json.loads(body) if "z" in n)


def _summary_line(run: dict[str, Any]) -> str:
    head = f"{run['scenario']:<9} {run['runtime']:<7} #{run['repeat'] + 1}"
    if not run["ok"]:
        return f"{head}: FAILED {run.get('error')}"
    parts = [f"ready {run['ready_s']:.2f}s", f"first msg {run['first_msg_s']:.2f}s",
             f"idle RSS {run['idle_rss_mb']:.0f}MB"]
    if "burst" in run:
        b = run["burst"]
        parts.append(f"burst {b['offered_rate']:,.0f}→{b['delivered_rate']:,.0f} msg/s "
                     f"({b['delivered_frac']:.0%})")
    if "burst_pinned" in run:
        b = run["burst_pinned"]
        parts.append(f"pinned burst {b['delivered_rate']:,.0f} msg/s "
                     f"{b['cpu_us_per_msg']:.1f}µs/msg")
    for step in run.get("steady", []):
        figures = (f"{step['rate']:,.0f}/s (reached {step['offered_rate']:,.0f}/s): "
                   f"CPU {step['cpu_pct']:.1f}%")
        if "p99_ms" in step:
            figures += f" p99 {step['p99_ms']:.2f}ms"
        parts.append(f"{figures} lost {step['lost']}")
    if "groups" in run:
        parts.append(f"{run['groups']['groups']:,} groups: "
                     f"{run['groups']['kb_per_group']:.2f} kB each")
    if "http" in run:
        h = run["http"]
        parts.append(f"http {h['rate']:,.0f} req/s p50/p99 {h['p50_ms']:.1f}/"
                     f"{h['p99_ms']:.1f}ms (concurrency {h['concurrency']})")
    if "deploy_s" in run:
        parts.append(f"deploy {run['deploy_s']:.2f}s")
    parts.append(f"peak RSS {run['peak_rss_mb']:.0f}MB")
    return f"{head}: " + ", ".join(parts)


# ------------------------------------------------------------------------ whole bench


def baseline(cfg: Config, workroot: Path) -> dict[str, Any]:
    """The same burst and latency measurements straight through the broker, no runtime:
    the ceiling of the harness itself."""
    with Broker.start(workroot / "baseline", "baseline") as broker:
        link = measure.Link(broker.port, broker.port, "bench/baseline", "bench/baseline")
        pid = broker.process.pid
        burst = measure.burst(link, pid, str, cfg.burst_n, cfg.burst_n, quiet=0.5)
        lat = measure.steady(link, pid, report.LATENCY_RATE, min(cfg.warmup_s, 1.0),
                             min(cfg.window_s, 2.0), 1.0)
    return {
        "burst_offered_rate": burst["offered_rate"], "burst_delivered_rate":
        burst["delivered_rate"], "burst_delivered_pct": burst["delivered_frac"] * 100,
        "latency_p50_ms": lat.get("p50_ms"), "latency_p99_ms": lat.get("p99_ms"),
    }


def durable_queue_figures(seconds: float) -> dict[str, Any] | None:
    """Call ``bench.durable_queue.run(seconds)`` when that module exists."""
    try:
        module = importlib.import_module("bench.durable_queue")
    except ModuleNotFoundError as err:
        if err.name == "bench.durable_queue":
            return None
        raise
    return dict(module.run(seconds))


def _first_line(argv: list[str], *, stderr_ok: bool = True) -> str:
    """First line a command prints (mosquitto -h answers on stdout with exit code 3)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = done.stdout.strip() or (done.stderr.strip() if stderr_ok else "")
    return text.splitlines()[0] if text else "?"


def _flowrt_commit() -> str:
    return _first_line(["git", "-C", str(BENCH_DIR.parent), "describe", "--always",
                        "--dirty"], stderr_ok=False)


def _meta(cfg: Config, skipped: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
                   f"Linux {platform.release()}",
        "python": platform.python_version(),
        "flowrt commit": _flowrt_commit(),
        "Node-RED": nodered.version() or "not installed",
        "node": _first_line(["node", "--version"]) if shutil.which("node") else "not installed",
        "mosquitto": _first_line([mosquitto_binary() or "mosquitto", "-h"]),
        "config": ", ".join(f"{k}={v}" for k, v in asdict(cfg).items()
                            if k not in ("smoke", "keep")),
        "load": "QoS 0; bursts with `mosquitto_pub -l` from a file; steady rates and latency "
                "through `mosquitto_pub -l` fed by a pipe; received with `mosquitto_sub -F %U`",
        "CPU": "user+system time of the runtime process alone (its kernel CPU clock, the "
               "account of /proc/PID/stat in ns); steady rates over "
               f"a {cfg.window_s:g} s window after {cfg.warmup_s:g} s of warm-up",
        "pinning": (f"runtime on core {sorted(os.sched_getaffinity(0))[0]}, brokers, clients "
                    "and harness on the others, for the pinned burst and the steady rates")
        if cfg.pin and len(os.sched_getaffinity(0)) >= 2 else "none",
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "idle RSS": f"VmRSS summed over the process tree, {cfg.idle_s:g} s after the first "
                    "message came through",
    }
    if skipped:
        meta["skipped"] = "; ".join(f"{k}: {v}" for k, v in skipped.items())
    return meta


def run_bench(cfg: Config) -> tuple[dict[str, Any], int]:
    """Run everything cfg asks for; return the result document and the exit code."""
    if not clients_available():
        raise SystemExit("mosquitto_pub/mosquitto_sub are not installed (make system-deps)")
    skipped: dict[str, str] = {}
    active = []
    for rt in cfg.runtimes:
        reason = runtimes.unavailable_reason(rt, may_install=not cfg.smoke)
        if reason is None:
            active.append(rt)
        else:
            skipped[rt] = reason
            log(f"skipping {rt}: {reason}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workroot = WORK_DIR / stamp
    workroot.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {"meta": _meta(cfg, skipped)}
    try:
        result["baseline"] = baseline(cfg, workroot)
        log(f"baseline (broker only): {result['baseline']}")
        for repeat in range(cfg.repeats):
            for name in cfg.scenarios:
                # Interleaved, and who goes first rotates: no runtime always runs on a
                # machine the previous one just warmed (or loaded).
                turn = repeat % len(active) if active else 0
                for rt in active[turn:] + active[:turn]:
                    run = run_one(SCENARIOS[name], rt, repeat, cfg, workroot)
                    runs.append(run)
                    log(_summary_line(run))
        if cfg.durable_queue_s > 0:
            try:
                dq = durable_queue_figures(cfg.durable_queue_s)
            except Exception as err:
                dq = {"error": f"{type(err).__name__}: {err}"}
            if dq is not None:
                result["durable_queue"] = dq
                log(f"durable queue: {dq}")
    finally:
        if not cfg.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    result["runs"] = runs
    result["summary"] = report.summarise(runs)
    result["scenario_titles"] = {n: SCENARIOS[n].title for n in cfg.scenarios}
    result["scenario_notes"] = {n: SCENARIOS[n].note for n in cfg.scenarios if SCENARIOS[n].note}
    return result, _exit_code(cfg, runs, active, result)


def _exit_code(cfg: Config, runs: list[dict[str, Any]], active: list[str],
               result: dict[str, Any]) -> int:
    problems = [f"{r['scenario']}/{r['runtime']}: {r.get('error')}" for r in runs if not r["ok"]]
    if not runs:
        problems.append("no runtime could be run")
    if cfg.smoke:
        if runtimes.FLOWRT in cfg.runtimes and runtimes.FLOWRT not in active:
            problems.append("flowrt could not be started")
        for run in runs:
            if run["ok"] and run.get("burst", {}).get("delivered", 0) == 0:
                problems.append(f"{run['scenario']}/{run['runtime']}: no message delivered")
            if run["ok"] and not any(s.get("samples") for s in run.get("steady", [])):
                problems.append(f"{run['scenario']}/{run['runtime']}: no latency sample")
        if "error" in (result.get("durable_queue") or {}):
            problems.append(f"durable queue: {result['durable_queue']['error']}")
    for problem in problems:
        log(f"PROBLEM: {problem}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> Config:
    """Command-line options → Config."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="10-second CI check: relay on flowrt (and Node-RED if installed)")
    parser.add_argument("--repeats", type=int, help="A/B repeats (default 3)")
    parser.add_argument("--scenarios", help=f"comma list from {','.join(ALL_ORDER)}, or all "
                        f"(default {','.join(DEFAULT_ORDER)})")
    parser.add_argument("--runtimes", help=f"comma list from {','.join(runtimes.ALL_RUNTIMES)} "
                        "(default all)")
    parser.add_argument("--only", choices=runtimes.ALL_RUNTIMES, help="run one runtime only")
    parser.add_argument("--idle", type=float, help="seconds idle before idle RSS (default 30)")
    parser.add_argument("--burst", type=int, help="messages per burst (default 100,000)")
    parser.add_argument("--window", type=float,
                        help="seconds of each steady rate's measured window (default 6)")
    parser.add_argument("--no-pin", action="store_true",
                        help="measure everything on shared cores (no pinned phase)")
    parser.add_argument("--keep", action="store_true",
                        help="keep bench/.cache/work/ (flow files, logs) for debugging")
    args = parser.parse_args(argv)
    cfg = Config(**asdict(SMOKE)) if args.smoke else Config()
    if args.repeats is not None:
        cfg.repeats = max(1, args.repeats)
    if args.scenarios:
        names = list(ALL_ORDER) if args.scenarios == "all" else \
            [s.strip() for s in args.scenarios.split(",") if s.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(unknown)}")
        cfg.scenarios = names
    if args.runtimes:
        names = [r.strip() for r in args.runtimes.split(",") if r.strip()]
        unknown = [n for n in names if n not in runtimes.ALL_RUNTIMES]
        if unknown:
            parser.error(f"unknown runtime(s): {', '.join(unknown)}")
        cfg.runtimes = names
    if args.only:
        cfg.runtimes = [args.only]
    if args.idle is not None:
        cfg.idle_s = args.idle
    if args.burst is not None:
        cfg.burst_n = max(1, args.burst)
    if args.window is not None:
        cfg.window_s = args.window
    if args.no_pin:
        cfg.pin = False
    cfg.keep = args.keep
    return cfg


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.run``; returns the process exit code."""
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)  # so cleanup runs on TERM too
    started = time.monotonic()
    result, code = run_bench(cfg)
    result["meta"]["bench wall time"] = f"{time.monotonic() - started:.1f} s"
    result["meta"]["load average at end (1/5/15 min)"] = " / ".join(
        f"{x:.2f}" for x in os.getloadavg())
    stem = "smoke" if cfg.smoke else f"bench-{time.strftime('%Y%m%d-%H%M%S')}"
    json_path, md_path = report.write(result, RESULTS_DIR, stem)
    if not cfg.smoke:
        shutil.copyfile(json_path, RESULTS_DIR / "latest.json")
        shutil.copyfile(md_path, RESULTS_DIR / "latest.md")
    sys.stdout.write(md_path.read_text())
    log(f"results: {md_path} and {json_path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
