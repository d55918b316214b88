"""JavaScript value semantics, the single copy every node uses.

Node-RED's nodes are JavaScript, so a flow's behaviour depends on JavaScript's
conversions: ``Number()``, ``String()``, ``parseFloat``/``parseInt``, loose ``==``
and ``<``, truthiness and ``typeof``. This module gives those rules for the Python
values a message holds (dict = object, list = array, bytes = Buffer, None = null,
:data:`MISSING` = undefined, int/float = number). Each function names the
JavaScript it reproduces; ``tests/test_jsvalue.py`` checks them against results
from Node.js.

Numbers: JavaScript has one number type; flowrt keeps integral values as ``int``
(so that JSON shows ``5``, not ``5.0``) and :func:`number_value` turns a float
result into that form. A Python int keeps all its digits in :func:`js_string`
(JavaScript would have rounded one beyond 2**53 when it parsed it; flowrt's
messages carry it exactly, in JSON as in text).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__slots__": ()})()
"""JavaScript's ``undefined``: what a lookup returns for a property that does not exist."""

# JavaScript's white space and line terminators (what Number() and parseFloat trim).
# Not Python's ``\s``: that also matches \x1c-\x1f and misses \ufeff.
_WS = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*"
_BLANK = re.compile(_WS)
_DECIMAL = r"[-+]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
_NUMBER_TEXT = re.compile(f"{_WS}({_DECIMAL}){_WS}")
_RADIX_TEXT = re.compile(f"{_WS}0([xXoObB])([0-9a-fA-F]+){_WS}")
_RADIX = {"x": 16, "o": 8, "b": 2}
_FLOAT_PREFIX = re.compile(f"{_WS}({_DECIMAL})")
_INT_PREFIX = re.compile(f"{_WS}([-+]?)(?:0[xX]([0-9a-fA-F]*)|([0-9]+))")
_MAX_SAFE = 2**53
_PLAIN_NUMBER = (int, float)


def number_value(number: float) -> int | float:
    """A float result as flowrt holds numbers: integral values become ints (5.0 → 5)."""
    if number.is_integer() and abs(number) < _MAX_SAFE:
        return int(number)
    return number


def is_nan(value: Any) -> bool:
    """True for a float NaN."""
    return type(value) is float and value != value


def js_number(value: Any) -> int | float:
    """JavaScript ``Number(value)``: ``"5"`` → 5, ``""`` → 0, ``"0x10"`` → 16,
    ``"x"`` → NaN, ``True`` → 1, ``None`` → 0, ``MISSING`` → NaN, ``[7]`` → 7."""
    cls = type(value)
    if cls is int or cls is float:
        return value
    if cls is str:
        return _text_number(value)
    if cls is bool:
        return int(value)
    if value is None:
        return 0
    if isinstance(value, _PLAIN_NUMBER):
        return value
    if isinstance(value, list | tuple | bytes | bytearray):
        # An array or a Buffer converts through its String(): [7] → "7" → 7.
        return _text_number(js_string(value))
    return math.nan


def _text_number(text: str) -> int | float:
    match = _NUMBER_TEXT.fullmatch(text)
    if match:
        return number_value(float(match.group(1).replace("Infinity", "inf")))
    radix = _RADIX_TEXT.fullmatch(text)
    if radix:
        try:
            return int(radix.group(2), _RADIX[radix.group(1).lower()])
        except ValueError:  # "0b12": a digit outside the base
            return math.nan
    return 0 if _BLANK.fullmatch(text) else math.nan


def parse_float(value: Any) -> float:
    """JavaScript ``parseFloat(value)``: the number the text starts with
    (``"6 deg"`` → 6, ``"0x10"`` → 0), NaN when there is none."""
    cls = type(value)
    if cls is float or cls is int:
        return float(value)
    match = _FLOAT_PREFIX.match(value if cls is str else js_string(value))
    return float(match.group(1).replace("Infinity", "inf")) if match else math.nan


