"""The ``hash-sum`` npm package's hash, as Node-RED's HTTP nodes use it.

Node-RED's ``http request`` marks the response headers it puts in ``msg.headers`` with
their hash (``x-node-red-request-node``), so that ``http response`` and a later ``http
request`` recognise headers that came back unchanged and do not send them on.
"""

from __future__ import annotations

from typing import Any

from flowrt.jsvalue import MISSING, js_string


def hash_sum(value: Any) -> str:
    """``require("hash-sum")(value)`` of a JSON-like value: eight hex digits."""
    return format(_fold_value(0, value, "", []), "x").rjust(8, "0")


def _fold(state: int, text: str) -> int:
    if not text:
        return state
    data = text.encode("utf-16-le", "surrogatepass")
    for index in range(0, len(data), 2):  # UTF-16 code units, as charCodeAt
        state = (state << 5) - state + data[index] + (data[index + 1] << 8)
        state = (state + 2**31) % 2**32 - 2**31  # |= 0
    return state * -2 if state < 0 else state


def _js_tag(value: Any) -> tuple[str, str]:
    """``Object.prototype.toString`` and ``typeof`` of a JSON-like value."""
    if value is None:
        return "[object Null]", "object"
    if value is MISSING:
        return "[object Undefined]", "undefined"
    if isinstance(value, bool):
        return "[object Boolean]", "boolean"
    if isinstance(value, int | float):
        return "[object Number]", "number"
    if isinstance(value, str):
        return "[object String]", "string"
    if isinstance(value, list | tuple):
        return "[object Array]", "object"
    if isinstance(value, bytes | bytearray):
        return "[object Uint8Array]", "object"
    return "[object Object]", "object"


def _fold_value(state: int, value: Any, key: str, seen: list[Any]) -> int:
    tag, kind = _js_tag(value)
    state = _fold(_fold(_fold(state, key), tag), kind)
    if value is None:
        return _fold(state, "null")
    if value is MISSING:
        return _fold(state, "undefined")
    if kind == "object":
        if any(value is s for s in seen):
            return _fold(state, "[Circular]" + key)
        seen.append(value)
        items = ({str(k): v for k, v in value.items()} if isinstance(value, dict)
                 else {str(i): v for i, v in enumerate(value)})
        for name in sorted(items):  # Object.keys(value).sort()
            state = _fold_value(state, items[name], name, seen)
    return _fold(state, _js_text(value))


def _js_text(value: Any) -> str:
    """``String(value)`` of a JSON-like value."""
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join("" if v is None or v is MISSING else _js_text(v) for v in value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return js_string(value)
