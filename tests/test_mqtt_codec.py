"""flowrt.mqtt.codec against paho-mqtt's own PUBLISH encoder and decoder (round trips
both ways, MQTT 3.1.1 and 5, every QoS, every PUBLISH property)."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes

from flowrt.mqtt import codec
from flowrt.mqtt.paho_adapter import from_paho_properties, to_paho_properties


class NoSocket:
    """What paho holds as its socket while it only encodes."""

    def close(self) -> None:
        """Nothing to close."""


class PahoCodec(paho.Client):
    """paho's encoder and decoder driven without a network: what it would send is
    captured, what it would read is handed to it."""

    def __init__(self, v5: bool) -> None:
        protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        super().__init__(CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
        self.sent: list[bytes] = []
        self.received: list[paho.MQTTMessage] = []
        self.on_message = lambda client, userdata, message: self.received.append(message)
        self._sock = NoSocket()  # paho encodes only while it has a socket; none is used

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: Any = None) -> MQTTErrorCode:
        self.sent.append(bytes(packet))
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def encode(self, packet: codec.Publish) -> bytes:
        props = to_paho_properties(packet.properties, PacketTypes.PUBLISH)
        self._send_publish(packet.mid, packet.topic.encode(), packet.payload, packet.qos,
                           packet.retain, packet.dup, None, props)
        return self.sent.pop()

    def decode(self, data: bytes) -> codec.Publish:
        length, start = codec.read_remaining_length(data, 1) or (0, 0)
        assert start + length == len(data)
        self._in_packet["command"] = data[0]
        self._in_packet["packet"] = bytearray(data[start:])
        self._handle_publish()
        if data[0] & 0x06 == 0x04:  # QoS 2: paho delivers on PUBREL
            self._handle_on_message(self._in_messages.pop(self.received_mid(data, start)))
        message = self.received.pop()
        return codec.Publish(message.topic, message.payload, message.qos, message.retain,
                             bool(message.dup), message.mid if message.qos else 0,
                             from_paho_properties(message.properties))

    @staticmethod
    def received_mid(data: bytes, start: int) -> int:
        topic_end = start + 2 + int.from_bytes(data[start:start + 2], "big")
        return int.from_bytes(data[topic_end:topic_end + 2], "big")


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30)
TOPIC = TEXT.filter(lambda t: t and "+" not in t and "#" not in t)
PROPERTIES = st.fixed_dictionaries({}, optional={
    "payloadFormatIndicator": st.integers(0, 1),
    "messageExpiryInterval": st.integers(0, 2**32 - 1),
    "contentType": TEXT,
    "responseTopic": TOPIC,
    "correlationData": st.binary(max_size=40),
    "subscriptionIdentifier": st.lists(st.integers(1, 268_435_455), min_size=1, max_size=3),
    "topicAlias": st.integers(1, 65535),
    "userProperties": st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=4),
}).map(lambda props: props or None)


@st.composite
def publishes(draw: Any, v5: bool) -> codec.Publish:
    qos = draw(st.integers(0, 2))
    return codec.Publish(
        topic=draw(TOPIC), payload=draw(st.binary(max_size=300)), qos=qos,
        retain=draw(st.booleans()), dup=draw(st.booleans()) if qos else False,
        mid=draw(st.integers(1, 65535)) if qos else 0,
        properties=draw(PROPERTIES) if v5 else None)


@pytest.mark.parametrize("v5", [False, True])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_paho_reads_what_the_codec_writes(v5: bool, data: st.DataObject) -> None:
    packet = data.draw(publishes(v5))
    assert PahoCodec(v5).decode(codec.encode_publish(packet, v5)) == packet


@pytest.mark.parametrize("v5", [False, True])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_codec_reads_what_paho_writes(v5: bool, data: st.DataObject) -> None:
    packet = data.draw(publishes(v5))
    wire = PahoCodec(v5).encode(packet)
    assert codec.parse_publish(wire, v5) == packet
    assert codec.read_publish(wire[:-1], 0, v5) is None  # not all there yet
    if not packet.properties:  # property order is free; without any, the bytes agree
        assert codec.encode_publish(packet, v5) == wire


@pytest.mark.parametrize("v5", [False, True])
@settings(max_examples=200, deadline=None)
@given(topic=TOPIC, payload=st.binary(max_size=70_000), retain=st.booleans())
def test_the_qos0_fast_path_writes_what_paho_writes(v5: bool, topic: str, payload: bytes,
                                                     retain: bool) -> None:
    head = codec.publish_head(topic, v5)
    wire = codec.encode_publish_qos0(head, payload, retain) + head + payload
    assert wire == PahoCodec(v5).encode(codec.Publish(topic, payload, 0, retain))


@given(size=st.integers(0, codec.MAX_REMAINING_LENGTH))
def test_remaining_length_round_trips(size: int) -> None:
    encoded = codec.remaining_length(size)
    assert len(encoded) == 1 + (size >= 128) + (size >= 16_384) + (size >= 2_097_152)
    assert codec.read_remaining_length(b"\x30" + encoded, 1) == (size, 1 + len(encoded))
    assert codec.read_remaining_length(encoded[:-1], 0) is None  # not all there yet


@pytest.mark.parametrize(("data", "v5"), [
    (b"\x30\x01\x00", False),  # the topic length runs past the end
    (b"\x30\x04\x00\x02\xff\xfe", False),  # the topic is not UTF-8
    (b"\x36\x04\x00\x01a\x00", False),  # QoS 3
    (b"\x32\x03\x00\x01a", False),  # no packet identifier
    (b"\x30\x05\x00\x01a\x02\x2a", True),  # a property PUBLISH may not carry
    (b"\x30\x08\x00\x01a\x04\x01\x01\x01\x01", True),  # payloadFormatIndicator twice
    (b"\x30\x05\x00\x01a\x09\x00", True),  # the properties run past the end
])
def test_malformed_packets_are_refused(data: bytes, v5: bool) -> None:
    with pytest.raises(codec.MalformedPacket):
        codec.parse_publish(data, v5)


def test_a_remaining_length_of_five_bytes_is_malformed() -> None:
    with pytest.raises(codec.MalformedPacket):
        codec.read_remaining_length(b"\xff\xff\xff\xff\x01", 0)


@pytest.mark.parametrize("topic", ["", "a/+", "a/#", "x" * 65_536])
def test_topics_that_cannot_be_published_to(topic: str) -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        codec.publish_head(topic, v5=False)
