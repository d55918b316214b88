"""``/healthz`` and ``/metrics`` (Prometheus text format 0.0.4).

``GET /healthz`` answers 200 while the flows run and 503 otherwise, with a JSON
body saying why (``state``, ``reason`` and any ``missing`` node types). While
some nodes failed to configure or start (the rest of the flows running), it
answers 200 with ``status`` "degraded" and ``failedNodes``: one
``{"id", "type", "flow", "stage", "error", "dropped"}`` per node, ``stage`` being
"configure" or "start" and ``dropped`` the messages wired to it so far.

``GET /metrics`` exposes, per node type, the messages received and sent and the
errors reported; the run queue's depth, drops and deliveries;
the figures nodes report through ``Node.metrics()`` (``flowrt_node_<key>``,
e.g. ``flowrt_node_queued`` for the messages a node holds);
deploys and failed deploys; the event loop's lag; the process's resident
memory; the connections refused over ``httpMaxConnections``; and the editor
connections, the debug messages dropped by their rate limit and the events
dropped because an editor's queue was full. Counters start
again from zero when a deploy restarts a node.
``/healthz`` is public (no admin token), for probes. ``/metrics`` names nodes, so
with ``adminAuth`` on it needs a token (permission ``metrics.read``, which
``"read"`` includes) unless ``metricsPublic`` is set.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from flowrt.dashboard import existing_dashboard
from flowrt.server.http import json_response
from flowrt.server.state import ServerContext, context

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def process_rss() -> int:
    """The process's resident set size in bytes."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz."""
    runtime = context(request).runtime
    running = runtime.state == "start"
    failed = runtime.failed_nodes()
    status = ("degraded" if failed else "ok") if running else "unavailable"
    body: dict[str, Any] = {"status": status, "state": runtime.state,
                            "reason": runtime.state_reason, "nodes": len(runtime.nodes)}
    if failed:
        body["failedNodes"] = failed
    if runtime.missing:
        body["missing"] = runtime.missing
    return json_response(body, status=200 if runtime.state == "start" else 503)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics."""
    return web.Response(text=render_metrics(context(request)),
                        headers={"Content-Type": CONTENT_TYPE})


def render_metrics(ctx: ServerContext) -> str:
    """The Prometheus exposition text for the current state."""
    runtime = ctx.runtime
    counts = sorted(runtime.node_counts().items())
    lag = ctx.loop_monitor.take_max() if ctx.loop_monitor else 0.0
    comms = ctx.comms
    families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
        ("flowrt_messages_received", "counter", "Messages received by nodes, per node type.",
         [({"type": t}, c[0]) for t, c in counts]),
        ("flowrt_messages_sent", "counter",
         "Messages sent by nodes (one per wire reached), per node type.",
         [({"type": t}, c[1]) for t, c in counts]),
        ("flowrt_node_errors", "counter", "Errors reported by nodes, per node type.",
         [({"type": t}, c[2]) for t, c in counts]),
        ("flowrt_errors", "counter", "Errors counted by the runtime.",
         [({}, runtime.stats.errors)]),
        ("flowrt_run_queue_depth", "gauge", "Messages waiting in the run queue.",
         [({}, len(runtime.dispatcher))]),
        ("flowrt_run_queue_dropped", "counter", "Messages dropped because the run queue was full.",
         [({}, runtime.dispatcher.dropped)]),
        ("flowrt_run_queue_delivered", "counter", "Messages delivered by the run queue.",
         [({}, runtime.dispatcher.delivered)]),
        ("flowrt_deploys", "counter", "Successful deploys.", [({}, runtime.stats.deploys)]),
        ("flowrt_deploy_failures", "counter", "Deploys that failed to start and were rolled back.",
         [({}, runtime.stats.deploy_failures)]),
        ("flowrt_flows_running", "gauge", "1 while the flows run, 0 when stopped.",
         [({}, int(runtime.state == "start"))]),
        ("flowrt_event_loop_lag_seconds", "gauge",
         "Largest event-loop lag since the previous scrape.", [({}, lag)]),
        ("flowrt_process_resident_memory_bytes", "gauge", "Resident memory of the process.",
         [({}, process_rss())]),
        ("flowrt_comms_connections", "gauge", "Open editor websocket connections.",
         [({}, comms.connection_count if comms else 0)]),
        ("flowrt_debug_messages_dropped", "counter",
         "Debug messages not sent to an editor because of its rate limit.",
         [({}, comms.debug_dropped if comms else 0)]),
        ("flowrt_http_connections_refused", "counter",
         "Connections answered 503 because httpMaxConnections were open.",
         [({}, ctx.site.refused if ctx.site else 0)]),
        ("flowrt_comms_events_dropped", "counter",
         "Events not sent to an editor because its queue (commsMaxQueueBytes) was full.",
         [({}, comms.queue_dropped if comms else 0)]),
    ]
    dashboard = existing_dashboard(runtime.endpoints)
    families.extend([
        ("flowrt_dashboard_pages", "gauge", "Open dashboard pages (/ui).",
         [({}, len(dashboard.clients) if dashboard else 0)]),
        ("flowrt_dashboard_updates_dropped", "counter",
         "Dashboard updates not sent to a page because its queue (dashboardMaxQueueBytes) "
         "was full.", [({}, dashboard.dropped_total() if dashboard else 0)]),
    ])
    families.append(("flowrt_failed_nodes", "gauge",
                     "Nodes that failed to configure or start (the rest of the flows run).",
                     [({}, len(runtime.failed))]))
    # A failed node's stand-in reports the messages dropped on the wires to it.
    families.extend(_node_metric_families([*runtime.nodes.values(), *runtime.failed.values()]))
    return "".join(_family(*family) for family in families)


def _node_metric_families(
    nodes: Iterable[Any],
) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for node in nodes:
        for key, value in node.metrics().items():
            labels = {"type": node.config["type"], "id": node.id, "name": node.name}
            samples.setdefault(key, []).append((labels, value))
    families = []
    for key, values in sorted(samples.items()):
        counter = key.endswith("_total")
        name = f"flowrt_node_{key.removesuffix('_total')}"
        families.append((name, "counter" if counter else "gauge",
                         f"Reported by the nodes themselves: {key}.", values))
    return families


def _family(name: str, kind: str, help_text: str,
            samples: Iterable[tuple[dict[str, str], float]]) -> str:
    sample_name = f"{name}_total" if kind == "counter" else name
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{sample_name}{{{label_text}}} {value}" if label_text
                     else f"{sample_name} {value}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def setup(app: web.Application) -> None:
    """Add ``/healthz`` and ``/metrics`` to ``app``."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

