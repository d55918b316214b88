"""store-forward: a durable local queue in front of any sink.

Input is committed to a :class:`~flowrt.durable_queue.DurableQueue` (the message's
completion waits for the commit); the outbox :class:`~flowrt.forwarder.Forwarder`
(the one cloud-bridge uses too) leases entries in priority order, sends each with
:meth:`~flowrt.node.Node.send_tracked`, and acks it only when every downstream node
completed it. Failures and timeouts are retried with exponential backoff and jitter
per priority, then dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, ClassVar

from flowrt.durable_queue import (
    DEFAULT_TTL,
    MAX_UNCOMMITTED,
    NODE_QUEUE_KEYS,
    DurableQueue,
    Entry,
    Priority,
    PutHealth,
    QueueStats,
    message_priority,
    open_node_queue,
)
from flowrt.forwarder import RETRY_SCHEMA, Forwarder, retry_policies
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_int, as_number, integer, number, retitle, string

ACTIONS = ("pause", "resume", "flush", "purge")
STATUS_INTERVAL = 5.0
"""Seconds between expiry sweeps and status refreshes."""
UNWIRED_POLL = 1.0
"""Seconds between checks for a wire on output 1 while it has none."""
ERROR_PAUSE = 5.0
"""Seconds the forwarder waits after the queue itself failed (disk full...)."""

_OPTIONAL_NUMBER = {"anyOf": [{"type": "null"}, number(minimum=0, allow_empty=True)]}
_PRIORITY_NAMES = [p.label for p in Priority]


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
            **retitle(NODE_QUEUE_KEYS, queue="Queue name", maxMessages="Most queued messages",
                      maxBytes="Most queued bytes"),
            "priorityProperty": string("priority", title="Priority property (msg.)",
                                       description="critical, high, normal (default) or low"),
            "ttl": {"type": "object",
                    "properties": dict.fromkeys(_PRIORITY_NAMES, _OPTIONAL_NUMBER),
                    "additionalProperties": False,
                    "default": {p.label: DEFAULT_TTL[p] for p in Priority},
                    "title": "Expire waiting messages after (seconds)",
                    "x-kind": "table", "x-column": "Seconds (empty: never)"},
            "retry": {**RETRY_SCHEMA, "x-kind": "table"},
            "ackTimeout": number(30, minimum=0, title="Acknowledgement timeout (seconds)"),
            "window": integer(1, minimum=1, title="Messages in flight at most"),
            "drainRate": number(0, minimum=0, title="Drain rate (messages/second, 0: no limit)"),
            "drainByteRate": number(0, minimum=0,
                                    title="Drain rate (bytes/second, 0: no limit)"),
            "starvationShare": number(0, minimum=0, maximum=1,
                                      title="Share kept for lower priorities (0 to 1)"),
        },
    }

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._priority_property = config.get("priorityProperty") or "priority"
        self.queue: DurableQueue | None = None
        self._forwarder: Forwarder | None = None
        self._tasks_started: list[asyncio.Task[Any]] = []
        self._shown: dict[str, Any] = {}
        self._health = PutHealth()
        """Why puts fail for want of space, until one succeeds (shown in the status)."""
        self._stats: QueueStats | None = None
        self._evicted = 0
        self._expired = 0

    @property
    def counts(self) -> dict[str, int]:
        """Totals since start: evicted, expired, deadLettered, delivered, failed."""
        forwarded = self._forwarder.counts if self._forwarder is not None else \
            dict.fromkeys(("deadLettered", "delivered", "failed"), 0)
        return {"evicted": self._evicted, "expired": self._expired, **forwarded}

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Open the queue and start forwarding."""
        config = self.config
        ttl = config.get("ttl") or {}
        self.queue = await open_node_queue(
            self,
            ttl={p: as_number(ttl.get(p.label, DEFAULT_TTL[p])) or None for p in Priority},
            starvation_share=as_number(config.get("starvationShare"), 0.0) or 0.0,
        )
        self._forwarder = Forwarder(
            self.queue, self.clock, self._deliver,
            retry=retry_policies(config.get("retry") or {}),
            on_error=lambda exc: self.error(
                f"store-forward queue {self._queue_name!r} failed: {exc}"),
            window=as_int(config.get("window"), 1) or 1,
            ack_timeout=as_number(config.get("ackTimeout"), 30.0) or 0.0,
            msg_rate=as_number(config.get("drainRate"), 0.0) or 0.0,
            byte_rate=as_number(config.get("drainByteRate"), 0.0) or 0.0,
            ready=self._wired, recheck=UNWIRED_POLL, error_pause=ERROR_PAUSE,
            on_dead_letter=lambda entry, tries, reason: self._emit(
                "dead-lettered", **_describe(entry, attempts=tries), reason=reason),
        )
        # Backoffs of a previous run are not carried over: after a restart, try at once.
        await self._forwarder.retry_now()
        self._tasks_started = [self.create_task(self._forwarder.run()),
                               self.create_task(self._housekeep())]

    async def close(self, removed: bool) -> None:
        """Stop forwarding and close the queue (in-flight messages stay queued)."""
        for task in self._tasks_started:
            task.cancel()
        await asyncio.gather(*self._tasks_started, return_exceptions=True)
        if self._forwarder is not None:
            self._forwarder.close()
        if self.queue is not None:
            await self.queue.close()

    # ---------------------------------------------------------------- input
    def on_input(self, msg: Message) -> Awaitable[Any]:
        """Queue a message (completing once committed), or run a control action."""
        action = msg.get("action")
        if action in ACTIONS:
            return self._control(action, msg)
        assert self.queue is not None
        priority = message_priority(msg, self._priority_property, self.warn)
        future = self.queue.put(msg, priority)
        future.add_done_callback(lambda done: self._stored(done, priority))
        return future

    def _stored(self, future: asyncio.Future[Any], priority: Priority) -> None:
        result, changed = self._health.settle(future)
        if changed and self._health.problem is not None:
            self._set_status({"fill": "red", "shape": "ring",
                              "text": f"not storing: {self._health.problem}"})
        if result is None:
            return
        for entry in result.evicted:
            self._evicted += 1
            self._emit("evicted", **_describe(entry))
        assert self._forwarder is not None
        self._forwarder.stored(priority)

    async def _control(self, action: str, msg: Message) -> None:
        assert self.queue is not None and self._forwarder is not None
        if action == "pause":
            self._forwarder.pause()
        elif action == "resume":
            self._forwarder.resume()
        elif action == "flush":
            await self._forwarder.retry_now()
        else:
            priority = msg.get("priority")
            purged = await self.queue.purge(None if priority in (None, "") else priority)
            self._emit("purged", count=purged, priority=priority or None)
            self._forwarder.wake()
        await self._show_status()

    # ------------------------------------------------------------- forwarding
    def _deliver(self, priority: Priority, entries: list[Entry]) -> asyncio.Future[int]:
        (entry,) = entries
        msg = entry.message
        msg["_sfid"] = entry.sfid
        return self.send_tracked(msg)

    def _wired(self) -> bool:
        return bool(self.ctx.wires and self.ctx.wires[0])

    # ----------------------------------------------------------- housekeeping
    async def _housekeep(self) -> None:
        while True:
            await self._expire()
            await self._show_status()
            await self.clock.sleep(STATUS_INTERVAL)

    async def _expire(self) -> None:
        assert self.queue is not None
        by_priority = dict.fromkeys(_PRIORITY_NAMES, 0)
        for entry in await self.queue.expire_all():
            by_priority[entry.priority.label] += 1
        count = sum(by_priority.values())
        if count:
            self._expired += count
            self._emit("expired", count=count, byPriority=by_priority)

    async def _show_status(self) -> None:
        assert self.queue is not None and self._forwarder is not None
        stats = self._stats = await self.queue.stats()
        queued = stats.queued
        text = (f"{stats.total} queued (c {queued['critical']} / h {queued['high']}"
                f" / n {queued['normal']} / l {queued['low']})")
        if stats.oldest is not None:
            text += f", oldest {_age(stats.oldest)}"
        if self._health.problem is not None:
            status = {"fill": "red", "shape": "ring",
                      "text": f"not storing: {self._health.problem}, {text}"}
        elif self._forwarder.paused:
            status = {"fill": "grey", "shape": "ring", "text": f"paused, {text}"}
        else:
            status = {"fill": "yellow" if self._forwarder.backing_off else "green",
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
        assert self.queue is not None
        return self.queue.name

    def _emit(self, event: str, **fields: Any) -> None:
        self.send([None, {"topic": event, "payload": {
            "event": event, "queue": self._queue_name, **fields, "counts": self.counts}}])


def _describe(entry: Entry, **overrides: Any) -> dict[str, Any]:
    return {"sfid": entry.sfid, "priority": entry.priority.label,
            "attempts": entry.attempts, "enqueuedAt": int(entry.enqueued_at * 1000),
            "message": entry.message, **overrides}


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.0f}s"
