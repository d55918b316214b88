"""A function node's JavaScript sandbox: Node-RED's function API in one JsContext.

:class:`FunctionSandbox` compiles the node's code (``func``, ``initialize``,
``finalize``) when it is created, and runs it on request. Each run returns the
*outbox*: what the code did that the node must act on, in order, as a list of
entries (see :data:`Entry`). The sandbox reaches the node's context stores, its
environment and its timers through a :class:`SandboxHost`, synchronously.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Protocol

import orjson

from flowrt.errors import ConfigError
from flowrt.javascript.codec import from_js, to_js
from flowrt.javascript.engine import JsContext, JsError

Entry = list[Any]
"""One outbox entry: ``["s", outputs]`` send (a list per output, each a list of
messages or None), ``["st", status]``, ``["l", level, text]`` node log (info, warn,
error, debug, trace), ``["c", level, text]`` console, ``["e", text, msg|None]``
``node.error``, ``["d", token, error text|None]`` a message done, ``["i", error
text|None]`` On Start finished."""

CODE_KINDS = ("func", "initialize", "finalize")
_AWAIT = re.compile(r"\bawait\b")
_DONE_CALL = re.compile(r"node\.done\s*\(\s*\)")


class JsCompileError(ConfigError):
    """A piece of the node's code does not compile; the message says where."""


class SandboxHost(Protocol):
    """What the sandbox needs from its node (the function node implements it)."""

    def context_call(self, scope: str, op: str, store: str | None, args: list[Any]) -> Any:
        """Context ``get`` (args ``[key or keys]``), ``set`` (``[key(s), value(s)]``),
        ``keys`` (``[]``), ``hold`` (``[key, generation held]``) or ``patch`` (``[key,
        generation, changes]``) on the node's, its flow's or the global context (see
        the function node's ``context_call`` and prelude.js)."""

    def env_value(self, name: str) -> Any:
        """An environment variable as the node sees it."""

    def timer(self, op: str, timer_id: int, delay_ms: float) -> None:
        """``once``/``every`` schedules the timer, ``clear`` cancels it."""


def _source(name: str) -> str:
    return resources.files("flowrt.javascript").joinpath(name).read_text(encoding="utf-8")


_PRELUDE: str | None = None


def _prelude() -> str:
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = _source("buffer.js") + "\n" + _source("prelude.js")
    return _PRELUDE


