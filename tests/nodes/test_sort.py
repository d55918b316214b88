"""sort: the cases of Node-RED's 18-sort_spec.js, JavaScript's ordering of mixed values
(recorded from Node-RED 4.1.15), the buffer bound, and Node-RED's sort examples."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest

from flowrt.errors import DeployError
from flowrt.jsvalue import MISSING
from flowrt.testing import FlowHarness
from tests.nodes.nodered_examples import example_flow, fire_all

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
DATA = Path(__file__).parent / "data"


def node(id_, type_, wires=(), **config):
    return {"id": id_, "type": type_, "z": "t1", "x": 1, "y": 1,
            "wires": [list(w) for w in wires] or [[]], **config}


def sorter(**config):
    """A sort node `s` with catch and complete nodes watching it."""
    base = {"order": "ascending", "as_num": False}
    return [TAB, node("s", "sort", **{**base, **config}),
            node("c", "catch", scope=["s"]), node("done", "complete", scope=["s"])]


async def sort_property(target, key, key_type, data, **config):
    flow = sorter(target=target, targetType="msg", msgKey=key, msgKeyType=key_type, **config)
    async with FlowHarness(flow) as h:
        await h.inject("s", {target: copy.deepcopy(data)})  # sorted in place
        assert h.outputs("c") == []
        return [m[target] for m in h.outputs("s")]


async def sort_sequence(key, key_type, data, prop="payload", **config):
    flow = sorter(targetType="seq", seqKey=key, seqKeyType=key_type, **config)
    async with FlowHarness(flow) as h:
        for i, value in enumerate(data):
            await h.inject("s", {prop: value, "parts": {"id": "X", "index": i,
                                                        "count": len(data)}})
        out = h.outputs("s")
        assert [m["parts"] for m in out] == [{"id": "X", "index": i, "count": len(data)}
                                             for i in range(len(data))]
        assert h.outputs("c") == []
        return [m[prop] for m in out]


NUMBERS = ["200", "4", "30", "1000"]
SPEC = [  # (order, as_num, expected) from the spec
    ("ascending", False, ["1000", "200", "30", "4"]),
    ("descending", False, ["4", "30", "200", "1000"]),
    ("ascending", True, ["4", "30", "200", "1000"]),
    ("descending", True, ["1000", "200", "30", "4"]),
]


@pytest.mark.parametrize(("order", "as_num", "expected"), SPEC)
@pytest.mark.parametrize("target", ["payload", "data"])
async def test_sort_property_by_element(order, as_num, expected, target):
    assert await sort_property(target, "", "elem", NUMBERS, order=order,
                               as_num=as_num) == [expected]


@pytest.mark.parametrize(("order", "as_num", "expected"), SPEC)
@pytest.mark.parametrize("prop", ["payload", "data"])
async def test_sort_sequence_by_message_property(order, as_num, expected, prop):
    assert await sort_sequence(prop, "msg", NUMBERS, prop=prop, order=order,
                               as_num=as_num) == expected


@pytest.mark.parametrize(("order", "expected"), [
    ("ascending", ["D1000", "C200", "B30", "A4"]),
    ("descending", ["A4", "B30", "C200", "D1000"])])
async def test_sort_by_jsonata_on_elements_and_on_messages(order, expected):
    data = ["C200", "A4", "B30", "D1000"]
    assert await sort_property("data", "$substring($,1)", "jsonata", data,
                               order=order) == [expected]
    assert await sort_sequence("$substring(payload,1)", "jsonata", data,
                               order=order) == expected


async def test_sort_objects_by_jsonata_key_as_numbers():
    data = [{"val": v} for v in NUMBERS]
    assert await sort_property("data", "val", "jsonata", data, as_num=True) == [
        [{"val": v} for v in ["4", "30", "200", "1000"]]]


async def test_jsonata_in_legacy_msg_mode_sorts_a_sequence():
    data = ["b", "c", "a"]
    assert await sort_sequence("msg.payload", "jsonata", data) == ["a", "b", "c"]


@pytest.mark.parametrize("store", [None, "memory"])
async def test_sort_property_by_flow_context(store):
    arg = "" if store is None else ',"memory"'
    flow = sorter(target="data", targetType="msg", msgKey=f"$flowContext(${arg})",
                  msgKeyType="jsonata")
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "memory": {"module": "memory"}}}
    async with FlowHarness(flow, settings=settings) as h:
        context = h.node("s").ctx.flow_context
        for key, value in {"first": "3", "second": "1", "third": "2", "fourth": "4"}.items():
            context.set(key, value, store)
        await h.inject("s", data=["first", "second", "third", "fourth"])
        assert h.outputs("s")[0]["data"] == ["second", "third", "first", "fourth"]


@pytest.mark.parametrize(("store", "order", "expected"), [
    (None, "ascending", ["second", "fourth", "third", "first"]),
    ("memory", "descending", ["first", "third", "fourth", "second"])])
async def test_sort_sequence_by_global_context(store, order, expected):
    arg = "" if store is None else ',"memory"'
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "memory": {"module": "memory"}}}
    flow = sorter(targetType="seq", seqKey=f"$globalContext(payload{arg})",
                  seqKeyType="jsonata", order=order)
    async with FlowHarness(flow, settings=settings) as h:
        context = h.node("s").ctx.global_context
        for key, value in {"first": "4", "second": "1", "third": "3", "fourth": "2"}.items():
            context.set(key, value, store)
        names = ["first", "second", "third", "fourth"]
        for i, name in enumerate(names):
            await h.inject("s", payload=name, parts={"id": "X", "index": i, "count": 4})
        assert h.payloads("s") == expected


async def test_jsonata_error_fails_the_last_message_and_sends_nothing():
    flow = sorter(targetType="seq", seqKey="$unknown()", seqKeyType="jsonata")
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="A", parts={"id": "X", "index": 0, "count": 2})
        assert h.payloads("done") == []  # held until the sequence is complete
        await h.inject("s", payload="B", parts={"id": "X", "index": 1, "count": 2})
        assert h.outputs("s") == []
        [caught] = h.outputs("c")
        assert caught["payload"] == "B"
        assert caught["error"]["message"].startswith(
            "Invalid JSONata expression in sort node: ")
        assert "Attempted to invoke a non-function" in caught["error"]["message"]
        assert h.payloads("done") == ["A"]


async def test_jsonata_error_on_an_element_is_the_message_error():
    flow = sorter(target="payload", targetType="msg", msgKey="$number($)",
                  msgKeyType="jsonata")
    async with FlowHarness(flow) as h:
        await h.inject("s", payload=["1", "x"])
        assert h.outputs("s") == []
        assert h.outputs("c")[0]["error"]["message"].startswith(
            "Invalid JSONata expression in sort node: ")


async def test_jsonata_syntax_error_fails_the_node_creation():
    with pytest.raises(DeployError, match="Invalid JSONata expression in sort node"):
        async with FlowHarness(sorter(targetType="seq", seqKey="$substring(",
                                      seqKeyType="jsonata")):
            pass


@pytest.mark.parametrize(("config", "message"), [
    ({"targetType": "msg", "target": "a["}, "target: invalid property expression 'a\\['"),
    ({"targetType": "seq", "seqKey": "b..c", "seqKeyType": "msg"},
     "seqKey: invalid property expression 'b..c'")])
async def test_a_bad_property_path_fails_the_node_creation(config, message):
    with pytest.raises(DeployError, match=message):
        async with FlowHarness(sorter(**config)):
            pass


async def test_too_many_pending_messages_drops_the_sequence():
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    async with FlowHarness(flow, settings={"nodeMessageBufferMaxLength": 2}) as h:
        for i in range(4):
            await h.inject("s", payload=f"V{i}", parts={"id": "X", "index": i, "count": 4})
        assert h.outputs("s") == []
        [caught] = h.outputs("c")
        assert (caught["payload"], caught["error"]["message"]) == (
            "V2", "Too many pending messages in sort node")
        assert h.payloads("done") == ["V0", "V1"]  # discarded, completed


async def test_overflow_drops_the_oldest_sequence_and_others_complete():
    """The spec's "done() regardless of buffer overflow (different group)"."""
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    async with FlowHarness(flow, settings={"nodeMessageBufferMaxLength": 2}) as h:
        for payload, group in ((1, "A"), (3, "B"), (5, "C"), (2, "B"), (4, "C")):
            index = 0 if payload in (1, 3, 5) else 1
            await h.inject("s", payload=payload, parts={"id": group, "index": index,
                                                        "count": 2})
        assert h.payloads("s") == [2, 3, 4, 5]
        assert [m["payload"] for m in h.outputs("c")] == [1]
        assert sorted(h.payloads("done")) == [2, 3, 4, 5]


