"""Crash-test helper for tests/test_durable_queue.py (a script, not a test).

Usage: ``python durable_queue_writer.py DB_PATH``. Opens the queue and lets 32 producers
enqueue forever (single puts and small put_many batches, all priorities); each id is
printed on its own line only after its put resolved, i.e. after its transaction
committed. The test SIGKILLs this process at random moments and checks that every
printed id survived.
"""

import asyncio
import sys

from flowrt.durable_queue import DurableQueue, Priority


async def produce(queue: DurableQueue, producer: int) -> None:
    """Enqueue forever, printing every committed id."""
    n = 0
    while True:
        n += 1
        priority = Priority((producer + n) % 4)
        if n % 3:
            result = await queue.put({"producer": producer, "n": n, "raw": b"\x00\xff"}, priority)
        else:
            result = await queue.put_many(
                ({"producer": producer, "n": n, "part": i}, priority) for i in range(5)
            )
        sys.stdout.write("".join(f"{id_}\n" for id_ in result.ids))
        sys.stdout.flush()


async def main(path: str) -> None:
    """Open the queue and run the producers until killed."""
    queue = await DurableQueue.open(path, max_messages=10_000_000)
    await asyncio.gather(*(produce(queue, k) for k in range(32)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
