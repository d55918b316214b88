"""One MQTT client connection driven by the asyncio event loop (paho-mqtt, no thread).

paho-mqtt's protocol engine runs on the loop: its socket is registered with
``loop.add_reader``/``add_writer`` and paho's ``loop_read``/``loop_write``/
``loop_misc`` steps are called from there, so a received message reaches the
flow with no thread hop and no task. Two paho internals are specialised for
speed (paho ``>=2.1,<3`` is pinned for this): reads are buffered (one ``recv``
serves many packets instead of three syscalls per packet) and one wake-up
reads every packet available, up to a budget of packets and of bytes, so that
large messages are read a few at a time while the flow handles them.

Failures stay where they happen: a callback that raises (``on_message``,
``on_state``...) is logged and the next message is read as usual; an
unexpected failure inside the protocol engine drops the connection, which is
then made again, since the position in the stream can no longer be trusted.

Only the blocking part of connecting (DNS, TCP connect, TLS handshake) runs in
a worker thread, once per connection attempt; the ready socket is then handed
to paho on the loop.

The interface is deliberately narrow so another client library could replace
paho: :class:`MqttTransport` (``start``, ``subscribe``, ``unsubscribe``,
``publish``, ``close``) plus the ``on_message`` and ``on_state`` callbacks.

Flow control: when ``flow_control.saturated`` is true (the runtime's run queue
is half full) the transport stops reading the socket and resumes when
``flow_control.when_drained`` calls back; the broker's queue and the TCP window
absorb the excess meanwhile. A transport whose own bytes waiting to be written
exceed ``WRITE_BACKLOG_HIGH`` (the broker reads slower than the flow publishes)
congests the flow control the same way until they are sent: the sources pause,
the write buffer stays bounded. (Publishes waiting for acknowledgements cannot
pause reading: the acknowledgements arrive on the same socket.)

QoS 1 and 2 publishes: at most ``max_inflight`` (capped by an MQTT 5 broker's
Receive Maximum) are unacknowledged at once; the others wait, in order, in a
queue of at most ``max_queued`` messages, also while not connected, and are
sent after the next CONNACK. While not connected, the queue also takes at most
``max_queued_bytes`` bytes of payload (one message of any size fits in an empty
queue). While connected it needs no byte bound: what waits there is what the
sources let in, and pausing them for it could stop the very acknowledgements
that empty it. Each publish's future resolves on PUBACK/PUBCOMP. Beyond the
bounds, and for QoS 0 while not connected, :meth:`MqttTransport.publish` raises
:class:`PublishDropped` and counts the message in ``dropped``.

Receiving QoS 1 and 2: ``on_message`` may return an awaitable; the message is
then acknowledged to the broker (PUBACK, or PUBREC for QoS 2) only when it is
done, so a message the process dies holding is redelivered by the broker (with a
persistent session). QoS 2 messages are therefore handed over on PUBLISH rather
than on PUBREL (the spec allows either), and PUBCOMP answers PUBREL. An
acknowledgement whose connection has meanwhile been lost is not sent: the broker
redelivers that message on the new connection. A message whose future failed
with :class:`~flowrt.errors.NotStoredError` (a durable node could not take it)
is not acknowledged at all when the session is persistent: the connection is
then made again after ``reconnect_max`` seconds, for the broker to deliver it
again (it resends unacknowledged messages only on a new connection). With a
clean session it would be lost all the same, so it is acknowledged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from flowrt.clock import Clock, TimerHandle
from flowrt.errors import NotStoredError

log = logging.getLogger("flowrt.mqtt")

READ_CHUNK = 256 * 1024
READ_BUDGET = 512
"""Packets handled per wake-up before yielding to the rest of the loop."""
READ_BYTES_BUDGET = 1024 * 1024
"""Bytes read from the socket per wake-up (beyond it, the packet being read is
finished first): the flow handles what was read before more is taken in."""
WRITE_BACKLOG_HIGH = 4 * 1024 * 1024
"""Bytes waiting to be written above which sources pause, until a quarter is left."""
CLOSE_ACK_TIMEOUT = 2.0
"""How long ``close`` waits for the broker to acknowledge the last message."""

PROTOCOLS = {3: MQTTProtocolVersion.MQTTv31, 4: MQTTProtocolVersion.MQTTv311,
             5: MQTTProtocolVersion.MQTTv5}

# MQTT v5 properties as flowrt messages name them → paho's property names.
_V5_PROPERTIES = {
    "contentType": "ContentType",
    "responseTopic": "ResponseTopic",
    "correlationData": "CorrelationData",
    "messageExpiryInterval": "MessageExpiryInterval",
    "payloadFormatIndicator": "PayloadFormatIndicator",
}


class PublishDropped(Exception):
    """A publish could not be queued (not connected at QoS 0, or the queue is full)."""


class FlowControl(Protocol):
    """Who tells the transport to stop reading (the runtime's dispatcher)."""

    @property
    def saturated(self) -> bool: ...

    def when_drained(self, callback: Callable[[], None]) -> None: ...

    def run_pending(self) -> None: ...

    def congest(self, holder: object) -> None: ...

    def relieve(self, holder: object) -> None: ...


@dataclass
class Will:
    """A message the broker publishes when the connection is lost uncleanly."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: dict[str, Any] | None = None


@dataclass
class ConnectOptions:
    """How to reach and log in to a broker."""

    host: str
    port: int = 1883
    client_id: str = ""
    protocol: int = 4
    """3 (MQTT 3.1), 4 (3.1.1) or 5."""
    keepalive: int = 60
    clean_session: bool = True
    username: str | None = None
    password: str | None = None
    will: Will | None = None
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None
    """TLS server name (SNI and certificate check); default ``host``."""
    session_expiry: int | None = None
    """MQTT v5 session expiry interval in seconds (persistent sessions)."""
    user_properties: dict[str, Any] | None = None
    """MQTT v5 CONNECT user properties."""
    connect_timeout: float = 10.0
    reconnect_min: float = 0.2
    """First retry delay after a failure (later ones double, with jitter)."""
    reconnect_max: float = 5.0
    """Cap of the retry delay (Node-RED's ``mqttReconnectTime``)."""
    max_inflight: int = 100
    """QoS 1/2 publishes awaiting their acknowledgement at once."""
    max_queued: int = 100_000
    """QoS 1/2 publishes waiting for a connection or for the in-flight window."""
    max_queued_bytes: int = 32 * 1024 * 1024
    """Payload bytes those waiting publishes may hold (Node-RED has no such bound)."""


@dataclass
class Subscription:
    """Options of one subscription, re-sent after every reconnect."""

    qos: int = 2
    no_local: bool = False
    retain_as_published: bool = True
    retain_handling: int = 0


@dataclass
class TransportStats:
    """Counters for status and metrics."""

    received: int = 0
    published: int = 0
    dropped: int = 0
    failed: int = 0
    """Received messages whose handler raised (logged; the next one is read as usual)."""
    withheld: int = 0
    """Received messages not acknowledged because they were not stored (NotStoredError)."""
    connects: int = 0
    bytes_received: int = 0
    failures: list[str] = field(default_factory=list)


_Publish = tuple[str, bytes, int, bool, Properties | None, "asyncio.Future[None]"]
MessageHandler = Callable[[str, bytes, int, bool, dict[str, Any] | None],
                          "asyncio.Future[Any] | None"]
"""``on_message(topic, payload, qos, retain, v5_properties_or_None)``; may return a
future: a QoS 1/2 message is acknowledged to the broker only once it is done."""
StateHandler = Callable[[str, str], None]
"""``on_state(state, detail)``; state is connecting, connected, disconnected or closed."""


TOPIC_CACHE_SIZE = 4096


def _remaining_length(size: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length."""
    out = bytearray()
    while True:
        digit, size = size % 128, size // 128
        out.append(digit | 0x80 if size else digit)
        if not size:
            return bytes(out)


class _LoopClient(paho.Client):
    """paho's client with buffered reads, a socket connected outside it, and
    acknowledgements of received QoS 1/2 messages sent by :meth:`acknowledge`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared_socket: socket.socket | ssl.SSLSocket | None = None
        self._rbuf = b""
        self._rpos = 0
        self.bytes_in = 0
        self._in_publish = False
        self._held_pubrec: int | None = None
        self._topic_heads: dict[str, bytes] = {}

    def acknowledge(self, mid: int, qos: int) -> None:
        """PUBACK (QoS 1) or PUBREC (QoS 2) a received message once it is done."""
        if qos == 1:
            self._send_puback(mid)
        else:
            super()._send_pubrec(mid)

    def _handle_publish(self) -> MQTTErrorCode:
        # paho answers a QoS 2 PUBLISH with PUBREC at once and delivers on PUBREL;
        # hold the PUBREC back and deliver now, so PUBREC can wait for completion.
        self._in_publish, self._held_pubrec = True, None
        try:
            rc = super()._handle_publish()
        finally:
            self._in_publish = False
        if self._held_pubrec is not None:
            with self._in_message_mutex:
                message = self._in_messages.pop(self._held_pubrec, None)
            if message is not None:
                self._handle_on_message(message)
        return rc

    def _send_pubrec(self, mid: int) -> MQTTErrorCode:
        if self._in_publish:
            self._held_pubrec = mid
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._send_pubrec(mid)

    def _handle_pubrel(self) -> MQTTErrorCode:
        # The message was delivered on PUBLISH; with manual acks paho only logs here.
        rc = super()._handle_pubrel()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return rc
        return self._send_pubcomp(int.from_bytes(self._in_packet["packet"][:2], "big"))

    def _create_socket(self) -> Any:
        sock, self.prepared_socket = self.prepared_socket, None
        if sock is None:
            raise ConnectionError("no connected socket prepared")
        self._rbuf, self._rpos = b"", 0
        return sock

    def _sock_recv(self, bufsize: int) -> bytes:
        pos = self._rpos
        if pos >= len(self._rbuf):
            data = super()._sock_recv(READ_CHUNK)
            if not data:
                return data
            self.bytes_in += len(data)
            self._rbuf, pos = data, 0
        end = pos + bufsize
        self._rpos = min(end, len(self._rbuf))
        return self._rbuf[pos:end]

    def buffered(self) -> bool:
        """True when bytes already read from the socket wait to be parsed."""
        return self._rpos < len(self._rbuf)

    # Writes are coalesced: paho "sends" each packet into ``_wbuf`` and
    # ``loop_write`` hands the whole buffer to the socket in one call.
    _wbuf: bytearray | None = None
    on_ack: Callable[[int, ReasonCode], None] | None = None
    """Called with (mid, reason) for each PUBACK/PUBCOMP of our publishes."""

    def _sock_send(self, buf: bytes | bytearray) -> int:
        if self._sock is None:
            raise ConnectionError("self._sock is None")
        if self._wbuf is None:
            self._wbuf = bytearray()
        self._wbuf += buf
        return len(buf)

    def want_write(self) -> bool:
        return bool(self._wbuf) or super().want_write()

    def write_backlog(self) -> int:
        """Bytes buffered for the socket and not sent yet."""
        return len(self._wbuf) if self._wbuf else 0

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: paho.MQTTMessageInfo | None = None) -> MQTTErrorCode:
        # paho also writes a byte to a socketpair for every packet, to wake its own
        # select() loop: a wasted system call per message on flowrt's event loop.
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_qos0(self, topic: str, payload: bytes, retain: bool) -> None:
        """Queue a QoS 0 PUBLISH without paho's per-message objects.

        The packet is encoded here (topic header cached per topic) and appended to
        the write buffer; when paho still holds packets of its own, it goes through
        paho instead, so packets never overtake each other.
        """
        if self._out_packet:
            self.publish(topic, payload, 0, retain)
            return
        head = self._topic_heads.get(topic)
        if head is None:
            head = self._topic_head(topic)
        size = len(head) + len(payload)
        if size < 128:
            fixed = bytes((0x31 if retain else 0x30, size))
        else:
            fixed = bytes((0x31 if retain else 0x30,)) + _remaining_length(size)
        if self._wbuf is None:
            self._wbuf = bytearray()
        self._wbuf += fixed
        self._wbuf += head
        self._wbuf += payload
        self._call_socket_register_write()

    def _topic_head(self, topic: str) -> bytes:
        encoded = topic.encode()
        if not encoded or len(encoded) > 65535 or "+" in topic or "#" in topic:
            raise ValueError(f"invalid topic for publishing: {topic!r}")
        head = len(encoded).to_bytes(2, "big") + encoded
        if self._protocol == paho.MQTTv5:
            head += b"\x00"  # no properties
        if len(self._topic_heads) >= TOPIC_CACHE_SIZE:
            self._topic_heads.clear()
        self._topic_heads[topic] = head
        return head

    def loop_write(self) -> MQTTErrorCode:
        rc = super().loop_write()
        if self._flush():
            self._call_socket_register_write()
        else:
            self._call_socket_unregister_write()
        return rc

    def _flush(self) -> bool:
        """Send what is buffered; True when some is left for the next writable event."""
        buf, sock = self._wbuf, self._sock
        if not buf or sock is None:
            return bool(buf) and sock is not None
        try:
            sent = sock.send(buf)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            sent = 0
        except OSError:
            buf.clear()  # the connection is gone; reading notices and reconnects
            return False
        del buf[:sent]
        return bool(buf)

    def _sock_close(self) -> None:
        self._flush()  # a DISCONNECT just queued goes out before the socket closes
        if self._wbuf is not None:
            self._wbuf.clear()
        super()._sock_close()

    def _do_on_publish(self, mid: int, reason_code: ReasonCode,
                       properties: Properties) -> MQTTErrorCode:
        # Only acknowledgements come here (paho reports QoS 0 writes elsewhere),
        # and without an on_publish callback paho builds no objects for QoS 0.
        if self.on_ack is not None:
            self.on_ack(mid, reason_code)
        return super()._do_on_publish(mid, reason_code, properties)

    on_publish0: Callable[[str, bytes, bool], None] | None = None
    """Receives the QoS 0 PUBLISH packets parsed by :meth:`_fast_publish`."""

    def read_burst(self, budget: int, byte_budget: int) -> tuple[MQTTErrorCode, bool]:
        """Handle up to ``budget`` packets, reading up to about ``byte_budget`` bytes
        from the socket; returns (error code, more may be waiting)."""
        fast = 0
        stop_at = self.bytes_in + byte_budget
        try:
            for _ in range(budget):
                if self._sock is None:
                    return MQTTErrorCode.MQTT_ERR_NO_CONN, False
                if self.bytes_in >= stop_at:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS, True
                if self._in_packet["command"] == 0 and self._fast_publish():
                    fast += 1
                    continue
                rc = self._packet_read()
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS, self.buffered()
                if rc > 0:
                    return self._loop_rc_handle(rc), False
            return MQTTErrorCode.MQTT_ERR_SUCCESS, True
        finally:
            if fast:
                self._last_bytes_received = paho.time_func()

    def _fast_publish(self) -> bool:
        """Parse one whole QoS 0 PUBLISH from the read buffer, without paho.

        This is most of the traffic of a busy subscription, and paho's generic
        path reads it a byte at a time and builds several objects per message.
        Anything else (other packets and QoS, v5 properties or topic aliases, a
        packet not wholly buffered yet) is left to paho: returns False.
        """
        buf, pos = self._rbuf, self._rpos
        end = len(buf)
        if pos >= end or buf[pos] & 0xF6 != 0x30 or self.on_publish0 is None:
            return False
        i, length, shift = pos + 1, 0, 0
        while True:
            if i >= end or shift > 21:
                return False
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        stop = i + length
        if stop > end or length < 2:
            return False
        start = i + 2
        topic_end = start + ((buf[i] << 8) | buf[i + 1])
        if topic_end == start or topic_end > stop:
            return False
        if self._protocol == paho.MQTTv5:
            if topic_end >= stop or buf[topic_end] != 0:
                return False  # properties: paho decodes them
            payload_start = topic_end + 1
        else:
            payload_start = topic_end
        try:
            topic = buf[start:topic_end].decode()
        except UnicodeDecodeError:
            return False
        self._rpos = stop
        self.on_publish0(topic, buf[payload_start:stop], bool(buf[pos] & 0x01))
        return True


class MqttTransport:
    """A self-reconnecting MQTT connection on the running event loop.

    ``start()`` begins connecting in the background (a broker that is down is
    retried with exponential backoff and jitter, first retry fast); every
    subscription is re-sent after each (re)connect. ``close()`` disconnects
    cleanly, optionally publishing a last message first.
    """

    def __init__(self, options: ConnectOptions, *, on_message: MessageHandler,
                 on_state: StateHandler | None = None,
                 on_connected: Callable[[], None] | None = None,
                 flow_control: FlowControl | None = None, clock: Clock | None = None) -> None:
        self.options = options
        self.on_message = on_message
        self.on_state = on_state
        self.on_connected = on_connected
        self.flow_control = flow_control
        self.clock = clock or Clock()
        self.state = "disconnected"
        self.stats = TransportStats()
        self.subscriptions: dict[str, Subscription] = {}
        self._v5 = options.protocol == 5
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._waiting: deque[_Publish] = deque()
        self._waiting_bytes = 0
        self._max_inflight = max(1, options.max_inflight)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._reading = False
        self._writing = False
        self._write_scheduled = False
        self._read_scheduled = False
        self._congesting = False
        self._misc_timer: TimerHandle | None = None
        self._redeliver_timer: TimerHandle | None = None
        self._connack: asyncio.Future[None] | None = None
        self._lost: asyncio.Event | None = None
        self._client = self._make_client()

    # ----------------------------------------------------------------- public
    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the loss of the connection."""
        return self.state == "connected"

    @property
    def queued(self) -> int:
        """QoS 1/2 publishes waiting for a connection or for the in-flight window."""
        return len(self._waiting)

    @property
    def queued_bytes(self) -> int:
        """The payload bytes those waiting publishes hold."""
        return self._waiting_bytes

    def start(self) -> None:
        """Begin connecting (and reconnecting) in the background."""
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._maintain())

    def subscribe(self, topic: str, sub: Subscription) -> None:
        """Subscribe now if connected, and after every reconnect."""
        self.subscriptions[topic] = sub
        if self.connected:
            self._send_subscribe(topic, sub)

    def unsubscribe(self, topic: str) -> None:
        """Forget a subscription (and unsubscribe now if connected)."""
        if self.subscriptions.pop(topic, None) is not None and self.connected:
            self._client.unsubscribe(topic)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
                properties: dict[str, Any] | None = None) -> asyncio.Future[None] | None:
        """Publish; for QoS 1/2 returns a future resolved by the broker's acknowledgement.

        QoS 0 returns None once the packet is queued for the socket. Raises
        PublishDropped when the message cannot be kept (see the module docstring).
        """
        props = _to_properties(properties, PacketTypes.PUBLISH) if self._v5 and properties else None
        if qos == 0:
            if not self.connected:
                self.stats.dropped += 1
                raise PublishDropped(f"not connected to {self.describe()}: QoS 0 message dropped")
            if props is None:
                self._client.publish_qos0(topic, payload, retain)
            else:
                self._client.publish(topic, payload, 0, retain, props)
            self.stats.published += 1
            return None
        if len(self._waiting) >= self.options.max_queued:
            self.stats.dropped += 1
            raise PublishDropped(f"publish queue for {self.describe()} is full "
                                 f"({self.options.max_queued} messages): message dropped")
        if (not self.connected and self._waiting
                and self._waiting_bytes + len(payload) > self.options.max_queued_bytes):
            self.stats.dropped += 1
            raise PublishDropped(
                f"not connected to {self.describe()} and its publish queue is full "
                f"({self._waiting_bytes} of {self.options.max_queued_bytes} bytes): message of "
                f"{len(payload)} bytes dropped")
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        item = (topic, payload, qos, retain, props, future)
        if self.connected and not self._waiting and len(self._pending) < self._max_inflight:
            self._send(item)
        else:
            self._waiting.append(item)
            self._waiting_bytes += len(payload)
        return future

    def _send(self, item: _Publish) -> None:
        topic, payload, qos, retain, props, future = item
        info = self._client.publish(topic, payload, qos, retain, props)
        self._pending[info.mid] = future
        self.stats.published += 1

    def _release(self) -> None:
        """Send waiting publishes while the in-flight window has room."""
        waiting = self._waiting
        while waiting and self.connected and len(self._pending) < self._max_inflight:
            item = waiting.popleft()
            self._waiting_bytes -= len(item[1])
            self._send(item)

    async def close(self, last: tuple[str, bytes, int, bool] | None = None) -> None:
        """Disconnect cleanly (after publishing ``last`` = (topic, payload, qos, retain))."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.connected:
            if last is not None:
                future = None
                with contextlib.suppress(PublishDropped):
                    future = self.publish(*last)
                if future is not None:
                    with contextlib.suppress(TimeoutError, ConnectionError):
                        await asyncio.wait_for(future, CLOSE_ACK_TIMEOUT)
            self._client.disconnect()
            self._client.loop_write()
        self._drop_socket()
        self._set_state("closed", "")
        self._fail_pending(ConnectionError(f"connection to {self.describe()} closed"))

    def describe(self) -> str:
        """``[clientid@]mqtt[s]://host:port`` as Node-RED's log lines show it."""
        scheme = "mqtts" if self.options.ssl_context else "mqtt"
        cid = f"{self.options.client_id}@" if self.options.client_id else ""
        return f"{cid}{scheme}://{self.options.host}:{self.options.port}"

    # -------------------------------------------------------------- connecting
    def _make_client(self) -> _LoopClient:
        opts = self.options
        client = _LoopClient(CallbackAPIVersion.VERSION2, client_id=opts.client_id,
                             clean_session=None if self._v5 else opts.clean_session,
                             protocol=PROTOCOLS.get(opts.protocol, MQTTProtocolVersion.MQTTv311),
                             manual_ack=True)
        # The in-flight window and the queue are ours (paho's rescans its queue per ack).
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        if opts.username:
            client.username_pw_set(opts.username, opts.password or None)
        if opts.will is not None:
            will = opts.will
            props = (_to_properties(will.properties, PacketTypes.WILLMESSAGE)
                     if self._v5 and will.properties else None)
            client.will_set(will.topic, will.payload, will.qos, will.retain, props)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish0 = self._on_publish0
        client.on_ack = self._on_ack
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        connect_props = None
        if self._v5:
            connect_props = Properties(PacketTypes.CONNECT)
            if opts.session_expiry:
                connect_props.SessionExpiryInterval = int(opts.session_expiry)
            if opts.user_properties:
                connect_props.UserProperty = [(str(k), str(v))
                                              for k, v in opts.user_properties.items()]
            connect_props.RequestProblemInformation = 1
        clean_start = opts.clean_session if self._v5 else paho.MQTT_CLEAN_START_FIRST_ONLY
        client.connect_async(opts.host, opts.port, opts.keepalive, clean_start=clean_start,
                             properties=connect_props)
        return client

    async def _maintain(self) -> None:
        delay = self.options.reconnect_min
        while True:
            self._set_state("connecting", "")
            try:
                await self._connect_once()
            except (OSError, TimeoutError, ConnectionError, ssl.SSLError) as exc:
                self._drop_socket()
                detail = str(exc) or type(exc).__name__
                self.stats.failures.append(detail)
                del self.stats.failures[:-10]
                log.warning("Connection failed to broker: %s: %s", self.describe(), detail)
                self._set_state("disconnected", detail)
                await self.clock.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self.options.reconnect_max)
                continue
            delay = self.options.reconnect_min
            assert self._lost is not None
            await self._lost.wait()
            log.info("Disconnected from broker: %s", self.describe())
            self._set_state("disconnected", "connection lost")
            await self.clock.sleep(delay * random.uniform(0.5, 1.0))

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._connack = loop.create_future()
        self._client.prepared_socket = await _open_socket(self.options)
        self._client.reconnect()
        async with asyncio.timeout(self.options.connect_timeout):
            await self._connack

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._fd = sock.fileno()
        self._resume_reading()

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._unwatch()

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        # Packets were queued: send them at the end of this loop pass, in one send
        # with whatever else is queued meanwhile. The socket is only watched for
        # writability when it would block: an add_writer/remove_writer pair per
        # message costs more than the message at low rates.
        if (not self._writing and not self._write_scheduled and self._fd >= 0
                and self._loop is not None):
            self._write_scheduled = True
            self._loop.call_soon(self._write_now)

    def _write_now(self) -> None:
        self._write_scheduled = False
        if self._fd < 0 or self._loop is None:
            return
        self._on_writable()
        if self._client.want_write() and not self._writing and self._fd >= 0:
            self._writing = True
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._writing and self._loop is not None:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def _unwatch(self) -> None:
        if self._loop is not None and self._fd >= 0:
            if self._reading:
                self._loop.remove_reader(self._fd)
            if self._writing:
                self._loop.remove_writer(self._fd)
        self._reading = self._writing = False
        self._fd = -1
        if self._misc_timer is not None:
            self._misc_timer.cancel()
            self._misc_timer = None
        self._check_backlog()  # nothing more will be written on this socket

    def _drop_socket(self) -> None:
        self._unwatch()
        sock, self._client.prepared_socket = self._client.prepared_socket, None
        if sock is not None:
            sock.close()
        self._client._sock_close()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any,
                    reason: ReasonCode, properties: Properties | None) -> None:
        if self._connack is None or self._connack.done():
            return
        if reason.is_failure:
            self._connack.set_exception(ConnectionError(f"broker refused the connection: {reason}"))
            return
        self.stats.connects += 1
        self._connack.set_result(None)
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        self._max_inflight = max(1, min(self.options.max_inflight,
                                        receive_maximum or self.options.max_inflight))
        log.info("Connected to broker: %s", self.describe())
        self._set_state("connected", "")
        self._schedule_misc()
        for topic, sub in self.subscriptions.items():
            self._send_subscribe(topic, sub)
        if self.on_connected is not None:
            self._notify(self.on_connected)
        # After paho has re-sent what was in flight: keep the order.
        assert self._loop is not None
        self._loop.call_soon(self._release)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                       reason: ReasonCode, properties: Properties | None) -> None:
        self._unwatch()
        if self._redeliver_timer is not None:  # the next connection redelivers anyway
            self._redeliver_timer.cancel()
            self._redeliver_timer = None
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectionError(f"connection closed: {reason}"))
        if self._lost is not None:
            self._lost.set()
        if self.state == "connected":
            self._set_state("disconnected", str(reason))

    def _set_state(self, state: str, detail: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            self._notify(self.on_state, state, detail)

    def _notify(self, callback: Callable[..., None], *args: Any) -> None:
        """Call a user of the connection back; its failure is its own, only logged."""
        try:
            callback(*args)
        except Exception:
            log.exception("MQTT callback %s failed on %s",
                          getattr(callback, "__qualname__", callback), self.describe())

    def _send_subscribe(self, topic: str, sub: Subscription) -> None:
        if self._v5:
            options = SubscribeOptions(qos=sub.qos, noLocal=sub.no_local,
                                       retainAsPublished=sub.retain_as_published,
                                       retainHandling=sub.retain_handling)
            self._client.subscribe(topic, options=options)
        else:
            self._client.subscribe(topic, sub.qos)

    # --------------------------------------------------------------- reading
    def _resume_reading(self) -> None:
        if not self._reading and self._fd >= 0 and self._loop is not None:
            self._reading = True
            self._loop.add_reader(self._fd, self._on_readable)
            if self._client.buffered():
                self._schedule_read()

    def _schedule_read(self) -> None:
        if not self._read_scheduled and self._loop is not None:
            self._read_scheduled = True
            self._loop.call_soon(self._on_readable)

    def _on_readable(self) -> None:
        self._read_scheduled = False
        if not self._reading:
            return
        client = self._client
        before = client.bytes_in
        try:
            _, more = client.read_burst(READ_BUDGET, READ_BYTES_BUDGET)
        except Exception:
            self._protocol_failed("reading")
            return
        finally:
            self.stats.bytes_received += client.bytes_in - before
        if not self._reading:
            return
        control = self.flow_control
        if control is not None:
            control.run_pending()  # deliver in this loop pass, not the next
        if control is not None and control.saturated:
            # Stop reading: the run queue drains first, the TCP window holds the rest.
            self._reading = False
            assert self._loop is not None
            self._loop.remove_reader(self._fd)
            control.when_drained(self._resume_reading)
        elif more:
            self._schedule_read()

    def _protocol_failed(self, doing: str) -> None:
        """paho failed unexpectedly: where it was in the stream is unknown, so the
        connection is dropped (and made again by ``_maintain``)."""
        log.exception("MQTT protocol failure while %s on %s: reconnecting", doing,
                      self.describe())
        self._client._loop_rc_handle(MQTTErrorCode.MQTT_ERR_PROTOCOL)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.stats.received += 1
        qos = message.qos
        payload = cast(bytes, message.payload)  # paho types it bytes | bytearray; it is bytes
        try:
            props = _from_properties(message.properties) if self._v5 else None
            # .topic decodes: a topic that is not UTF-8 (a broker let it through) fails here.
            done = self.on_message(message.topic, payload, qos, message.retain, props)
        except Exception as exc:
            self._handler_failed(message._topic.decode(errors="replace"), exc)
            done = None
        if not qos:
            return
        if done is None:
            self._client.acknowledge(message.mid, qos)
        else:
            done.add_done_callback(functools.partial(self._acknowledge, message.mid, qos,
                                                     self.stats.connects))

    def _on_publish0(self, topic: str, payload: bytes, retain: bool) -> None:
        self.stats.received += 1
        try:
            self.on_message(topic, payload, 0, retain, None)
        except Exception as exc:
            self._handler_failed(topic, exc)

    def _handler_failed(self, topic: str, exc: Exception) -> None:
        """``on_message`` raised: that message's failure, logged and counted, never the
        connection's (the next message is read as usual; at QoS 1/2 it is acknowledged)."""
        self.stats.failed += 1
        log.error("Handling a message on topic %r from %s failed: %s: %s", topic,
                  self.describe(), type(exc).__name__, exc, exc_info=exc)

    def _acknowledge(self, mid: int, qos: int, connection: int,
                     done: asyncio.Future[Any]) -> None:
        # Other failures were reported where they happened: acknowledged all the same.
        error = None if done.cancelled() else done.exception()
        if connection != self.stats.connects or not self.connected:
            return
        if isinstance(error, NotStoredError) and self.persistent:
            self.stats.withheld += 1
            self._redeliver_later()
            return
        self._client.acknowledge(mid, qos)

    @property
    def persistent(self) -> bool:
        """True when the broker keeps the session (and unacknowledged messages) across
        connections."""
        opts = self.options
        return not opts.clean_session and (not self._v5 or bool(opts.session_expiry))

    def _redeliver_later(self) -> None:
        if self._redeliver_timer is not None:
            return
        delay = self.options.reconnect_max
        log.warning("Messages from %s were not stored: reconnecting in %g s for the broker "
                    "to deliver them again", self.describe(), delay)
        self._redeliver_timer = self.clock.call_later(delay, self._reconnect_for_redelivery)

    def _reconnect_for_redelivery(self) -> None:
        self._redeliver_timer = None
        if self.connected:
            self._client.disconnect()  # clean: the session stays, the will is not sent
            self._client.loop_write()

    # --------------------------------------------------------------- writing
    def _on_writable(self) -> None:
        try:
            self._client.loop_write()
        except Exception:
            self._protocol_failed("writing")
        self._check_backlog()

    def _check_backlog(self) -> None:
        """Pause the sources while too much waits to be written (see the module docstring)."""
        control = self.flow_control
        if control is None:
            return
        backlog = self._client.write_backlog()
        if not self._congesting and backlog > WRITE_BACKLOG_HIGH:
            self._congesting = True
            control.congest(self)
        elif self._congesting and backlog <= WRITE_BACKLOG_HIGH // 4:
            self._congesting = False
            control.relieve(self)

    def _on_ack(self, mid: int, reason: ReasonCode) -> None:
        future = self._pending.pop(mid, None)
        if future is None:
            return
        if not future.done():
            if reason.is_failure:
                future.set_exception(ConnectionError(f"broker rejected the publish: {reason}"))
            else:
                future.set_result(None)
        if self._waiting:
            self._release()

    def _fail_pending(self, error: Exception) -> None:
        futures = [*self._pending.values(), *(item[-1] for item in self._waiting)]
        self._pending, self._waiting, self._waiting_bytes = {}, deque(), 0
        for future in futures:
            if not future.done():
                future.set_exception(error)

    def _schedule_misc(self) -> None:
        interval = max(0.5, min(5.0, self.options.keepalive / 4 or 5.0))
        self._misc_timer = self.clock.call_later(interval, self._on_misc)

    def _on_misc(self) -> None:
        self._misc_timer = None
        if self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS and self.connected:
            self._schedule_misc()


_connect_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4,
                                                      thread_name_prefix="flowrt-mqtt-connect")


