"""Benchmark of project mode's deploy commits (flowrt.projects): time and memory.

``python -m bench.project_commit [--tabs 100] [--nodes 20] [--commits 10]`` saves a
project of that many tabs (nodes per tab) through ``ProjectStorage.save`` -- the file
transaction and the git commit a deploy makes -- then changes one tab per commit, and
prints the first save's time, the median of the others, and the resident memory the
process gained (the git command runs in its own process: this stays near zero). The
figures behind the choice of the git binary over dulwich (flowrt/projects/git.py).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.durable_queue import rss_bytes


def project_flows(tabs: int, nodes: int, version: int = 0) -> list[dict[str, Any]]:
    """``tabs`` tabs of ``nodes`` function nodes each; ``version`` edits the first tab."""
    flows: list[dict[str, Any]] = []
    for t in range(tabs):
        flows.append({"id": f"tab{t}", "type": "tab", "label": f"Tab {t}"})
        for n in range(nodes):
            flows.append({"id": f"n{t}-{n}", "type": "function", "z": f"tab{t}",
                          "name": f"step {n}" + (f" v{version}" if t == 0 else ""),
                          "func": "msg.payload = msg.payload * 2;\nreturn msg;",
                          "x": 100 + 40 * n, "y": 80, "wires": [[f"n{t}-{n + 1}"]]})
    return flows


def run(tabs: int, nodes: int, commits: int) -> dict[str, float]:
    """Time the saves of a project; milliseconds and kilobytes."""
    from flowrt.projects.storage import ProjectStorage
    from flowrt.storage import DeployNote

    flows = [project_flows(tabs, nodes, version) for version in range(commits + 1)]
    before = rss_bytes()  # after the imports and the documents: what commits add
    with tempfile.TemporaryDirectory() as tmp:
        storage = ProjectStorage(Path(tmp), credential_secret=False)
        storage.create([], {}, "empty")
        start = time.perf_counter()
        storage.save(flows[0], {}, DeployNote("bench", "first"))
        first = time.perf_counter() - start
        times = []
        for version in range(1, commits + 1):
            start = time.perf_counter()
            storage.save(flows[version], {}, DeployNote("bench", "edit"))
            times.append(time.perf_counter() - start)
    return {"first_ms": first * 1000, "edit_median_ms": statistics.median(times) * 1000,
            "rss_added_kb": (rss_bytes() - before) / 1024}


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--commits", type=int, default=10)
    args = parser.parse_args()
    figures = run(args.tabs, args.nodes, args.commits)
    print(f"{args.tabs} tabs x {args.nodes} nodes: first save {figures['first_ms']:.0f} ms, "
          f"one tab changed {figures['edit_median_ms']:.0f} ms (median of {args.commits}), "
          f"RSS added {figures['rss_added_kb']:.0f} kB")


if __name__ == "__main__":
    main()
