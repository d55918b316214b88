"""store-forward: a durable local queue in front of any sink.

Input is committed to a :class:`~flowrt.durable_queue.DurableQueue` (the message's
completion waits for the commit); a forwarder task leases entries in priority
order, sends each with :meth:`~flowrt.node.Node.send_tracked`, and acks it only
when every downstream node completed it. Failures and timeouts are retried with
exponential backoff and jitter per priority, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.durable_queue import (
    DEFAULT_TTL,
    MAX_UNCOMMITTED,
    NODE_QUEUE_KEYS,
    DurableQueue,
    Entry,
    Priority,
    QueueStats,
    message_priority,
    open_node_queue,
)
from flowrt.errors import NodeError, NotStoredError
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_int, as_number, integer, number, string

ACTIONS = ("pause", "resume", "flush", "purge")
STATUS_INTERVAL = 5.0
"""Seconds between expiry sweeps and status refreshes."""
UNWIRED_POLL = 1.0
"""Seconds between checks for a wire on output 1 while it has none."""
ERROR_PAUSE = 5.0
"""Seconds the forwarder waits after the queue itself failed (disk full...)."""
MAX_BACKOFF_EXPONENT = 64


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


DEFAULT_RETRY: dict[str, dict[str, Any]] = {
    "critical": {"maxRetries": None, "initialDelay": 5, "multiplier": 2, "maxDelay": 300},
    "high": {"maxRetries": 10, "initialDelay": 10, "multiplier": 2, "maxDelay": 3600},
    "normal": {"maxRetries": 5, "initialDelay": 30, "multiplier": 3, "maxDelay": 3600},
    "low": {"maxRetries": 3, "initialDelay": 60, "multiplier": 4, "maxDelay": 14400},
}
DEFAULT_JITTER = 0.2

_OPTIONAL_NUMBER = {"anyOf": [{"type": "null"}, number(minimum=0, allow_empty=True)]}
_RETRY_SPEC = {
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
_PRIORITY_NAMES = [p.label for p in Priority]


def _per_priority(spec: dict[str, Any], default: dict[str, Any], title: str) -> dict[str, Any]:
    return {"type": "object", "properties": dict.fromkeys(_PRIORITY_NAMES, spec),
            "additionalProperties": False, "default": default, "title": title}


class StoreForward(Node):
    """Keeps messages in a durable local queue and forwards them to the sink wired to
    output 1, highest priority first, deleting each only once the sink completed it.

    **Keys**
    - `queue`: queue name, unique per runtime (default: the node id). The queue is a
      SQLite file in the data directory (`queues/<name>.sqlite3`); deleting the node
      keeps it, so a later node with the same name resumes it.
    - `priorityProperty` (`priority`): message property holding "critical", "high",
      "normal" (default) or "low". Another value is stored as "normal" with a warning.
    - `maxMessages` (100000), `maxBytes` (bytes of stored message JSON, empty = no
      limit): when full, the oldest message of the lowest priority present is evicted
      (never "critical" while a lower priority exists) and reported on output 2.
    - `ttl`: seconds per priority before a waiting message expires (null or 0 = never;
      defaults critical never, high 1 day, normal 7 days, low 30 days).
    - `retry`: per priority `{maxRetries, initialDelay, multiplier, maxDelay, jitter}`;
      `maxRetries` null or -1 = forever. Delay = `initialDelay` * `multiplier`^(try-1),
      at most `maxDelay`, shortened at random by up to `jitter` (0.2) of itself.
    - `ackTimeout` (30 s): a message not completed downstream by then is a failed try
      (0 = wait forever).
    - `window` (1): messages in flight at once.
    - `drainRate` (messages/s) and `drainByteRate` (bytes/s of stored message JSON):
      forwarding pace, 0 = no limit.
    - `starvationShare` (0): share of sends given to the oldest lower-priority message
      while higher priorities keep the forwarder busy (0 = strict priority order).

    **Guarantees.** A message's completion (`done`) comes only after it is committed to
    disk; writes are grouped into transactions. A message that cannot be committed (disk
    full, I/O error) fails with a `NotStoredError` naming the queue and the cause: it
    was not taken, so `mqtt in` does not acknowledge it and the broker delivers it
    again. The node stores again by itself as soon as there is room. A forwarded message
    is deleted only when every node it reached completed it without error. An error or
    timeout is a failed try: that message is retried after its backoff, and while it
    waits nothing of its priority or lower is sent (FIFO within a priority; higher
    priorities still go). Once `maxRetries` is spent it moves to the dead-letter table
    and is reported on output 2. After `kill -9` and a restart forwarding resumes from
    disk: delivery is at-least-once, and every forwarded message carries `msg._sfid`
    (stable across retries and restarts) so a receiver can drop duplicates. While output
    1 has no wire, messages are kept, not forwarded.

    **Control.** `msg.action`: "pause", "resume", "flush" (retry now, ignoring backoff),
    "purge" (everything, or one priority with `msg.priority`); the message is not queued.
    Pause is not kept across restarts, and after a restart every message is tried at
    once (backoffs start over).

    **Outputs.** 1: forwarded messages. 2: events, `msg.topic` = `msg.payload.event` =
    "evicted" or "dead-lettered" (one per message, with `sfid`, `priority`, `attempts`,
    `enqueuedAt` (ms), `message`, and `reason` for dead letters), "expired" (one per
    sweep, with `count` and `byPriority`) or "purged" (`count`). Each carries `counts`:
    totals since start of evicted, expired, deadLettered, delivered and failed.

    **Status.** Queued messages per priority (c/h/n/l) and the age of the oldest one;
    grey when paused, yellow while a failed message waits for its retry, red
    "not storing: <cause>" from a failed commit until a message is stored again.

    Backpressure: while more than 5000 messages wait for their commit to disk,
    input sources (mqtt in) pause reading, so a burst waits in the broker rather
    than in memory.
    """

    type = "store-forward"
    category = "storage"
    inputs = 1
    outputs = 2
    color = "#c0deed"
    icon = "database"
    palette_label = "store forward"
    max_inflight = MAX_UNCOMMITTED
    editor: ClassVar = {"label": "queue"}
    schema: ClassVar = {
        "type": "object",
        "properties": {
            "name": string(""),
            **NODE_QUEUE_KEYS,
            "priorityProperty": string("priority"),
            "ttl": _per_priority(_OPTIONAL_NUMBER,
                                 {p.label: DEFAULT_TTL[p] for p in Priority},
                                 "Seconds before a waiting message expires"),
            "retry": _per_priority(_RETRY_SPEC, DEFAULT_RETRY, "Retries per priority"),
            "ackTimeout": number(30, minimum=0),
            "window": integer(1, minimum=1),
            "drainRate": number(0, minimum=0),
            "drainByteRate": number(0, minimum=0),
            "starvationShare": number(0, minimum=0, maximum=1),
        },
    }

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._priority_property = config.get("priorityProperty") or "priority"
        self._retry = {p: _retry_policy(config.get("retry") or {}, p) for p in Priority}
        self._ack_timeout = as_number(config.get("ackTimeout"), 30.0) or 0.0
        self._window = max(1, as_int(config.get("window"), 1) or 1)
        self._msg_rate = as_number(config.get("drainRate"), 0.0) or 0.0
        self._byte_rate = as_number(config.get("drainByteRate"), 0.0) or 0.0
        self._rng = random.Random()
        self._queue: DurableQueue | None = None
        self._tasks_started: list[asyncio.Task[Any]] = []
        self._wake = asyncio.Event()
        self._paused = False
        self._in_flight: dict[int, _Delivery] = {}
        self._finished: list[tuple[_Delivery, BaseException | None]] = []
        self._blocked: dict[Priority, float] = {}
        self._next_send = 0.0
        self._shown: dict[str, Any] = {}
        self._not_storing: str | None = None
        """Why the last put failed, until one succeeds (shown in the status)."""
        self._stats: QueueStats | None = None
        self.counts = dict.fromkeys(("evicted", "expired", "deadLettered", "delivered",
                                     "failed"), 0)

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Open the queue and start forwarding."""
        config = self.config
        ttl = config.get("ttl") or {}
        self._queue = await open_node_queue(
            self,
            ttl={p: as_number(ttl.get(p.label, DEFAULT_TTL[p])) or None for p in Priority},
            starvation_share=as_number(config.get("starvationShare"), 0.0) or 0.0,
        )
        # Backoffs of a previous run are not carried over: after a restart, try at once.
        await self._queue.retry_now()
        self._tasks_started = [self.create_task(self._forward()),
                               self.create_task(self._housekeep())]

    async def close(self, removed: bool) -> None:
        """Stop forwarding and close the queue (in-flight messages stay queued)."""
        for task in self._tasks_started:
            task.cancel()
        await asyncio.gather(*self._tasks_started, return_exceptions=True)
        for delivery in self._in_flight.values():
            if delivery.timer is not None:
                delivery.timer.cancel()
        if self._queue is not None:
            await self._queue.close()

    # ---------------------------------------------------------------- input
    def on_input(self, msg: Message) -> Awaitable[Any]:
        """Queue a message (completing once committed), or run a control action."""
        action = msg.get("action")
        if action in ACTIONS:
            return self._control(action, msg)
        assert self._queue is not None
        future = self._queue.put(msg, message_priority(msg, self._priority_property, self.warn))
        future.add_done_callback(self._stored)
        return future

    def _stored(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            if isinstance(error, NotStoredError) and self._not_storing is None:
                self._not_storing = str(error.__cause__ or error)
                self._set_status({"fill": "red", "shape": "ring",
                                  "text": f"not storing: {self._not_storing}"})
            return
        self._not_storing = None
        for entry in future.result().evicted:
            self.counts["evicted"] += 1
            self._emit("evicted", **_describe(entry))
        self._wake.set()

    async def _control(self, action: str, msg: Message) -> None:
        assert self._queue is not None
        if action == "pause":
            self._paused = True
        elif action == "resume":
            self._paused = False
        elif action == "flush":
            await self._queue.retry_now()
            self._blocked.clear()
        else:
            priority = msg.get("priority")
            purged = await self._queue.purge(None if priority in (None, "") else priority)
            self._emit("purged", count=purged, priority=priority or None)
        self._wake.set()
        await self._show_status()

    # ------------------------------------------------------------- forwarding
    async def _forward(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self._forward_once()
            except Exception as exc:
                self.error(f"store-forward queue {self._queue_name!r} failed: {exc}")
                await self._sleep(ERROR_PAUSE)
                continue
            if not sent:
                await self._sleep(self._next_wake())

    async def _forward_once(self) -> int:
        """Settle finished deliveries, then lease and send what the window allows."""
        assert self._queue is not None
        await self._settle()
        allowed = self._allowed_priorities()
        room = self._window - len(self._in_flight)
        if self._msg_rate or self._byte_rate:
            room = min(room, 1)  # paced: lease one at a time, so pause and acks act between
        if self._paused or room <= 0 or not allowed or not self._wired():
            return 0
        entries = await self._queue.lease(room, allowed)
        for entry in entries:
            await self._pace(entry.size)
            self._deliver(entry)
        return len(entries)

    def _wired(self) -> bool:
        return bool(self.ctx.wires and self.ctx.wires[0])

    def _allowed_priorities(self) -> list[Priority]:
        """Priorities above the highest one whose head waits for a retry."""
        now = self.clock.time()
        self._blocked = {p: t for p, t in self._blocked.items() if t > now}
        limit = min(self._blocked, default=len(Priority))
        return [p for p in Priority if p < limit]

    def _next_wake(self) -> float | None:
        """Seconds until the forwarder must look again without being woken (None: never)."""
        if not self._wired():
            return UNWIRED_POLL
        if self._blocked:
            return max(0.0, min(self._blocked.values()) - self.clock.time())
        return None

    async def _sleep(self, delay: float | None) -> None:
        """Wait until woken, or at most ``delay`` seconds (None: no limit)."""
        if delay is not None and delay <= 0:
            return
        timer = self.clock.call_later(delay, self._wake.set) if delay is not None else None
        try:
            await self._wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    async def _pace(self, size: int) -> None:
        if not (self._msg_rate or self._byte_rate):
            return
        now = self.clock.monotonic()
        if self._next_send > now:
            await self.clock.sleep(self._next_send - now)
        interval = max(1.0 / self._msg_rate if self._msg_rate else 0.0,
                       size / self._byte_rate if self._byte_rate else 0.0)
        self._next_send = max(now, self._next_send) + interval

    def _deliver(self, entry: Entry) -> None:
        msg = entry.message
        msg["_sfid"] = entry.sfid
        timer = (self.clock.call_later(self._ack_timeout, self._timed_out, entry.id)
                 if self._ack_timeout > 0 else None)
        delivery = _Delivery(entry, timer)
        self._in_flight[entry.id] = delivery
        self.send_tracked(msg).add_done_callback(
            lambda future: self._finish(delivery, _outcome(future)))

    def _timed_out(self, entry_id: int) -> None:
        delivery = self._in_flight.get(entry_id)
        if delivery is not None:
            self._finish(delivery, TimeoutError(
                f"not completed downstream within ackTimeout ({self._ack_timeout:g} s)"))

    def _finish(self, delivery: _Delivery, error: BaseException | None) -> None:
        if delivery.finished:
            return
        delivery.finished = True
        if delivery.timer is not None:
            delivery.timer.cancel()
        self._finished.append((delivery, error))
        self._wake.set()

    async def _settle(self) -> None:
        """Ack what was delivered (in one go); retry or dead-letter what failed.

        Deliveries leave ``_finished`` only once settled, so after a queue error they
        are settled again on the next round (acking twice is harmless).
        """
        assert self._queue is not None
        batch = self._finished[: len(self._finished)]
        delivered = [d.entry.id for d, error in batch if error is None]
        if delivered:
            await self._queue.ack(delivered)
        for delivery, error in batch:
            if error is not None:
                await self._retry_or_bury(delivery.entry, error)
            self._in_flight.pop(delivery.entry.id, None)
        del self._finished[: len(batch)]
        self.counts["delivered"] += len(delivered)

    async def _retry_or_bury(self, entry: Entry, error: BaseException) -> None:
        """Schedule the entry's next try after its backoff, or dead-letter it."""
        assert self._queue is not None
        self.counts["failed"] += 1
        policy = self._retry[entry.priority]
        tries = entry.attempts + 1
        text = str(error) or type(error).__name__
        if policy.max_retries is not None and tries > policy.max_retries:
            reason = f"gave up after {tries} tries: {text}"
            if await self._queue.dead_letter(entry.id, reason) is not None:
                self.counts["deadLettered"] += 1
                self._emit("dead-lettered", **_describe(entry, attempts=tries), reason=reason)
            return
        retry_at = self.clock.time() + policy.delay(tries, self._rng)
        await self._queue.fail(entry.id, retry_at, text)
        self._blocked[entry.priority] = max(retry_at, self._blocked.get(entry.priority, 0.0))

    # ----------------------------------------------------------- housekeeping
    async def _housekeep(self) -> None:
        while True:
            await self._expire()
            await self._show_status()
            await self.clock.sleep(STATUS_INTERVAL)

    async def _expire(self) -> None:
        assert self._queue is not None
        by_priority = dict.fromkeys(_PRIORITY_NAMES, 0)
        while expired := await self._queue.expire():
            for entry in expired:
                by_priority[entry.priority.label] += 1
        count = sum(by_priority.values())
        if count:
            self.counts["expired"] += count
            self._emit("expired", count=count, byPriority=by_priority)

    async def _show_status(self) -> None:
        assert self._queue is not None
        stats = self._stats = await self._queue.stats()
        queued = stats.queued
        text = (f"{stats.total} queued (c {queued['critical']} / h {queued['high']}"
                f" / n {queued['normal']} / l {queued['low']})")
        if stats.oldest is not None:
            text += f", oldest {_age(stats.oldest)}"
        if self._not_storing is not None:
            status = {"fill": "red", "shape": "ring",
                      "text": f"not storing: {self._not_storing}, {text}"}
        elif self._paused:
            status = {"fill": "grey", "shape": "ring", "text": f"paused, {text}"}
        else:
            status = {"fill": "yellow" if self._blocked else "green",
                      "shape": "dot" if stats.total else "ring", "text": text}
        self._set_status(status)

    def _set_status(self, status: dict[str, Any]) -> None:
        if status != self._shown:
            self._shown = status
            self.status(status)

    def metrics(self) -> dict[str, float]:
        """Queued messages per priority, the oldest one's age and the event counters."""
        figures: dict[str, float] = {f"{name}_total": count for name, count in self.counts.items()}
        stats = self._stats
        if stats is not None:
            figures.update({f"queued_{p}": n for p, n in stats.queued.items()})
            figures["oldest_age_seconds"] = stats.oldest or 0.0
        return figures

    @property
    def _queue_name(self) -> str:
        assert self._queue is not None
        return self._queue.name

    def _emit(self, event: str, **fields: Any) -> None:
        self.send([None, {"topic": event, "payload": {
            "event": event, "queue": self._queue_name, **fields, "counts": dict(self.counts)}}])


@dataclass
class _Delivery:
    entry: Entry
    timer: TimerHandle | None
    finished: bool = False


def _outcome(future: asyncio.Future[int]) -> BaseException | None:
    if future.cancelled():
        return asyncio.CancelledError("delivery cancelled")
    error = future.exception()
    if error is None and future.result() == 0:
        return NodeError("no node received the message")
    return error


def _describe(entry: Entry, **overrides: Any) -> dict[str, Any]:
    return {"sfid": entry.sfid, "priority": entry.priority.label,
            "attempts": entry.attempts, "enqueuedAt": int(entry.enqueued_at * 1000),
            "message": entry.message, **overrides}


def _retry_policy(config: dict[str, Any], priority: Priority) -> RetryPolicy:
    spec = {**DEFAULT_RETRY[priority.label], **(config.get(priority.label) or {})}
    max_retries = as_int(spec.get("maxRetries"))
    return RetryPolicy(
        max_retries=None if max_retries is None or max_retries < 0 else max_retries,
        initial_delay=as_number(spec.get("initialDelay"), 0.0) or 0.0,
        multiplier=as_number(spec.get("multiplier"), 1.0) or 1.0,
        max_delay=as_number(spec.get("maxDelay"), 0.0) or 0.0,
        jitter=as_number(spec.get("jitter"), DEFAULT_JITTER) or 0.0,
    )


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.0f}s"
