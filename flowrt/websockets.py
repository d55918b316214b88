"""Websocket endpoints and connections for flows (Node-RED's websocket nodes).

:class:`WebSocketServer` serves one path on the runtime's own HTTP port (a ``GET``
route in :mod:`flowrt.http_endpoints` whose handler upgrades the request);
:class:`WebSocketClient` keeps one outgoing connection up, reconnecting after a
fixed delay when it drops. Both hand each received frame (``str`` for text,
``bytes`` for binary) to a callback with the id of the connection it came from,
and report connections opening and closing.

Sending never blocks the flow: a frame goes to the socket at once while its
buffer has room; once it has none, the frames that follow wait in the
connection's bounded queue, which its writer task empties as the peer reads. A
peer that reads more slowly than the flow sends fills that queue
(``MAX_QUEUED_MESSAGES`` frames or ``MAX_QUEUED_BYTES`` bytes); it is then
disconnected at once (a close frame would wait behind what it has not read) and
the owner is told why, so memory
stays bounded and nothing is dropped silently. Reading pauses while the
runtime's run queue is saturated (``flow_control``), so a fast sender cannot
flood the flow either. A received frame is at most ``MAX_MESSAGE_BYTES``; a
bigger one closes the connection (code 1009).

Closing a server or client closes its connections (code 1001, "going away") and
awaits every task it started. An HTTP server that stops waits for the requests it
is serving, websocket ones included, before the runtime (and so the listeners) is
stopped: a listener's route carries its ``close`` as the route's ``closer``, which
``Endpoints.server_stopping`` calls first (an ``on_shutdown`` hook of the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol, cast

import aiohttp
import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from flowrt.clock import Clock
from flowrt.eager import start_eagerly
from flowrt.http_endpoints import Endpoints, join_root

log = logging.getLogger("flowrt.websockets")

MAX_QUEUED_MESSAGES = 10_000
"""Frames waiting to be written to one peer before it is closed as too slow."""
MAX_QUEUED_BYTES = 16 * 1024 * 1024
"""Bytes waiting to be written to one peer before it is closed as too slow."""
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest frame accepted from a peer."""
CLOSE_TIMEOUT = 2.0
"""How long closing waits for a peer's close handshake and for the tasks to end."""
CONNECT_TIMEOUT = 30.0
"""How long an outgoing connection's TCP, TLS and upgrade handshake may take."""
RECONNECT_DELAY = 3.0
"""Seconds between a client connection closing or failing and the next attempt
(Node-RED's fixed 3 s)."""

Data = str | bytes
MessageCallback = Callable[[str, Data], None]
"""Called with the connection id and the frame received."""


class FlowControl(Protocol):
    """The runtime's run queue as a source sees it (``flowrt.dispatch.Dispatcher``)."""

    @property
    def saturated(self) -> bool: ...

    def when_drained(self, callback: Callable[[], None]) -> None: ...


class Listener(Protocol):
    """What a server or client tells its owner."""

    def ws_opened(self, connection_id: str, count: int) -> None:
        """A connection opened; ``count`` is how many are open now."""

    def ws_closed(self, connection_id: str, count: int) -> None:
        """A connection closed (or an attempt failed); ``count`` is how many remain."""

    def ws_error(self, connection_id: str, error: str) -> None:
        """A connection failed: could not connect, timed out, or was closed as too slow."""

    def ws_message(self, connection_id: str, data: Data) -> None:
        """A frame arrived: text as ``str``, binary as ``bytes``."""


def new_connection_id() -> str:
    """A connection id as Node-RED makes them (16 hex digits)."""
    return os.urandom(8).hex()


def encode_json(value: Any) -> str:
    """``JSON.stringify`` of a message or payload (buffers as ``{"type":"Buffer"}``)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def decode_json(data: Data) -> Any:
    """``JSON.parse`` of a frame; ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}
    return str(value)


