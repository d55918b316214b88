"""MQTT PUBLISH packets as bytes and back (MQTT 3.1.1 and 5), without a client library.

The transport's fast path: most of a busy connection's traffic is QoS 0 PUBLISH
packets, which a general client builds several objects for. This module is the
one place that knows their wire format (spec sections 2.2.3, 2.2.2 and 3.3):

* :func:`remaining_length` / :func:`read_remaining_length` — the variable-length
  size of every packet;
* :func:`encode_publish` / :func:`parse_publish` — a whole PUBLISH, any QoS, with
  MQTT 5 properties when ``v5``;
* :func:`publish_head` — the cacheable part of a QoS 0 PUBLISH after the fixed header
  (topic, and an empty property list on MQTT 5), which :func:`encode_publish_qos0`
  completes.

Properties are a dict under the names flowrt messages use (``contentType``,
``userProperties`` as a list of (key, value) pairs in wire order...), see
:data:`PROPERTIES`. Bytes that do not form a valid packet raise
:class:`MalformedPacket`. It is property-tested against paho-mqtt's own encoder and
decoder (``tests/test_mqtt_codec.py``); the Rust ``mqtt5`` package was measured as
an alternative and not taken: it speaks MQTT 5 only, and 3.1.1 is flowrt's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PUBLISH = 0x30
"""PUBLISH's packet type in the fixed header's high nibble."""
MAX_REMAINING_LENGTH = 268_435_455
"""The largest size four remaining-length bytes can say."""

_BYTE, _INT2, _INT4, _VARINT, _TEXT, _BINARY, _PAIR = range(7)

PROPERTIES: dict[int, tuple[str, int]] = {
    0x01: ("payloadFormatIndicator", _BYTE),
    0x02: ("messageExpiryInterval", _INT4),
    0x03: ("contentType", _TEXT),
    0x08: ("responseTopic", _TEXT),
    0x09: ("correlationData", _BINARY),
    0x0B: ("subscriptionIdentifier", _VARINT),
    0x23: ("topicAlias", _INT2),
    0x26: ("userProperties", _PAIR),
}
"""The properties a PUBLISH may carry: identifier → (name, wire type).
``userProperties`` and ``subscriptionIdentifier`` may repeat: their values are lists."""
_IDS = {name: (ident, kind) for ident, (name, kind) in PROPERTIES.items()}
_REPEATED = {"userProperties", "subscriptionIdentifier"}


class MalformedPacket(ValueError):
    """Bytes that are not a valid MQTT packet (the connection can no longer be trusted)."""


@dataclass(slots=True)
class Publish:
    """One PUBLISH packet."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    mid: int = 0
    """Packet identifier (QoS 1 and 2 only)."""
    properties: dict[str, Any] | None = None
    """MQTT 5 properties (see :data:`PROPERTIES`); None when there are none."""


def remaining_length(size: int) -> bytes:
    """MQTT's variable-length encoding of ``size`` (a packet's remaining length)."""
    if not 0 <= size <= MAX_REMAINING_LENGTH:
        raise ValueError(f"packet of {size} bytes is too large for MQTT")
    out = bytearray()
    while True:
        digit, size = size & 0x7F, size >> 7
        out.append(digit | 0x80 if size else digit)
        if not size:
            return bytes(out)


def read_remaining_length(buf: bytes | bytearray | memoryview,
                          pos: int) -> tuple[int, int] | None:
    """(length, position after it) of the variable-length integer at ``buf[pos]``, or
    None when ``buf`` ends before it does; more than four bytes is malformed."""
    length = shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            return None
        byte = buf[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return length, pos
        shift += 7
        if shift > 21:
            raise MalformedPacket("remaining length longer than four bytes")


def _text(value: str) -> bytes:
    data = value.encode()
    if len(data) > 0xFFFF:
        raise ValueError(f"string of {len(data)} bytes is too long for MQTT")
    return len(data).to_bytes(2, "big") + data


def publish_head(topic: str, v5: bool) -> bytes:
    """A QoS 0 PUBLISH's variable header for ``topic`` (with no properties on MQTT 5).

    Raises ValueError for a topic that cannot be published to (empty, too long, or
    with a wildcard)."""
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"invalid topic for publishing: {topic!r}")
    try:
        head = _text(topic)
    except ValueError:
        raise ValueError(f"invalid topic for publishing: {topic[:50]!r}...") from None
    return head + b"\x00" if v5 else head


def encode_publish_qos0(head: bytes, payload: bytes | bytearray | memoryview,
                        retain: bool) -> bytes:
    """The fixed header of a QoS 0 PUBLISH whose variable header is ``head``
    (:func:`publish_head`); the packet is that, ``head``, then ``payload``."""
    size = len(head) + len(payload)
    first = PUBLISH | 0x01 if retain else PUBLISH
    if size < 128:
        return bytes((first, size))
    return bytes((first,)) + remaining_length(size)


def encode_properties(properties: dict[str, Any] | None) -> bytes:
    """An MQTT 5 property list (its length, then each property)."""
    out = bytearray()
    for name, value in (properties or {}).items():
        if name not in _IDS:
            raise ValueError(f"{name!r} is not a PUBLISH property")
        ident, kind = _IDS[name]
        for item in (value if name in _REPEATED else [value]):
            out.append(ident)
            if kind == _BYTE:
                out.append(item)
            elif kind == _INT2:
                out += item.to_bytes(2, "big")
            elif kind == _INT4:
                out += item.to_bytes(4, "big")
            elif kind == _VARINT:
                out += remaining_length(item)
            elif kind == _TEXT:
                out += _text(item)
            elif kind == _BINARY:
                out += len(item).to_bytes(2, "big") + bytes(item)
            else:
                out += _text(item[0]) + _text(item[1])
    return remaining_length(len(out)) + out


