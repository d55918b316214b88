"""The listening socket, with a cap on open connections (``httpMaxConnections``).

Every open connection, an idle keep-alive one or an editor's websocket, holds a
file descriptor and buffers. Beyond the cap a new connection is answered
``503`` in the JSON error shape and closed at once, so a flood of idle sockets
cannot use up the process's descriptors or memory. (Idle and half-sent requests
are closed after ``httpHeadersTimeout``: see :func:`flowrt.server.app.create_app`.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import orjson
from aiohttp import web
from yarl import URL

log = logging.getLogger("flowrt.server")

REFUSAL_LOG_INTERVAL = 60.0
"""Seconds between two warnings about refused connections."""
PENDING_S = 10.0
"""Seconds an accepted connection counts before its handler is connected."""
LINGER = 2.0
"""Seconds a refused connection is kept to let the client read the 503."""


def _refusal() -> bytes:
    body = orjson.dumps({"error": "too_many_connections", "code": "too_many_connections",
                         "message": "the server has too many open connections; retry later",
                         "details": []})
    head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n")
    return head.encode() + body


REFUSAL = _refusal()


class RefusedConnection(asyncio.Protocol):
    """Answers 503 and closes: a connection over the cap."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self._transport = transport = cast(asyncio.Transport, transport)
        transport.write(REFUSAL)
        transport.write_eof()
        # Close once the request has been read, not at once: closing with unread data
        # makes the kernel send a reset, which can destroy the 503 before the client
        # reads it. A client that sends nothing is closed after LINGER seconds.
        self._linger = asyncio.get_running_loop().call_later(LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.close()

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()


class CappedSite(web.BaseSite):
    """A TCP site that serves at most ``limit`` connections at a time."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limit: int) -> None:
        super().__init__(runner)
        self.host = host
        self.port = port
        self.limit = limit
        self.refused = 0
        """Connections refused because the cap was reached."""
        self._pending: dict[object, float] = {}
        """Handlers made by the factory and not connected yet → when they were made."""
        self._last_warning = float("-inf")

    @property
    def name(self) -> str:
        """The site's URL."""
        return str(URL.build(scheme="http", host=self.host or "0.0.0.0", port=self.port))

    async def start(self) -> None:
        """Listen on ``host:port``."""
        await super().start()
        server = self._runner.server
        assert server is not None
        connected = server.connection_made

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            self._pending.pop(handler, None)
            connected(handler, transport)

        server.connection_made = connection_made  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port,
                                                reuse_address=True)

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        # A handler joins server.connections in its connection_made, which the loop
        # calls some time after this factory (after the factory calls of the rest of a
        # burst of accepts; uvloop later than the stdlib loop): it counts from here.
        # One never connected (its transport failed) stops counting after PENDING_S.
        now = time.monotonic()
        if self._pending and now - next(iter(self._pending.values())) > PENDING_S:  # oldest
            self._pending = {h: t for h, t in self._pending.items() if now - t <= PENDING_S}
        open_connections = len(server.connections) + len(self._pending)
        if open_connections < self.limit:
            handler = server()
            self._pending[handler] = now
            return handler
        self.refused += 1
        if now - self._last_warning >= REFUSAL_LOG_INTERVAL:
            self._last_warning = now
            log.warning("refusing connections: %d are open (httpMaxConnections); "
                        "%d refused so far", open_connections, self.refused)
        return RefusedConnection()
