"""Where a relayed message's CPU goes: flowrt and Node-RED beside the least a Python
process can do (``bench.minimal_relay``) at the same paced rate, paced two ways.

``python -m bench.floor [--rate 2000] [--repeats 3] [--window 6]`` (``make bench-floor``,
about 6 minutes) runs, for each repeat in turn and on a fresh private broker each time:
the minimal relay on uvloop and on the standard loop, flowrt (on uvloop when installed)
and Node-RED, each on its own core (``bench.proc.pinned``), warmed up by 20,000 messages,
then fed at ``--rate`` two ways: **one by one** (the messages due written every 0.5 ms,
as ``make bench`` paces them: about one per write, so one wake-up of the runtime per
message) and **in 10 ms batches** (20 at a time at 2,000 msg/s: one wake-up handles
several). It prints and writes (``bench/results/floor-<time>.md``) the medians of the
runtime's CPU (% of a core and µs per message) and p99 latency.

What it shows: the minimal relay's CPU is what the wake-up, the system calls and the
event loop cost on this machine; the rest of a runtime's is its own per-message work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import flows, measure, runtimes
from bench.mosquitto import Broker
from bench.proc import ManagedProcess, pinned
from bench.run import RESULTS_DIR

WARM_BURST = 20_000
PACINGS = {"one by one": measure.PACE_SLEEP_S, "10 ms batches": 0.010}
MINIMAL = {"minimal-uvloop": "uvloop", "minimal-asyncio": "asyncio"}
FIGURES = ("cpu_pct", "cpu_us_per_msg", "p99_ms")


def _start(name: str, broker: Broker, workdir: Path) -> tuple[int, Callable[[], object]]:
    """Start ``name`` relaying on ``broker``; its pid and how to stop it, once a probe
    message has come through."""
    link = measure.Link(broker.port, broker.port)
    wall = time.time()
    if name in MINIMAL:
        process = ManagedProcess([sys.executable, "-m", "bench.minimal_relay", str(broker.port),
                                  "--loop", MINIMAL[name]], workdir / f"{name}.log",
                                 cwd=Path(__file__).resolve().parent.parent)
        pid, stop = process.pid, lambda: process.stop()
    else:
        flow_path = workdir / "flow.json"
        flow_path.write_text(json.dumps(flows.relay(broker.port, runtimes.flow_flavour(name))))
        started = runtimes.spawn(name, flow_path, workdir)
        started.wait_ready(30.0)
        pid, stop = started.pid, started.stop
    try:
        measure.probe(link, ["1"], wall, timeout=30.0)
    except Exception:
        stop()
        raise
    return pid, stop


def measure_one(name: str, rate: float, window_s: float, workdir: Path) -> dict[str, Any]:
    """One run of ``name``: per pacing, the steady figures (see ``measure.steady``)."""
    with Broker.start(workdir, "broker") as broker:
        pid, stop = _start(name, broker, workdir)
        try:
            link = measure.Link(broker.port, broker.port)
            measure.burst(link, pid, str, WARM_BURST, WARM_BURST)
            with pinned(pid, [broker.process.pid]):
                return {pacing: measure.steady(link, pid, rate, 2.0, window_s, 1.0,
                                               pace_s=pace_s)
                        for pacing, pace_s in PACINGS.items()}
        finally:
            stop()


def table(runs: dict[str, list[dict[str, Any]]], rate: float) -> str:
    """The medians as Markdown, with each runtime's CPU against Node-RED's."""
    lines = [f"Relay at {rate:,.0f} msg/s, runtime pinned to its own core; medians of "
             f"{max(len(r) for r in runs.values())} runs.", "",
             "| runtime | pacing | CPU % of a core | CPU µs/msg | vs Node-RED | p99 ms |",
             "|---|---|---|---|---|---|"]
    medians = {name: {pacing: {figure: statistics.median(r[pacing][figure] for r in results)
                               for figure in FIGURES}
                      for pacing in PACINGS}
               for name, results in runs.items() if results}
    for name, by_pacing in medians.items():
        for pacing, figures in by_pacing.items():
            base = medians.get(runtimes.NODERED, {}).get(pacing, {}).get("cpu_us_per_msg")
            ratio = f"{figures['cpu_us_per_msg'] / base:.2f}" if base else "-"
            lines.append(f"| {name} | {pacing} | {figures['cpu_pct']:.1f} | "
                         f"{figures['cpu_us_per_msg']:.1f} | {ratio} | "
                         f"{figures['p99_ms']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured")
    args = parser.parse_args()
    names = [*MINIMAL, runtimes.FLOWRT, runtimes.NODERED]
    names = [n for n in names if n in MINIMAL
             or runtimes.unavailable_reason(n, may_install=True) is None]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="flowrt-floor-") as tmp:
        for repeat in range(args.repeats):
            for name in names:
                workdir = Path(tmp) / f"{name}-{repeat}"
                with contextlib.suppress(FileExistsError):
                    workdir.mkdir(parents=True)
                result = measure_one(name, args.rate, args.window, workdir)
                runs[name].append(result)
                print(f"repeat {repeat + 1}: {name}: " + ", ".join(
                    f"{pacing} {r['cpu_us_per_msg']:.1f} µs/msg" for pacing, r in result.items()),
                    flush=True)
    report = table(runs, args.rate)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"floor-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(report)
    print(report + f"\nwritten to {path}")


if __name__ == "__main__":
    main()
