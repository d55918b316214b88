"""Benchmark of flowrt.durable_queue (WAL, synchronous=FULL): enqueue, drain, disk, RSS.

``run(seconds)`` is what ``python -m bench.run`` reports (time-boxed figures).
``python -m bench.durable_queue [--messages 100000] [--producers 256] [--rss-messages 1000000]``
prints the full report: durable enqueue rate with many producers and with one, drain
rate (lease + ack in batches), disk bytes per message, write amplification, and RSS
sampled while a million messages pile up (it should stay flat: entries live on disk).

Producers are tasks that each ``await queue.put(...)`` in a loop, as a flow with that
many messages in flight would; their puts share transactions (group commit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from flowrt.durable_queue import DurableQueue, encode_message

READING = {
    "_msgid": "3f2a9c1d5e6b7a80",
    "topic": "plant1/line3/sensor17",
    "payload": {"t": 21.53, "rh": 40.1, "ts": 1767225600123},
}
"""A typical sensor reading; about 100 bytes as JSON."""


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def enqueue(queue: DurableQueue, producers: int, count: int | None = None,
                  seconds: float | None = None) -> tuple[int, float]:
    """Put READING from ``producers`` tasks until ``count`` or ``seconds``: (puts, elapsed)."""
    done = 0
    deadline = time.perf_counter() + seconds if seconds is not None else None
    start = time.perf_counter()

    async def produce() -> None:
        nonlocal done
        while (count is None or done < count) and (
            deadline is None or time.perf_counter() < deadline
        ):
            done += 1
            await queue.put(READING)

    await asyncio.gather(*(produce() for _ in range(producers)))
    return done, time.perf_counter() - start


async def drain(queue: DurableQueue, batch: int = 500, seconds: float | None = None
                ) -> tuple[int, float]:
    """Lease and ack in batches until empty or ``seconds`` ran out: (acked, elapsed)."""
    acked = 0
    start = time.perf_counter()
    while seconds is None or time.perf_counter() - start < seconds:
        entries = await queue.lease(batch)
        if not entries:
            break
        acked += await queue.ack([e.id for e in entries])
    return acked, time.perf_counter() - start


async def _figures(path: Path, producers: int, count: int | None, seconds: float | None
                   ) -> dict[str, Any]:
    queue = await DurableQueue.open(path, max_messages=10_000_000)
    puts, elapsed = await enqueue(queue, producers, count=count, seconds=seconds)
    stats = await queue.stats()
    await queue.close()
    size = await asyncio.to_thread(os.path.getsize, path)
    amplification = stats.write_amplification
    figures: dict[str, Any] = {
        "message_bytes": len(encode_message(READING)[0]),
        "messages": puts,
        "producers": producers,
        "enqueue_msgs_per_s": round(puts / elapsed),
        "disk_bytes_per_msg": round(size / puts, 1),
        "write_amplification": None if amplification is None else round(amplification, 2),
    }
    async with await DurableQueue.open(path, max_messages=10_000_000) as queue:
        single, single_elapsed = await enqueue(
            queue, 1, seconds=min(2.0, seconds / 4 if seconds else 2.0))
        acked, drain_elapsed = await drain(queue, seconds=seconds)
    figures["enqueue_1_producer_msgs_per_s"] = round(single / single_elapsed)
    figures["drain_msgs_per_s"] = round(acked / drain_elapsed)
    return figures


def run(seconds: float) -> dict[str, Any]:
    """Time-boxed figures (about ``seconds`` per phase, a little more in total)."""
    with tempfile.TemporaryDirectory(prefix="flowrt-bench-dq-") as tmp:
        return asyncio.run(_figures(Path(tmp) / "bench.sqlite3", 256, None, seconds / 2))


async def _rss_while_queued(path: Path, messages: int, producers: int) -> list[tuple[int, int]]:
    samples = [(0, rss_bytes())]
    step = max(1, messages // 10)
    async with await DurableQueue.open(path, max_messages=messages + 1) as queue:
        queued = 0
        while queued < messages:
            added, _ = await enqueue(queue, producers, count=min(step, messages - queued))
            queued += added
            samples.append((queued, rss_bytes()))
    return samples


def main() -> None:
    """Print the full report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--producers", type=int, default=256)
    parser.add_argument("--rss-messages", type=int, default=1_000_000,
                        help="messages to queue while sampling RSS (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowrt-bench-dq-") as tmp:
        figures = asyncio.run(_figures(Path(tmp) / "bench.sqlite3", args.producers,
                                       args.messages, None))
        for name, value in figures.items():
            print(f"{name:32} {value}")
        if args.rss_messages:
            samples = asyncio.run(_rss_while_queued(Path(tmp) / "rss.sqlite3",
                                                    args.rss_messages, args.producers))
            print("RSS while queueing:", ", ".join(f"{n:,}: {rss / 2**20:.1f} MiB"
                                                   for n, rss in samples))
            growth = samples[-1][1] - samples[1][1]
            print(f"RSS growth from the first {samples[1][0]:,} to {samples[-1][0]:,} queued:"
                  f" {growth / 2**20:+.1f} MiB")


if __name__ == "__main__":
    main()
