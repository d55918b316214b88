"""``/nodes``, ``/settings``, ``/credentials``, ``/inject`` and ``/debug``.

``GET /nodes`` always answers JSON, whatever the ``Accept`` header: flowrt node
types have no HTML, the editor builds their forms from the schema. The list has
one object per type (``type``, ``category``, ``inputs``, ``outputs``, ``schema``,
``credentials``, ``help``, ``editor``, ``origin``, ``module``...) followed by one
``{"error", "origin", "module"}`` object per plugin that failed to load.

``GET /credentials/:type/:id`` answers the node's non-password credentials and,
for each password, only ``has_<name>``: passwords never leave the server.
``POST /inject/:id`` triggers an inject node (optionally with
``{"__user_inject_props__": [...]}``); ``POST /debug/:id/enable|disable`` turns a
debug node's output on (200) or off (201), as Node-RED answers.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

from aiohttp import web

from flowrt.server.http import ApiError, json_response, read_json
from flowrt.server.state import ServerContext, context


def settings_document(ctx: ServerContext, request: web.Request | None = None) -> dict[str, Any]:
    """What ``GET /settings`` answers (also given to the editor page's template)."""
    contexts = ctx.runtime.contexts
    settings = ctx.settings
    document: dict[str, Any] = {
        "httpNodeRoot": "/",
        "version": version("flowrt"),
        "context": {"default": contexts.default, "stores": list(contexts.stores)},
        "flowFilePretty": settings.flow_file_pretty,
        "flowEncryptionType": ctx.storage.encryption_type,
        "debugMaxLength": settings.debug_max_length,
        "debugRateLimit": settings.debug_rate_limit,
        "webSocketKeepAliveTime": settings.web_socket_keep_alive_time,
        "runtimeState": {"enabled": False, "ui": False},
        "editorTheme": {"palette": {}, "projects": {"enabled": False}},
        "adminAuth": ctx.auth.enabled,
    }
    user = request.get("user") if request is not None else None
    if user is not None:
        document["user"] = user.describe()
    return document


async def get_settings(request: web.Request) -> web.Response:
    """GET /settings."""
    return json_response(settings_document(context(request), request))


async def get_nodes(request: web.Request) -> web.Response:
    """GET /nodes (JSON for every Accept value; see the module docstring)."""
    registry = context(request).runtime.registry
    errors = [{"error": e.message, "origin": e.origin, "module": e.module}
              for e in registry.errors]
    return json_response([*registry.describe(), *errors])


async def get_credentials(request: web.Request) -> web.Response:
    """GET /credentials/:type/:id."""
    runtime = context(request).runtime
    node_type, node_id = request.match_info["type"], request.match_info["id"]
    cls = runtime.registry.get(node_type)
    if cls is None:
        raise ApiError(404, "not_found", f"unknown node type {node_type!r}")
    stored = runtime.credentials.get(node_id, {})
    result: dict[str, Any] = {}
    for name, kind in cls.credentials.items():
        if kind == "password":
            result[f"has_{name}"] = bool(stored.get(name))
        elif name in stored:
            result[name] = stored[name]
    return json_response(result)


async def post_inject(request: web.Request) -> web.Response:
    """POST /inject/:id."""
    node = context(request).runtime.get_node(request.match_info["id"])
    trigger = getattr(node, "trigger", None)
    if node is None or not callable(trigger):
        raise ApiError(404, "not_found", f"no inject node {request.match_info['id']!r}")
    props = None
    if request.can_read_body and (await request.read()).strip():
        body = await read_json(request)
        props = body.get("__user_inject_props__") if isinstance(body, dict) else None
        if props is not None and not isinstance(props, list):
            raise ApiError(400, "invalid_request", "__user_inject_props__ must be an array")
    try:
        result = trigger(props)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        node.log.exception("inject failed")
        raise ApiError(500, "inject_failed", f"inject failed: {exc}") from None
    return web.Response(status=200)


async def post_debug_node(request: web.Request) -> web.Response:
    """POST /debug/:id/enable|disable."""
    ctx = context(request)
    state = request.match_info["state"]
    _set_debug(ctx, request.match_info["id"], state == "enable")
    return web.Response(status=200 if state == "enable" else 201)


async def post_debug_nodes(request: web.Request) -> web.Response:
    """POST /debug/enable|disable with ``{"nodes": [ids]}``."""
    ctx = context(request)
    state = request.match_info["state"]
    body = await read_json(request)
    ids = body.get("nodes") if isinstance(body, dict) else None
    if not isinstance(ids, list):
        raise ApiError(400, "invalid_request", 'body must be {"nodes": [<debug node ids>]}')
    for node_id in ids:
        _set_debug(ctx, node_id, state == "enable")
    return web.Response(status=200 if state == "enable" else 201)


def _set_debug(ctx: ServerContext, node_id: Any, active: bool) -> None:
    node = ctx.runtime.get_node(node_id) if isinstance(node_id, str) else None
    if node is None or not hasattr(node, "active"):
        raise ApiError(404, "not_found", f"no debug node {node_id!r}")
    node.active = active


def setup(app: web.Application) -> None:
    """Add the routes to ``app``."""
    app.router.add_get("/settings", get_settings)
    app.router.add_get("/nodes", get_nodes)
    app.router.add_get("/credentials/{type}/{id}", get_credentials)
    app.router.add_post("/inject/{id}", post_inject)
    app.router.add_post(r"/debug/{state:enable|disable}", post_debug_nodes)
    app.router.add_post(r"/debug/{id}/{state:enable|disable}", post_debug_node)
