"""Payload codecs: MQTT payload bytes to ``msg.payload`` and back, as Node-RED does.

``serialize_payload`` encodes a value as Node-RED's ``mqtt out`` does (bytes as
they are, str as UTF-8, objects and arrays as JSON, numbers and booleans as their
JSON text, None as an empty payload). ``CONVERTERS`` maps ``mqtt in``'s
``datatype`` to a decoder of payload bytes (and MQTT 5 properties).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from flowrt.jsvalue import js_string, json_default

JSON_MAX_DEPTH = 254
"""Deepest JSON orjson writes (it refuses deeper values and cycles)."""


def serialize_payload(value: Any) -> bytes:
    """Encode a payload as Node-RED's mqtt out does (see MqttOut's help)."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is str:
        return value.encode()
    if value is None:
        return b""
    if kind is bool:
        return b"true" if value else b"false"
    if kind is int:
        return str(value).encode()
    if kind is float:
        return js_string(value).encode()
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list | tuple):
        try:
            return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)
        except orjson.JSONEncodeError as exc:
            reason = str(exc)
            if reason == "Recursion limit reached":
                reason = f"nested more than {JSON_MAX_DEPTH} levels deep, or contains itself"
            raise ValueError(f"msg.payload cannot be published as JSON: {reason}") from None
    return str(value).encode()


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _json_default(value: Any) -> Any:
    try:
        return json_default(value)
    except TypeError:
        return str(value)  # a Python object a flow put there: its text, not a failure


class BadPayload(ValueError):
    """A payload that cannot be decoded as its datatype asks; ``payload`` is what
    was received (as text where it decodes)."""

    def __init__(self, text: str, payload: Any) -> None:
        super().__init__(text)
        self.payload = payload


def _utf8(payload: bytes) -> str | None:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        return None


def _parse_json(payload: bytes) -> Any:
    text = _utf8(payload)
    if text is None:
        raise BadPayload("Invalid JSON string", payload)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadPayload("Failed to parse JSON string", text) from None


_MEDIA_TYPES = {
    "text/plain": "string", "text/html": "string", "text/css": "string",
    "text/csv": "string", "text/xml": "string", "application/xml": "string",
    "text/javascript": "string", "application/javascript": "string",
    "application/json": "json",
    "application/octet-stream": "buffer", "application/pdf": "buffer",
    "application/zip": "buffer", "application/gzip": "buffer", "application/x-gzip": "buffer",
    "application/x-tar": "buffer", "application/x-7z-compressed": "buffer",
    "application/x-bzip": "buffer", "application/x-bzip2": "buffer",
    "image/png": "buffer", "image/jpeg": "buffer", "image/gif": "buffer",
    "image/webp": "buffer", "image/bmp": "buffer", "image/tiff": "buffer",
    "audio/mpeg": "buffer", "audio/wav": "buffer", "audio/ogg": "buffer",
}


def _auto(parse: bool) -> Callable[[bytes, dict[str, Any] | None], Any]:
    def convert(payload: bytes, props: dict[str, Any] | None) -> Any:
        declared_utf8 = False
        if props:
            declared_utf8 = props.get("payloadFormatIndicator") == 1
            kind = _MEDIA_TYPES.get(str(props.get("contentType", "")).lower())
            if kind == "string":
                return payload.decode(errors="replace")
            if kind == "buffer":
                return payload
            if kind == "json":
                value = _parse_json(payload)
                return value if parse else payload.decode()
        if parse:
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError:
                pass
        if declared_utf8:
            return payload.decode(errors="replace")
        text = _utf8(payload)
        return payload if text is None else text

    return convert


CONVERTERS: dict[str, Callable[[bytes, dict[str, Any] | None], Any]] = {
    "buffer": lambda payload, props: payload,
    "base64": lambda payload, props: base64.b64encode(payload).decode(),
    "utf8": lambda payload, props: payload.decode(errors="replace"),
    "json": lambda payload, props: _parse_json(payload),
    "auto": _auto(parse=False),
    "auto-detect": _auto(parse=True),
}
"""``mqtt in`` datatypes: payload bytes (and v5 properties) → msg.payload."""
