"""Build the aiohttp application and run it: ``flowrt run``.

The runtime lives in the application's cleanup context: the flows are loaded
before the port is opened (so "``GET /flows`` answers" means "the flows have
started") and stopped, every node closed and context flushed, when the app shuts
down. SIGTERM and SIGINT stop the server gracefully with exit code 0.

``flowrt run`` ends only for problems outside the flows, with one line on
stderr and exit code 1: the settings are invalid, the data directory or the flow
file cannot be read, the port is taken. A problem in the flows never ends it (a
node that fails is reported and the rest runs; see ``flowrt.runtime``).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import gc
import ipaddress
import logging
import os
import sys
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

from aiohttp import web

from flowrt import event_loop, watchdog
from flowrt.errors import DataFileError, FlowValidationError, ProjectError
from flowrt.projects.storage import storage_for
from flowrt.server import (
    admin_api,
    auth,
    auth_routes,
    comms,
    comms_routes,
    context_routes,
    dashboard_routes,
    editor,
    flow_tests_routes,
    flows_api,
    health,
    history_routes,
    jsonata_routes,
)
from flowrt.server.connections import CappedSite
from flowrt.server.cross_site import CrossSiteGuard, cross_site_middleware
from flowrt.server.flow_routes import close_flow_connections, flow_routes_middleware
from flowrt.server.http import cors_middleware, error_middleware
from flowrt.server.logs import configure_logging
from flowrt.server.loop_monitor import LoopMonitor
from flowrt.server.state import CONTEXT, ServerContext
from flowrt.settings import DEFAULT_DATA_DIR, Settings, SettingsError, load_settings

log = logging.getLogger("flowrt.server")


def build_context(settings: Settings, data_dir: Path,
                  flowfile: Path | None = None) -> ServerContext:
    """The runtime (with every installed node type), its storage, and auth."""
    from flowrt.registry import discover
    from flowrt.runtime import Runtime

    storage = storage_for(settings, data_dir, flowfile)
    registry = discover(data_dir, excludes=frozenset(settings.nodes_excludes))
    runtime = Runtime(registry, storage=storage, data_dir=data_dir,
                      settings=settings)
    return ServerContext(runtime=runtime, storage=storage, settings=settings,
                         data_dir=data_dir, auth=auth.Auth(settings.admin_auth, data_dir),
                         cross_site=CrossSiteGuard(settings),
                         comms=comms.CommsHub(runtime.events, settings),
                         loop_monitor=LoopMonitor())


def create_app(ctx: ServerContext) -> web.Application:
    """The application: every route, the middlewares, and the runtime's lifecycle."""
    settings = ctx.settings
    middlewares = [error_middleware, cross_site_middleware(ctx.cross_site),
                   auth_routes.auth_middleware]
    if settings.http_admin_cors:
        middlewares.insert(0, cors_middleware(settings.http_admin_cors))
    middlewares.insert(0, flow_routes_middleware)  # outside the admin API's own
    # aiohttp's keep-alive timer also runs while a request's head is still arriving, so
    # it is the header-read timeout too: a slow-loris client is closed when it fires.
    app = web.Application(client_max_size=settings.api_max_length, middlewares=middlewares,
                          handler_args={"keepalive_timeout": settings.http_headers_timeout})
    app[CONTEXT] = ctx
    for module in (flows_api, admin_api, context_routes, health, auth_routes, comms_routes,
                   flow_tests_routes, history_routes, jsonata_routes, editor, dashboard_routes):
        module.setup(app)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_close_comms)
    app.on_shutdown.append(close_flow_connections)
    return app


async def _close_comms(app: web.Application) -> None:
    # Before the server waits for open requests: websockets would keep it waiting.
    comms_hub = app[CONTEXT].comms
    if comms_hub:
        await comms_hub.close()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CONTEXT]
    if ctx.loop_monitor:
        ctx.loop_monitor.start()
    await ctx.runtime.open()
    await ctx.runtime.load()
    yield
    await ctx.runtime.stop()
    if ctx.loop_monitor:
        ctx.loop_monitor.stop()


