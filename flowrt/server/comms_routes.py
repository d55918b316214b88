"""The ``/comms`` websocket route (:mod:`.comms` has the protocol and the hub)."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import WSMsgType, web

from flowrt.server.comms import CLOSING, MAX_CLIENT_MESSAGE, Connection, log
from flowrt.server.state import context


async def comms_handler(request: web.Request) -> web.WebSocketResponse:
    """GET /comms: the websocket (refused for a foreign ``Origin``)."""
    ctx = context(request)
    ctx.cross_site.check_origin(request)
    hub = ctx.comms
    ws = web.WebSocketResponse(max_msg_size=MAX_CLIENT_MESSAGE)
    await ws.prepare(request)
    if hub is None:
        await ws.close()
        return ws
    connection = Connection(hub, ws, ctx.auth)
    hub.connections.add(connection)
    auth_deadline = asyncio.get_running_loop().time() + hub.auth_timeout
    try:
        while True:
            try:
                async with asyncio.timeout_at(None if connection.authenticated
                                              else auth_deadline):
                    frame = await ws.receive()
            except TimeoutError:
                log.info("closing a comms connection that did not authenticate within %s s",
                         hub.auth_timeout)
                await connection.send_json({"auth": "fail"})
                break
            if frame.type in CLOSING:
                break
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
