"""Keep other web sites out of the admin API: ``Host``, ``Origin`` and JSON bodies.

A page on another site can make the browser send requests to flowrt (a form, a
``fetch`` in ``no-cors`` mode, a websocket), and with DNS rebinding even make them
look same-origin. Three checks stop that, with or without ``adminAuth``:

- **Host**: the ``Host`` header must name this server: an IP address, ``localhost``,
  this machine's host name, the ``host`` setting, or a name in ``httpAdminHosts``
  (``"*"`` accepts any). A rebinding page reaches the server under the attacker's
  own domain name, so it is refused here (403 ``forbidden_host``).
- **Origin**: a state-changing request (any method but GET, HEAD, OPTIONS) and the
  ``/comms`` websocket with an ``Origin`` header must come from the server's own
  origin, from ``httpAdminCors`` or from ``httpAdminOrigins`` (403
  ``forbidden_origin``). Requests without ``Origin`` (curl, scripts) pass: browsers
  always send it on those requests.
- **JSON only**: ``POST``, ``PUT`` and ``PATCH`` need ``Content-Type:
  application/json`` (415 ``unsupported_media_type``), as Node-RED's admin API
  parses only JSON; a browser cannot send that type to another site without a CORS
  preflight. ``/auth/token`` also takes the OAuth form body, as Node-RED's does.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import web
from aiohttp.typedefs import Middleware
from yarl import URL

from flowrt.server.http import ApiError, Handler
from flowrt.settings import Settings, SettingsError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_ROUTES = frozenset({"/auth/token"})
"""Routes that also take a form body (the OAuth password grant)."""
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


class CrossSiteGuard:
    """Decides whether a request's ``Host``, ``Origin`` and body type are acceptable."""

    def __init__(self, settings: Settings) -> None:
        origins = [settings.http_admin_cors, *settings.http_admin_origins]
        self.any_origin = "*" in origins
        self.origins = {_allowed_origin(o) for o in origins if o and o != "*"}
        hosts = {name.lower() for name in settings.http_admin_hosts}
        self.any_host = "*" in hosts
        machine = socket.gethostname().lower()
        self.hosts = hosts | {"localhost", machine, f"{machine}.local"}
        if settings.host not in WILDCARD_HOSTS:
            self.hosts.add(settings.host.lower())

    def check_host(self, request: web.Request) -> None:
        """Refuse a ``Host`` header that does not name this server (DNS rebinding)."""
        header = request.headers.get("Host")
        if header is None or self.any_host:
            return
        name = _host_name(header)
        if name is None or not self._is_own_name(name):
            raise ApiError(403, "forbidden_host",
                           f"Host {header[:100]!r} is not a name of this server; "
                           "add it to the httpAdminHosts setting to allow it")

    def check_origin(self, request: web.Request) -> None:
        """Refuse an ``Origin`` other than the server's own or an allowed one."""
        origin = request.headers.get("Origin")
        if origin is None or self.any_origin:
            return
        url = URL(origin)
        if url.host is None or url.scheme not in ("http", "https"):
            allowed = False
        else:
            key = _origin_key(url)
            allowed = key in self.origins or key == _request_key(request, url.scheme)
        if not allowed:
            raise ApiError(403, "forbidden_origin",
                           f"requests from origin {origin[:100]!r} are not allowed; add it "
                           "to the httpAdminOrigins setting to allow it")

    @staticmethod
    def check_content_type(request: web.Request) -> None:
        """Refuse a body that is not JSON on a state-changing route."""
        if request.method not in BODY_METHODS or request.content_type == "application/json":
            return
        if request.path in FORM_ROUTES and request.content_type in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            return
        given = request.headers.get("Content-Type")
        got = repr(given[:100]) if given else "none"
        raise ApiError(415, "unsupported_media_type", f"{request.method} {request.path} needs "
                       f"'Content-Type: application/json' (got {got})")

    def _is_own_name(self, name: str) -> bool:
        try:
            ipaddress.ip_address(name)
            return True  # an address cannot be rebound to another server
        except ValueError:
            return name in self.hosts or name.endswith(".localhost")


def cross_site_middleware(guard: CrossSiteGuard) -> Middleware:
    """The middleware applying ``guard`` to every request (see the module docstring)."""

    @web.middleware
    async def cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard.check_host(request)
        if request.method not in SAFE_METHODS:
            guard.check_origin(request)
            guard.check_content_type(request)
        return await handler(request)

    return cross_site


def _allowed_origin(origin: str) -> tuple[str, int | None]:
    url = URL(origin)
    if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        raise SettingsError(f"allowed origin {origin!r} (httpAdminCors, httpAdminOrigins) "
                            "must look like https://host or http://host:port")
    return _origin_key(url)


def _host_name(header: str) -> str | None:
    try:
        return URL(f"http://{header}").host
    except ValueError:
        return None


def _origin_key(url: URL) -> tuple[str, int | None]:
    return (url.host or "").lower(), url.port


def _request_key(request: web.Request, scheme: str) -> tuple[str, int | None] | None:
    # The server's own origin is what the browser addressed: the Host header, with the
    # origin's scheme (a TLS proxy in front changes the scheme, not the name).
    header = request.headers.get("Host")
    if header is None:
        return None
    try:
        return _origin_key(URL(f"{scheme}://{header}"))
    except ValueError:
        return None
