"""Engine semantics: delivery order, cloning on fan-out, catch/status/complete scoping,
completion tracking, subflows, link wiring, partial deploys."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from flowrt.errors import DeployError, FlowValidationError, NodeError
from flowrt.node import Node
from flowrt.schema import number
from flowrt.testing import FlowHarness


class Add(Node):
    """Adds `amount` to msg.payload."""

    type = "test-add"
    schema: ClassVar = {"type": "object", "properties": {"amount": number(1)}}

    def on_input(self, msg):
        msg["payload"] = msg["payload"] + float(self.config["amount"])
        self.send(msg)


class Mutate(Node):
    """Appends to msg.payload (a list) in place, to show clones are independent."""

    type = "test-mutate"

    def on_input(self, msg):
        msg["payload"].append(self.id)
        self.send(msg)


class Fail(Node):
    """Raises on every message, after suspending once."""

    type = "test-fail"

    async def on_input(self, msg):
        await asyncio.sleep(0)
        raise ValueError("kaboom")


class Slow(Node):
    """Completes a message only when the test resolves its future (like mqtt out on PUBACK)."""

    type = "test-slow"
    outputs = 0
    pending: ClassVar[list] = []

    def on_input(self, msg):
        future = asyncio.get_running_loop().create_future()
        Slow.pending.append(future)
        return future


class Starts(Node):
    """Counts starts and closes so tests can see what a deploy restarted."""

    type = "test-starts"
    log_: ClassVar[list] = []

    async def start(self):
        Starts.log_.append(("start", self.id))
        if self.config.get("failStart"):
            raise RuntimeError("cannot start")

    async def close(self, removed):
        Starts.log_.append(("close", self.id))


TYPES = [Add, Mutate, Fail, Slow, Starts]


def node(id_, type_, wires=(), **config):
    return {"id": id_, "type": type_, "z": "t1", "x": 10, "y": 10,
            "wires": [list(w) for w in wires], **config}


TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


async def test_messages_are_delivered_in_order_per_wire():
    flow = [TAB, node("a", "test-add", [["b"]]), node("b", "test-add", [[]])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        for i in range(100):
            h.send("a", {"payload": i})
        await h.settle()
        assert h.payloads("b") == [i + 2.0 for i in range(100)]


async def test_fan_out_clones_every_wire_after_the_first():
    flow = [TAB, node("src", "junction", [["m1", "m2"]]),
            node("m1", "test-mutate", [[]]), node("m2", "test-mutate", [[]])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        original = {"payload": []}
        await h.inject("src", original)
        assert h.payloads("m1") == [["m1"]]
        assert h.payloads("m2") == [["m2"]]
        assert h.outputs("m1")[0]["_msgid"] == h.outputs("m2")[0]["_msgid"]


async def test_errors_reach_catch_nodes_in_scope_only():
    flow = [TAB, node("f", "test-fail"), node("g", "test-fail"),
            node("all", "catch", [[]], scope=None),
            node("only_g", "catch", [[]], scope=["g"]),
            {"id": "t2", "type": "tab", "label": "other"},
            {**node("elsewhere", "catch", [[]]), "z": "t2"}]
    async with FlowHarness(flow, node_types=TYPES) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: len(h.outputs("all")) == 1)
        caught = h.outputs("all")[0]
        assert caught["error"]["message"] == "ValueError: kaboom"
        assert caught["error"]["source"] == {"id": "f", "type": "test-fail", "name": "",
                                             "count": 1}
        assert h.outputs("only_g") == []
        await h.inject("g", payload=1)
        await h.wait_for(lambda: len(h.outputs("only_g")) == 1)
        assert h.outputs("elsewhere") == []


async def test_uncaught_catch_only_gets_unhandled_errors():
    flow = [TAB, node("f", "test-fail"), node("g", "test-fail"),
            node("c1", "catch", [[]], scope=["f"]),
            node("fallback", "catch", [[]], scope=None, uncaught=True)]
    async with FlowHarness(flow, node_types=TYPES) as h:
        await h.inject("f", payload=1)
        await h.inject("g", payload=1)
        await h.wait_for(lambda: len(h.outputs("c1")) + len(h.outputs("fallback")) == 2)
        assert [m["error"]["source"]["id"] for m in h.outputs("fallback")] == ["g"]


async def test_status_and_complete_nodes():
    flow = [TAB, node("a", "test-add", [["sink"]]), node("sink", "test-slow"),
            node("st", "status", [[]], scope=["a"]),
            node("done", "complete", [[]], scope=["sink"])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        h.node("a").status(fill="green", shape="dot", text="ok")
        await h.settle()
        assert h.outputs("st")[0]["status"]["text"] == "ok"
        assert h.status("a") == {"fill": "green", "shape": "dot", "text": "ok"}
        Slow.pending.clear()
        await h.inject("a", payload=1)
        assert h.outputs("done") == []
        Slow.pending[0].set_result(None)
        await h.settle()
        assert h.outputs("done")[0]["complete"]["source"]["id"] == "sink"


async def test_send_tracked_waits_for_the_sink_and_reports_its_error():
    flow = [TAB, node("src", "junction", [["a"]]), node("a", "test-add", [["sink"]]),
            node("sink", "test-slow")]
    async with FlowHarness(flow, node_types=TYPES) as h:
        Slow.pending.clear()
        done = h.node("src").send_tracked({"payload": 1})
        await h.settle()
        assert not done.done()
        Slow.pending[0].set_result(None)
        assert await asyncio.wait_for(done, 1) >= 2  # a and sink (plus harness probes)
        failed = h.node("src").send_tracked({"payload": 1})
        await h.settle()
        Slow.pending[1].set_exception(OSError("broker gone"))
        with pytest.raises(OSError, match="broker gone"):
            await asyncio.wait_for(failed, 1)


async def test_unknown_type_and_bad_config_are_rejected_with_locations():
    flow = [TAB, node("a", "test-add", [[]], amount="lots"), node("b", "no-such-type")]
    async with FlowHarness([TAB], node_types=TYPES) as h:
        with pytest.raises(FlowValidationError) as info:
            await h.deploy(flow)
        problems = {(p.id, p.path) for p in info.value.problems}
        assert ("a", "$[1].amount") in problems
        assert ("b", "$[2].type") in problems
        assert "unknown node type 'no-such-type'" in str(info.value)


async def test_disabled_nodes_and_tabs_do_not_run():
    flow = [TAB, node("a", "test-add", [["b"]]), node("b", "test-add", [[]], d=True),
            {"id": "t2", "type": "tab", "label": "off", "disabled": True},
            {**node("c", "test-add"), "z": "t2"}]
    async with FlowHarness(flow, node_types=TYPES) as h:
        assert set(h.runtime.nodes) == {"a"}
        await h.inject("a", payload=1)
        assert h.payloads("a") == [2.0]


async def test_link_out_delivers_to_link_in_across_tabs():
    flow = [TAB, {"id": "t2", "type": "tab", "label": "two"},
            node("out", "link out", links=["in"], mode="link"),
            {**node("in", "link in", [["a"]], links=["out"]), "z": "t2"},
            {**node("a", "test-add", [[]]), "z": "t2"}]
    async with FlowHarness(flow, node_types=TYPES) as h:
        await h.inject("out", payload=1)
        assert h.payloads("a") == [2.0]


SUBFLOW = [
    {"id": "sf1", "type": "subflow", "name": "add twice", "in": [{"wires": [{"id": "s1"}]}],
     "out": [{"wires": [{"id": "s2", "port": 0}]}],
     "env": [{"name": "STEP", "type": "num", "value": "2"}]},
    {"id": "s1", "type": "test-add", "z": "sf1", "x": 1, "y": 1, "amount": "${STEP}",
     "wires": [["s2"]]},
    {"id": "s2", "type": "test-add", "z": "sf1", "x": 1, "y": 1, "amount": "${STEP}",
     "wires": [[]]},
]


async def test_subflow_instances_expand_with_env_overrides():
    flow = [TAB, *SUBFLOW,
            node("i1", "subflow:sf1", [["end"]]),
            node("i2", "subflow:sf1", [["end"]], env=[{"name": "STEP", "type": "num",
                                                      "value": "10"}]),
            node("end", "junction", [[]])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        assert {"i1-s1", "i1-s2", "i2-s1", "i2-s2"} <= set(h.runtime.nodes)
        await h.inject("i1", payload=0)
        await h.inject("i2", payload=0)
        assert h.payloads("end") == [4.0, 20.0]


async def test_modified_nodes_deploy_restarts_only_changed_nodes():
    flow = [TAB, node("a", "test-starts", [["b"]]), node("b", "test-starts", [["c"]]),
            node("c", "test-starts", [[]]), node("x", "test-starts", [[]])]
    async with FlowHarness(flow, node_types=TYPES) as h:
        Starts.log_.clear()
        changed = [dict(n) for n in flow]
        changed[2]["name"] = "renamed"
        await h.deploy(changed, "nodes")
        assert Starts.log_ == [("close", "b"), ("start", "b")]
        Starts.log_.clear()
        changed[3]["name"] = "again"
        await h.deploy(changed, "flows")
        assert sorted(Starts.log_) == sorted([(e, n) for n in "abc" for e in ("close", "start")])


async def test_failed_start_rolls_back_to_previous_flows_with_strict_deploy():
    flow = [TAB, node("a", "test-starts", [[]])]
    async with FlowHarness(flow, node_types=TYPES, settings={"strictDeploy": True}) as h:
        broken = [TAB, node("a", "test-starts", [[]]), node("b", "test-starts", failStart=True)]
        with pytest.raises(DeployError, match=r"b \(test-starts\) failed to start"):
            await h.deploy(broken, "full")
        assert set(h.runtime.nodes) == {"a"}
        assert h.runtime.state == "start"


class Sleeper(Node):
    """Awaits real futures twice before passing the message on."""

    type = "test-sleeper"

    async def on_input(self, msg):
        await asyncio.sleep(0.001)
        await asyncio.sleep(0.001)
        self.send(msg)


async def test_async_handler_that_suspends_on_real_futures_completes():
    from flowrt.clock import Clock

    flow = [TAB, node("s", "test-sleeper", [[]]), node("done", "complete", [[]], scope=["s"])]
    async with FlowHarness(flow, node_types=[Sleeper], clock=Clock()) as h:
        await h.inject("s", payload=1)
        await h.wait_for(lambda: len(h.outputs("done")) == 1, within=2)
        assert h.payloads("s") == [1]
        assert h.errors == []


async def test_sources_start_after_the_nodes_they_feed():
    Starts.log_.clear()

    class Source(Starts):
        """A source: no input."""

        type = "test-source"
        inputs = 0

    flow = [TAB, node("a-src", "test-source", [["z-sink"]]), node("z-sink", "test-starts")]
    async with FlowHarness(flow, node_types=[*TYPES, Source]):
        assert [e for e in Starts.log_ if e[0] == "start"] == [("start", "z-sink"),
                                                               ("start", "a-src")]


async def test_a_node_with_too_much_in_flight_pauses_sources_until_it_catches_up():
    class Committing(Node):
        """Completes each message when the test resolves its future (like a commit)."""

        type = "test-committing"
        outputs = 0
        max_inflight = 4
        pending: ClassVar[list] = []

        def on_input(self, msg):
            future = asyncio.get_running_loop().create_future()
            Committing.pending.append(future)
            return future

    flow = [TAB, node("c", "test-committing")]
    async with FlowHarness(flow, node_types=[Committing]) as h:
        dispatcher = h.runtime.dispatcher
        resumed = []
        for i in range(4):
            await h.inject("c", payload=i)
        assert dispatcher.saturated  # 4 in flight: sources must pause
        dispatcher.when_drained(lambda: resumed.append(True))
        for future in Committing.pending[:1]:
            future.set_result(None)
        await h.settle()
        assert dispatcher.saturated and resumed == []  # 3 left: still above half
        for future in Committing.pending[1:3]:
            future.set_result(None)
        await h.settle()
        assert not dispatcher.saturated and resumed == [True]


# ------------------------------------------------- failures stay with their message
class Raises(Node):
    """Raises the exception named by msg.raise (before or after suspending)."""

    type = "test-raises"
    RAISES: ClassVar = {"SystemExit": SystemExit(3), "KeyboardInterrupt": KeyboardInterrupt(),
                        "CancelledError": asyncio.CancelledError(), "ValueError": ValueError("x")}

    def on_input(self, msg):
        if msg.get("suspend"):
            return self._later(msg)
        raise self.RAISES[msg["raise"]]

    async def _later(self, msg):
        await asyncio.sleep(0)
        raise self.RAISES[msg["raise"]]


@pytest.mark.parametrize("suspend", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "CancelledError"])
async def test_a_process_exit_raised_by_a_node_is_that_messages_error(name, suspend):
    flow = [TAB, node("r", "test-raises"), node("a", "test-add", [[]]),
            node("c", "catch", [[]], scope=["r"])]
    async with FlowHarness(flow, node_types=[*TYPES, Raises]) as h:
        h.send("r", {"payload": 1, "raise": name, "suspend": suspend})
        h.send("a", {"payload": 1})  # queued behind it: must still be delivered
        await h.settle()
        await h.wait_for(lambda: len(h.outputs("c")) == 1, within=2)
        assert h.payloads("a") == [2.0]
        error = h.outputs("c")[0]["error"]
        assert error["message"].startswith(name) and error["source"]["id"] == "r"
        assert h.node("r").errors == 1


async def test_a_tracked_message_whose_node_exits_fails_its_sender():
    flow = [TAB, node("src", "junction", [["r"]]), node("r", "test-raises")]
    async with FlowHarness(flow, node_types=[Raises]) as h:
        done = h.node("src").send_tracked({"payload": 1, "raise": "SystemExit",
                                           "suspend": True})
        with pytest.raises(NodeError, match=r"^SystemExit: 3$"):
            await asyncio.wait_for(done, 2)


class ReturnsJunk(Node):
    """Returns something that is neither None nor awaitable."""

    type = "test-junk"

    def on_input(self, msg):
        return 42


async def test_a_handler_returning_a_non_awaitable_is_a_named_error():
    flow = [TAB, node("j", "test-junk"), node("c", "catch", [[]])]
    async with FlowHarness(flow, node_types=[ReturnsJunk]) as h:
        await h.inject("j", payload=1)
        assert h.outputs("c")[0]["error"]["message"] == \
            "on_input returned int, not None or an awaitable"


class BadReporter(Fail):
    """Fails, and its error reporting fails too (a plugin overriding error() badly)."""

    type = "test-bad-reporter"

    def error(self, err, msg=None):
        raise RuntimeError("reporting broke")


async def test_a_failure_escaping_a_node_does_not_stop_the_run_queue(caplog):
    flow = [TAB, node("bad", "test-bad-reporter"), node("a", "test-add", [[]])]
    async with FlowHarness(flow, node_types=[*TYPES, BadReporter]) as h:
        h.node("bad").on_input = lambda msg: 1 / 0  # fail synchronously, inside the drain
        h.send("bad", {"payload": 1})
        h.send("a", {"payload": 1})
        await h.settle()
        assert h.payloads("a") == [2.0]
        assert "to node bad (test-bad-reporter) failed: RuntimeError: reporting broke" \
            in caplog.text
        assert h.node("bad").errors == 1


# ------------------------------------------------------------ run queue overflow
class Burst(Node):
    """Sends msg.count messages from one input (like a function node in a loop)."""

    type = "test-burst"

    def on_input(self, msg):
        for i in range(msg["count"]):
            self.send({"payload": i})


async def test_sends_beyond_the_run_queue_are_reported_on_the_sender(caplog):
    from flowrt.dispatch import REPORT_INTERVAL

    flow = [TAB, node("b", "test-burst", [[]])]
    async with FlowHarness(flow, node_types=[Burst],
                           settings={"maxPendingMessages": 10}) as h:
        await h.inject("b", count=1000)
        assert len(h.outputs("b")) == 10  # what fitted
        assert h.runtime.dispatcher.dropped == 990
        await h.advance(0)  # the report comes at the end of the loop pass: one, with the total
        assert [w["msg"] for w in h.warnings] == [
            "990 messages dropped: the run queue is full (maxPendingMessages = 10)"]
        assert h.status("b") == {"fill": "red", "shape": "ring",
                                 "text": "run queue full: 990 dropped"}
        await h.wait_for(lambda: "Run queue full" in caplog.text, within=2)
        assert "Run queue full (maxPendingMessages = 10): 990 messages dropped" in caplog.text

        await h.inject("b", count=15)  # again within the interval: held back, counted
        await h.advance(REPORT_INTERVAL / 2)
        assert len(h.warnings) == 1
        await h.advance(REPORT_INTERVAL / 2)
        assert h.warnings[-1]["msg"].startswith("5 messages dropped")
        assert h.status("b")["text"] == "run queue full: 995 dropped"


class OldStyle(Node):
    """A plugin written for flowrt 0.1: ``(config, flow)``, passed on unchanged."""

    type = "test-old-style"

    def __init__(self, config, flow):
        super().__init__(config, flow)
        self.limit = flow.settings.max_pending_messages

    def on_input(self, msg):
        msg["payload"] = self.limit
        self.send(msg)


async def test_a_plugin_written_as_config_flow_still_runs_and_gets_the_context():
    async with FlowHarness([TAB, node("o", "test-old-style", [[]])], node_types=[OldStyle],
                           settings={"maxPendingMessages": 77}) as h:
        await h.inject("o", payload=0)
        assert h.payloads("o") == [77]
        old = h.node("o")
        with pytest.raises(AttributeError, match=r"has no 'runtime' since flowrt 0\.2.*self\.ctx"):
            old.runtime  # noqa: B018
        with pytest.raises(AttributeError, match=r"has no 'flow' since flowrt 0\.2"):
            old.flow  # noqa: B018
        with pytest.raises(AttributeError, match="NodeContext has no 'runtime'"):
            old.ctx.runtime  # noqa: B018
        with pytest.raises(TypeError, match=r"created by the runtime with \(config, ctx"):
            OldStyle({"id": "x", "type": OldStyle.type}, object())


async def test_the_context_gives_a_node_its_services():
    async with FlowHarness([TAB, node("a", "test-add", [["b"]]), node("b", "test-add", [[]])],
                           node_types=[Add]) as h:
        ctx = h.node("a").ctx
        assert ctx.get_node("b") is h.node("b")
        assert ctx.clock is h.clock
        ctx.flow_context.set("k", 1)
        assert h.node("b").ctx.flow_context.get("k") == 1
        assert h.node("a").context.get("k") is None
        assert {n.id for n in ctx.running_nodes()} >= {"a", "b"}


class Waits(Node):
    """Suspends on a future that never resolves until the node is closed."""

    type = "test-waits"
    cancelled: ClassVar[list] = []

    async def on_input(self, msg):
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            Waits.cancelled.append(msg["payload"])
            raise


async def test_a_suspended_async_handler_is_cancelled_when_its_node_closes():
    Waits.cancelled.clear()
    async with FlowHarness([TAB, node("w", "test-waits", [[]])], node_types=[Waits]) as h:
        await h.inject("w", payload=1)
        assert Waits.cancelled == []
    assert Waits.cancelled == [1]
