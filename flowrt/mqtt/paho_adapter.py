"""paho-mqtt's protocol engine on flowrt's event loop: the one module that touches paho.

:class:`LoopClient` subclasses paho's ``Client`` and relies on some of its private
members (paho ``>=2.1,<3`` is pinned for this). Each one is named in
:data:`PAHO_PRIVATE_METHODS` / :data:`PAHO_PRIVATE_ATTRIBUTES`, and
:func:`paho_incompatibilities` — run by ``tests/test_mqtt_paho_adapter.py`` — names
any that a paho release renamed, removed or re-shaped, so an upgrade fails loudly in
the test suite and not quietly in a gateway. Why each is used:

* Reads are buffered (``_sock_recv``): one ``recv`` serves many packets instead of
  three system calls per packet (a ``recv`` that did not fill the buffer emptied the
  socket: the next readiness event says when there is more, no ``recv`` to hear
  EAGAIN), and QoS 0 PUBLISH packets whole in the buffer are parsed by
  :mod:`flowrt.mqtt.codec` rather than by paho's byte-at-a-time reader
  (``_packet_read`` for the rest, ``_in_packet`` to know a packet is not half read).
* Writes are coalesced (``_sock_send``, ``_sock_close``): paho "sends" each packet
  into a buffer which one ``send`` empties per loop pass; QoS 0 publishes are encoded
  by the codec straight into that buffer while paho holds no packet of its own
  (``_out_packet``), so packets never overtake each other. ``_packet_queue`` is
  replaced because paho's writes a byte to a socketpair per packet to wake its own
  ``select()`` loop, a wasted system call here.
* Received QoS 1/2 messages are acknowledged when the flow has completed them
  (``_send_puback``, ``_send_pubrec``); QoS 2 is delivered on PUBLISH with the PUBREC
  held back (``_handle_publish``, ``_in_messages``, ``_handle_on_message``) and
  PUBCOMP answers PUBREL (``_handle_pubrel``, ``_send_pubcomp``).
* The socket is connected outside paho, in a worker thread (``_create_socket``);
  acknowledgements of our publishes are reported (``_do_on_publish``); a protocol
  failure drops the connection (``_loop_rc_handle``).

Everything the transport needs goes through :class:`LoopClient`'s public methods and
the :class:`ClientEvents` it is given; no other flowrt module imports paho.
"""

from __future__ import annotations

import inspect
import socket
import ssl
from typing import Any, Protocol, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from flowrt.mqtt import codec
from flowrt.mqtt.codec import PUBLISH, MalformedPacket, encode_publish_qos0, read_publish
from flowrt.mqtt.interface import ConnectOptions, Subscription
from flowrt.mqtt.properties import wire_properties

READ_CHUNK = 256 * 1024
"""Bytes asked of the socket per ``recv``."""
TOPIC_CACHE_SIZE = 4096
"""Encoded QoS 0 topic headers kept (cleared when full)."""

PROTOCOLS = {3: MQTTProtocolVersion.MQTTv31, 4: MQTTProtocolVersion.MQTTv311,
             5: MQTTProtocolVersion.MQTTv5}

PAHO_PRIVATE_METHODS: dict[str, tuple[str, ...]] = {
    "_create_socket": ("self",),
    "_sock_recv": ("self", "bufsize"),
    "_sock_send": ("self", "buf"),
    "_sock_close": ("self",),
    "_packet_read": ("self",),
    "_packet_queue": ("self", "command", "packet", "mid", "qos", "info"),
    "_loop_rc_handle": ("self", "rc"),
    "_handle_publish": ("self",),
    "_handle_pubrel": ("self",),
    "_handle_on_message": ("self", "message"),
    "_send_puback": ("self", "mid"),
    "_send_pubrec": ("self", "mid"),
    "_send_pubcomp": ("self", "mid"),
    "_do_on_publish": ("self", "mid", "reason_code", "properties"),
    "_call_socket_register_write": ("self",),
    "_call_socket_unregister_write": ("self", "sock"),
}
"""paho ``Client`` methods overridden or called, with their parameter names."""
PAHO_PRIVATE_ATTRIBUTES = ("_sock", "_protocol", "_in_packet", "_in_messages",
                           "_in_message_mutex", "_out_packet", "_last_bytes_received")
"""paho ``Client`` instance attributes read or written."""
OUT_PACKET_KEYS = ("command", "mid", "qos", "pos", "to_process", "packet", "info")
"""The keys of a packet in paho's ``_out_packet`` queue (written by ``_packet_queue``)."""