class FunctionSandbox:
    """The JavaScript of one function node; see the module docstring."""

    def __init__(self, code: dict[str, str], info: dict[str, Any], host: SandboxHost,
                 limit: float) -> None:
        self._host = host
        self.pending: list[Entry] = []
        """What an interrupted run did before the interruption (read after a JsError)."""
        self.limit = limit
        """Seconds one run may take (0: unbounded)."""
        self._js = JsContext()
        self._js.expose("__flowrt_host_context", self._context_call)
        self._js.expose("__flowrt_host_env", self._env)
        self._js.expose("__flowrt_host_timer", self._timer)
        self._js.eval(_prelude())
        self._input = self._js.eval("__flowrt.input")
        self._flush = self._js.eval("__flowrt.flush")
        self._fire = self._js.eval("__flowrt.fire")
        self._repair = self._js.eval("__flowrt.repair")
        self.uses_done = bool(_DONE_CALL.search(_without_comments(code.get("func", ""))))
        """The code calls ``node.done()``: a message is done when it says so."""
        self._js.call(self._js.eval("__flowrt.configure"), 0,
                      orjson.dumps({**info, "usesDone": self.uses_done,
                                   # No `node` in the code: no per-message node object.
                                   "mentionsNode": "node" in code.get("func", "")}).decode())
        self.has = {kind: bool(code.get(kind, "").strip()) for kind in CODE_KINDS}
        for kind in CODE_KINDS:
            if kind == "func" or self.has[kind]:
                self._compile(kind, code.get(kind, ""))

    def _compile(self, kind: str, source: str) -> None:
        params = "msg, node" if kind == "func" else "node"
        # Node-RED runs func and initialize as async functions; a plain function is
        # much cheaper per call, and equivalent when the code has no `await` (a
        # returned Promise is still awaited).
        prefix = "async " if kind != "finalize" and _AWAIT.search(source) else ""
        # The code starts on the second line, so that its lines keep their numbers
        # (less one) and its columns as they are.
        wrapped = f"__flowrt.code.{kind} = ({prefix}function ({params}) {{\n{source}\n}});"
        try:
            self._js.eval(wrapped, self.limit)
        except JsError as exc:
            raise JsCompileError(_compile_message(kind, source, exc)) from None

    # ------------------------------------------------------------------ runs
    def input(self, msg: dict[str, Any], token: int) -> list[Entry]:
        """Run ``func`` for ``msg``; the message's completion is entry ``["d", token]``."""
        text, tagged = to_js(msg)
        return self._run(self._input, text, tagged, token)

    def fire(self, timer_id: int) -> list[Entry]:
        """Run the callback of a timer that is due."""
        return self._run(self._fire, timer_id)

    def initialize(self) -> list[Entry]:
        """Run On Start; it has finished with entry ``["i", error]``."""
        return self._run(self._js.eval("__flowrt.initialize"))

    def close(self, removed: bool) -> list[Entry]:
        """Run On Stop and the code's close handlers; forget its timers."""
        return self._run(self._js.eval("__flowrt.close"), removed)

    def _run(self, entry: Any, *args: Any) -> list[Entry]:
        js = self._js
        try:
            # Promise jobs (async code, resolved promises) run right after, as Node.js
            # runs microtasks before anything else happens.
            out, jobs_ran = js.call_then_jobs(entry, self.limit, *args)
            if jobs_ran:
                more = js.call(self._flush, self.limit)
                out = f"{out[:-1]},{more[1:]}" if out and more else (out or more)
        except JsError:
            # Interrupted: what it did before still counts, and an encoding it was
            # in the middle of must not leave Date or Buffer changed.
            js.call(self._repair, 0)
            self.pending = self._decode(js.call(self._flush, 0))
            raise
        return self._decode(out) if out else []

    @staticmethod
    def _decode(text: str) -> list[Entry]:
        return from_js(text) if text else []

    # ------------------------------------------------------------------ host calls
    def _context_call(self, scope: str, op: str, store: str | None, args: str) -> str:
        try:
            value = self._host.context_call(scope, op, store, from_js(args))
            text, tagged = to_js(value)
            return ("vt" if tagged else "vp") + text
        except Exception as exc:
            return f"!{exc}"

    def _env(self, name: str) -> str:
        try:
            text, tagged = to_js(self._host.env_value(name))
        except Exception:
            text, tagged = "null", False
        return ("t" if tagged else "p") + text

    def _timer(self, op: str, timer_id: int, delay_ms: float) -> None:
        try:
            self._host.timer(op, timer_id, delay_ms)
        except Exception:  # the engine would only see "Python call failed"
            return None
        return None

    @property
    def memory(self) -> int:
        """Bytes the node's JavaScript heap holds."""
        return self._js.memory()


def _compile_message(kind: str, source: str, exc: JsError) -> str:
    where = ""
    if exc.line is not None:
        line = max(1, exc.line - 1)
        last = source.count("\n") + 1
        # Past the last line is the closing brace flowrt wraps the code in: the code
        # ended inside something it opened.
        where = (" at the end of the code (a bracket, brace or string not closed?)"
                 if line > last else f" at line {line}, col {exc.col}")
    name = "syntax error" if exc.name == "SyntaxError" else f"error ({exc.name})"
    return f"JavaScript {name} in {kind}{where}: {exc.message}"


def _without_comments(source: str) -> str:
    """``source`` with its comments blanked (strings and template literals kept), so
    that a ``node.done()`` in a comment does not count as a call."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in "'\"`":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            out.append(source[i:j + 1])
            i = j + 1
        elif source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
