"""The outbox forwarder: drains a :class:`~flowrt.durable_queue.DurableQueue` through
acknowledged delivery. store-forward and cloud-bridge are both this forwarder.

A node gives the forwarder its queue and a *delivery* function; the two built-in
outboxes differ only there (store-forward sends down its wire with
:meth:`~flowrt.node.Node.send_tracked`, cloud-bridge publishes to the cloud broker)
and in the batching stage (cloud-bridge groups some priorities into batches).

Rules
    - Entries leave highest priority first, oldest first within one (the queue's lease
      order), at most ``window`` entries in flight.
    - An entry is deleted only once its delivery completed without error: the
      awaitable the delivery function returned resolved (every node it reached
      completed it; the cloud broker acknowledged the publish). An awaitable that
      resolves to ``0`` reached no one (``send_tracked``'s count) and has failed.
    - An error, or no completion within ``ack_timeout`` seconds, is a failed try: the
      entry is retried after its :class:`RetryPolicy` backoff, and until then nothing
      of its priority or lower is sent (FIFO within a priority; higher priorities still
      go). Once ``max_retries`` is spent it is dead-lettered.
    - A delivery function that raises :class:`NotSent` (or whose awaitable fails with
      it, or fails while ``ready()`` is false: the connection went away under it) could
      not hand the entries over: they go back without a try counted, and the forwarder
      looks again when woken or after ``recheck`` seconds. So does it while ``ready()``
      is false.
    - Batching stage: a priority with a :class:`Batching` is leased as one delivery of up
      to ``max_messages`` entries. Once ``max_messages`` wait, a full batch goes;
      ``interval`` seconds after the first message of the next batch was stored, at
      start and on :meth:`Forwarder.drain_now`, everything waiting goes, batch after
      batch. The window may allow less than a full batch: then the rest goes as
      acknowledgements make room.
    - Forwarding at once: a streamed entry the owner put leased
      (:meth:`~flowrt.durable_queue.DurableQueue.put_leased`) is handed over by
      :meth:`Forwarder.forward_now` while its put commits, when nothing stops it
      (:meth:`Forwarder.can_forward_now`). It is settled as any other once both the put
      and the delivery completed; if the put failed it never was stored and is forgotten.

Acks, fails and releases the queue refused (a full disk) are kept and settled on the
next round, so nothing stays leased for good; ``on_error`` reports the failure.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowrt.clock import Clock, TimerHandle
from flowrt.durable_queue import DurableQueue, Entry, Priority
from flowrt.errors import NodeError
from flowrt.schema import as_int, as_number, integer, number

MAX_BACKOFF_EXPONENT = 64
DEFAULT_JITTER = 0.2
DEFAULT_RETRY: dict[str, dict[str, Any]] = {
    "critical": {"maxRetries": None, "initialDelay": 5, "multiplier": 2, "maxDelay": 300},
    "high": {"maxRetries": 10, "initialDelay": 10, "multiplier": 2, "maxDelay": 3600},
    "normal": {"maxRetries": 5, "initialDelay": 30, "multiplier": 3, "maxDelay": 3600},
    "low": {"maxRetries": 3, "initialDelay": 60, "multiplier": 4, "maxDelay": 14400},
}
"""Retries per priority, after the seed table (``maxRetries`` None: forever)."""

_RETRY_SPEC: dict[str, Any] = {
    "type": "object",
    "properties": {
        "maxRetries": {"anyOf": [{"type": "null"}, integer(minimum=-1)]},
        "initialDelay": number(minimum=0),
        "multiplier": number(minimum=1),
        "maxDelay": number(minimum=0),
        "jitter": number(minimum=0, maximum=1),
    },
    "additionalProperties": False,
}
RETRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {p.label: _RETRY_SPEC for p in Priority},
    "additionalProperties": False,
    "default": DEFAULT_RETRY,
    "title": "Retries per priority",
}
"""Schema of the ``retry`` key of a node that forwards (per priority, see RetryPolicy)."""

Deliver = Callable[[Priority, list[Entry]], Awaitable[Any] | None]
"""Hands entries over; returns an awaitable completed on acknowledgement, or None when
the hand-over itself is the acknowledgement (e.g. an MQTT QoS 0 publish)."""


class NotSent(Exception):
    """Raised by a delivery function (or its awaitable) when the entries were not
    handed over at all: they go back to the queue without a try counted."""


@dataclass(frozen=True)
class RetryPolicy:
    """How one priority is retried: ``max_retries`` None means forever."""

    max_retries: int | None
    initial_delay: float
    multiplier: float
    max_delay: float
    jitter: float

    def delay(self, tries: int, rng: random.Random) -> float:
        """Seconds to wait after the ``tries``-th failed try (jitter shortens it by up to
        ``jitter`` of itself, so retries of many gateways do not line up)."""
        exponent = min(tries - 1, MAX_BACKOFF_EXPONENT)
        base = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        return base * (1.0 - self.jitter * rng.random())


def retry_policies(config: Mapping[str, Any]) -> dict[Priority, RetryPolicy]:
    """The policy of every priority from a ``retry`` key (missing fields: the defaults)."""
    policies = {}
    for priority in Priority:
        spec = {**DEFAULT_RETRY[priority.label], **(config.get(priority.label) or {})}
        max_retries = as_int(spec.get("maxRetries"))
        policies[priority] = RetryPolicy(
            max_retries=None if max_retries is None or max_retries < 0 else max_retries,
            initial_delay=as_number(spec.get("initialDelay"), 0.0) or 0.0,
            multiplier=as_number(spec.get("multiplier"), 1.0) or 1.0,
            max_delay=as_number(spec.get("maxDelay"), 0.0) or 0.0,
            jitter=as_number(spec.get("jitter"), DEFAULT_JITTER) or 0.0,
        )
    return policies


@dataclass(frozen=True)
class Batching:
    """How one priority is batched: at most ``max_messages`` per batch, cut
    ``interval`` seconds after the first message of the next batch was stored."""

    interval: float
    max_messages: int


@dataclass(eq=False)
class _Delivery:
    entries: list[Entry]
    timer: TimerHandle | None = None
    error: BaseException | None = None
    delivered: bool = False
    """The delivery completed, failed or timed out."""
    storing: bool = False
    """Its put (forward_now) has not completed yet."""
    not_stored: bool = False
    """Its put failed: nothing to settle in the queue."""


class Forwarder:
    """Forwards a durable queue's entries through a delivery function (see the module
    docstring). The owner runs :meth:`run` as a task, calls :meth:`stored` after each
    committed put, and :meth:`close` after cancelling that task."""

    def __init__(
        self,
        queue: DurableQueue,
        clock: Clock,
        deliver: Deliver,
        *,
        retry: Mapping[Priority, RetryPolicy],
        on_error: Callable[[Exception], None],
        window: int = 1,
        ack_timeout: float = 0.0,
        batching: Mapping[Priority, Batching] | None = None,
        msg_rate: float = 0.0,
        byte_rate: float = 0.0,
        ready: Callable[[], bool] = lambda: True,
        recheck: float = 1.0,
        error_pause: float = 5.0,
        on_acked: Callable[[int], None] | None = None,
        on_dead_letter: Callable[[Entry, int, str], None] | None = None,
    ) -> None:
        """``window``: entries in flight at once; ``ack_timeout``: seconds before an
        unacknowledged delivery is a failed try (0: wait forever); ``batching``: the
        batched priorities; ``msg_rate``/``byte_rate``: pace per second (0: none);
        ``ready``: whether deliveries can go now; ``error_pause``: seconds to wait after
        the queue failed; ``on_acked(n)``: n entries were deleted as delivered;
        ``on_dead_letter(entry, tries, reason)``: an entry was given up on."""
        self.queue = queue
        self.counts = dict.fromkeys(("deadLettered", "delivered", "failed"), 0)
        self._clock = clock
        self._deliver = deliver
        self._retry = retry
        self._on_error = on_error
        self._window = max(1, window)
        self._ack_timeout = ack_timeout
        self._batching = dict(batching or {})
        self._msg_rate = msg_rate
        self._byte_rate = byte_rate
        self._ready = ready
        self._recheck = recheck
        self._error_pause = error_pause
        self._on_acked = on_acked
        self._on_dead_letter = on_dead_letter
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._paused = False
        self._not_sent = False
        """The last round could not hand entries over (NotSent): look again after recheck."""
        self._in_flight: dict[int, _Delivery] = {}
        """id() of each unsettled delivery → it."""
        self._in_flight_entries = 0
        self._finished: list[_Delivery] = []
        self._to_release: list[int] = []
        self._blocked: dict[Priority, float] = {}
        self._next_send = 0.0
        # Per batched priority: which batches may go now (None: none, "full": full ones,
        # "all": everything waiting) and how many stored messages wait for a batch.
        self._due: dict[Priority, str | None] = dict.fromkeys(self._batching, "all")
        self._fresh = dict.fromkeys(self._batching, 0)
        self._batch_timers: dict[Priority, TimerHandle] = {}

    # ------------------------------------------------------------- control
    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self._paused

    @property
    def in_flight(self) -> int:
        """Entries handed over and not settled yet."""
        return self._in_flight_entries

    @property
    def backing_off(self) -> bool:
        """True while a failed entry waits for its retry."""
        return bool(self._blocked)

    def pause(self) -> None:
        """Send nothing until :meth:`resume` (in-flight deliveries still settle)."""
        self._paused = True
        self._wake.set()

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        self._paused = False
        self._wake.set()

    def wake(self) -> None:
        """Look again now (something changed: a connection came up, a wire appeared)."""
        self._wake.set()

    def stored(self, priority: Priority) -> None:
        """A message of ``priority`` was committed: stream it, or count it for its batch."""
        batching = self._batching.get(priority)
        if batching is None:
            self._wake.set()
            return
        self._fresh[priority] += 1
        if self._fresh[priority] >= batching.max_messages:
            self._due[priority] = self._due[priority] or "full"
            self._wake.set()
        else:
            self._arm(priority)

    def can_forward_now(self, priority: Priority) -> bool:
        """True when an entry of ``priority`` would be handed over now: streamed,
        unpaced, running and ready, room in the window, and nothing of its priority or
        above waiting for a retry. (Whether older entries wait is the owner's to know.)"""
        return (priority not in self._batching and not self._msg_rate and not self._byte_rate
                and not self._paused and self._in_flight_entries < self._window
                and priority in self._allowed_priorities() and self._ready())

    def forward_now(self, entry: Entry, stored: asyncio.Future[Any]) -> None:
        """Hand over ``entry``, put leased, while ``stored`` (its put) commits; see
        :meth:`can_forward_now`. Not taken by the delivery (NotSent), it is released
        once stored, for the next round."""
        delivery = _Delivery([entry], storing=True)
        if self._start(delivery):
            stored.add_done_callback(lambda future: self._put_done(delivery, future))
        else:
            stored.add_done_callback(lambda future: self._release_stored(entry, future))

    def _put_done(self, delivery: _Delivery, future: asyncio.Future[Any]) -> None:
        delivery.storing = False
        delivery.not_stored = future.cancelled() or future.exception() is not None
        if delivery.delivered:
            self._finish(delivery)

    def _release_stored(self, entry: Entry, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._to_release.append(entry.id)
            self._wake.set()

    def drain_now(self) -> None:
        """Make every batch due now (e.g. on reconnect, to drain a backlog)."""
        self._due = dict.fromkeys(self._batching, "all")
        self._wake.set()

    async def retry_now(self) -> None:
        """Forget every backoff: entries waiting for a retry are tried at once."""
        await self.queue.retry_now()
        self._blocked.clear()
        self._wake.set()

    def close(self) -> None:
        """Cancel the timers (after the :meth:`run` task was cancelled); in-flight
        entries stay queued and are forwarded again by the next run."""
        for delivery in self._in_flight.values():
            if delivery.timer is not None:
                delivery.timer.cancel()
        for timer in self._batch_timers.values():
            timer.cancel()
        self._batch_timers.clear()

    # ------------------------------------------------------------- the loop
    async def run(self) -> None:
        """Forward until cancelled."""
        while True:
            self._wake.clear()
            try:
                again = await self._forward_once()
            except Exception as exc:
                self._on_error(exc)
                await self._sleep(self._error_pause)
                continue
            if not again:
                await self._sleep(self._next_wake())

    async def _forward_once(self) -> bool:
        """Settle finished deliveries, then lease and deliver what the window allows.

        True when more may be ready at once (a stream lease came back full); otherwise
        whatever changes that (a put, an acknowledgement, a batch coming due) wakes the
        loop, so an idle or full outbox costs no lease.
        """
        await self._settle()
        self._not_sent = False
        if self._paused or not self._ready():
            return False
        again = False
        # Consecutive streamed priorities share one lease (the queue's order and its
        # starvation share apply across them); each batched priority is leased alone.
        for batched, run in itertools.groupby(self._allowed_priorities(),
                                              key=self._batching.__contains__):
            for priorities in ([p] for p in run) if batched else [list(run)]:
                room = self._window - self._in_flight_entries
                if room <= 0:
                    return False
                if batched:
                    entries = await self._lease_batch(priorities[0], room)
                else:
                    # Paced: one at a time, so pause and acknowledgements act between.
                    wanted = 1 if self._msg_rate or self._byte_rate else room
                    entries = await self.queue.lease(wanted, priorities)
                    again = again or len(entries) == wanted
                if await self._hand_over(entries, batched) < len(entries):
                    self._not_sent = True
                    return False
        return again

    async def _lease_batch(self, priority: Priority, room: int) -> list[Entry]:
        due = self._due[priority]
        if due is None:
            return []
        size = self._batching[priority].max_messages
        wanted = min(room, size)
        entries = await self.queue.lease(wanted, [priority])
        fresh = self._fresh[priority] = max(0, self._fresh[priority] - len(entries))
        if len(entries) < wanted:  # everything waiting is leased
            self._due[priority] = None
            self._fresh[priority] = 0
        elif wanted == size and due == "full" and fresh < size:
            # The rest waits for its own interval (counted from now) or its size.
            self._due[priority] = None
            timer = self._batch_timers.pop(priority, None)
            if timer is not None:
                timer.cancel()
            if fresh:
                self._arm(priority)
        else:
            self._wake.set()  # more to send: another batch as soon as there is room
        return entries

    async def _hand_over(self, entries: list[Entry], batched: bool) -> int:
        """Start the deliveries of leased entries; returns how many were handed over."""
        groups = [entries] if batched and entries else [[entry] for entry in entries]
        paced = self._msg_rate or self._byte_rate
        for n, group in enumerate(groups):
            if paced:
                await self._pace(sum(entry.size for entry in group))
            if not self._start(_Delivery(group)):
                self._to_release += [entry.id for rest in groups[n:] for entry in rest]
                return sum(len(done) for done in groups[:n])
        return len(entries)

    def _start(self, delivery: _Delivery) -> bool:
        """Deliver the delivery's entries; False when they were not sent (NotSent)."""
        entries = delivery.entries
        error: Exception | None = None
        try:
            result = self._deliver(entries[0].priority, entries)
        except NotSent:
            return False
        except Exception as exc:  # e.g. a payload that cannot be encoded: a failed try
            result, error = None, exc
        self._in_flight[id(delivery)] = delivery
        self._in_flight_entries += len(entries)
        if result is None:
            self._delivered(delivery, error)
            return True
        if self._ack_timeout > 0:
            delivery.timer = self._clock.call_later(
                self._ack_timeout, self._delivered, delivery, TimeoutError(
                    f"not completed downstream within ackTimeout ({self._ack_timeout:g} s)"))
        asyncio.ensure_future(result).add_done_callback(
            lambda future: self._delivered(delivery, self._outcome(future)))
        return True

    def _delivered(self, delivery: _Delivery, error: BaseException | None) -> None:
        """The delivery completed (error None), failed, or timed out (the first of these
        counts); settled once its put, if it is still storing, completed too."""
        if delivery.delivered:
            return
        delivery.delivered = True
        delivery.error = error
        if delivery.timer is not None:
            delivery.timer.cancel()
        if not delivery.storing:
            self._finish(delivery)

    def _outcome(self, future: asyncio.Future[Any]) -> BaseException | None:
        """None for a completed delivery, else why it failed (NotSent: no try)."""
        if future.cancelled():
            error: BaseException = asyncio.CancelledError("delivery cancelled")
        else:
            failure = future.exception()
            if failure is None:
                if future.result() == 0:
                    return NodeError("no node received the message")
                return None
            error = failure
        if not isinstance(error, NotSent) and not self._ready():
            return NotSent(str(error))  # the connection went away under it
        return error

    def _finish(self, delivery: _Delivery) -> None:
        self._finished.append(delivery)
        self._wake.set()

    async def _settle(self) -> None:
        """Ack what was delivered (in one go); retry or dead-letter what failed; give
        back what was not sent.

        Work leaves its list only once the queue took it, so after a queue error it is
        settled again on the next round (acking twice is harmless).
        """
        batch = self._finished[:]
        delivered = [entry.id for delivery in batch
                     if delivery.error is None and not delivery.not_stored
                     for entry in delivery.entries]
        if delivered:
            deleted = await self.queue.ack(delivered)
            if self._on_acked is not None:
                self._on_acked(deleted)
        for delivery in batch:
            error = delivery.error
            if delivery.not_stored:
                pass  # its put failed: the queue never had it
            elif isinstance(error, NotSent):
                self._to_release += [entry.id for entry in delivery.entries]
            elif error is not None:
                for entry in delivery.entries:
                    await self._retry_or_bury(entry, error)
            if self._in_flight.pop(id(delivery), None) is not None:
                self._in_flight_entries -= len(delivery.entries)
        del self._finished[: len(batch)]
        self.counts["delivered"] += len(delivered)
        if released := self._to_release[:]:
            await self.queue.release(released)
            del self._to_release[: len(released)]

    async def _retry_or_bury(self, entry: Entry, error: BaseException) -> None:
        """Schedule the entry's next try after its backoff, or dead-letter it."""
        self.counts["failed"] += 1
        policy = self._retry[entry.priority]
        tries = entry.attempts + 1
        text = str(error) or type(error).__name__
        if policy.max_retries is not None and tries > policy.max_retries:
            reason = f"gave up after {tries} tries: {text}"
            if await self.queue.dead_letter(entry.id, reason) is not None:
                self.counts["deadLettered"] += 1
                if self._on_dead_letter is not None:
                    self._on_dead_letter(entry, tries, reason)
            return
        retry_at = self._clock.time() + policy.delay(tries, self._rng)
        await self.queue.fail(entry.id, retry_at, text)
        self._blocked[entry.priority] = max(retry_at, self._blocked.get(entry.priority, 0.0))

    # ------------------------------------------------------------- waiting
    def _allowed_priorities(self) -> list[Priority]:
        """Priorities above the highest one whose head waits for a retry."""
        now = self._clock.time()
        self._blocked = {p: t for p, t in self._blocked.items() if t > now}
        limit = min(self._blocked, default=len(Priority))
        return [p for p in Priority if p < limit]

    def _next_wake(self) -> float | None:
        """Seconds until the forwarder must look again without being woken (None: never)."""
        if self._paused:
            return None
        if not self._ready():
            return self._recheck
        delay = self._recheck if self._not_sent else None
        if self._blocked:
            retry = max(0.0, min(self._blocked.values()) - self._clock.time())
            delay = retry if delay is None else min(delay, retry)
        return delay

    async def _sleep(self, delay: float | None) -> None:
        """Wait until woken, or at most ``delay`` seconds (None: no limit)."""
        if delay is not None and delay <= 0:
            return
        timer = self._clock.call_later(delay, self._wake.set) if delay is not None else None
        try:
            await self._wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    async def _pace(self, size: int) -> None:
        """Wait for the next send slot under ``msg_rate``/``byte_rate``."""
        now = self._clock.monotonic()
        if self._next_send > now:
            await self._clock.sleep(self._next_send - now)
        interval = max(1.0 / self._msg_rate if self._msg_rate else 0.0,
                       size / self._byte_rate if self._byte_rate else 0.0)
        self._next_send = max(now, self._next_send) + interval

    def _arm(self, priority: Priority) -> None:
        """Make the batch of ``priority`` due ``interval`` seconds from now (unless a
        timer already runs)."""
        if priority not in self._batch_timers:
            self._batch_timers[priority] = self._clock.call_later(
                self._batching[priority].interval, self._interval_passed, priority)

    def _interval_passed(self, priority: Priority) -> None:
        del self._batch_timers[priority]
        self._due[priority] = "all"
        self._wake.set()

