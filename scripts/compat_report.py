"""Print the Node-RED compatibility numbers over tests/compat/flows.

    .venv/bin/python scripts/compat_report.py [-v] [FILE ...]

Starts a private mosquitto on a free port, runs every corpus file (or the ones named)
as ``tests/compat/test_corpus.py`` does, and prints the totals; ``-v`` adds each file's
errors. Exits 1 when a function node or a JSONata expression reported an error that
``EXCEPTIONS`` does not expect (or an expected one did not happen).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.brokers import Mosquitto
from tests.compat import corpus


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


def main() -> int:
    """Run the corpus and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="each file's errors")
    parser.add_argument("files", nargs="*", type=Path, help="corpus files (default: all)")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.files] or corpus.flow_files()
    broker = Mosquitto().start()
    started = time.monotonic()
    try:
        results = asyncio.run(_run(paths, broker.port, args.verbose))
    finally:
        broker.cleanup()
    print(corpus.summary(results))
    print(f"time: {time.monotonic() - started:.1f} s")
    return 1 if any(r.unexpected_errors or r.stale_exceptions for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
