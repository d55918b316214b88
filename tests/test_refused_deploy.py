"""A refused deploy leaves the running flows running: nothing is stopped and started
again for a deploy that never runs (issue 16 saw "Started flows" and MQTT reconnects
after a refused deploy). Unknown types are refused before anything stops; with
``strictDeploy`` a node that cannot be created is too, and a node that fails to start
rolls back only what that deploy stopped."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from flowrt.errors import DeployError, FlowValidationError
from flowrt.node import Node, NodeContext
from flowrt.schema import string
from flowrt.testing import FlowHarness


class Counted(Node):
    """Counts its starts and stops, so a restart shows."""

    type = "test-counted"
    starts: ClassVar[dict[str, int]] = {}
    stops: ClassVar[dict[str, int]] = {}

    async def start(self) -> None:
        Counted.starts[self.id] = Counted.starts.get(self.id, 0) + 1

    async def close(self, removed: bool) -> None:
        Counted.stops[self.id] = Counted.stops.get(self.id, 0) + 1


class Uncreatable(Node):
    """Refuses its configuration in the constructor (a JavaScript syntax error)."""

    type = "test-uncreatable"
    schema: ClassVar = {"type": "object", "properties": {"code": string("")}}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        raise ValueError("JavaScript: unexpected end of input")


class FailsToStart(Node):
    """Fails in start() (a port in use, a broker refusing)."""

    type = "test-fails-to-start"

    async def start(self) -> None:
        raise ConnectionRefusedError("refused")


TYPES = [Counted, Uncreatable, FailsToStart]
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
TAB2 = {"id": "t2", "type": "tab", "label": "Flow 2"}


def node(id_: str, type_: str, z: str = "t1", **config: Any) -> dict[str, Any]:
    return {"id": id_, "type": type_, "z": z, "x": 10, "y": 10, "wires": [], **config}


RUNNING = [TAB, TAB2, node("a", "test-counted"), node("b", "test-counted", z="t2")]


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    Counted.starts.clear()
    Counted.stops.clear()


def restarted(harness: FlowHarness, before: dict[str, Node]) -> set[str]:
    """The ids whose running instance changed, or that were stopped, since ``before``."""
    now = harness.runtime.nodes
    return {i for i in before if now.get(i) is not before[i]} | set(Counted.stops)


@pytest.mark.parametrize("deploy_type", ["full", "flows", "nodes"])
async def test_a_deploy_refused_for_an_unknown_type_restarts_nothing(deploy_type: str) -> None:
    async with FlowHarness(RUNNING, node_types=TYPES, settings={"strictDeploy": False}) as h:
        before = dict(h.runtime.nodes)
        with pytest.raises(FlowValidationError, match="unknown node type"):
            await h.deploy([*RUNNING, node("x", "not-installed")], deploy_type)
        assert restarted(h, before) == set()
        assert Counted.starts == {"a": 1, "b": 1}


@pytest.mark.parametrize("deploy_type", ["full", "nodes"])
async def test_strict_deploy_refuses_an_uncreatable_node_before_stopping_anything(
        deploy_type: str) -> None:
    async with FlowHarness(RUNNING, node_types=TYPES, settings={"strictDeploy": True}) as h:
        before = dict(h.runtime.nodes)
        with pytest.raises(DeployError, match=r"node bad \(test-uncreatable\)"):
            await h.deploy([*RUNNING, node("bad", "test-uncreatable", code="a(")], deploy_type)
        assert restarted(h, before) == set()
        assert Counted.starts == {"a": 1, "b": 1}


async def test_strict_nodes_deploy_that_fails_to_start_rolls_back_only_what_it_changed() -> None:
    async with FlowHarness(RUNNING, node_types=TYPES, settings={"strictDeploy": True}) as h:
        before = dict(h.runtime.nodes)
        changed = [TAB, TAB2, node("a", "test-counted", name="renamed"),
                   node("b", "test-counted", z="t2"), node("bad", "test-fails-to-start")]
        with pytest.raises(DeployError, match=r"node bad \(test-fails-to-start\) failed"):
            await h.deploy(changed, "nodes")
        # "a" was changed by the refused deploy: stopped, then restored; "b" never stopped.
        assert restarted(h, before) == {"a"}
        assert Counted.starts == {"a": 3, "b": 1}  # first run, the refused one, restored
        assert "bad" not in h.runtime.nodes and h.runtime.failed_nodes() == []
        assert h.runtime.nodes["a"].config.get("name") is None  # the previous config
        # The restored flows still deploy normally afterwards.
        await h.deploy([*RUNNING[:2], node("a", "test-counted", name="renamed"), RUNNING[3]],
                       "nodes")
        assert h.runtime.nodes["a"].config["name"] == "renamed"
        assert h.runtime.nodes["b"] is before["b"]
