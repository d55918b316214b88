"""An in-memory MQTT broker whose connections implement :class:`~flowrt.mqtt.Transport`.

For unit tests of code that uses MQTT (nodes, plugins) without a broker process::

    broker = FakeBroker()
    monkeypatch.setattr(MqttBroker, "transport_factory", broker)  # a TransportFactory
    ...
    broker.publish("sensors/1", b"21.5", qos=1)   # as another client would
    assert broker.messages[-1].payload == b"..."   # everything published, in order

It keeps the semantics the nodes rely on, not the wire: subscriptions (wildcards,
``$share/group/...`` served round-robin), retained messages, QoS 1/2 publishes that
resolve once "the broker" has them and wait in a bounded queue while it is
:meth:`FakeBroker.stop`-ped, QoS 0 publishes refused while not connected, and
received messages acknowledged when the future ``on_message`` returns is done
(withheld on :class:`~flowrt.errors.NotStoredError` with a persistent session, and
delivered again on the next connection). Deliveries happen on the event loop's next
pass, as they would from a socket. Integration tests use a real mosquitto instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowrt.clock import Clock
from flowrt.errors import NotStoredError
from flowrt.mqtt.interface import (
    ConnectOptions,
    FlowControl,
    MessageHandler,
    PublishDropped,
    StateHandler,
    Subscription,
    Transport,
    TransportStats,
)
from flowrt.mqtt.topics import strip_share, topic_matches, valid_filter, valid_topic_name


@dataclass
class FakeMessage:
    """A message as the fake broker holds it."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: dict[str, Any] | None = None
    sender: str = ""
    """The client id of the connection that published it ("" for :meth:`FakeBroker.publish`)."""


class FakeBroker:
    """The broker: routes messages between its :class:`FakeTransport` connections.

    Calling it makes a connection (it is a :data:`~flowrt.mqtt.TransportFactory`).
    """

    def __init__(self) -> None:
        self.running = True
        self.messages: list[FakeMessage] = []
        """Every message published to the broker, in order."""
        self.retained: dict[str, FakeMessage] = {}
        self.acknowledged: list[FakeMessage] = []
        """QoS 1/2 deliveries the receiving connection acknowledged."""
        self.transports: list[FakeTransport] = []
        self._unacknowledged: dict[str, list[FakeMessage]] = {}
        self._turns = itertools.count()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __call__(self, options: ConnectOptions, **callbacks: Any) -> FakeTransport:
        transport = FakeTransport(self, options, **callbacks)
        self.transports.append(transport)
        return transport

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
                properties: dict[str, Any] | None = None) -> None:
        """Publish as another client would (delivered on the loop's next pass)."""
        self._accept(FakeMessage(topic, payload, qos, retain, properties))

    async def settled(self, within: float = 5.0) -> None:
        """Wait (bounded) until every message published so far has been delivered."""
        async with asyncio.timeout(within):
            await self._idle.wait()

    def stop(self) -> None:
        """The broker goes away: every connection is lost."""
        self.running = False
        for transport in self._connected():
            transport.lost("connection lost")

    def start(self) -> None:
        """The broker comes back: started connections connect again."""
        self.running = True
        for transport in self.transports:
            if transport.state == "disconnected":
                transport.connect_soon()

    # ------------------------------------------------------------- internals
    def _connected(self) -> list[FakeTransport]:
        return [t for t in self.transports if t.connected]

    def _accept(self, message: FakeMessage) -> None:
        self.messages.append(message)
        if message.retain:
            if message.payload:
                self.retained[message.topic] = message
            else:
                self.retained.pop(message.topic, None)
        self._soon(self._route, message)

    def _soon(self, callback: Any, *args: Any) -> None:
        """Run ``callback`` on the loop's next pass, as data from a socket would arrive."""
        self._in_flight += 1
        self._idle.clear()
        asyncio.get_running_loop().call_soon(self._run, callback, args)

    def _run(self, callback: Any, args: tuple[Any, ...]) -> None:
        try:
            callback(*args)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _route(self, message: FakeMessage) -> None:
        shared: dict[str, list[tuple[FakeTransport, Subscription]]] = {}
        for transport in self._connected():
            for topic_filter, sub in transport.subscriptions.items():
                if not topic_matches(topic_filter, message.topic):
                    continue
                if topic_filter.startswith("$share/"):
                    group = topic_filter.split("/", 2)[1] + "/" + strip_share(topic_filter)
                    shared.setdefault(group, []).append((transport, sub))
                else:
                    transport.deliver(message, sub, retained=False)
        for members in shared.values():
            transport, sub = members[next(self._turns) % len(members)]
            transport.deliver(message, sub, retained=False)

    def _retained_for(self, topic_filter: str) -> list[FakeMessage]:
        return [m for topic, m in self.retained.items() if topic_matches(topic_filter, topic)]


