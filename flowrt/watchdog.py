"""Bounds on user code (function nodes) and on the time a graceful stop may take.

Function code is trusted, but one mistake in it (``while True: pass``) must not
freeze the runtime: while it runs, the event loop serves no HTTP request, no MQTT
packet and no signal. So user code runs inside :meth:`CodeWatchdog.call` (a
coroutine through :meth:`CodeWatchdog.steps`, every synchronous step bounded the
same way). A daemon thread looks at what is running every :data:`TICK` seconds;
once one run has lasted its limit, it sends :data:`INTERRUPT_SIGNAL` to the main
thread, whose handler raises :class:`CodeInterrupted` in the code that is
running. A signal also ends a blocking system call (``time.sleep``, a socket
read), which an exception set from another thread could not.

The handler runs in the loop thread itself, between two bytecodes, and raises
only while guarded code is running: an interruption can never land in the
runtime's own code after the user code returned (a thread raising into the loop
thread with ``PyThreadState_SetAsyncExc`` could not promise that). Arming costs
one small object and two attribute writes per call.

:func:`handle_stop_signals` makes SIGTERM and SIGINT interrupt user code that
is running when they arrive, and ends the process (after logging it) if the
graceful stop has not finished within its grace period.

Python runs signal handlers in the main thread only: on an event loop in another
thread, :meth:`CodeWatchdog.for_this_thread` gives a watchdog that bounds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger("flowrt.watchdog")

DEFAULT_FUNCTION_TIMEOUT = 1.0
"""Seconds user code may run without giving the event loop back (``functionTimeout``).

A synchronous second already stalls every other flow, the admin API and MQTT
keep-alives; work that legitimately takes longer belongs in an ``await``
(``asyncio.to_thread``), which does not count, or on a node with its own ``timeout``.
"""
DEFAULT_SHUTDOWN_TIMEOUT = 20.0
"""Seconds a graceful stop may take (``shutdownTimeout``): longer than one node's
``nodeCloseTimeout`` (15 s), so a slow but working close still completes."""
TICK = 0.05
"""Seconds between two looks of the watchdog thread: a run is interrupted between
its limit and its limit plus one tick."""
INTERRUPT_SIGNAL = signal.SIGUSR2
"""Sent to the main thread to interrupt user code (SIGALRM is left to user code and
to pytest-timeout)."""
FORCED_EXIT_CODE = 70
"""Exit code when the graceful stop did not finish in time (EX_SOFTWARE)."""

P = ParamSpec("P")
R = TypeVar("R")


class CodeInterrupted(BaseException):
    """User code was stopped from outside: it ran past its limit, or flowrt is stopping.

    A BaseException, so that the ``except Exception`` of the code it interrupts does
    not swallow it. ``limit`` is the limit it ran past (None when stopping).
    """

    def __init__(self, reason: str, limit: float | None = None) -> None:
        super().__init__(reason)
        self.limit = limit


class _Run:
    """One guarded run of user code: its limit and, once decided, why it must end."""

    __slots__ = ("limit", "reason")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.reason: str | None = None


class CodeWatchdog:
    """Interrupts user code running on the main thread past its limit (module docstring).

    There is one per process (:meth:`for_this_thread`): a signal handler is a
    process-wide resource.
    """

    _instance: CodeWatchdog | None = None
    _unguarded: CodeWatchdog | None = None

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._run: _Run | None = None
        self._stop_deadline: float | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_this_thread(cls) -> CodeWatchdog:
        """The process's watchdog when called on the main thread (started on first
        use); elsewhere one whose :meth:`call` and :meth:`steps` bound nothing."""
        if threading.current_thread() is not threading.main_thread():
            if cls._unguarded is None:
                cls._unguarded = cls(enabled=False)
            return cls._unguarded
        if cls._instance is None:
            cls._instance = cls(enabled=True)
            cls._instance._start()
        return cls._instance

    def _start(self) -> None:
        signal.signal(INTERRUPT_SIGNAL, self._on_interrupt_signal)
        self._thread = threading.Thread(target=self._watch, name="flowrt-watchdog",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ guarded code
    def call(self, limit: float, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``func(*args)``, interrupted with :class:`CodeInterrupted` after ``limit``
        seconds (0: no limit, but a stop signal still interrupts it)."""
        if not self.enabled:
            return func(*args, **kwargs)
        outer, self._run = self._run, _Run(limit)
        try:
            return func(*args, **kwargs)
        finally:
            self._run = outer

    @types.coroutine
    def steps(self, coro: Coroutine[Any, Any, R], limit: float) -> Generator[Any, Any, R]:
        """Await ``coro`` with each of its synchronous steps bounded as by :meth:`call`
        (the time it spends awaiting does not count)."""
        if not self.enabled:
            return (yield from coro.__await__())
        value: Any = None
        error: BaseException | None = None
        while True:
            outer, self._run = self._run, _Run(limit)
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            finally:
                self._run = outer
            try:
                value, error = (yield yielded), None
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # delivered to the code, as `await` would
                value, error = None, exc

    def _on_interrupt_signal(self, signum: int, frame: types.FrameType | None) -> None:
        run = self._run
        if run is not None and run.reason is not None:
            raise CodeInterrupted(run.reason, run.limit if run.limit > 0 else None)

    # ------------------------------------------------------------ the thread
    def _watch(self) -> None:
        main = threading.main_thread().ident
        assert main is not None
        seen: _Run | None = None
        seen_at = 0.0
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            if self._stop_deadline is not None and now >= self._stop_deadline:
                self._force_exit()
            run = self._run
            if run is None:
                continue
            if run is not seen:
                # First sight: it started at most one tick ago.
                seen, seen_at = run, now
            elif run.reason is None and 0 < run.limit <= now - seen_at:
                run.reason = f"timed out after {run.limit:g} s"
            if run.reason is not None:
                # Again every tick: the code may catch BaseException and carry on.
                signal.pthread_kill(main, INTERRUPT_SIGNAL)

    def _force_exit(self) -> None:
        where = sys._current_frames().get(threading.main_thread().ident or 0)
        at = f" (main thread at {where.f_code.co_filename}:{where.f_lineno})" if where else ""
        # Logging may wait for a lock the stuck main thread holds: exit in any case.
        threading.Timer(1.0, os._exit, (FORCED_EXIT_CODE,)).start()
        log.critical("graceful stop did not finish within its grace period%s: exiting now",
                     at)
        os._exit(FORCED_EXIT_CODE)

    # ------------------------------------------------------------ stopping
    def stop_requested(self, reason: str, grace: float) -> None:
        """A stop signal arrived (called from its handler, in the main thread): the
        process ends within ``grace`` seconds whatever happens, and user code running
        now is interrupted."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + grace
        run = self._run
        if run is not None:
            run.reason = reason
            raise CodeInterrupted(reason)


def handle_stop_signals(request_stop: Callable[[], None], grace: float) -> None:
    """On SIGTERM or SIGINT: call ``request_stop`` on the event loop, interrupt user
    code that is running, and end the process after ``grace`` seconds if the graceful
    stop has not finished by then. Call from the event loop, in the main thread."""
    loop = asyncio.get_running_loop()
    watchdog = CodeWatchdog.for_this_thread()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        # No logging here: the signal may have interrupted a write to the same stream.
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending
            loop.call_soon_threadsafe(request_stop)
        watchdog.stop_requested(f"interrupted: flowrt is stopping "
                                f"({signal.Signals(signum).name})", grace)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
