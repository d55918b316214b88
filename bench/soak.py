"""``make bench-soak``: an hour at 2,000 msg/s through the edge gateway example flow
(``flows/edge-gateway.json``) on flowrt — does memory creep, does CPU drift?

    python -m bench.soak [--minutes 60] [--rate 2000] [--every 60] [--runtime flowrt]

Two private brokers stand in for the gateway's local and cloud brokers (the flow's broker
nodes are pointed at them); one sensor publishes JSON readings at a steady rate; the
runtime's RSS and CPU are sampled every ``--every`` seconds. The report gives RSS idle,
at the start (after the first interval) and at the end, its peak and its growth per hour,
CPU over the whole soak and per interval, and how many publishes reached the cloud
broker (readings go in batches, summaries and alerts one by one). Results go
to ``bench/results/soak-<time>.{md,json}``. Opt-in (not CI, not ``make bench``): it takes
as long as it says. flowrt only: the flow uses flowrt's aggregate, threshold and
cloud-bridge nodes.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import measure, runtimes
from bench.mosquitto import Broker, clients_available
from bench.run import RESULTS_DIR, WORK_DIR, log

FLOW_FILE = Path(__file__).resolve().parent.parent / "flows" / "edge-gateway.json"
SENSOR_TOPIC = "sensors/soak-1/telemetry"
CLOUD_TOPICS = ("devices/#",)


def reading(sent_us: int) -> str:
    """A sensor reading that wanders (so the deadband filter forwards some of them) and
    stays below the alert thresholds."""
    phase = (sent_us // 1000) % 10_000 / 10_000 * 2 * math.pi
    return json.dumps({"temperature": round(25 + 5 * math.sin(phase), 2),
                       "humidity": round(50 + 10 * math.cos(phase), 1),
                       "vibration": round(60 + 20 * math.sin(3 * phase), 1)})


def gateway_flow(edge_port: int, cloud_port: int) -> list[dict[str, Any]]:
    """flows/edge-gateway.json with its sensor broker on edge_port and its cloud broker
    (the one the cloud-bridge node uses) on cloud_port."""
    flow: list[dict[str, Any]] = json.loads(FLOW_FILE.read_text())
    cloud_ids = {n["broker"] for n in flow if n["type"] == "cloud-bridge"}
    for node in flow:
        if node["type"] == "mqtt-broker":
            node["broker"] = "127.0.0.1"
            node["port"] = cloud_port if node["id"] in cloud_ids else edge_port
    return flow


def soak(minutes: float, rate: float, every: float, runtime: str,
         workdir: Path) -> dict[str, Any]:
    """Run the soak; the result document (RuntimeError when the runtime dies)."""
    seconds = minutes * 60
    every = min(every, seconds)
    with Broker.start(workdir, "edge") as edge, Broker.start(workdir, "cloud") as cloud:
        flow_path = workdir / "flow.json"
        flow_path.write_text(json.dumps(gateway_flow(edge.port, cloud.port), indent=2))
        started = runtimes.spawn(runtime, flow_path, workdir)
        try:
            ready_s = started.wait_ready(60.0)
            pid = started.pid
            idle = measure.proc_stats(pid)
            samples: list[dict[str, float]] = []
            began, cpu0 = time.monotonic(), measure.cpu_seconds(pid)

            def sample(sent: int) -> None:
                stats = measure.proc_stats(pid)
                samples.append({"t_s": time.monotonic() - began, "sent": sent,
                                "rss_mb": stats.rss_mb,
                                "cpu_s": measure.cpu_seconds(pid) - cpu0})
                log(f"soak {samples[-1]['t_s']:7.0f} s: {sent:,} sent, RSS "
                    f"{stats.rss_mb:.1f} MB")

            marks = [every * i for i in range(1, int(seconds // every) + 1)]
            with measure.Subscriber(cloud.port, CLOUD_TOPICS, keep=False) as out:
                out.wait_subscribed()
                sent = measure.publish_paced(edge.port, SENSOR_TOPIC, rate, seconds,
                                             stamp=reading, marks=marks, on_mark=sample)
                out.wait_for(10**12, quiet=5.0, timeout=30.0)  # the last batches
                cloud_publishes = out.received
            if not started.process.alive():
                raise RuntimeError(f"{runtime} died during the soak:\n"
                                   f"{started.process.log_tail()}")
            peak = measure.proc_stats(pid).hwm_mb
            event_loop = started.event_loop()
        finally:
            exit_code = started.stop()
    first, last = samples[0], samples[-1]
    hours = (last["t_s"] - first["t_s"]) / 3600
    return {
        "runtime": runtime, "event_loop": event_loop, "minutes": minutes, "rate": rate,
        "ready_s": ready_s, "sent": sent, "cloud_publishes": cloud_publishes,
        "rss_idle_mb": idle.rss_mb, "rss_start_mb": first["rss_mb"],
        "rss_end_mb": last["rss_mb"], "rss_max_sampled_mb": max(s["rss_mb"] for s in samples),
        "peak_rss_mb": peak,
        "rss_growth_mb_per_h": (last["rss_mb"] - first["rss_mb"]) / hours if hours else None,
        "cpu_pct": last["cpu_s"] / last["t_s"] * 100,
        "cpu_us_per_msg": last["cpu_s"] / last["sent"] * 1e6 if last["sent"] else None,
        "exit_code": exit_code, "samples": samples,
    }


def markdown(result: dict[str, Any]) -> str:
    """The soak's figures as Markdown: a summary table and CPU/RSS per interval."""
    lines = [f"# Soak: {result['minutes']:g} min at {result['rate']:,.0f} msg/s through "
             f"flows/edge-gateway.json ({result['runtime']}, {result['event_loop']} loop)", "",
             "| figure | value |", "|---|---:|"]
    for key, value in result.items():
        if key != "samples":
            lines.append(f"| {key} | {f'{value:,.2f}' if isinstance(value, float) else value} |")
    lines += ["", "| t (s) | sent | RSS (MB) | CPU in the interval (% of a core) |",
              "|---:|---:|---:|---:|"]
    before = {"t_s": 0.0, "cpu_s": 0.0}
    for s in result["samples"]:
        cpu = (s["cpu_s"] - before["cpu_s"]) / (s["t_s"] - before["t_s"]) * 100
        lines.append(f"| {s['t_s']:.0f} | {s['sent']:,} | {s['rss_mb']:.1f} | {cpu:.1f} |")
        before = s
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.soak``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=2_000.0, help="messages per second")
    parser.add_argument("--every", type=float, default=60.0,
                        help="seconds between two samples of RSS and CPU")
    parser.add_argument("--runtime", default=runtimes.FLOWRT,
                        choices=[rt for rt in runtimes.ALL_RUNTIMES if rt != runtimes.NODERED])
    args = parser.parse_args(argv)
    if not clients_available():
        raise SystemExit("mosquitto_pub/mosquitto_sub are not installed (make system-deps)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = WORK_DIR / f"soak-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = soak(args.minutes, args.rate, args.every, args.runtime, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"soak-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS_DIR / f"soak-{stamp}.md").write_text(text)
    sys.stdout.write(text)
    return 0 if result["cloud_publishes"] and result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