def parse_int(value: Any) -> int | float:
    """JavaScript ``parseInt(value)``: the integer the text starts with (``"12px"`` → 12,
    ``"0x1f"`` → 31, ``5.7`` → 5, ``1e21`` → 1), NaN when there is none."""
    match = _INT_PREFIX.match(value if type(value) is str else js_string(value))
    if not match or match.group(2) == "":  # no digits after "0x"
        return math.nan
    sign, hex_digits, digits = match.groups()
    number = int(digits) if hex_digits is None else int(hex_digits, 16)
    return -number if sign == "-" else number


def js_string(value: Any) -> str:
    """JavaScript ``String(value)``: ``1e21`` → ``"1e+21"``, ``5.0`` → ``"5"``, ``-0`` →
    ``"0"``, ``None`` → ``"null"``, ``[1, None]`` → ``"1,"``, a dict → ``"[object Object]"``."""
    cls = type(value)
    if cls is str:
        return value
    if cls is int:
        return str(value)
    if cls is float:
        return _float_text(value)
    if cls is bool:
        return "true" if value else "false"
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
    if isinstance(value, int | float):  # subclasses (IntEnum...)
        return js_string(int(value) if isinstance(value, int) else float(value))
    return str(value)


def _float_text(number: float) -> str:
    """``Number.prototype.toString()``: shortest round-trip digits, exponent from 1e21."""
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        if abs(number) < _MAX_SAFE:
            return str(int(number))  # also turns -0.0 into "0"
        return format(Decimal(repr(number)).normalize(), "f")
    text = repr(number)
    if "e" not in text:
        return text
    mantissa, exponent_text = text.split("e")
    exponent = int(exponent_text)
    if -7 < exponent < 21:
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


def truthy(value: Any) -> bool:
    """JavaScript truthiness: ``""``, 0, NaN, null and undefined are false; every
    object (``{}``, ``[]``, a Buffer, even an empty one) is true."""
    cls = type(value)
    if cls is str or cls is bool or cls is int:
        return bool(value)
    if cls is float:
        return value == value and value != 0
    return value is not None and value is not MISSING


def typeof(value: Any) -> str:
    """JavaScript ``typeof value`` (``"object"`` for null, arrays and Buffers)."""
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if callable(value) and not isinstance(value, type):
        return "function"
    return "object"


def _primitive(value: Any) -> Any:
    """ToPrimitive for the values a message holds: arrays, objects and Buffers as text."""
    if isinstance(value, dict | list | tuple | bytes | bytearray):
        return js_string(value)
    return value


def loose_equals(a: Any, b: Any) -> bool:
    """JavaScript ``a == b``: ``"5" == 5``, ``null == undefined``, ``true == 1``,
    ``[1,2] == "1,2"``; two objects are equal only when they are the same object."""
    ta, tb = type(a), type(b)
    if (ta in _PLAIN_NUMBER and tb in _PLAIN_NUMBER) or ta is tb is str:
        return bool(a == b)
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
    return js_number(a) == js_number(b)


def compare(a: Any, b: Any) -> int | None:
    """JavaScript's relational comparison (``<``, ``>``): -1, 0 or 1, or None where
    JavaScript's answer is always false (a NaN or undefined side).

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


def json_default(value: Any) -> Any:
    """What ``JSON.stringify`` makes of values JSON has no type for: orjson's ``default``
    (with ``orjson.OPT_PASSTHROUGH_DATETIME``, so a date is written as JavaScript writes
    it: ``2026-01-01T00:00:00.000Z``). Anything else is a TypeError."""
    if isinstance(value, bytes | bytearray):
        return {"type": "Buffer", "data": list(value)}
    if isinstance(value, datetime):
        return iso_timestamp(value.timestamp())
    if isinstance(value, set | frozenset):
        return {}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def iso_timestamp(seconds: float) -> str:
    """JavaScript's ``new Date(ms).toISOString()``: ``2026-01-01T00:00:00.000Z``."""
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
