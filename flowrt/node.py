"""The node API: what a node type (built-in or plugin) is and what it can do.

A node type is a subclass of :class:`Node` with class attributes that describe it
(``type``, ``category``, ``inputs``, ``outputs``, ``schema``, ``credentials``...;
the class docstring is its help text, in Markdown) and up to three methods::

    class Double(Node):
        '''Multiplies `msg.payload` by two.'''
        type = "double"
        schema = {"type": "object", "properties": {"factor": number(2)}}

        def on_input(self, msg):
            msg["payload"] *= as_number(self.config["factor"])
            self.send(msg)

``start()`` (async) runs before any message arrives, ``on_input(msg)`` handles one
message, ``close(removed)`` (async) releases resources. ``on_input`` may be a plain
method (fastest: completion is immediate when it returns), an ``async def`` (the
message completes when the coroutine finishes; no task is created unless it
actually suspends), or return an awaitable such as an asyncio Future (the message
completes when it resolves: this is how ``mqtt out`` completes on PUBACK). An
exception, or a failed awaitable, is the node's error for that message and goes
to the ``catch`` nodes of its flow.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import types
from collections.abc import Awaitable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from flowrt.admin_routes import AdminRoute
from flowrt.clock import Clock
from flowrt.context import Context, ContextStores
from flowrt.dispatch import Dispatcher, RateLimitedReport, Tracker
from flowrt.eager import start_eagerly
from flowrt.errors import NodeError
from flowrt.events import Events
from flowrt.http_endpoints import Endpoints
from flowrt.messages import Message, clone_message, new_msgid
from flowrt.settings import Settings

MAX_CATCH_COUNT = 10


class FlowScope(Protocol):
    """The flow a node runs in, as its context sees it (``flowrt.flow.Flow``)."""

    id: str
    context: Context

    @property
    def path(self) -> str: ...

    def handle_error(self, node: Node, err: BaseException | str, msg: Message) -> bool: ...

    def handle_status(self, node: Node, status: dict[str, Any]) -> None: ...

    def handle_complete(self, node: Node, msg: Message) -> None: ...

    def get_env(self, name: str, node: Node | dict[str, Any] | None = None) -> Any: ...


class NodeHost(Protocol):
    """What the runtime provides to every node's context (``flowrt.runtime.Runtime``)."""

    def get_node(self, node_id: str) -> Node | None: ...

    def running_nodes(self) -> Iterator[Node]: ...

    def publish_log(self, node: Node, level: int, text: str, msg: Message | None) -> None: ...


class NodeContext:
    """Everything a node receives from the runtime, in one object owned by the runtime.

    The runtime creates one per node and passes it as the node's second
    constructor argument; the node reads it as ``self.ctx``. It carries the
    clock, the typed settings, the data directory, the context stores, config-node
    and environment lookups, and the routes of ``send`` / ``status`` / ``error``.
    Wiring belongs to the runtime: it sets ``wires`` (the targets of each output)
    and ``watch_complete`` (a ``complete`` node watches this node); the node only
    reads them.
    """

    def __init__(self, *, host: NodeHost, flow: FlowScope, node_id: str, clock: Clock,
                 settings: Settings, data_dir: Path | None, contexts: ContextStores,
                 dispatcher: Dispatcher, events: Events, endpoints: Endpoints) -> None:
        self.host = host
        self.flow = flow
        self.clock = clock
        self.settings = settings
        """The runtime's settings (``flowrt.settings.Settings``), typed."""
        self.data_dir = data_dir
        """Where a node keeps files (queues, ...); None when the runtime has none."""
        self.dispatcher = dispatcher
        self.events = events
        """The editor's event hub (debug sidebar, status), for nodes that publish to it."""
        self.endpoints = endpoints
        """The HTTP routes served on the runtime's port (``flowrt.http_endpoints``): a node
        adds its routes in ``start`` and removes them in ``close``."""
        self._contexts = contexts
        self._node_id = node_id
        self.wires: list[list[Node]] = []
        """Targets of each output, in order; set by the runtime."""
        self.watch_complete = False
        """True when a ``complete`` node watches this node; set by the runtime."""

    @property
    def node_context(self) -> Context:
        """The node's own context."""
        return self._contexts.node(self._node_id, self.flow.id)

    @property
    def global_context(self) -> Context:
        """The global context."""
        return self._contexts.global_

    @property
    def flow_context(self) -> Context:
        """The context of the node's flow (tab or subflow instance)."""
        return self.flow.context

    def get_node(self, node_id: str) -> Node | None:
        """A running node by id (config nodes included)."""
        return self.host.get_node(node_id)

    def running_nodes(self) -> Iterator[Node]:
        """Every running node (``link call`` finds its targets by name)."""
        return self.host.running_nodes()

    def deliver(self, target: Node, msg: Message) -> bool:
        """Queue ``msg`` for ``target`` outside the wires (``link call``); False if the
        run queue was full and it was dropped."""
        return self.dispatcher.push(target, msg, self.dispatcher.current_tracker)

    @property
    def runtime(self) -> Any:
        """Gone: what a node used to reach through ``flow.runtime`` is on the context."""
        raise AttributeError(_moved(self, "runtime"))


