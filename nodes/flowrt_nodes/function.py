"""function: user-written JavaScript (as in Node-RED) or Python, run for every message."""

from __future__ import annotations

import ast
import asyncio
import builtins
import importlib
import logging
import sys
from collections.abc import Awaitable, Coroutine
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.context import Context
from flowrt.errors import ConfigError, NodeError
from flowrt.javascript import Entry, FunctionSandbox, JsCompileError, JsError, JsTimeout
from flowrt.jsvalue import MISSING
from flowrt.messages import Message, clone_message, new_msgid
from flowrt.node import Node, NodeContext
from flowrt.schema import as_number, integer, number, string
from flowrt.watchdog import CodeInterrupted, CodeWatchdog

_FUNCTION_NAME = "__flowrt_function__"
# The code fields: highlighted as JavaScript, or as the language the node's `language` names.
_CODE = {"x-format": "javascript", "x-format-by": "language"}


class FunctionError(ConfigError):
    """The code of a function node cannot be compiled or its setup failed."""


class FunctionNodeAPI:
    """What the code sees as `node`: this node's id and name, send, done, status, logging."""

    __slots__ = ("_done", "_msgid", "_node")

    def __init__(self, node: PythonFunction, msgid: str | None,
                 done: asyncio.Future[None] | None = None) -> None:
        self._node = node
        self._msgid = msgid
        self._done = done

    @property
    def id(self) -> str:
        """The node id."""
        return self._node.id

    @property
    def name(self) -> str:
        """The node name."""
        return self._node.name

    @property
    def path(self) -> str:
        """``<flow path>/<node id>``."""
        return f"{self._node.ctx.flow.path}/{self._node.id}"

    @property
    def outputCount(self) -> int:
        """How many outputs the node has."""
        return self._node.output_count

    def send(self, msgs: Any, clone: bool = True) -> None:
        """Send a message (or a list per output); the first message is copied unless
        ``clone`` is False."""
        self._node.send_results(msgs, self._msgid, clone)

    def done(self, err: BaseException | str | None = None) -> None:
        """Mark the current message handled (with ``err``: failed, to catch nodes)."""
        future = self._done
        if future is None or future.done():
            if err is not None:
                self._node.error(err)
            return
        if err is None:
            future.set_result(None)
        elif isinstance(err, Exception):
            future.set_exception(err)
        else:  # a message, or a BaseException that must not reach the runtime as such
            text = err if isinstance(err, str) else self._node.describe_error(err)
            future.set_exception(NodeError(text, node_id=self._node.id))

    def error(self, err: BaseException | str, msg: Message | None = None) -> None:
        """Report an error; with ``msg`` it goes to catch nodes."""
        self._node.error(err, msg)

    def warn(self, text: Any) -> None:
        """Log a warning (also shown in the debug sidebar)."""
        self._node.warn(str(text))

    def log(self, text: Any) -> None:
        """Log at info level."""
        self._node.log.info("%s", text)

    def debug(self, text: Any) -> None:
        """Log at debug level."""
        self._node.log.debug("%s", text)

    trace = debug

    def status(self, status: dict[str, Any] | str | None = None, **fields: Any) -> None:
        """Set the node status: ``node.status({"fill": "green", "text": "ok"})``."""
        self._node.status(status, **fields)


class _ClosingNodeAPI(FunctionNodeAPI):
    """`node` in `finalize`: the node is stopping, so it cannot send."""

    __slots__ = ()

    def send(self, msgs: Any, clone: bool = True) -> None:
        """Refuse: nothing is wired any more."""
        self._node.error("Cannot send from close function")


class FunctionContext:
    """`context` in function code: node context plus `.flow` and `.global_` (or `.global`)."""

    __slots__ = ("_node", "flow", "global_")

    def __init__(self, node: Node) -> None:
        self._node = node.context
        self.flow = node.ctx.flow_context
        self.global_ = node.ctx.global_context

    def get(self, key: str, store: str | None = None) -> Any:
        """A node context value."""
        return self._node.get(key, store)

    def set(self, key: str, value: Any, store: str | None = None) -> None:
        """Set (or with None, delete) a node context value."""
        self._node.set(key, value, store)

    def keys(self, store: str | None = None) -> list[str]:
        """Node context keys."""
        return self._node.keys(store)

    def __getattr__(self, name: str) -> Any:
        if name == "global":
            return self.global_
        raise AttributeError(name)