async def _open_socket(options: ConnectOptions) -> socket.socket | ssl.SSLSocket:
    """Connect (and do the TLS handshake) in a worker thread; never blocks the loop."""
    job = _connect_pool.submit(_blocking_connect, options)
    try:
        return await asyncio.wrap_future(job)
    except asyncio.CancelledError:
        job.add_done_callback(_close_late_socket)
        raise


def _close_late_socket(job: concurrent.futures.Future[socket.socket | ssl.SSLSocket]) -> None:
    """A connect finished after its caller gave up: close what it opened."""
    if not job.cancelled() and job.exception() is None:
        job.result().close()


def _blocking_connect(options: ConnectOptions) -> socket.socket | ssl.SSLSocket:
    sock = socket.create_connection((options.host, options.port), timeout=options.connect_timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if options.ssl_context is None:
        return sock
    try:
        return options.ssl_context.wrap_socket(
            sock, server_hostname=options.server_hostname or options.host)
    except BaseException:
        sock.close()
        raise


def _to_properties(values: dict[str, Any], packet_type: int) -> Properties | None:
    """paho Properties from a message's v5 fields (``userProperties``, ``contentType``...)."""
    props = Properties(packet_type)
    empty = True
    for key, name in _V5_PROPERTIES.items():
        value = values.get(key)
        if value is None or value == "":
            continue
        if key == "correlationData" and isinstance(value, str):
            value = value.encode()
        setattr(props, name, value)
        empty = False
    user = values.get("userProperties")
    if isinstance(user, dict) and user:
        props.UserProperty = [(str(k), str(item)) for k, v in user.items()
                              for item in (v if isinstance(v, list) else [v])]
        empty = False
    return None if empty else props


def _from_properties(props: Properties | None) -> dict[str, Any] | None:
    """A received PUBLISH's v5 properties under Node-RED's message names."""
    if props is None:
        return None
    out: dict[str, Any] = {}
    for key, name in _V5_PROPERTIES.items():
        value = getattr(props, name, None)
        if value is not None:
            out[key] = value
    user = getattr(props, "UserProperty", None)
    if user:
        merged: dict[str, Any] = {}
        for k, v in user:
            if k in merged:
                # Repeated keys become a list, as mqtt.js reports them.
                previous = merged[k]
                merged[k] = [*previous, v] if isinstance(previous, list) else [previous, v]
            else:
                merged[k] = v
        out["userProperties"] = merged
    return out or None
