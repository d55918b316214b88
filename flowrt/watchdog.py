"""Bounds on user code (function nodes) and on the time a graceful stop may take.

Function code is trusted, but one mistake in it (``while True: pass``) must not
freeze the runtime: while it runs, the event loop serves no HTTP request, no MQTT
packet and no signal. A node registers the file names it compiles its code under,
with a time limit (:meth:`CodeWatchdog.watch`). A daemon thread looks at the main
thread's stack every :data:`TICK` seconds: when the same run of user code is still
there after its limit, it sends :data:`INTERRUPT_SIGNAL` to the main thread, whose
handler raises :class:`CodeInterrupted` in that code. A signal also ends a blocking
system call (``time.sleep``, a socket read), which an exception set from another
thread could not.

"The same run" is the outermost frame of user code on the stack, seen again before
the event loop has turned: a new call, or a new step of a coroutine, is a new run. When
the thread sees user code it posts a mark to the loop (``call_soon_threadsafe``); the
mark can only run once that step has given the loop back, so a mark that has run by the
next look means a new step. This holds on any loop (the standard library's and
uvloop's alike, whose callbacks leave no Python frame to tell steps apart). So a
function called for every message, or a coroutine that awaits often, is never
interrupted for its total time, and code the function scheduled on the loop
(``call_later``, ``create_task``) is bounded like the code itself. Nothing is done per
call: the cost is the thread's 20 looks a second, and a mark per look at user code.

The handler runs in the loop thread itself and raises only if the frame it was told
to interrupt is on its own stack at that moment: an interruption can never land in
the runtime's own code after the user code returned (a thread raising into the loop
thread with ``PyThreadState_SetAsyncExc`` could not promise that).

:func:`handle_stop_signals` makes SIGTERM and SIGINT interrupt user code running
when they arrive, and ends the process (after logging it) if the graceful stop has
not finished within its grace period. :func:`run` is ``asyncio.run`` for a process
that runs user code: a ``SystemExit`` or ``KeyboardInterrupt`` that user code raises
in a callback it scheduled is reported as its node's error instead of ending it.

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
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

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
"""Seconds between two looks of the watchdog thread: a run is interrupted at most
about two ticks after its limit (0.27-0.30 s for a limit of 0.2 s, measured)."""
INTERRUPT_SIGNAL = signal.SIGUSR2
"""Sent to the main thread to interrupt user code (SIGALRM is left to user code and
to pytest-timeout)."""
FORCED_EXIT_CODE = 70
"""Exit code when the graceful stop did not finish in time (EX_SOFTWARE)."""

R = TypeVar("R")


class CodeInterrupted(BaseException):
    """User code was stopped from outside: it ran past its limit, or flowrt is stopping.

    A BaseException, so that the ``except Exception`` of the code it interrupts does
    not swallow it. ``limit`` is the limit it ran past (None when stopping).
    """

    def __init__(self, reason: str, limit: float | None = None) -> None:
        super().__init__(reason)
        self.limit = limit


class CodeOwner(Protocol):
    """The node that user code belongs to."""

    def error(self, err: BaseException | str, msg: Any = None) -> None:
        """Report an error of the node (here: one its code raised outside a message)."""


class _Target:
    """The run of user code the main thread's signal handler must interrupt."""

    __slots__ = ("frame", "limit", "reason")

    def __init__(self, frame: types.FrameType, reason: str, limit: float | None) -> None:
        self.frame = frame
        self.reason = reason
        self.limit = limit


