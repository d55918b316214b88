"""``/context``: read and delete node, flow and global context, as Node-RED's admin API.

- ``GET /context/global``, ``GET /context/flow/:id``, ``GET /context/node/:id``: every
  top-level key of the scope, per store: ``{"<store>": {"<key>": {"msg", "format"}}}``,
  each value encoded as the debug sidebar shows it (:mod:`flowrt.debug_encoding`).
  ``?store=<name>`` answers that store only. A node that is not running has no context:
  ``{}``. A subflow instance's node context is its flow's, as in Node-RED.
- ``GET /context/global/:key`` (and ``flow/:id/:key``, ``node/:id/:key``): one value,
  ``{"msg", "format"}`` from the default store (or ``?store=``, then with ``"store"``
  when it is not the default). A missing key is ``{"msg": "(undefined)", "format":
  "undefined"}``. ``:key`` is a property expression (``counts.total``).
- ``DELETE`` of the same key routes: remove the value (204), from the default store or
  ``?store=``. A persistent store writes the removal with its next flush.

An unknown ``store`` is a 404 ``not_found``; errors have the admin API's one shape. The
routes sit under the permission scope ``context`` (``context.read``, ``context.write``)
and the cross-site rules of every admin route.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flowrt.context import Context
from flowrt.debug_encoding import encode_debug
from flowrt.jsvalue import MISSING
from flowrt.messages import get_property
from flowrt.server.http import ApiError, json_response
from flowrt.server.state import context


def _context_of(request: web.Request) -> Context | None:
    """The context the path names (None: a node that is not running)."""
    contexts = context(request).runtime.contexts
    scope = request.match_info["scope"]
    if scope == "global":
        return contexts.global_
    node_id = request.match_info["id"]
    if scope == "flow":
        return contexts.flow(node_id)
    runtime = context(request).runtime
    node = runtime.get_node(node_id)
    if node is not None:
        return node.ctx.node_context
    if node_id in runtime.flows:  # a subflow instance: its flow is its context
        return contexts.flow(node_id)
    return None


def _store_of(request: web.Request) -> str | None:
    """The ``?store=`` asked for (None: not given); 404 when there is no such store."""
    store = request.query.get("store")
    if store is not None and store not in context(request).runtime.contexts.stores:
        raise ApiError(404, "not_found", f"there is no context store {store!r}")
    return store


def _encoded(value: Any) -> dict[str, Any]:
    text, fmt = encode_debug(value)
    return {"msg": text, "format": fmt}


def _key(request: web.Request) -> str:
    key = request.match_info["key"]
    if not key.strip():
        raise ApiError(400, "invalid_key", "a context key must not be empty")
    return key


async def get_scope(request: web.Request) -> web.Response:
    """GET /context/{scope}[/{id}]: every key of the scope, per store."""
    store = _store_of(request)
    ctx = _context_of(request)
    if ctx is None:
        return json_response({})
    names = [store] if store is not None else list(context(request).runtime.contexts.stores)
    return json_response({name: {key: _encoded(value) for key, value in ctx.values(name).items()}
                          for name in names})


async def get_key(request: web.Request) -> web.Response:
    """GET /context/{scope}[/{id}]/{key}: one value."""
    store = _store_of(request)
    key = _key(request)
    ctx = _context_of(request)
    default = context(request).runtime.contexts.default
    try:
        value = MISSING if ctx is None else get_property(ctx.values(store), key, MISSING)
    except ValueError as exc:
        raise ApiError(400, "invalid_key", str(exc)) from None
    answer = _encoded(value)
    if store is not None and store != default:
        answer["store"] = store
    return json_response(answer)


async def delete_key(request: web.Request) -> web.Response:
    """DELETE /context/{scope}[/{id}]/{key}: remove one value."""
    store = _store_of(request)
    key = _key(request)
    ctx = _context_of(request)
    if ctx is not None:
        try:
            ctx.delete(key, store)
        except ValueError as exc:
            raise ApiError(400, "invalid_key", str(exc)) from None
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    """Add the ``/context`` routes to ``app``."""
    app.router.add_get("/context/{scope:global}", get_scope)
    app.router.add_get("/context/{scope:global}/{key}", get_key)
    app.router.add_delete("/context/{scope:global}/{key}", delete_key)
    for scope in ("flow", "node"):
        app.router.add_get(f"/context/{{scope:{scope}}}/{{id}}", get_scope)
        app.router.add_get(f"/context/{{scope:{scope}}}/{{id}}/{{key}}", get_key)
        app.router.add_delete(f"/context/{{scope:{scope}}}/{{id}}/{{key}}", delete_key)
