"""flowrt.payloads on its own: mqtt out's serialisation (numbers as JavaScript's
String() writes them) and every mqtt in datatype. The broker round trips are in
tests/nodes/test_mqtt.py."""

from __future__ import annotations

import math

import pytest

from flowrt.payloads import CONVERTERS, BadPayload, serialize_payload


@pytest.mark.parametrize(("value", "expected"), [
    (1e-7, b"1e-7"), (1e21, b"1e+21"), (1.5e-6, b"0.0000015"), (-0.0, b"0"),
    (math.nan, b"NaN"), (-math.inf, b"-Infinity"), (0.1, b"0.1"), (2.0, b"2"),
    (False, b"false"), ("\u00e9", "\u00e9".encode()), (bytearray(b"ab"), b"ab"),
    (memoryview(b"cd"), b"cd"), ((1, 2), b"[1,2]"), ({1: "a"}, b'{"1":"a"}'),
])
def test_serialize_payload_as_node_red_mqtt_out(value: object, expected: bytes) -> None:
    assert serialize_payload(value) == expected


def test_unpublishable_json_is_a_clear_error() -> None:
    deep: list = []
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]
    with pytest.raises(ValueError, match="nested more than 254 levels deep"):
        serialize_payload(deep)


@pytest.mark.parametrize(("datatype", "raw", "expected"), [
    ("buffer", b"\x00\x01", b"\x00\x01"),
    ("base64", b"hi", "aGk="),
    ("utf8", b"caf\xc3\xa9", "caf\u00e9"),
    ("json", b'{"a":1}', {"a": 1}),
    ("auto", b'{"a":1}', '{"a":1}'),
    ("auto", b"\xff", b"\xff"),
    ("auto-detect", b'{"a":1}', {"a": 1}),
    ("auto-detect", b"21.5", 21.5),
    ("auto-detect", b"hello", "hello"),
    ("auto-detect", b"\xff\xfe", b"\xff\xfe"),
])
def test_converters(datatype: str, raw: bytes, expected: object) -> None:
    assert CONVERTERS[datatype](raw, None) == expected


def test_mqtt5_content_type_decides_in_auto_modes() -> None:
    assert CONVERTERS["auto-detect"](b"12", {"contentType": "text/plain"}) == "12"
    assert CONVERTERS["auto-detect"](b"12", {"contentType": "application/octet-stream"}) == b"12"
    assert CONVERTERS["auto"](b'{"a":1}', {"contentType": "application/json"}) == '{"a":1}'
    assert CONVERTERS["auto-detect"](b"12", {"payloadFormatIndicator": 1}) == 12


def test_bad_json_keeps_what_was_received() -> None:
    with pytest.raises(BadPayload, match="Failed to parse JSON string") as caught:
        CONVERTERS["json"](b"{nope", None)
    assert caught.value.payload == "{nope"
    with pytest.raises(BadPayload, match="Invalid JSON string") as caught:
        CONVERTERS["json"](b"\xff", None)
    assert caught.value.payload == b"\xff"
