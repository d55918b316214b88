"""A harness for testing node types and flows in-process (for plugin authors too).

::

    from flowrt.testing import FlowHarness

    async def test_double():
        flow = [{"id": "n1", "type": "double", "z": "t1", "x": 0, "y": 0, "wires": [[]]}]
        async with FlowHarness(flow, node_types=[Double]) as h:
            await h.inject("n1", {"payload": 2})
            assert h.payloads("n1") == [4]

The harness runs a real :class:`~flowrt.runtime.Runtime` (same registry, same
delivery) with a :class:`~flowrt.clock.FakeClock` unless given a real one:
``await h.advance(5)`` moves time five seconds and fires due timers. Every
output port of every node is recorded; ``h.outputs(id, port)`` returns what
left it, ``h.received(id)`` what was sent to a node (a debug node, a sink).
Errors and warnings reported by nodes are kept in ``h.errors`` and ``h.warnings``.

Deploys in the harness are strict unless the settings say otherwise: a node that
fails to configure or start raises :class:`~flowrt.errors.DeployError`, so a test
of a misconfigured node fails loudly. Pass ``settings={"strictDeploy": False}``
(the runtime's default) to test how the rest of a flow runs past a failed node.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from flowrt.clock import Clock, FakeClock
from flowrt.messages import Message, new_msgid
from flowrt.node import Node
from flowrt.registry import Registry, discover
from flowrt.runtime import Runtime
from flowrt.settings import Settings


@lru_cache(maxsize=1)
def _installed() -> Registry:
    return discover()


def make_registry(node_types: Iterable[type[Node]] = ()) -> Registry:
    """The installed node types plus ``node_types`` (registered as origin "test")."""
    base = _installed()
    registry = Registry()
    registry.types = dict(base.types)
    registry.errors = list(base.errors)
    for cls in node_types:
        registry.types.pop(cls.type, None)
        registry.register(cls, "test", cls.__module__)
    return registry


class _Probe(Node):
    """Records what one output port of a node sends."""

    type = "flowrt-test-probe"
    outputs = 0

    def __init__(self, owner: Node, port: int, runtime: Runtime, records: list[Message],
                 sent: list[tuple[str, int, Message]]) -> None:
        probe_id = f"{owner.id}:probe"
        super().__init__({"id": probe_id, "type": self.type},
                         runtime.new_context(probe_id, owner.ctx.flow.id))
        self.records = records
        self.source = (owner.id, port)
        self.order = sent

    def on_input(self, msg: Message) -> None:
        self.records.append(msg)
        self.order.append((*self.source, msg))


class FlowHarness:
    """Run a flow document in-process; see the module docstring."""

    def __init__(self, flows: list[dict[str, Any]], *, node_types: Iterable[type[Node]] = (),
                 clock: Clock | None = None,
                 settings: Settings | Mapping[str, Any] | None = None,
                 data_dir: Path | None = None,
                 credentials: dict[str, dict[str, Any]] | None = None) -> None:
        self.flows = copy.deepcopy(flows)
        self.clock = clock if clock is not None else FakeClock()
        self.registry = make_registry(node_types)
        if not isinstance(settings, Settings):
            settings = Settings.from_keys({"strictDeploy": True, **(settings or {})},
                                          "FlowHarness settings")
        self.runtime = Runtime(self.registry, clock=self.clock, data_dir=data_dir,
                               settings=settings)
        self.credentials = credentials
        self.records: dict[tuple[str, int], list[Message]] = {}
        self.sent: list[tuple[str, int, Message]] = []
        """Every recorded ``(node id, port, message)``, across all nodes, in sending order."""
        self.events: list[tuple[str, Any]] = []
        self.runtime.events.subscribe(lambda topic, data: self.events.append((topic, data)))

    async def __aenter__(self) -> FlowHarness:
        await self.runtime.open()
        await self.deploy(self.flows, credentials=self.credentials)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.settle()
        await self.runtime.stop()

    async def deploy(self, flows: list[dict[str, Any]], deploy_type: str = "full",
                     credentials: dict[str, dict[str, Any]] | None = None) -> str:
        """Deploy a (new) document, keeping the recordings of nodes that stay."""
        rev = await self.runtime.deploy(copy.deepcopy(flows), deploy_type, credentials)
        self.flows = flows
        for node in list(self.runtime.nodes.values()):
            # Every output port gets a probe, after the runtime's own wiring.
            wires = node.ctx.wires
            while len(wires) < node.output_count:
                wires.append([])
            for port, targets in enumerate(wires):
                records = self.records.setdefault((node.id, port), [])
                targets[:] = [t for t in targets if not isinstance(t, _Probe)]
                targets.append(_Probe(node, port, self.runtime, records, self.sent))
        await self.settle()
        return rev

    def node(self, node_id: str) -> Node:
        """A running node; KeyError naming the id when there is none."""
        node = self.runtime.get_node(node_id)
        if node is None:
            raise KeyError(f"no running node {node_id!r}")
        return node

    def send(self, node_id: str, msg: Message) -> None:
        """Deliver ``msg`` to a node's input (without waiting)."""
        msg.setdefault("_msgid", new_msgid())
        self.runtime.dispatcher.push(self.node(node_id), msg, None)

    async def inject(self, node_id: str, msg: Message | None = None, **fields: Any) -> None:
        """Deliver a message (or ``payload=...`` fields) to a node and let the flow settle."""
        self.send(node_id, dict(msg or {}, **fields))
        await self.settle()

    async def settle(self, rounds: int = 3) -> None:
        """Run the event loop until no delivery is queued (bounded)."""
        for _ in range(10_000):
            for _ in range(rounds):
                await asyncio.sleep(0)
            if len(self.runtime.dispatcher) == 0:
                return
        raise AssertionError("flow did not settle: deliveries keep being queued")

    async def advance(self, seconds: float) -> None:
        """Move the fake clock forward, firing due timers, then settle."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs the FakeClock")
        await self.clock.advance(seconds)
        await self.settle()

    def outputs(self, node_id: str, port: int = 0) -> list[Message]:
        """Every message that left ``node_id`` on ``port`` (0-based) so far."""
        return self.records.get((node_id, port), [])

    def received(self, node_id: str) -> list[Message]:
        """Every message wired to ``node_id``'s input so far, in the order sent."""
        wired = {(node.id, port) for node in self.runtime.nodes.values()
                 for port, targets in enumerate(node.ctx.wires)
                 if any(getattr(t, "id", None) == node_id for t in targets)}
        return [msg for source, port, msg in self.sent if (source, port) in wired]

    def payloads(self, node_id: str, port: int = 0) -> list[Any]:
        """The ``payload`` of every message that left ``node_id`` on ``port``."""
        return [m.get("payload") for m in self.outputs(node_id, port)]

    def clear(self) -> None:
        """Forget recorded outputs and events."""
        for records in self.records.values():
            records.clear()
        self.sent.clear()
        self.events.clear()

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Errors nodes reported (debug-sidebar log entries at error level)."""
        return [d for t, d in self.events if t == "debug" and d.get("level") == 20]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """Warnings nodes reported."""
        return [d for t, d in self.events if t == "debug" and d.get("level") == 30]

    def status(self, node_id: str) -> dict[str, Any]:
        """The node's current status (``{}`` when none)."""
        return self.runtime.events.retained.get(f"status/{node_id}", {})

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait in real time until ``predicate()`` is true (for real sockets, brokers)."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {within} s")
            await asyncio.sleep(0.01)
