"""Crash-test helper for tests/nodes/test_store_forward.py (a script, not a test).

Usage: ``python store_forward_writer.py DATA_DIR ROUND``. Runs the test flow (source →
store-forward → a sink that never completes, so nothing is ever deleted) on the real
clock and feeds it messages numbered ``ROUND * 10**6 + i`` forever, keeping up to 256
unacknowledged; each number is printed once store-forward completed it, i.e. once it
is committed. The test kills this process with SIGKILL.
"""

import asyncio
import itertools
import sys
from pathlib import Path

from flowrt.clock import Clock
from flowrt.testing import FlowHarness
from tests.nodes.test_store_forward import Sink, Source, flow

IN_FLIGHT = 256


async def main(data_dir: str, round_: int) -> None:
    """Feed the flow until killed."""
    async with FlowHarness(flow(sink={"hold": True}), node_types=[Sink, Source],
                           data_dir=Path(data_dir), clock=Clock()) as h:
        room = asyncio.Semaphore(IN_FLIGHT)

        def acknowledged(n: int) -> None:
            sys.stdout.write(f"{n}\n")
            sys.stdout.flush()
            room.release()

        h.node("src").on_complete = acknowledged
        for n in itertools.count(round_ * 10**6):
            await room.acquire()
            h.send("src", {"payload": n})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