async def test_a_complete_sequence_is_sent_even_at_the_limit():
    """The spec's "same group": the third message completes the group, no overflow."""
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    async with FlowHarness(flow, settings={"nodeMessageBufferMaxLength": 2}) as h:
        for i, payload in enumerate((1, 3, 2)):
            await h.inject("s", payload=payload, parts={"id": "A", "index": i, "count": 3})
        assert h.payloads("s") == [1, 2, 3]
        assert h.outputs("c") == []
        assert sorted(h.payloads("done")) == [1, 2, 3]


async def test_done_when_a_property_is_sorted():
    async with FlowHarness(sorter(target="payload", targetType="msg")) as h:
        await h.inject("s", payload=[1, 3, 2], seq=0)
        assert h.payloads("s") == [[1, 2, 3]]
        assert h.payloads("done") == [[1, 2, 3]]


async def test_close_completes_pending_messages(caplog):
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    h = FlowHarness(flow)
    async with h:
        await h.inject("s", payload=0, parts={"id": "X", "index": 0, "count": 2})
        sort = h.node("s")
        futures = [f for group in sort._groups.values() for f in group.held]
        assert [f.done() for f in futures] == [False]
        with caplog.at_level(logging.INFO, logger="flowrt.node.sort"):
            await h.runtime.stop()
        assert futures[0].done() and futures[0].exception() is None
        assert "clear pending message in sort node" in caplog.text


