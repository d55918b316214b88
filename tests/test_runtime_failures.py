"""A node that fails to configure or start is reported and the rest of the flow runs
(DESIGN.md "Runtime principles"); ``strictDeploy`` makes deploys all-or-nothing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import pytest

from flowrt.errors import DeployError, FlowValidationError, NodeError
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.registry import Registry
from flowrt.runtime import Runtime
from flowrt.schema import string
from flowrt.testing import FlowHarness, make_registry


class BadConfig(Node):
    """Refuses its configuration in the constructor (as a JavaScript compile error does)."""

    type = "test-bad-config"
    schema: ClassVar = {"type": "object", "properties": {"code": string("")}}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        if config.get("code") != "fine":
            raise ValueError(f"JavaScript: SyntaxError: unexpected token in {config['code']!r} "
                             "(line 1, col 3)")


class BadStart(Node):
    """Fails in start(), after acquiring something close() must release."""

    type = "test-bad-start"
    closed: ClassVar[list[str]] = []

    async def start(self) -> None:
        raise ConnectionRefusedError("broker 10.0.0.9:1883 refused the connection")

    async def close(self, removed: bool) -> None:
        BadStart.closed.append(self.id)


class Forward(Node):
    """Sends what it receives with send_tracked and records how each send ended."""

    type = "test-forward-tracked"
    outcomes: ClassVar[list[Any]] = []

    async def on_input(self, msg: Message) -> None:
        try:
            Forward.outcomes.append(await self.send_tracked(msg))
        except NodeError as exc:
            Forward.outcomes.append(exc)


class SendsFromStart(Node):
    """Sends one message from start() (Node-RED nodes may send from their constructor)."""

    type = "test-sends-from-start"

    async def start(self) -> None:
        self.send({"payload": "early"})


class SlowStart(Node):
    """Ready only once its start() has awaited; records whether it was when a message came."""

    type = "test-slow-start"
    seen: ClassVar[list[tuple[Any, bool]]] = []

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.ready = False

    async def start(self) -> None:
        await asyncio.sleep(0)  # lets the run queue deliver what is already sent
        self.ready = True

    def on_input(self, msg: Message) -> None:
        SlowStart.seen.append((msg["payload"], self.ready))


TYPES = [BadConfig, BadStart, Forward, SendsFromStart, SlowStart]
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
RESILIENT = {"strictDeploy": False}


def node(id_: str, type_: str, wires: list[list[str]] | None = None, **config: Any) -> dict:
    return {"id": id_, "type": type_, "z": "t1", "x": 10, "y": 10, "wires": wires or [],
            **config}


def one_bad_node(bad_type: str) -> list[dict[str, Any]]:
    """a → good and a → bad: the good path must deliver whatever ``bad`` does."""
    return [TAB, node("a", "junction", [["good", "bad"]]), node("good", "junction", [[]]),
            node("bad", bad_type, [["good"]])]


@pytest.fixture(autouse=True)
def _reset() -> None:
    BadStart.closed.clear()
    Forward.outcomes.clear()
    SlowStart.seen.clear()


async def test_a_node_whose_constructor_raises_is_reported_and_the_rest_runs(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "flowrt.runtime"):
        async with FlowHarness(one_bad_node("test-bad-config"), node_types=TYPES,
                               settings=RESILIENT) as h:
            await h.inject("a", payload=1)
            await h.inject("a", payload=2)
            assert h.payloads("good") == [1, 2]
            assert "bad" not in h.runtime.nodes
            [failure] = h.runtime.failed_nodes()
            assert failure == {"id": "bad", "type": "test-bad-config", "flow": "t1",
                               "stage": "configure", "dropped": 2,
                               "error": "ValueError: JavaScript: SyntaxError: unexpected token"
                                        " in '' (line 1, col 3)"}
            status = h.status("bad")
            assert (status["fill"], status["shape"]) == ("red", "ring")
            assert status["text"].startswith("ValueError: JavaScript") and len(status["text"]) <= 40
            assert h.runtime.state == "start"
    [line] = [r.getMessage() for r in caplog.records if "failed to configure" in r.getMessage()]
    assert "bad (test-bad-config) in flow t1" in line and "line 1, col 3" in line


async def test_a_node_whose_start_raises_is_closed_reported_and_the_rest_runs() -> None:
    async with FlowHarness(one_bad_node("test-bad-start"), node_types=TYPES,
                           settings=RESILIENT) as h:
        await h.inject("a", payload="x")
        assert h.payloads("good") == ["x"]
        assert BadStart.closed == ["bad"]
        [failure] = h.runtime.failed_nodes()
        assert (failure["stage"], failure["dropped"]) == ("start", 1)
        assert "ConnectionRefusedError: broker 10.0.0.9:1883 refused" in failure["error"]
        assert h.status("bad")["fill"] == "red"
        assert h.runtime.get_node("bad") is None


async def test_an_acknowledged_send_to_a_failed_node_fails_instead_of_vanishing() -> None:
    flow = [TAB, node("fwd", "test-forward-tracked", [["bad"]]),
            node("bad", "test-bad-config")]
    async with FlowHarness(flow, node_types=TYPES, settings=RESILIENT) as h:
        await h.inject("fwd", payload=1)
        await h.wait_for(lambda: bool(Forward.outcomes))
        [outcome] = Forward.outcomes
        assert isinstance(outcome, NodeError) and "bad (test-bad-config) is not running" in str(
            outcome)


async def test_the_next_deploy_tries_a_failed_node_again_and_clears_its_status() -> None:
    async with FlowHarness(one_bad_node("test-bad-config"), node_types=TYPES,
                           settings=RESILIENT) as h:
        assert h.runtime.failed_nodes()
        fixed = one_bad_node("test-bad-config")
        fixed[3]["code"] = "fine"
        await h.deploy(fixed, "nodes")
        assert h.runtime.failed_nodes() == []
        assert h.status("bad") == {}
        await h.inject("a", payload=5)
        assert h.payloads("good") == [5, 5]  # directly, and through the repaired node
        # Removing the node leaves no stand-in behind.
        await h.deploy(one_bad_node("test-bad-config")[:3], "full")
        assert h.runtime.failed_nodes() == [] and "bad" not in h.runtime.nodes


async def test_strict_deploy_restores_the_previous_flows() -> None:
    good = [TAB, node("a", "junction", [["good"]]), node("good", "junction", [[]])]
    async with FlowHarness(good, node_types=TYPES, settings={"strictDeploy": True}) as h:
        rev = h.runtime.rev
        for bad_type in ("test-bad-config", "test-bad-start"):
            with pytest.raises(DeployError, match=r"bad \(" + bad_type + r"\) failed to start"):
                await h.deploy(one_bad_node(bad_type))
            assert set(h.runtime.nodes) == {"a", "good"}
            assert h.runtime.failed_nodes() == [] and h.runtime.rev == rev
        assert BadStart.closed == ["bad"]
        # The restored flows run, wired as before (the harness's probes went with the
        # failed deploy, so the wiring is checked directly).
        nodes = h.runtime.nodes
        assert nodes["a"].ctx.wires == [[nodes["good"]]] and h.runtime.state == "start"


async def test_boot_starts_a_flow_with_a_bad_node() -> None:
    runtime = Runtime(make_registry(TYPES))
    await runtime.open()
    await runtime.load(one_bad_node("test-bad-start"))
    try:
        assert runtime.state == "start"
        assert set(runtime.nodes) == {"a", "good"}
        assert [f["id"] for f in runtime.failed_nodes()] == ["bad"]
    finally:
        await runtime.stop()
    assert runtime.failed_nodes() == []


async def test_boot_runs_a_flow_whose_node_config_breaks_its_schema() -> None:
    runtime = Runtime(make_registry(TYPES))
    await runtime.open()
    flows = [*one_bad_node("test-bad-config")[:3],
             node("bad", "test-bad-config", [["good"]], code=42)]
    await runtime.load(flows)
    try:
        assert runtime.state == "start" and set(runtime.nodes) == {"a", "good"}
        [failure] = runtime.failed_nodes()
        assert failure["id"] == "bad" and failure["stage"] == "configure"
        assert failure["error"] == "invalid configuration: code: 42 is not of type 'string'"
    finally:
        await runtime.stop()


async def test_a_deploy_runs_a_flow_whose_node_config_breaks_its_schema_unless_strict() -> None:
    flows = [*one_bad_node("test-bad-config")[:3],
             node("bad", "test-bad-config", [["good"]], code=42)]
    good = one_bad_node("test-bad-config")[:3]
    async with FlowHarness(good, node_types=TYPES, settings=RESILIENT) as h:
        await h.deploy(flows)
        [failure] = h.runtime.failed_nodes()
        assert (failure["id"], failure["stage"]) == ("bad", "configure")
        assert failure["error"] == "invalid configuration: code: 42 is not of type 'string'"
        await h.inject("a", payload=3)
        assert h.payloads("good") == [3]
    async with FlowHarness(good, node_types=TYPES, settings={"strictDeploy": True}) as h:
        with pytest.raises(FlowValidationError, match=r"\$\[3\]\.code: 42 is not of type"):
            await h.deploy(flows)
        assert set(h.runtime.nodes) >= {"a", "good"} and h.runtime.failed_nodes() == []


async def test_boot_names_each_missing_type_as_core_or_contrib(
        caplog: pytest.LogCaptureFixture) -> None:
    runtime = Runtime(Registry())
    flows = [TAB, node("h", "http in"), node("c", "node-red-contrib-foo")]
    with caplog.at_level(logging.ERROR, "flowrt.runtime"):
        await runtime.load(flows)
    assert (runtime.state, runtime.state_reason) == ("stop", "missing-types")
    text = caplog.text
    assert "Node-RED core node 'http in' is not loaded (left out by the nodesExcludes" in text
    assert ("unknown node type 'node-red-contrib-foo': a contrib node that is not installed"
            in text)


async def test_a_group_inside_a_subflow_does_not_fail_the_deploy() -> None:
    flow = [TAB,
            {"id": "sf", "type": "subflow", "name": "S", "in": [{"wires": [{"id": "j"}]}],
             "out": [{"wires": [{"id": "j", "port": 0}]}],
             "env": []},
            {"id": "grp", "type": "group", "z": "sf", "nodes": ["j"],
             "env": [{"name": "WHERE", "value": "in the group", "type": "str"}]},
            {"id": "j", "type": "junction", "z": "sf", "g": "grp", "x": 1, "y": 1,
             "wires": [[]]},
            node("inst", "subflow:sf", [["out"]]), node("out", "junction", [[]])]
    async with FlowHarness(flow, node_types=TYPES, settings=RESILIENT) as h:
        assert h.runtime.failed_nodes() == []
        await h.inject("inst", payload=3)
        assert h.payloads("out") == [3]
        inner = h.node("inst-j")
        assert inner.env("WHERE") == "in the group"


async def test_a_config_node_with_z_0_is_global() -> None:
    flow = [TAB, {"id": "cfg", "type": "junction", "z": 0, "wires": [[]]},
            node("a", "junction", [[]])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        assert h.node("cfg").ctx.flow.id == "global"


async def test_validate_constructs_every_node_and_starts_none() -> None:
    flows = [TAB,
             {"id": "sf", "type": "subflow", "name": "S", "in": [{"wires": [{"id": "inner"}]}],
              "out": []},
             {"id": "inner", "type": "test-bad-config", "z": "sf", "x": 1, "y": 1,
              "code": "x(", "wires": []},
             node("i1", "subflow:sf"), node("i2", "subflow:sf"),
             node("s", "test-bad-start"), node("top", "test-bad-config", code="y(")]
    runtime = Runtime(make_registry(TYPES))
    problems = await runtime.validate(flows)
    assert [(p.id, p.path) for p in problems] == [("inner", "$[2]"), ("top", "$[6]")]
    assert "JavaScript: SyntaxError" in problems[0].message and "'x('" in problems[0].message
    assert BadStart.closed == [] and runtime.nodes == {} and runtime.state == "stop"


async def test_boot_survives_an_unexpected_error_while_starting(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    runtime = Runtime(make_registry(TYPES))

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("graph")

    monkeypatch.setattr(runtime, "_apply", broken)
    with caplog.at_level(logging.ERROR, "flowrt.runtime"):
        await runtime.load(one_bad_node("test-bad-config"))
    assert (runtime.state, runtime.state_reason) == ("stop", "start-failed")
    assert "starting the flows failed: KeyError: 'graph'" in caplog.text


async def test_a_message_for_a_node_not_started_yet_waits_for_its_start() -> None:
    # "a" starts first (same rank, ids in order) and sends to "b" at once; "b"'s start
    # awaits before it is ready. Node-RED never shows a node a message before it exists.
    flow = [TAB, node("a", "test-sends-from-start", [["b"]]), node("b", "test-slow-start")]
    async with FlowHarness(flow, node_types=TYPES) as h:
        await h.wait_for(lambda: bool(SlowStart.seen))
        assert SlowStart.seen == [("early", True)]
        assert "receive" not in vars(h.runtime.nodes["b"])  # back to the class's own
