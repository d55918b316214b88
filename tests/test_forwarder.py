"""Tests for flowrt.forwarder: the outbox engine of store-forward and cloud-bridge, on a
real DurableQueue with a delivery function the test controls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from flowrt.clock import Clock
from flowrt.durable_queue import DurableQueue, Entry, Priority
from flowrt.forwarder import Batching, Forwarder, NotSent, RetryPolicy, retry_policies

WITHIN = 5.0
"""Seconds any awaited event may take."""
NO_JITTER = {p.label: {"jitter": 0} for p in Priority}


class Receiver:
    """The delivery function: records each delivery and hands back a future the test
    resolves (``ack``/``fail``), or raises what ``refuse`` holds."""

    def __init__(self) -> None:
        self.deliveries: asyncio.Queue[tuple[list[Any], asyncio.Future[None]]] = \
            asyncio.Queue()
        self.refuse: Exception | None = None
        self.refused = 0
        self.attempts: list[int] = []
        """Each delivered entry's failed tries so far."""

    def __call__(self, priority: Priority, entries: list[Entry]) -> Awaitable[None]:
        if self.refuse is not None:
            self.refused += 1
            raise self.refuse
        future = asyncio.get_running_loop().create_future()
        self.attempts += [e.attempts for e in entries]
        self.deliveries.put_nowait(([e.message for e in entries], future))
        return future

    async def next(self) -> tuple[list[Any], asyncio.Future[None]]:
        return await asyncio.wait_for(self.deliveries.get(), WITHIN)


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[DurableQueue]:
    q = await DurableQueue.open(tmp_path / "q.sqlite3", name="q")
    yield q
    await q.close()


@pytest.fixture
async def start(queue: DurableQueue) -> AsyncIterator[Callable[..., Forwarder]]:
    """Start a forwarder on ``queue`` (stopped at the end of the test)."""
    tasks: list[tuple[asyncio.Task[None], Forwarder]] = []

    def starter(deliver: Any, **options: Any) -> Forwarder:
        options.setdefault("retry", retry_policies(NO_JITTER))
        options.setdefault("on_error", lambda exc: pytest.fail(f"queue failed: {exc}"))
        forwarder = Forwarder(queue, Clock(), deliver, **options)
        tasks.append((asyncio.create_task(forwarder.run()), forwarder))
        return forwarder

    yield starter
    for task, forwarder in tasks:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        forwarder.close()


async def put(queue: DurableQueue, forwarder: Forwarder | None, *items: tuple[Any, str]
              ) -> None:
    for message, priority in items:
        await queue.put(message, priority)
        if forwarder is not None:
            forwarder.stored(Priority.parse(priority))


async def test_highest_priority_first_and_deleted_only_once_acknowledged(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    await put(queue, None, ("low", "low"), ("normal", "normal"), ("critical", "critical"))
    receiver = Receiver()
    acked: list[int] = []
    forwarder = start(receiver, window=1, on_acked=acked.append)
    messages, future = await receiver.next()
    assert messages == ["critical"]
    assert (await queue.stats()).total == 3  # in flight, not acknowledged: still queued
    future.set_result(None)
    messages, future = await receiver.next()
    assert messages == ["normal"] and acked == [1]
    future.set_result(None)
    messages, future = await receiver.next()
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 3)
    assert messages == ["low"] and (await queue.stats()).total == 0


