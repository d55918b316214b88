"""Dashboard benchmark: 20 widgets updating at 10 Hz, in flowrt's dashboard and in Node-RED
Dashboard 1 (``node-red-dashboard``) on Node-RED 4, in Chromium driven by Playwright
(``python -m bench.dashboard_load [--seconds 60] [--only flowrt|nodered]``). Method:
bench/README.md, "Dashboard: 20 widgets at 10 Hz".

Both runtimes get the same generated flow file: an inject every 0.1 s feeding a JavaScript
function node with 20 outputs, one per widget (10 gauges, 6 texts, 4 line charts), on one
dashboard tab. For each runtime: the runtime's CPU while nobody looks (``--idle``
seconds), then one page opened at /ui and, after a warm-up, for ``--seconds``: the page's
frame intervals (a requestAnimationFrame loop), its main thread's busy time (CDP
``Performance.getMetrics`` TaskDuration) and the runtime's CPU again; the difference is
what serving the page costs the runtime. Node-RED Dashboard is installed with npm into
bench/.cache/dashboard on first use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import nodered, runtimes
from bench.measure import percentile, proc_stats
from bench.proc import ManagedProcess, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
VIEWPORT = {"width": 1280, "height": 900}
DASHBOARD_CACHE = Path(__file__).resolve().parent / ".cache" / "dashboard"
DASHBOARD_PACKAGE = "node-red-dashboard@3"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
READY_TIMEOUT_S = 60.0
WIDGETS = (["ui_gauge"] * 10) + (["ui_text"] * 6) + (["ui_chart"] * 4)
RATE_HZ = 10

FUNCTION_CODE = f"""const t = Date.now() / 1000;
return Array.from({{length: {len(WIDGETS)}}}, (_, i) => ({{topic: "s" + (i % 3),
    payload: Math.round((50 + 40 * Math.sin(t / 3 + i)) * 10) / 10}}));"""

FRAME_PROBE = """
(() => {
  const frames = [];
  let last = performance.now();
  window.__frames = frames;
  const loop = (now) => { frames.push(now - last); last = now; requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
})();
"""


def flow() -> list[dict[str, Any]]:
    """The benchmark flow: inject (10 Hz) → function (20 outputs) → 20 dashboard widgets."""
    nodes: list[dict[str, Any]] = [
        {"id": "tab", "type": "tab", "label": "dashboard load"},
        {"id": "uitab", "type": "ui_tab", "name": "Load", "icon": "dashboard", "order": 1},
        {"id": "g1", "type": "ui_group", "name": "Gauges", "tab": "uitab", "order": 1,
         "disp": True, "width": "15", "collapse": False},
        {"id": "g2", "type": "ui_group", "name": "Texts and charts", "tab": "uitab",
         "order": 2, "disp": True, "width": "12", "collapse": False},
        {"id": "tick", "type": "inject", "z": "tab", "props": [{"p": "payload"}],
         "repeat": str(1 / RATE_HZ), "crontab": "", "once": True, "onceDelay": "0.5",
         "topic": "", "payload": "", "payloadType": "date", "x": 100, "y": 100,
         "wires": [["fn"]]},
        {"id": "fn", "type": "function", "z": "tab", "name": "20 readings",
         "func": FUNCTION_CODE, "outputs": len(WIDGETS), "timeout": 0, "noerr": 0,
         "initialize": "", "finalize": "", "libs": [], "x": 300, "y": 100,
         "wires": [[f"w{i}"] for i in range(len(WIDGETS))]},
    ]
    for i, kind in enumerate(WIDGETS):
        node: dict[str, Any] = {"id": f"w{i}", "type": kind, "z": "tab", "order": i + 1,
                                "x": 500, "y": 40 + 30 * i, "wires": []}
        if kind == "ui_gauge":
            node.update(group="g1", width="3", height="3", gtype="gage", title=f"gauge {i}",
                        label="units", format="{{value}}", min=0, max="100",
                        colors=["#00b500", "#e6e600", "#ca3838"], seg1="", seg2="")
        elif kind == "ui_text":
            node.update(group="g2", width="6", height="1", label=f"text {i}",
                        format="{{msg.payload}}", layout="row-spread")
        else:
            node.update(group="g2", width="6", height="4", label=f"chart {i}",
                        chartType="line", legend="false", xformat="HH:mm:ss",
                        interpolate="linear", nodata="", dot=False, ymin="", ymax="",
                        removeOlder="1", removeOlderPoints="", removeOlderUnit="60",
                        cutout=0, useOneColor=False, useUTC=False, outputs=1,
                        colors=["#1f77b4", "#aec7e8", "#ff7f0e"], wires=[[]])
        nodes.append(node)
    return nodes


def ensure_dashboard() -> Path:
    """node-red-dashboard installed with npm into bench/.cache/dashboard; its node_modules."""
    modules = DASHBOARD_CACHE / "node_modules"
    if (modules / "node-red-dashboard" / "package.json").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the Node-RED Dashboard comparison needs npm on PATH")
    DASHBOARD_CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", DASHBOARD_PACKAGE, "--prefix", str(DASHBOARD_CACHE),
                    "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"],
                   check=True, timeout=900, capture_output=True)
    return modules


@dataclass
class Result:
    """One runtime's figures."""

    runtime: str
    seconds: float
    idle_cpu_percent: float
    """The runtime's CPU (of one core) while the flow runs and no page is open."""
    page_cpu_percent: float
    """The same with one dashboard page open."""
    extra_cpu_percent: float
    frames: int
    frame_ms_p50: float
    frame_ms_p95: float
    frame_ms_max: float
    page_busy_percent: float
    """The page's main thread: time spent in tasks, per wall second."""


def _cpu_percent(pid: int, seconds: float) -> float:
    before, start = proc_stats(pid).cpu_s, time.monotonic()
    time.sleep(seconds)
    return 100 * (proc_stats(pid).cpu_s - before) / (time.monotonic() - start)


def measure(runtime: str, flow_path: Path, workdir: Path, seconds: float, idle: float,
            warmup: float) -> Result:
    """Start ``runtime`` on the flow, measure it without and with a dashboard page."""
    from playwright.sync_api import sync_playwright

    running = _spawn(runtime, flow_path, workdir)
    try:
        running.wait_ready(READY_TIMEOUT_S)
        time.sleep(warmup)  # the flow's start-up work is not the dashboard's
        idle_cpu = _cpu_percent(running.pid, idle)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": VIEWPORT["width"],
                                              "height": VIEWPORT["height"]})
            page.add_init_script(FRAME_PROBE)
            page.goto(running.base_url + "/ui")
            session = page.context.new_cdp_session(page)
            session.send("Performance.enable")
            time.sleep(warmup)
            page.evaluate("window.__frames.length = 0")
            busy_before = _task_seconds(session)
            start = time.monotonic()
            page_cpu = _cpu_percent(running.pid, seconds)
            wall = time.monotonic() - start
            busy = _task_seconds(session) - busy_before
            frames = sorted(page.evaluate("window.__frames.slice()"))
            browser.close()
    finally:
        running.stop()
    return Result(runtime=runtime, seconds=seconds, idle_cpu_percent=round(idle_cpu, 1),
                  page_cpu_percent=round(page_cpu, 1),
                  extra_cpu_percent=round(page_cpu - idle_cpu, 1), frames=len(frames),
                  frame_ms_p50=round(statistics.median(frames), 1) if frames else 0.0,
                  frame_ms_p95=round(percentile(frames, 95), 1) if frames else 0.0,
                  frame_ms_max=round(frames[-1], 1) if frames else 0.0,
                  page_busy_percent=round(100 * busy / wall, 1))


