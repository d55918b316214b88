"""Node-RED "typed inputs" and the JavaScript value rules the core nodes rely on.

A typed input is a value plus a type (``{"v": "42", "vt": "num"}``, ``"to"``/``"tot"``,
``"payload"``/``"payloadType"``...). :class:`TypedValue` compiles one once, when its
node starts, and evaluates it per message with ``get(msg)``: constants are
computed once, ``msg``/``flow``/``global`` values are looked up each time.

Types: ``str num bool json bin re date msg flow global env`` (Node-RED's
``evaluateNodeProperty``). ``jsonata`` is not supported by flowrt: compiling one
raises :class:`TypedInputError` naming the property, so the deploy fails with a
clear message instead of the flow doing something else.

The module also holds the few JavaScript semantics that Node-RED flows depend on:
``Number()`` and ``String()`` conversions, loose ``==`` and ``<`` comparisons,
JavaScript regular expressions and ``replace`` patterns, and message property
paths that may fail (``setMessageProperty`` refuses to create a property under
a string).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from flowrt.messages import clone_value, delete_property, parse_path

if TYPE_CHECKING:
    from flowrt.node import Node

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__slots__": ()})()
"""What a lookup returns for a property that does not exist (JavaScript's ``undefined``)."""

TYPES = ("str", "num", "bool", "json", "bin", "re", "date", "msg", "flow", "global", "env")
"""The typed-input types :class:`TypedValue` evaluates."""


class TypedInputError(ValueError):
    """A typed input that cannot be compiled (bad JSON, bad regex, unsupported type)."""


# ------------------------------------------------------------ JavaScript values
_JS_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_JS_RADIX = re.compile(r"^\s*0([xXoObB])([0-9a-fA-F]+)\s*$")
_MAX_SAFE = 2**53


def js_number(value: Any) -> int | float:
    """JavaScript ``Number(value)``: ``"5"`` → 5, ``""`` → 0, ``"x"`` → NaN, ``True`` → 1."""
    cls = type(value)
    if cls is int or cls is float:
        return value
    if cls is bool:
        return int(value)
    if value is None:
        return 0
    if cls is str:
        if not value.strip():
            return 0
        if _JS_NUMERIC.match(value):
            return number_value(float(value))
        radix = _JS_RADIX.match(value)
        if radix:
            base = {"x": 16, "o": 8, "b": 2}[radix.group(1).lower()]
            try:
                return int(radix.group(2), base)
            except ValueError:
                return math.nan
        stripped = value.strip()
        if stripped in ("Infinity", "+Infinity", "-Infinity"):
            return -math.inf if stripped[0] == "-" else math.inf
        return math.nan
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return js_number(js_string(value)) if len(value) <= 1 else math.nan
    return math.nan


def number_value(number: float) -> int | float:
    """A float as JavaScript would print it: integral values become ints (5.0 → 5)."""
    if number.is_integer() and abs(number) < _MAX_SAFE:
        return int(number)
    return number


def is_nan(value: Any) -> bool:
    """True for a float NaN."""
    return type(value) is float and value != value


def format_number(number: float) -> str:
    """JavaScript's ``String(number)``: ``5.0`` → ``"5"``, ``1e21`` → ``"1e+21"``."""
    if type(number) is int:
        return str(number)
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        if abs(number) < _MAX_SAFE:
            return str(int(number))
        return format(Decimal(repr(number)).normalize(), "f")
    text = repr(number)
    if "e" not in text:
        return text
    exponent = int(text.split("e")[1])
    if -7 < exponent < 21:
        return format(Decimal(text), "f")
    mantissa = text.split("e")[0]
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


def js_string(value: Any) -> str:
    """JavaScript ``String(value)`` (``value + ""``) for JSON-like values."""
    cls = type(value)
    if cls is str:
        return value
    if cls is bool:
        return "true" if value else "false"
    if cls is int or cls is float:
        return format_number(value)
    if value is None:
        return "null"
    if value is MISSING:
        return "undefined"
    if isinstance(value, list | tuple):
        return ",".join("" if v is None or v is MISSING else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, re.Pattern):
        return f"/{value.pattern}/"
    return str(value)


_PLAIN_NUMBER = (int, float)


def _primitive(value: Any) -> Any:
    if isinstance(value, dict | list | tuple | bytes | bytearray):
        return js_string(value)
    return value


def loose_equals(a: Any, b: Any) -> bool:
    """JavaScript ``a == b``: ``"5" == 5``, ``null == undefined``, ``true == 1``."""
    ta, tb = type(a), type(b)
    if (ta in _PLAIN_NUMBER and tb in _PLAIN_NUMBER) or ta is tb is str:
        return a == b
    if ta is str or tb is str:
        other = b if ta is str else a
        if type(other) in _PLAIN_NUMBER:
            return js_number(a if ta is str else b) == other
    if a is None or a is MISSING or b is None or b is MISSING:
        return (a is None or a is MISSING) and (b is None or b is MISSING)
    if isinstance(a, dict | list) and isinstance(b, dict | list):
        return a is b
    a, b = _primitive(a), _primitive(b)
    if type(a) is str and type(b) is str:
        return a == b
    x, y = js_number(a), js_number(b)
    return x == y


def compare(a: Any, b: Any) -> int | None:
    """JavaScript relational comparison: -1, 0 or 1, or None when either side is NaN.

    Two strings compare as text; anything else compares as numbers.
    """
    ta, tb = type(a), type(b)
    if (ta in _PLAIN_NUMBER and tb in _PLAIN_NUMBER) or ta is tb is str:
        if a != a or b != b:
            return None
        return (a > b) - (a < b)
    a, b = _primitive(a), _primitive(b)
    if type(a) is str and type(b) is str:
        return (a > b) - (a < b)
    if a is MISSING or b is MISSING:
        return None
    x, y = js_number(a), js_number(b)
    if x != x or y != y:
        return None
    return (x > y) - (x < y)


# ------------------------------------------------------- regular expressions
_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


@lru_cache(maxsize=256)
def js_regex(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile a JavaScript regular expression (``i``/``m``/``s`` flags, ``(?<name>...)``)."""
    py_flags = 0
    for flag in flags:
        py_flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}.get(flag, 0)
    return re.compile(_NAMED_GROUP.sub("(?P<", pattern), py_flags)


_REPLACEMENT = re.compile(r"\$(\$|&|`|'|\d{1,2}|<[^>]*>)")


def js_replacer(template: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement function for a JavaScript replacement string.

    ``$1``..``$99``, ``$&``, ``$<name>``, ``` $` ```, ``$'`` and ``$$`` mean what they
    mean in JavaScript's ``String.replace``; everything else is literal.
    """
    if "$" not in template:
        return lambda match: template
    pieces = _REPLACEMENT.split(template)

    def replace(match: re.Match[str]) -> str:
        out = []
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                out.append(piece)
            elif piece == "$":
                out.append("$")
            elif piece == "&":
                out.append(match.group(0))
            elif piece == "`":
                out.append(match.string[: match.start()])
            elif piece == "'":
                out.append(match.string[match.end():])
            elif piece.startswith("<"):
                name = piece[1:-1]
                out.append(match.groupdict().get(name) or "" if match.re.groupindex
                           else f"$<{name}>")
            else:
                out.append(_group_text(match, piece))
        return "".join(out)

    return replace


def _group_text(match: re.Match[str], digits: str) -> str:
    count = match.re.groups
    if int(digits) <= count and int(digits) > 0:
        return match.group(int(digits)) or ""
    if len(digits) == 2 and 0 < int(digits[0]) <= count:
        return (match.group(int(digits[0])) or "") + digits[1]
    return "$" + digits


# --------------------------------------------------------- message properties
def strip_msg(path: str) -> str:
    """A property path without a leading ``msg.`` (Node-RED accepts both)."""
    return path[4:] if path.startswith("msg.") else path


def get_msg_property(msg: Any, path: str, default: Any = None) -> Any:
    """The value at ``path`` in ``msg`` (``msg.`` prefix allowed), or ``default``."""
    obj = msg
    for key in parse_path(strip_msg(path)):
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return default
    return obj


def set_msg_property(msg: Any, path: str, value: Any) -> bool:
    """Node-RED's ``setMessageProperty(msg, path, value, true)``.

    Creates missing parents (dicts, or lists before ``[n]``); returns False,
    changing nothing, when a parent is a value that cannot hold properties.
    ``MISSING`` deletes the property instead.
    """
    path = strip_msg(path)
    if value is MISSING:
        delete_property(msg, path)
        return True
    keys = parse_path(path)
    obj = msg
    for index, key in enumerate(keys[:-1]):
        try:
            child = obj[key]
        except (KeyError, IndexError):
            child = MISSING
        if child is MISSING or (child is None and isinstance(obj, list)):
            child = [] if isinstance(keys[index + 1], int) else {}
            _assign(obj, key, child)
        elif not isinstance(child, dict | list):
            return False
        obj = child
    if not isinstance(obj, dict | list):
        return False
    _assign(obj, keys[-1], value)
    return True


def _assign(obj: dict[Any, Any] | list[Any], key: str | int, value: Any) -> None:
    if isinstance(obj, list):
        if not isinstance(key, int):
            raise TypeError(f"cannot set property {key!r} of a list")
        obj.extend([None] * (key + 1 - len(obj)))
    obj[key] = value  # type: ignore[index]


_CONTEXT_STORE = re.compile(r"^#:\((\S+?)\)::(.*)$", re.S)
_NESTED_MSG = re.compile(r"\[msg\.([^\[\]]+)\]")


def parse_context_key(key: str) -> tuple[str | None, str]:
    """Split ``#:(store)::key`` into ``(store, key)``; plain keys have store None."""
    match = _CONTEXT_STORE.match(key)
    return (match.group(1), match.group(2)) if match else (None, key)


def resolve_nested(key: str, msg: Any) -> str:
    """Replace ``[msg.x]`` inside a context key by the value of ``msg.x``."""
    def value_of(match: re.Match[str]) -> str:
        value = get_msg_property(msg, match.group(1))
        return f"[{value}]" if type(value) is int else f'["{js_string(value)}"]'

    return _NESTED_MSG.sub(value_of, key)


# ------------------------------------------------------------------- dates
_MOMENT_TOKEN = re.compile(
    r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s"
    r"|SSS|SS|S|A|a|ZZ|Z|X|x")


def format_date(fmt: str, when: datetime) -> str:
    """Format a datetime with a moment.js format string (the tokens people use)."""
    def token(match: re.Match[str]) -> str:
        t = match.group(0)
        if t[0] == "[":
            return t[1:-1]
        hour12 = when.hour % 12 or 12
        offset = when.strftime("%z") or "+0000"
        values = {
            "YYYY": f"{when.year:04d}", "YY": f"{when.year % 100:02d}",
            "MMMM": when.strftime("%B"), "MMM": when.strftime("%b"),
            "MM": f"{when.month:02d}", "M": str(when.month),
            "Do": _ordinal(when.day), "DD": f"{when.day:02d}", "D": str(when.day),
            "dddd": when.strftime("%A"), "ddd": when.strftime("%a"),
            "dd": when.strftime("%a")[:2], "d": str((when.weekday() + 1) % 7),
            "HH": f"{when.hour:02d}", "H": str(when.hour),
            "hh": f"{hour12:02d}", "h": str(hour12),
            "mm": f"{when.minute:02d}", "m": str(when.minute),
            "ss": f"{when.second:02d}", "s": str(when.second),
            "SSS": f"{when.microsecond // 1000:03d}", "SS": f"{when.microsecond // 10000:02d}",
            "S": str(when.microsecond // 100000),
            "A": "AM" if when.hour < 12 else "PM", "a": "am" if when.hour < 12 else "pm",
            "ZZ": offset, "Z": f"{offset[:3]}:{offset[3:]}",
            "X": str(int(when.timestamp())), "x": str(int(when.timestamp() * 1000)),
        }
        return values[t]

    return _MOMENT_TOKEN.sub(token, fmt)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def iso_timestamp(seconds: float) -> str:
    """JavaScript's ``new Date(ms).toISOString()``: ``2026-01-01T00:00:00.000Z``."""
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# ------------------------------------------------------------- typed values
def parse_json(text: Any, what: str) -> Any:
    """Parse JSON text (or pass through an already-parsed value), naming ``what`` on error."""
    if not isinstance(text, str | bytes):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TypedInputError(f"{what}: invalid JSON {_short(text)}: {exc}") from None


def _short(text: Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


class TypedValue:
    """One typed-input value of a node, compiled once; ``get(msg)`` evaluates it.

    ``what`` names the value in error messages (``"rule 2 'to'"``). Raises
    :class:`TypedInputError` for a value that can never be evaluated: bad JSON or
    regex, a ``jsonata`` expression, an unknown type.
    """

    __slots__ = ("get", "is_constant", "raw", "type")

    def __init__(self, node: Node, value: Any, vtype: str | None, what: str) -> None:
        self.raw = value
        self.type = vtype = vtype or "str"
        self.is_constant = vtype in ("str", "num", "bool", "json", "bin", "re", "env")
        self.get: Callable[..., Any] = self._compile(node, value, vtype, what)

    def _compile(self, node: Node, value: Any, vtype: str, what: str) -> Callable[..., Any]:
        if vtype in ("msg", "flow", "global", "date"):
            return _lookup(node, "" if value is None else value, vtype, what)
        if vtype == "jsonata":
            raise TypedInputError(f"{what}: JSONata expressions are not supported by flowrt "
                                  f"({_short(value)}); use a function node instead")
        if vtype not in TYPES:
            raise TypedInputError(f"{what}: unknown value type {vtype!r}; "
                                  f"expected one of {', '.join(TYPES)}")
        constant = self.constant_of(node, value, vtype, what)
        if type(constant) in _IMMUTABLE or isinstance(constant, re.Pattern):
            return lambda msg=None, default=None: constant
        return lambda msg=None, default=None: clone_value(constant)

    @staticmethod
    def constant_of(node: Node, value: Any, vtype: str, what: str) -> Any:
        """The value of a typed input whose type does not depend on the message."""
        if vtype == "str":
            return js_string(MISSING if value is None else value)
        if vtype == "num":
            return js_number(value)
        if vtype == "bool":
            return value is True or (isinstance(value, str) and value.lower() == "true")
        if vtype == "json":
            return parse_json(value, what)
        if vtype == "bin":
            data = parse_json(value, what)
            if isinstance(data, str):
                return data.encode()
            if isinstance(data, list):
                try:
                    return bytes(int(v) & 0xFF for v in data)
                except (TypeError, ValueError):
                    pass
            raise TypedInputError(f"{what}: buffer data must be a JSON string or array of bytes")
        if vtype == "re":
            try:
                return js_regex(js_string(value))
            except re.error as exc:
                raise TypedInputError(f"{what}: invalid regular expression "
                                      f"{_short(value)}: {exc}") from None
        return evaluate_env(node, js_string(value))


def _lookup(node: Node, value: Any, vtype: str, what: str) -> Callable[..., Any]:
    if vtype == "date":
        clock = node.clock
        fmt = js_string(value)
        if not fmt:
            return lambda msg=None, default=None: int(clock.time() * 1000)
        if fmt == "iso":
            return lambda msg=None, default=None: iso_timestamp(clock.time())
        if fmt == "object":
            return lambda msg=None, default=None: datetime.fromtimestamp(clock.time()).astimezone()
        return lambda msg=None, default=None: format_date(
            fmt, datetime.fromtimestamp(clock.time()).astimezone())
    if vtype == "msg":
        path = strip_msg(js_string(value))
        try:
            keys = parse_path(path)
        except ValueError as exc:
            raise TypedInputError(f"{what}: {exc}") from None

        def from_msg(msg: Any, default: Any = None) -> Any:
            obj = msg
            for key in keys:
                try:
                    obj = obj[key]
                except (KeyError, IndexError, TypeError):
                    return default
            return obj

        return from_msg
    store, key = parse_context_key(js_string(value))
    if not key.strip():
        raise TypedInputError(f"{what}: empty {vtype} context key")
    context = node.ctx.flow_context if vtype == "flow" else node.ctx.global_context
    nested = "[msg" in key

    def from_context(msg: Any = None, default: Any = None) -> Any:
        found = context.get(resolve_nested(key, msg) if nested else key, store)
        return default if found is None else found

    return from_context


def evaluate_env(node: Node, value: str) -> Any:
    """Node-RED's ``env`` typed input: ``${X}``, a bare ``X``, or ``a${X}b`` (all replaced).

    Unset variables give ``""``.
    """
    whole = re.fullmatch(r"\$\{([^}]+)\}", value)
    if whole or "${" not in value:
        found = node.env(whole.group(1) if whole else value)
        return "" if found is None else found
    return re.sub(r"\$\{([^}]+)\}",
                  lambda m: js_string(found) if (found := node.env(m.group(1))) is not None
                  else "", value)