def encode_publish(packet: Publish, v5: bool) -> bytes:
    """A whole PUBLISH packet."""
    if packet.qos not in (0, 1, 2):
        raise ValueError(f"QoS {packet.qos} is not 0, 1 or 2")
    variable = _text(packet.topic)
    if packet.qos:
        variable += packet.mid.to_bytes(2, "big")
    if v5:
        variable += encode_properties(packet.properties)
    first = PUBLISH | packet.qos << 1 | (0x08 if packet.dup else 0) | (0x01 if packet.retain
                                                                        else 0)
    size = len(variable) + len(packet.payload)
    return bytes((first,)) + remaining_length(size) + variable + bytes(packet.payload)


def _read_text(body: bytes | bytearray | memoryview, pos: int, stop: int) -> tuple[str, int]:
    raw, pos = _read_binary(body, pos, stop)
    try:
        return raw.decode(), pos
    except UnicodeDecodeError:
        raise MalformedPacket("string is not UTF-8") from None


def _read_binary(body: bytes | bytearray | memoryview, pos: int,
                 stop: int) -> tuple[bytes, int]:
    if pos + 2 > stop:
        raise MalformedPacket("string length runs past the end")
    end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if end > stop:
        raise MalformedPacket("string runs past the end")
    return bytes(body[pos + 2:end]), end


_FIXED = {_BYTE: 1, _INT2: 2, _INT4: 4}


def parse_properties(body: bytes | bytearray | memoryview, pos: int,
                     stop: int) -> tuple[dict[str, Any] | None, int]:
    """The MQTT 5 property list at ``body[pos]`` (ending by ``stop``): (properties or
    None, position after it)."""
    found = read_remaining_length(body, pos)
    if found is None:
        raise MalformedPacket("property length runs past the end")
    length, pos = found
    end = pos + length
    if end > stop:
        raise MalformedPacket("properties run past the end")
    out: dict[str, Any] = {}
    while pos < end:
        ident = body[pos]
        if ident not in PROPERTIES:
            raise MalformedPacket(f"property {ident:#04x} is not allowed in PUBLISH")
        name, kind = PROPERTIES[ident]
        pos += 1
        value: Any
        if kind in _FIXED:
            size = _FIXED[kind]
            if pos + size > end:
                raise MalformedPacket(f"{name} runs past the end")
            value = int.from_bytes(body[pos:pos + size], "big")
            pos += size
        elif kind == _VARINT:
            found = read_remaining_length(body, pos)
            if found is None or found[1] > end:
                raise MalformedPacket(f"{name} runs past the end")
            value, pos = found
        elif kind == _TEXT:
            value, pos = _read_text(body, pos, end)
        elif kind == _BINARY:
            value, pos = _read_binary(body, pos, end)
        else:
            key, pos = _read_text(body, pos, end)
            item, pos = _read_text(body, pos, end)
            value = (key, item)
        if name in _REPEATED:
            out.setdefault(name, []).append(value)
        elif name in out:
            raise MalformedPacket(f"{name} appears twice")
        else:
            out[name] = value
    return out or None, end


PublishFields = tuple[str, bytes, int, bool, bool, int, "dict[str, Any] | None", int]
"""A PUBLISH as a plain tuple: :class:`Publish`'s fields in order, then where the packet
ends in the buffer."""


def parse_publish(data: bytes, v5: bool) -> Publish:
    """The PUBLISH packet that is all of ``data``."""
    found = read_publish(data, 0, v5)
    if found is None or found[-1] != len(data):
        raise MalformedPacket("not one whole PUBLISH packet")
    return Publish(*found[:-1])


def read_publish(buf: bytes, pos: int, v5: bool) -> PublishFields | None:
    """The PUBLISH packet at ``buf[pos]`` as a tuple (topic, payload, qos, retain, dup,
    mid, properties, end), or None when ``buf`` does not hold all of it yet.

    What the transport's fast path calls for every message received, hence written out
    rather than through the helpers and returning a tuple rather than a :class:`Publish`.
    """
    end = len(buf)
    if pos + 1 >= end:
        return None
    first = buf[pos]
    qos = (first >> 1) & 0x03
    if first & 0xF0 != PUBLISH or qos == 3:
        raise MalformedPacket(f"not a PUBLISH packet: first byte {first:#04x}")
    if buf[pos + 1] < 0x80:  # a one-byte remaining length: most packets
        start = pos + 2
        stop = start + buf[pos + 1]
    else:
        found = read_remaining_length(buf, pos + 1)
        if found is None:
            return None
        stop = found[1] + found[0]
        start = found[1]
    if stop > end:
        return None
    at = start + 2
    if at > stop:
        raise MalformedPacket("topic length runs past the end")
    topic_end = at + ((buf[start] << 8) | buf[start + 1])
    if topic_end > stop:
        raise MalformedPacket("topic runs past the end")
    try:
        topic = buf[at:topic_end].decode()
    except UnicodeDecodeError:
        raise MalformedPacket("topic is not UTF-8") from None
    at, mid = topic_end, 0
    if qos:
        if at + 2 > stop:
            raise MalformedPacket("packet identifier runs past the end")
        mid = (buf[at] << 8) | buf[at + 1]
        at += 2
    properties = None
    if v5:
        if at < stop and buf[at] == 0:
            at += 1  # no properties: the usual case
        else:
            properties, at = parse_properties(buf, at, stop)
    return (topic, buf[at:stop], qos, (first & 0x01) == 1, (first & 0x08) == 8, mid,
            properties, stop)
