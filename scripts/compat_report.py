"""Print the Node-RED compatibility numbers over tests/compat/flows.

    .venv/bin/python scripts/compat_report.py [-v] [FILE ...]
    .venv/bin/python scripts/compat_report.py --node-red [FILE ...]

Starts a private mosquitto on a free port, runs every corpus file (or the ones named)
as ``tests/compat/test_corpus.py`` does, and prints the totals (community files,
Node-RED's examples, all); ``-v`` adds each file's errors. Exits 1 when a function node
or a JSONata expression reported an error that ``EXCEPTIONS`` does not expect (or an
expected one did not happen).

``--node-red`` runs the same prepared files in Node-RED 4 instead (the one ``make bench``
installs under bench/.cache) and prints the function/JSONata errors it reports, in the
shape of ``tests/compat/corpus.py``'s ``EXCEPTIONS``: how its entries were found.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.nodered import red_js
from tests.brokers import Mosquitto, free_port
from tests.compat import corpus

# Node-RED's log, one JSON line per warning or error (with the node's id), and a line
# when the flows have started: what the oracle reads instead of the console.
SETTINGS_JS = """
const fs = require("fs");
const out = (entry) => fs.appendFileSync(process.env.COMPAT_LOG, JSON.stringify(entry) + "\\n");
module.exports = {
  flowFile: "flows.json",
  logging: {
    console: { level: "off" },
    compat: { level: "info", metrics: false, audit: false, handler: () => (msg) => {
      if (msg.level <= 30) out({level: msg.level, id: msg.id, msg: String(msg.msg)});
      else if (String(msg.msg).startsWith("Started flows")) out({started: true});
    } },
  },
};
"""

NODE_RED_SETTLE = 1.0
"""Seconds Node-RED gets after the last inject (a reference run, not a test)."""


async def _run(paths: list[Path], port: int, verbose: bool) -> list[corpus.FlowResult]:
    results = []
    for path in paths:
        result = await corpus.run_flow(path, port)
        results.append(result)
        if verbose:
            state = "started" if result.started else f"NOT STARTED {result.start_problem}"
            print(f"{result.name}: {state}, {len(result.errors)} errors")
            for error in result.errors:
                print("   ", error.line())
    return results


def _node_red_errors(path: Path, port: int) -> list[dict[str, str]]:
    """Run one prepared corpus file in Node-RED; the errors its nodes logged."""
    prepared = corpus.prepare(corpus.load_nodes(path), port)
    # Node-RED logs no error a catch node handles; flowrt's harness counts those too.
    catches = {n["id"] for n in prepared.nodes if n.get("type") == "catch"}
    nodes = [n for n in prepared.nodes if n["id"] not in catches]
    for node in nodes:
        corpus._forget(node, catches)
    user_dir = Path(tempfile.mkdtemp(prefix="flowrt-compat-nodered-"))
    try:
        (user_dir / "flows.json").write_text(json.dumps(nodes))
        (user_dir / "settings.js").write_text(SETTINGS_JS)
        log = user_dir / "log.jsonl"
        log.touch()
        http_port = free_port()
        proc = subprocess.Popen(
            ["node", str(red_js()), "-u", str(user_dir), "-p", str(http_port),
             "-s", str(user_dir / "settings.js")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, COMPAT_LOG=str(log)))
        try:
            deadline = time.monotonic() + 30
            while '"started"' not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            for node in nodes:
                if node.get("type") == "inject":
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{http_port}/inject/{node['id']}", data=b"{}",
                        headers={"Content-Type": "application/json"}, method="POST")
                    # An inject inside a subflow or on a disabled tab answers 404.
                    with contextlib.suppress(OSError):
                        urllib.request.urlopen(request, timeout=5).read()
            time.sleep(NODE_RED_SETTLE)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [e for e in entries if e.get("level") == 20]
    finally:
        shutil.rmtree(user_dir, ignore_errors=True)


def _node_red(paths: list[Path], port: int) -> int:
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        by_id = {n["id"]: n for n in corpus.load_nodes(path)}
        for entry in _node_red_errors(path, port):
            node = by_id.get(str(entry.get("id")))
            if node is not None and corpus._kind(node) != "other":
                text = " ".join(entry["msg"].split())
                found.setdefault(corpus.file_key(path), {}).setdefault(
                    node["id"], f"Node-RED 4.1 too: {text}")
    print(json.dumps(found, indent=4, ensure_ascii=False))
    return 0


def main() -> int:
    """Run the corpus and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="each file's errors")
    parser.add_argument("--node-red", action="store_true",
                        help="run the files in Node-RED and print its function/JSONata errors")
    parser.add_argument("files", nargs="*", type=Path, help="corpus files (default: all)")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.files] or corpus.flow_files()
    if args.node_red and (not red_js().exists() or shutil.which("node") is None):
        print("Node-RED is not installed: run `make bench` once", file=sys.stderr)
        return 2
    broker = Mosquitto().start()
    started = time.monotonic()
    try:
        if args.node_red:
            return _node_red(paths, broker.port)
        results = asyncio.run(_run(paths, broker.port, args.verbose))
    finally:
        broker.cleanup()
    community = [r for r in results if not r.name.startswith("nodered-examples/")]
    examples = [r for r in results if r.name.startswith("nodered-examples/")]
    for title, group in (("community flows", community), ("Node-RED's examples", examples),
                         ("all", results)):
        if group:
            print(f"--- {title}\n{corpus.summary(group)}")
    print(f"time: {time.monotonic() - started:.1f} s")
    return 1 if any(r.unexpected_errors or r.stale_exceptions for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
