"""The HTTP routes flows serve on the runtime's own port (``http in``, websocket listeners).

Nodes add routes while they run (in ``start``) and take them away when they close; the
server answers a request from these routes only when no admin or editor route has its
path, so a flow can never shadow the admin API. Paths are Express's, as Node-RED's
``http in`` writes them (``/sensor/:id``, ``/files/*``, ``/opt/:name?``), relative to
the ``httpNodeRoot`` setting.

A route's handler receives the request and the values of the path's parameters; it
answers with a response (``aiohttp.web.StreamResponse``), and may hold the request open
for as long as the flow takes to answer.

A request held open while a flow works on it is registered here too (:meth:`Endpoints.hold`)
under an unguessable id: ``msg.res`` carries only that id, as plain data, so a message
can be cloned, pass through a JavaScript or Python function, or wait in context, and
still answer its request (``http response`` looks the id up with :meth:`Endpoints.held`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flowrt.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

Handler = Callable[["web.Request", dict[str, str]], Awaitable["web.StreamResponse"]]

# One step of an Express path: a named parameter (optionally optional), a wildcard,
# or literal text.
_PARAMETER = re.compile(r":(\w+)(\?)?|\*")


class HeldRequest(Protocol):
    """A request waiting for a flow's answer (``flowrt.http_serving.HeldResponse``)."""

    owner: str
    """The id of the node that received it."""

    @property
    def jsonp_callback(self) -> str | None:
        """The request's ``callback`` query parameter (Express's JSONP), if any."""

    @property
    def answered(self) -> bool:
        """True once :meth:`answer` was called."""

    def answer(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        """Send the response (``body`` None: no body at all)."""


@dataclass
class Route:
    """One route: method (upper case, or ``"*"`` for any), path as written, its pattern."""

    method: str
    path: str
    pattern: re.Pattern[str]
    handler: Handler
    owner: str
    """The id of the node serving it (named in errors and logs)."""
    names: list[str] = field(default_factory=list)
    closer: Callable[[], Awaitable[None]] | None = None
    """Closes the route's long-lived connections (websockets) when the server stops."""
    kind: str = "http"
    """What serves it: ``"http"`` (``http in``) or ``"websocket"`` (a listener)."""


def join_root(root: str, path: str) -> str:
    """``path`` under ``root`` (``"/api"``, ``"x"`` → ``"/api/x"``)."""
    return root.rstrip("/") + (path if path.startswith("/") else "/" + path)


def compile_path(root: str, path: str) -> tuple[re.Pattern[str], list[str]]:
    """The regular expression matching ``path`` under ``root``, and its parameter names.

    ``:name`` matches one path segment, ``:name?`` one or none, ``*`` anything (its
    value is parameter ``"0"``, as Express numbers them). Matching ignores a trailing
    slash and letter case, as Express does by default.
    """
    full = join_root(root, path)
    names: list[str] = []
    pattern = ""
    position = 0
    wildcards = 0
    for step in _PARAMETER.finditer(full):
        pattern += re.escape(full[position:step.start()])
        if step.group(0) == "*":
            names.append(str(wildcards))
            wildcards += 1
            pattern += "(.*)"
        elif step.group(2):  # optional: the slash before it is optional too
            if pattern.endswith("/"):
                pattern = pattern[:-1]
            names.append(step.group(1))
            pattern += r"(?:/([^/]+?))?"
        else:
            names.append(step.group(1))
            pattern += r"([^/]+?)"
        position = step.end()
    pattern += re.escape(full[position:])
    if pattern.endswith("/") and pattern != "/":
        pattern = pattern[:-1]
    return re.compile(pattern + r"/?\Z", re.IGNORECASE | re.DOTALL), names


class Endpoints:
    """The routes the running flows serve; see the module docstring."""

    def __init__(self, root: str = "/") -> None:
        if not root.startswith("/"):
            raise ConfigError(f"httpNodeRoot must start with '/', not {root!r}")
        self.root = root
        self._routes: list[Route] = []
        self._held: dict[str, HeldRequest] = {}

    def add(self, method: str, path: str, handler: Handler, owner: str,
            closer: Callable[[], Awaitable[None]] | None = None,
            kind: str = "http") -> Callable[[], None]:
        """Serve ``method`` ``path`` with ``handler``; return the function removing it.

        When two routes match a request, the one added first answers it (as Express).
        ``closer`` closes connections the route keeps open (a websocket's) when the
        server stops: the server waits for running handlers before the flows stop.
        """
        pattern, names = compile_path(self.root, path)
        route = Route(method.upper(), path, pattern, handler, owner, names, closer, kind)
        self._routes.append(route)

        def remove() -> None:
            if route in self._routes:
                self._routes.remove(route)

        return remove

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route answering ``method`` ``path`` and its parameters, or None.

        ``HEAD`` is answered by a ``GET`` route, as Express does.
        """
        method = method.upper()
        for route in self._routes:
            if route.method not in (method, "*") and not (method == "HEAD"
                                                        and route.method == "GET"):
                continue
            found = route.pattern.match(path)
            if found is not None:
                params = {name: value for name, value in zip(route.names, found.groups(),
                                                            strict=True)
                          if value is not None}
                return route, params
        return None

    def serves_path(self, path: str) -> bool:
        """True when some route (any method) matches ``path``."""
        return any(route.pattern.match(path) for route in self._routes)

    def routes(self) -> list[dict[str, Any]]:
        """What is served, for logs and tests: method, path, owner."""
        return [{"method": r.method, "path": r.path, "owner": r.owner} for r in self._routes]

    # ------------------------------------------------------------ held requests
    def hold(self, request: HeldRequest) -> str:
        """Register a request waiting for an answer; return its id (for ``msg.res``)."""
        request_id = secrets.token_hex(12)
        self._held[request_id] = request
        return request_id

    def held(self, request_id: Any) -> HeldRequest | None:
        """The request waiting under ``request_id``; None once answered, timed out or gone."""
        return self._held.get(request_id) if isinstance(request_id, str) else None

    def release(self, request_id: str) -> None:
        """Forget a held request (answered, timed out, or its client went away)."""
        self._held.pop(request_id, None)

    async def server_stopping(self) -> None:
        """The HTTP server is stopping: answer every request still waiting for its flow
        ``503`` and close the routes' long-lived connections, so that the server's wait
        for running handlers does not hold the stop up."""
        for held in list(self._held.values()):
            if not held.answered:
                held.answer(503, [("Content-Type", "text/plain; charset=utf-8")],
                            b"Service Unavailable: flowrt is stopping")
        closers = [route.closer for route in self._routes if route.closer is not None]
        await asyncio.gather(*(closer() for closer in closers), return_exceptions=True)

    def held_count(self) -> int:
        """How many requests are waiting for an answer."""
        return len(self._held)
