"""The dashboard at ``/ui``: the page model and the live hub its widgets publish to.

Widget node types (``nodes/flowrt_nodes/dashboard*.py``) register with the
:class:`DashboardHub` of their runtime (:func:`dashboard_for`, keyed by the runtime's
``ctx.endpoints``, so nodes created only to be checked register with a hub nobody
serves). The server module ``flowrt.server.dashboard_routes`` serves the page and one
websocket per open page at ``/ui/ws``.

Protocol (JSON text frames):

- server → page ``{"type": "layout", "site": {...}, "pages": [...]}``: the pages (Node-RED
  Dashboard 1's tabs, Dashboard 2's pages), their groups and widgets, sent on connect and
  whenever a deploy changes them, followed by one ``update`` with every widget's state.
- server → page ``{"type": "update", "widgets": {id: frame, ...}}``: what changed since
  the last tick. A frame is ``{"op": "set", ...}`` (replace the widget's state) or
  ``{"op": "append", "points": [...]}`` (a chart's new points). Each widget is sent at
  most once per tick (``TICK`` seconds): faster updates are merged into one frame.
- server → page ``{"type": "toast", ...}``: a notification to show once.
- page → server ``{"auth": token}`` first (an editor token, or null): answered
  ``{"type": "auth", "ok", "readOnly"}`` (``flowrt.server.dashboard_routes``).
- page → server ``{"type": "event", "id": widget id, "value": ...}``: a person used an
  input widget; the widget's node emits its message.
- page → server ``{"type": "resync"}``: the page drew other widgets (it changed pages);
  answered with one ``update`` holding every widget's state.

Memory is bounded everywhere: each connection has a queue of at most
``dashboardMaxQueueBytes`` bytes; when a slow client falls behind, its oldest frames are
dropped and counted (:attr:`DashboardHub.dropped`), and the widgets they were about are
sent again in full (their state, not their history of updates) when the queue drains.
Widgets keep only their last state and, for charts, a bounded recent history, which is
what a page opened later is sent.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from flowrt.clock import Clock, TimerHandle
from flowrt.http_endpoints import Endpoints
from flowrt.schema import as_bool

TICK = 0.1
"""Seconds between two updates of one widget sent to pages (10 per second at most)."""
DEFAULT_QUEUE_BYTES = 1024 * 1024
"""Bytes of frames waiting for one page before its oldest are dropped."""


class Widget(Protocol):
    """What the hub needs from a widget node (``dashboard_widgets.UiWidget``)."""

    id: str

    def drawing(self) -> dict[str, Any]:
        """The widget as the page draws it: kind, label, size, options."""

    def snapshot(self) -> dict[str, Any]:
        """The widget's whole current state, as one ``set`` frame."""

    def page_event(self, value: Any) -> None:
        """A person used the widget on a page (``value`` as the page sent it)."""

    def placement(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The config of the widget's group and of that group's page, or None."""


@dataclass(eq=False)
class Client:
    """One open page: its frames waiting to be sent, bounded in bytes."""

    max_bytes: int
    frames: deque[tuple[bytes, frozenset[str] | None]] = field(default_factory=deque)
    """Each frame with the widgets it is about (None: it is a layout)."""
    queued_bytes: int = 0
    dropped: int = 0
    stale: set[str] = field(default_factory=set)
    """Widgets whose updates were dropped: sent again in full when the queue drains."""
    layouts: int = 0
    """Layout frames queued: the last one is never dropped (the page needs it to draw)."""
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    def put(self, frame: bytes, widgets: frozenset[str] | None = frozenset()) -> None:
        """Queue ``frame`` (about ``widgets``; None for a layout), dropping the oldest
        frames beyond the bound."""
        self.frames.append((frame, widgets))
        self.queued_bytes += len(frame)
        self.layouts += widgets is None
        while self.queued_bytes > self.max_bytes and len(self.frames) > 1:
            keep_layout = self.frames[0][1] is None and self.layouts == 1
            index = 1 if keep_layout else 0
            old, about = self.frames[index]
            del self.frames[index]
            self.queued_bytes -= len(old)
            self.dropped += 1
            if about is None:
                self.layouts -= 1  # a newer layout is queued
            else:
                self.stale |= about
        self.wakeup.set()

    def take(self) -> bytes | None:
        """The oldest queued frame, or None when the queue is empty."""
        if not self.frames:
            self.wakeup.clear()
            return None
        frame, about = self.frames.popleft()
        self.queued_bytes -= len(frame)
        self.layouts -= about is None
        return frame


class DashboardHub:
    """The widgets of one runtime and the pages showing them (see the module docstring)."""

    def __init__(self, clock: Clock, max_queue_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        self.clock = clock
        self.max_queue_bytes = max_queue_bytes
        self.widgets: dict[str, Widget] = {}
        self.clients: set[Client] = set()
        self.dropped = 0
        """Frames dropped for pages since closed (:meth:`dropped_total` adds open ones)."""
        self.site: dict[str, Any] = {}
        """The dashboard's title and theme (``ui_base`` / ``ui-base`` / ``ui-theme``)."""
        self._pending: dict[str, dict[str, Any]] = {}
        self._layout_changed = False
        self._timer: TimerHandle | None = None

    # ------------------------------------------------------------ widgets
    def add(self, widget: Widget) -> None:
        """A widget started: pages show it from the next tick."""
        self.widgets[widget.id] = widget
        self._layout_changed = True
        self._schedule()

    def remove(self, widget_id: str) -> None:
        """A widget closed: pages stop showing it."""
        if self.widgets.pop(widget_id, None) is not None:
            self._pending.pop(widget_id, None)
            self._layout_changed = True
            self._schedule()

    def set_site(self, site: dict[str, Any]) -> None:
        """The dashboard-wide settings changed (a ``ui_base`` or theme node started)."""
        self.site = site
        self._layout_changed = True
        self._schedule()

    def publish(self, widget_id: str, frame: dict[str, Any]) -> None:
        """Send ``frame`` about a widget to every page at the next tick, merged with any
        frame still waiting for it."""
        if not self.clients:
            return
        waiting = self._pending.get(widget_id)
        if waiting is None or frame["op"] == "set":
            self._pending[widget_id] = frame
        elif waiting["op"] == "append" and frame["op"] == "append":
            waiting["points"].extend(frame["points"])
        else:  # a set waiting and points arriving: the set's state already holds them
            self._pending[widget_id] = self.widgets[widget_id].snapshot()
        self._schedule()

    def toast(self, toast: dict[str, Any]) -> None:
        """Show a notification on every open page, now."""
        self._broadcast(orjson.dumps({"type": "toast", **toast}, default=str))

    def page_event(self, widget_id: str, value: Any) -> bool:
        """A page reported a person using a widget; False if the widget is gone."""
        widget = self.widgets.get(widget_id)
        if widget is None:
            return False
        widget.page_event(value)
        return True

    # ------------------------------------------------------------ pages
    def connect(self) -> Client:
        """A page opened: it gets the layout and every widget's state first."""
        client = Client(self.max_queue_bytes)
        if not self.clients:  # nobody saw the changes made while no page was open
            self._layout_changed = False
            self._pending.clear()
        self.clients.add(client)
        client.put(self._layout_frame(), None)
        self.resync(client)
        return client

    def disconnect(self, client: Client) -> None:
        """A page closed."""
        client.closed = True
        client.wakeup.set()
        self.clients.discard(client)
        self.dropped += client.dropped

    def dropped_total(self) -> int:
        """Frames dropped for slow pages since the hub was created."""
        return self.dropped + sum(client.dropped for client in self.clients)

    def refill(self, client: Client) -> None:
        """The client's queue drained: resend in full the widgets it missed updates of."""
        if client.stale:
            stale = {wid: self.widgets[wid] for wid in client.stale if wid in self.widgets}
            client.stale.clear()
            client.put(self._full_update(stale), frozenset(stale))

    def resync(self, client: Client) -> None:
        """Send the client every widget's whole state again."""
        client.put(self._full_update(self.widgets), frozenset(self.widgets))

    def layout(self) -> dict[str, Any]:
        """Pages → groups → widgets, each list in its ``order``, hidden ones left out."""
        pages: dict[str, dict[str, Any]] = {}
        groups: dict[str, dict[str, Any]] = {}
        for widget in self.widgets.values():
            placed = widget.placement()
            if placed is None:
                continue
            group_cfg, page_cfg = placed
            page = pages.get(page_cfg["id"])
            if page is None:
                page = pages[page_cfg["id"]] = _page_of(page_cfg)
            group = groups.get(group_cfg["id"])
            if group is None:
                group = groups[group_cfg["id"]] = _group_of(group_cfg)
                page["groups"].append(group)
            group["widgets"].append(widget.drawing())
        for group in groups.values():
            group["widgets"].sort(key=lambda w: w["order"])
        ordered = sorted((p for p in pages.values() if not p["hidden"]), key=_order)
        for page in ordered:
            page["groups"] = sorted((g for g in page["groups"] if not g["hidden"]), key=_order)
        return {"type": "layout", "site": self.site, "pages": ordered}

    # ------------------------------------------------------------ ticks
    def _schedule(self) -> None:
        if self._timer is None and self.clients:
            self._timer = self.clock.call_later(TICK, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._layout_changed:
            self._layout_changed = False
            self._pending.clear()
            layout = self._layout_frame()
            for client in self.clients:
                client.put(layout, None)
                self.resync(client)
            return
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        frame = orjson.dumps({"type": "update", "widgets": pending}, default=str)
        self._broadcast(frame, frozenset(pending))

    def _broadcast(self, frame: bytes, widgets: frozenset[str] = frozenset()) -> None:
        for client in self.clients:
            client.put(frame, widgets)

    def _layout_frame(self) -> bytes:
        return orjson.dumps(self.layout(), default=str)

    def _full_update(self, widgets: dict[str, Widget]) -> bytes:
        return orjson.dumps({"type": "update", "widgets": {
            wid: widget.snapshot() for wid, widget in widgets.items()}}, default=str)


def _order(item: dict[str, Any]) -> tuple[float, str]:
    return (item["order"], item["name"])


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _page_of(cfg: dict[str, Any]) -> dict[str, Any]:
    name = str(cfg.get("name") or cfg.get("label") or "Home")
    return {"id": cfg["id"], "name": name, "icon": str(cfg.get("icon") or ""),
            "order": _number(cfg.get("order"), 0), "path": str(cfg.get("path") or ""),
            "hidden": as_bool(cfg.get("hidden")) or not as_bool(cfg.get("visible"), True),
            "disabled": as_bool(cfg.get("disabled")),
            "columns": 12 if cfg.get("type") == "ui-page" else 0, "groups": []}


def _group_of(cfg: dict[str, Any]) -> dict[str, Any]:
    return {"id": cfg["id"], "name": str(cfg.get("name") or ""),
            "width": max(1, int(_number(cfg.get("width"), 6))),
            "order": _number(cfg.get("order"), 0),
            "showTitle": as_bool(cfg.get("disp", cfg.get("showTitle")), True),
            "hidden": not as_bool(cfg.get("visible"), True),
            "collapse": as_bool(cfg.get("collapse")), "widgets": []}


_HUBS: weakref.WeakKeyDictionary[Endpoints, DashboardHub] = weakref.WeakKeyDictionary()


def dashboard_for(endpoints: Endpoints, clock: Clock | None = None,
                  max_queue_bytes: int = DEFAULT_QUEUE_BYTES) -> DashboardHub:
    """The dashboard hub of the runtime serving ``endpoints`` (created on first use)."""
    hub = _HUBS.get(endpoints)
    if hub is None:
        hub = _HUBS[endpoints] = DashboardHub(clock or Clock(), max_queue_bytes)
    return hub


def existing_dashboard(endpoints: Endpoints) -> DashboardHub | None:
    """The hub of ``endpoints`` if any widget ever registered, else None."""
    return _HUBS.get(endpoints)