def serve(*, flowfile: Path | None = None, port: int | None = None, host: str | None = None,
          data_dir: Path | None = None, settings_file: Path | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; return the process exit code."""
    data_dir = (data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
    # Flows, credentials, keys, context and queues are nobody else's business: every
    # file and directory the runtime creates is private to its user (0600/0700).
    os.umask(0o077)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = load_settings(data_dir, settings_file, overrides={"host": host, "port": port})
    except SettingsError as exc:
        print(f"flowrt: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"flowrt: data directory {data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    configure_logging(settings)
    for key in settings.unknown:
        log.warning("unknown setting %s: ignored", key)
    try:
        factory = event_loop.loop_factory(settings.event_loop)
        # Not asyncio.run: a SystemExit from function code must not end the process.
        return watchdog.run(_run(settings, data_dir, flowfile), factory)
    except (SettingsError, event_loop.EventLoopUnavailable) as exc:
        log.error("%s", exc)
        return 1


async def _run(settings: Settings, data_dir: Path, flowfile: Path | None) -> int:
    # Handlers first: a signal during start-up stops the server as soon as it is up. They
    # also interrupt function code that holds the loop, and bound the stop's duration.
    stop = asyncio.Event()
    watchdog.handle_stop_signals(stop.set, settings.shutdown_timeout)
    ctx = build_context(settings, data_dir, flowfile)
    runner = web.AppRunner(create_app(ctx), handle_signals=False, access_log=None)
    # Modules, node types and the app live as long as the process: take them out of
    # the cyclic collector's sight, and collect young objects less often, so
    # per-message garbage does not keep re-scanning the whole heap. The flows are
    # loaded after this: each deploy frees the graph it replaces (Runtime._apply).
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # The port first: when it is taken, say so before any flow starts (connects to
    # brokers, opens queues) only to be stopped again.
    try:
        await _check_port(settings.host, settings.port)
    except OSError as exc:
        log.error("%s", _listen_error(settings.host, settings.port, exc))
        return 1
    try:
        ctx.storage.recover()
        if flowfile is None and ctx.storage.create_if_missing():
            log.info("created empty flows in %s", ctx.storage.location)
        await runner.setup()
    except (DataFileError, FlowValidationError, ProjectError) as exc:
        log.error("cannot start: %s", _start_error(exc, ctx))
        await runner.cleanup()
        return 1
    except OSError as exc:  # the data directory cannot be read or written
        log.error("cannot start: %s: %s", exc.filename or ctx.data_dir, exc.strerror or exc)
        await runner.cleanup()
        return 1
    site = ctx.site = CappedSite(runner, settings.host, settings.port,
                                 settings.http_max_connections)
    try:
        await site.start()
    except OSError as exc:  # taken since the check
        log.error("%s", _listen_error(settings.host, settings.port, exc))
        await runner.cleanup()
        return 1
    _announce(ctx)
    _release_start_memory()
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    return 0


async def _check_port(host: str, port: int) -> None:
    """Raise OSError if ``host:port`` cannot be listened on (bound as aiohttp binds)."""
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, host, port)
    server.close()
    await server.wait_closed()


def _listen_error(host: str, port: int, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        reason = ("the port is already in use (another flowrt or Node-RED?); choose "
                  "another with --port")
    return f"cannot listen on {host}:{port}: {reason}"


def _start_error(exc: DataFileError | FlowValidationError | ProjectError,
                 ctx: ServerContext) -> str:
    """One line: what is wrong with which file, and what to do."""
    if not isinstance(exc, FlowValidationError):
        return str(exc)
    first = exc.problems[0] if exc.problems else None
    more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
    backup = ctx.storage.flow_backup
    remedy = f", or replace it with its previous version {backup}" if backup.exists() else ""
    return f"{exc.headline}: {first or ''}{more}; fix it{remedy}"


def _release_start_memory() -> None:
    """Hand back to the OS what starting took and no longer holds.

    Reading the flows, compiling schemas and code and reading package metadata leave
    garbage and free heap pages behind; a gateway's memory is better spent elsewhere.
    ``malloc_trim`` is glibc's (absent on musl, where nothing is done).
    """
    gc.collect()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own symbols
    if trim is not None:
        trim(0)


def _announce(ctx: ServerContext) -> None:
    settings = ctx.settings
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in shown:
        shown = f"[{shown}]"
    loop = event_loop.loop_name(asyncio.get_running_loop())
    print(f"flowrt {version('flowrt')}: flows {ctx.storage.location}, data dir {ctx.data_dir}, "
          f"event loop {loop}")
    print(f"editor: http://{shown}:{settings.port}/", flush=True)
    if not ctx.auth.enabled and not _is_loopback(settings.host):
        log.warning("\n" + "!" * 72 + "\n  NO ADMIN AUTHENTICATION and listening on %s: anyone who "
                    "can reach\n  this port can change and run flows. Configure [adminAuth] in "
                    "settings.toml.\n" + "!" * 72, settings.host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