# Property names: flowrt's codec (flowrt message names) → paho's.
_PAHO_NAMES = {
    "payloadFormatIndicator": "PayloadFormatIndicator",
    "messageExpiryInterval": "MessageExpiryInterval",
    "contentType": "ContentType",
    "responseTopic": "ResponseTopic",
    "correlationData": "CorrelationData",
    "subscriptionIdentifier": "SubscriptionIdentifier",
    "topicAlias": "TopicAlias",
    "userProperties": "UserProperty",
}


def paho_incompatibilities() -> list[str]:
    """What of the paho internals this module relies on the installed paho lacks or
    changed, one line per member (empty: compatible)."""
    problems = []
    for name, params in PAHO_PRIVATE_METHODS.items():
        method = getattr(paho.Client, name, None)
        if not callable(method):
            problems.append(f"paho.Client.{name} is gone")
            continue
        found = tuple(inspect.signature(method).parameters)
        if found != params:
            problems.append(f"paho.Client.{name} takes {found}, not {params}")
    client = paho.Client(CallbackAPIVersion.VERSION2)
    problems += [f"paho.Client().{name} is gone" for name in PAHO_PRIVATE_ATTRIBUTES
                 if not hasattr(client, name)]
    in_packet = getattr(client, "_in_packet", {})
    problems += [f"paho.Client()._in_packet has no {key!r}" for key in ("command", "packet")
                 if key not in in_packet]
    source = inspect.getsource(paho.Client._packet_queue)
    problems += [f"paho.Client._packet_queue no longer writes {key!r}"
                 for key in OUT_PACKET_KEYS if f'"{key}"' not in source]
    if not hasattr(paho.MQTTMessage(), "_topic"):
        problems.append("paho.MQTTMessage()._topic is gone")
    if not callable(getattr(paho, "time_func", None)):
        problems.append("paho.mqtt.client.time_func is gone")
    return problems


def to_paho_properties(values: dict[str, Any] | None, packet_type: int) -> Properties | None:
    """paho Properties from codec-shaped ones (see :data:`flowrt.mqtt.codec.PROPERTIES`)."""
    if not values:
        return None
    props = Properties(packet_type)
    for name, value in values.items():
        setattr(props, _PAHO_NAMES[name], value)
    return props


def from_paho_properties(props: Properties | None) -> dict[str, Any] | None:
    """Codec-shaped properties from paho's (None when there are none)."""
    if props is None:
        return None
    out = {name: value for name, paho_name in _PAHO_NAMES.items()
           if (value := getattr(props, paho_name, None)) is not None}
    return out or None


class ClientEvents(Protocol):
    """What :class:`LoopClient` reports, all on the event loop (the transport)."""

    def on_connack(self, failure: str | None, receive_maximum: int | None) -> None:
        """The broker answered CONNECT (``failure`` None: accepted)."""

    def on_lost(self, reason: str) -> None:
        """The connection ended."""

    def on_publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                   properties: dict[str, Any] | None, mid: int) -> None:
        """A message arrived (codec-shaped v5 properties)."""

    def on_bad_topic(self, topic: bytes, qos: int, mid: int) -> None:
        """A message arrived whose topic is not UTF-8 (a broker let it through)."""

    def on_ack(self, mid: int, failure: str | None) -> None:
        """The broker acknowledged (PUBACK/PUBCOMP) our publish ``mid``."""

    def on_socket_open(self, fd: int) -> None:
        """The connected socket is in use: watch it for reading."""

    def on_socket_close(self) -> None:
        """The socket is closed: stop watching it."""

    def on_register_write(self) -> None:
        """Something waits to be written."""

    def on_unregister_write(self) -> None:
        """Nothing waits to be written any more."""


