"""Serving the flows' own HTTP routes (``flowrt.http_endpoints``) on the runtime's port.

The admin API and the editor come first: a request reaches a flow's route only when
none of theirs has its path (or not that method). The admin API's middlewares (admin
authentication, the cross-site guard, its JSON errors) are not the flows' business,
so this middleware runs outside them. The flows' routes have their own two settings,
as Node-RED's ``http in`` routes:

- ``httpNodeAuth = {user = "...", pass = "<hash>"}``: HTTP basic authentication, the
  password hashed as ``adminAuth``'s (argon2 from ``flowrt hash-password``, or a
  Node-RED bcrypt hash). Hashes are checked off the event loop, two at a time; a
  password that matched is remembered (its SHA-256, in memory) so that a client sending
  it with every request does not pay for the hash every time (Node-RED keeps the last
  one). ``OPTIONS`` requests need none, as in Node-RED.
- ``httpNodeCors``: the options of the ``cors`` package Node-RED uses — ``origin``
  (``"*"``, one origin, a list of allowed origins, ``true`` to reflect the request's,
  ``false`` for none), ``methods``, ``allowedHeaders``, ``exposedHeaders``,
  ``credentials``, ``maxAge``, ``optionsSuccessStatus``. ``OPTIONS`` preflights under
  ``httpNodeRoot`` are answered for paths no admin route has (or a flow route has).

Requests held open for a flow's answer are answered ``503``, and websockets closed, when
the server stops (:func:`close_flow_connections`, an ``on_shutdown`` hook), before aiohttp
waits for running handlers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import weakref
from typing import Any

from aiohttp import web

from flowrt.server.auth import verify_password
from flowrt.server.http import Handler
from flowrt.server.state import CONTEXT, context
from flowrt.settings import Settings

VERIFY_CONCURRENCY = 2
"""Password hashes checked at a time (argon2 takes 64 MiB and tens of ms each)."""
REMEMBERED_PASSWORDS = 8
DEFAULT_CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


@web.middleware
async def flow_routes_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer from a flow's route when no admin or editor route matched the request."""
    missing = request.match_info.http_exception
    if missing is None:
        return await handler(request)
    ctx = context(request)
    endpoints = ctx.runtime.endpoints
    access = _access(request.app, ctx.settings)
    cors = access.cors
    if cors is not None and request.method == "OPTIONS" and \
            request.path.startswith(endpoints.root) and \
            (missing.status == 404 or endpoints.serves_path(request.path)):
        return cors.preflight(request)
    found = endpoints.resolve(request.method, request.path)
    if found is None:
        return await handler(request)
    if access.auth is not None and not await access.auth.allows(request):
        return web.Response(status=401, text="Unauthorized", headers={
            "WWW-Authenticate": 'Basic realm="Authorization Required"'})
    route, params = found
    response = await route.handler(request, params)
    if cors is not None:
        cors.decorate(request, response)
    return response


async def close_flow_connections(app: web.Application) -> None:
    """On shutdown: answer requests still waiting for their flow and close websockets
    (``Endpoints.server_stopping``), before aiohttp waits for running handlers."""
    await app[CONTEXT].runtime.endpoints.server_stopping()


class BasicAuth:
    """``httpNodeAuth``: one user and a password hash (see the module docstring)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.user = str(config["user"])
        self.password_hash = str(config["pass"])
        self._remembered: list[bytes] = []
        self._verifying = asyncio.Semaphore(VERIFY_CONCURRENCY)

    async def allows(self, request: web.Request) -> bool:
        """True when the request carries the user and its password."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True
                                                   ).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep or not hmac.compare_digest(user.encode(), self.user.encode()):
            return False
        digest = hashlib.sha256(password.encode()).digest()
        if any(hmac.compare_digest(digest, known) for known in self._remembered):
            return True
        async with self._verifying:
            ok = await asyncio.to_thread(verify_password, self.password_hash, password)
        if ok:
            self._remembered = [digest, *self._remembered][:REMEMBERED_PASSWORDS]
        return ok


class Cors:
    """``httpNodeCors``: the ``cors`` package's headers (see the module docstring)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.origin = config.get("origin", "*")
        methods = config.get("methods", DEFAULT_CORS_METHODS)
        self.methods = ",".join(methods) if isinstance(methods, list) else str(methods)
        allowed = config.get("allowedHeaders", config.get("headers"))
        self.allowed_headers = ",".join(allowed) if isinstance(allowed, list) else allowed
        exposed = config.get("exposedHeaders")
        self.exposed_headers = ",".join(exposed) if isinstance(exposed, list) else exposed
        self.credentials = config.get("credentials") is True
        max_age = config.get("maxAge")
        self.max_age = None if max_age is None else str(max_age)
        self.options_status = int(config.get("optionsSuccessStatus", 204))

    def _origin_headers(self, request: web.Request, headers: Any) -> None:
        origin = self.origin
        if origin is False:
            return
        if origin == "*" or origin is None:
            headers["Access-Control-Allow-Origin"] = "*"
            return
        if isinstance(origin, str):
            headers["Access-Control-Allow-Origin"] = origin
        else:
            asked = request.headers.get("Origin")
            if asked and (origin is True or (isinstance(origin, list) and asked in origin)):
                headers["Access-Control-Allow-Origin"] = asked
        _vary(headers, "Origin")

    def _common(self, request: web.Request, headers: Any) -> None:
        self._origin_headers(request, headers)
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if self.exposed_headers:
            headers["Access-Control-Expose-Headers"] = self.exposed_headers

    def preflight(self, request: web.Request) -> web.Response:
        """The answer to an ``OPTIONS`` request."""
        response = web.Response(status=self.options_status)
        if self.origin is False:
            return response
        headers = response.headers
        self._common(request, headers)
        headers["Access-Control-Allow-Methods"] = self.methods
        if self.allowed_headers:
            headers["Access-Control-Allow-Headers"] = self.allowed_headers
        elif asked := request.headers.get("Access-Control-Request-Headers"):
            headers["Access-Control-Allow-Headers"] = asked
            _vary(headers, "Access-Control-Request-Headers")
        if self.max_age:
            headers["Access-Control-Max-Age"] = self.max_age
        return response

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add the headers of an actual (not preflight) request's response."""
        if not response.prepared:
            self._common(request, response.headers)


class _FlowAccess:
    """What guards the flows' routes of one application (built from its settings once)."""

    def __init__(self, settings: Settings) -> None:
        self.auth = BasicAuth(settings.http_node_auth) if settings.http_node_auth else None
        self.cors = Cors(settings.http_node_cors) if settings.http_node_cors else None


_ACCESS: weakref.WeakKeyDictionary[web.Application, _FlowAccess] = \
    weakref.WeakKeyDictionary()


def _access(app: web.Application, settings: Settings) -> _FlowAccess:
    access = _ACCESS.get(app)
    if access is None:
        access = _ACCESS[app] = _FlowAccess(settings)
    return access


def _vary(headers: Any, name: str) -> None:
    current = headers.get("Vary", "")
    names = [n.strip() for n in current.split(",") if n.strip()]
    if "*" in names or name.lower() in (n.lower() for n in names):
        return
    headers["Vary"] = ", ".join([*names, name])