class Node:
    """Base class of every node type. Subclass it; see the module docstring."""

    type: ClassVar[str] = ""
    category: ClassVar[str] = "function"
    inputs: ClassVar[int] = 1
    outputs: ClassVar[int] = 1
    schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    credentials: ClassVar[dict[str, str]] = {}
    """Credential fields: name → ``"text"`` or ``"password"``. Kept out of the flow file."""
    color: ClassVar[str] = "#e7e7ae"
    icon: ClassVar[str] = "arrow-right"
    palette_label: ClassVar[str | None] = None
    max_inflight: int | None = None
    """At most this many messages handled but not yet completed (``on_input`` returned
    an awaitable) before sources pause; None = no limit. For nodes whose completion
    does not depend on reading input sockets (a local commit), never for ones that
    wait for a broker acknowledgement on a connection a source may share."""
    admin_routes: ClassVar[Sequence[AdminRoute]] = ()
    """HTTP routes this type adds to the admin API (``flowrt.admin_routes``)."""
    config_when_absent: ClassVar[dict[str, Any]] = {}
    """Values for keys missing from a node's config where they differ from the schema's
    ``default`` (which the editor writes into new nodes): Node-RED's runtime defaults
    for flows exported before a key existed (``mqtt in`` without ``datatype``: utf8)."""
    editor: ClassVar[dict[str, Any]] = {}
    """Editor hints: ``label`` (config key shown as the node label), ``order``
    (form field order), ``outputsFrom`` (config key that sets the output count),
    ``button`` (``"inject"`` or ``"debug"``), ``credentials`` (per credential field:
    ``title``, ``x-show-if``, ``x-title-by`` as in a schema), ``labelAlign``..."""

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        if not isinstance(ctx, NodeContext):
            raise TypeError(
                f"{type(self).__name__}: a node is created by the runtime with "
                f"(config, ctx: NodeContext), not {type(ctx).__name__}; see docs/plugins.md")
        self.id: str = config["id"]
        self.z: str | None = config.get("z")
        self.name: str = config.get("name") or ""
        self.config = config
        self.ctx = ctx
        self.clock: Clock = ctx.clock
        """The runtime's clock (``ctx.clock``): use it for every timer and timestamp."""
        self.log = logging.LoggerAdapter(
            logging.getLogger(f"flowrt.node.{type(self).type}"),
            {"node_id": self.id, "node_type": type(self).type},
        )
        self.creds: dict[str, Any] = {}
        self.received = 0
        self.sent = 0
        self.errors = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight = 0
        self._send_drops: RateLimitedReport | None = None

    # Properties, not __getattr__: a class with __getattr__ loses CPython's fast attribute
    # loads on every instance (measured: relay throughput -17 %).
    @property
    def flow(self) -> Any:
        """Gone: a node reaches its flow's services through ``self.ctx``."""
        raise AttributeError(_moved(self, "flow"))

    @property
    def runtime(self) -> Any:
        """Gone: a node reaches the runtime's services through ``self.ctx``."""
        raise AttributeError(_moved(self, "runtime"))

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Acquire resources. Runs before the node receives any message."""

    def on_input(self, msg: Message) -> Awaitable[Any] | None:
        """Handle one message. The default passes it on unchanged."""
        self.send(msg)
        return None

    async def close(self, removed: bool) -> None:
        """Release resources. ``removed`` is true when the node was deleted or disabled."""

    # ----------------------------------------------------------------- sending
    def send(self, msg: Message | list[Any] | None) -> None:
        """Send a message to output 1, or a list with one entry per output.

        A list entry may itself be a list of messages, sent in order on that
        output; ``None`` entries are skipped. Every delivery after the first gets
        its own copy of the message (Node-RED's rule).
        """
        if msg is None:
            return
        wires = self.ctx.wires
        if type(msg) is dict:
            if not wires:
                return
            targets = wires[0]
            if "_msgid" not in msg:
                msg["_msgid"] = new_msgid()
            if len(targets) == 1:
                self.sent += 1
                dispatcher = self.ctx.dispatcher
                if not dispatcher.push(targets[0], msg, dispatcher.current_tracker):
                    self._sends_dropped(1)
                return
            self._send_events([(t, msg) for t in targets])
        elif isinstance(msg, list):
            events: list[tuple[Node, Message]] = []
            for port, item in enumerate(msg[: len(wires)]):
                for one in item if isinstance(item, list) else (item,):
                    if one is None:
                        continue
                    if not isinstance(one, dict):
                        self.error(f"Node tried to send a message of type {type(one).__name__}")
                        continue
                    if "_msgid" not in one:
                        one["_msgid"] = new_msgid()
                    events.extend((t, one) for t in wires[port])
            self._send_events(events)
        else:
            self.error(f"Node tried to send a message of type {type(msg).__name__}")

    def _send_events(self, events: list[tuple[Node, Message]]) -> None:
        dispatcher = self.ctx.dispatcher
        push = dispatcher.push
        tracker = dispatcher.current_tracker
        self.sent += len(events)
        first = True
        dropped = 0
        for target, msg in events:
            if not push(target, msg if first else clone_message(msg), tracker):
                dropped += 1
            first = False
        if dropped:
            self._sends_dropped(dropped)

    def _sends_dropped(self, count: int) -> None:
        """The run queue was full: ``count`` sends were dropped (reported rate-limited)."""
        if self._send_drops is None:
            self._send_drops = RateLimitedReport(self._report_send_drops, self.clock)
        self._send_drops.add(count)

    def _report_send_drops(self, count: int) -> None:
        assert self._send_drops is not None
        self.status(fill="red", shape="ring",
                    text=f"run queue full: {self._send_drops.total} dropped")
        self.warn(f"{count} message{'' if count == 1 else 's'} dropped: the run queue is full "
                  f"(maxPendingMessages = {self.ctx.dispatcher.max_pending})")

    def send_tracked(self, msg: Message, output: int = 0) -> asyncio.Future[int]:
        """Send ``msg`` on ``output`` and return a future for its completion.

        The future resolves (with the number of deliveries) when every node it was
        delivered to has completed it, including nodes that defer completion to a
        durable side effect (``mqtt out`` waits for the broker's acknowledgement),
        and any node those handled it on to synchronously. It fails with the
        first error reported for it. Nothing wired: resolves with 0.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tracker = Tracker(future)
        dispatcher = self.ctx.dispatcher
        outer, dispatcher.current_tracker = dispatcher.current_tracker, tracker
        try:
            self.send([None] * output + [msg])
        finally:
            dispatcher.current_tracker = outer
        if tracker.deliveries == 0:
            future.set_result(0)
        return future

    # ---------------------------------------------------------------- receiving
    def receive(self, msg: Message, tracker: Tracker | None) -> None:
        """Handle one delivery from the run queue: ``on_input``, then completion."""
        self.received += 1
        try:
            result = self.on_input(msg)
        except BaseException as exc:
            # Even SystemExit, KeyboardInterrupt or CancelledError: the runtime takes
            # signals through the loop's handlers, so these come from the node's own
            # code and are that message's error, never the process's.
            self._failed(msg, exc, tracker)
            return
        if result is None:
            if tracker is not None or self.ctx.watch_complete:
                self._completed(msg, tracker)
        else:
            self._await_result(result, msg, tracker)

    def _await_result(self, result: Any, msg: Message, tracker: Tracker | None) -> None:
        future: asyncio.Future[Any]
        if type(result) is types.CoroutineType:
            try:
                rest = start_eagerly(result)
            except BaseException as exc:  # as in receive
                self._failed(msg, exc, tracker)
                return
            if rest is None:
                self._completed(msg, tracker)
                return
            future = self.create_task(_as_node_errors(self, rest))
        else:
            try:
                future = asyncio.ensure_future(result)
            except TypeError:
                self._failed(msg, NodeError(
                    f"on_input returned {type(result).__name__}, not None or an awaitable",
                    node_id=self.id, node_type=type(self).type), tracker)
                return

        def finished(fut: asyncio.Future[Any]) -> None:
            if fut.cancelled():
                self._failed(msg, asyncio.CancelledError(), tracker)
            elif (exc := fut.exception()) is not None:
                self._failed(msg, exc, tracker)
            else:
                self._completed(msg, tracker)

        future.add_done_callback(finished)
        if self.max_inflight is not None:
            self._inflight += 1
            if self._inflight >= self.max_inflight:
                self.ctx.dispatcher.congest(self)
            future.add_done_callback(self._inflight_done)

    def _inflight_done(self, _: Any) -> None:
        self._inflight -= 1
        if self.max_inflight is not None and self._inflight <= self.max_inflight // 2:
            self.ctx.dispatcher.relieve(self)

    def _completed(self, msg: Message, tracker: Tracker | None) -> None:
        if tracker is not None:
            tracker.done()
        if self.ctx.watch_complete:
            self.ctx.flow.handle_complete(self, msg)

    def _failed(self, msg: Message, exc: BaseException, tracker: Tracker | None) -> None:
        if tracker is not None:
            # The sender awaits this: a CancelledError or SystemExit raised there would
            # cancel it, or end the process.
            tracker.fail(exc if isinstance(exc, Exception) else _as_error(self, exc))
        self.error(exc, msg)

    # ------------------------------------------------------------ reporting
    def error(self, err: BaseException | str, msg: Message | None = None) -> None:
        """Report an error; with ``msg``, catch nodes of this flow receive it."""
        self.errors += 1
        handled = msg is not None and self.ctx.flow.handle_error(self, err, msg)
        if not handled:
            self.log.error("%s", err)
        self.ctx.host.publish_log(self, logging.ERROR, str(err), msg)

    def warn(self, text: str) -> None:
        """Log a warning attributed to this node (also shown in the debug sidebar)."""
        self.log.warning("%s", text)
        self.ctx.host.publish_log(self, logging.WARNING, text, None)

    def status(
        self, status: dict[str, Any] | str | None = None, *, fill: str | None = None,
        shape: str | None = None, text: str | None = None,
    ) -> None:
        """Show a status under the node: ``status(fill="green", shape="dot", text="ok")``.

        ``status({})`` or ``status()`` clears it.
        """
        value: dict[str, Any]
        if isinstance(status, dict):
            value = {k: status[k] for k in ("fill", "shape", "text") if k in status}
        elif status is not None:
            value = {"text": str(status)}
        else:
            value = {k: v for k, v in (("fill", fill), ("shape", shape), ("text", text)) if v}
        if "text" in value:
            value["text"] = str(value["text"])
        self.ctx.flow.handle_status(self, value)

    # ------------------------------------------------------------------ helpers
    def create_task(self, coro: Any) -> asyncio.Task[Any]:
        """Run a coroutine owned by this node: cancelled and awaited when it closes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _stop_tasks(self) -> None:
        """Cancel and await the node's own tasks and timers (the runtime calls this after
        ``close``)."""
        self.ctx.dispatcher.relieve(self)
        if self._send_drops is not None:
            self._send_drops.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def context(self) -> Context:
        """This node's context store (``ctx.flow_context`` and ``ctx.global_context``
        are the others)."""
        return self.ctx.node_context

    def env(self, name: str) -> Any:
        """An environment variable as this node sees it (group, tab, subflow, process)."""
        return self.ctx.flow.get_env(name, self)

    def config_node(self, key: str) -> Node | None:
        """The config node whose id is in ``self.config[key]``, if it is running."""
        ref = self.config.get(key)
        return self.ctx.get_node(ref) if isinstance(ref, str) and ref else None

    def metrics(self) -> dict[str, float]:
        """Node-specific figures for ``/metrics``, e.g. ``{"queued": 12, "evicted_total": 3}``.

        Each key becomes the family ``flowrt_node_<key>`` labelled with the node's id,
        type and name; a key ending in ``_total`` is a counter, any other a gauge.
        Called at scrape time only: return figures the node already keeps.
        """
        return {}

    @property
    def output_count(self) -> int:
        """How many outputs this node has (``config["outputs"]`` where the type allows)."""
        configured = self.config.get("outputs")
        if isinstance(configured, int | str) and str(configured).strip().isdigit():
            return int(configured)
        return type(self).outputs

    @property
    def label(self) -> str:
        """What logs and the debug sidebar call this node."""
        return self.name or type(self).palette_label or type(self).type

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The type's metadata as served by ``GET /nodes`` for the editor."""
        return {
            "type": cls.type,
            "category": cls.category,
            "inputs": cls.inputs,
            "outputs": cls.outputs,
            "color": cls.color,
            "icon": cls.icon,
            "paletteLabel": cls.palette_label or cls.type,
            "schema": cls.schema,
            "credentials": {k: {"type": v} for k, v in cls.credentials.items()},
            "help": _dedent_doc(cls.__doc__),
            "editor": cls.editor,
        }


def _moved(owner: object, name: str) -> str:
    return (f"{type(owner).__name__} has no {name!r} since flowrt 0.2: a node receives a "
            "NodeContext (self.ctx: settings, clock, data_dir, get_node, contexts...) as its "
            "second constructor argument; see docs/plugins.md")


def _dedent_doc(doc: str | None) -> str:
    return inspect.cleandoc(doc) if doc else ""


def _as_error(node: Node, exc: BaseException) -> NodeError:
    """A SystemExit, KeyboardInterrupt or CancelledError from a node's code, as an
    ordinary error that can be raised into a task without ending it (or the process)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error = NodeError(text, node_id=node.id, node_type=type(node).type)
    error.__cause__ = exc
    return error


async def _as_node_errors(node: Node, rest: Awaitable[Any]) -> Any:
    """Await the rest of an ``on_input`` coroutine; a KeyboardInterrupt or SystemExit
    from it becomes the node's error (a Task would re-raise it into the event loop,
    which would end the process)."""
    try:
        return await rest
    except (KeyboardInterrupt, SystemExit) as exc:
        raise _as_error(node, exc) from exc
