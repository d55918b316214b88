"""MqttTransport against a real mosquitto: flow control, the bounded queue, close."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from flowrt.mqtt import ConnectOptions, MqttTransport, PublishDropped, Subscription
from tests.nodes.test_mqtt import Client, until

pytestmark = pytest.mark.broker

T = TypeVar("T")


class Gate:
    """A flow-control stand-in for the dispatcher."""

    def __init__(self) -> None:
        self.saturated = False
        self.waiters: list[Callable[[], None]] = []
        self.congested: list[bool] = []
        self.wake_ups = 0

    def when_drained(self, callback: Callable[[], None]) -> None:
        self.waiters.append(callback)

    def source_pass(self, read: Callable[[], T]) -> T:
        """Nothing is queued here (messages are handled as they are read): count reads."""
        self.wake_ups += 1
        return read()

    def after_pass(self, callback: Callable[[], None]) -> bool:
        return False

    def congest(self, holder: object) -> None:
        self.congested.append(True)

    def relieve(self, holder: object) -> None:
        self.congested.append(False)


async def test_reading_pauses_while_saturated(mosquitto: Any) -> None:
    gate = Gate()
    received: list[bytes] = []

    def on_message(topic: str, payload: bytes, qos: int, retain: bool, props: Any) -> None:
        received.append(payload)
        if len(received) == 1:
            gate.saturated = True  # the flow falls behind after the first message

    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port), on_message=on_message,
                              flow_control=gate)
    transport.start()
    publisher = Client(mosquitto.port)
    try:
        await until(lambda: transport.connected)
        transport.subscribe("load", Subscription(qos=0))
        await asyncio.sleep(0.1)
        for i in range(2000):
            publisher.client.publish("load", str(i), 0)
        await until(lambda: gate.waiters)
        paused_at = len(received)
        await asyncio.sleep(0.2)
        assert len(received) == paused_at < 2000  # nothing read while paused
        gate.saturated = False
        gate.waiters.pop()()
        await until(lambda: len(received) == 2000)
        assert received == [str(i).encode() for i in range(2000)]
    finally:
        publisher.close()
        await transport.close()


async def test_bounded_queue_while_disconnected(mosquitto: Any) -> None:
    mosquitto.stop()
    states: list[str] = []
    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port, max_queued=5),
                              on_message=lambda *a: None,
                              on_state=lambda state, detail: states.append(state))
    transport.start()
    futures = [transport.publish("t", b"x", 1) for _ in range(5)]
    with pytest.raises(PublishDropped, match="full"):
        transport.publish("t", b"x", 1)
    with pytest.raises(PublishDropped, match="QoS 0"):
        transport.publish("t", b"x", 0)
    assert transport.stats.dropped == 2
    await until(lambda: "disconnected" in states)
    await transport.close()
    assert states[0] == "connecting" and states[-1] == "closed"
    for future in futures:
        assert future is not None and isinstance(future.exception(), ConnectionError)


async def test_reconnects_and_resubscribes(mosquitto: Any) -> None:
    received: list[bytes] = []
    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port, client_id="re"),
                              on_message=lambda t, p, *rest: received.append(p))
    transport.subscribe("again", Subscription(qos=1))
    transport.start()
    await until(lambda: transport.connected)
    mosquitto.restart()
    await until(lambda: transport.stats.connects == 2, within=10)
    publisher = Client(mosquitto.port)
    try:
        await until(lambda: _publish_until(publisher, received))
    finally:
        publisher.close()
        await transport.close()


def _publish_until(publisher: Client, received: list[bytes]) -> bool:
    if not received:
        publisher.publish("again", "back")
    return bool(received)


@pytest.mark.parametrize("protocol", [4, 5])
async def test_qos0_fast_path_encodes_packets_of_every_size(mosquitto: Any, protocol: int) -> None:
    # Remaining lengths of 1, 2 and 3 bytes, an empty payload, retain, and a topic
    # with non-ASCII characters: what arrives must be byte-for-byte what was sent.
    sizes = [0, 5, 121, 122, 200, 16_380, 16_400, 300_000]
    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port, protocol=protocol),
                              on_message=lambda *args: None)
    transport.start()
    subscriber = Client(mosquitto.port, v5=protocol == 5)
    try:
        subscriber.subscribe("fast/#", qos=0)
        await until(lambda: transport.connected)
        for size in sizes:
            transport.publish("fast/größe", bytes(i % 251 for i in range(size)), 0, False)
        transport.publish("fast/kept", b"retained", 0, True)
        await until(lambda: len(subscriber.messages) == len(sizes) + 1)
        assert [len(p) for p in subscriber.payloads()[:-1]] == sizes
        assert all(p == bytes(i % 251 for i in range(len(p)))
                   for p in subscriber.payloads()[:-1])
        assert {m.topic for m in subscriber.messages} == {"fast/größe", "fast/kept"}
        late = Client(mosquitto.port)
        try:
            late.subscribe("fast/kept", qos=0)
            await until(lambda: late.payloads() == [b"retained"])
            assert late.messages[0].retain
        finally:
            late.close()
        with pytest.raises(ValueError, match="invalid topic"):
            transport.publish("fast/+", b"x", 0, False)
        with pytest.raises(ValueError, match="invalid topic"):  # also with v5 properties
            transport.publish("fast/+", b"x", 0, False, {"contentType": "text/plain"})
    finally:
        subscriber.close()
        await transport.close()


@pytest.mark.parametrize("protocol", [4, 5])
async def test_receiving_parses_every_packet_shape_in_order(mosquitto: Any,
                                                            protocol: int) -> None:
    # QoS 0 packets take flowrt's fast parser, anything else paho's: both must keep
    # order and content, across read-chunk boundaries (256 KiB) and v5 properties.
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got: list[tuple[str, bytes, int, bool, Any]] = []
    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port, protocol=protocol),
                              on_message=lambda *args: got.append(args))
    transport.start()
    publisher = Client(mosquitto.port, v5=protocol == 5)
    try:
        await until(lambda: transport.connected)
        transport.subscribe("shape/#", Subscription(qos=1))
        await asyncio.sleep(0.2)  # SUBACK
        sent: list[tuple[str, bytes, int]] = []
        for n in range(1200):
            qos = 1 if n % 97 == 0 else 0
            payload = bytes([n % 256]) * (n * 7 % 700) if n != 600 else b"x" * 300_000
            topic = "shape/ü" if n % 2 else "shape/a"
            publisher.client.publish(topic, payload, qos)
            sent.append((topic, payload, qos))
        if protocol == 5:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("k", "v")]
            publisher.client.publish("shape/props", b"p", 0, properties=props)
            sent.append(("shape/props", b"p", 0))
        await until(lambda: len(got) == len(sent), within=10)
        assert [(t, p, q) for t, p, q, _, _ in got] == sent
        if protocol == 5:
            assert got[-1][4] == {"userProperties": {"k": "v"}}
        publisher.publish("shape/kept", b"r", qos=0, retain=True)
        late = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port, protocol=protocol),
                             on_message=lambda *args: got.append(args))
        late.start()
        try:
            await until(lambda: late.connected)
            late.subscribe("shape/kept", Subscription(qos=0))
            await until(lambda: got[-1][0] == "shape/kept" and got[-1][3] is True)
        finally:
            await late.close()
    finally:
        publisher.close()
        await transport.close()


async def subscribed(publisher: Client, topic: str, seen: Callable[[], bool]) -> None:
    """Publish probes on ``topic`` until the transport under test has one (bounded):
    its SUBACK cannot be observed from outside."""
    for _ in range(250):
        if seen():
            return
        publisher.client.publish(topic, b"probe", 0)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no subscription to {topic!r} within 5 s")


@pytest.mark.parametrize("qos", [0, 1])
async def test_a_message_whose_handler_fails_is_counted_and_the_next_one_arrives(
        mosquitto: Any, qos: int, caplog: pytest.LogCaptureFixture) -> None:
    received: list[bytes] = []
    probes: list[bytes] = []

    def on_message(topic: str, payload: bytes, qos: int, retain: bool, props: Any) -> None:
        if payload == b"probe":
            probes.append(payload)
        elif payload == b"bad":
            raise RecursionError("maximum recursion depth exceeded")
        else:
            received.append(payload)

    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port),
                              on_message=on_message)
    transport.subscribe("h", Subscription(qos=qos))
    transport.start()
    publisher = Client(mosquitto.port)
    try:
        await subscribed(publisher, "h", lambda: bool(probes))
        publisher.publish("h", b"bad", qos)
        publisher.publish("h", b"good", qos)
        await until(lambda: received == [b"good"])
        assert transport.stats.failed == 1
        assert "Handling a message on topic 'h' from" in caplog.text
        assert "RecursionError: maximum recursion depth exceeded" in caplog.text
        assert transport.connected and transport.stats.connects == 1
    finally:
        publisher.close()
        await transport.close()


async def test_a_wake_up_reads_a_bounded_number_of_bytes(mosquitto: Any) -> None:
    # Issue 11, finding 10: up to 512 packets were read per wake-up whatever their
    # size. The flow (here a handler doing a little work per message) must handle
    # what was read before more is taken in, however fast the broker sends.
    from flowrt.mqtt.transport import READ_BYTES_BUDGET, READ_CHUNK

    size, count = 100_000, 60
    gate = Gate()
    per_wake_up: dict[int, int] = {}
    probes: list[bytes] = []

    def on_message(topic: str, payload: bytes, qos: int, retain: bool, props: Any) -> None:
        if payload == b"probe":
            probes.append(payload)
            if len(probes) == 1:
                gate.saturated = True  # pause reading until all are sent
            return
        per_wake_up[gate.wake_ups] = per_wake_up.get(gate.wake_ups, 0) + len(payload)
        hashlib.sha256(payload * 20).digest()  # the flow's work: data keeps arriving

    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port),
                              on_message=on_message, flow_control=gate)
    transport.subscribe("big", Subscription(qos=0))
    transport.start()
    publisher = Client(mosquitto.port)
    try:
        await subscribed(publisher, "big", lambda: bool(gate.waiters))
        for _ in range(count):
            publisher.publish("big", b"x" * size, 1)  # each acknowledged by the broker
        gate.saturated = False
        gate.waiters.pop()()
        await until(lambda: sum(per_wake_up.values()) == size * count, within=10)
        assert max(per_wake_up.values()) <= READ_BYTES_BUDGET + READ_CHUNK + size
    finally:
        publisher.close()
        await transport.close()


async def test_a_broker_that_does_not_read_pauses_the_sources(mosquitto: Any) -> None:
    # Relaying faster than the broker reads grew the write buffer without bound.
    from flowrt.mqtt.transport import WRITE_BACKLOG_HIGH

    gate = Gate()
    transport = MqttTransport(ConnectOptions("127.0.0.1", mosquitto.port),
                              on_message=lambda *args: None, flow_control=gate)
    transport.start()
    try:
        await until(lambda: transport.connected)
        mosquitto.process.send_signal(signal.SIGSTOP)  # reads nothing: the socket fills up
        chunk = b"y" * 1_000_000
        for _ in range(24):  # more than the kernel's buffers take, plus the high mark
            transport.publish("sink", chunk, 0)
        await until(lambda: gate.congested == [True])
        assert transport._client.write_backlog() > WRITE_BACKLOG_HIGH // 4
        mosquitto.process.send_signal(signal.SIGCONT)
        await until(lambda: gate.congested == [True, False])  # sent: the sources resume
    finally:
        mosquitto.process.send_signal(signal.SIGCONT)
        await transport.close()


async def test_the_offline_queue_is_bounded_in_bytes(mosquitto: Any) -> None:
    mosquitto.stop()
    transport = MqttTransport(
        ConnectOptions("127.0.0.1", mosquitto.port, max_queued_bytes=1000),
        on_message=lambda *a: None)
    transport.start()
    try:
        first = transport.publish("t", b"x" * 1500, 1)  # an empty queue takes any message
        with pytest.raises(PublishDropped, match=r"publish queue is full \(1500 of 1000 bytes"):
            transport.publish("t", b"x", 1)
        assert (transport.queued, transport.queued_bytes, transport.stats.dropped) == (1, 1500, 1)
        mosquitto.start()
        await until(lambda: first is not None and first.done(), within=10)
        assert first is not None and first.exception() is None
        assert (transport.queued, transport.queued_bytes) == (0, 0)
        second = transport.publish("t", b"x" * 1500, 1)
        assert second is not None
    finally:
        await transport.close()


class RawBroker:
    """A TCP server speaking just enough MQTT 3.1.1 to send packets mosquitto would
    never pass on: CONNACK to the CONNECT, then whatever the test writes."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.received = bytearray()
        self.connects = 0
        self.connected = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(2)  # CONNECT's first bytes: enough to answer it
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted
        self.writer, self.connects = writer, self.connects + 1
        self.connected.set()
        while data := await reader.read(65536):
            self.received += data

    def publish(self, topic: bytes, payload: bytes, mid: int) -> None:
        """A QoS 1 PUBLISH, topic bytes as given."""
        body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + payload
        assert self.writer is not None and len(body) < 128
        self.writer.write(bytes((0x32, len(body))) + body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.server.close()
        await self.server.wait_closed()


async def test_a_topic_that_is_not_utf8_is_that_messages_failure() -> None:
    broker = RawBroker()
    port = await broker.start()
    received: list[tuple[str, bytes]] = []
    transport = MqttTransport(ConnectOptions("127.0.0.1", port),
                              on_message=lambda t, p, *rest: received.append((t, p)))
    transport.start()
    try:
        await asyncio.wait_for(broker.connected.wait(), 5)
        broker.publish(b"bad\xff\xfe", b"x", mid=1)
        broker.publish(b"ok", b"good", mid=2)
        await until(lambda: received == [("ok", b"good")])
        assert transport.stats.failed == 1 and broker.connects == 1
        await until(lambda: b"\x40\x02\x00\x02" in broker.received)  # PUBACK 2
        assert b"\x40\x02\x00\x01" in broker.received  # the bad one is acknowledged too
    finally:
        await transport.close()
        await broker.close()