class FakeTransport:
    """One connection to a :class:`FakeBroker` (see :class:`~flowrt.mqtt.Transport`)."""

    def __init__(self, broker: FakeBroker, options: ConnectOptions, *,
                 on_message: MessageHandler, on_state: StateHandler | None = None,
                 on_connected: Any = None, flow_control: FlowControl | None = None,
                 clock: Clock | None = None) -> None:
        self.broker = broker
        self.options = options
        self.on_message = on_message
        self.on_state = on_state
        self.on_connected = on_connected
        self.state = "disconnected"
        self.stats = TransportStats()
        self.subscriptions: dict[str, Subscription] = {}
        self._waiting: list[tuple[FakeMessage, asyncio.Future[None]]] = []
        self._started = False

    @property
    def connected(self) -> bool:
        """True while connected to a running broker."""
        return self.state == "connected"

    @property
    def queued(self) -> int:
        """QoS 1/2 publishes waiting for the broker to come back."""
        return len(self._waiting)

    @property
    def queued_bytes(self) -> int:
        """The payload bytes those waiting publishes hold."""
        return sum(len(m.payload) for m, _ in self._waiting)

    def start(self) -> None:
        """Connect on the loop's next pass (when the broker runs)."""
        if not self._started:
            self._started = True
            self._set_state("connecting", "")
            self.connect_soon()

    def subscribe(self, topic: str, sub: Subscription) -> None:
        """Subscribe (now if connected, and after every reconnect)."""
        if not valid_filter(topic):
            raise ValueError(f"invalid topic filter: {topic!r}")
        self.subscriptions[topic] = sub
        if self.connected:
            self._send_retained(topic, sub)

    def unsubscribe(self, topic: str) -> None:
        """Forget a subscription."""
        self.subscriptions.pop(topic, None)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
                properties: dict[str, Any] | None = None) -> asyncio.Future[None] | None:
        """Publish; QoS 1/2 return a future resolved once the broker has the message."""
        if not valid_topic_name(topic):
            raise ValueError(f"invalid topic for publishing: {topic!r}")
        message = FakeMessage(topic, payload, qos, retain,
                              properties if self.options.protocol == 5 else None,
                              self.options.client_id)
        if qos == 0:
            if not self.connected:
                self.stats.dropped += 1
                raise PublishDropped(f"not connected to {self.describe()}: QoS 0 message dropped")
            self.stats.published += 1
            self.broker._accept(message)
            return None
        if len(self._waiting) >= self.options.max_queued or (
                not self.connected and self._waiting
                and self.queued_bytes + len(payload) > self.options.max_queued_bytes):
            self.stats.dropped += 1
            raise PublishDropped(f"publish queue for {self.describe()} is full: message dropped")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if self.connected:
            self.broker._soon(self._release)
        return future

    async def close(self, last: tuple[str, bytes, int, bool] | None = None) -> None:
        """Disconnect (publishing ``last`` first); waiting publishes fail."""
        if self.connected and last is not None:
            with contextlib.suppress(PublishDropped):
                self.publish(*last)
                self._release()
        self._started = False
        self._set_state("closed", "")
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(ConnectionError(f"connection to {self.describe()} closed"))

    def describe(self) -> str:
        """``[clientid@]memory://host:port``."""
        cid = f"{self.options.client_id}@" if self.options.client_id else ""
        return f"{cid}memory://{self.options.host}:{self.options.port}"

    # ------------------------------------------------------ broker's side
    def connect_soon(self) -> None:
        """Connect on the loop's next pass if the broker is running."""
        asyncio.get_running_loop().call_soon(self._connect)

    def lost(self, reason: str) -> None:
        """The connection is lost."""
        self._set_state("disconnected", reason)

    def deliver(self, message: FakeMessage, sub: Subscription, retained: bool) -> None:
        """Hand ``message`` to ``on_message`` under ``sub``; acknowledge it when done."""
        if not self.connected or (sub.no_local and message.sender == self.options.client_id
                                  and message.sender):
            return
        qos = min(message.qos, sub.qos)
        retain = retained or (message.retain and sub.retain_as_published)
        self.stats.received += 1
        try:
            done = self.on_message(message.topic, message.payload, qos, retain,
                                   message.properties)
        except Exception:
            self.stats.failed += 1
            done = None
        if not qos:
            return
        if done is None:
            self.broker.acknowledged.append(message)
            return
        connection = self.stats.connects
        done.add_done_callback(lambda future: self._acknowledge(message, connection, future))

    def _acknowledge(self, message: FakeMessage, connection: int,
                     done: asyncio.Future[Any]) -> None:
        if connection != self.stats.connects or not self.connected:
            self._remember(message)
            return
        error = None if done.cancelled() else done.exception()
        if isinstance(error, NotStoredError) and self.options.persistent_session:
            self.stats.withheld += 1
            self._remember(message)
            return
        self.broker.acknowledged.append(message)

    def _remember(self, message: FakeMessage) -> None:
        """An unacknowledged message of a persistent session: delivered again on the
        next connection."""
        if self.options.persistent_session:
            self.broker._unacknowledged.setdefault(self.options.client_id, []).append(message)

    def _connect(self) -> None:
        if not self._started or self.connected or not self.broker.running:
            if self._started and not self.broker.running:
                self._set_state("disconnected", "connection refused")
            return
        self.stats.connects += 1
        self._set_state("connected", "")
        for topic, sub in self.subscriptions.items():
            self._send_retained(topic, sub)
        if self.on_connected is not None:
            self.on_connected()
        for message in self.broker._unacknowledged.pop(self.options.client_id, []):
            matching = [s for f, s in self.subscriptions.items()
                        if topic_matches(f, message.topic)]
            if matching:
                self.deliver(message, matching[0], retained=False)
        self._release()

    def _release(self) -> None:
        while self._waiting and self.connected:
            message, future = self._waiting.pop(0)
            self.stats.published += 1
            self.broker._accept(message)
            if not future.done():
                future.set_result(None)

    def _send_retained(self, topic: str, sub: Subscription) -> None:
        if sub.retain_handling == 2:
            return
        for message in self.broker._retained_for(topic):
            self.broker._soon(self.deliver, message, sub, True)

    def _set_state(self, state: str, detail: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            self.on_state(state, detail)


if TYPE_CHECKING:
    def _implements_transport(transport: FakeTransport) -> Transport:
        return transport  # mypy proves that FakeTransport is a Transport
