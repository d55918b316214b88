"""What flowrt needs of an MQTT connection: the :class:`Transport` protocol and its types.

A transport is one self-reconnecting connection to one broker. The ``mqtt-broker``
node and cloud-bridge use nothing else, so a connection on another client library, or
the in-memory :class:`flowrt.mqtt.fake.FakeBroker` of the unit tests, can stand in for
:class:`flowrt.mqtt.transport.MqttTransport` (paho-mqtt on the event loop).

Receiving: ``on_message(topic, payload, qos, retain, v5_properties)`` is called for
every message; the properties use flowrt's message names (``userProperties``,
``contentType``...). It may return a future: a QoS 1 or 2 message is then acknowledged
to the broker only when that future is done, and not at all while the session is
persistent when it failed with :class:`~flowrt.errors.NotStoredError` (the broker then
delivers it again). Acknowledging is therefore the transport's own business, decided
by that future: the contract a node sees is "complete the message", not a packet id.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable


class PublishDropped(Exception):
    """A publish could not be queued (not connected at QoS 0, or the queue is full)."""


T = TypeVar("T")


class FlowControl(Protocol):
    """Who tells the transport to stop reading and runs its reads as passes (the
    runtime's dispatcher, :class:`flowrt.dispatch.Dispatcher`)."""

    @property
    def saturated(self) -> bool: ...

    def when_drained(self, callback: Callable[[], None]) -> None: ...

    def source_pass(self, read: Callable[[], T]) -> T: ...

    def after_pass(self, callback: Callable[[], None]) -> bool: ...

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

    @property
    def persistent_session(self) -> bool:
        """True when the broker keeps the session (and unacknowledged messages) across
        connections: no clean session, and on MQTT 5 a session expiry interval."""
        return not self.clean_session and (self.protocol != 5 or bool(self.session_expiry))


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


MessageHandler = Callable[[str, bytes, int, bool, dict[str, Any] | None],
                          "asyncio.Future[Any] | None"]
"""``on_message(topic, payload, qos, retain, v5_properties_or_None)``; may return a
future: a QoS 1/2 message is acknowledged to the broker only once it is done."""
StateHandler = Callable[[str, str], None]
"""``on_state(state, detail)``; state is connecting, connected, disconnected or closed."""


class Transport(Protocol):
    """One MQTT connection, reconnecting by itself until closed.

    Built with ``(options, *, on_message, on_state=None, on_connected=None,
    flow_control=None, clock=None)`` (see :data:`TransportFactory`).
    """

    options: ConnectOptions
    stats: TransportStats
    state: str
    """connecting, connected, disconnected or closed."""

    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the loss of the connection."""

    @property
    def queued(self) -> int:
        """QoS 1/2 publishes waiting for a connection or for the in-flight window."""

    @property
    def queued_bytes(self) -> int:
        """The payload bytes those waiting publishes hold."""

    def start(self) -> None:
        """Begin connecting (and reconnecting) in the background."""

    def subscribe(self, topic: str, sub: Subscription) -> None:
        """Subscribe now if connected, and after every reconnect."""

    def unsubscribe(self, topic: str) -> None:
        """Forget a subscription (and unsubscribe now if connected)."""

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
                properties: dict[str, Any] | None = None) -> asyncio.Future[None] | None:
        """Publish; QoS 1/2 return a future the broker's acknowledgement resolves.
        Raises :class:`PublishDropped` when the message cannot be kept."""

    async def close(self, last: tuple[str, bytes, int, bool] | None = None) -> None:
        """Disconnect cleanly, after publishing ``last`` = (topic, payload, qos, retain)."""

    def describe(self) -> str:
        """``[clientid@]mqtt[s]://host:port`` for log lines."""


TransportFactory = Callable[..., Transport]
"""Makes a transport: ``factory(options, *, on_message, on_state, on_connected,
flow_control, clock)``."""


@runtime_checkable
class SharedConnection(Protocol):
    """What an ``mqtt-broker`` config node offers the nodes that use its one connection
    (mqtt in/out, cloud-bridge): a node module finds its broker through this protocol,
    never by importing the mqtt node module."""

    protocol: int
    """The MQTT protocol level (3, 4 or 5)."""

    @property
    def connected(self) -> bool:
        """True while the connection is up."""

    def register(self, node: Any) -> None:
        """``node`` uses the connection (which connects for its first user)."""

    def deregister(self, node: Any, removed: bool) -> None:
        """``node`` stops using the connection; its subscriptions go with it."""

    def subscribe(self, node: Any, topic: str, sub: Subscription,
                  handler: MessageHandler) -> None:
        """Deliver messages matching ``topic`` to ``handler``."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                properties: dict[str, Any] | None) -> Awaitable[None] | None:
        """Publish on the shared connection; a future for QoS 1/2 acknowledgement."""