def _spawn(runtime: str, flow_path: Path, workdir: Path) -> runtimes.RunningRuntime:
    if runtime == runtimes.FLOWRT:
        return runtimes.spawn(runtime, flow_path, workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    user_dir = workdir / "userdir"
    user_dir.mkdir()
    (user_dir / "node_modules").symlink_to(ensure_dashboard())  # Node-RED loads it from here
    port = free_port()
    nodered.ensure_installed()
    argv = nodered.command(flow_path, port, user_dir)
    wall, mono = time.time(), time.monotonic()
    process = ManagedProcess(argv, workdir / "nodered.log", cwd=workdir)
    return runtimes.RunningRuntime(name=runtime, port=port, process=process,
                                   spawned_wall=wall, spawned_mono=mono)


def _task_seconds(session: Any) -> float:
    metrics = session.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="measured seconds with the page open (default 60)")
    parser.add_argument("--idle", type=float, default=10.0,
                        help="seconds of runtime CPU measured without a page (default 10)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--only", choices=[runtimes.FLOWRT, runtimes.NODERED])
    args = parser.parse_args(argv)
    chosen = [args.only] if args.only else [runtimes.FLOWRT, runtimes.NODERED]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="flowrt-dashboard-bench-") as tmp:
        flow_path = Path(tmp) / "flow.json"
        flow_path.write_text(json.dumps(flow()))
        for runtime in chosen:
            reason = (runtimes.unavailable_reason(runtime, may_install=False)
                      if runtime == runtimes.FLOWRT else None)
            if reason:
                print(f"{runtime}: skipped ({reason})", file=sys.stderr)
                continue
            results.append(measure(runtime, flow_path, Path(tmp) / runtime, args.seconds,
                                   args.idle, args.warmup))
    header = ("runtime", "frames", "frame p50 ms", "p95 ms", "max ms", "page busy %",
              "runtime CPU % idle", "with page", "extra")
    print(" | ".join(header))
    for r in results:
        print(" | ".join(str(v) for v in (r.runtime, r.frames, r.frame_ms_p50, r.frame_ms_p95,
                                          r.frame_ms_max, r.page_busy_percent,
                                          r.idle_cpu_percent, r.page_cpu_percent,
                                          r.extra_cpu_percent)))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"dashboard-load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"nodered": nodered.version(), "widgets": len(WIDGETS),
                               "rate_hz": RATE_HZ, "results": [asdict(r) for r in results]},
                              indent=2))
    print(f"saved {out}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
