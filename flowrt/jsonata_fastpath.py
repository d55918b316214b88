"""A fast path for the simplest JSONata expressions: paths, numbers and comparisons.

Most expressions in real flows are arithmetic over message fields
(``payload.temperature * 9 / 5 + 32``) or a comparison (``payload.level > 3``). The
library evaluates those in 10-20 µs, mostly in generic machinery (frames, sequences,
per-node hooks). :func:`compile_fast` turns such an AST into a few nested Python
closures that give the same result in about a microsecond.

It is an exact shortcut, never a second implementation: it handles only the cases
whose result it knows is the library's (plain field lookups through objects, finite
arithmetic on numbers, comparisons of two numbers or two strings, equality of two
scalars of one kind) and raises :class:`Fallback` for anything else (an array on the
way, a missing or null operand, a string in arithmetic, division by zero, overflow),
so that the library evaluates that message and gives its exact value or error.
Expressions with anything else (functions, variables, predicates, ``&``, ``and``...)
get no fast path at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["UNDEFINED", "Fallback", "compile_fast"]

UNDEFINED: Any = type("Undefined", (), {"__repr__": lambda self: "UNDEFINED",
                                        "__slots__": ()})()
"""JSONata's undefined inside the fast path (None is JSON null there)."""

Evaluator = Callable[[Any], Any]
_NUMBERS = (int, float)
# Attributes every symbol has: what it is, where, and the parser's binding powers.
_PLAIN = frozenset({"_outer_instance", "id", "value", "type", "position", "bp", "lbp"})


class Fallback(Exception):
    """This input needs the library: the fast path does not know its exact result."""


class _Unsupported(Exception):
    """The expression has a construct the fast path does not handle."""


def compile_fast(ast: Any) -> Evaluator | None:
    """An evaluator ``f(input) -> value`` for ``ast``, or None when the expression is
    not one the fast path handles. ``f`` raises :class:`Fallback` for an input it
    cannot evaluate exactly, and returns :data:`UNDEFINED` for JSONata's undefined."""
    try:
        return _compile(ast)
    except _Unsupported:
        return None


def _plain(symbol: Any, allowed: frozenset[str] = _PLAIN) -> None:
    """Refuse a symbol carrying anything beyond the allowed attributes (a predicate,
    a group, a focus or index binding, array-keeping flags...)."""
    for key, value in vars(symbol).items():
        if key in allowed or value is None or value is False or (key == "level" and value == 0):
            continue
        if isinstance(value, list) and not value:
            continue
        raise _Unsupported(key)


def _compile(symbol: Any) -> Evaluator:
    kind = getattr(symbol, "type", None)
    if kind == "path":
        return _path(symbol)
    if kind in ("number", "string") or (kind == "value" and isinstance(symbol.value, bool)):
        _plain(symbol)
        value = symbol.value
        if kind == "number" and (type(value) not in _NUMBERS or not math.isfinite(value)):
            raise _Unsupported("number")
        return lambda data: value
    if kind == "block" and len(symbol.expressions or ()) == 1:
        _plain(symbol, _PLAIN | {"expressions"})  # parentheses around one expression
        return _compile(symbol.expressions[0])
    if kind == "binary":
        _plain(symbol, _PLAIN | {"lhs", "rhs"})
        operator = _OPERATORS.get(symbol.value)
        if operator is None:
            raise _Unsupported(symbol.value)
        return operator(_compile(symbol.lhs), _compile(symbol.rhs))
    raise _Unsupported(kind)


def _path(symbol: Any) -> Evaluator:
    _plain(symbol, _PLAIN | {"steps"})
    names = []
    for step in symbol.steps:
        if getattr(step, "type", None) != "name" or not isinstance(step.value, str):
            raise _Unsupported("step")
        _plain(step)
        names.append(step.value)
    path = tuple(names)

    def lookup(data: Any) -> Any:
        value = data
        for name in path:
            if not isinstance(value, dict):
                if isinstance(value, list):
                    raise Fallback  # arrays map the step over their items
                return UNDEFINED  # a step into a scalar (or null) finds nothing
            value = value.get(name, UNDEFINED)
            if value is UNDEFINED:
                return UNDEFINED
            if isinstance(value, list):
                raise Fallback  # sequence flattening and singleton rules
        return value

    return lookup


def _arithmetic(op: str) -> Callable[[Evaluator, Evaluator], Evaluator]:
    def build(left: Evaluator, right: Evaluator) -> Evaluator:
        def evaluate(data: Any) -> Any:
            a, b = left(data), right(data)
            if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
                raise Fallback  # undefined, null, strings, booleans: the library decides
            x, y = float(a), float(b)  # as the library computes
            if not (math.isfinite(x) and math.isfinite(y)):
                raise Fallback  # the library refuses them ("Number out of range")
            if op == "+":
                result = x + y
            elif op == "-":
                result = x - y
            elif op == "*":
                result = x * y
            elif y == 0:
                raise Fallback
            elif op == "/":
                result = x / y
            else:
                return int(math.fmod(x, y))
            if not math.isfinite(result):
                raise Fallback
            integral = int(result)
            return integral if integral == result else result
        return evaluate
    return build


def _comparison(op: str) -> Callable[[Evaluator, Evaluator], Evaluator]:
    def build(left: Evaluator, right: Evaluator) -> Evaluator:
        def evaluate(data: Any) -> Any:
            a, b = left(data), right(data)
            ta, tb = type(a), type(b)
            if ta in _NUMBERS and tb in _NUMBERS:
                a, b = float(a), float(b)
            elif not (ta is str and tb is str):
                raise Fallback
            if op == "<":
                return a < b
            if op == "<=":
                return a <= b
            if op == ">":
                return a > b
            return a >= b
        return evaluate
    return build


def _equality(negate: bool) -> Callable[[Evaluator, Evaluator], Evaluator]:
    def build(left: Evaluator, right: Evaluator) -> Evaluator:
        def evaluate(data: Any) -> Any:
            a, b = left(data), right(data)
            ta, tb = type(a), type(b)
            if ta in _NUMBERS and tb in _NUMBERS:
                equal = float(a) == float(b)
            elif ta is tb and ta in (str, bool):
                equal = a == b
            else:
                raise Fallback
            return equal is not negate
        return evaluate
    return build


_OPERATORS: dict[str, Callable[[Evaluator, Evaluator], Evaluator]] = {
    "+": _arithmetic("+"), "-": _arithmetic("-"), "*": _arithmetic("*"),
    "/": _arithmetic("/"), "%": _arithmetic("%"),
    "<": _comparison("<"), "<=": _comparison("<="), ">": _comparison(">"),
    ">=": _comparison(">="),
    "=": _equality(False), "!=": _equality(True),
}