async def test_count_may_come_with_any_message_and_ids_are_property_names():
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="b", parts={"id": 1, "index": 0})
        await h.inject("s", payload="c", parts={"id": "1", "index": 1})
        assert h.outputs("s") == []
        await h.inject("s", payload="a", parts={"id": 1.0, "index": 2, "count": 3})
        assert h.payloads("s") == ["a", "b", "c"]
        assert [m["parts"]["index"] for m in h.outputs("s")] == [0, 1, 2]


async def test_a_count_that_is_not_a_number_never_completes():
    flow = sorter(targetType="seq", seqKey="payload", seqKeyType="msg")
    async with FlowHarness(flow) as h:
        for i in range(2):
            await h.inject("s", payload=i, parts={"id": "X", "index": i, "count": "2"})
        assert h.outputs("s") == []


async def test_sequence_without_parts_and_property_not_an_array_are_warned_and_dropped():
    async with FlowHarness(sorter(targetType="seq")) as h:
        await h.inject("s", payload=1)
        await h.inject("s", payload=1, parts={"id": "X"})
        assert h.outputs("s") == []
        assert len(h.warnings) == 2
        assert "msg.parts.id and msg.parts.index" in h.warnings[0]["msg"]
        assert h.payloads("done") == [1, 1]
    async with FlowHarness(sorter(target="data", targetType="msg")) as h:
        await h.inject("s", data="not an array")
        assert h.outputs("s") == []
        assert h.warnings[0]["msg"] == "sort: msg.data is not an array; message not sent"


async def test_without_target_type_a_sequence_is_sorted_as_in_node_red():
    flow = [TAB, node("s", "sort")]  # no targetType: Node-RED's runtime sorts sequences
    async with FlowHarness(flow) as h:
        for i, value in enumerate((2, 1)):
            await h.inject("s", payload=value, parts={"id": "X", "index": i, "count": 2})
        assert h.payloads("s") == [1, 2]


async def test_property_is_sorted_in_place_and_equal_keys_keep_their_order():
    data = [{"k": 2, "n": "a"}, {"k": 1, "n": "b"}, {"k": 2, "n": "c"}, {"k": 1, "n": "d"}]
    flow = sorter(target="payload.items", targetType="msg", msgKey="k",
                  msgKeyType="jsonata", order="descending")
    async with FlowHarness(flow) as h:
        await h.inject("s", payload={"items": data})
        assert [d["n"] for d in h.outputs("s")[0]["payload"]["items"]] == ["a", "c", "b", "d"]
    elements = [3, 1, 2]
    async with FlowHarness(sorter(target="payload", targetType="msg")) as h:
        await h.inject("s", payload=elements)
        assert h.outputs("s")[0]["payload"] is elements  # Array.prototype.sort, in place
        assert elements == [1, 2, 3]