class LoopClient(paho.Client):
    """paho's client driven by flowrt's event loop (see the module docstring)."""

    def __init__(self, options: ConnectOptions, events: ClientEvents) -> None:
        v5 = options.protocol == 5
        super().__init__(CallbackAPIVersion.VERSION2, client_id=options.client_id,
                         clean_session=None if v5 else options.clean_session,
                         protocol=PROTOCOLS.get(options.protocol, MQTTProtocolVersion.MQTTv311),
                         manual_ack=True)
        self.events = events
        self._deliver = events.on_publish  # looked up once: it runs for every message
        self._want_write = events.on_register_write  # and this for every QoS 0 publish
        self.v5 = v5
        self.bytes_in = 0
        """Bytes read from the socket so far."""
        self._prepared_socket: socket.socket | ssl.SSLSocket | None = None
        self._rbuf = b""
        self._rpos = 0
        self._drained = False
        """The last ``recv`` took all the socket had: another would only say EAGAIN."""
        self._wbuf: bytearray | None = None
        self._in_publish = False
        self._held_pubrec: int | None = None
        self._topic_heads: dict[str, bytes] = {}
        self._configure(options)

    def _configure(self, opts: ConnectOptions) -> None:
        # The in-flight window and the queue are the transport's (paho's rescans its
        # queue per acknowledgement).
        self.max_inflight_messages_set(0)
        self.max_queued_messages_set(0)
        if opts.username:
            self.username_pw_set(opts.username, opts.password or None)
        if opts.will is not None:
            will = opts.will
            props = (to_paho_properties(wire_properties(will.properties),
                                        PacketTypes.WILLMESSAGE) if self.v5 else None)
            self.will_set(will.topic, will.payload, will.qos, will.retain, props)
        events = self.events
        self.on_connect = self._connected
        self.on_disconnect = self._disconnected
        self.on_message = self._message
        self.on_socket_open = lambda client, userdata, sock: events.on_socket_open(sock.fileno())
        self.on_socket_close = lambda client, userdata, sock: events.on_socket_close()
        self.on_socket_register_write = lambda client, userdata, sock: events.on_register_write()
        self.on_socket_unregister_write = (
            lambda client, userdata, sock: events.on_unregister_write())
        connect_props = None
        if self.v5:
            connect_props = Properties(PacketTypes.CONNECT)
            if opts.session_expiry:
                connect_props.SessionExpiryInterval = int(opts.session_expiry)
            if opts.user_properties:
                connect_props.UserProperty = [(str(k), str(v))
                                              for k, v in opts.user_properties.items()]
            connect_props.RequestProblemInformation = 1
        clean_start = opts.clean_session if self.v5 else paho.MQTT_CLEAN_START_FIRST_ONLY
        self.connect_async(opts.host, opts.port, opts.keepalive, clean_start=clean_start,
                           properties=connect_props)

    # ------------------------------------------------------------ connection
    def connect_on(self, sock: socket.socket | ssl.SSLSocket) -> None:
        """Send CONNECT on ``sock``, already connected (and through its TLS handshake)."""
        self._prepared_socket = sock
        self.reconnect()

    def _create_socket(self) -> Any:
        sock, self._prepared_socket = self._prepared_socket, None
        if sock is None:
            raise ConnectionError("no connected socket prepared")
        self._rbuf, self._rpos, self._drained = b"", 0, False
        return sock

    def close_socket(self) -> None:
        """Close the connection's socket (and one prepared but not used yet)."""
        sock, self._prepared_socket = self._prepared_socket, None
        if sock is not None:
            sock.close()
        self._sock_close()

    def disconnect_now(self) -> None:
        """Send DISCONNECT (clean: the session stays, the will is not sent)."""
        self.disconnect()
        self.loop_write()

    def fail_protocol(self) -> None:
        """Drop the connection after an unexpected failure in paho: where it was in
        the stream is unknown."""
        self._loop_rc_handle(MQTTErrorCode.MQTT_ERR_PROTOCOL)

    def keep_alive(self) -> bool:
        """paho's periodic work (PINGREQ, keepalive timeout); False once disconnected."""
        return self.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS

    def _connected(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                   properties: Properties | None) -> None:
        if reason.is_failure:
            self.events.on_connack(str(reason), None)
            return
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        self.events.on_connack(None, receive_maximum)

    def _disconnected(self, client: paho.Client, userdata: Any, flags: Any,
                      reason: ReasonCode, properties: Properties | None) -> None:
        self.events.on_lost(str(reason))

    # --------------------------------------------------------------- sending
    def subscribe_to(self, topic: str, sub: Subscription) -> None:
        """Send SUBSCRIBE with ``sub``'s options."""
        if self.v5:
            self.subscribe(topic, options=SubscribeOptions(
                qos=sub.qos, noLocal=sub.no_local, retainAsPublished=sub.retain_as_published,
                retainHandling=sub.retain_handling))
        else:
            self.subscribe(topic, sub.qos)

    def publish_tracked(self, topic: str, payload: bytes, qos: int, retain: bool,
                        properties: dict[str, Any] | None) -> int:
        """Publish at QoS 1 or 2 through paho (which re-sends it after a reconnect);
        returns its packet id, which :meth:`ClientEvents.on_ack` reports."""
        props = to_paho_properties(properties, PacketTypes.PUBLISH) if self.v5 else None
        return self.publish(topic, payload, qos, retain, props).mid

    def publish_qos0(self, topic: str, payload: bytes, retain: bool,
                     properties: dict[str, Any] | None) -> None:
        """Queue a QoS 0 PUBLISH, encoded by the codec (the topic header cached per
        topic) without paho's per-message objects; when paho still holds packets of
        its own, it goes after them through paho, so packets never overtake each other.
        """
        if self._out_packet:
            props = to_paho_properties(properties, PacketTypes.PUBLISH) if self.v5 else None
            self.publish(topic, payload, 0, retain, props)
            return
        head = self._topic_heads.get(topic)
        if head is None:
            head = codec.publish_head(topic, self.v5)  # refuses what cannot be published to
            if len(self._topic_heads) >= TOPIC_CACHE_SIZE:
                self._topic_heads.clear()
            self._topic_heads[topic] = head
        wbuf = self._wbuf
        if wbuf is None:
            wbuf = self._wbuf = bytearray()
        if properties and self.v5:
            wbuf += codec.encode_publish(
                codec.Publish(topic, payload, 0, retain, properties=properties), v5=True)
        else:
            wbuf += encode_publish_qos0(head, payload, retain)
            wbuf += head
            wbuf += payload
        # Straight to the transport: paho's register round (a lock, a property, a
        # lambda) is for its own packets (see loop_write).
        self._want_write()

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: paho.MQTTMessageInfo | None = None) -> MQTTErrorCode:
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

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

    def loop_write(self) -> MQTTErrorCode:
        # Most passes only have our own buffer to send: paho's writer (its lock, its
        # unregister round) runs when it holds packets of its own.
        if self._out_packet:
            rc = super().loop_write()
        elif self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        else:
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
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
        self.events.on_ack(mid, str(reason_code) if reason_code.is_failure else None)
        return super()._do_on_publish(mid, reason_code, properties)

    # --------------------------------------------------------------- reading
    def acknowledge(self, mid: int, qos: int) -> None:
        """PUBACK (QoS 1) or PUBREC (QoS 2) a received message once it is done."""
        if qos == 1:
            self._send_puback(mid)
        else:
            super()._send_pubrec(mid)

    def buffered(self) -> bool:
        """True when bytes already read from the socket wait to be parsed."""
        return self._rpos < len(self._rbuf)

    def read_burst(self, budget: int, byte_budget: int) -> bool:
        """Handle up to ``budget`` packets, reading up to about ``byte_budget`` bytes
        from the socket; True when more may be waiting."""
        fast = 0
        stop_at = self.bytes_in + byte_budget
        self._drained = False  # called on a readiness event: the socket has something
        try:
            for _ in range(budget):
                if self._sock is None:
                    return False
                if self.bytes_in >= stop_at:
                    return True
                if self._in_packet["command"] == 0:
                    if self._rpos >= len(self._rbuf) and not self._refill():
                        return False
                    if self._fast_publish():
                        fast += 1
                        continue
                rc = self._packet_read()
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                    return self.buffered()
                if rc > 0:
                    self._loop_rc_handle(rc)
                    return False
            return True
        finally:
            if fast:  # what paho's keepalive check looks at
                self._last_bytes_received = paho.time_func()

    def _fast_publish(self) -> bool:
        """Hand over one QoS 0 PUBLISH whole in the read buffer, parsed by the codec.

        Anything else (other packets and QoS, topic aliases, a packet not wholly
        buffered yet or malformed) is left to paho: returns False.
        """
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf) or buf[pos] & 0xF6 != PUBLISH:
            return False
        try:
            found = read_publish(buf, pos, self.v5)
        except MalformedPacket:
            return False  # paho reads it, and reports it its own way
        if found is None:
            return False
        topic, payload, _, retain, _, _, props, end = found
        if not topic or (props and "topicAlias" in props):
            return False
        self._rpos = end
        self._deliver(topic, payload, 0, retain, props, 0)
        return True

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data = self._fill()
            if not data:
                return data
        pos = self._rpos
        end = pos + bufsize
        self._rpos = min(end, len(self._rbuf))
        return self._rbuf[pos:end]

    def _fill(self) -> bytes:
        """Read what the socket has into the (empty) buffer; b"" at its end. Raises
        what ``recv`` raises (BlockingIOError when there is nothing yet)."""
        data = super()._sock_recv(READ_CHUNK)
        if data:
            self.bytes_in += len(data)
            self._rbuf, self._rpos = data, 0
            sock = self._sock
            self._drained = len(data) < READ_CHUNK and not (
                isinstance(sock, ssl.SSLSocket) and sock.pending())
        return data

    def _refill(self) -> bool:
        """Fill the empty buffer before a packet starts, so that it is parsed by the
        codec (``_fast_publish``); False when the socket has nothing now. A closed
        connection or a socket error is left for paho's reader to meet and report."""
        if self._drained:
            return False
        try:
            self._fill()
        except BlockingIOError:  # paho's recv turns TLS's want-read/write into this
            return False
        except OSError:
            pass
        return True

    def _message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message._topic.decode()
        except UnicodeDecodeError:
            self.events.on_bad_topic(message._topic, message.qos, message.mid)
            return
        props = from_paho_properties(message.properties) if self.v5 else None
        # paho types the payload bytes | bytearray; it is bytes.
        payload = cast(bytes, message.payload)
        self.events.on_publish(topic, payload, message.qos, message.retain, props, message.mid)

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
