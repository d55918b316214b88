"""Message delivery: one bounded FIFO run queue drained by the event loop.

``Node.send`` appends ``(target, msg, tracker)`` events to the queue; a single
``call_soon`` callback drains it in batches, so there is no task and no future
per message, delivery is in order per wire, and the loop still serves sockets
between batches.

Overflow rule: the queue holds at most ``max_pending`` events. A send beyond
that is dropped, counted (``dropped``) and logged (one line per
``REPORT_INTERVAL`` at most, with the count); ``push`` returns False so that the
sending node reports it too; a tracked send fails its tracker so a
store-and-forward sender retries later. Sources (such as ``mqtt in``) check
``saturated`` and stop reading until ``when_drained`` calls them back, so under
overload the broker's queue (or the TCP window) absorbs the excess instead of
flowrt's memory. A node whose own backlog of unfinished messages is too long
(``Node.max_inflight``, e.g. store-forward waiting for commits) marks itself
``congested`` and sources pause the same way until it is ``relieved``.

One wake-up per arriving batch: a source reads inside ``source_pass``, which
delivers what the read queued and then runs the ``after_pass`` callbacks that
delivery registered (a connection flushing the packets its nodes published),
all in that one loop callback. Outside a pass, a drain is its own pass: writes
queued while it delivers go out at its end, in one send per connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

from flowrt.clock import Clock, TimerHandle
from flowrt.errors import NodeError

log = logging.getLogger("flowrt.dispatch")

T = TypeVar("T")



class Receiver(Protocol):
    """What the run queue delivers to: a node (``flowrt.node.Node``)."""

    type: ClassVar[str]
    id: str
    errors: int

    def receive(self, msg: dict[str, Any], tracker: Tracker | None) -> None:
        """Handle one delivery; reports its own failures."""


DRAIN_BATCH = 4096
REPORT_INTERVAL = 10.0
"""Seconds between two reports of dropped messages (the log, a node's warning)."""


class RateLimitedReport:
    """Reports a count of events at most once per ``interval`` seconds, none lost.

    The first event is reported at the end of the current loop pass (so a burst
    is one report with its total), later ones when the interval since the last
    report is over, so the last of a series is reported too.
    """

    def __init__(self, report: Callable[[int], None], clock: Clock,
                 interval: float = REPORT_INTERVAL) -> None:
        self.report = report
        self.clock = clock
        self.interval = interval
        self.pending = 0
        self.total = 0
        """Events counted since this report began (reported or not)."""
        self._last = -interval
        self._timer: TimerHandle | None = None

    def add(self, count: int = 1) -> None:
        """Count ``count`` events; a report is scheduled if none is."""
        self.pending += count
        self.total += count
        if self._timer is None:
            delay = self._last + self.interval - self.clock.monotonic()
            self._timer = self.clock.call_later(delay, self._flush)

    def cancel(self) -> None:
        """Forget the scheduled report (the reporter is going away)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        self._timer = None
        count, self.pending = self.pending, 0
        self._last = self.clock.monotonic()
        self.report(count)


class Tracker:
    """Counts the deliveries of one acknowledged send until all have completed.

    ``future`` resolves with the number of deliveries once every node the
    message reached (and every node those sent it on to while handling it) has
    completed it, or fails with the first error any of them reported.
    """

    __slots__ = ("deliveries", "future", "pending")

    def __init__(self, future: asyncio.Future[int]) -> None:
        self.future = future
        self.pending = 0
        self.deliveries = 0

    def add(self) -> None:
        """One more delivery to wait for."""
        self.pending += 1
        self.deliveries += 1

    def done(self) -> None:
        """One delivery completed successfully."""
        self.pending -= 1
        if self.pending <= 0 and not self.future.done():
            self.future.set_result(self.deliveries)

    def fail(self, error: BaseException) -> None:
        """One delivery failed: the whole send fails."""
        self.pending -= 1
        if not self.future.done():
            self.future.set_exception(error)


class Dispatcher:
    """The runtime's run queue (see the module docstring for the overflow rule)."""

    def __init__(self, max_pending: int = 100_000, clock: Clock | None = None) -> None:
        self.max_pending = max_pending
        self.low_water = max_pending // 4
        self.dropped = 0
        self.delivered = 0
        self.current_tracker: Tracker | None = None
        self._queue: deque[tuple[Receiver, dict[str, Any], Tracker | None]] = deque()
        self._scheduled = False
        self._drain_waiters: list[Callable[[], None]] = []
        self._congested: set[object] = set()
        self._draining = False
        self._in_pass = False
        self._pass_end: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drops = RateLimitedReport(self._report_drops, clock or Clock())

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def saturated(self) -> bool:
        """True when sources should pause reading until the queue drains."""
        return len(self._queue) >= self.max_pending // 2 or bool(self._congested)

    def congest(self, holder: object) -> None:
        """``holder`` has too much work in flight: sources pause until it is relieved."""
        self._congested.add(holder)

    def relieve(self, holder: object) -> None:
        """``holder`` caught up; once nobody is congested, paused sources resume."""
        if holder in self._congested:
            self._congested.discard(holder)
            if not self._congested and self._drain_waiters:
                self._schedule()

    def when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the queue falls to its low-water mark."""
        self._drain_waiters.append(callback)
        self._schedule()

    def source_pass(self, read: Callable[[], T]) -> T:
        """Run ``read`` (a source taking in what arrived), deliver what it queued and
        run the ``after_pass`` callbacks, in this one loop callback; returns what
        ``read`` returned."""
        if self._in_pass:
            return read()
        self._in_pass = True
        try:
            result = read()
            if self._queue and not self._draining:
                self._drain()
        finally:
            self._end_pass()
        return result

    def after_pass(self, callback: Callable[[], None]) -> bool:
        """Call ``callback`` at the end of the current pass (a source's read or a
        drain) and return True; False when no pass is running (the caller then
        schedules it itself)."""
        if not self._in_pass:
            return False
        self._pass_end.append(callback)
        return True

    def _end_pass(self) -> None:
        self._in_pass = False
        if self._queue and not self._scheduled:
            self._schedule()  # what the pass could not deliver (a read that failed)
        while self._pass_end:
            callbacks, self._pass_end = self._pass_end, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("end-of-pass callback %r failed", callback)

    def push(self, node: Receiver, msg: dict[str, Any], tracker: Tracker | None) -> bool:
        """Queue one delivery of ``msg`` to ``node``; False when the queue is full and
        the message was dropped (see the module docstring)."""
        if len(self._queue) >= self.max_pending:
            self.dropped += 1
            self._drops.add()
            if tracker is not None:
                tracker.add()
                tracker.fail(NodeError("run queue full: message dropped", node_id=node.id))
            return False
        if tracker is not None:
            tracker.add()
        self._queue.append((node, msg, tracker))
        if not self._scheduled and not self._in_pass:
            self._schedule()
        return True

    def _report_drops(self, count: int) -> None:
        log.warning("Run queue full (maxPendingMessages = %d): %d message%s dropped "
                    "(%d in all)", self.max_pending, count, "" if count == 1 else "s",
                    self.dropped)

    def _schedule(self) -> None:
        if self._scheduled:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._scheduled = True
        self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        queue = self._queue
        popleft = queue.popleft
        count = 0
        outermost = not self._in_pass
        self._in_pass = self._draining = True
        try:
            while queue and count < DRAIN_BATCH:
                node, msg, tracker = popleft()
                self.current_tracker = tracker
                try:
                    node.receive(msg, tracker)
                except BaseException as exc:  # the next message must still flow
                    _receive_failed(node, msg, tracker, exc)
                count += 1
        finally:
            self._draining = False
            self.current_tracker = None
            self.delivered += count
            self._scheduled = False
        if self._drain_waiters and len(queue) <= self.low_water and not self._congested:
            waiters, self._drain_waiters = self._drain_waiters, []
            for callback in waiters:
                callback()
        if queue:
            self._schedule()
        if outermost:
            self._end_pass()

    def clear_for(self, nodes: set[Receiver]) -> None:
        """Forget queued deliveries to nodes that are being stopped."""
        if self._queue:
            kept = [event for event in self._queue if event[0] not in nodes]
            for node, _, tracker in self._queue:
                if node in nodes and tracker is not None:
                    tracker.fail(NodeError("node stopped before handling message", node_id=node.id))
            self._queue = deque(kept)


def _receive_failed(node: Receiver, msg: dict[str, Any], tracker: Tracker | None,
                    exc: BaseException) -> None:
    """``Node.receive`` reports a node's own failures; one that escaped it failed while
    reporting (a broken catch node, ...), so the message can only be logged here."""
    log.error("Message %s to node %s (%s) failed: %s: %s", msg.get("_msgid"), node.id,
              type(node).type, type(exc).__name__, exc, exc_info=exc)
    node.errors += 1
    if tracker is not None:  # an awaiting sender gets an ordinary error, never an exit
        tracker.fail(exc if isinstance(exc, Exception) else NodeError(
            f"{type(exc).__name__}: {exc}", node_id=node.id))
