"""trigger: op1 then op2 after a delay, blocking, extending, repeating, resetting,
per-topic streams, typed values and mustache templates, on the fake clock."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def trigger(**config):
    return [TAB, {"id": "tr", "type": "trigger", "z": "t1", "x": 1, "y": 1, "wires": [[]],
                  **config}]


async def test_defaults_send_1_then_0_after_250_ms():
    async with FlowHarness(trigger()) as h:
        await h.inject("tr", payload="go", topic="t")
        assert h.payloads("tr") == ["1"]
        assert h.status("tr") == {"fill": "blue", "shape": "dot"}
        await h.advance(0.249)
        assert h.payloads("tr") == ["1"]
        await h.advance(0.002)
        assert h.payloads("tr") == ["1", "0"]
        assert h.outputs("tr")[1]["topic"] == "t"
        assert h.status("tr") == {}


async def test_messages_while_waiting_are_ignored():
    async with FlowHarness(trigger(op1="on", op1type="str", op2="off", op2type="str",
                                   duration="1", units="s")) as h:
        await h.inject("tr", payload=1)
        await h.advance(0.5)
        await h.inject("tr", payload=2)
        await h.advance(0.6)
        assert h.payloads("tr") == ["on", "off"]
        await h.inject("tr", payload=3)
        assert h.payloads("tr") == ["on", "off", "on"]


async def test_extend_restarts_the_wait_and_sends_op2_with_the_latest_msg():
    async with FlowHarness(trigger(op1="on", op1type="str", op2="off", op2type="str",
                                   duration="1", units="s", extend=True)) as h:
        await h.inject("tr", payload=1, topic="first")
        await h.advance(0.8)
        await h.inject("tr", payload=2, topic="second")
        await h.advance(0.8)
        assert h.payloads("tr") == ["on"]
        await h.advance(0.3)
        assert h.payloads("tr") == ["on", "off"]
        assert h.outputs("tr")[1]["topic"] == "second"


async def test_zero_duration_blocks_until_reset():
    async with FlowHarness(trigger(op1="x", op1type="str", duration="0")) as h:
        await h.inject("tr", payload=1)
        await h.advance(3600)
        await h.inject("tr", payload=2)
        assert h.payloads("tr") == ["x"]
        await h.inject("tr", reset=True)
        assert h.status("tr") == {}
        await h.inject("tr", payload=3)
        assert h.payloads("tr") == ["x", "x"]


async def test_reset_by_payload_value():
    async with FlowHarness(trigger(op1="x", op1type="str", op2="y", op2type="str",
                                   duration="1", units="s", reset="stop")) as h:
        await h.inject("tr", payload=1)
        await h.inject("tr", payload="stop")
        await h.advance(2)
        assert h.payloads("tr") == ["x"]


async def test_negative_duration_resends_op1_until_reset():
    async with FlowHarness(trigger(op1="", op1type="pay", op2type="nul", duration="-1",
                                   units="s")) as h:
        await h.inject("tr", payload="tick")
        await h.advance(3.5)
        assert h.payloads("tr") == ["tick"] * 4
        await h.inject("tr", reset=True)
        await h.advance(5)
        assert h.payloads("tr") == ["tick"] * 4
        assert h.clock.pending() == 0


async def test_by_topic_handles_each_topic_separately():
    async with FlowHarness(trigger(op1="on", op1type="str", op2="off", op2type="str",
                                   duration="1", units="s", bytopic="topic",
                                   topic="topic")) as h:
        await h.inject("tr", payload=1, topic="a")
        await h.inject("tr", payload=1, topic="b")
        await h.inject("tr", payload=1, topic="a")
        assert [(m["topic"], m["payload"]) for m in h.outputs("tr")] == [("a", "on"),
                                                                        ("b", "on")]
        assert h.status("tr") == {"fill": "blue", "shape": "dot", "text": "2"}
        await h.inject("tr", reset=True, topic="a")
        await h.advance(1.1)
        assert [(m["topic"], m["payload"]) for m in h.outputs("tr")][2:] == [("b", "off")]


async def test_second_output_gets_op2():
    async with FlowHarness(trigger(outputs=2, op1type="num", op1="5", op2type="num",
                                   op2="-1")) as h:
        await h.inject("tr", payload=0)
        await h.advance(0.3)
        assert h.payloads("tr", 0) == [5]
        assert h.payloads("tr", 1) == [-1]


@pytest.mark.parametrize(("op", "optype", "expected"), [
    ("true", "val", True), ("null", "val", None), ("abc", "val", "abc"),
    ("12.5", "num", 12.5), ('{"a":[1]}', "json", {"a": [1]}), ("false", "bool", False),
    ("[1,2]", "bin", b"\x01\x02"),
])
async def test_op1_types(op, optype, expected):
    async with FlowHarness(trigger(op1=op, op1type=optype, op2type="nul")) as h:
        await h.inject("tr", payload="in")
        assert h.payloads("tr") == [expected]


async def test_date_env_and_context_values():
    flow = trigger(op1="", op1type="date", op2="level", op2type="flow", duration="1",
                   units="s")
    flow[0] = {**TAB, "env": [{"name": "WHO", "type": "str", "value": "tab-env"}]}
    async with FlowHarness(flow) as h:
        await h.inject("tr", payload=0)
        assert h.payloads("tr") == [int(h.clock.time() * 1000)]
        h.node("tr").ctx.flow_context.set("level", 42)  # op2 from flow context: read when sent
        await h.advance(1)
        assert h.payloads("tr")[1] == 42
    async with FlowHarness([{**TAB, "env": [{"name": "WHO", "type": "str", "value": "me"}]},
                            *trigger(op1="WHO", op1type="env", op2type="nul")[1:]]) as h:
        await h.inject("tr", payload=0)
        assert h.payloads("tr") == ["me"]


async def test_op2_original_and_latest_payload():
    async with FlowHarness(trigger(op1type="nul", op2type="pay", duration="1",
                                   units="s")) as h:
        await h.inject("tr", payload="first")
        await h.inject("tr", payload="second")
        await h.advance(1)
        assert h.payloads("tr") == ["first"]
    async with FlowHarness(trigger(op1type="nul", op2type="payl", duration="1",
                                   units="s")) as h:
        await h.inject("tr", payload="first")
        await h.inject("tr", payload="second", topic="latest")
        await h.advance(1)
        assert h.payloads("tr") == ["second"]
        assert h.outputs("tr")[0]["topic"] == "latest"


async def test_override_delay_with_msg_delay():
    async with FlowHarness(trigger(op1type="nul", op2="late", op2type="str",
                                   overrideDelay=True)) as h:
        await h.inject("tr", payload=1, delay=2000)
        await h.advance(1.9)
        assert h.payloads("tr") == []
        await h.advance(0.2)
        assert h.payloads("tr") == ["late"]


async def test_mustache_templates_in_string_values():
    async with FlowHarness(trigger(op1="<{{payload}}> {{{payload}}} {{topic}}{{nope}}",
                                   op1type="str", op2="was {{payload.x}}", op2type="str",
                                   duration="1", units="s")) as h:
        await h.inject("tr", payload="<b>", topic="t")
        assert h.payloads("tr") == ["<&lt;b&gt;> <b> t"]
        await h.inject("tr", reset=True)
        await h.inject("tr", payload={"x": 7})
        await h.advance(1)
        assert h.payloads("tr")[-1] == "was 7"


async def test_mustache_sections_render_as_in_node_red():
    async with FlowHarness(trigger(op1="{{#payload}}<{{n}}>{{/payload}}{{^topic}}none{{/topic}}",
                                   op1type="str", duration="0")) as h:
        await h.inject("tr", payload=[{"n": "a/b"}, {"n": 2}])
        assert h.payloads("tr") == ["<a&#x2F;b><2>none"]


async def test_bad_typed_value_fails_the_deploy_with_its_name():
    async with FlowHarness([TAB]) as h:
        with pytest.raises(DeployError, match="trigger op1: invalid JSON"):
            await h.deploy(trigger(op1="{nope", op1type="json"))
        with pytest.raises(DeployError,
                           match='trigger op1: mustache template: Unclosed section "items"'):
            await h.deploy(trigger(op1="{{#items}}x", op1type="str"))


async def test_topic_limit_reports_the_dropped_message():
    settings = {"nodeMessageBufferMaxLength": 2}
    async with FlowHarness(trigger(bytopic="topic", duration="0"), settings=settings) as h:
        for topic in "abc":
            await h.inject("tr", payload=1, topic=topic)
        assert len(h.payloads("tr")) == 2
        assert h.errors[0]["msg"] == "too many pending topics in trigger node"
        assert h.node("tr").dropped == 1


async def test_reset_by_boolean_payload_clears_a_block():
    # Node-RED's spec "clear timeout by boolean false": payload false matches reset "false".
    async with FlowHarness(trigger(reset="false", duration="0")) as h:
        for payload in (None, None, "foo", False, None):
            await h.inject("tr", payload=payload)
        assert h.payloads("tr") == ["1", "1"]


async def test_jsonata_operands_are_evaluated_when_the_message_arrives():
    flow = trigger(op1="payload * 2", op1type="jsonata", op2="$millis()", op2type="jsonata",
                   duration="1", units="s")
    async with FlowHarness(flow) as h:
        await h.inject("tr", payload=21)
        await h.advance(1)
        assert h.payloads("tr") == [42, 1_767_225_600_000]  # op2 at arrival, not at send


async def test_jsonata_operand_error_is_the_messages_error():
    flow = [*trigger(op1="$boom()", op1type="jsonata"),
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.inject("tr", payload=1)
        assert h.outputs("tr") == []
        assert h.outputs("c")[0]["error"]["message"].startswith(
            "JSONata error in trigger op1 of trigger node tr: Attempted to invoke")
        assert h.status("tr") == {}  # nothing waits
