"""mqtt-broker, mqtt in and mqtt out: Node-RED's MQTT nodes on one shared connection.

The ``mqtt-broker`` config node owns one :class:`flowrt.mqtt.Transport` (in
production :class:`flowrt.mqtt.MqttTransport`, paho-mqtt on the event loop); every
``mqtt in`` and ``mqtt out`` naming it registers with it, shares that connection,
and shows its state. Received messages go from the socket straight to
``node.send`` with no task or thread hop; ``mqtt out`` completes a message when
the broker acknowledges it.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Awaitable
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from flowrt.errors import NotStoredError
from flowrt.messages import Message
from flowrt.mqtt import (
    ConnectOptions,
    MessageHandler,
    MqttTransport,
    PublishDropped,
    Subscription,
    Transport,
    TransportFactory,
    Will,
    topic_matches,
    valid_filter,
    valid_topic_name,
)
from flowrt.node import Node, NodeContext
from flowrt.payloads import CONVERTERS, BadPayload, serialize_payload
from flowrt.schema import (
    QOS_LABELS,
    as_bool,
    as_int,
    boolean,
    enum,
    integer,
    node_ref,
    section,
    show_if,
    string,
)

STATUS = {
    "connecting": {"fill": "yellow", "shape": "ring",
                   "text": "node-red:common.status.connecting"},
    "connected": {"fill": "green", "shape": "dot", "text": "node-red:common.status.connected"},
    "disconnected": {"fill": "red", "shape": "ring",
                     "text": "node-red:common.status.disconnected"},
    "closed": {"fill": "red", "shape": "ring", "text": "node-red:common.status.disconnected"},
}
ROUTE_CACHE_SIZE = 10_000

_QOS = enum(["0", "1", "2", 0, 1, 2], "2", title="QoS", labels=QOS_LABELS)
_V5 = {"broker.protocolVersion": "5"}
"""Shows a field of mqtt in / mqtt out only when its broker speaks MQTT 5."""


def _message_keys(prefix: str, words: str) -> dict[str, Any]:
    return {
        f"{prefix}Topic": string("", title=f"{words} message: topic",
                                 description="empty: no message"),
        f"{prefix}Qos": enum(["0", "1", "2", 0, 1, 2], "0", title=f"{words} message: QoS",
                             labels=QOS_LABELS),
        f"{prefix}Retain": boolean("false", title=f"{words} message: retain"),
        f"{prefix}Payload": string("", title=f"{words} message: payload"),
        f"{prefix}Msg": show_if({"type": "object", "default": {},
                                 "title": f"{words} message: MQTT 5 properties"},
                                protocolVersion="5"),
    }


class MqttBroker(Node):
    """A connection to an MQTT broker, shared by every `mqtt in` and `mqtt out` using it.

    * `broker`: host name or address, or a URL (`mqtt://host:1883`, `mqtts://...`);
      `port` (1883). `usetls` with a `tls` config node for TLS and mutual TLS.
    * `clientid`: empty generates one (`nodered` + 16 hex digits); `cleansession`
      (true) asks for a fresh session (with no client id a clean session is forced).
    * `protocolVersion`: `"4"` MQTT 3.1.1 (default), `"5"` MQTT 5, `"3"` MQTT 3.1;
      `sessionExpiry` (v5, seconds) keeps a persistent session that long.
    * `keepalive` (60 s); `autoConnect` (true; false waits for an `action: "connect"`
      message to an `mqtt in`/`mqtt out`).
    * Birth, close and will messages (`birthTopic`, `birthQos`, `birthRetain`,
      `birthPayload`, and the same with `close` and `will`): birth is published after
      every (re)connect, close before a clean disconnect, will by the broker when the
      connection is lost. v5 properties for them go in `birthMsg`/`closeMsg`/`willMsg`
      (`contentType`, `respTopic`, `correl`, `expiry`, `userProps`).
    * Credentials `user` and `password`.

    The connection starts in the background when the first node registers; a
    broker that is down is retried with exponential backoff and jitter (first
    retry after ~0.2 s, at most the `mqttReconnectTime` setting, 5000 ms).
    Every subscription is re-sent after each reconnect. While not connected (or
    while 100 are awaiting their acknowledgement), QoS 1 and 2 publishes wait in
    memory, at most the `mqttQueueSize` setting (100000 messages) and the
    `mqttQueueBytes` setting (33554432 bytes of payload); beyond that a publish
    fails with an error (to `catch` nodes) and is counted as dropped. They are sent
    on reconnect; QoS 0 publishes fail at once ("not connected").

    `/metrics`: `received_total`, `published_total`, `dropped_total`,
    `failed_total` (received messages whose handling failed), `queued` and
    `queued_bytes` (waiting publishes).
    """

    type = "mqtt-broker"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "bridge"
    credentials: ClassVar = {"user": "text", "password": "password"}
    editor: ClassVar = {"label": "broker"}
    transport_factory: ClassVar[TransportFactory] = MqttTransport
    """Makes the connection: unit tests put a :class:`flowrt.mqtt.fake.FakeBroker` here."""
    schema: ClassVar = {"type": "object", "required": ["broker"], "properties": {
        "name": string(""),
        **section("Connection", {
            "broker": string("", title="Server",
                             description="e.g. localhost, or mqtt://host:1883"),
            "port": integer(1883, title="Port"),
            "protocolVersion": enum(["3", "4", "5", 3, 4, 5], "4", title="Protocol",
                                    labels={"3": "MQTT V3.1 (legacy)", "4": "MQTT V3.1.1",
                                            "5": "MQTT V5"}),
            "clientid": string("", title="Client ID", description="empty: generated"),
            "autoConnect": boolean(True, title="Connect automatically"),
            "keepalive": integer(60, title="Keep alive (seconds)"),
            "cleansession": boolean(True, title="Use clean session"),
            "autoUnsubscribe": boolean(True,
                                       title="Automatically unsubscribe when disconnecting"),
            "sessionExpiry": show_if(integer(0, title="Session expiry (seconds)"),
                                     protocolVersion="5"),
            "userProps": show_if(string("", title="User properties (JSON)"),
                                 protocolVersion="5"),
        }),
        **section("Security", {
            "usetls": boolean(False, title="Use TLS"),
            "tls": show_if(node_ref("tls-config", title="TLS configuration"), usetls=True),
            "verifyservercert": show_if(
                boolean(False, title="Verify server certificate",
                        description="older flows; a TLS configuration has its own"),
                usetls=True),
        }),
        **section("Messages", {**_message_keys("birth", "Birth"),
                               **_message_keys("close", "Close"),
                               **_message_keys("will", "Will")}),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.users: dict[str, Node] = {}
        self.transport: Transport | None = None
        self.problem: str | None = None
        self._subs: dict[str, dict[str, tuple[Subscription, MessageHandler]]] = {}
        self._routes: dict[str, list[MessageHandler]] = {}
        self._state = "disconnected"
        self._overrides: dict[str, Any] = {}
        self.protocol = self._protocol()
        """The MQTT protocol level (3, 4 or 5), read on every publish."""

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if as_bool(self.config.get("cleansession"), True) is False and \
                not str(self.config.get("clientid") or "").strip():
            self.warn("No client ID set, using clean session")

    async def close(self, removed: bool) -> None:
        await self.disconnect()

    # ------------------------------------------------------------- users
    def register(self, node: Node) -> None:
        """A node uses this connection; connects if it is the first.

        The node's status follows the connection state, unless the node has a
        ``broker_state(state)`` method, which is then called instead (state:
        ``connecting``, ``connected`` or ``disconnected``).
        """
        self.users[node.id] = node
        if self.problem is None:
            _tell(node, self._state)
        else:
            node.status({"fill": "red", "shape": "ring", "text": self.problem})
        if self.transport is None and self.problem is None and \
                as_bool(self.config.get("autoConnect"), True):
            self.connect()

    def deregister(self, node: Node, removed: bool) -> None:
        """A node stops using the connection; its subscriptions go with it.

        The broker is told to unsubscribe only when the node was removed (and
        ``autoUnsubscribe``), so a persistent session keeps its subscriptions
        across restarts, as in Node-RED.
        """
        self.users.pop(node.id, None)
        for topic in [t for t, subs in self._subs.items() if node.id in subs]:
            self.unsubscribe(node, topic, at_broker=removed)

    def subscribe(self, node: Node, topic: str, sub: Subscription, handler: MessageHandler) -> None:
        """Deliver messages matching ``topic`` to ``handler`` (replacing ``node``'s previous)."""
        subs = self._subs.setdefault(topic, {})
        subs[node.id] = (sub, handler)
        self._routes.clear()
        if self.transport is not None:
            self.transport.subscribe(topic, _merged(subs))

    def unsubscribe(self, node: Node, topic: str, at_broker: bool = True) -> None:
        """Stop delivering ``topic`` to ``node`` (unsubscribe when no one else wants it)."""
        subs = self._subs.get(topic)
        if subs is None or subs.pop(node.id, None) is None:
            return
        self._routes.clear()
        if subs:
            if self.transport is not None:
                self.transport.subscribe(topic, _merged(subs))
            return
        del self._subs[topic]
        if self.transport is not None and at_broker and \
                as_bool(self.config.get("autoUnsubscribe"), True):
            self.transport.unsubscribe(topic)

    def subscriptions_of(self, node: Node) -> dict[str, Subscription]:
        """The topics ``node`` is subscribed to, with their options."""
        return {t: subs[node.id][0] for t, subs in self._subs.items() if node.id in subs}

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                properties: dict[str, Any] | None) -> Awaitable[None] | None:
        """Publish on the shared connection (see MqttTransport.publish)."""
        if self.transport is None:
            raise PublishDropped(self.problem or f"broker {self.label!r} is not connected")
        return self.transport.publish(topic, payload, qos, retain, properties)

    @property
    def connected(self) -> bool:
        """True while the connection is up."""
        return self.transport is not None and self.transport.connected

    def metrics(self) -> dict[str, float]:
        """The connection's counters and its queue of waiting publishes (see the help)."""
        transport = self.transport
        if transport is None:
            return {}
        stats = transport.stats
        return {"received_total": stats.received, "published_total": stats.published,
                "dropped_total": stats.dropped, "failed_total": stats.failed,
                "queued": transport.queued, "queued_bytes": transport.queued_bytes}

    def _protocol(self) -> int:
        return as_int(self._cfg("protocolVersion"), 4) or 4

    # ------------------------------------------------------ connect/disconnect
    def connect(self, overrides: dict[str, Any] | None = None, force: bool = False) -> None:
        """Start the connection (``action: "connect"``), optionally with new options."""
        if overrides:
            self._overrides.update(overrides)
        if self.transport is not None:
            if not force and not overrides:
                return
            self.create_task(self._reconnect())
            return
        try:
            options = self._options()
        except ValueError as exc:
            self.problem = str(exc)
            self.error(f"mqtt-broker {self.label!r}: {exc}")
            self._broadcast({"fill": "red", "shape": "ring", "text": self.problem})
            return
        self.problem = None
        transport = self.transport_factory(
            options, on_message=self._on_message, on_state=self._on_state,
            on_connected=self._on_connected, flow_control=self.ctx.dispatcher, clock=self.clock)
        for topic, subs in self._subs.items():
            transport.subscribe(topic, _merged(subs))
        self.transport = transport
        transport.start()

    async def disconnect(self) -> None:
        """Disconnect cleanly, publishing the close message first (``action: "disconnect"``)."""
        transport, self.transport = self.transport, None
        if transport is not None:
            await transport.close(last=self._message("close"))
        self._on_state("disconnected", "")

    async def _reconnect(self) -> None:
        await self.disconnect()
        self.connect()

    # ------------------------------------------------------------- internals
    def _cfg(self, key: str) -> Any:
        return self._overrides.get(key, self.config.get(key))

    def _options(self) -> ConnectOptions:
        self.protocol = self._protocol()  # a connect action may have changed it
        host, port, use_tls = _address(str(self._cfg("broker") or ""), self._cfg("port"),
                                       as_bool(self._cfg("usetls")))
        client_id = str(self._cfg("clientid") or "").strip()
        clean = as_bool(self._cfg("cleansession"), True)
        if not client_id:
            client_id, clean = "nodered" + os.urandom(8).hex(), True
        ssl_context, server_name = (self._tls() if use_tls else (None, None))
        will = self._message("will")
        for prefix in ("birth", "close"):  # checked now: a bad topic is a config problem
            self._message(prefix)
        settings = self.ctx.settings
        return ConnectOptions(
            host=host, port=port, client_id=client_id, protocol=self.protocol,
            keepalive=as_int(self._cfg("keepalive"), 60) or 60, clean_session=clean,
            username=self._overrides.get("username") or self.creds.get("user") or None,
            password=self._overrides.get("password") or self.creds.get("password") or None,
            will=Will(*will, properties=_v5_options(self._cfg("willMsg"))) if will else None,
            ssl_context=ssl_context, server_hostname=server_name,
            session_expiry=as_int(self._cfg("sessionExpiry"), 0) or None,
            user_properties=_json_object(self._cfg("userProps"), "userProps"),
            reconnect_max=settings.mqtt_reconnect_time / 1000,
            max_queued=settings.mqtt_queue_size,
            max_queued_bytes=settings.mqtt_queue_bytes)

    def _tls(self) -> tuple[ssl.SSLContext, str | None]:
        tls_node = self.config_node("tls")
        if tls_node is not None:
            return tls_node.ssl_context(), tls_node.server_name  # type: ignore[attr-defined]
        if self.config.get("tls"):
            raise ValueError(f"tls-config node {self.config['tls']!r} is not deployed")
        context = ssl.create_default_context()
        if not as_bool(self._cfg("verifyservercert")):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context, None

    def _message(self, prefix: str) -> tuple[str, bytes, int, bool] | None:
        topic = str(self._cfg(f"{prefix}Topic") or "")
        if not topic:
            return None
        if not valid_topic_name(topic):
            raise ValueError(f"{prefix}Topic {topic!r} is not a topic to publish on "
                             "(no wildcards + or #)")
        return (topic, serialize_payload(self._cfg(f"{prefix}Payload") or ""),
                _qos(self._cfg(f"{prefix}Qos"), 0), as_bool(self._cfg(f"{prefix}Retain")))

    def _on_connected(self) -> None:
        birth = self._message("birth")
        if birth is not None and self.transport is not None:
            try:
                self.transport.publish(*birth, properties=_v5_options(self._cfg("birthMsg")))
            except PublishDropped as exc:
                self.warn(f"birth message not published: {exc}")

    def _on_state(self, state: str, detail: str) -> None:
        if state == "closed":
            state = "disconnected"
        if state == self._state:
            return
        self._state = state
        for node in list(self.users.values()):
            _tell(node, state)

    def _broadcast(self, status: dict[str, Any]) -> None:
        for node in list(self.users.values()):
            node.status(status)

    def _on_message(self, topic: str, payload: bytes, qos: int, retain: bool,
                    props: dict[str, Any] | None) -> asyncio.Future[Any] | None:
        handlers = self._routes.get(topic)
        if handlers is None:
            handlers = [handler for sub_topic, subs in self._subs.items()
                        if topic_matches(sub_topic, topic) for _, handler in subs.values()]
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[topic] = handlers
        if len(handlers) == 1:
            return handlers[0](topic, payload, qos, retain, props)
        pending = [done for handler in handlers
                   if (done := handler(topic, payload, qos, retain, props)) is not None]
        if not pending:
            return None
        return pending[0] if len(pending) == 1 else _all_done(pending)