async def test_a_failed_delivery_is_retried_after_its_backoff_then_dead_lettered(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    retry = {p: RetryPolicy(max_retries=1, initial_delay=0.05, multiplier=1, max_delay=1,
                            jitter=0) for p in Priority}
    buried: list[tuple[Any, int, str]] = []
    receiver = Receiver()
    forwarder = start(receiver, retry=retry,
                      on_dead_letter=lambda e, tries, why: buried.append((e.message, tries, why)))
    await put(queue, forwarder, ("m", "normal"))
    for _ in range(2):
        messages, future = await receiver.next()
        assert messages == ["m"]
        future.set_exception(ConnectionError("refused"))
    await until(lambda: bool(buried))
    assert buried == [("m", 2, "gave up after 2 tries: refused")]
    assert forwarder.counts == {"deadLettered": 1, "delivered": 0, "failed": 2}
    stats = await queue.stats()
    assert stats.total == 0 and stats.dead_letters == 1


async def test_what_was_not_sent_goes_back_without_a_try(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    receiver.refuse = NotSent("no connection")
    forwarder = start(receiver)
    await put(queue, forwarder, ("m", "high"))
    await until(lambda: receiver.refused >= 1)
    receiver.refuse = None
    forwarder.wake()
    messages, future = await receiver.next()  # given back, so leased again
    # A connection lost under a delivery is no try either.
    future.set_exception(NotSent("connection closed"))
    messages, future = await receiver.next()
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert messages == ["m"] and receiver.attempts == [0, 0]
    assert forwarder.counts["failed"] == 0


async def test_what_was_not_sent_is_tried_again_after_recheck_without_a_wake(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    receiver.refuse = NotSent("publish queue full")
    forwarder = start(receiver, recheck=0.05)
    await put(queue, forwarder, ("m", "critical"))
    await until(lambda: receiver.refused >= 1)
    receiver.refuse = None  # room again, and nothing tells the forwarder
    messages, future = await receiver.next()
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert messages == ["m"] and receiver.attempts == [0]


async def test_a_delivery_failing_once_not_ready_costs_no_try(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    connected = True
    forwarder = start(receiver, ready=lambda: connected, recheck=0.05)
    await put(queue, forwarder, ("m", "critical"))
    _, future = await receiver.next()
    connected = False  # the connection went away under the delivery
    future.set_exception(ConnectionError("connection closed"))
    await asyncio.sleep(0)  # one turn of the loop: the future's callbacks run
    connected = True
    _, future = await receiver.next()
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert receiver.attempts == [0, 0] and forwarder.counts["failed"] == 0


async def test_batches_go_full_at_their_size_and_the_rest_after_the_interval(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    forwarder = start(receiver, window=100,
                      batching={Priority.NORMAL: Batching(interval=0.3, max_messages=3)})
    # A critical message streams at once; once it is settled, the start-up drain of
    # the (empty) batches is over.
    await put(queue, forwarder, ("now", "critical"))
    messages, future = await receiver.next()
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert messages == ["now"]

    await put(queue, forwarder, *((n, "normal") for n in range(4)))
    full, future = await receiver.next()
    future.set_result(None)
    rest, future = await receiver.next()  # the interval after the fourth was stored
    future.set_result(None)
    assert (full, rest) == ([0, 1, 2], [3])


async def test_drain_now_sends_every_waiting_batch(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    ready = False
    forwarder = start(receiver, window=100, ready=lambda: ready, recheck=0.05,
                      batching={Priority.LOW: Batching(interval=3600, max_messages=10)})
    await put(queue, forwarder, *((n, "low") for n in range(4)))
    ready = True
    forwarder.drain_now()
    messages, _ = await receiver.next()
    assert messages == [0, 1, 2, 3]


async def until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (set by callbacks on other threads' results) until it holds,
    for at most WITHIN seconds."""
    deadline = time.monotonic() + WITHIN
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def put_leased(queue: DurableQueue, message: Any, priority: str = "normal"
                     ) -> tuple[Entry, asyncio.Future[Any]]:
    """DurableQueue.put_leased once ids are granted (the first call asks for them)."""
    for _ in range(100):
        leased = queue.put_leased(message, priority)
        if leased is not None:
            return leased
        await queue.stats()
    raise AssertionError("no ids granted")


async def test_forward_now_delivers_before_the_put_commits_and_acks_after_both(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    acked: list[int] = []
    forwarder = start(receiver, on_acked=acked.append)
    assert forwarder.can_forward_now(Priority.NORMAL)
    entry, stored = await put_leased(queue, "now")
    forwarder.forward_now(entry, stored)
    messages, future = receiver.deliveries.get_nowait()  # handed over synchronously
    assert messages == ["now"] and not stored.done() and forwarder.in_flight == 1
    future.set_result(None)
    await stored
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert acked == [1] and (await queue.stats()).total == 0 and forwarder.in_flight == 0


async def test_forward_now_of_an_entry_whose_put_failed_forgets_it(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    forwarder = start(receiver)
    entry, _ = await put_leased(queue, "kept")
    failed_put: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    forwarder.forward_now(entry, failed_put)
    _, future = await receiver.next()
    future.set_exception(ConnectionError("refused"))  # no retry for what was never stored
    failed_put.set_exception(OSError("disk full"))
    await until(lambda: forwarder.in_flight == 0)
    assert forwarder.counts == {"deadLettered": 0, "delivered": 0, "failed": 0}
    assert not forwarder.backing_off and forwarder.can_forward_now(Priority.NORMAL)


async def test_forward_now_not_taken_is_released_once_stored_and_sent_later(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    receiver = Receiver()
    receiver.refuse = NotSent("publish queue full")
    forwarder = start(receiver, recheck=0.05)
    entry, stored = await put_leased(queue, "later")
    forwarder.forward_now(entry, stored)
    assert receiver.refused == 1 and forwarder.in_flight == 0
    receiver.refuse = None
    messages, future = await receiver.next()  # released after its commit, leased again
    future.set_result(None)
    await until(lambda: forwarder.counts["delivered"] == 1)
    assert messages == ["later"] and receiver.attempts == [0]


async def test_forward_now_is_refused_while_paused_or_backing_off_or_batched(
    queue: DurableQueue, start: Callable[..., Forwarder]
) -> None:
    retry = {p: RetryPolicy(max_retries=None, initial_delay=60, multiplier=1, max_delay=60,
                            jitter=0) for p in Priority}
    receiver = Receiver()
    forwarder = start(receiver, retry=retry, batching={Priority.LOW: Batching(1.0, 10)})
    assert not forwarder.can_forward_now(Priority.LOW)
    forwarder.pause()
    assert not forwarder.can_forward_now(Priority.NORMAL)
    forwarder.resume()
    await put(queue, forwarder, ("m", "high"))
    _, future = await receiver.next()
    assert not forwarder.can_forward_now(Priority.NORMAL)  # the window (1) is full
    future.set_exception(ConnectionError("refused"))
    await until(lambda: forwarder.backing_off)
    assert not forwarder.can_forward_now(Priority.NORMAL)  # below a priority in backoff
    assert forwarder.can_forward_now(Priority.CRITICAL)