class Connection:
    """One open websocket (either side) with its bounded send queue."""

    def __init__(self, connection_id: str,
                 ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                 listener: Listener, flow_control: FlowControl | None,
                 abort: Callable[[], None]) -> None:
        self.id = connection_id
        self._abort = abort
        """Drops the TCP connection at once (a peer that does not finish closing)."""
        self.ws = ws
        self.listener = listener
        self.flow_control = flow_control
        self.queued_bytes = 0
        self.sent = 0
        self._queue: deque[Data] = deque()
        self._busy = False
        """True while a frame waits for room in the socket's buffer (the rest queue)."""
        self._waiting: Awaitable[Any] | None = None
        self._wakeup = asyncio.Event()
        self._problem: str | None = None

    @property
    def open(self) -> bool:
        """True until the connection starts closing."""
        return not self.ws.closed and self._problem is None

    def send(self, data: Data) -> bool:
        """Send a frame, or queue it behind those still waiting; False when the
        connection is closing (nothing sent).

        A frame is written to the socket at once while its buffer has room; only
        frames sent while it has none wait in the queue, and a full queue closes the
        connection (see the module docstring).
        """
        if not self.open:
            return False
        if not self._busy:
            try:
                rest = start_eagerly(self._send_frame(data))
            except (ConnectionError, RuntimeError) as exc:  # closing under us
                log.debug("websocket %s: send failed: %s", self.id, exc)
                return False
            self.sent += 1
            if rest is not None:  # the socket's buffer is full: the writer waits
                self._busy = True
                self._waiting = rest
                self._wakeup.set()
            return True
        if len(self._queue) >= MAX_QUEUED_MESSAGES or \
                self.queued_bytes + len(data) > MAX_QUEUED_BYTES:
            self._problem = (f"disconnected: the peer reads too slowly ({len(self._queue)} "
                             f"messages, {self.queued_bytes} bytes waiting to be sent)")
            self.listener.ws_error(self.id, self._problem)
            self._queue.clear()
            self.queued_bytes = 0
            # A close frame would wait behind everything the peer has not read: drop
            # the connection now (the peer sees it end without a close frame).
            self._abort()
            return False
        self._queue.append(data)
        self.queued_bytes += len(data)
        return True

    async def run(self) -> None:
        """Read frames until the connection closes, writing queued ones meanwhile."""
        writer = asyncio.get_running_loop().create_task(self._write())
        try:
            await self._read()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self.close(WSCloseCode.OK)

    async def close(self, code: int = WSCloseCode.GOING_AWAY, message: bytes = b"") -> None:
        """Close (``run`` returns once it is done); a peer that does not complete the
        close handshake within ``CLOSE_TIMEOUT`` is disconnected."""
        if self.ws.closed:
            return
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # aiohttp's writer was waiting for room when it was cancelled: drop the peer.
            self._abort()
        except Exception as exc:
            log.debug("websocket %s: close failed (%r): disconnecting", self.id, exc)
            self._abort()

    async def _read(self) -> None:
        ws = self.ws
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                self.listener.ws_message(self.id, msg.data)
                control = self.flow_control
                if control is not None and control.saturated:
                    await _drained(control)
            elif msg.type is WSMsgType.ERROR:
                error = msg.data
                text = "timeout" if isinstance(error, aiohttp.ServerTimeoutError) else str(error)
                self.listener.ws_error(self.id, text or type(error).__name__)
                return
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return

    def _send_frame(self, data: Data) -> Coroutine[Any, Any, None]:
        if isinstance(data, str):
            return self.ws.send_str(data)
        return self.ws.send_bytes(data)

    async def _write(self) -> None:
        """Finish the frame the socket had no room for, then write what queued behind it."""
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                if self._waiting is not None:
                    waiting, self._waiting = self._waiting, None
                    await waiting
                while queue:
                    data = queue.popleft()
                    self.queued_bytes -= len(data)
                    await self._send_frame(data)
                    self.sent += 1
            except (ConnectionError, RuntimeError) as exc:  # closing under us
                log.debug("websocket %s: send failed: %s", self.id, exc)
                queue.clear()
                self.queued_bytes = 0
                return
            if self._problem is None:
                self._busy = False