def _all_done(futures: list[asyncio.Future[Any]]) -> asyncio.Future[None]:
    """Done once every one is; failed with NotStoredError if any failed with it (the
    message must come again), else successful: other failures were reported."""
    combined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    remaining = len(futures)

    def one_done(future: asyncio.Future[Any]) -> None:
        nonlocal remaining
        remaining -= 1
        error = None if future.cancelled() else future.exception()
        if combined.done():
            return
        if isinstance(error, NotStoredError):
            combined.set_exception(error)
        elif not remaining:
            combined.set_result(None)

    for future in futures:
        future.add_done_callback(one_done)
    return combined


def _broker_of(node: Node) -> MqttBroker | None:
    """The mqtt-broker config node ``node`` names, or None once reported missing."""
    broker = node.config_node("broker")
    if isinstance(broker, MqttBroker):
        return broker
    node.error("missing broker configuration")
    return None


class MqttIn(Node):
    """Subscribes to a topic on an MQTT broker and sends what arrives.

    * `topic`: a topic filter; `+` matches one level, `#` the rest; `$share/group/...`
      is a shared subscription (the broker splits messages among the subscribers of
      a group, so several flowrt processes can share the load).
    * `qos` ("2"): the subscription's QoS. `nl`, `rap`, `rh`: MQTT 5 no-local,
      retain-as-published and retain-handling options.
    * `datatype`: `auto-detect` (for new nodes: JSON is parsed, so `"20"` becomes
      20; other UTF-8 text becomes a string; anything else a buffer), `auto` (string
      if UTF-8, else buffer), `utf8`, `buffer`, `base64`, `json` (bad JSON is an
      error and nothing is sent). A node without `datatype` (flows exported by older
      Node-RED versions) delivers `utf8` strings, as Node-RED's runtime does. With
      MQTT 5 a `contentType` decides first (text types → string, `application/json`
      → parsed, binary types → buffer).
    * `inputs`: 1 for dynamic subscriptions: `msg.action` `subscribe` (`msg.topic` a
      topic, a `{topic, qos, datatype, nl, rap, rh}` object, or a list of them),
      `unsubscribe` (`msg.topic` as above or `true` for all), `getSubscriptions`,
      `connect` (`msg.broker` overrides, `msg.force`), `disconnect`.

    Output: `msg.topic`, `msg.payload`, `msg.qos`, `msg.retain`, and with MQTT 5
    `msg.userProperties`, `msg.contentType`, `msg.responseTopic`,
    `msg.correlationData`, `msg.messageExpiryInterval`,
    `msg.payloadFormatIndicator` when the publisher set them. While the flow
    cannot keep up, reading from the broker pauses until it catches up.

    **End-to-end acknowledgement.** A QoS 1 or 2 message is acknowledged to the
    broker (PUBACK, or PUBREC for QoS 2) only once the flow has completed it: every
    node it reached called `done` (a `store-forward` after its disk commit, an
    `mqtt out` on its broker's acknowledgement), or reported an error (which went to
    the `catch` nodes as usual). With a persistent session (`cleansession` false and
    a fixed `clientid` on the broker node, or `sessionExpiry` with MQTT 5) a message
    the broker accepted is therefore never lost when flowrt is killed or the
    connection drops: the broker delivers again what was not acknowledged
    (at-least-once, so a message may arrive twice). The broker stops sending once
    its in-flight limit of unacknowledged messages is reached (mosquitto's
    `max_inflight_messages`, 20 by default), so a node that holds messages for long
    (a `delay` queue) also holds back the subscription. QoS 0 messages are sent on
    with no tracking. A message a durable node could not store (disk full) is not
    acknowledged at all with a persistent session: the connection is made again
    after `mqttReconnectTime` for the broker to deliver it again.
    """

    type = "mqtt in"
    category = "network"
    inputs = 0
    color = "#d8bfd8"
    icon = "bridge"
    editor: ClassVar = {"label": "topic"}
    # The editor writes "auto-detect" into new nodes; Node-RED's runtime reads a
    # missing datatype as utf8 (``n.datatype || "utf8"``).
    config_when_absent: ClassVar = {"datatype": "utf8"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "topic": string("", title="Topic"),
        "qos": _QOS,
        "datatype": enum(["auto-detect", "auto", "buffer", "utf8", "json", "base64"],
                         "auto-detect", title="Output", labels={
                             "auto-detect": "auto-detect (parsed JSON object, string or buffer)",
                             "auto": "auto-detect (string or buffer)", "buffer": "a Buffer",
                             "utf8": "a String", "json": "a parsed JSON object",
                             "base64": "a Base64 encoded string"}),
        "broker": node_ref("mqtt-broker", title="Server", required=True),
        "nl": show_if(boolean(False, title="Do not receive messages published by this client"),
                      **_V5),
        "rap": show_if(boolean(True, title="Keep the retain flag of the original publish"),
                       **_V5),
        "rh": show_if(enum([0, 1, 2, "0", "1", "2"], 0, title="Retained messages", labels={
            0: "Send retained messages", 1: "Only send for new subscriptions",
            2: "Do not send"}), **_V5),
        "inputs": integer(0, minimum=0, title="Dynamic subscription (1: topics from msg.topic)",
                          **{"x-hidden": True}),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.broker: MqttBroker | None = None
        self.dynamic = as_int(config.get("inputs"), 0) == 1

    async def start(self) -> None:
        self.broker = broker = _broker_of(self)
        if broker is None:
            return
        broker.register(self)
        if self.dynamic:
            return
        topic = self.config.get("topic")
        if not topic:
            self.error("topic not defined")
        elif not valid_filter(topic):
            self.warn(f"Invalid topic specified: {topic!r}")
        else:
            self._subscribe({"topic": topic, "qos": self.config.get("qos"),
                             "datatype": self.config.get("datatype"),
                             "nl": self.config.get("nl"), "rap": self.config.get("rap"),
                             "rh": self.config.get("rh")})

    async def close(self, removed: bool) -> None:
        if self.broker is not None:
            self.broker.deregister(self, removed)

    def _subscribe(self, spec: dict[str, Any]) -> None:
        assert self.broker is not None
        sub = Subscription(qos=_qos(spec.get("qos"), 2), no_local=as_bool(spec.get("nl")),
                           retain_as_published=as_bool(spec.get("rap"), True),
                           retain_handling=as_int(spec.get("rh"), 0) or 0)
        self.broker.subscribe(self, spec["topic"], sub,
                              self._handler(spec.get("datatype")
                                            or self.config.get("datatype") or "utf8"))

    def _handler(self, datatype: str) -> MessageHandler:
        convert = CONVERTERS.get(datatype, CONVERTERS["auto-detect"])
        send, send_tracked = self.send, self.send_tracked

        def deliver(topic: str, payload: bytes, qos: int, retain: bool,
                    props: dict[str, Any] | None) -> asyncio.Future[int] | None:
            try:
                value = convert(payload, props)
            except BadPayload as exc:
                self.error(str(exc), {"payload": exc.payload, "topic": topic, "qos": qos,
                                      "retain": retain})
                return None
            msg = {"topic": topic, "payload": value, "qos": qos, "retain": retain}
            if props:
                msg.update(props)
            try:
                if qos:
                    return send_tracked(msg)
                send(msg)
            except Exception as exc:  # this message's failure; the next one is read as usual
                self.error(exc, msg)
            return None

        return deliver

    async def on_input(self, msg: Message) -> None:  # type: ignore[override]
        if self.broker is None:
            raise ValueError("missing broker configuration")
        action = msg.get("action")
        if action in ("connect", "disconnect"):
            await _connection_action(self.broker, msg)
        elif not self.dynamic:
            raise ValueError("Invalid action specified")
        elif action == "subscribe":
            specs = _topic_specs(msg.get("topic"))
            for spec in specs:
                self._subscribe(spec)
            msg["subscriptions"] = specs
        elif action == "unsubscribe":
            topic = msg.get("topic")
            current = self.broker.subscriptions_of(self)
            topics = list(current) if topic is True else [s["topic"] for s in _topic_specs(topic)]
            for one in topics:
                self.broker.unsubscribe(self, one)
        elif action == "getSubscriptions":
            subs = self.broker.subscriptions_of(self)
            self.send({"topic": "subscriptions", "payload": [
                {"topic": t, "qos": s.qos} for t, s in subs.items()]})
        else:
            raise ValueError("Invalid action specified")


class MqttOut(Node):
    """Publishes `msg.payload` to an MQTT broker.

    * `topic`: when set it wins over `msg.topic`. `qos` and `retain`: when set
      (`"0"`, `"1"`, `"2"` / `"true"`, `"false"`) they win over `msg.qos` and
      `msg.retain`; empty means take them from the message (else 0 / false).
      The effective values are written back onto the message.
    * Payload: bytes as they are, strings as UTF-8, objects and arrays as JSON,
      numbers and booleans as text (`123` → `"123"`), null as an empty payload.
      A message without `payload` publishes nothing. An object nested more than
      254 levels deep (or containing itself) cannot be encoded: that message fails
      with an error saying so.
    * MQTT 5: `respTopic`, `contentType`, `userProps` (JSON object), `correl`,
      `expiry` (seconds) win over `msg.responseTopic`, `msg.contentType`,
      `msg.userProperties`, `msg.correlationData`, `msg.messageExpiryInterval`.
    * `msg.action` `connect` / `disconnect` control the broker connection.

    Completion: a QoS 1/2 message completes (its `done`) when the broker
    acknowledges it (PUBACK/PUBCOMP), a QoS 0 message once it is handed to the
    socket, so a `store-forward` node in front knows what is safe to delete.
    An invalid or empty topic is a warning ("Invalid topic specified"); a
    publish that cannot be kept while disconnected is an error.
    """

    type = "mqtt out"
    category = "network"
    outputs = 0
    color = "#d8bfd8"
    icon = "bridge"
    editor: ClassVar = {"label": "topic", "labelAlign": "right"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "topic": string("", title="Topic"),
        "qos": enum(["", "0", "1", "2", 0, 1, 2], "", title="QoS",
                    labels={"": "from msg.qos (else 0)", **QOS_LABELS}),
        "retain": enum(["", "true", "false", True, False], "", title="Retain", labels={
            "": "from msg.retain (else no)", "true": "yes", "false": "no"}),
        "respTopic": show_if(string("", title="Response topic"), **_V5),
        "contentType": show_if(string("", title="Content type"), **_V5),
        "userProps": show_if(string("", title="User properties (JSON)"), **_V5),
        "correl": show_if(string("", title="Correlation data"), **_V5),
        "expiry": show_if(string("", title="Message expiry (seconds)"), **_V5),
        "broker": node_ref("mqtt-broker", title="Server", required=True),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.broker: MqttBroker | None = None
        self.topic = str(config.get("topic") or "")
        self._topic_valid = valid_topic_name(self.topic)
        qos = config.get("qos")
        self.qos = _qos(qos, 0) if qos not in (None, "") else None
        retain = config.get("retain")
        self.retain = as_bool(retain) if retain not in (None, "") else None
        self.v5: dict[str, Any] = {}

    async def start(self) -> None:
        self.broker = broker = _broker_of(self)
        if broker is None:
            return
        if broker.protocol == 5:
            try:
                self.v5 = _v5_options(self.config) or {}
            except ValueError as exc:
                self.error(str(exc))
        broker.register(self)

    async def close(self, removed: bool) -> None:
        if self.broker is not None:
            self.broker.deregister(self, removed)

    def on_input(self, msg: Message) -> Awaitable[Any] | None:
        broker = self.broker
        if broker is None:
            raise ValueError("missing broker configuration")
        if "action" in msg:
            return _connection_action(broker, msg)
        if "payload" not in msg:
            return None
        topic: Any = self.topic or msg.get("topic")
        valid = self._topic_valid if self.topic else valid_topic_name(topic)
        if not valid:
            self.warn("Invalid topic specified")
            return None
        qos = self.qos
        if qos is None:
            qos = _qos(msg.get("qos"), 0)
        retain = self.retain
        if retain is None:
            retain = msg.get("retain") in (True, "true")
        msg["topic"], msg["qos"], msg["retain"] = topic, qos, retain
        props = None
        if broker.protocol == 5:
            props = {key: msg[key] for key in _V5_MSG_KEYS if key in msg}
            props.update(self.v5)
        return broker.publish(topic, serialize_payload(msg["payload"]), qos, retain, props)


# --------------------------------------------------------------- helpers
def _tell(node: Node, state: str) -> None:
    handler = getattr(node, "broker_state", None)
    if handler is not None:
        handler(state)
    else:
        node.status(STATUS[state])


async def _connection_action(broker: MqttBroker, msg: Message) -> None:
    action = msg.get("action")
    if action == "connect":
        overrides = msg.get("broker")
        broker.connect(overrides if isinstance(overrides, dict) else None,
                       force=as_bool(msg.get("force")))
    elif action == "disconnect":
        await broker.disconnect()
    else:
        raise ValueError("Invalid action specified")


def _topic_specs(topic: Any) -> list[dict[str, Any]]:
    items = topic if isinstance(topic, list) else [topic]
    specs: list[dict[str, Any]] = []
    for item in items:
        spec = dict(item) if isinstance(item, dict) else {"topic": item}
        if not isinstance(spec.get("topic"), str) or not spec["topic"]:
            raise ValueError("msg.topic is missing or invalid")
        if not valid_filter(spec["topic"]):
            raise ValueError(f"Invalid topic specified: {spec['topic']!r}")
        spec.setdefault("qos", 2)
        specs.append(spec)
    return specs


def _merged(subs: dict[str, tuple[Subscription, MessageHandler]]) -> Subscription:
    """One broker subscription serving several nodes: the highest QoS asked for."""
    options = [sub for sub, _ in subs.values()]
    best = max(options, key=lambda s: s.qos)
    return Subscription(qos=best.qos, no_local=best.no_local,
                        retain_as_published=best.retain_as_published,
                        retain_handling=best.retain_handling)


def _qos(value: Any, default: int) -> int:
    number = as_int(value, default)
    return number if number in (0, 1, 2) else default


def _address(broker: str, port: Any, use_tls: bool) -> tuple[str, int, bool]:
    """Host, port and TLS flag from Node-RED's ``broker``/``port``/``usetls`` keys."""
    if "://" in broker:
        url = urlsplit(broker)
        if url.scheme not in ("mqtt", "mqtts", "tcp", "ssl", "tls"):
            raise ValueError(f"broker URL scheme {url.scheme!r} is not supported "
                             "(use mqtt:// or mqtts://)")
        tls = url.scheme in ("mqtts", "ssl", "tls") or use_tls
        return url.hostname or "localhost", url.port or (8883 if tls else 1883), tls
    number = as_int(port, 1883) or 1883
    if not 0 < number < 65536:
        raise ValueError(f"port {port!r} is not a valid TCP port")
    return broker.strip().strip("[]") or "localhost", number, use_tls


_V5_MSG_KEYS = ("userProperties", "contentType", "responseTopic", "correlationData",
                "messageExpiryInterval")


def _v5_options(config: Any) -> dict[str, Any] | None:
    """Node-RED's v5 config keys (``respTopic``, ``userProps``...) as message properties."""
    if not isinstance(config, dict):
        return None
    out: dict[str, Any] = {}
    if config.get("respTopic"):
        out["responseTopic"] = str(config["respTopic"])
    if config.get("contentType"):
        out["contentType"] = str(config["contentType"])
    if config.get("correl"):
        out["correlationData"] = str(config["correl"]).encode()
    if config.get("expiry") not in (None, ""):
        expiry = as_int(config["expiry"])
        if expiry is None:
            raise ValueError(f"expiry: {config['expiry']!r} is not a number of seconds")
        out["messageExpiryInterval"] = expiry
    user = _json_object(config.get("userProps"), "userProps")
    if user:
        out["userProperties"] = user
    return out or None


def _json_object(value: Any, field: str) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value or None
    if not value:
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{field}: not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{field}: expected a JSON object")
    return parsed or None
