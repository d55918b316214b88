"""Admin HTTP routes that node types add to the server: the ``Node.admin_routes`` hook.

A node type the editor drives over HTTP (inject's button, debug's on/off switch)
lists its routes in the class attribute ``admin_routes``. The server registers
each once, under the admin API's rules (authentication by the path's first
segment, same-origin checks, JSON bodies, the one error shape), and the handler
sees only the request's path parameters, its JSON body and a node lookup::

    async def inject_now(request: AdminRequest) -> int:
        node = request.node(request.params["id"])
        if not isinstance(node, Inject):
            raise AdminRouteError(404, "not_found", "no inject node")
        node.trigger()
        return 200

    class Inject(Node):
        admin_routes = (AdminRoute("POST", "/inject/{id}", inject_now),)

The handler returns the response's HTTP status (the body is empty).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AdminRequest:
    """What an admin route handler receives."""

    params: Mapping[str, str]
    """The path's parameters (``{"id": ...}`` for ``/inject/{id}``)."""
    body: Any
    """The JSON body, parsed; None when the request has none."""
    node: Callable[[str], Any]
    """A running node by id, or None."""


@dataclass(frozen=True)
class AdminRoute:
    """One route: ``method``, an aiohttp path pattern, and its handler."""

    method: str
    path: str
    handler: Callable[[AdminRequest], Awaitable[int]]


class AdminRouteError(Exception):
    """An error answer: HTTP ``status``, a machine-readable ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