class WebSocketServer:
    """Serves websocket connections on one path of the runtime's HTTP port."""

    def __init__(self, endpoints: Endpoints, path: str, owner: str, listener: Listener,
                 flow_control: FlowControl | None = None) -> None:
        self.endpoints = endpoints
        self.path = path
        self.owner = owner
        self.listener = listener
        self.flow_control = flow_control
        self.connections: dict[str, Connection] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._remove: Callable[[], None] | None = None
        self._closing = False

    @property
    def full_path(self) -> str:
        """The path under ``httpNodeRoot`` that clients connect to."""
        return join_root(self.endpoints.root, self.path)

    def taken_by(self) -> str | None:
        """The owner of another websocket server already on this path, or None."""
        found = self.endpoints.resolve("GET", self.full_path)
        if found is None:
            return None
        route = found[0]
        return route.owner if route.kind == "websocket" and route.owner != self.owner else None

    def start(self) -> None:
        """Serve the path."""
        self._remove = self.endpoints.add("GET", self.path, self.handle, self.owner,
                                          closer=self.close, kind="websocket")

    async def handle(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        """The route's handler: upgrade to a websocket and serve it until it closes."""
        if self._closing:
            raise web.HTTPServiceUnavailable(text="websocket listener is stopping\n")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                   if p.strip()]
        # As Node-RED's server (ws 7): the first subprotocol the client offers is accepted.
        ws = web.WebSocketResponse(protocols=offered[:1], max_msg_size=MAX_MESSAGE_BYTES,
                                   timeout=CLOSE_TIMEOUT)
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, headers={"Upgrade": "websocket"},
                                text=f"{self.full_path} is a websocket endpoint: "
                                     "connect with a websocket client\n")
        await ws.prepare(request)
        connection = Connection(new_connection_id(), ws, self.listener, self.flow_control,
                                abort=lambda: _abort_transport(request.transport))
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.connections[connection.id] = connection
        self.listener.ws_opened(connection.id, len(self.connections))
        try:
            await connection.run()
        finally:
            self.connections.pop(connection.id, None)
            if task is not None:
                self._handlers.discard(task)
            if not self._closing:
                self.listener.ws_closed(connection.id, len(self.connections))
        return ws

    def broadcast(self, data: Data) -> int:
        """Queue a frame for every connection; how many took it."""
        return sum(1 for connection in list(self.connections.values()) if connection.send(data))

    def reply(self, connection_id: str, data: Data) -> bool:
        """Queue a frame for one connection; False if it is gone."""
        connection = self.connections.get(connection_id)
        return connection is not None and connection.send(data)

    async def close(self) -> None:
        """Stop serving the path, close every connection, await their handlers."""
        self._closing = True
        if self._remove is not None:
            self._remove()
            self._remove = None
        connections = list(self.connections.values())
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        handlers = [t for t in self._handlers if not t.done()]
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=CLOSE_TIMEOUT)
            for task in pending:  # a peer that never finishes the close handshake
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        self.connections.clear()


class WebSocketClient:
    """Keeps one connection to a websocket server up (see the module docstring)."""

    def __init__(self, url: str, listener: Listener, *, clock: Clock,
                 protocols: Iterable[str] = (), ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, heartbeat: float | None = None,
                 headers: dict[str, str] | None = None,
                 flow_control: FlowControl | None = None,
                 reconnect_delay: float = RECONNECT_DELAY) -> None:
        self.url = url
        self.listener = listener
        self.clock = clock
        self.protocols = tuple(protocols)
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.heartbeat = heartbeat
        self.headers = headers or {}
        self.flow_control = flow_control
        self.reconnect_delay = reconnect_delay
        self.connection: Connection | None = None
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self.connection is not None and self.connection.open

    def start(self) -> None:
        """Connect in the background, and reconnect whenever the connection is lost."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, data: Data) -> bool:
        """Queue a frame on the open connection; False when not connected."""
        connection = self.connection
        return connection is not None and connection.send(data)

    async def close(self) -> None:
        """Close the connection and stop reconnecting."""
        self._closing = True
        task, self._task = self._task, None
        if task is None:
            return
        connection = self.connection
        if connection is not None:
            await connection.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT,
                                        sock_connect=CONNECT_TIMEOUT)
        # trust_env: HTTP(S)_PROXY and NO_PROXY apply, as in Node-RED.
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session:
            while not self._closing:
                await self._connect_once(session)
                if self._closing:
                    return
                await self.clock.sleep(self.reconnect_delay)

    async def _connect_once(self, session: aiohttp.ClientSession) -> None:
        connection_id = new_connection_id()
        self.attempts += 1
        try:
            ws = await session.ws_connect(
                self.url, protocols=self.protocols, heartbeat=self.heartbeat,
                ssl=self.ssl_context if self.ssl_context is not None else True,
                server_hostname=self.server_hostname, headers=self.headers,
                max_msg_size=MAX_MESSAGE_BYTES, autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            self.listener.ws_error(connection_id, _describe(exc))
            self.listener.ws_closed(connection_id, 0)
            return
        connection = self.connection = Connection(
            connection_id, ws, self.listener, self.flow_control,
            abort=lambda: _shutdown_socket(ws.get_extra_info("socket")))
        self.listener.ws_opened(connection_id, 1)
        try:
            await connection.run()
        finally:
            self.connection = None
            if not self._closing:
                self.listener.ws_closed(connection_id, 0)


def _abort_transport(transport: asyncio.BaseTransport | None) -> None:
    # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
    if transport is not None:
        cast(asyncio.Transport, transport).abort()


def _shutdown_socket(sock: Any) -> None:
    # A client connection's transport is aiohttp's own: shutting the socket down
    # makes it fail (and close) at once, buffered data and all.
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


async def _drained(control: FlowControl) -> None:
    """Wait until the run queue has drained to its low-water mark."""
    resumed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def resume() -> None:
        if not resumed.done():
            resumed.set_result(None)

    control.when_drained(resume)
    await resumed


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"the server refused the websocket upgrade ({exc.status} {exc.message})"
    return str(exc) or type(exc).__name__
