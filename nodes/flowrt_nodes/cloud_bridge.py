"""cloud-bridge: a durable outbox to a cloud MQTT broker, and cloud commands back.

The outbox is store-forward's: input messages are committed to a
:class:`~flowrt.durable_queue.DurableQueue` and the :class:`~flowrt.forwarder.Forwarder`
(the same implementation, not a copy) leases them in priority order while the cloud
connection is up, with a batching stage for "batch" priorities. Its delivery is a
publish over the shared ``mqtt-broker`` connection (:mod:`flowrt.mqtt`): an entry is
deleted only once the cloud broker acknowledged the publish that carried it.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import uuid
from collections.abc import Awaitable
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.durable_queue import (
    MAX_UNCOMMITTED,
    NODE_QUEUE_KEYS,
    DurableQueue,
    Entry,
    Priority,
    PutHealth,
    message_priority,
    open_node_queue,
)
from flowrt.errors import NodeError
from flowrt.forwarder import RETRY_SCHEMA, Batching, Forwarder, NotSent, retry_policies
from flowrt.messages import Message
from flowrt.mqtt import PublishDropped, SharedConnection, Subscription, valid_filter
from flowrt.node import Node, NodeContext
from flowrt.payloads import CONVERTERS, serialize_payload
from flowrt.schema import (
    QOS_LABELS,
    as_bool,
    as_int,
    as_number,
    boolean,
    enum,
    integer,
    node_ref,
    number,
    retitle,
    string,
)

STATE_LEVELS = {"offline": 0, "degraded": 1, "online": 2}
TICK = 1.0
"""Seconds between checks of slow acknowledgements (degraded) and status refreshes;
also how long the outbox waits after the queue itself failed (disk full...)."""
EXPIRY_INTERVAL = 60.0
"""Seconds between two sweeps of expired messages from the outbox."""
DEFAULT_MODES: dict[str, Any] = {
    "critical": "stream", "high": "stream",
    "normal": {"batch": {"interval": 5, "maxMessages": 500}},
    "low": {"batch": {"interval": 60, "maxMessages": 5000}},
}
_MODE = {"anyOf": [{"enum": ["stream"]}, {"type": "object", "properties": {"batch": {
    "type": "object", "properties": {"interval": number(minimum=0),
                                     "maxMessages": integer(minimum=1)}}}}]}


class CloudBridge(Node):
    """Publishes local messages to a cloud MQTT broker through a durable outbox, and
    brings cloud commands back.

    **Keys**
    - `broker`: an `mqtt-broker` config node for the cloud side (TLS and mutual TLS
      through its `tls-config`; MQTT 5 or 3.1.1).
    - `deviceId` (default: the host name; `${ENV}` allowed).
    - `topicTemplate` (`devices/{deviceId}/{topic}`): where a streamed message goes;
      `{topic}` is `msg.topic`, `{priority}` its priority. `batchTopic`
      (`devices/{deviceId}/batch/{priority}`): where batches go.
    - `qos` (1). `priorityProperty` (`priority`): "critical", "high", "normal"
      (default) or "low".
    - `modes`: per priority `"stream"` (publish at once) or
      `{"batch": {"interval": s, "maxMessages": n}}`. Defaults: critical and high
      stream, normal batch 5 s / 500, low batch 60 s / 5000.
    - `compress`: `none` or `gzip` (batches only; content type
      `application/json+gzip` on MQTT 5).
    - `durable` (true): the outbox is a durable queue in the data directory
      (`queues/<queue>.sqlite3`, `queue` defaults to the node id). A message's
      completion (`done`) comes once it is on disk; one that cannot be committed (disk
      full, I/O error) fails with a `NotStoredError` naming the queue and the cause, so
      `mqtt in` does not acknowledge it and the broker delivers it again. With
      `durable` false messages are published at once (stream) and complete on the
      broker's acknowledgement.
    - `maxMessages` (100000), `maxBytes` (bytes of stored message JSON, empty = no
      limit): when the outbox is full, the oldest message of the lowest priority
      present is evicted (never "critical" while a lower priority exists) and counted
      as dropped; as in `store-forward`.
    - Waiting messages expire as in `store-forward` with its default `ttl` (critical
      never, high 1 day, normal 7 days, low 30 days): a sweep every minute deletes
      them, counts them as dropped and logs one warning per sweep.
    - `window` (1000): messages published and not yet acknowledged at once.
    - `retry`: per priority `{maxRetries, initialDelay, multiplier, maxDelay, jitter}`,
      as in `store-forward`: a publish the cloud broker refuses (an MQTT 5 reason code)
      or that cannot be encoded is a failed try, retried after its backoff; once
      `maxRetries` is spent the message is dead-lettered in the outbox file and counted
      as dropped. A connection lost or closed under a publish costs no try.
    - `envelope` (false): wrap streamed messages as `{"topic", "payload", "ts",
      "_sfid", "priority"}` (JSON), for receivers that need to drop duplicates on
      MQTT 3.1.1.
    - `downlink` (`devices/{deviceId}/commands/#`, empty = none): messages received
      there leave on output 1 with `msg.topic` stripped of the filter's prefix and
      the payload decoded as `mqtt in`'s auto-detect does.
    - `degradedAfter` (2 s): acknowledgements slower than this make the state
      "degraded".

    **What is published.** A streamed message: its payload unchanged, serialised as
    `mqtt out` does (bytes as they are, text as UTF-8, objects and arrays as JSON,
    numbers and booleans as their JSON text), so a cloud subscriber sees what a local
    one sees. On MQTT 5 it carries the user properties `_sfid`, `ts` (ms, when it was
    queued) and `priority`; with `envelope` it is the JSON envelope above instead. A
    batch: `{"batchId", "deviceId", "priority", "count", "messages": [{"topic",
    "payload", "ts", "_sfid"}, ...]}`. Delivery is at-least-once: a receiver drops
    duplicates by `_sfid`. Within a priority messages arrive in order; after an outage
    the backlog drains highest priority first, and new critical messages still go
    first.

    **Outputs.** 1: downlink commands. 2: connectivity changes
    `{"state": "online" | "degraded" | "offline", "since" (ms), "queued"}`, also shown
    in the status. On `/metrics`: messages and bytes sent, batches, queued, dropped,
    reconnects and the state (`flowrt_node_state`: 0 offline, 1 degraded, 2 online).

    Backpressure: while more than 5000 messages wait for their commit to disk,
    input sources (mqtt in) pause reading, so a burst waits in the broker rather
    than in memory.
    """

    type = "cloud-bridge"
    category = "network"
    inputs = 1
    outputs = 2
    color = "#a6bbcf"
    icon = "bridge"
    palette_label = "cloud bridge"
    editor: ClassVar = {"label": "deviceId"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "broker": node_ref("mqtt-broker", title="Cloud broker", required=True),
        "deviceId": string("", title="Device ID", description="empty: the host name; "
                           "${ENV} allowed"),
        "topicTemplate": string("devices/{deviceId}/{topic}", title="Stream topic",
                                description="{deviceId}, {topic} (msg.topic), {priority}"),
        "batchTopic": string("devices/{deviceId}/batch/{priority}", title="Batch topic"),
        "qos": enum(["0", "1", "2", 0, 1, 2], 1, title="QoS", labels=QOS_LABELS),
        "priorityProperty": string("priority", title="Priority property (msg.)",
                                   description="critical, high, normal (default) or low"),
        "modes": {"type": "object", "properties": {p.label: _MODE for p in Priority},
                  "default": DEFAULT_MODES, "title": "Sending per priority",
                  "x-kind": "batch-modes"},
        "compress": enum(["none", "gzip"], "none", title="Compress batches",
                         labels={"none": "no", "gzip": "gzip"}),
        "envelope": boolean(False, title="Wrap streamed messages in a JSON envelope"),
        "durable": boolean(True, title="Durable outbox (on disk)"),
        **retitle(NODE_QUEUE_KEYS, queue="Outbox name", maxMessages="Most queued messages",
                  maxBytes="Most queued bytes"),
        "window": integer(1000, minimum=1, title="Unacknowledged publishes at most"),
        "retry": {**RETRY_SCHEMA, "x-kind": "table"},
        "downlink": string("devices/{deviceId}/commands/#", title="Downlink topic filter",
                           description="commands from the cloud, sent on output 1; "
                                       "empty: none"),
        "degradedAfter": number(2, minimum=0, title="Degraded after (seconds)",
                                description="acknowledgements slower than this"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.device_id = str(config.get("deviceId") or socket.gethostname())
        qos = as_int(config.get("qos"), 1)
        self.qos: int = qos if qos is not None and 0 <= qos <= 2 else 1
        self.durable = as_bool(config.get("durable"), True)
        if self.durable:
            self.max_inflight = MAX_UNCOMMITTED
        self.window = max(1, as_int(config.get("window"), 1000) or 1000)
        self.envelope = as_bool(config.get("envelope"))
        self.gzip = config.get("compress") == "gzip"
        self.degraded_after = as_number(config.get("degradedAfter"), 2.0) or 0.0
        self.modes = {p: _batching((config.get("modes") or {}).get(
            p.label, DEFAULT_MODES[p.label]), p) for p in Priority}
        self._priority_property = config.get("priorityProperty") or "priority"
        # {deviceId} is the same for every message: filled in once.
        self._stream_topic = (config.get("topicTemplate") or "devices/{deviceId}/{topic}"
                              ).replace("{deviceId}", self.device_id)
        batch_topic = (config.get("batchTopic") or "devices/{deviceId}/batch/{priority}"
                       ).replace("{deviceId}", self.device_id).replace("{topic}", "")
        self._batch_topics = {p: batch_topic.replace("{priority}", p.label) for p in Priority}
        downlink = str(config.get("downlink") or "").replace("{deviceId}", self.device_id)
        self.downlink = downlink
        self.downlink_prefix = downlink.split("#")[0].split("+")[0]
        self.broker: SharedConnection | None = None
        self.queue: DurableQueue | None = None
        self.state = "offline"
        self.since = self.clock.time()
        self.queued = 0
        self.counters = {"sent": 0, "bytes": 0, "batches": 0, "dropped": 0, "reconnects": 0}
        self._connects = 0
        self._forwarder: Forwarder | None = None
        self._in_flight: dict[asyncio.Future[None], float] = {}
        """Publish (its acknowledgement) → monotonic send time, until acknowledged."""
        self._tick: TimerHandle | None = None
        self._puts_pending = 0
        """Puts submitted and not committed yet (leased ones apart)."""
        self._leased_pending = 0
        """Leased puts (published at once) not committed yet."""
        self._health = PutHealth()
        """Why puts fail for want of space, until one succeeds (shown in the status)."""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        broker = self.config_node("broker")
        if not isinstance(broker, SharedConnection):
            raise NodeError("cloud-bridge needs an mqtt-broker config node in `broker`",
                            node_id=self.id, node_type=self.type)
        if self.downlink and not valid_filter(self.downlink):
            raise NodeError(f"downlink: invalid topic filter {self.downlink!r}",
                            node_id=self.id, node_type=self.type)
        self.broker = broker
        if self.durable:
            self.queue = await open_node_queue(self)
            self.queued = (await self.queue.stats()).total
            self._forwarder = Forwarder(
                self.queue, self.clock, self._deliver,
                retry=retry_policies(self.config.get("retry") or {}),
                on_error=lambda exc: self.error(f"cloud-bridge outbox failed: {exc}"),
                window=self.window,
                batching={p: b for p, b in self.modes.items() if b is not None},
                ready=lambda: broker.connected, recheck=TICK, error_pause=TICK,
                on_acked=self._acked, on_dead_letter=self._dead_lettered)
            self.create_task(self._forwarder.run())
            self.create_task(self._expire_periodically())
        if self.downlink:
            broker.subscribe(self, self.downlink, Subscription(qos=1), self._command)
        broker.register(self)
        self._schedule_tick()
        self._show()

    async def close(self, removed: bool) -> None:
        if self._tick is not None:
            self._tick.cancel()
        if self.broker is not None:
            self.broker.deregister(self, removed)
        await self._stop_tasks()
        if self._forwarder is not None:
            self._forwarder.close()
        if self.queue is not None:
            await self.queue.close()

    async def _expire_periodically(self) -> None:
        assert self.queue is not None
        while True:
            await self.clock.sleep(EXPIRY_INTERVAL)
            if expired := await self.queue.expire_all():
                self.queued -= len(expired)
                self.counters["dropped"] += len(expired)
                self.warn(f"{len(expired)} messages expired in the outbox before they could "
                          "be sent (ttl)")
                self._show()

    # ----------------------------------------------------------------- input
    def on_input(self, msg: Message) -> Awaitable[Any] | None:
        priority = message_priority(msg, self._priority_property, self.warn)
        if self.queue is None:  # not durable: publish now, complete on the acknowledgement
            sfid = str(msg.get("_msgid") or "")
            try:
                return self._publish_stream(msg, priority, self.clock.time(), sfid)
            except PublishDropped:
                self.counters["dropped"] += 1
                raise
        forwarder = self._forwarder
        assert forwarder is not None
        # Nothing waits before it: publish while the put commits (no fsync in the way).
        if self._nothing_waiting() and forwarder.can_forward_now(priority):
            leased = self.queue.put_leased(msg, priority)
            if leased is not None:
                entry, future = leased
                self._leased_pending += 1
                future.add_done_callback(lambda done: self._stored(done, priority, True))
                forwarder.forward_now(entry, future)
                return future
        self._puts_pending += 1
        future = self.queue.put(msg, priority)
        future.add_done_callback(lambda done: self._stored(done, priority, False))
        return future

    def _nothing_waiting(self) -> bool:
        """True when every stored entry is in flight and no put is on its way."""
        assert self._forwarder is not None
        stored_in_flight = self._forwarder.in_flight - self._leased_pending
        return not self._puts_pending and self.queued <= stored_in_flight

    def _stored(self, future: asyncio.Future[Any], priority: Priority, leased: bool) -> None:
        if leased:
            self._leased_pending -= 1
        else:
            self._puts_pending -= 1
        result, changed = self._health.settle(future)
        if changed:
            self._show()
        if result is None:
            return
        evicted = len(result.evicted)
        self.queued += 1 - evicted
        self.counters["dropped"] += evicted
        if not leased:  # a leased entry is in flight already
            assert self._forwarder is not None
            self._forwarder.stored(priority)

    def _acked(self, deleted: int) -> None:
        # Entries evicted while in flight are gone already: only those deleted now count.
        self.queued -= deleted

    def _dead_lettered(self, entry: Entry, tries: int, reason: str) -> None:
        self.queued -= 1
        self.counters["dropped"] += 1
        self.error(f"cloud-bridge dropped {entry.sfid} ({entry.priority.label}): {reason}")

    # ------------------------------------------------------------- publishing
    def _deliver(self, priority: Priority, entries: list[Entry]) -> Awaitable[None] | None:
        """The forwarder's delivery: one streamed entry, or one batch."""
        try:
            if self.modes[priority] is None:
                (entry,) = entries
                published = self._publish_stream(entry.message, priority, entry.enqueued_at,
                                                 entry.sfid)
            else:
                published = self._publish_batch(priority, entries)
        except PublishDropped as exc:  # not taken by the connection: stays queued
            raise NotSent(str(exc)) from exc
        # A publish failing once the connection is gone (closed under it) costs no try:
        # the forwarder's ready() is the connection.
        return published

    def _publish_stream(self, msg: Message, priority: Priority, queued_at: float,
                        sfid: str) -> asyncio.Future[None] | None:
        assert self.broker is not None
        label = priority.label
        topic = self._stream_topic.replace("{topic}", str(msg.get("topic") or "")) \
            .replace("{priority}", label)
        ts = int(queued_at * 1000)
        props: dict[str, Any] | None = None
        if self.broker.protocol == 5:
            props = {"userProperties": {"_sfid": sfid, "ts": ts, "priority": label}}
        if self.envelope:
            data = serialize_payload({"topic": msg.get("topic"), "payload": msg.get("payload"),
                                      "ts": ts, "_sfid": sfid, "priority": label})
            if props is not None:
                props["contentType"] = "application/json"
        else:
            data = serialize_payload(msg.get("payload"))
        return self._publish(topic, data, props, 1)

    def _publish_batch(self, priority: Priority, entries: list[Entry]
                       ) -> asyncio.Future[None] | None:
        assert self.broker is not None
        document = {"batchId": uuid.uuid4().hex, "deviceId": self.device_id,
                    "priority": priority.label, "count": len(entries),
                    "messages": [{"topic": e.message.get("topic"),
                                  "payload": e.message.get("payload"),
                                  "ts": int(e.enqueued_at * 1000), "_sfid": e.sfid}
                                 for e in entries]}
        data = serialize_payload(document)
        content_type = "application/json"
        if self.gzip:
            data, content_type = gzip.compress(data, 6), "application/json+gzip"
        topic = self._batch_topics[priority]
        props = {"contentType": content_type} if self.broker.protocol == 5 else None
        published = self._publish(topic, data, props, len(entries))
        self.counters["batches"] += 1
        return published

    def _publish(self, topic: str, data: bytes, props: dict[str, Any] | None,
                 messages: int) -> asyncio.Future[None] | None:
        """Publish and count; the future resolves on the broker's acknowledgement (None
        for QoS 0). Raises PublishDropped when the connection cannot take it."""
        assert self.broker is not None
        future = self.broker.publish(topic, data, self.qos, False, props)
        self.counters["sent"] += messages
        self.counters["bytes"] += len(data)
        if future is None:  # QoS 0: done once written
            return None
        published = asyncio.ensure_future(future)
        self._in_flight[published] = self.clock.monotonic()
        published.add_done_callback(self._acknowledged)
        return published

    def _acknowledged(self, future: asyncio.Future[None]) -> None:
        sent_at = self._in_flight.pop(future, None)
        failed = future.cancelled() or future.exception() is not None
        slow = sent_at is not None and self.clock.monotonic() - sent_at > self.degraded_after
        if self.broker is not None and self.broker.connected:
            self._set_state("degraded" if failed or slow else "online")

    # ------------------------------------------------------------- downlink
    def _command(self, topic: str, payload: bytes, qos: int, retain: bool,
                 props: dict[str, Any] | None) -> None:
        try:
            value = CONVERTERS["auto-detect"](payload, props)
        except ValueError as exc:  # declared JSON that is not
            self.error(f"downlink {topic}: {exc}")
            return
        local = topic[len(self.downlink_prefix):] if topic.startswith(
            self.downlink_prefix) else topic
        msg = {"topic": local, "payload": value, "qos": qos, "retain": retain}
        if props:
            msg.update(props)
        self.send([msg, None])

    # ---------------------------------------------------------- connectivity
    def broker_state(self, state: str) -> None:
        """Called by the mqtt-broker node when the cloud connection changes."""
        if state == "connected":
            self._connects += 1
            self.counters["reconnects"] = self._connects - 1
            now = self.clock.monotonic()  # re-sent publishes: latency counts from now
            self._in_flight = dict.fromkeys(self._in_flight, now)
            self._set_state("online")
            if self._forwarder is not None:
                self._forwarder.drain_now()  # every batch due: drain any backlog now
        else:
            self._set_state("offline")

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.since = self.clock.time()
        self._show()
        self.send([None, {"topic": "state", "payload": {
            "state": state, "since": int(self.since * 1000), "queued": self.queued}}])

    def _schedule_tick(self) -> None:
        self._tick = self.clock.call_later(TICK, self._on_tick)

    def _on_tick(self) -> None:
        now = self.clock.monotonic()
        oldest = min(self._in_flight.values(), default=None)
        if self.state == "online" and oldest is not None and now - oldest > self.degraded_after:
            self._set_state("degraded")
        self._show()
        self._schedule_tick()

    def metrics(self) -> dict[str, float]:
        """Messages and bytes sent, batches, dropped, reconnects (counters), queued and
        the state (gauges; state 0 offline, 1 degraded, 2 online) for ``/metrics``."""
        counters = self.counters
        return {"messages_sent_total": counters["sent"], "bytes_sent_total": counters["bytes"],
                "batches_total": counters["batches"], "dropped_total": counters["dropped"],
                "reconnects_total": counters["reconnects"], "queued": self.queued,
                "state": STATE_LEVELS[self.state]}

    def _show(self) -> None:
        fill = {"online": "green", "degraded": "yellow"}.get(self.state, "red")
        text = f"{self.state}, {self.queued} queued"
        if self._health.problem is not None:
            fill, text = "red", f"not storing: {self._health.problem}, {text}"
        self.status(fill=fill, shape="dot" if self.state == "online" else "ring", text=text)


def _batching(mode: Any, priority: Priority) -> Batching | None:
    """None for "stream"; ValueError naming the priority for a bad mode."""
    if mode == "stream":
        return None
    spec = mode.get("batch") if isinstance(mode, dict) else None
    if not isinstance(spec, dict):
        raise ValueError(f"modes.{priority.label}: expected \"stream\" or "
                         f"{{\"batch\": {{\"interval\", \"maxMessages\"}}}}, got {mode!r}")
    interval = as_number(spec.get("interval"), 5.0)
    count = as_int(spec.get("maxMessages"), 500)
    if interval is None or interval < 0 or not count or count < 1:
        raise ValueError(f"modes.{priority.label}.batch: interval must be >= 0 and "
                         f"maxMessages >= 1")
    return Batching(interval, count)
