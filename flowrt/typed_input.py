"""Node-RED "typed inputs": a value plus the type that says how to evaluate it.

A typed input is a config value and its type (``{"v": "42", "vt": "num"}``,
``"to"``/``"tot"``, ``"payload"``/``"payloadType"``...). :class:`TypedValue`
compiles one once, when its node starts, and evaluates it per message with
``get(msg)``: constants are computed once, ``msg``/``flow``/``global`` values are
looked up each time.

Types: ``str num bool json bin re date msg flow global env jsonata`` (Node-RED's
``evaluateNodeProperty``). Each type's evaluator is in :data:`EVALUATORS`, and
:func:`evaluator_for` is the one place one is looked up. A ``jsonata`` value is
compiled once by :class:`flowrt.jsonata.JSONataExpression` (a syntax error raises
:class:`~flowrt.jsonata.JSONataError`, a ``ValueError`` as :class:`TypedInputError` is)
and evaluated against each message as Node-RED does; an undefined result is ``default``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from flowrt.dateformat import format_date
from flowrt.errors import ConfigError
from flowrt.jsregex import js_regex
from flowrt.jsvalue import MISSING, iso_timestamp, js_number, js_string
from flowrt.messages import IMMUTABLE_TYPES, clone_value, get_message_property, property_getter

if TYPE_CHECKING:
    from flowrt.context import Context
    from flowrt.node import Node

Getter = Callable[..., Any]
"""An evaluated typed input: ``get(msg=None, default=None)`` → its value for ``msg``
(``default`` when a ``msg``/``flow``/``global`` property is missing)."""
Evaluator = Callable[["Node", Any, str], Getter]
"""Compiles a typed input: ``(node, value, what) -> Getter``; ``what`` names the value
in errors. Raises :class:`TypedInputError` for a value that can never be evaluated."""


class TypedInputError(ConfigError):
    """A typed input that cannot be compiled (bad JSON, bad regex, unsupported type)."""


class TypedValue:
    """One typed-input value of a node, compiled once; ``get(msg)`` evaluates it.

    ``what`` names the value in error messages (``"rule 2 'to'"``). Raises
    :class:`TypedInputError` for a value that can never be evaluated: bad JSON or
    regex, a JSONata expression that does not compile, an unknown type. Compile it in
    the node's constructor, so that such an error names the node at creation.
    """

    __slots__ = ("get", "is_constant", "raw", "type")

    def __init__(self, node: Node, value: Any, vtype: str | None, what: str) -> None:
        self.raw = value
        self.type = vtype = vtype or "str"
        self.is_constant = vtype in CONSTANT_TYPES
        self.get: Getter = evaluator_for(vtype, value, what)(node, value, what)


def evaluator_for(vtype: str, value: Any, what: str) -> Evaluator:
    """The evaluator of typed-input type ``vtype`` (see :data:`EVALUATORS`); ``value``
    and ``what`` only name the value when the type is not supported."""
    evaluator = EVALUATORS.get(vtype)
    if evaluator is not None:
        return evaluator
    raise TypedInputError(f"{what}: unknown value type {vtype!r}; "
                          f"expected one of {', '.join(EVALUATORS)}")


# ------------------------------------------------------------------ constants
def _constant(convert: Callable[[Node, Any, str], Any]) -> Evaluator:
    """An evaluator for a type whose value does not depend on the message."""
    def compile_constant(node: Node, value: Any, what: str) -> Getter:
        constant = convert(node, value, what)
        if type(constant) in IMMUTABLE_TYPES or isinstance(constant, re.Pattern):
            return lambda msg=None, default=None: constant
        # Each message gets its own copy of a JSON object or array.
        return lambda msg=None, default=None: clone_value(constant)
    return compile_constant


def _string(node: Node, value: Any, what: str) -> str:
    return js_string(MISSING if value is None else value)


def _number(node: Node, value: Any, what: str) -> int | float:
    return js_number(value)


def _boolean(node: Node, value: Any, what: str) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _json(node: Node, value: Any, what: str) -> Any:
    """Parse JSON text (or pass through an already-parsed value)."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise TypedInputError(f"{what}: invalid JSON {_short(value)}: {exc}") from None


def _buffer(node: Node, value: Any, what: str) -> bytes:
    data = _json(node, value, what)
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, list):
        try:
            return bytes(int(v) & 0xFF for v in data)
        except (TypeError, ValueError):
            pass
    raise TypedInputError(f"{what}: buffer data must be a JSON string or array of bytes")


