"""``/nodes``, ``/settings``, ``/credentials``, and the routes node types add.

``GET /nodes`` answers Node-RED's list of node sets (``{"id", "name", "types",
"enabled", "local", "user", "module", "version"}``, and ``err`` for a plugin that
failed to load), so Node-RED tools that read it work; it is JSON whatever the
``Accept`` header, as flowrt node types have no HTML.

``GET /node-types`` is flowrt's: what the editor builds its palette and forms
from. One object per type (``type``, ``category``, ``inputs``, ``outputs``,
``schema``, ``credentials``, ``help``, ``editor``, ``origin``, ``module``...)
followed by one ``{"error", "origin", "module"}`` object per plugin that failed
to load.

``GET /credentials/:type/:id`` answers the node's non-password credentials and,
for each password, only ``has_<name>``: passwords never leave the server.
Node types add their own routes through the ``Node.admin_routes`` hook
(``flowrt.admin_routes``): inject's ``POST /inject/:id`` and debug's
``POST /debug/...``. They are registered here, once each, for the types installed.
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Any

from aiohttp import web

from flowrt.admin_routes import AdminRequest, AdminRoute, AdminRouteError
from flowrt.projects.storage import ProjectStorage
from flowrt.server.http import ApiError, Handler, json_response, read_json
from flowrt.server.state import CONTEXT, ServerContext, context

log = logging.getLogger("flowrt.server")


def settings_document(ctx: ServerContext, request: web.Request | None = None) -> dict[str, Any]:
    """What ``GET /settings`` answers (also given to the editor page's template)."""
    contexts = ctx.runtime.contexts
    settings = ctx.settings
    document: dict[str, Any] = {
        "httpNodeRoot": settings.http_node_root,
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
        "flowHistory": isinstance(ctx.storage, ProjectStorage),
    }
    user = request.get("user") if request is not None else None
    if user is not None:
        document["user"] = user.describe()
    return document


async def get_settings(request: web.Request) -> web.Response:
    """GET /settings."""
    return json_response(settings_document(context(request), request))


async def get_nodes(request: web.Request) -> web.Response:
    """GET /nodes: Node-RED's node sets (JSON for every Accept value)."""
    return json_response(context(request).runtime.registry.node_sets())


async def get_node_types(request: web.Request) -> web.Response:
    """GET /node-types: every type's editor metadata, then the plugins that failed."""
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


def _node_route(route: AdminRoute) -> Handler:
    """An aiohttp handler running a node type's admin route (``flowrt.admin_routes``)."""

    async def handle(request: web.Request) -> web.Response:
        body = None
        if request.can_read_body and (await request.read()).strip():
            body = await read_json(request)
        admin_request = AdminRequest(dict(request.match_info), body,
                                     context(request).runtime.get_node)
        try:
            status = await route.handler(admin_request)
        except AdminRouteError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        return web.Response(status=status)

    return handle


def setup(app: web.Application) -> None:
    """Add the routes to ``app``."""
    app.router.add_get("/settings", get_settings)
    app.router.add_get("/nodes", get_nodes)
    app.router.add_get("/node-types", get_node_types)
    app.router.add_get("/credentials/{type}/{id}", get_credentials)
    # Node types' own routes (inject's button, debug's switch), each registered once.
    registered: dict[tuple[str, str], str] = {}
    for entry in app[CONTEXT].runtime.registry.types.values():
        for route in entry.cls.admin_routes:
            key = (route.method.upper(), route.path)
            if key in registered:
                log.error("node type %r: admin route %s %s is already registered by %r",
                          entry.cls.type, *key, registered[key])
                continue
            registered[key] = entry.cls.type
            app.router.add_route(key[0], route.path, _node_route(route))
