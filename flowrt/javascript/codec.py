"""Values across the JavaScript boundary: JSON text, with tags for what JSON lacks.

A message crosses as one JSON string each way (the cheapest crossing the binding
offers: a string argument, a string result). Kinds JSON cannot carry travel as tagged
objects ``{"$flowrt$": kind, ...}`` and are restored on the other side, so nothing
changes kind on the way:

========================  ===========================================
Python                    JavaScript
========================  ===========================================
bytes, bytearray          Buffer (back as bytes)
datetime (aware or naive)  Date (back as an aware UTC datetime)
float NaN / ±inf          NaN / ±Infinity
MISSING                   undefined
========================  ===========================================

dict/list/str/int/float/bool/None are JSON's own; tuples and sets cross as arrays,
other objects as their ``str()``. JavaScript's ``undefined`` properties are left out,
as ``JSON.stringify`` does, which Python reads as missing keys. The JavaScript half
is ``encode``/``decode`` in ``prelude.js``.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from flowrt.jsvalue import MISSING

TAG = "$flowrt$"
_TAG_BYTES = TAG.encode()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY



def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {TAG: "Buffer", "data": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {TAG: "Date", "ms": value.timestamp() * 1000}
    if isinstance(value, date):
        return value.isoformat()
    if value is MISSING:
        return {TAG: "undefined"}
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def to_js(value: Any) -> tuple[str, bool]:
    """``value`` as JSON text for JavaScript, and whether it holds tags to restore."""
    text = orjson.dumps(value, default=_default, option=_OPTIONS)
    # orjson writes NaN and infinities as null: only then is a second look needed.
    if b"null" in text and _has_nonfinite(value):
        text = orjson.dumps(_tag_nonfinite(value), default=_default, option=_OPTIONS)
    return text.decode(), _TAG_BYTES in text


def _has_nonfinite(value: Any) -> bool:
    if type(value) is float:
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nonfinite(v) for v in value)
    return False


def _tag_nonfinite(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return {TAG: "number", "value": text}
    if isinstance(value, dict):
        return {k: _tag_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag_nonfinite(v) for v in value]
    return value


def from_js(text: str) -> Any:
    """The Python value of JSON text written by the JavaScript ``encode``."""
    value = orjson.loads(text)
    if TAG in text:
        value = _restore(value)
    return value


_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get(TAG)
        if type(kind) is str:
            if kind == "Buffer":
                return base64.b64decode(value.get("data") or "")
            if kind == "Date":
                return datetime.fromtimestamp(float(value.get("ms") or 0) / 1000, UTC)
            if kind == "number":
                return _NUMBERS.get(str(value.get("value")), math.nan)
            if kind == "undefined":
                return MISSING
        for key, item in value.items():
            if isinstance(item, dict | list):
                value[key] = _restore(item)
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                value[index] = _restore(item)
    return value