class Env:
    """`env` in function code: ``env.get("NAME")`` looks the variable up as the node sees it."""

    __slots__ = ("_node",)

    def __init__(self, node: Node) -> None:
        self._node = node

    def get(self, name: str) -> Any:
        """The value of an environment variable (node, group, flow, global, process)."""
        return self._node.env(name)


class Function(Node):
    """Runs code for every message, like Node-RED's function node: JavaScript, or Python.

    `language` chooses: `"javascript"` (the default, also when the key is absent, so
    functions exported from Node-RED run unchanged) or `"python"`. The language is never
    guessed from the code.

    **JavaScript** runs in an embedded engine (QuickJS-ng) with Node-RED's function API:
    the code is the body of a function of `msg`, and sees `node` (`id`, `name`, `path`,
    `outputCount`, `send(msgs, clone=true)`, `done(err)`, `error(err, msg)`, `warn`,
    `log`, `debug`, `trace`, `status`, `on("close", fn)`), `context`/`flow`/`global`
    (`get`, `set`, `keys`, with a store name and an optional callback), `env.get(name)`,
    `RED.util` (`cloneMessage`, `getMessageProperty`, `setMessageProperty`,
    `generateId`), `util` (`format`, `inspect`, `promisify`), `Buffer`, `console`
    (to the node's log), and `setTimeout`/`setInterval`/`clearTimeout`/`clearInterval`
    (cleared when the node stops). `await` and Promises work. It returns a message, an
    array with one entry per output (an entry may be an array of messages, sent in
    order, or null), or null. Returned messages are sent as they are; `node.send(msg)`
    sends a copy unless called with `false`. On Start (`initialize`) may return a
    Promise: messages wait until it resolves. On Stop (`finalize`) runs when the node
    stops. A thrown error goes to catch nodes as Node-RED words it ("Error: x"; a
    ReferenceError with its line and column). Values keep their kind across: Buffer is
    bytes, Date a datetime, NaN and Infinity floats. `libs` (npm modules) cannot be
    loaded. An object read from context may be changed in place during the run that read
    it (it is written back at the end of that run), as in Node-RED.

    **Python** (`"language": "python"`) gives the same API in Python shape; see below.

    Code is compiled when the node is created: a syntax error is the node's
    configuration error, with line and column. `timeout` (seconds) bounds each run of
    the code; without one, the `functionTimeout` setting (default 1 s) does, since the
    whole runtime waits while code runs. A JavaScript context may use 64 MB.

    ### Python

    The code is the body of a function of `msg`. It sees `node` (`send(msg, clone=True)`,
    `done(err=None)`, `error(err, msg)`, `warn`, `log`, `status`, `id`, `name`,
    `outputCount`), `context` (`get`, `set`, `keys`, and `context.flow`,
    `context.global_`), `flow`, `global_` (also `globals()["global"]`), and `env`
    (`env.get("NAME")`).

    It returns a message (to output 1), a list with one entry per output (an entry may be
    a list of messages, sent in order, or None), or None to send nothing. Returned messages
    are sent as they are; `node.send(msg)` copies the first message unless called with
    `clone=False`. All of them get the input's `_msgid`. `outputs` sets the number of
    outputs. The message is complete when the code returns, or, if the code calls
    `node.done()`, when it does.

    Code that uses `await` runs as a coroutine (other messages are handled meanwhile);
    code without it is a plain, fast call. `initialize` runs once when the node starts
    (it may use `await`; names it defines are visible to `func`); `finalize` runs when
    the node stops. `libs` (`[{"var", "module"}]`) imports Python modules under those
    names.

    A syntax error, or an exception in `initialize`, stops the deploy with the node id and
    line number. An exception while handling a message is the node's error for that
    message (catch nodes receive it) and names the line of `func` where it happened;
    so is any BaseException (`sys.exit()`, `KeyboardInterrupt`, `CancelledError`): the
    code cannot end the process. An exception in `finalize` is logged.

    `timeout` (seconds) bounds each message: code still running after it is interrupted
    and the message fails with "timed out after N s" (with `await`, the whole
    coroutine is bounded). Without a `timeout`, code that runs for longer than the
    `functionTimeout` setting (default 1 s) without reaching an `await` is interrupted
    the same way, since the whole runtime waits while it runs: move long work into
    `await asyncio.to_thread(...)`, or give the node a `timeout`. The same limits apply
    to `initialize` and `finalize`. The code is trusted: it runs in the flowrt process.
    """

    type = "function"
    category = "function"
    color = "#fdd0a2"
    icon = "function"
    editor: ClassVar = {"label": "name", "outputsFrom": "outputs",
                        "order": ["language", "func", "outputs", "initialize", "finalize"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "language": string("javascript", enum=["javascript", "python"],
                           title="Language of the code",
                           **{"x-labels": {"javascript": "JavaScript", "python": "Python"}}),
        "func": string("\nreturn msg;", title="On Message", **_CODE),
        "outputs": integer(1, minimum=0, title="Outputs"),
        "timeout": number(0, minimum=0, allow_empty=True, title="Timeout (seconds)"),
        "noerr": integer(0, title="Syntax errors found by the editor", **{"x-hidden": True}),
        "initialize": string("", title="On Start", **_CODE),
        "finalize": string("", title="On Stop", **_CODE),
        "libs": {"type": "array", "default": [], "title": "Modules", "items": {
            "type": "object", "title": "Module", "properties": {
                "var": {"type": "string", "title": "Import as"},
                "module": {"type": "string", "title": "Module name"}}}},
    }}

    def __new__(cls, config: dict[str, Any], ctx: NodeContext) -> Function:
        # One node type, two languages: the runtime creates a Function, and gets the
        # class of the node's language.
        if cls is Function:
            language = config.get("language") or "javascript"
            if language == "python":
                cls = PythonFunction
            elif language == "javascript":
                cls = JavaScriptFunction
            else:
                raise FunctionError(f"language {language!r}: choose 'javascript' or 'python'")
        return super().__new__(cls)


