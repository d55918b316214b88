"""flowrt.jsonata: Node-RED's way of preparing and evaluating JSONata (bindings, legacy
``msg.`` mode, result handling, errors), and the ``$moment`` subset (flowrt.moment)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from flowrt.errors import DeployError
from flowrt.jsonata import JSONataError, JSONataExpression, uses_legacy_msg
from flowrt.jsvalue import MISSING
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.testing import FlowHarness

START_MS = 1_767_225_600_000  # the FakeClock's 2026-01-01T00:00:00Z
TAB = {"id": "t1", "type": "tab", "label": "Flow 1",
       "env": [{"name": "SITE", "value": "plant-1", "type": "str"}]}


class Evaluate(Node):
    """Sends the value of its JSONata expression ``expr`` for each message as
    ``msg.payload`` (``"UNDEFINED"`` when the expression is undefined)."""

    type = "jsonata-probe"
    schema: ClassVar = {"type": "object", "properties": {}}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.expr = JSONataExpression(config["expr"], self, "expr")

    def on_input(self, msg: Message) -> None:
        result = self.expr.evaluate(msg, MISSING, msg.pop("bindings", None))
        self.send({"payload": "UNDEFINED" if result is MISSING else result})


def probe(expr: str) -> list[dict[str, Any]]:
    return [TAB, {"id": "p", "type": "jsonata-probe", "z": "t1", "x": 0, "y": 0,
                  "wires": [[]], "expr": expr},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def value_of(expr: str, msg: Message | None = None) -> Any:
    async with FlowHarness(probe(expr), node_types=[Evaluate]) as h:
        await h.inject("p", msg or {})
        assert h.errors == [], h.errors
        (payload,) = h.payloads("p")
        return payload


# ------------------------------------------------------------ §6 behaviours
@pytest.mark.parametrize(("expr", "msg", "expected"), [
    ("[7].($*2)", {}, 14),                                # one-element results unwrapped
    ("payload.readings.value", {"payload": {"readings": [{"value": 3}]}}, 3),
    ("payload.readings.value", {"payload": {"readings": [{"value": 3}, {"value": 4}]}},
     [3, 4]),
    ("{'a': nothing, 'b': 1}", {}, {"b": 1}),             # an undefined key is dropped
    ("{'a': null}", {}, {"a": None}),                     # null is kept
    ("$round(2.5)", {}, 2),                               # half to even
    ("$round(3.5)", {}, 4),
    ("$round(0.125, 2)", {}, 0.12),
    ("$env('NOT_SET_ANYWHERE_42')", {}, ""),              # unknown env var → ""
    ("$env('SITE')", {}, "plant-1"),                      # the tab's env
    ("payload.temperature * 9 / 5 + 32", {"payload": {"temperature": 21.5}}, 70.7),
    ("payload = null", {"payload": None}, True),          # JSON null is null, not undefined
    ("nothing", {}, "UNDEFINED"),
])
async def test_node_red_results(expr: str, msg: Message, expected: Any) -> None:
    result = await value_of(expr, msg)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("expr", "legacy"), [
    ("msg.payload", True), ("$count(msg.payload)", True), ("msg", True),
    ("payload", False), ("$string(msgs)", False), ("'msg.payload'", False),
    ("payload.msg", False), ("mymsg.payload", False),
])
def test_legacy_mode_is_chosen_as_node_red_does(expr: str, legacy: bool) -> None:
    assert uses_legacy_msg(expr) is legacy


async def test_legacy_mode_evaluates_against_msg_wrapper() -> None:
    msg = {"payload": 5, "topic": "t"}
    assert await value_of("msg.payload * 2", msg) == 10
    assert await value_of("msg.topic & '/' & $string(msg.payload)", dict(msg)) == "t/5"
    # Without `msg` the message itself is the input: `msg.payload` would be undefined there.
    assert await value_of("payload * 2", dict(msg)) == 10


# ---------------------------------------------------------------- bindings
async def test_flow_and_global_context_with_stores(tmp_path) -> None:
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "file": {"module": "sqlite"}}}
    expr = ("[$flowContext('a'), $flowContext('a', 'file'), $globalContext('g'),"
            " $globalContext('g', 'file'), $flowContext('deep.x'), $flowContext('none')]")
    async with FlowHarness(probe(expr), node_types=[Evaluate], settings=settings,
                           data_dir=tmp_path) as h:
        node = h.node("p")
        node.ctx.flow_context.set("a", 1)
        node.ctx.flow_context.set("a", 2, "file")
        node.ctx.flow_context.set("deep", {"x": 5})
        node.ctx.global_context.set("g", "G")
        node.ctx.global_context.set("g", "G2", "file")
        await h.inject("p", {})
        assert h.payloads("p") == [[1, 2, "G", "G2", 5]]  # the missing key is left out
        node.ctx.flow_context.set("a", 10)  # read at evaluation time, not at compile time
        await h.inject("p", {})
        assert h.payloads("p")[1][0] == 10


async def test_millis_and_now_follow_the_runtime_clock() -> None:
    expr = "[$millis(), $now(), $millis() = $millis(), $now('[Y0001]-[M01]')]"
    async with FlowHarness(probe(expr), node_types=[Evaluate]) as h:
        await h.inject("p", {})
        await h.advance(61.5)
        await h.inject("p", {})
        first, second = h.payloads("p")
        assert first == [START_MS, "2026-01-01T00:00:00.000Z", True, "2026-01"]
        assert second[:2] == [START_MS + 61_500, "2026-01-01T00:01:01.500Z"]


async def test_clone_gives_an_independent_copy() -> None:
    msg = {"payload": {"a": [1, 2]}}
    async with FlowHarness(probe("$clone(payload)"), node_types=[Evaluate]) as h:
        await h.inject("p", msg)
        (copy,) = h.payloads("p")
        assert copy == {"a": [1, 2]}
        copy["a"].append(3)
        assert msg["payload"] == {"a": [1, 2]}


async def test_evaluation_bindings_apply_to_one_evaluation_only() -> None:
    async with FlowHarness(probe("$A + payload"), node_types=[Evaluate]) as h:
        await h.inject("p", {"payload": 2, "bindings": {"A": 40}})
        await h.inject("p", {"payload": 2})
        # The second time $A is unbound: undefined + 2 is undefined in JSONata.
        assert h.payloads("p") == [42, "UNDEFINED"]


# ------------------------------------------------------------------ errors
async def test_a_syntax_error_is_raised_by_the_constructor_naming_node_and_expression():
    with pytest.raises(DeployError) as info:
        async with FlowHarness(probe("payload.temperature *"), node_types=[Evaluate]):
            pass
    assert info.value.node_id == "p"
    assert ("JSONata error in expr of jsonata-probe node p: Unexpected end of expression "
            "(at character 21) in 'payload.temperature *'") in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, JSONataError) and isinstance(cause, ValueError)
    assert cause.expression == "payload.temperature *" and cause.code == "S0207"


async def test_an_empty_expression_is_a_configuration_error() -> None:
    with pytest.raises(DeployError, match="JSONata error in expr of jsonata-probe node p: "
                                          "the expression is empty"):
        async with FlowHarness(probe("  "), node_types=[Evaluate]):
            pass


@pytest.mark.parametrize(("expr", "reason"), [
    ("$nosuchfunction(payload)", "Attempted to invoke a non-function"),
    ("1 / 0", "Number out of range: division by zero"),
    ("$error('boom')", "boom"),
])
async def test_evaluation_errors_are_the_messages_error(expr: str, reason: str) -> None:
    async with FlowHarness(probe(expr), node_types=[Evaluate]) as h:
        await h.inject("p", {"payload": 1})
        assert h.payloads("p") == []
        (caught,) = h.outputs("c")
        assert caught["error"]["message"] == (
            f"JSONata error in expr of jsonata-probe node p: {reason} in {expr!r}")
        assert caught["error"]["source"]["id"] == "p"


# ------------------------------------------------------------------ $moment
@pytest.mark.parametrize(("expr", "expected"), [
    ("$moment().utc().format('YYYY-MM-DD HH:mm:ss')", "2026-01-01 00:00:00"),
    ("$moment().valueOf()", START_MS),
    ("$moment()", "2026-01-01T00:00:00.000Z"),  # a moment in a message is its ISO text
    ("$moment().tz('Pacific/Auckland').format('YYYY-MM-DD HH:mm Z')",
     "2026-01-01 13:00 +13:00"),
    ("$moment().add(2, 'hours').utc().format('HH:mm')", "02:00"),
    ("$moment().subtract(1, 'months').utc().format('YYYY-MM-DD')", "2025-12-01"),
    ("$moment().add({'days': 1, 'minutes': 30}).toISOString()", "2026-01-02T00:30:00.000Z"),
    ("$moment('2026-03-31T10:20:30Z').add(1, 'M').toISOString()", "2026-04-30T10:20:30.000Z"),
    ("$moment('2026-05-14T10:20:30Z').utc().startOf('month').toISOString()",
     "2026-05-01T00:00:00.000Z"),
    ("$moment('2026-05-14T10:20:30Z').utc().endOf('day').toISOString()",
     "2026-05-14T23:59:59.999Z"),
    ("$moment('24/12/2025 18:30', 'DD/MM/YYYY HH:mm').tz('UTC').format('YYYY-MM-DDTHH:mm')",
     "2025-12-24T18:30"),
    ("$moment(0).utc().format('dddd, MMMM Do YYYY, h:mm a')",
     "Thursday, January 1st 1970, 12:00 am"),
    ("$moment('2026-01-02T00:00:00Z').diff($moment('2026-01-01T00:00:00Z'), 'hours')", 24),
    ("$moment('2026-01-02T00:00:00Z').isAfter('2026-01-01T00:00:00Z')", True),
    ("$moment('2026-01-02T10:00:00Z').utc().isSame('2026-01-02T23:00:00Z', 'day')", True),
    ("$moment('2026-01-02T10:00:00Z').utc().hour()", 10),
    ("$moment('2026-01-02T10:00:00Z').utc().hour(5).toISOString()",
     "2026-01-02T05:00:00.000Z"),
    ("$moment('not a date').format()", "Invalid date"),
    ("$moment('not a date').isValid()", False),
    ("$moment(1767225600).unix()", 1767225),
])
async def test_moment_subset(expr: str, expected: Any) -> None:
    assert await value_of(expr) == expected


async def test_moment_unknown_zone_is_the_messages_error() -> None:
    async with FlowHarness(probe("$moment().tz('Mars/Olympus')"), node_types=[Evaluate]) as h:
        await h.inject("p", {})
        (caught,) = h.outputs("c")
        assert "unknown time zone 'Mars/Olympus'" in caught["error"]["message"]


async def test_an_undefined_function_raises_without_printing(capsys) -> None:
    expr = "($double := function($v){$v*2}; $double(payload) + $triple(payload))"
    async with FlowHarness(probe(expr), node_types=[Evaluate]) as h:
        await h.inject("p", {"payload": 1})
        (caught,) = h.outputs("c")
        assert "Attempted to invoke a non-function" in caught["error"]["message"]
    assert capsys.readouterr().out == ""  # the library prints "Proc not found" otherwise
    # A function the expression defines itself is still found.
    assert await value_of("($triple := function($v){$v*3}; $triple(payload))",
                          {"payload": 2}) == 6
