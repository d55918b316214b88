"""Event-loop lag, measured for ``/metrics``."""

from __future__ import annotations

import asyncio


class LoopMonitor:
    """Measures event-loop lag: how late a callback scheduled every ``interval`` runs."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.lag = 0.0
        self.max_lag = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        """Begin measuring on the running loop."""
        self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        """Stop measuring."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def take_max(self) -> float:
        """The largest lag seen since the last call (then reset to the current lag)."""
        value, self.max_lag = max(self.max_lag, self.lag), self.lag
        return value

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = loop.time() + self.interval
        self._handle = loop.call_at(self._due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lag = max(0.0, loop.time() - self._due)
        self.max_lag = max(self.max_lag, self.lag)
        self._schedule(loop)
