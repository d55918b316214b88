"""Time as nodes see it: the real clock, and a fake one tests can advance.

Nodes never call ``time.time()`` or ``loop.call_later`` directly; they use
``node.clock`` so that ``flowrt.testing`` can run windows, timeouts and repeats
without sleeping. A timer callback that fails is logged (with the callback's
name) and affects nothing else, with either clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("flowrt.clock")


class TimerHandle(Protocol):
    """What ``call_later`` returns: something that can be cancelled."""

    def cancel(self) -> None: ...


class Clock:
    """The real clock: wall time, monotonic time and timers on the running loop."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds on the event loop."""
        return asyncio.get_running_loop().call_later(max(0.0, delay), _fire, callback, args)

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds."""
        await asyncio.sleep(delay)


class _FakeTimer:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock(Clock):
    """A clock that only moves when a test calls :meth:`advance`.

    Timers fire in time order during ``advance``; wall time starts at ``start``
    (default 2026-01-01T00:00:00Z) so time-window boundaries are predictable.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._start = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _FakeTimer(self._now + max(0.0, delay), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_later(delay, wake)
        await future

    def pending(self) -> int:
        """How many timers are waiting to fire."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_due(self) -> float | None:
        """The time (as :meth:`time` counts) the next timer falls due; None when none waits."""
        due = [t.when for _, _, t in self._timers if not t.cancelled]
        return min(due) if due else None

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order.

        Between timers the event loop runs briefly so that coroutines woken by a
        timer (``sleep``) make progress before the next one fires.
        """
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            _fire(timer.callback, timer.args)
            await _settle()
        self._now = target
        await _settle()


def _fire(callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Run a timer's callback; whatever it raises is logged here, not left to the loop
    (which would end the process on a SystemExit)."""
    try:
        callback(*args)
    except BaseException as exc:
        name = getattr(callback, "__qualname__", None) or repr(callback)
        log.error("Timer callback %s failed: %s: %s", name, type(exc).__name__, exc,
                  exc_info=exc)


async def _settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
