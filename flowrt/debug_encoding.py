"""How the debug sidebar shows a value: Node-RED's ``util.encodeObject``.

:func:`encode_debug` turns a value into the ``msg``/``format`` pair the Node-RED
editor expects: on the ``debug`` comms topic (the debug node) and in the admin API's
``/context`` answers, where the editor's sidebars show it the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from flowrt.jsvalue import MISSING, iso_timestamp, js_string

DEBUG_MAX_LENGTH = 1000
"""Node-RED's ``debugMaxLength``: longer strings, buffers and arrays are cut."""

DEBUG_MAX_DEPTH = 100
"""Containers nested deeper are shown as ``[Object]``/``[Array]`` (as ``util.inspect``
does), so a deep message is shown instead of failing the JSON encoder."""


def encode_debug(value: Any, max_length: int = DEBUG_MAX_LENGTH) -> tuple[str, str]:
    """``(msg, format)`` for a value shown in the debug sidebar, as Node-RED encodes it.

    Strings over ``max_length`` are cut and get ``...``; bytes become hex with format
    ``buffer[n]``; dicts and lists become JSON (format ``Object``, ``array[n]``) in which
    long strings, long arrays, bytes, NaN/Infinity, sets, regexes and exceptions carry
    Node-RED's ``{"__enc__": true, "type": ...}`` markers (containers nested deeper than
    ``DEBUG_MAX_DEPTH`` become ``"[Object]"``/``"[Array]"``); numbers, booleans and None
    have formats ``number``, ``boolean`` and ``null``; a missing property ``undefined``.
    """
    cls = type(value)
    if cls is str:
        text = value if len(value) <= max_length else value[:max_length] + "..."
        return text, f"string[{len(value)}]"
    if cls is int or cls is float:
        return js_string(value), "number"
    if cls is bool:
        return ("true" if value else "false"), "boolean"
    if value is None:
        return "(undefined)", "null"
    if value is MISSING:
        return "(undefined)", "undefined"
    if cls is dict or isinstance(value, dict):
        return _json(_prepare(value, max_length, set())), "Object"
    if isinstance(value, list | tuple):
        data: Any = value
        if len(value) > max_length:
            data = {"__enc__": True, "type": "array", "data": value[:max_length],
                    "length": len(value)}
        return _json(_prepare(data, max_length, set())), f"array[{len(value)}]"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value[:max_length // 2 + 1]).hex()[:max_length], f"buffer[{len(value)}]"
    if isinstance(value, BaseException):
        return _json(_error(value)), "error"
    if isinstance(value, set | frozenset):
        return (_json(_prepare(value, max_length, set())), f"set[{len(value)}]")
    if isinstance(value, re.Pattern):
        return _regex_text(value), "regexp"
    if isinstance(value, datetime):
        return value.isoformat(), "Date"
    if callable(value):
        return "[function]", "function"
    return str(value), type(value).__name__


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _regex_text(pattern: re.Pattern[str]) -> str:
    flags = ("i" if pattern.flags & re.IGNORECASE else "") + (
        "m" if pattern.flags & re.MULTILINE else "")
    return f"/{pattern.pattern}/{flags}"


def _error(exc: BaseException) -> dict[str, Any]:
    return {"__enc__": True, "type": "error",
            "data": {"name": type(exc).__name__, "message": str(exc)}}


def _prepare(value: Any, limit: int, path: set[int]) -> Any:
    """A JSON-ready copy of ``value`` with Node-RED's truncations and markers."""
    cls = type(value)
    if cls is str:
        return value if len(value) <= limit else value[:limit] + "..."
    if cls is int or cls is bool or value is None:
        return value
    if cls is float:
        if value != value or value in (float("inf"), float("-inf")):
            return {"__enc__": True, "type": "number", "data": js_string(value)}
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        if id(value) in path:
            return "[Circular ~]"
        if len(path) >= DEBUG_MAX_DEPTH:
            return "[Object]" if isinstance(value, dict) else "[Array]"
        path.add(id(value))
        try:
            if isinstance(value, dict):
                return {str(k): ({"__enc__": True, "type": "internal"}
                                 if k in ("_req", "_res") else _prepare(v, limit, path))
                        for k, v in value.items()}
            items = [_prepare(v, limit, path) for v in list(value)[:limit]]
            if isinstance(value, set | frozenset):
                return {"__enc__": True, "type": "set", "data": items, "length": len(value)}
            if len(value) > limit:
                return {"__enc__": True, "type": "array", "data": items, "length": len(value)}
            return items
        finally:
            path.discard(id(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value[:limit])), "__enc__": True,
                "length": len(value)}
    if value is MISSING:
        return {"__enc__": True, "type": "undefined"}
    if isinstance(value, BaseException):
        return _error(value)
    if isinstance(value, re.Pattern):
        return {"__enc__": True, "type": "regexp", "data": _regex_text(value)}
    if isinstance(value, datetime):
        return iso_timestamp(value.timestamp())
    if callable(value):
        return {"__enc__": True, "type": "function"}
    return str(value)
