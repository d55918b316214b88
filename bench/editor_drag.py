"""Editor benchmark: dragging one node in a 1,000-node tab, in flowrt's editor and in
Node-RED 4's, in Chromium driven by Playwright (``python -m bench.editor_drag``, or
``make bench-editor``). Method and figures: bench/README.md, "Editor: dragging a node".

Both runtimes get the same generated flow file: one tab of 1,000 nodes in chains of
inject → 10 function nodes → debug, each function setting its status. For each editor:
STATUS_ROUNDS rounds of 100 status updates (10 injects through 10 function nodes each)
are costed as the renderer's main-thread time (CDP ``Performance.getMetrics``: all
tasks, and script alone) from the first inject until every badge shows. Then a function
node in the middle of a chain is pressed, moved a few times, then MOVES more times, one
at a time; each of those is timed in the page from the move event's timestamp to the end
of the next frame's rendering (a requestAnimationFrame callback posts a message, which
runs once that frame's style, layout and paint are done).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import nodered, runtimes
from bench.proc import ManagedProcess, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
VIEWPORT = {"width": 1400, "height": 850}
NODES = 1000
FUNCTIONS_PER_CHAIN = 10
STATUS_CHAINS = 10  # injects per round: 10 chains x 10 function nodes = 100 status updates
STATUS_ROUNDS = 3
MOVES = 60
WARMUP_MOVES = 5
STEP = (-3, 2)  # pixels per mouse move: down and left, away from the edges (no auto-scroll)
DRAG_ROW, DRAG_COLUMN = 4, 3  # the dragged node: chain 4's third function node, in view in both
TIMEOUT_MS = 60_000
READY_TIMEOUT_S = 60.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TAB_ID = "be0c0000000000aa"

FUNCTION_CODE = ('node.status({fill: "green", shape: "dot", text: "seen " + msg.payload});\n'
                 "return msg;")

# Installed in the page before its own scripts: times each pointer move to the end of the
# next frame's rendering, and waits for a given number of samples.
PROBE = """
(() => {
  const bench = { armed: false, samples: [], waiters: [] };
  window.__bench = bench;
  bench.until = (n) => new Promise((resolve) => {
    if (bench.samples.length >= n) resolve(); else bench.waiters.push([n, resolve]);
  });
  const channel = new MessageChannel();
  const starts = [];
  channel.port1.onmessage = () => {
    bench.samples.push(performance.now() - starts.shift());
    bench.waiters = bench.waiters.filter(([n, resolve]) => {
      if (bench.samples.length < n) return true;
      resolve();
      return false;
    });
  };
  window.addEventListener("pointermove", (e) => {
    if (!bench.armed) return;
    starts.push(e.timeStamp);
    requestAnimationFrame(() => channel.port2.postMessage(null));
  }, { capture: true });
})();
"""


def node_id(row: int, column: int) -> str:
    """The id of node `column` (0 = the inject) of chain `row`."""
    return f"{row:04x}{column:04x}beef0000"


def make_flow(total: int = NODES) -> list[dict[str, Any]]:
    """One tab of `total` nodes: chains of inject → 10 functions → debug, one per row."""
    flow: list[dict[str, Any]] = [{"id": TAB_ID, "type": "tab", "label": "Big flow",
                                   "disabled": False, "info": ""}]
    length = FUNCTIONS_PER_CHAIN + 2
    row = 0
    while len(flow) - 1 < total:
        count = min(length, total - (len(flow) - 1))
        for column in range(count):
            nid = node_id(row, column)
            following = [[node_id(row, column + 1)]] if column + 1 < count else [[]]
            base = {"id": nid, "z": TAB_ID, "x": 110 + column * 170, "y": 40 + row * 45}
            if column == 0:
                node = {"type": "inject", "name": f"start {row}", "props": [{"p": "payload"}],
                        "payload": "", "payloadType": "date", "repeat": "", "once": False,
                        "topic": "", "wires": following}
            elif column == length - 1:
                node = {"type": "debug", "name": f"end {row}", "active": False,
                        "tosidebar": True, "console": False, "tostatus": False,
                        "complete": "payload", "targetType": "msg", "wires": []}
            else:
                node = {"type": "function", "name": f"step {row}.{column}", "func": FUNCTION_CODE,
                        "outputs": 1, "wires": following}
            flow.append({**base, **node})
        row += 1
    return flow


@dataclass
class StatusCost:
    """One round of 100 status updates: the renderer's main-thread time (all tasks, and
    scripts alone) and the wall time until every badge showed."""

    task_ms: float
    script_ms: float
    wall_ms: float


@dataclass
class EditorResult:
    """What one editor measured."""

    editor: str
    move_ms: list[float]
    status: list[StatusCost]

    def status_median(self, field: str) -> float:
        """The median over the status rounds of StatusCost.`field`."""
        return statistics.median(getattr(cost, field) for cost in self.status)

    @property
    def median(self) -> float:
        """Median ms per mouse move."""
        return statistics.median(self.move_ms)

    @property
    def p95(self) -> float:
        """95th percentile ms per mouse move."""
        return statistics.quantiles(self.move_ms, n=20, method="inclusive")[18]


@dataclass
class Editor:
    """How to find things in one editor's page."""

    name: str
    ready_selector: str  # present once the flow is drawn
    node_selector: str  # the dragged node's body, {id} filled in
    status_script: str  # JS expression: how many function nodes show a status text


