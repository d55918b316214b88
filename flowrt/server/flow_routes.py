"""Serving the flows' own HTTP routes (``flowrt.http_endpoints``) on the runtime's port.

The admin API and the editor come first: a request reaches a flow's route only when
none of theirs has its path (or not that method). The admin API's middlewares (admin
authentication, the cross-site guard, its JSON errors) are not the flows' business,
so this middleware runs outside them.
"""

from __future__ import annotations

from aiohttp import web

from flowrt.server.http import Handler
from flowrt.server.state import context


@web.middleware
async def flow_routes_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer from a flow's route when no admin or editor route matched the request."""
    if request.match_info.http_exception is None:
        return await handler(request)
    found = context(request).runtime.endpoints.resolve(request.method, request.path)
    if found is None:
        return await handler(request)
    route, params = found
    return await route.handler(request, params)
