"""The editor's websocket ``/comms``, speaking Node-RED's protocol.

Client → server: ``{"subscribe": "<topic pattern>"}`` replays the retained
events matching the MQTT-style pattern (``status/#``); ``{"auth": "<token>"}``
authenticates when admin auth is on (answered ``{"auth": "ok"}`` or
``{"auth": "fail"}`` and a close). Server → client: JSON arrays of
``{"topic", "data"}``, batched every ``BATCH_DELAY`` seconds, at most
``BATCH_SIZE`` per frame; every runtime event goes to every authenticated
connection (the client filters by topic, as Node-RED's does). A heartbeat
``{"topic": "hb", "data": <ms of last send>}`` goes out after
``webSocketKeepAliveTime`` seconds of silence.

Flooding: each connection lets through at most ``debugRateLimit`` ``debug``
events per second; the rest are counted and dropped, and once the second is
over the browser gets one debug entry saying how many were dropped. Every event
is serialised once; a connection queues at most ``commsMaxQueueBytes`` bytes of
them, and beyond that the oldest are dropped (counted too) and the browser is
told with one ``notification/comms-dropped`` event (``{"type": "warning",
"text", "dropped"}``) ahead of what is sent next: a browser that stops reading
costs the server that much memory, no more. Log entries on the ``debug`` topic
(format ``string``) are cut to ``debugMaxLength`` characters, as the debug
node's output is.

A page from another site cannot open the socket: an ``Origin`` header must be
the server's own or an allowed one (:mod:`.cross_site`). With admin auth on, a
connection that has not authenticated within ``commsAuthTimeout`` seconds gets
``{"auth": "fail"}`` and is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from flowrt.events import Events
    from flowrt.server.auth import Auth
    from flowrt.settings import Settings

log = logging.getLogger("flowrt.comms")

BATCH_DELAY = 0.05
BATCH_SIZE = 50
MAX_CLIENT_MESSAGE = 64 * 1024
DROPPED_TOPIC = "notification/comms-dropped"
CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT-style matching: ``+`` is one level, a trailing ``#`` any number."""
    parts, levels = pattern.split("/"), topic.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(parts) == len(levels)


def encode_event(topic: str, data: Any) -> bytes:
    """One ``{"topic", "data"}`` event as JSON, ready to join into a frame."""
    return orjson.dumps({"topic": topic, "data": data}, default=str)


class CommsHub:
    """Relays runtime events to every open ``/comms`` connection."""

    def __init__(self, events: Events, settings: Settings) -> None:
        self.events = events
        self.debug_limit = settings.debug_rate_limit
        self.debug_max_length = settings.debug_max_length
        self.keepalive = settings.web_socket_keep_alive_time
        self.auth_timeout = settings.comms_auth_timeout
        self.max_queue_bytes = settings.comms_max_queue_bytes
        self.connections: set[Connection] = set()
        self.debug_dropped = 0
        self.queue_dropped = 0
        """Events dropped because a connection's queue was full (all connections)."""
        self.clock = time.monotonic
        """The rate limit's clock (replaceable in tests)."""
        self._unsubscribe = events.subscribe(self._publish)

    @property
    def connection_count(self) -> int:
        """Open connections."""
        return len(self.connections)

    def encode(self, topic: str, data: Any) -> bytes:
        """``encode_event``, with log text on the debug topic cut to ``debugMaxLength``."""
        if topic == "debug" and isinstance(data, dict) and data.get("format") == "string":
            text = data.get("msg")
            if isinstance(text, str) and len(text) > self.debug_max_length:
                data = {**data, "msg": text[:self.debug_max_length] + "..."}
        return encode_event(topic, data)

    def _publish(self, topic: str, data: Any) -> None:
        if not self.connections:
            return
        event = self.encode(topic, data)
        for connection in self.connections:
            connection.push(topic, event)

    async def close(self) -> None:
        """Close every connection and stop relaying events."""
        self._unsubscribe()
        await asyncio.gather(*(c.close() for c in list(self.connections)))