FLOWRT_EDITOR = Editor(
    name="flowrt",
    ready_selector="body[data-ready=true] #canvas [data-node-id]",
    node_selector='#canvas [data-node-id="{id}"] .node-body',
    status_script="[...document.querySelectorAll('#canvas [data-type=function] .status-text')]"
                  ".filter(t => t.textContent.startsWith('seen')).length",
)
NODERED_EDITOR = Editor(
    name="Node-RED",
    ready_selector="#red-ui-workspace-chart .red-ui-flow-node",
    node_selector='[id="{id}"] .red-ui-flow-node',
    status_script="[...document.querySelectorAll('.red-ui-flow-node-status-label')]"
                  ".filter(t => t.textContent.startsWith('seen')).length",
)


def post(url: str, body: object) -> None:
    """POST JSON and read the answer (raises on HTTP errors)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def measure_status(page: Any, cdp: Any, editor: Editor, base_url: str, round_: int) -> StatusCost:
    """Send 100 status messages (injects into the round's 10 chains) and cost them."""

    def busy() -> tuple[float, float]:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["TaskDuration"]), float(metrics["ScriptDuration"])

    page.evaluate("() => new Promise((r) => setTimeout(r, 500))")  # let the page go idle
    before = busy()
    started = time.monotonic()
    for row in range(STATUS_CHAINS * round_, STATUS_CHAINS * (round_ + 1)):
        post(f"{base_url}/inject/{node_id(row, 0)}", {})
    expected = STATUS_CHAINS * FUNCTIONS_PER_CHAIN * (round_ + 1)
    page.wait_for_function(f"() => ({editor.status_script}) >= {expected}", polling=50)
    wall = time.monotonic() - started
    after = busy()
    return StatusCost((after[0] - before[0]) * 1000, (after[1] - before[1]) * 1000, wall * 1000)


def measure_drag(page: Any, editor: Editor) -> list[float]:
    """Drag the node: ms from each measured mouse move to the end of its frame."""
    target = page.locator(editor.node_selector.format(id=node_id(DRAG_ROW, DRAG_COLUMN)))
    target.wait_for()
    box = target.bounding_box()
    if box is None:
        raise RuntimeError(f"{editor.name}: the node to drag is not shown")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for _ in range(WARMUP_MOVES):
        x, y = x + STEP[0], y + STEP[1]
        page.mouse.move(x, y)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100)))")
    page.evaluate("() => { window.__bench.armed = true; }")
    for count in range(1, MOVES + 1):
        x, y = x + STEP[0], y + STEP[1]
        page.mouse.move(x, y)
        page.evaluate("n => window.__bench.until(n)", count)
    page.evaluate("() => { window.__bench.armed = false; }")
    page.mouse.up()
    return list(page.evaluate("() => window.__bench.samples"))


