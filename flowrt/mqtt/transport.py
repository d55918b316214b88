"""One MQTT client connection driven by the asyncio event loop (paho-mqtt, no thread).

paho-mqtt's protocol engine runs on the loop: its socket is registered with
``loop.add_reader``/``add_writer`` and its read/write/keepalive steps are called
from there, so a received message reaches the flow with no thread hop and no task.
Everything that touches paho is in :mod:`flowrt.mqtt.paho_adapter` (buffered
reads, coalesced writes, QoS 0 PUBLISH packets encoded and parsed by
:mod:`flowrt.mqtt.codec`); this module holds the connection's policy. One wake-up
reads every packet available, up to a budget of packets and of bytes, so that
large messages are read a few at a time while the flow handles them.

Failures stay where they happen: a callback that raises (``on_message``,
``on_state``...) is logged and the next message is read as usual; an
unexpected failure inside the protocol engine drops the connection, which is
then made again, since the position in the stream can no longer be trusted.

Only the blocking part of connecting (DNS, TCP connect, TLS handshake) runs in
a worker thread, once per connection attempt; the ready socket is then handed
to paho on the loop.

:class:`MqttTransport` implements :class:`flowrt.mqtt.interface.Transport`, the
narrow interface the nodes use (``start``, ``subscribe``, ``unsubscribe``,
``publish``, ``close`` plus the ``on_message`` and ``on_state`` callbacks), which
:class:`flowrt.mqtt.fake.FakeBroker`'s in-memory connections implement too.

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
from typing import Any

from flowrt.clock import Clock, TimerHandle
from flowrt.errors import NotStoredError
from flowrt.mqtt.interface import (
    ConnectOptions,
    FlowControl,
    MessageHandler,
    PublishDropped,
    StateHandler,
    Subscription,
    TransportStats,
)
from flowrt.mqtt.paho_adapter import READ_CHUNK, LoopClient
from flowrt.mqtt.properties import message_properties, wire_properties

log = logging.getLogger("flowrt.mqtt")

READ_BUDGET = 512
"""Packets handled per wake-up before yielding to the rest of the loop."""
READ_BYTES_BUDGET = 1024 * 1024
"""Bytes read from the socket per wake-up (beyond it, the packet being read is
finished first): the flow handles what was read before more is taken in."""
WRITE_BACKLOG_HIGH = 4 * 1024 * 1024
"""Bytes waiting to be written above which sources pause, until a quarter is left."""
CLOSE_ACK_TIMEOUT = 2.0
"""How long ``close`` waits for the broker to acknowledge the last message."""

_Publish = tuple[str, bytes, int, bool, "dict[str, Any] | None", "asyncio.Future[None]"]
"""A QoS 1/2 publish waiting to be sent: topic, payload, qos, retain, codec-shaped
properties, the future its acknowledgement resolves."""

__all__ = ["READ_BUDGET", "READ_BYTES_BUDGET", "READ_CHUNK", "WRITE_BACKLOG_HIGH",
           "MqttTransport"]


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
        self._client = LoopClient(options, self)

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
            self._client.subscribe_to(topic, sub)

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
        props = wire_properties(properties) if self._v5 and properties else None
        if qos == 0:
            if not self.connected:
                self.stats.dropped += 1
                raise PublishDropped(f"not connected to {self.describe()}: QoS 0 message dropped")
            self._client.publish_qos0(topic, payload, retain, props)
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
        self._pending[self._client.publish_tracked(topic, payload, qos, retain, props)] = future
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
            self._client.disconnect_now()
        self._drop_socket()
        self._set_state("closed", "")
        self._fail_pending(ConnectionError(f"connection to {self.describe()} closed"))

    def describe(self) -> str:
        """``[clientid@]mqtt[s]://host:port`` as Node-RED's log lines show it."""
        scheme = "mqtts" if self.options.ssl_context else "mqtt"
        cid = f"{self.options.client_id}@" if self.options.client_id else ""
        return f"{cid}{scheme}://{self.options.host}:{self.options.port}"

    # -------------------------------------------------------------- connecting
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
        self._client.connect_on(await _open_socket(self.options))
        async with asyncio.timeout(self.options.connect_timeout):
            await self._connack

    # ------------------------------------------- ClientEvents (paho_adapter)
    def on_socket_open(self, fd: int) -> None:
        """The connected socket is in use: watch it for reading."""
        assert self._loop is not None
        self._fd = fd
        self._resume_reading()

    def on_socket_close(self) -> None:
        """The socket is closed: stop watching it."""
        self._unwatch()

    def on_register_write(self) -> None:
        """Something waits to be written."""
        # Packets were queued: send them at the end of this loop pass, in one send
        # with whatever else is queued meanwhile. The socket is only watched for
        # writability when it would block: an add_writer/remove_writer pair per
        # message costs more than the message at low rates.
        # Inside a pass of the run queue (a read delivering, a drain) the flush runs at
        # the pass's end, in the same loop callback.
        if (not self._writing and not self._write_scheduled and self._fd >= 0
                and self._loop is not None):
            self._write_scheduled = True
            control = self.flow_control
            if control is None or not control.after_pass(self._write_now):
                self._loop.call_soon(self._write_now)

    def _write_now(self) -> None:
        self._write_scheduled = False
        if self._fd < 0 or self._loop is None:
            return
        self._on_writable()
        if self._client.want_write() and not self._writing and self._fd >= 0:
            self._writing = True
            self._loop.add_writer(self._fd, self._on_writable)

    def on_unregister_write(self) -> None:
        """Nothing waits to be written any more."""
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
        self._client.close_socket()

    def on_connack(self, failure: str | None, receive_maximum: int | None) -> None:
        """The broker answered CONNECT (``failure`` None: accepted)."""
        if self._connack is None or self._connack.done():
            return
        if failure is not None:
            self._connack.set_exception(
                ConnectionError(f"broker refused the connection: {failure}"))
            return
        self.stats.connects += 1
        self._connack.set_result(None)
        self._max_inflight = max(1, min(self.options.max_inflight,
                                        receive_maximum or self.options.max_inflight))
        log.info("Connected to broker: %s", self.describe())
        self._set_state("connected", "")
        self._schedule_misc()
        for topic, sub in self.subscriptions.items():
            self._client.subscribe_to(topic, sub)
        if self.on_connected is not None:
            self._notify(self.on_connected)
        # After paho has re-sent what was in flight: keep the order.
        assert self._loop is not None
        self._loop.call_soon(self._release)

    def on_lost(self, reason: str) -> None:
        """The connection ended."""
        self._unwatch()
        if self._redeliver_timer is not None:  # the next connection redelivers anyway
            self._redeliver_timer.cancel()
            self._redeliver_timer = None
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectionError(f"connection closed: {reason}"))
        if self._lost is not None:
            self._lost.set()
        if self.state == "connected":
            self._set_state("disconnected", reason)

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
        control = self.flow_control
        # Read, deliver and write in this one loop callback (see flowrt.dispatch).
        more = self._read() if control is None else control.source_pass(self._read)
        if more is None or not self._reading:
            return
        if control is not None and control.saturated:
            # Stop reading: the run queue drains first, the TCP window holds the rest.
            self._reading = False
            assert self._loop is not None
            self._loop.remove_reader(self._fd)
            control.when_drained(self._resume_reading)
        elif more:
            self._schedule_read()

    def _read(self) -> bool | None:
        """Handle what the socket has; True when more may be waiting, None when the
        protocol engine failed."""
        client = self._client
        before = client.bytes_in
        try:
            return client.read_burst(READ_BUDGET, READ_BYTES_BUDGET)
        except Exception:
            self._protocol_failed("reading")
            return None
        finally:
            self.stats.bytes_received += client.bytes_in - before

    def _protocol_failed(self, doing: str) -> None:
        """paho failed unexpectedly: where it was in the stream is unknown, so the
        connection is dropped (and made again by ``_maintain``)."""
        log.exception("MQTT protocol failure while %s on %s: reconnecting", doing,
                      self.describe())
        self._client.fail_protocol()

    def on_publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                   properties: dict[str, Any] | None, mid: int) -> None:
        """A message arrived: hand it to ``on_message``, then acknowledge it (QoS 1/2)
        when the future that returns is done."""
        self.stats.received += 1
        try:
            done = self.on_message(topic, payload, qos, retain,
                                   message_properties(properties) if properties else None)
        except Exception as exc:
            self._handler_failed(topic, exc)
            done = None
        if not qos:
            return
        if done is None:
            self._client.acknowledge(mid, qos)
        else:
            done.add_done_callback(functools.partial(self._acknowledge, mid, qos,
                                                     self.stats.connects))

    def on_bad_topic(self, topic: bytes, qos: int, mid: int) -> None:
        """A message whose topic is not UTF-8 (a broker let it through): that message's
        failure, acknowledged all the same."""
        self.stats.received += 1
        self._handler_failed(topic.decode(errors="replace"),
                             ValueError("the topic is not valid UTF-8"))
        if qos:
            self._client.acknowledge(mid, qos)

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
        if isinstance(error, NotStoredError) and self.options.persistent_session:
            self.stats.withheld += 1
            self._redeliver_later()
            return
        self._client.acknowledge(mid, qos)

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
            self._client.disconnect_now()

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

    def on_ack(self, mid: int, failure: str | None) -> None:
        """The broker acknowledged (PUBACK/PUBCOMP) our publish ``mid``."""
        future = self._pending.pop(mid, None)
        if future is None:
            return
        if not future.done():
            if failure is not None:
                future.set_exception(ConnectionError(f"broker rejected the publish: {failure}"))
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
        if self._client.keep_alive() and self.connected:
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
