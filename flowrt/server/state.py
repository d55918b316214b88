"""What every request handler reaches through the application: the server context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from flowrt.runtime import Runtime
    from flowrt.server.auth import Auth
    from flowrt.server.comms import CommsHub
    from flowrt.server.connections import CappedSite
    from flowrt.server.cross_site import CrossSiteGuard
    from flowrt.server.loop_monitor import LoopMonitor
    from flowrt.settings import Settings
    from flowrt.storage import FileStorage


@dataclass
class ServerContext:
    """The runtime, its storage and settings, and the server's own services."""

    runtime: Runtime
    storage: FileStorage
    settings: Settings
    data_dir: Path
    auth: Auth
    cross_site: CrossSiteGuard
    comms: CommsHub | None = None
    loop_monitor: LoopMonitor | None = None
    site: CappedSite | None = None
    """The listening socket, once ``flowrt run`` opened it."""


CONTEXT = web.AppKey("flowrt", ServerContext)


def context(request: web.Request) -> ServerContext:
    """The server context of the application handling ``request``."""
    return request.app[CONTEXT]
