"""HTTP load for the ``http`` scenario: a fixed number of GET requests from an aiohttp
client with a fixed concurrency, against the flow's ``http in`` → ``http response`` route.

Requests per second are counted first request sent to last answer received; latency is
per request (send to full body read). The client runs in the harness process on the
same machine, so its own cost is part of the ceiling (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.measure import percentile, proc_stats

WARMUP_REQUESTS = 500
REQUESTS = 10_000
CONCURRENCY = 16
EXPECTED_BODY = b'{"status":"ok","value":42}'


def probe(url: str, since_wall: float, timeout: float) -> float:
    """Seconds from ``since_wall`` until ``url`` first answers 200 with the flow's body."""
    return asyncio.run(_probe(url, since_wall, timeout))


async def _probe(url: str, since_wall: float, within: float) -> float:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as answer:
                    if answer.status == 200 and await answer.read() == EXPECTED_BODY:
                        return time.time() - since_wall
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not answer the flow's body within {within:.0f} s")


def load(url: str, pid: int, requests: int = REQUESTS,
         concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """Send ``requests`` GETs, ``concurrency`` at a time (after a warm-up); the rate,
    latency percentiles, failures and the runtime's CPU per request."""
    return asyncio.run(_load(url, pid, requests, concurrency))


async def _load(url: str, pid: int, requests: int, concurrency: int) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _run(session, url, WARMUP_REQUESTS, concurrency, [], [])
        latencies: list[float] = []
        failures: list[str] = []
        before = proc_stats(pid)
        started = time.perf_counter()
        await _run(session, url, requests, concurrency, latencies, failures)
        elapsed = time.perf_counter() - started
        after = proc_stats(pid)
    latencies.sort()
    answered = len(latencies)
    return {
        "requests": requests, "concurrency": concurrency, "answered": answered,
        "failed": len(failures), "first_failure": failures[0] if failures else None,
        "rate": answered / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "cpu_us_per_request": (after.cpu_s - before.cpu_s) / answered * 1e6 if answered else None,
    }


async def _run(session: Any, url: str, requests: int, concurrency: int,
               latencies: list[float], failures: list[str]) -> None:
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            sent = time.perf_counter()
            try:
                async with session.get(url) as answer:
                    body = await answer.read()
                    if answer.status != 200 or body != EXPECTED_BODY:
                        failures.append(f"{answer.status}: {body[:80]!r}")
                        continue
            except Exception as err:  # counted, and the load goes on
                failures.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
