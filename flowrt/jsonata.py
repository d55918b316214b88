"""JSONata expressions, prepared and evaluated the way Node-RED does.

:class:`JSONataExpression` is Node-RED's ``prepareJSONataExpression`` plus
``evaluateJSONataExpression`` over the ``jsonata-python`` library:

- **Compiled once**, when the node is created: a syntax error raises
  :class:`JSONataError` from the node's constructor, naming the node, where the
  expression sits in its configuration and the expression itself.
- **Bindings** registered once per expression, as Node-RED registers them:
  ``$flowContext(key[, store])``, ``$globalContext(key[, store])``, ``$env(name)``
  (an unknown name gives ``""``), ``$moment(...)`` (see :mod:`flowrt.moment` for the
  subset), ``$clone(value)``; ``$millis()`` and ``$now([picture[, timezone]])`` read the
  runtime's clock (so a FakeClock drives them), one instant per evaluation.
- **Legacy mode**: an expression that mentions ``msg`` as a name (``msg.payload``) is
  evaluated against ``{"msg": msg}``, any other against ``msg`` itself.
- **Results**: a one-element sequence is unwrapped (the library does it); JSONata's
  ``undefined`` is returned as the caller's ``default`` (``MISSING`` = "no value", so
  that a change node deletes its target, as Node-RED's ``setMessageProperty`` does
  with ``undefined``); a key whose value is undefined is absent from a constructed
  object; JSON ``null`` is ``None``; a ``$moment`` value becomes its ISO text, as
  ``JSON.stringify`` would write it.
- **Errors** while evaluating raise :class:`JSONataEvaluationError` (a
  :class:`JSONataError` and a :class:`~flowrt.errors.NodeError`) with the same text as
  compile errors (node, place, message, expression); nodes report it as the error of
  the message being handled, so ``catch`` nodes receive that text. Both carry the
  library's bare ``reason`` and the character ``position`` it names, for the editor's
  expression tester (:mod:`flowrt.jsonata_tester`).

An expression belongs to a node, or to anything shaped like one
(:class:`ExpressionOwner`: the tester's stand-in).

Per-message cost is one library evaluation plus a few attribute writes: the AST, the
bindings and the legacy-mode decision are all made once. The simplest expressions
(field arithmetic and comparisons, the bulk of real flows) skip the library through
:mod:`flowrt.jsonata_fastpath`, which gives the library's exact result or defers to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from jsonata import JException, Jsonata
from jsonata.functions import Functions
from jsonata.utils import Utils

from flowrt.errors import ConfigError, NodeError
from flowrt.jsonata_fastpath import UNDEFINED, Fallback, compile_fast
from flowrt.jsvalue import MISSING
from flowrt.messages import clone_value
from flowrt.moment import Moment, moment_binding

if TYPE_CHECKING:
    from flowrt.clock import Clock

__all__ = ["ExpressionOwner", "JSONataError", "JSONataEvaluationError", "JSONataExpression",
           "uses_legacy_msg"]

# Node-RED's test for "this expression refers to msg": a name `msg` not part of a
# longer name, a quoted string or a path step.
_LEGACY_MSG = re.compile(r"""(^|[^a-zA-Z0-9_'".])msg([^a-zA-Z0-9_'"]|$)""")
_NULL = Utils.NULL_VALUE
_CURRENT = Jsonata.CURRENT
_SCALARS = (str, int, float, bool)


class ContextReader(Protocol):
    """A context scope as ``$flowContext`` / ``$globalContext`` read it."""

    def get(self, key: str, store: str | None = None) -> Any:
        """The value at ``key`` in ``store`` (the default store when None)."""


class OwnerScopes(Protocol):
    """The context scopes an expression's owner reads (a node's ``ctx``)."""

    @property
    def flow_context(self) -> ContextReader:
        """The owner's flow context."""

    @property
    def global_context(self) -> ContextReader:
        """The global context."""


class ExpressionOwner(Protocol):
    """What an expression needs from its node (every :class:`~flowrt.node.Node` is one):
    ``type`` and ``id`` for error messages, the clock of ``$now``/``$millis``, and the
    lookups of ``$flowContext``, ``$globalContext`` and ``$env``."""

    type: ClassVar[str]
    id: str
    clock: Clock

    @property
    def ctx(self) -> OwnerScopes:
        """The owner's context scopes."""

    def env(self, name: str) -> Any:
        """An environment variable as the owner sees it."""


class JSONataError(ConfigError):
    """A JSONata expression that does not compile, or failed to evaluate.

    A ``ValueError``, as :class:`~flowrt.typed_input.TypedInputError` is: a node that
    compiles its typed inputs in its constructor fails the same way for both.

    ``expression`` is the expression text, ``where`` its place in the node's
    configuration (``"rule 2"``), ``code`` JSONata's error code (``"S0202"``) when the
    library gave one, ``reason`` the library's own words (the message without the
    node, place and expression) and ``position`` the character of ``expression`` it
    points at (0-based; None when it names none).
    """

    def __init__(self, message: str, *, expression: str, where: str,
                 code: str | None = None, reason: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.where = where
        self.code = code
        self.reason = message if reason is None else reason
        self.position = position


class JSONataEvaluationError(JSONataError, NodeError):
    """A JSONata expression failed for one message; its text is that message's error
    (``msg.error.message`` at a ``catch`` node), worded as at compile time."""

    def __init__(self, message: str, *, expression: str, where: str, code: str | None,
                 node_id: str, node_type: str, reason: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message, expression=expression, where=where, code=code,
                         reason=reason, position=position)
        self.node_id = node_id
        self.node_type = node_type
        self.msg_id = None


def uses_legacy_msg(text: str) -> bool:
    """True when Node-RED evaluates ``text`` against ``{"msg": msg}`` (it names ``msg``)."""
    return _LEGACY_MSG.search(text) is not None


def _describe(exc: BaseException) -> tuple[str, str | None]:
    """The library's exception as ``(message, code)``."""
    if isinstance(exc, JException):
        return str(exc), getattr(exc, "error", None)
    if isinstance(exc, ZeroDivisionError):
        # JavaScript gives Infinity, which JSONata refuses as a result.
        return "Number out of range: division by zero", "D1001"
    if isinstance(exc, RecursionError):
        return "Stack overflow: the expression recurses too deeply", "D1011"
    return f"{type(exc).__name__}: {exc}", None


def _position(exc: BaseException) -> int | None:
    """The character an exception of the library points at, if it names one."""
    position = getattr(exc, "location", -1)
    return position if isinstance(position, int) and position >= 0 else None


def _located(message: str, code: str | None, position: int | None) -> str:
    """``message`` with the character a syntax error points at: it helps find it."""
    if code and code.startswith("S0") and position is not None:
        return f"{message} (at character {position})"
    return message


class JSONataExpression:
    """One JSONata expression of a node, compiled once, evaluated per message.

    ``where`` names the expression's place in the node's configuration for error
    messages (``"rule 2"``, ``"property"``, ``"reduceExp"``). Raises
    :class:`JSONataError` when ``text`` does not compile.
    """

    __slots__ = ("_expr", "_fast", "_now_ms", "_prefix", "clock", "legacy", "node", "text",
                 "where")

    def __init__(self, text: str, node: ExpressionOwner, where: str) -> None:
        self.text = text
        self.node = node
        self.where = where
        self.clock = node.clock
        self._prefix = f"JSONata error in {where} of {type(node).type} node {node.id}"
        self._now_ms: int | None = None
        if not text.strip():
            raise self._error("the expression is empty", None, None)
        try:
            expr = Jsonata(text)
        except JException as exc:
            message, code = _describe(exc)
            raise self._error(message, code, _position(exc)) from None
        except Exception as exc:
            # The parser trips over some malformed input (a lone "/" starts a regex and
            # runs off the end): still a syntax error, and named as one.
            raise self._error(f"Syntax error ({type(exc).__name__}: {exc})", None,
                              None) from None
        # Node-RED's objects hold Buffers, Dates and the like: validating the input
        # as pure JSON would refuse them (and costs a walk of the message each time).
        expr.set_validate_input(False)
        # Keep JSONata's null apart from undefined; :meth:`_result` converts.
        expr.set_output_convert_nulls(False)
        self._expr = expr
        self.legacy = uses_legacy_msg(text)
        self._bind(expr)
        self._fast = compile_fast(expr.ast)

    def _error(self, message: str, code: str | None, position: int | None) -> JSONataError:
        return JSONataError(f"{self._prefix}: {_located(message, code, position)} "
                            f"in {self.text!r}",
                            expression=self.text, where=self.where, code=code,
                            reason=message, position=position)

    # ---------------------------------------------------------------- bindings
    def _bind(self, expr: Jsonata) -> None:
        node = self.node
        flow, global_ = node.ctx.flow_context, node.ctx.global_context

        def flow_context(key: Any = None, store: Any = None) -> Any:
            return flow.get(_context_key(key), store if isinstance(store, str) else None)

        def global_context(key: Any = None, store: Any = None) -> Any:
            return global_.get(_context_key(key), store if isinstance(store, str) else None)

        def env(name: Any = None) -> Any:
            value = node.env(name) if isinstance(name, str) else None
            return "" if value is None else value

        expr.register_lambda("flowContext", flow_context)
        expr.register_lambda("globalContext", global_context)
        expr.register_lambda("env", env)
        expr.register_lambda("moment", moment_binding(self._now))
        expr.register_function("clone", Jsonata.JFunction(
            Jsonata.JLambda(clone_value), "<(oa)-:o>"))
        expr.register_function("millis", Jsonata.JFunction(Jsonata.JLambda(self._now), "<:n>"))
        expr.register_function("now", Jsonata.JFunction(Jsonata.JLambda(self._now_text),
                                                        "<s?s?:s>"))
        _guard_unknown_functions(expr)
        # The library looks these two hooks up for every AST node it evaluates, walking
        # up to its global frame; a None found here ends that walk one frame earlier.
        expr.assign("__evaluate_entry", None)
        expr.assign("__evaluate_exit", None)

    def _now(self) -> int:
        """The evaluation's instant in ms on the runtime's clock (the same all through
        one evaluation, as JSONata specifies for ``$now``/``$millis``)."""
        if self._now_ms is None:
            self._now_ms = int(self.clock.time() * 1000)
        return self._now_ms

    def _now_text(self, picture: str | None = None, timezone: str | None = None) -> str | None:
        return Functions.datetime_from_millis(self._now(), picture, timezone)

    # -------------------------------------------------------------- evaluating
    def evaluate(self, msg: Any, default: Any = MISSING,
                 bindings: Mapping[str, Any] | None = None) -> Any:
        """The expression's value for ``msg`` (``default`` when it is undefined).

        ``msg`` is usually a message, but may be any value: a sort by element evaluates
        against each array element, and a reduce fix-up against ``{}``. ``bindings``
        adds variables for this evaluation only (``{"A": acc}`` is ``$A``: join's
        reduce mode; ``$I``/``$N`` for a switch rule in a sequence). Raises
        :class:`JSONataEvaluationError` when evaluation fails.
        """
        fast = self._fast
        if fast is not None:
            try:
                value = fast({"msg": msg} if self.legacy else msg)
            except Fallback:
                pass  # the library gives this input's exact value or error
            else:
                return default if value is UNDEFINED else value
        self._now_ms = None
        expr = self._expr
        # The library evaluates on its "current" instance (a thread-local set by the
        # last compile): make that this expression, or $eval and friends see another's.
        _CURRENT.jsonata = expr
        try:
            result = expr.evaluate({"msg": msg} if self.legacy else msg, bindings)
        except Exception as exc:
            message, code = _describe(exc)
            position = _position(exc)
            raise JSONataEvaluationError(
                f"{self._prefix}: {_located(message, code, position)} in {self.text!r}",
                expression=self.text, where=self.where, code=code, node_id=self.node.id,
                node_type=type(self.node).type, reason=message, position=position) from None
        if result is None:
            return default
        return _result(result)

    def getter(self) -> Callable[..., Any]:
        """``get(msg=None, default=None)``: the typed-input shape of :meth:`evaluate`."""
        evaluate = self.evaluate

        def get(msg: Any = None, default: Any = None) -> Any:
            return evaluate({} if msg is None else msg, default)

        return get

    def __repr__(self) -> str:
        return f"JSONataExpression({self.text!r})"


def _guard_unknown_functions(expr: Jsonata) -> None:
    """Bind every ``$name(...)`` the expression calls but nothing defines to a function
    that raises JSONata's own error (T1006, "Attempted to invoke a non-function").

    The library prints "Proc not found" to standard output before raising that error;
    with the guard it raises it without the print. A binding made while evaluating (a
    ``$name := ...`` in the expression, or ``$A`` from a join) sits in an inner frame
    and still wins, so nothing changes but the print.
    """
    for name in _called_names(expr.ast, set()):
        if expr.environment.lookup(name) is None:
            expr.register_function(name, Jsonata.JFunction(_NotAFunction(name), None))


def _called_names(symbol: Any, seen: set[int]) -> set[str]:
    names: set[str] = set()
    stack = [symbol]
    while stack:
        node = stack.pop()
        if id(node) in seen or not hasattr(node, "type"):
            continue
        seen.add(id(node))
        procedure: Any = getattr(node, "procedure", None)
        name = getattr(procedure, "value", None)
        if node.type in ("function", "partial") and isinstance(name, str) and \
                getattr(procedure, "type", None) == "variable":
            names.add(name)
        for value in vars(node).values():
            if isinstance(value, list):
                stack.extend(value)
            elif hasattr(value, "type") and value is not node:
                stack.append(value)
    return names


class _NotAFunction(Jsonata.JFunctionCallable):
    """What an undefined ``$name(...)`` calls: JSONata's T1006 error."""

    def __init__(self, name: str) -> None:
        self.name = name

    def call(self, input: Any, args: Any) -> Any:
        raise JException("T1006", -1)


def _context_key(key: Any) -> str:
    if not isinstance(key, str):
        raise ValueError(f"context key must be a string, not {key!r}")
    return key


def _result(value: Any) -> Any:
    """A library result as flowrt holds values: null → None, sequences → lists, a
    ``$moment`` value → its ISO text (JSON's view of a moment)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if value is _NULL:
        return None
    if isinstance(value, Moment):
        return value.to_json()
    if isinstance(value, dict):
        for key, item in value.items():
            if type(item) not in _SCALARS:
                value[key] = _result(item)
        return value
    if isinstance(value, list):
        items = [item if type(item) in _SCALARS else _result(item) for item in value]
        return items if cls is not list else _replace(value, items)
    return value


def _replace(target: list[Any], items: list[Any]) -> list[Any]:
    # A plain list may be the message's own array: keep it the same object.
    target[:] = items
    return target