async def test_undefined_elements_go_last_as_in_javascript():
    async with FlowHarness(sorter(target="payload", targetType="msg",
                                  order="descending")) as h:
        await h.inject("s", payload=[1, MISSING, 3, None])
        assert h.payloads("s") == [[3, 1, None, MISSING]]


# ------------------------------------------- JavaScript's order, recorded in Node-RED
JS_ORDER = json.loads((DATA / "sort_js_order.json").read_text())


@pytest.mark.parametrize("case", JS_ORDER["small"],
                         ids=lambda c: "{data}-{order}-{as_num}".format(**c["config"]))
async def test_mixed_values_sort_as_in_node_red(case):
    """Numbers, strings, null, booleans, objects, arrays and text above U+FFFF (UTF-16
    order), keyed by element or by a JSONata key: Node-RED's exact output, including
    where JavaScript's comparison is not a consistent order."""
    config = case["config"]
    key_type = "jsonata" if config["key"] else "elem"
    assert await sort_property("payload", config["key"] or "", key_type, case["input"],
                               order=config["order"], as_num=config["as_num"]) == [
        case["output"]]


@pytest.mark.parametrize("setting", sorted(JS_ORDER["outputs"]))
async def test_three_hundred_mixed_values_sort_as_in_node_red(setting):
    """Long enough for TimSort's merges and galloping: the same algorithm as V8's."""
    order, _, as_num = setting.partition(" ")
    out = await sort_property("payload", "", "elem", JS_ORDER["input"], order=order,
                              as_num=bool(as_num))
    assert out == [JS_ORDER["outputs"][setting]]


# ------------------------------------------------------- Node-RED's example flows
FRUIT = ["orange", "banana", "apple", "pear", "kiwi"]
PRICED = [{"name": "orange", "price": 80}, {"name": "apple", "price": 100},
          {"name": "pear", "price": 150}, {"name": "banana", "price": 250},
          {"name": "kiwi", "price": 320}]
TWO_KEYS = [{"name": "apple", "price": 100}, {"name": "orange", "price": 100},
            {"name": "banana", "price": 200}, {"name": "kiwi", "price": 200},
            {"name": "pear", "price": 200}]
# What each sort node of the examples sent in Node-RED 4.1.15 (one array per message in
# 01; the payloads of the sequence in 02), by the example's node ids.
EXAMPLE_01 = {
    "6451c8bb.b52278": sorted(FRUIT),
    "a0de8ca4.6601f": ["100", "1024", "256", "86", "9"],
    "d4b49c22.32685": ["9", "86", "100", "256", "1024"],
    "b91c19b1.b66b18": PRICED,
    "735ec14e.4ed55": sorted(FRUIT, reverse=True),
    "e947beb9.2ec5e": TWO_KEYS,
}
EXAMPLE_02 = {
    "60b477b9.188ce8": sorted(FRUIT),
    "f8ab27f2.b81d78": ["100", "1024", "256", "86", "9"],
    "f9100b9d.065088": ["9", "86", "100", "256", "1024"],
    "ea246a52.4b9d88": PRICED,
    "4ec23d0b.a4f014": sorted(FRUIT, reverse=True),
    "6fba3dab.8218c4": TWO_KEYS,
}


async def test_node_red_example_sort_array_payload():
    flow = example_flow("sequence__sort__01---Sort-array-payload.json")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        assert {n: h.payloads(n) for n in EXAMPLE_01} == {
            n: [v] for n, v in EXAMPLE_01.items()}
        assert h.errors == [] and h.warnings == []


async def test_node_red_example_sort_message_sequence():
    flow = example_flow("sequence__sort__02---Sort-message-sequence.json")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        assert {n: h.payloads(n) for n in EXAMPLE_02} == EXAMPLE_02
        for sort_id in EXAMPLE_02:
            parts = [m["parts"] for m in h.outputs(sort_id)]
            assert [(p["index"], p["count"], p["type"], p["len"]) for p in parts] == [
                (i, 5, "array", 1) for i in range(5)]
            assert len({p["id"] for p in parts}) == 1
        assert h.errors == [] and h.warnings == []