class CodeWatchdog:
    """Interrupts user code that holds the main thread past its limit (module docstring).

    There is one per process (:meth:`for_this_thread`): a signal handler is a
    process-wide resource.
    """

    _instance: CodeWatchdog | None = None
    _unguarded: CodeWatchdog | None = None

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._code: dict[str, tuple[float, CodeOwner]] = {}
        self._target: _Target | None = None
        self._stop_deadline: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns = 0  # marks the loop has run (see _watch)

    @classmethod
    def for_this_thread(cls) -> CodeWatchdog:
        """The process's watchdog when called on the main thread (started on first
        use); elsewhere one that bounds nothing."""
        if threading.current_thread() is not threading.main_thread():
            if cls._unguarded is None:
                cls._unguarded = cls(enabled=False)
            return cls._unguarded
        if cls._instance is None:
            cls._instance = cls(enabled=True)
            signal.signal(INTERRUPT_SIGNAL, cls._instance._on_interrupt_signal)
            threading.Thread(target=cls._instance._watch, name="flowrt-watchdog",
                             daemon=True).start()
        return cls._instance

    # ------------------------------------------------------------ registry
    def watch(self, filename: str, limit: float, owner: CodeOwner) -> None:
        """Bound code compiled under ``filename`` to ``limit`` seconds per run (0: no
        limit, but a stop signal still interrupts it)."""
        if self.enabled:
            self._code[filename] = (limit, owner)
            with contextlib.suppress(RuntimeError):  # no running loop: no marks
                self._loop = asyncio.get_running_loop()

    def forget(self, filename: str, owner: CodeOwner) -> None:
        """``owner`` no longer runs code compiled under ``filename``."""
        entry = self._code.get(filename)
        if entry is not None and entry[1] is owner:
            del self._code[filename]

    def owner_of(self, exc: BaseException) -> CodeOwner | None:
        """The owner of the innermost user code in ``exc``'s traceback, if any."""
        owner = None
        tb = exc.__traceback__
        while tb is not None:
            entry = self._code.get(tb.tb_frame.f_code.co_filename)
            if entry is not None:
                owner = entry[1]
            tb = tb.tb_next
        return owner

    def _locate(self, frame: types.FrameType | None) -> types.FrameType | None:
        """The outermost user frame on the stack of ``frame``."""
        user = None
        code = self._code
        while frame is not None:
            if frame.f_code.co_filename in code:
                user = frame
            frame = frame.f_back
        return user

    def _turned(self) -> None:
        """A mark ran on the loop: every step of user code seen before has ended."""
        self._turns += 1

    # ------------------------------------------------------------ the thread
    def _watch(self) -> None:
        main = threading.main_thread().ident
        assert main is not None
        seen: types.FrameType | None = None
        seen_at, seen_turns = 0.0, -1
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            if self._stop_deadline is not None and now >= self._stop_deadline:
                self._force_exit()
            if not self._code:  # no user code deployed
                continue
            turns = self._turns  # before looking: a mark run after it counts as a turn
            user = self._locate(sys._current_frames().get(main))
            if user is None:
                seen, self._target = None, None  # hold no frame of finished code
                continue
            if user is not seen or turns != seen_turns:
                # First sight: this run started at most one tick ago.
                seen, seen_at, seen_turns = user, now, turns
                loop = self._loop
                if loop is not None:
                    with contextlib.suppress(RuntimeError):  # closed: the process ends
                        loop.call_soon_threadsafe(self._turned)
            target = self._target
            if target is None or target.frame is not user:
                limit = self._code.get(user.f_code.co_filename, (0.0,))[0]
                if not 0 < limit <= now - seen_at:
                    continue
                self._target = _Target(user, f"timed out after {limit:g} s", limit)
            # Again every tick: the code may catch BaseException and carry on.
            signal.pthread_kill(main, INTERRUPT_SIGNAL)

    def _on_interrupt_signal(self, signum: int, frame: types.FrameType | None) -> None:
        target = self._target
        while target is not None and frame is not None:
            if frame is target.frame:
                raise CodeInterrupted(target.reason, target.limit)
            frame = frame.f_back

    def _force_exit(self) -> None:
        where = sys._current_frames().get(threading.main_thread().ident or 0)
        at = f" (main thread at {where.f_code.co_filename}:{where.f_lineno})" if where else ""
        # Logging may wait for a lock the stuck main thread holds: exit in any case.
        threading.Timer(1.0, os._exit, (FORCED_EXIT_CODE,)).start()
        log.critical("graceful stop did not finish within its grace period%s: exiting now",
                     at)
        os._exit(FORCED_EXIT_CODE)

    # ------------------------------------------------------------ stopping
    def stop_requested(self, reason: str, grace: float, frame: types.FrameType | None) -> None:
        """A stop signal arrived (called from its handler, in the main thread, with the
        frame it interrupted): the process ends within ``grace`` seconds whatever
        happens, and user code running now is interrupted."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + grace
        user = self._locate(frame)
        if user is not None:
            self._target = _Target(user, reason, None)
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
                                f"({signal.Signals(signum).name})", grace, frame)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def run(main: Coroutine[Any, Any, R],
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> R:
    """``asyncio.run(main)``, except that a ``SystemExit`` or ``KeyboardInterrupt``
    raised by user code in a callback it scheduled is that code's node's error: the
    loop carries on (asyncio lets those two escape from any callback). One raised
    elsewhere (Ctrl-C before the stop handlers are installed) ends the run as usual.

    The message of such an error is unknown: like Node-RED for an error in a function's
    timer, catch nodes receive it with an empty message. ``loop_factory`` makes the loop
    (default: the standard library's)."""
    watchdog = CodeWatchdog.for_this_thread()

    def report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Other exceptions in callbacks reach the loop's handler: name the node too.
        exc = context.get("exception")
        owner = watchdog.owner_of(exc) if exc is not None else None
        if owner is None:
            loop.default_exception_handler(context)
        else:
            owner.error(f"in a callback the code scheduled: {type(exc).__name__}: {exc}", {})

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        loop = runner.get_loop()
        loop.set_exception_handler(report)
        task = loop.create_task(main)
        while True:
            try:
                return loop.run_until_complete(task)
            except (SystemExit, KeyboardInterrupt) as exc:
                owner = watchdog.owner_of(exc)
                if owner is None or task.done():
                    raise
                owner.error(f"{type(exc).__name__} in a callback the code scheduled: ignored",
                            {})
