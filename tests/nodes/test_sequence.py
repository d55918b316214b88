"""split and join: msg.parts exactly as Node-RED sets it, streams, automatic
re-joining, custom joins (count, timeout, complete, accumulate), bounded groups."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}


def node(id_, type_, wires=(), **config):
    return {"id": id_, "type": type_, "z": "t1", "x": 1, "y": 1,
            "wires": [list(w) for w in wires] or [[]], **config}


def split(**config):
    return [TAB, node("s", "split", **config)]


def parts(h, key=None):
    return [{k: v for k, v in m["parts"].items() if k != "id"} for m in h.outputs("s")]


async def test_split_string_on_newline_sets_parts():
    async with FlowHarness(split()) as h:
        await h.inject("s", payload="a\nb\nc", topic="t")
        out = h.outputs("s")
        assert [m["payload"] for m in out] == ["a", "b", "c"]
        assert parts(h) == [{"type": "string", "ch": "\n", "index": i, "count": 3}
                            for i in range(3)]
        assert len({m["parts"]["id"] for m in out}) == 1
        assert len({m["_msgid"] for m in out}) == 3
        assert all(m["topic"] == "t" for m in out)


async def test_split_string_by_length_and_by_bytes():
    async with FlowHarness(split(splt="2", spltType="len")) as h:
        await h.inject("s", payload="abcde")
        assert h.payloads("s") == ["ab", "cd", "e"]
        assert parts(h)[0] == {"type": "string", "ch": "", "len": 2, "index": 0, "count": 3}
    async with FlowHarness(split(splt="[44]", spltType="bin")) as h:
        await h.inject("s", payload="x,y")
        assert h.payloads("s") == ["x", "y"]
        assert parts(h)[0]["ch"] == [44]


async def test_split_lengths_are_read_with_parse_int_as_node_red_does():
    async with FlowHarness(split(splt="0x2", spltType="len", arraySplt=3)) as h:
        await h.inject("s", payload="abcde")
        await h.inject("s", payload=[1, 2, 3, 4])
        assert h.payloads("s") == ["ab", "cd", "e", [1, 2, 3], [4]]


async def test_split_array_in_chunks_and_object_with_addname():
    async with FlowHarness(split(arraySplt=2)) as h:
        await h.inject("s", payload=[1, 2, 3, 4, 5])
        assert h.payloads("s") == [[1, 2], [3, 4], [5]]
        assert parts(h)[2] == {"type": "array", "count": 3, "len": 2, "index": 2}
    async with FlowHarness(split(addname="topic")) as h:
        await h.inject("s", payload={"a": 1, "b": {"c": 2}})
        assert [(m["topic"], m["payload"]) for m in h.outputs("s")] == [("a", 1),
                                                                        ("b", {"c": 2})]
        assert parts(h) == [{"type": "object", "count": 2, "key": "a", "index": 0},
                            {"type": "object", "count": 2, "key": "b", "index": 1}]


async def test_split_buffer_on_separator_and_by_length():
    async with FlowHarness(split(splt="[13,10]", spltType="bin")) as h:
        await h.inject("s", payload=b"ab\r\ncd")
        assert h.payloads("s") == [b"ab", b"cd"]
        assert parts(h)[1] == {"type": "buffer", "ch": [13, 10], "count": 2, "index": 1}
    async with FlowHarness(split(splt="3", spltType="len")) as h:
        await h.inject("s", payload=b"abcdefg")
        assert h.payloads("s") == [b"abc", b"def", b"g"]
        assert parts(h)[0] == {"type": "buffer", "len": 3, "count": 3, "index": 0}


async def test_split_keeps_existing_parts_and_other_properties():
    async with FlowHarness(split(property="data")) as h:
        await h.inject("s", data=[1, 2], parts={"id": "outer", "index": 0, "count": 1})
        out = h.outputs("s")
        assert [m["data"] for m in out] == [1, 2]
        assert out[0]["parts"]["parts"] == {"id": "outer", "index": 0, "count": 1}
        assert out[0]["parts"]["property"] == "data"


async def test_split_stream_carries_the_remainder_over():
    flow = [TAB, node("s", "split", stream=True),
            node("done", "complete", scope=["s"])]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="a\nb")
        await h.inject("s", payload="c\nd\ne")
        assert h.payloads("s") == ["a", "bc", "d"]
        assert [m["parts"]["index"] for m in h.outputs("s")] == [0, 1, 2]
        assert all("count" not in m["parts"] for m in h.outputs("s"))
    flow[1] = node("s", "split", stream=True, splt="4", spltType="len")
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="ab")
        assert h.payloads("done") == []  # held until its data is sent on
        await h.inject("s", payload="cdef")
        assert h.payloads("s") == ["abcd"]
        assert h.payloads("done") == ["ab"]


async def test_split_reports_bad_config_and_unsplittable_values():
    flow = [TAB, node("s", "split", splt="0", spltType="len"),
            node("c", "catch", scope=None)]
    async with FlowHarness(flow) as h:
        assert "Invalid split property: invalid split length" in h.errors[0]["msg"]
        await h.inject("s", payload="abc")
        assert h.outputs("s") == []
        assert "invalid split length" in h.outputs("c")[0]["error"]["message"]
    async with FlowHarness(split()) as h:
        await h.inject("s", payload=42)
        assert h.outputs("s") == []
        assert "cannot split a int" in h.warnings[0]["msg"]


def split_join(join_config=None, **split_config):
    return [TAB, node("s", "split", [["j"]], **split_config),
            node("j", "join", **({"mode": "auto"} | (join_config or {})))]


@pytest.mark.parametrize(("payload", "split_config"), [
    ("a\nb\nc", {}),
    ("abcdefg", {"splt": "3", "spltType": "len"}),
    ([1, 2, 3, 4, 5], {"arraySplt": 2}),
    ([{"a": 1}, [2], None], {}),
    ({"x": 1, "y": {"z": 2}}, {}),
    (b"ab\r\ncd", {"splt": "[13,10]", "spltType": "bin"}),
    (b"abcdefg", {"splt": "2", "spltType": "len"}),
])
async def test_auto_join_reverses_split(payload, split_config):
    async with FlowHarness(split_join(**split_config)) as h:
        await h.inject("s", payload=payload, topic="keep")
        [joined] = h.outputs("j")
        assert joined["payload"] == payload
        assert joined["topic"] == "keep"
        assert "parts" not in joined


async def test_auto_join_of_a_string_split_on_bytes_keeps_node_reds_joiner():
    # Node-RED joins with String([44]) == "44", not ","; flowrt does the same.
    async with FlowHarness(split_join(splt="[44]", spltType="bin")) as h:
        await h.inject("s", payload="a,b")
        assert h.payloads("j") == ["a44b"]


async def test_auto_join_restores_outer_parts_and_property():
    async with FlowHarness(split_join(property="data")) as h:
        await h.inject("s", data=[1, 2], parts={"id": "outer", "index": 3, "count": 4})
        [joined] = h.outputs("j")
        assert joined["data"] == [1, 2]
        assert joined["parts"] == {"id": "outer", "index": 3, "count": 4}


async def test_auto_join_out_of_order_parts_and_missing_parts_warning():
    flow = [TAB, node("j", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        for index, text in ((2, "c"), (0, "a"), (1, "b")):
            await h.inject("j", payload=text,
                           parts={"id": "p", "type": "string", "ch": "-", "index": index,
                                  "count": 3})
        assert h.payloads("j") == ["a-b-c"]
        await h.inject("j", payload="x")
        assert h.warnings[0]["msg"] == ("Message missing msg.parts property - cannot join "
                                        "in 'auto' mode")


def join(**config):
    return [TAB, node("j", "join", mode="custom", **config),
            node("done", "complete", scope=["j"])]


async def test_custom_join_by_count_as_array_string_and_buffer():
    async with FlowHarness(join(build="array", count="3")) as h:
        for i in range(7):
            await h.inject("j", payload=i)
        assert h.payloads("j") == [[0, 1, 2], [3, 4, 5]]
        assert h.payloads("done") == [0, 1, 2, 3, 4, 5]  # held parts complete when sent
    async with FlowHarness(join(build="string", count="2", joiner="\\t")) as h:
        for value in ("a", 1.0, True, "d"):
            await h.inject("j", payload=value)
        assert h.payloads("j") == ["a\t1", "true\td"]
    async with FlowHarness(join(build="buffer", count="2", joiner="[0]",
                                joinerType="bin")) as h:
        await h.inject("j", payload=b"ab")
        await h.inject("j", payload="cd")
        assert h.payloads("j") == [b"ab\x00cd"]


async def test_custom_join_object_and_merged():
    async with FlowHarness(join(build="object", count="2", key="topic")) as h:
        await h.inject("j", topic="t", payload=20)
        await h.inject("j", topic="h", payload=55)
        assert h.payloads("j") == [{"t": 20, "h": 55}]
        await h.inject("j", payload=1)
        assert h.warnings[0]["msg"] == ("Message missing key property 'msg.topic' - cannot "
                                        "add to object")
    async with FlowHarness(join(build="merged", count="2")) as h:
        await h.inject("j", payload={"a": 1})
        await h.inject("j", payload={"a": 3, "b": 2})
        await h.inject("j", payload={"x": 1, "y": 2})  # count is the number of keys
        assert h.payloads("j") == [{"a": 3, "b": 2}, {"x": 1, "y": 2}]


async def test_custom_join_whole_messages():
    async with FlowHarness(join(build="array", count="2", propertyType="full")) as h:
        await h.inject("j", payload=1, topic="a")
        await h.inject("j", payload=2, topic="b")
        [out] = h.outputs("j")
        assert [(m["payload"], m["topic"]) for m in out["payload"]] == [(1, "a"), (2, "b")]


async def test_custom_join_timeout_complete_and_reset():
    async with FlowHarness(join(build="array", timeout="2")) as h:
        await h.inject("j", payload=1)
        await h.advance(1)
        await h.inject("j", payload=2)
        await h.advance(1)
        assert h.payloads("j") == [[1, 2]]  # two seconds after the first message
        await h.inject("j", payload=3)
        await h.inject("j", payload=4, complete=True)
        assert h.payloads("j") == [[1, 2], [3, 4]]
        await h.inject("j", payload=5)
        await h.inject("j", reset=True)
        await h.advance(3)
        assert h.payloads("j") == [[1, 2], [3, 4]]
        assert 5 in h.payloads("done")


async def test_custom_join_restart_timeout():
    async with FlowHarness(join(build="array", timeout="2")) as h:
        await h.inject("j", payload=1)
        await h.advance(1.5)
        await h.inject("j", payload=2, restartTimeout=True)
        await h.advance(1.9)
        assert h.payloads("j") == []
        await h.advance(0.2)
        assert h.payloads("j") == [[1, 2]]


async def test_custom_join_accumulate_resends_on_every_message():
    async with FlowHarness(join(build="object", count="2", accumulate=True)) as h:
        await h.inject("j", topic="a", payload=1)
        await h.inject("j", topic="b", payload=2)
        await h.inject("j", topic="a", payload=3)
        assert h.payloads("j") == [{"a": 1, "b": 2}, {"a": 3, "b": 2}]


async def test_custom_join_uses_split_count_when_count_is_empty():
    flow = [TAB, node("s", "split", [["j"]]),
            node("j", "join", mode="custom", build="string", joiner="+", count="",
                 useparts=True)]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="a\nb\nc")
        assert h.payloads("j") == ["a+b+c"]


@pytest.mark.parametrize(("useparts", "expected"), [(None, ["a+b+c"]), (False, [])])
async def test_custom_join_without_useparts_uses_msg_parts_as_node_red(useparts, expected):
    # Flows exported before the option existed have no key: Node-RED reads that as true.
    config = {"mode": "custom", "build": "string", "joiner": "+", "count": ""}
    if useparts is not None:
        config["useparts"] = useparts
    flow = [TAB, node("s", "split", [["j"]]), node("j", "join", **config)]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="a\nb\nc")
        assert h.payloads("j") == expected


async def test_join_buffer_of_wrong_type_is_an_error():
    flow = [*join(build="buffer", count="2"), node("c", "catch", scope=None)]
    async with FlowHarness(flow) as h:
        await h.inject("j", payload={"no": 1})
        assert h.outputs("c")[0]["error"]["message"] == "Cannot join object to buffer"


async def test_join_groups_are_bounded():
    settings = {"nodeMessageBufferMaxLength": 3}
    flow = [*join(build="array", count="10"), node("c", "catch", scope=None)]
    async with FlowHarness(flow, settings=settings) as h:
        for i in range(4):
            await h.inject("j", payload=i)
        assert [m["error"]["message"] for m in h.outputs("c")] == [
            "too many pending messages in join node"]
        assert sorted(h.payloads("done")) == [0, 1, 2]  # the discarded parts complete
        assert h.node("j").dropped == 4
        for i in range(10):
            await h.inject("j", payload=i)
        assert [m["payload"] for m in h.outputs("c")] == [3, 3, 7]  # still bounded


# ------------------------------------------------------------------ reduce
# The reduce cases of Node-RED's 17-split_spec.js.
FOUR = [(3, 2), (2, 1), (4, 3), (1, 0)]  # (payload, index), out of order as in the spec


def reducer(**config):
    base = {"mode": "reduce", "reduceRight": False, "reduceExp": "$A+payload",
            "reduceInit": "0", "reduceInitType": "num", "reduceFixup": None}
    return [TAB, node("j", "join", **{**base, **config}),
            node("c", "catch", scope=None), node("done", "complete", scope=["j"])]


async def reduce(payloads=FOUR, count=4, settings=None, init=None, **config):
    async with FlowHarness(reducer(**config), settings=settings) as h:
        if init is not None:
            init(h.node("j"))
        for payload, index in payloads:
            await h.inject("j", payload=payload, parts={"index": index, "count": count,
                                                        "id": 222})
        return h


async def test_reduce_messages():
    h = await reduce()
    (out,) = h.outputs("j")
    assert out["payload"] == 10
    assert out["parts"]["index"] == 3  # the last message folded, parts kept
    assert sorted(m["payload"] for m in h.outputs("done")) == [1, 2, 3, 10]


async def test_reduce_with_the_count_only_in_the_last_part():
    async with FlowHarness(reducer()) as h:
        for payload, index in FOUR:
            parts = {"index": index, "id": 222}
            if index == 3:
                parts["count"] = 4
            await h.inject("j", payload=payload, parts=parts)
        assert h.payloads("j") == [10]


def init_flow(node):
    node.ctx.flow_context.set("foo", "bar")


def init_global(node):
    node.ctx.global_context.set("foo", "bar")


@pytest.mark.parametrize(("itype", "ival", "expected", "init"), [
    ("str", "xyz", "xyz", None), ("num", "10", 10, None), ("bool", "true", True, None),
    ("json", '{"x":"vx", "y":"vy", "z":"vz"}', {"x": "vx", "y": "vy", "z": "vz"}, None),
    ("bin", "[1,2,3]", b"\x01\x02\x03", None), ("jsonata", "1+2+3", 6, None),
    ("env", "NR_XYZ", "nr_xyz", None), ("flow", "foo", "bar", init_flow),
    ("global", "foo", "bar", init_global),
])
async def test_reduce_init_types(itype, ival, expected, init, monkeypatch):
    monkeypatch.setenv("NR_XYZ", "nr_xyz")
    h = await reduce(reduceExp="$A", reduceInit=ival, reduceInitType=itype, init=init)
    assert h.payloads("j") == [expected]


async def test_reduce_with_index_fixup_and_order():
    assert (await reduce(reduceExp="$A+$I")).payloads("j") == [6]
    five = [*FOUR, (0, 4)]
    assert (await reduce(five, count=5, reduceFixup="$A/$N")).payloads("j") == [2]
    text = [(str(p), i) for p, i in FOUR]
    expression = "'(' & $A & '+' & payload & ')'"
    left = await reduce(text, reduceExp=expression, reduceInitType="str")
    assert left.payloads("j") == ["((((0+1)+2)+3)+4)"]
    right = await reduce(text, reduceExp=expression, reduceInitType="str", reduceRight=True)
    assert right.payloads("j") == ["((((0+4)+3)+2)+1)"]
    assert right.outputs("j")[0]["parts"]["index"] == 0


async def test_reduce_with_an_array_result_per_sequence():
    async with FlowHarness(reducer(reduceExp="$append($A,[payload])", reduceInit="[]",
                                   reduceInitType="json")) as h:
        for payload, index, part_id in [(1, 0, 222), (2, 1, 222), (3, 2, 333), (4, 3, 333)]:
            await h.inject("j", payload=payload, parts={"index": index, "count": 2,
                                                        "id": part_id})
        assert h.payloads("j") == [[1, 2], [3, 4]]


@pytest.mark.parametrize("getter", ["flowContext", "globalContext"])
async def test_reduce_with_context_in_every_expression(getter):
    def init(node):
        context = node.ctx.flow_context if getter == "flowContext" else node.ctx.global_context
        for key, value in (("one", 1), ("two", 2), ("three", 3)):
            context.set(key, value)

    h = await reduce(reduceExp=f'$A+(payload*${getter}("two"))',
                     reduceInit=f'${getter}("one")', reduceInitType="jsonata",
                     reduceFixup=f'$A*${getter}("three")', init=init)
    assert h.payloads("j") == [((((1 + 1 * 2) + 2 * 2) + 3 * 2) + 4 * 2) * 3]


async def test_reduce_passes_messages_without_parts():
    async with FlowHarness(reducer(reduceExp="$A")) as h:
        await h.inject("j", payload="alone")
        assert h.payloads("j") == ["alone"]


async def test_reduce_too_many_pending_messages():
    async with FlowHarness(reducer(), settings={"nodeMessageBufferMaxLength": 2}) as h:
        for payload, index in FOUR:
            await h.inject("j", payload=payload, parts={"index": index, "count": 4,
                                                        "id": 222})
        assert [m["error"]["message"] for m in h.outputs("c")] == [
            "too many pending messages in join node"]
        assert h.outputs("c")[0]["payload"] == 4
        assert h.outputs("j") == []
        # The two held before are discarded (completed); the fourth starts a new sequence.
        assert sorted(m["payload"] for m in h.outputs("done")) == [2, 3]


async def test_reduce_error_is_the_last_messages_error():
    h = await reduce(reduceExp="$A + $number(payload)", payloads=[("1", 0), ("x", 1)], count=2)
    assert h.outputs("j") == []
    (caught,) = h.outputs("c")
    assert caught["payload"] == "x"
    assert caught["error"]["message"].startswith(
        "JSONata error in reduceExp of join node j: ")
    assert [m["payload"] for m in h.outputs("done")] == ["1"]


async def test_reduce_syntax_error_fails_the_node_creation():
    with pytest.raises(DeployError, match=r"JSONata error in reduceFixup of join node j: "
                                          r"Unexpected end of expression"):
        async with FlowHarness(reducer(reduceFixup="$A *")):
            pass


async def test_chained_split_split_join_join():
    # Node-RED's spec "should allow chained split-split-join-join sequences".
    flow = [TAB, node("s1", "split", [["s2"]]), node("s2", "split", [["j1"]]),
            node("j1", "join", [["j2"]], mode="auto"), node("j2", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        await h.inject("s1", payload=[[1, 2, 3], "a\nb\nc", [7, 8, 9]])
        assert h.payloads("j2") == [[[1, 2, 3], "a\nb\nc", [7, 8, 9]]]


async def test_accumulated_merge_complete_and_reset():
    # Node-RED's spec "should be able to reset an accumulation".
    async with FlowHarness(join(build="merged", accumulate=True, count="3")) as h:
        for letter, value, extra in (("a", 1, {}), ("b", 2, {}), ("c", 3, {}),
                                     ("d", 4, {"complete": True}), ("e", 2, {}),
                                     ("f", 1, {"complete": True}), ("g", 2, {}),
                                     ("h", 1, {}), (None, None, {"reset": True}),
                                     ("g", 2, {}), ("h", 1, {}), ("i", 3, {})):
            msg = {"payload": {letter: value}, "topic": letter} if letter else {}
            await h.inject("j", {**msg, **extra})
        assert h.payloads("j") == [{"a": 1, "b": 2, "c": 3},
                                   {"a": 1, "b": 2, "c": 3, "d": 4},
                                   {"e": 2, "f": 1},
                                   {"g": 2, "h": 1, "i": 3}]


async def test_merge_whole_messages():
    # Node-RED's spec "should merge full msg objects".
    async with FlowHarness(join(build="merged", count="6", propertyType="full",
                                property="")) as h:
        extras = ({"topic": "f"}, {"topic": "a"}, {"foo": "b"}, {"bar": "b"}, {"aha": "c"},
                  {"foo": "d"}, {"bingo": "e"})
        for number, extra in enumerate(extras, start=1):
            await h.inject("j", {"payload": number, **extra})
        [out] = h.outputs("j")  # six distinct keys are reached with the seventh message
        assert out["payload"] == {"payload": 7, "topic": "a", "foo": "d", "bar": "b",
                                  "aha": "c", "bingo": "e"}