def measure_editor(browser: Any, editor: Editor, base_url: str) -> EditorResult:
    """Open `editor` at base_url, cost the status updates, then drag the node."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.add_init_script(PROBE)
        page.goto(base_url + "/")
        page.wait_for_selector(editor.ready_selector)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        status = [measure_status(page, cdp, editor, base_url, r) for r in range(STATUS_ROUNDS)]
        return EditorResult(editor.name, measure_drag(page, editor), status)
    finally:
        context.close()


def start(runtime: str, flow_path: Path, workdir: Path) -> runtimes.RunningRuntime:
    """Start `runtime` on the flow with a fresh data dir in workdir."""
    if runtime == runtimes.FLOWRT:
        return runtimes.spawn(runtime, flow_path, workdir)
    if not nodered.installed():
        raise RuntimeError("Node-RED is not installed in bench/.cache")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Node-RED's welcome tour would cover the canvas on a first visit.
    argv = [*nodered.command(flow_path, port, workdir / "userdir"),
            "-D", "editorTheme.tours=false"]
    wall, mono = time.time(), time.monotonic()
    process = ManagedProcess(argv, workdir / "nodered.log", cwd=workdir)
    return runtimes.RunningRuntime(name=runtime, port=port, process=process, spawned_wall=wall,
                                   spawned_mono=mono)


def run_editor(browser: Any, runtime: str, flow_path: Path, workdir: Path) -> EditorResult:
    """Start `runtime` on the flow, measure its editor, stop it."""
    running = start(runtime, flow_path, workdir)
    try:
        running.wait_ready(READY_TIMEOUT_S)
        editor = FLOWRT_EDITOR if runtime == runtimes.FLOWRT else NODERED_EDITOR
        return measure_editor(browser, editor, running.base_url)
    finally:
        running.stop()


def report(results: list[EditorResult], load: tuple[float, float, float]) -> str:
    """The results as a Markdown table, with flowrt / Node-RED ratios."""
    lines = [f"Dragging one node of a {NODES}-node tab ({MOVES} mouse moves), and "
             f"{STATUS_CHAINS * FUNCTIONS_PER_CHAIN} status updates (median of {STATUS_ROUNDS})",
             f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
             f"on {os.cpu_count()} cores",
             "",
             "| editor | ms per move, median | p95 | status updates: main-thread ms "
             "| of which script | until shown, ms |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.editor} | {r.median:.1f} | {r.p95:.1f} "
                     f"| {r.status_median('task_ms'):.0f} | {r.status_median('script_ms'):.0f} "
                     f"| {r.status_median('wall_ms'):.0f} |")
    by_name = {r.editor: r for r in results}
    if "flowrt" in by_name and "Node-RED" in by_name:
        ours, theirs = by_name["flowrt"], by_name["Node-RED"]
        lines += ["", f"flowrt / Node-RED: median {ours.median / theirs.median:.2f}, "
                      f"p95 {ours.p95 / theirs.p95:.2f}, status cost "
                      f"{ours.status_median('task_ms') / theirs.status_median('task_ms'):.2f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write bench/results/editor-drag-*.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=[runtimes.FLOWRT, runtimes.NODERED],
                        help="measure one editor")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make system-deps`", file=sys.stderr)
        return 2
    chosen = [args.only] if args.only else [runtimes.FLOWRT, runtimes.NODERED]
    if runtimes.NODERED in chosen and not nodered.installed():
        print("Node-RED is not installed in bench/.cache: skipped", file=sys.stderr)
        chosen.remove(runtimes.NODERED)
    from playwright.sync_api import sync_playwright

    results: list[EditorResult] = []
    with tempfile.TemporaryDirectory(prefix="flowrt-editor-bench-") as tmp:
        work = Path(tmp)
        flow_path = work / "flows.json"
        flow_path.write_text(json.dumps(make_flow(), indent=1))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for runtime in chosen:
                    results.append(run_editor(browser, runtime, flow_path, work / runtime))
            finally:
                browser.close()
    load = os.getloadavg()
    text = report(results, load)
    print(text)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    payload = {"nodes": NODES, "moves": MOVES, "load_average": load, "results": [
        {**asdict(r), "median_ms": r.median, "p95_ms": r.p95} for r in results]}
    (RESULTS_DIR / f"editor-drag-{stamp}.json").write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