class Connection:
    """One browser's websocket: its outgoing queue, rate limit and writer task."""

    def __init__(self, hub: CommsHub, ws: web.WebSocketResponse, auth: Auth) -> None:
        self.hub = hub
        self.ws = ws
        self.auth = auth
        self.authenticated = not auth.enabled
        self.token: str | None = None
        self.dropped = 0
        """Events this connection dropped because its queue was full."""
        self.queued_bytes = 0
        self._queue: deque[bytes] = deque()
        self._unreported_drops = 0
        self._wakeup = asyncio.Event()
        self._last_sent = time.time()
        self._window_start = hub.clock()
        self._window_count = 0
        self._suppressed = 0
        self._writer = asyncio.create_task(self._write())

    def push(self, topic: str, event: bytes) -> None:
        """Queue an encoded event for the next frame (subject to the debug rate limit)."""
        if not self.authenticated:
            return
        if topic == "debug" and not self._allow_debug():
            return
        self._enqueue(event)

    def subscribe(self, pattern: str) -> None:
        """Replay the retained events matching ``pattern``."""
        for topic, data in list(self.hub.events.retained.items()):
            if topic_matches(pattern, topic):
                self.push(topic, self.hub.encode(topic, data))

    async def close(self) -> None:
        """Stop the writer and close the socket."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        await self.ws.close(code=1001, message=b"server stopping")

    # --------------------------------------------------------------- internals
    def _enqueue(self, event: bytes) -> None:
        # Drop the oldest: what a browser that catches up needs most is the latest state.
        budget = self.hub.max_queue_bytes
        if len(event) > budget:  # could never be sent: drop it, not what waits before it
            self._count_drop()
            return
        while self._queue and self.queued_bytes + len(event) > budget:
            self.queued_bytes -= len(self._queue.popleft())
            self._count_drop()
        self._queue.append(event)
        self.queued_bytes += len(event)
        self._wakeup.set()

    def _count_drop(self) -> None:
        self.dropped += 1
        self._unreported_drops += 1
        self.hub.queue_dropped += 1
        self._wakeup.set()

    def _allow_debug(self) -> bool:
        now = self.hub.clock()
        if now - self._window_start >= 1.0:
            self._report_suppressed()
            self._window_start, self._window_count = now, 0
        if self._window_count < self.hub.debug_limit:
            self._window_count += 1
            return True
        self._suppressed += 1
        self.hub.debug_dropped += 1
        return False

    def _report_suppressed(self) -> None:
        if not self._suppressed:
            return
        count, self._suppressed = self._suppressed, 0
        self._enqueue(encode_event("debug", {
            "id": "", "level": 30, "format": "string", "timestamp": int(time.time() * 1000),
            "msg": f"{count} debug messages were not shown: more than "
                   f"{self.hub.debug_limit} per second"}))

    def _drop_notice(self) -> bytes:
        count, self._unreported_drops = self._unreported_drops, 0
        return encode_event(DROPPED_TOPIC, {
            "type": "warning", "dropped": count,
            "text": f"{count} {'event was' if count == 1 else 'events were'} not sent to this "
                    f"editor: it was not reading them "
                    f"fast enough (more than {self.hub.max_queue_bytes} bytes waiting)"})

    def _next_frame(self) -> bytes:
        batch = [self._drop_notice()] if self._unreported_drops else []
        while self._queue and len(batch) < BATCH_SIZE:
            event = self._queue.popleft()
            self.queued_bytes -= len(event)
            batch.append(event)
        return b"[" + b",".join(batch) + b"]"

    async def _write(self) -> None:
        try:
            while not self.ws.closed:
                try:
                    async with asyncio.timeout(self.hub.keepalive):
                        await self._wakeup.wait()
                except TimeoutError:
                    if self.authenticated:
                        heartbeat = encode_event("hb", int(self._last_sent * 1000))
                        await self._send_frame(b"[" + heartbeat + b"]")
                    continue
                await asyncio.sleep(BATCH_DELAY)
                self._wakeup.clear()
                if self.token is not None and self.auth.user_for_token(self.token) is None:
                    await self.send_json({"auth": "fail"})
                    await self.ws.close()
                    return
                if self._suppressed and self.hub.clock() - self._window_start >= 1.0:
                    self._report_suppressed()
                while (self._queue or self._unreported_drops) and not self.ws.closed:
                    await self._send_frame(self._next_frame())
        except ConnectionError:
            log.debug("comms connection lost while sending")

    async def _send_frame(self, frame: bytes) -> None:
        await self.ws.send_frame(frame, WSMsgType.TEXT)
        self._last_sent = time.time()

    async def send_json(self, message: Any) -> None:
        """Send one JSON message outside the event frames (the auth replies)."""
        await self._send_frame(orjson.dumps(message))

    async def handle(self, message: Any) -> bool:
        """Act on one client message; False when the connection must close."""
        if not isinstance(message, dict):
            return True
        if not self.authenticated:
            if not self._authenticate(message.get("auth")):
                await self.send_json({"auth": "fail"})
                return False
            if "auth" in message:
                await self.send_json({"auth": "ok"})
                return True
        pattern = message.get("subscribe")
        if isinstance(pattern, str):
            self.subscribe(pattern)
        return True

    def _authenticate(self, token: Any) -> bool:
        if isinstance(token, str):
            user = self.auth.user_for_token(token)
            self.token = token
        else:
            user = self.auth.anonymous
        self.authenticated = user is not None and user.allows("status.read")
        return self.authenticated