def _regex(node: Node, value: Any, what: str) -> re.Pattern[str]:
    try:
        return js_regex(js_string(value))
    except re.error as exc:
        raise TypedInputError(f"{what}: invalid regular expression "
                              f"{_short(value)}: {exc}") from None


def _env(node: Node, value: Any, what: str) -> Any:
    """Node-RED's ``env`` typed input: ``${X}``, a bare ``X``, or ``a${X}b`` (all replaced).

    Unset variables give ``""``.
    """
    text = js_string(value)
    whole = re.fullmatch(r"\$\{([^}]+)\}", text)
    if whole or "${" not in text:
        found = node.env(whole.group(1) if whole else text)
        return "" if found is None else found
    return re.sub(r"\$\{([^}]+)\}",
                  lambda m: js_string(found) if (found := node.env(m.group(1))) is not None
                  else "", text)


def _short(text: Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


# ---------------------------------------------------------- message and context
def _message(node: Node, value: Any, what: str) -> Getter:
    try:
        return property_getter(js_string("" if value is None else value))
    except ValueError as exc:
        raise TypedInputError(f"{what}: {exc}") from None


def _context_value(scope: str) -> Evaluator:
    """The evaluator of ``flow`` or ``global`` values (``#:(store)::key`` names a store)."""
    def compile_context(node: Node, value: Any, what: str) -> Getter:
        store, key = parse_context_key(js_string("" if value is None else value))
        if not key.strip():
            raise TypedInputError(f"{what}: empty {scope} context key")
        context = context_of(node, scope)
        nested = "[msg" in key

        def from_context(msg: Any = None, default: Any = None) -> Any:
            found = context.get(resolve_nested(key, msg) if nested else key, store)
            return default if found is None else found

        return from_context
    return compile_context


def context_of(node: Node, scope: str) -> Context:
    """The ``"flow"`` or ``"global"`` context as ``node`` sees it."""
    return node.ctx.flow_context if scope == "flow" else node.ctx.global_context


_CONTEXT_STORE = re.compile(r"^#:\((\S+?)\)::(.*)$", re.S)
_NESTED_MSG = re.compile(r"\[msg\.([^\[\]]+)\]")


def parse_context_key(key: str) -> tuple[str | None, str]:
    """Split ``#:(store)::key`` into ``(store, key)``; plain keys have store None."""
    match = _CONTEXT_STORE.match(key)
    return (match.group(1), match.group(2)) if match else (None, key)


def resolve_nested(key: str, msg: Any) -> str:
    """Replace ``[msg.x]`` inside a context key by the value of ``msg.x``."""
    def value_of(match: re.Match[str]) -> str:
        value = get_message_property(msg, match.group(1))
        return f"[{value}]" if type(value) is int else f'["{js_string(value)}"]'

    return _NESTED_MSG.sub(value_of, key)


# ------------------------------------------------------------------ JSONata
def _jsonata(node: Node, value: Any, what: str) -> Getter:
    """A JSONata expression, compiled now; ``get(msg, default)`` evaluates it."""
    # Imported here: the JSONata library is loaded only by flows that use it.
    from flowrt.jsonata import JSONataExpression

    return JSONataExpression(js_string("" if value is None else value), node, what).getter()


# ------------------------------------------------------------------- dates
def _date(node: Node, value: Any, what: str) -> Getter:
    """Now: milliseconds, ``iso``, a datetime (``object``) or a moment.js format."""
    clock = node.clock
    fmt = js_string("" if value is None else value)
    if not fmt:
        return lambda msg=None, default=None: int(clock.time() * 1000)
    if fmt == "iso":
        return lambda msg=None, default=None: iso_timestamp(clock.time())
    if fmt == "object":
        return lambda msg=None, default=None: datetime.fromtimestamp(clock.time()).astimezone()
    return lambda msg=None, default=None: format_date(
        fmt, datetime.fromtimestamp(clock.time()).astimezone())


# ----------------------------------------------------------- the type table
EVALUATORS: dict[str, Evaluator] = {
    "str": _constant(_string),
    "num": _constant(_number),
    "bool": _constant(_boolean),
    "json": _constant(_json),
    "bin": _constant(_buffer),
    "re": _constant(_regex),
    "date": _date,
    "msg": _message,
    "flow": _context_value("flow"),
    "global": _context_value("global"),
    "env": _constant(_env),
    "jsonata": _jsonata,
}
"""Typed-input type → its evaluator (Node-RED's ``evaluateNodeProperty``)."""

TYPES = tuple(EVALUATORS)
"""The typed-input types :class:`TypedValue` evaluates."""

CONSTANT_TYPES = frozenset({"str", "num", "bool", "json", "bin", "re", "env"})
"""The types whose value does not depend on the message (or the time)."""
