"""The dashboard on the runtime's port (:mod:`flowrt.dashboard` has the hub and protocol).

``GET /ui`` serves the page (``web/static/ui/index.html``; its scripts are under
``/static/ui/``), ``GET /ui/ws`` the websocket of one open page. Who may look:

- ``dashboardAuth = {user, pass}``: HTTP basic authentication on both routes (the
  browser asks once and sends it with the websocket too); the editor's users are not
  involved, so viewers need no editor account.
- else, with ``adminAuth``: the page's first websocket message must carry an editor
  token (``{"auth": token}``, the one the editor keeps in the browser) of a user with
  ``dashboard.read`` (or ``read``/``*``); the page says "log in to the editor" otherwise.
  Only users who may also write flows (``flows.write``) can use its inputs.
- else it is open, as Node-RED Dashboard's.

``dashboardReadOnly = true`` makes every viewer read-only: input widgets are shown
disabled and their events ignored. The websocket refuses a foreign ``Origin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from aiohttp import WSMsgType, web

from flowrt.dashboard import Client, DashboardHub, dashboard_for
from flowrt.server.auth import User
from flowrt.server.editor import resource_dir
from flowrt.server.flow_routes import BasicAuth
from flowrt.server.state import CONTEXT, ServerContext, context

log = logging.getLogger("flowrt.dashboard")

MAX_PAGE_MESSAGE = 64 * 1024
"""Largest message a page may send (an input widget's value)."""
AUTH_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0
"""Seconds an open page has to take the close frame when the server stops."""
_BASIC = web.AppKey("dashboard_basic_auth", BasicAuth)
_PAGES = web.AppKey("dashboard_pages", dict[web.WebSocketResponse, web.Request])
_UNAUTHORIZED = {"WWW-Authenticate": 'Basic realm="Dashboard"'}


async def _allowed(request: web.Request) -> bool:
    basic = request.app.get(_BASIC)
    return basic is None or await basic.allows(request)


async def page(request: web.Request) -> web.StreamResponse:
    """GET /ui: the dashboard page."""
    if not await _allowed(request):
        return web.Response(status=401, text="Unauthorized", headers=_UNAUTHORIZED)
    index = resource_dir("web") / "static" / "ui" / "index.html"
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


def hub_of(ctx: ServerContext) -> DashboardHub:
    """The runtime's dashboard hub."""
    return dashboard_for(ctx.runtime.endpoints, ctx.runtime.clock,
                         ctx.settings.dashboard_max_queue_bytes)


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /ui/ws: one open page (see :mod:`flowrt.dashboard` for the protocol)."""
    ctx = context(request)
    ctx.cross_site.check_origin(request)
    if not await _allowed(request):
        return web.Response(status=401, text="Unauthorized", headers=_UNAUTHORIZED)
    ws = web.WebSocketResponse(max_msg_size=MAX_PAGE_MESSAGE, heartbeat=30)
    await ws.prepare(request)
    can_write = not ctx.settings.dashboard_read_only
    if ctx.auth.enabled and request.app.get(_BASIC) is None:
        user = await _token_user(ctx, ws)
        if user is None:
            await ws.send_json({"type": "auth", "ok": False})
            await ws.close()
            return ws
        can_write = can_write and user.allows("flows.write")
    await ws.send_json({"type": "auth", "ok": True, "readOnly": not can_write})
    hub = hub_of(ctx)
    client = hub.connect()
    writer = asyncio.create_task(_write(hub, client, ws))
    pages = request.app[_PAGES]
    pages[ws] = request
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                message = orjson.loads(frame.data)
            except orjson.JSONDecodeError:
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "resync":  # the page switched pages: it draws new widgets
                hub.resync(client)
            elif kind == "event" and can_write:
                hub.page_event(str(message.get("id")), message.get("value"))
    finally:
        pages.pop(ws, None)
        hub.disconnect(client)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def _token_user(ctx: ServerContext, ws: web.WebSocketResponse) -> User | None:
    try:
        async with asyncio.timeout(AUTH_TIMEOUT):
            frame = await ws.receive()
    except TimeoutError:
        return None
    if frame.type != WSMsgType.TEXT:
        return None
    try:
        token = orjson.loads(frame.data).get("auth")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    user = ctx.auth.user_for_token(token if isinstance(token, str) else None) \
        or ctx.auth.anonymous
    if user is None or not (user.allows("dashboard.read") or user.allows("flows.read")):
        return None
    return user


async def _write(hub: DashboardHub, client: Client, ws: web.WebSocketResponse) -> None:
    while not client.closed:
        frame = client.take()
        if frame is None:
            hub.refill(client)
            if not client.frames:
                await client.wakeup.wait()
            continue
        await ws.send_str(frame.decode())


async def _close_pages(app: web.Application) -> None:
    # On shutdown, before aiohttp waits for handlers: open pages would keep it waiting.
    # A page that stopped reading cannot take the close frame: its connection is cut.
    for ws, request in app[_PAGES].copy().items():
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await ws.close(code=1001, message=b"server stopping")
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()


def setup(app: web.Application) -> None:
    """Add ``/ui`` and ``/ui/ws`` to ``app``."""
    auth = app[CONTEXT].settings.dashboard_auth
    if auth is not None:
        app[_BASIC] = BasicAuth(auth)
    pages: dict[web.WebSocketResponse, web.Request] = {}
    app[_PAGES] = pages
    app.router.add_get("/ui", page)
    app.router.add_get("/ui/", page)
    app.router.add_get("/ui/ws", websocket)
    app.on_shutdown.append(_close_pages)
