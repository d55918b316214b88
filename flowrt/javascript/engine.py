"""One embedded JavaScript context (QuickJS-ng): the only module that imports the engine.

A :class:`JsContext` is a QuickJS runtime with one global scope, a memory limit and a
stack limit. Every entry into it from Python (:meth:`JsContext.call`,
:meth:`JsContext.eval`, :meth:`JsContext.run_jobs`) is bounded in time: the engine
calls an interrupt handler every few thousand operations, and the handler ends the
run once the entry's deadline has passed (:class:`JsTimeout`).

Why not the binding's own ``set_time_limit``: with it set, JavaScript cannot call a
Python function at all ("Can not call into Python with a time limit set"), and
function nodes must reach their context stores synchronously. So the handler is
installed through the engine's C API (``JS_SetInterruptHandler``) with ctypes; the
binding leaves an installed handler alone as long as its own limit is off.

Contexts must be used from one thread (the event loop's), as the binding requires.
"""

from __future__ import annotations

import ctypes
import math
import re
import time
from collections.abc import Callable
from typing import Any

import quickjs

MEMORY_LIMIT = 64 * 1024 * 1024
"""Bytes one context may allocate (a function node's whole JavaScript heap)."""
STACK_LIMIT = 1024 * 1024
"""Bytes of C stack one entry may use: about 3,000 nested JavaScript calls."""

_POSITION = re.compile(r"<input>:(\d+):(\d+)")
_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_LIB = ctypes.CDLL(quickjs._quickjs.__file__)
_LIB.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, _HANDLER, ctypes.c_void_p]
_LIB.JS_SetInterruptHandler.restype = None
_LIB.JS_GetRuntimeOpaque.argtypes = [ctypes.c_void_p]
_LIB.JS_GetRuntimeOpaque.restype = ctypes.c_void_p
_RUNTIME_OFFSET = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
"""Where the binding's Context object keeps its ``JSRuntime *`` (after PyObject_HEAD)."""

ENGINE = "QuickJS-ng"
"""The engine's name, for logs and reports."""


class JsError(Exception):
    """JavaScript failed outside the code's own error handling (compile error, time or
    memory limit). ``name`` is the JavaScript error's name, ``line``/``col`` where the
    engine located it in the evaluated source (1-based), when it did."""

    def __init__(self, name: str, message: str, line: int | None = None,
                 col: int | None = None) -> None:
        self.name = name
        self.message = message
        self.line = line
        self.col = col
        super().__init__(f"{name}: {message}" if name else message)


class JsTimeout(JsError):
    """An entry ran past its time limit and was interrupted."""


class JsContext:
    """A JavaScript global scope with its own heap; see the module docstring."""

    def __init__(self, memory_limit: int = MEMORY_LIMIT, stack_limit: int = STACK_LIMIT) -> None:
        self._ctx = quickjs.Context()
        self._ctx.set_memory_limit(memory_limit)
        self._ctx.set_max_stack_size(stack_limit)
        self._deadline = math.inf
        self._depth = 0
        self.interrupted_from_outside: BaseException | None = None
        """An exception (a stop signal's) raised in the interrupt handler, re-raised
        when the entry returns."""
        runtime = ctypes.c_void_p.from_address(id(self._ctx) + _RUNTIME_OFFSET).value
        if not runtime or _LIB.JS_GetRuntimeOpaque(runtime) != id(self._ctx):
            raise RuntimeError("this quickjs-ng build does not expose its runtime as flowrt "
                               "expects: pin quickjs-ng to a version flowrt was tested with")
        # Kept on the instance: the engine holds only a raw pointer to the callback.
        self._handler = _HANDLER(self._interrupt)
        _LIB.JS_SetInterruptHandler(runtime, self._handler, None)

    def _interrupt(self, _runtime: int | None, _opaque: int | None) -> int:
        try:
            return 1 if time.monotonic() > self._deadline else 0
        except BaseException as exc:  # a signal handler raised here: stop the code
            self.interrupted_from_outside = exc
            return 1

    # ------------------------------------------------------------------ entries
    def eval(self, source: str, limit: float = 0.0) -> Any:
        """Evaluate ``source`` in the global scope; its value (a primitive, or a
        ``quickjs.Object`` that can be called)."""
        return self._enter(self._ctx.eval, limit, source)

    def call(self, function: Any, limit: float, *args: Any) -> Any:
        """Call a JavaScript function with primitive arguments."""
        return self._enter(function, limit, *args)

    def call_then_jobs(self, function: Any, limit: float, *args: Any) -> tuple[Any, bool]:
        """:meth:`call`, then :meth:`run_jobs`, within one time limit (one entry: the
        common path of a message costs one deadline); the result and whether jobs ran."""
        result: tuple[Any, bool] = self._enter(self._call_then_jobs, limit, function, *args)
        return result

    def _call_then_jobs(self, function: Any, *args: Any) -> tuple[Any, bool]:
        result = function(*args)
        ran = False
        execute = self._ctx.execute_pending_job
        while execute():
            ran = True
        return result, ran

    def run_jobs(self, limit: float) -> bool:
        """Run pending Promise jobs until none is left; True if any ran."""
        ran = False
        while self._enter(self._ctx.execute_pending_job, limit):
            ran = True
        return ran

    def _enter(self, function: Callable[..., Any], limit: float, *args: Any) -> Any:
        outermost = self._depth == 0
        if outermost:
            self._deadline = time.monotonic() + limit if limit > 0 else math.inf
        self._depth += 1
        try:
            return function(*args)
        except quickjs.JSException as exc:
            raise self._error(exc, limit) from None
        finally:
            self._depth -= 1
            if outermost:
                self._deadline = math.inf
                outside, self.interrupted_from_outside = self.interrupted_from_outside, None
                if outside is not None:
                    raise outside

    def _error(self, exc: Exception, limit: float) -> JsError:
        text = str(exc)
        head, _, rest = text.partition("\n")
        name, sep, message = head.partition(": ")
        if not sep:
            name, message = "", head
        position = _POSITION.search(rest)
        line, col = (int(position[1]), int(position[2])) if position else (None, None)
        if name == "InternalError" and message == "interrupted":
            return JsTimeout(name, f"timed out after {limit:g} s", line, col)
        if message == "" and name in ("", "null"):
            message = "out of memory"  # the engine could not even build the error
        return JsError(name, message, line, col)

    # ------------------------------------------------------------------ set-up
    def get(self, name: str) -> Any:
        """A global variable's value."""
        return self._ctx.get(name)

    def expose(self, name: str, function: Callable[..., Any]) -> None:
        """Make a Python function callable from JavaScript as the global ``name``.

        It receives and returns primitives (str, int, float, bool, None). It must not
        raise: the engine would only see "Python call failed".
        """
        self._ctx.add_callable(name, function)

    def memory(self) -> int:
        """Bytes the context has allocated."""
        return int(self._ctx.memory()["malloc_size"])
