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
over the browser gets one debug entry saying how many were dropped. A
connection's queue holds ``MAX_QUEUE`` frames' worth of events at most; beyond
that events are dropped (counted too), so a slow browser cannot grow the
server's memory.
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

from flowrt.server.state import context

if TYPE_CHECKING:
    from flowrt.events import Events
    from flowrt.server.auth import Auth
    from flowrt.settings import Settings

log = logging.getLogger("flowrt.comms")

BATCH_DELAY = 0.05
BATCH_SIZE = 50
MAX_QUEUE = 1000
MAX_CLIENT_MESSAGE = 64 * 1024


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT-style matching: ``+`` is one level, a trailing ``#`` any number."""
    parts, levels = pattern.split("/"), topic.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(parts) == len(levels)


class CommsHub:
    """Relays runtime events to every open ``/comms`` connection."""

    def __init__(self, events: Events, settings: Settings) -> None:
        self.events = events
        self.debug_limit = settings.debug_rate_limit
        self.keepalive = settings.web_socket_keep_alive_time
        self.connections: set[Connection] = set()
        self.debug_dropped = 0
        self.clock = time.monotonic
        """The rate limit's clock (replaceable in tests)."""
        self._unsubscribe = events.subscribe(self._publish)

    @property
    def connection_count(self) -> int:
        """Open connections."""
        return len(self.connections)

    def _publish(self, topic: str, data: Any) -> None:
        for connection in self.connections:
            connection.push(topic, data)

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
        self._queue: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._last_sent = time.time()
        self._window_start = hub.clock()
        self._window_count = 0
        self._suppressed = 0
        self._writer = asyncio.create_task(self._write())

    def push(self, topic: str, data: Any) -> None:
        """Queue an event for the next frame (subject to the debug rate limit)."""
        if not self.authenticated:
            return
        if topic == "debug" and not self._allow_debug():
            return
        if len(self._queue) >= MAX_QUEUE:
            self.dropped += 1
            if topic == "debug":
                self.hub.debug_dropped += 1
            return
        self._queue.append({"topic": topic, "data": data})
        self._wakeup.set()

    def subscribe(self, pattern: str) -> None:
        """Replay the retained events matching ``pattern``."""
        for topic, data in list(self.hub.events.retained.items()):
            if topic_matches(pattern, topic):
                self.push(topic, data)

    async def close(self) -> None:
        """Stop the writer and close the socket."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        await self.ws.close(code=1001, message=b"server stopping")

    # --------------------------------------------------------------- internals
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
        self._queue.append({"topic": "debug", "data": {
            "id": "", "level": 30, "format": "string", "timestamp": int(time.time() * 1000),
            "msg": f"{count} debug messages were not shown: more than "
                   f"{self.hub.debug_limit} per second"}})

    async def _write(self) -> None:
        try:
            while not self.ws.closed:
                try:
                    async with asyncio.timeout(self.hub.keepalive):
                        await self._wakeup.wait()
                except TimeoutError:
                    if self.authenticated:
                        await self._send([{"topic": "hb", "data": int(self._last_sent * 1000)}])
                    continue
                await asyncio.sleep(BATCH_DELAY)
                self._wakeup.clear()
                if self.token is not None and self.auth.user_for_token(self.token) is None:
                    await self._send({"auth": "fail"})
                    await self.ws.close()
                    return
                if self._suppressed and self.hub.clock() - self._window_start >= 1.0:
                    self._report_suppressed()
                while self._queue and not self.ws.closed:
                    count = min(BATCH_SIZE, len(self._queue))
                    await self._send([self._queue.popleft() for _ in range(count)])
        except ConnectionError:
            log.debug("comms connection lost while sending")

    async def _send(self, frame: Any) -> None:
        await self.ws.send_str(orjson.dumps(frame, default=str).decode())
        self._last_sent = time.time()

    async def handle(self, message: Any) -> bool:
        """Act on one client message; False when the connection must close."""
        if not isinstance(message, dict):
            return True
        if not self.authenticated:
            if not self._authenticate(message.get("auth")):
                await self._send({"auth": "fail"})
                return False
            if "auth" in message:
                await self._send({"auth": "ok"})
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


async def comms_handler(request: web.Request) -> web.WebSocketResponse:
    """GET /comms: the websocket."""
    ctx = context(request)
    hub = ctx.comms
    ws = web.WebSocketResponse(max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    if hub is None:
        await ws.close()
        return ws
    connection = Connection(hub, ws, ctx.auth)
    hub.connections.add(connection)
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                message = orjson.loads(frame.data)
            except orjson.JSONDecodeError:
                log.debug("ignoring a comms message that is not JSON")
                continue
            if not await connection.handle(message):
                break
    finally:
        hub.connections.discard(connection)
        await connection.close()
    return ws


def setup(app: web.Application) -> None:
    """Add ``/comms`` to ``app``."""
    app.router.add_get("/comms", comms_handler)