class PythonFunction(Function):
    """A function node whose code is Python (``"language": "python"``)."""

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._filename = f"<function {self.id}>"
        self._filenames = (self._filename, self._script_filename("initialize"),
                           self._script_filename("finalize"))
        """What the code is compiled under: how tracebacks and the watchdog know it."""
        self._namespace: dict[str, Any] = {}
        self._func: Any = None
        self._uses_done = False
        self._finalize: Any = None
        self._watchdog = CodeWatchdog.for_this_thread()
        self._timeout = as_number(config.get("timeout"), 0.0) or 0.0
        """The node's own limit per message, in seconds (0: none)."""
        self._limit = self._timeout or ctx.settings.function_timeout
        """The longest the code may run without reaching an ``await`` (0: no limit)."""

    async def start(self) -> None:
        for filename in self._filenames:
            self._watchdog.watch(filename, self._limit, self)
        context = FunctionContext(self)
        namespace = self._namespace
        namespace.update({"__builtins__": builtins, "__name__": f"function_{self.id}",
                          "context": context, "flow": context.flow, "global_": context.global_,
                          "global": context.global_, "env": Env(self),
                          "node": FunctionNodeAPI(self, None),
                          # The builtin exit() would also close the process's stdin.
                          "exit": sys.exit, "quit": sys.exit})
        for lib in self.config.get("libs") or []:
            self._import(lib)
        func_source = str(self.config.get("func") or "")
        tree = self._parse(func_source, "func")
        is_async = _uses_await(tree)
        self._uses_done = _calls_done(tree)
        self._func = self._define(tree, is_async)
        if is_async:
            self.on_input = self._input_async  # type: ignore[method-assign]
        finalize = str(self.config.get("finalize") or "").strip()
        if finalize:
            self._finalize = self._compile_script(finalize, "finalize")
        initialize = str(self.config.get("initialize") or "").strip()
        if initialize:
            code = self._compile_script(initialize, "initialize")
            try:
                await self._run_script(code)
            except BaseException as exc:
                if _cancelled_from_outside(exc):
                    raise
                raise FunctionError(f"initialize: {self.describe_error(exc)}") from exc

    def _import(self, lib: Any) -> None:
        if not isinstance(lib, dict) or not lib.get("var") or not lib.get("module"):
            raise FunctionError(f"libs entry {lib!r} needs 'var' and 'module'")
        if not str(lib["var"]).isidentifier():
            raise FunctionError(f"libs: invalid variable name {lib['var']!r}")
        try:
            self._namespace[lib["var"]] = importlib.import_module(lib["module"])
        except ImportError as exc:
            raise FunctionError(f"libs: module {lib['module']!r} missing: {exc}") from None

    # ------------------------------------------------------------- compiling
    def _parse(self, source: str, kind: str) -> ast.Module:
        try:
            return ast.parse(source, self._filename)
        except SyntaxError as exc:
            raise FunctionError(f"{kind}: syntax error at line {exc.lineno}: {exc.msg}") from None

    def _define(self, tree: ast.Module, is_async: bool) -> Any:
        kind = ast.AsyncFunctionDef if is_async else ast.FunctionDef
        args = ast.arguments(posonlyargs=[], args=[ast.arg("msg"), ast.arg("node")],
                             kwonlyargs=[], kw_defaults=[], defaults=[])
        func = kind(name=_FUNCTION_NAME, args=args, body=tree.body or [ast.Pass()],
                    decorator_list=[], lineno=1, col_offset=0)
        module = ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[]))
        try:
            code = compile(module, self._filename, "exec")
        except SyntaxError as exc:
            raise FunctionError(f"func: syntax error at line {exc.lineno}: {exc.msg}") from None
        exec(code, self._namespace)
        return self._namespace.pop(_FUNCTION_NAME)

    def _compile_script(self, source: str, kind: str) -> Any:
        try:
            return compile(source, self._script_filename(kind), "exec",
                           flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as exc:
            raise FunctionError(f"{kind}: syntax error at line {exc.lineno}: {exc.msg}") from None

    def _script_filename(self, kind: str) -> str:
        return f"<function {self.id} {kind}>"

    def describe_error(self, exc: BaseException) -> str:
        """``Type: message (line n)``, n being the deepest line of the user's code;
        for an interruption, why (``timed out after 1 s (line n)``)."""
        line = self._code_line(exc)
        if isinstance(exc, CodeInterrupted):
            text = str(exc)
        else:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if line is not None:
            text = f"{text} (line {line})"
        if isinstance(exc, CodeInterrupted) and exc.limit is not None and not self._timeout:
            text += "; the limit is the functionTimeout setting: give the node a timeout"
        return text

    def _code_line(self, exc: BaseException) -> int | None:
        """The deepest line of the user's code in ``exc``'s traceback, or in that of its
        cause (a timeout is raised from the cancellation that ended the code)."""
        cause: BaseException | None = exc
        while cause is not None:
            line = None
            tb = cause.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename in self._filenames:
                    line = tb.tb_lineno
                tb = tb.tb_next
            if line is not None:
                return line
            cause = cause.__cause__
        return None

    # ------------------------------------------------------------- running code
    async def _run_script(self, code: Any) -> None:
        """Run compiled ``initialize`` or ``finalize`` code (it may ``await``)."""
        result = eval(code, self._namespace)
        if result is not None:
            await self._bounded(result)

    def _bounded(self, coro: Coroutine[Any, Any, Any]) -> Awaitable[Any]:
        """The code's coroutine to await, within the node's ``timeout`` if it has one.
        A plain call, not a coroutine: no extra frame per message without a timeout."""
        if not self._timeout:
            return coro
        # asyncio.timeout needs a task, and the first step of a message runs outside one.
        return self.create_task(self._within_timeout(coro))

    async def _within_timeout(self, coro: Coroutine[Any, Any, Any]) -> Any:
        scope = asyncio.timeout(self._timeout)
        try:
            async with scope:
                return await coro
        except TimeoutError as exc:
            if scope.expired():
                raise CodeInterrupted(f"timed out after {self._timeout:g} s",
                                      self._timeout) from exc.__cause__
            raise

    def _message_error(self, exc: BaseException, msgid: str | None) -> NodeError:
        return NodeError(self.describe_error(exc), node_id=self.id, node_type=self.type,
                         msg_id=msgid)

    # ------------------------------------------------------------- messages
    def on_input(self, msg: Message) -> Awaitable[Any] | None:
        msgid = msg.get("_msgid")
        done = asyncio.get_running_loop().create_future() if self._uses_done else None
        try:
            results = self._func(msg, FunctionNodeAPI(self, msgid, done))
        except BaseException as exc:
            raise self._message_error(exc, msgid) from exc
        if results is not None:
            self.send_results(results, msgid, False)
        return done

    async def _input_async(self, msg: Message) -> None:
        msgid = msg.get("_msgid")
        done = asyncio.get_running_loop().create_future() if self._uses_done else None
        try:
            results = await self._bounded(self._func(msg, FunctionNodeAPI(self, msgid, done)))
        except BaseException as exc:
            if _cancelled_from_outside(exc):
                raise
            raise self._message_error(exc, msgid) from exc
        if results is not None:
            self.send_results(results, msgid, False)
        if done is not None:
            await done

    def send_results(self, results: Any, msgid: str | None, clone_first: bool) -> None:
        """Send what the code returned or passed to ``node.send`` (Node-RED's rules)."""
        if type(results) is dict and not clone_first:
            results["_msgid"] = msgid or results.get("_msgid") or new_msgid()
            self.send(results)
            return
        if not isinstance(results, list | tuple):
            results = [results]
        outputs: list[Any] = []
        count = 0
        for entry in results:
            if entry is None:
                outputs.append(None)
                continue
            group = []
            for one in entry if isinstance(entry, list | tuple) else (entry,):
                if one is None:
                    continue
                if not isinstance(one, dict):
                    self.error(f"Function tried to send a message of type {type(one).__name__}")
                    continue
                if count == 0 and clone_first:
                    one = clone_message(one)
                one["_msgid"] = msgid or one.get("_msgid") or new_msgid()
                count += 1
                group.append(one)
            outputs.append(group)
        if count:
            self.send(outputs)

    async def close(self, removed: bool) -> None:
        try:
            if self._finalize is not None:
                await self._finalize_code()
        finally:
            for filename in self._filenames:
                self._watchdog.forget(filename, self)

    async def _finalize_code(self) -> None:
        self._namespace["node"] = _ClosingNodeAPI(self, None)
        try:
            await self._run_script(self._finalize)
        except BaseException as exc:
            if _cancelled_from_outside(exc):
                raise
            self.error(f"finalize: {self.describe_error(exc)}")


_NOT_DONE: Any = object()
MAX_WAITING = 10_000
"""Messages a JavaScript function node holds while its On Start code has not finished;
more are dropped, each reported as its error (Node-RED would hold them all)."""


class JavaScriptFunction(Function):
    """A function node whose code is JavaScript (the default); see :class:`Function`.

    The code runs in the node's own engine context (``flowrt.javascript``), compiled
    here, when the node is created. A message costs one call into the engine, which
    returns everything the code did (sends, status, logs, done) in one outbox.
    """

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        for lib in config.get("libs") or []:
            module = lib.get("module") if isinstance(lib, dict) else lib
            if module or (isinstance(lib, dict) and lib.get("var")):
                raise FunctionError(
                    f"libs: module {module!r} cannot be loaded: flowrt runs JavaScript "
                    "function nodes without npm modules (remove it from the node's "
                    "Setup tab, or write the node in Python with \"language\": \"python\")")
        self._timeout = as_number(config.get("timeout"), 0.0) or 0.0
        limit = self._timeout or ctx.settings.function_timeout
        code = {kind: str(config.get(kind) or "") for kind in ("func", "initialize", "finalize")}
        info = {"id": self.id, "name": self.name, "path": f"{ctx.flow.path}/{self.id}",
                "outputCount": self.output_count}
        try:
            self._sandbox = FunctionSandbox(code, info, self, limit)
        except JsCompileError as exc:
            raise FunctionError(str(exc)) from None
        self._timers: dict[int, tuple[TimerHandle, float | None]] = {}
        self._token = 0
        self._current = -1
        self._current_result: Any = _NOT_DONE
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._waiting: list[tuple[Message, asyncio.Future[None]]] | None = None
        """Messages that arrived before On Start finished (None: it has)."""
        self._init_error: str | None = None
        self._status_used = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if not self._sandbox.has["initialize"]:
            return
        self._waiting = []
        try:
            entries = self._sandbox.initialize()
        except JsError as exc:
            raise FunctionError(f"initialize: {self._error_text(exc)}") from None
        self._apply(entries)
        if self._init_error is not None:
            raise FunctionError(f"initialize: {self._init_error}")

    async def close(self, removed: bool) -> None:
        for handle, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._run(self._sandbox.close, removed)
        for handle, _ in self._timers.values():  # set by the On Stop code itself
            handle.cancel()
        self._timers.clear()
        if self._status_used:
            self.status({})
        self._pending.clear()

    # ------------------------------------------------------------------ messages
    def on_input(self, msg: Message) -> Awaitable[Any] | None:
        if self._waiting is not None:
            if len(self._waiting) >= MAX_WAITING:
                raise NodeError(f"On Start has not finished and {MAX_WAITING} messages wait: "
                                "message dropped", node_id=self.id, node_type=self.type,
                                msg_id=msg.get("_msgid"))
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((msg, future))
            return future
        if self._init_error is not None:
            raise NodeError(f"initialize failed: {self._init_error}", node_id=self.id,
                            node_type=self.type, msg_id=msg.get("_msgid"))
        token = self._token = (self._token + 1) & 0x3FFFFFFF
        self._current = token
        self._current_result = _NOT_DONE
        try:
            entries = self._sandbox.input(msg, token)
        except JsError as exc:
            self._current = -1
            self._apply(self._sandbox.pending)
            raise NodeError(self._error_text(exc), node_id=self.id, node_type=self.type,
                            msg_id=msg.get("_msgid")) from None
        self._apply(entries)
        self._current = -1
        result = self._current_result
        if result is None:
            return None
        if result is _NOT_DONE:
            future = asyncio.get_running_loop().create_future()
            self._pending[token] = future
            return future
        raise NodeError(result, node_id=self.id, node_type=self.type, msg_id=msg.get("_msgid"))

    def _error_text(self, exc: JsError) -> str:
        if isinstance(exc, JsTimeout):
            # Node-RED's words for a function that ran out of time.
            text = f"Error: Script execution timed out after {round(self._sandbox.limit * 1000)}ms"
            if not self._timeout:
                text += "; the limit is the functionTimeout setting: give the node a timeout"
            return text
        return str(exc)

    def _run(self, entry: Any, *args: Any) -> None:
        """Run an entry outside a message (a timer, On Stop): errors are the node's."""
        try:
            entries = entry(*args)
        except JsError as exc:
            self._apply(self._sandbox.pending)
            self.error(self._error_text(exc))
            return
        self._apply(entries)

    def _apply(self, entries: list[Entry]) -> None:
        """Act on what the code did, in order."""
        for entry in entries:
            kind = entry[0]
            if kind == "s":
                outputs = entry[1]
                if len(outputs) == 1 and len(outputs[0]) == 1:
                    self.send(outputs[0][0])
                else:
                    self.send(outputs)
            elif kind == "d":
                self._done(entry[1], entry[2])
            elif kind == "st":
                self._status_used = True
                self.status(entry[1])
            elif kind == "l":
                self._log(entry[1], entry[2])
            elif kind == "c":
                self.log.log(_CONSOLE_LEVELS.get(entry[1], logging.INFO), "%s", entry[2])
            elif kind == "e":
                self.error(entry[1], entry[2] if isinstance(entry[2], dict) else None)
            elif kind == "i":
                self._initialized(entry[1])

    def _log(self, level: str, text: str) -> None:
        if level == "warn":
            self.warn(text)
        elif level == "error":
            self.error(text)
        elif level == "info":
            self.log.info("%s", text)
        else:
            self.log.debug("%s", text)

    def _done(self, token: int, err: str | None) -> None:
        if token == self._current:
            self._current_result = err
            return
        future = self._pending.pop(token, None)
        if future is None or future.done():
            return
        if err is None:
            future.set_result(None)
        else:
            future.set_exception(NodeError(err, node_id=self.id, node_type=self.type))

    def _initialized(self, err: str | None) -> None:
        waiting, self._waiting = self._waiting or [], None
        if err is not None:
            self._init_error = err
            if waiting or self.received:
                self.error(f"initialize: {err}")
        for msg, future in waiting:
            try:
                result = self.on_input(msg)
            except Exception as exc:
                future.set_exception(exc)
                continue
            if result is None:
                future.set_result(None)
            else:
                _chain(result, future)

    # ------------------------------------------------------------------ host calls
    def context_call(self, scope: str, op: str, store: str | None, args: list[Any]) -> Any:
        """The code's ``context``/``flow``/``global`` ``get``, ``set`` (answers the key's
        new generation) or ``keys``; and the sandbox's ``hold`` (``[key, generation it
        holds]``: ``[generation]`` while that is current, else ``[generation, value]``)
        and ``patch`` (``[key, generation, changes]``: see ``_apply_changes``)."""
        target = (self.context if scope == "node" else
                  self.ctx.flow_context if scope == "flow" else self.ctx.global_context)
        if op == "keys":
            return target.keys(store)
        key = args[0]
        if op == "hold":
            generation = target.generation(key, store)
            if generation == args[1]:
                return [generation]
            return [generation, _undefined_if_none(target.get(key, store))]
        if op == "patch":
            return self._apply_changes(target, key, store, args[1], args[2])
        if op == "get":
            if isinstance(key, list):
                return [_undefined_if_none(target.get(k, store)) for k in key]
            return _undefined_if_none(target.get(key, store))
        value = args[1]
        if isinstance(key, list):
            values = value if isinstance(value, list) else [value]
            for index, one in enumerate(key):
                target.set(one, values[index] if index < len(values) else None, store)
            return None
        target.set(key, value, store)
        return target.generation(key, store)

    def _apply_changes(self, target: Context, key: str, store: str | None, generation: int,
                       changes: list[list[Any]]) -> int:
        """Apply the changes a sandbox made to the object it holds at ``key``: each
        ``["s", path, value]`` or ``["d", path]``, a path of object keys from that object (the
        empty path: the object itself). Returns the key's new generation, or -1 when
        somebody set the key since the sandbox fetched it: its changes went to an object the
        store no longer has (as they would in Node-RED), or the object no longer fits them."""
        if target.generation(key, store) != generation:
            return -1
        for op, path, *value in changes:
            if not path:
                target.set(key, value[0] if op == "s" else None, store)
                continue
            holder = target.get(key, store)
            for step in path[:-1]:
                holder = holder.get(step) if isinstance(holder, dict) else None
            if not isinstance(holder, dict):
                self.warn(f"context {key!r} no longer has {'.'.join(map(str, path[:-1]))}: "
                          "the changes the code made to it there are lost")
                return -1
            if op == "s":
                holder[path[-1]] = value[0]
            else:
                holder.pop(path[-1], None)
        return target.changed_in_place(key, store)

    def env_value(self, name: str) -> Any:
        """``env.get(name)``: undefined when the variable is not set."""
        return _undefined_if_none(self.env(name))

    def timer(self, op: str, timer_id: int, delay_ms: float) -> None:
        """Schedule (``once``/``every``) or cancel (``clear``) one of the code's timers."""
        if op == "clear":
            found = self._timers.pop(timer_id, None)
            if found is not None:
                found[0].cancel()
            return
        delay = max(0.0, float(delay_ms)) / 1000
        if op == "every":
            delay = max(delay, 0.001)  # as Node.js: an interval of 0 would never yield
        handle = self.clock.call_later(delay, self._fire, timer_id)
        self._timers[timer_id] = (handle, delay if op == "every" else None)

    def _fire(self, timer_id: int) -> None:
        found = self._timers.get(timer_id)
        if found is None:
            return
        interval = found[1]
        if interval is None:
            del self._timers[timer_id]
        else:
            # Rescheduled first: the callback may clear it.
            self._timers[timer_id] = (self.clock.call_later(interval, self._fire, timer_id),
                                      interval)
        self._run(self._sandbox.fire, timer_id)

    def metrics(self) -> dict[str, float]:
        return {"javascript_heap_bytes": self._sandbox.memory}


_CONSOLE_LEVELS = {"info": logging.INFO, "debug": logging.DEBUG, "warn": logging.WARNING,
                   "error": logging.ERROR}


def _undefined_if_none(value: Any) -> Any:
    # flowrt's context and env answer None for what is not there; JavaScript code tells
    # undefined (missing) from null.
    return MISSING if value is None else value


def _chain(source: Awaitable[Any], target: asyncio.Future[None]) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif (exc := done.exception()) is not None:
            target.set_exception(exc)
        else:
            target.set_result(None)

    asyncio.ensure_future(source).add_done_callback(copy)


def _cancelled_from_outside(exc: BaseException) -> bool:
    """True when ``exc`` cancels the task running the code (the node is closing), as
    opposed to the code raising ``CancelledError`` itself."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _uses_await(tree: ast.AST) -> bool:
    """True when the code awaits outside any nested function of its own."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Await | ast.AsyncFor | ast.AsyncWith):
            return True
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(item, ast.comprehension) and item.is_async:
            return True
        stack.extend(ast.iter_child_nodes(item))
    return False


def _calls_done(tree: ast.AST) -> bool:
    """True when the code calls ``node.done(...)`` (then it decides when a message is done)."""
    return any(isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute)
               and item.func.attr == "done" and isinstance(item.func.value, ast.Name)
               and item.func.value.id == "node" for item in ast.walk(tree))
