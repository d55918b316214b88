"""split and join: msg.parts exactly as Node-RED sets it, streams, automatic
re-joining, custom joins (count, timeout, complete, accumulate), reduce, bounded groups.

Every scenario of Node-RED 4.1's ``test/nodes/core/sequence/17-split_spec.js`` is
ported here (same configuration, same messages, same expected output); the comment
``# spec: ...`` names the scenario. Tests without one are flowrt's own.
"""

from __future__ import annotations

import re

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


# ===================================================================== split
async def test_split_and_join_are_loaded_with_node_reds_runtime_defaults():
    # spec: SPLIT "should be loaded"; JOIN "should be loaded" (count 0, timer 0, build
    # array: the runtime's defaults for keys a flow lacks, not the editor's).
    flow = [TAB, node("s", "split", name="splitNode"), node("j", "join", name="joinNode")]
    async with FlowHarness(flow) as h:
        assert h.node("s").name == "splitNode"
        join = h.node("j")
        assert join.name == "joinNode"
        assert (join.target, join.timeout, join.build) == (0, 0, "array")
        assert join.joiner == ""
        assert join.count_from_parts is False


async def test_split_an_array_into_messages():
    # spec: "should split an array into multiple messages"
    async with FlowHarness(split()) as h:
        await h.inject("s", payload=[1, 2, 3, 4])
        assert h.payloads("s") == [1, 2, 3, 4]
        assert parts(h) == [{"type": "array", "count": 4, "len": 1, "index": i}
                            for i in range(4)]


async def test_split_an_array_on_a_sub_property():
    # spec: "should split an array on a sub-property into multiple messages"
    async with FlowHarness(split(property="foo")) as h:
        await h.inject("s", foo=[1, 2, 3, 4])
        assert [m["foo"] for m in h.outputs("s")] == [1, 2, 3, 4]
        assert parts(h) == [{"type": "array", "count": 4, "len": 1, "index": i,
                             "property": "foo"} for i in range(4)]
        assert all("payload" not in m for m in h.outputs("s"))


async def test_split_an_array_in_chunks_of_a_specified_size():
    # spec: "should split an array into multiple messages of a specified size"
    async with FlowHarness(split(arraySplt=3, arraySpltType="len")) as h:
        await h.inject("s", payload=[1, 2, 3, 4])
        assert h.payloads("s") == [[1, 2, 3], [4]]
        assert parts(h) == [{"type": "array", "count": 2, "len": 3, "index": i}
                            for i in range(2)]
    async with FlowHarness(split(arraySplt=2)) as h:
        await h.inject("s", payload=[1, 2, 3, 4, 5])
        assert h.payloads("s") == [[1, 2], [3, 4], [5]]


async def test_split_an_object_into_pieces():
    # spec: "should split an object into pieces"
    async with FlowHarness(split()) as h:
        await h.inject("s", topic="foo", payload={"a": 1, "b": "2", "c": True})
        assert [(m["topic"], m["payload"]) for m in h.outputs("s")] == [
            ("foo", 1), ("foo", "2"), ("foo", True)]
        assert parts(h) == [{"type": "object", "key": key, "index": i, "count": 3}
                            for i, key in enumerate("abc")]


async def test_split_an_object_sub_property_into_pieces():
    # spec: "should split an object sub property into pieces"
    async with FlowHarness(split(property="foo.bar")) as h:
        await h.inject("s", topic="foo", foo={"bar": {"a": 1, "b": "2", "c": True}})
        out = h.outputs("s")
        assert [m["foo"] for m in out] == [{"bar": 1}, {"bar": "2"}, {"bar": True}]
        assert all(m["topic"] == "foo" for m in out)
        assert parts(h) == [{"type": "object", "key": key, "index": i, "count": 3,
                             "property": "foo.bar"} for i, key in enumerate("abc")]


async def test_split_an_object_and_set_each_key_as_the_topic():
    # spec: "should split an object into pieces and overwrite their topics"
    async with FlowHarness(split(addname="topic")) as h:
        await h.inject("s", topic="foo", payload={"a": 1, "b": "2", "c": True})
        assert [(m["topic"], m["payload"]) for m in h.outputs("s")] == [
            ("a", 1), ("b", "2"), ("c", True)]
    async with FlowHarness(split(addname="meta.key")) as h:
        await h.inject("s", payload={"a": 1, "b": {"c": 2}})
        assert [(m["meta"], m["payload"]) for m in h.outputs("s")] == [
            ({"key": "a"}, 1), ({"key": "b"}, {"c": 2})]


async def test_split_a_string_into_lines():
    # spec: "should split a string into new-lines"
    async with FlowHarness(split()) as h:
        await h.inject("s", payload="Da\nve\n \nCJ", topic="t")
        out = h.outputs("s")
        assert h.payloads("s") == ["Da", "ve", " ", "CJ"]
        assert parts(h) == [{"type": "string", "ch": "\n", "index": i, "count": 4}
                            for i in range(4)]
        assert len({m["parts"]["id"] for m in out}) == 1
        assert len({m["_msgid"] for m in out}) == 4
        assert all(m["topic"] == "t" for m in out)


@pytest.mark.parametrize("splt", ["\n", "\\n"])
async def test_split_a_string_on_a_specified_char(splt):
    # spec: "should split a string on a specified char" (a real newline; the editor
    # writes the escape "\\n", which means the same)
    async with FlowHarness(split(splt=splt)) as h:
        await h.inject("s", payload="1\n2\n3")
        assert h.payloads("s") == ["1", "2", "3"]
        assert parts(h) == [{"type": "string", "ch": "\n", "index": i, "count": 3}
                            for i in range(3)]


async def test_split_a_string_into_lengths():
    # spec: "should split a string into lengths"
    async with FlowHarness(split(splt="2", spltType="len")) as h:
        await h.inject("s", payload="12345678")
        assert h.payloads("s") == ["12", "34", "56", "78"]
        assert parts(h) == [{"type": "string", "ch": "", "len": 2, "index": i, "count": 4}
                            for i in range(4)]


@pytest.mark.parametrize("payload", ["123", b"123"])
async def test_split_into_lengths_rounds_the_count_up(payload):
    # spec: "should ceil count value when msg.payload type is string" / "... is Buffer"
    async with FlowHarness(split(splt="2", spltType="len")) as h:
        await h.inject("s", payload=payload)
        assert h.payloads("s") == [payload[:2], payload[2:]]
        assert [p["count"] for p in parts(h)] == [2, 2]


async def test_split_a_string_on_a_specified_char_in_stream_mode():
    # spec: "should split a string on a specified char in stream mode"
    async with FlowHarness(split(splt="\n", stream=True)) as h:
        await h.inject("s", payload="1\n2\n3\n")
        await h.inject("s", payload="4\n5\n6\n")
        assert h.payloads("s") == ["1", "2", "3", "4", "5", "6"]
        assert parts(h) == [{"type": "string", "ch": "\n", "index": i} for i in range(6)]


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


@pytest.mark.parametrize(("stream", "expected"), [
    (True, ["a"]), ("true", ["a"]), (False, ["a", "b"]), ("false", ["a", "b"])])
async def test_split_stream_option_as_text(stream, expected):
    # Deliberate difference: Node-RED streams only for a boolean true; flowrt reads
    # "true"/"false" as they say (its editor keeps a text value text).
    async with FlowHarness(split(stream=stream)) as h:
        await h.inject("s", payload="a\nb")
        assert h.payloads("s") == expected


async def test_split_a_buffer_into_lengths():
    # spec: "should split a buffer into lengths"
    async with FlowHarness(split(splt="2", spltType="len")) as h:
        await h.inject("s", payload=b"12345678")
        assert h.payloads("s") == [b"12", b"34", b"56", b"78"]
        assert parts(h) == [{"type": "buffer", "len": 2, "index": i, "count": 4}
                            for i in range(4)]


async def test_split_a_buffer_on_another_buffer_streaming():
    # spec: "should split a buffer on another buffer (streaming)"
    async with FlowHarness(split(splt="[52]", spltType="bin", stream=True)) as h:
        await h.inject("s", payload=b"123412")
        await h.inject("s", payload=b"341234")
        assert h.payloads("s") == [b"123", b"123", b"123"]
        assert parts(h) == [{"type": "buffer", "ch": [52], "index": i} for i in range(3)]


async def test_split_a_buffer_on_a_separator():
    async with FlowHarness(split(splt="[13,10]", spltType="bin")) as h:
        await h.inject("s", payload=b"ab\r\ncd")
        assert h.payloads("s") == [b"ab", b"cd"]
        assert parts(h)[1] == {"type": "buffer", "ch": [13, 10], "count": 2, "index": 1}
    async with FlowHarness(split(splt="3", spltType="len")) as h:
        await h.inject("s", payload=b"abcdefg")
        assert h.payloads("s") == [b"abc", b"def", b"g"]


async def test_split_after_a_final_separator_as_node_red():
    # Node-RED sends a string's empty last piece, but not a buffer's (whose count still
    # counts it); flowrt does the same.
    async with FlowHarness(split()) as h:
        await h.inject("s", payload="ab\ncd\n")
        await h.inject("s", payload=b"ab\ncd\n")
        assert h.payloads("s") == ["ab", "cd", "", b"ab", b"cd"]
        assert [p["count"] for p in parts(h)] == [3, 3, 3, 3, 3]


async def test_split_a_buffer_on_a_text_separator():
    # spec: "should set msg.parts.ch when node.spltType is str"
    async with FlowHarness(split(splt="2", spltType="str", stream=False)) as h:
        await h.inject("s", payload=b"123")
        assert h.payloads("s") == [b"1", b"3"]
        assert parts(h) == [{"type": "buffer", "ch": "2", "index": i, "count": 2}
                            for i in range(2)]


async def test_split_a_string_on_a_byte_sequence():
    # spec: "should handle spltBufferString value of undefined"
    async with FlowHarness(split(splt="[52]", spltType="bin")) as h:
        await h.inject("s", payload="123")
        assert h.payloads("s") == ["123"]
        assert parts(h) == [{"type": "string", "ch": [52], "index": 0, "count": 1}]
    async with FlowHarness(split(splt="[44]", spltType="bin")) as h:
        await h.inject("s", payload="x,y")
        assert h.payloads("s") == ["x", "y"]


async def test_split_lengths_are_read_with_parse_int_as_node_red_does():
    async with FlowHarness(split(splt="0x2", spltType="len", arraySplt=3)) as h:
        await h.inject("s", payload="abcde")
        await h.inject("s", payload=[1, 2, 3, 4])
        assert h.payloads("s") == ["ab", "cd", "e", [1, 2, 3], [4]]


async def test_split_keeps_existing_parts_and_other_properties():
    async with FlowHarness(split(property="data")) as h:
        await h.inject("s", data=[1, 2], parts={"id": "outer", "index": 0, "count": 1})
        out = h.outputs("s")
        assert [m["data"] for m in out] == [1, 2]
        assert out[0]["parts"]["parts"] == {"id": "outer", "index": 0, "count": 1}
        assert out[0]["parts"]["property"] == "data"


@pytest.mark.parametrize(("config", "problem"), [
    # spec: "should handle invalid spltType (not an array)"
    ({"splt": "1", "spltType": "bin"}, "split bin: not an array of byte values: '1'"),
    # spec: "should handle invalid splt length"
    ({"splt": 0, "spltType": "len"}, "invalid split length: 0"),
    # spec: "should handle invalid array splt length"
    ({"arraySplt": 0, "arraySpltType": "len"}, "invalid array split length: 0"),
    ({"splt": "[]", "spltType": "bin"}, "the byte sequence to split on is empty"),
    ({"splt": "[1,", "spltType": "bin"}, "split bin: invalid JSON '[1,'"),
])
async def test_split_with_an_invalid_configuration_fails_to_start(config, problem):
    with pytest.raises(DeployError, match=re.escape(f"Invalid split property: {problem}")):
        async with FlowHarness(split(**config)):
            pass
    # Without strictDeploy, the rest of the flow runs; messages to the split are dropped.
    flow = [TAB, node("i", "function", [["s"]], func="return msg;"),
            node("s", "split", [["o"]], **config), node("o", "function", func="return msg;")]
    async with FlowHarness(flow, settings={"strictDeploy": False}) as h:
        await h.inject("i", payload="123")
        assert h.payloads("i") == ["123"]
        assert h.outputs("o") == []
        assert h.runtime.failed["s"].dropped == 1


@pytest.mark.parametrize(("payload", "kind"), [(42, "number"), (True, "boolean"),
                                               (None, "null")])
async def test_split_warns_about_values_it_cannot_split(payload, kind):
    # Node-RED drops numbers and booleans silently (and fails on null); flowrt warns.
    async with FlowHarness(split()) as h:
        await h.inject("s", payload=payload)
        await h.inject("s", topic="no payload")
        assert h.outputs("s") == []
        assert [w["msg"] for w in h.warnings] == [
            f"split: cannot split a {kind} (msg.payload); message dropped",
            "split: msg.payload is missing; nothing to split"]


# ================================================================ auto join
def split_join(join_config=None, **split_config):
    return [TAB, node("s", "split", [["j"]], **split_config),
            node("j", "join", **({"mode": "auto"} | (join_config or {})))]


def auto_join(**config):
    return [TAB, node("j", "join", mode="auto", **config)]


def string_parts(index, count=4, ch=","):
    return {"id": 1, "type": "string", "ch": ch, "index": index, "count": count}


@pytest.mark.parametrize("config", [
    # spec: "should join bits of string back together automatically"
    {"joiner": ",", "build": "string"},
    # spec: "... automatically with a buffer joiner" (the configured joiner is ignored)
    {"joiner": "[44]", "joinerType": "bin", "build": "string"},
])
async def test_auto_join_string_with_the_char_from_msg_parts(config):
    async with FlowHarness(auto_join(**config)) as h:
        for index, text in enumerate("ABCD"):
            await h.inject("j", payload=text, parts=string_parts(index))
        assert h.payloads("j") == ["A,B,C,D"]
        assert "parts" not in h.outputs("j")[0]


async def test_auto_join_buffer_with_the_buffer_from_msg_parts():
    # spec: "should join bits of buffer back together automatically"
    async with FlowHarness(auto_join(joiner=",", build="buffer")) as h:
        for index, text in enumerate("ABCD"):
            await h.inject("j", payload=text.encode(),
                           parts={"id": 1, "type": "buffer", "ch": b"-", "index": index,
                                  "count": 4})
        assert h.payloads("j") == [b"A-B-C-D"]


async def test_auto_join_array_on_a_sub_property():
    # spec: "should join things into an array on a sub property in auto mode"
    async with FlowHarness(auto_join(count=3, joiner=",")) as h:
        for index, text in enumerate("ABCD"):
            await h.inject("j", foo={"bar": text},
                           parts={"id": 1, "type": "array", "len": 1, "index": index,
                                  "count": 4, "property": "foo.bar"})
        [out] = h.outputs("j")
        assert out["foo"] == {"bar": ["A", "B", "C", "D"]}
        assert "payload" not in out


async def test_auto_join_split_things_back_into_an_array():
    # spec: "should join split things back into an array" (no msg.parts.type)
    async with FlowHarness(auto_join()) as h:
        for payload, index in [(3, 2), (2, 1), (4, 3), (1, 0)]:
            await h.inject("j", payload=payload, parts={"index": index, "count": 4, "id": 111})
        assert h.payloads("j") == [[1, 2, 3, 4]]


async def test_auto_join_split_things_back_into_an_object():
    # spec: "should join split things back into an object"
    async with FlowHarness(auto_join()) as h:
        for payload, index, key in [(3, 2, "c"), (2, 1, "b"), (4, 3, "d"), (1, 0, "a")]:
            await h.inject("j", payload=payload, parts={"index": index, "count": 4, "id": 222,
                                                        "key": key, "type": "object"})
        assert h.payloads("j") == [{"c": 3, "b": 2, "d": 4, "a": 1}]


async def test_auto_join_sends_when_told_complete():
    # spec: "should join split things, send when told complete" (timeout is ignored in
    # auto mode; the missing first part is undefined, null in flowrt)
    async with FlowHarness(auto_join(timeout=0.250)) as h:
        await h.inject("j", payload=3, parts={"index": 2, "count": 4, "id": 444})
        await h.inject("j", payload=2, parts={"index": 1, "count": 4, "id": 444})
        await h.inject("j", payload=4, parts={"index": 3, "count": 4, "id": 444}, complete=True)
        assert h.payloads("j") == [[None, 2, 3, 4]]
        assert "complete" not in h.outputs("j")[0]


async def test_auto_join_split_strings_back_into_a_word():
    # spec: "should join split strings back into a word"
    async with FlowHarness(auto_join()) as h:
        for text, index in [("a", 0), ("d", 3), ("c", 2), ("b", 1)]:
            await h.inject("j", payload=text, parts=string_parts(index, ch="") | {"id": 555})
        assert h.payloads("j") == ["abcd"]


async def test_auto_join_concatenates_arrays_split_in_chunks():
    # spec: "should concat payload when group.type is array"
    async with FlowHarness(auto_join(build="array")) as h:
        for index, text in enumerate(["ab", "cd", "ef"]):
            await h.inject("j", payload=text, parts={"id": 1, "type": "array", "ch": ",",
                                                     "index": index, "count": 3, "len": 2})
        assert h.payloads("j") == [["ab", "cd", "ef"]]


async def test_auto_join_buffer_without_a_join_char():
    # spec: "should concat payload when group.type is buffer and group.joinChar is
    # undefined"
    async with FlowHarness(auto_join(joiner=",", build="buffer")) as h:
        for index, text in enumerate("ABC"):
            await h.inject("j", payload=text.encode(),
                           parts={"id": 1, "type": "buffer", "index": index, "count": 3})
        assert h.payloads("j") == [b"ABC"]


async def test_auto_join_string_with_a_buffer_join_char():
    # spec: "should concat payload when group.type is string and group.joinChar is not
    # string" (buffers joined as text)
    async with FlowHarness(auto_join(joiner=",", build="buffer")) as h:
        for index, text in enumerate("ABC"):
            await h.inject("j", payload=text.encode(),
                           parts={"id": 1, "type": "string", "ch": b"0", "index": index,
                                  "count": 3})
        assert h.payloads("j") == ["A0B0C"]


async def test_auto_join_needs_a_parts_id():
    # spec: "should handle msg.parts property when mode is auto and parts or id are
    # missing"
    async with FlowHarness(auto_join(joiner="[44]", joinerType="bin", build="string")) as h:
        await h.inject("j", payload="A", parts={"type": "string", "ch": ",", "index": 0,
                                                "count": 2})
        await h.inject("j", payload="B", parts={"type": "string", "ch": ",", "index": 1,
                                                "count": 2})
        await h.inject("j", payload="C")
        assert h.outputs("j") == []
        assert [w["msg"] for w in h.warnings] == [
            "Message missing msg.parts property - cannot join in 'auto' mode"] * 3


def array_parts(index):
    return {"id": 1, "type": "array", "ch": ",", "index": index, "count": 2}


async def test_auto_join_a_part_arriving_twice_replaces_the_first():
    # spec: "should handle join an array when mode is auto and duplicate indexed parts
    # arrive"
    async with FlowHarness(auto_join(joiner="[44]", joinerType="bin", build="array")) as h:
        for text, index in [("A", 0), ("B", 0), ("C", 0), ("D", 1)]:
            await h.inject("j", payload=text, parts=array_parts(index))
        assert h.payloads("j") == [["C", "D"]]


async def test_auto_join_reset_without_parts_discards_every_sequence():
    # spec: "should handle join an array when using msg.parts and duplicate indexed parts
    # arrive and being reset halfway"
    flow = [*auto_join(joiner="[44]", joinerType="bin", build="array"),
            node("done", "complete", scope=["j"])]
    async with FlowHarness(flow) as h:
        await h.inject("j", payload="A", parts=array_parts(0))
        await h.inject("j", payload="B", parts=array_parts(0))
        await h.inject("j", reset=True)
        assert set(h.payloads("done")) == {"A", "B", None}  # the discarded parts complete
        await h.inject("j", payload="C", parts=array_parts(1))
        await h.inject("j", payload="D", parts=array_parts(0))
        assert h.payloads("j") == [["D", "C"]]


async def test_auto_join_out_of_order_with_the_count_in_one_part():
    # spec: "should handle msg.parts even if messages are out of order in auto mode if
    # exactly one message has count set"
    async with FlowHarness(auto_join()) as h:
        for index in range(1, 5):
            p = {"id": "x", "index": index} | ({"count": 5} if index == 4 else {})
            await h.inject("j", payload=index, parts=p)
        await h.inject("j", payload=0, parts={"id": "x", "index": 0})
        assert h.payloads("j") == [[0, 1, 2, 3, 4]]


async def test_auto_join_out_of_order_parts_and_missing_parts_warning():
    async with FlowHarness(auto_join()) as h:
        for index, text in ((2, "c"), (0, "a"), (1, "b")):
            await h.inject("j", payload=text, parts=string_parts(index, 3, "-") | {"id": "p"})
        assert h.payloads("j") == ["a-b-c"]
        await h.inject("j", payload="x")
        assert h.warnings[0]["msg"] == ("Message missing msg.parts property - cannot join "
                                        "in 'auto' mode")


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


async def test_chained_split_split_join_join():
    # spec: "should allow chained split-split-join-join sequences"
    flow = [TAB, node("s1", "split", [["s2"]]), node("s2", "split", [["j1"]]),
            node("j1", "join", [["j2"]], mode="auto"), node("j2", "join", mode="auto")]
    async with FlowHarness(flow) as h:
        await h.inject("s1", payload=[[1, 2, 3], "a\nb\nc", [7, 8, 9]])
        assert h.payloads("j2") == [[[1, 2, 3], "a\nb\nc", [7, 8, 9]]]
        assert "parts" not in h.outputs("j2")[0]


# ============================================================== custom join
def join(**config):
    return [TAB, node("j", "join", mode="custom", **config),
            node("done", "complete", scope=["j"])]


async def test_custom_join_into_an_array_after_a_count():
    # spec: "should join things into an array after a count" (no build: an array)
    async with FlowHarness(join(count=3, joiner=",")) as h:
        for payload in (1, True, {"a": 1}):
            await h.inject("j", payload=payload)
        assert h.payloads("j") == [[1, True, {"a": 1}]]


async def test_custom_join_into_an_array_ignores_msg_parts_index():
    # spec: "should join things into an array ignoring msg.parts.index in manual mode"
    async with FlowHarness(join(count=3, joiner=",")) as h:
        for payload, index in ((1, 3), (True, 0), ({"a": 1}, 9)):
            await h.inject("j", payload=payload, parts={"index": index})
        assert h.payloads("j") == [[1, True, {"a": 1}]]
        assert "parts" not in h.outputs("j")[0]


async def test_custom_join_into_an_array_with_a_buffer_joiner_set():
    # spec: "should join things into an array after a count with a buffer join set"
    async with FlowHarness(join(count=3, joinerType="bin", joiner="")) as h:
        for payload in (1, True, {"a": 1}):
            await h.inject("j", payload=payload)
        assert h.payloads("j") == [[1, True, {"a": 1}]]


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


async def test_custom_join_strings_into_a_buffer_after_a_count():
    # spec: "should join strings into a buffer after a count"
    async with FlowHarness(join(count=2, build="buffer", joinerType="bin", joiner="")) as h:
        await h.inject("j", payload="hello")
        await h.inject("j", payload="world")
        assert h.payloads("j") == [b"helloworld"]


async def test_custom_join_into_an_object_after_a_count():
    # spec: "should join things into an object after a count" (the count is of keys)
    async with FlowHarness(join(count=5, build="object")) as h:
        for payload, topic in ((1, "a"), ("2", "b"), (True, "c"), ({"e": 5}, "d"),
                               ({"e": 7}, "d"), ({"f": 6}, "g")):
            await h.inject("j", payload=payload, topic=topic)
        assert h.payloads("j") == [{"a": 1, "b": "2", "c": True, "d": {"e": 7},
                                    "g": {"f": 6}}]
        assert h.outputs("j")[0]["topic"] == "g"


async def test_custom_join_object_key_missing():
    async with FlowHarness(join(build="object", count="2", key="topic")) as h:
        await h.inject("j", payload=1)
        assert h.warnings[0]["msg"] == ("Message missing key property 'msg.topic' - cannot "
                                        "add to object")
        assert h.outputs("j") == []


async def test_custom_join_merges_objects():
    # spec: "should merge objects"
    async with FlowHarness(join(count=5, build="merged")) as h:
        for payload, topic in (({"a": 9}, "f"), ({"a": 1}, "a"), ({"b": 9}, "b"),
                               ({"b": 2}, "b"), ({"c": 3}, "c"), ({"d": 4}, "d"),
                               ({"e": 5}, "e")):
            await h.inject("j", payload=payload, topic=topic)
        assert h.payloads("j") == [{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}]
    async with FlowHarness(join(build="merged", count="2")) as h:
        await h.inject("j", payload={"a": 1})
        await h.inject("j", payload={"a": 3, "b": 2})
        await h.inject("j", payload={"x": 1, "y": 2})  # count is the number of keys
        assert h.payloads("j") == [{"a": 3, "b": 2}, {"x": 1, "y": 2}]


async def test_custom_join_merges_sub_property_objects():
    # spec: "should merge sub property objects"
    async with FlowHarness(join(count=5, property="foo.bar", build="merged")) as h:
        for value, topic in (({"a": 9}, "f"), ({"a": 1}, "a"), ({"b": 9}, "b"),
                             ({"b": 2}, "b"), ({"c": 3}, "c"), ({"d": 4}, "d"),
                             ({"e": 5}, "e")):
            await h.inject("j", foo={"bar": value, "topic": topic})
        [out] = h.outputs("j")
        assert out["foo"] == {"bar": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, "topic": "e"}


async def test_custom_join_merges_whole_messages():
    # spec: "should merge full msg objects"
    async with FlowHarness(join(build="merged", count=6, propertyType="full",
                                property="")) as h:
        extras = ({"topic": "f"}, {"topic": "a"}, {"foo": "b"}, {"bar": "b"}, {"aha": "c"},
                  {"foo": "d"}, {"bingo": "e"})
        for number, extra in enumerate(extras, start=1):
            await h.inject("j", {"payload": number, **extra})
        [out] = h.outputs("j")  # six distinct keys are reached with the seventh message
        assert out["payload"] == {"payload": 7, "topic": "a", "foo": "d", "bar": "b",
                                  "aha": "c", "bingo": "e"}


async def test_custom_join_accumulates_a_merged_object():
    # spec: "should accumulate a merged object"
    async with FlowHarness(join(build="merged", accumulate=True, count=3)) as h:
        for payload, topic in (({"a": 1}, "a"), ({"b": 2}, "b"), ({"c": 3}, "c"),
                               ({"a": 3}, "d"), ({"b": 2}, "e"), ({"c": 1}, "f")):
            await h.inject("j", payload=payload, topic=topic)
        assert h.payloads("j") == [{"a": 1, "b": 2, "c": 3}, {"a": 3, "b": 2, "c": 3},
                                   {"a": 3, "b": 2, "c": 3}, {"a": 3, "b": 2, "c": 1}]


async def test_custom_join_resets_an_accumulation():
    # spec: "should be able to reset an accumulation"
    async with FlowHarness(join(build="merged", accumulate=True, count=3)) as h:
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


async def test_custom_join_accumulates_a_key_value_object():
    # spec: "should accumulate a key/value object"
    async with FlowHarness(join(build="object", accumulate=True, topic="bar", key="foo",
                                count=4)) as h:
        for msg in ({"payload": 2, "foo": "b"}, {"payload": 3, "foo": "c"}, {"reset": True},
                    {"payload": 1, "foo": "a"}, {"payload": 2, "foo": "b"},
                    {"payload": 3, "foo": "c"}, {"payload": 4, "foo": "d"}):
            await h.inject("j", msg)
        assert h.payloads("j") == [{"a": 1, "b": 2, "c": 3, "d": 4}]
    async with FlowHarness(join(build="object", count="2", accumulate=True)) as h:
        await h.inject("j", topic="a", payload=1)
        await h.inject("j", topic="b", payload=2)
        await h.inject("j", topic="a", payload=3)
        assert h.payloads("j") == [{"a": 1, "b": 2}, {"a": 3, "b": 2}]


@pytest.mark.parametrize(("accumulate", "sent"), [
    (True, 2), ("true", 2), (False, 1), ("false", 1)])
async def test_custom_join_accumulate_option_as_text(accumulate, sent):
    # The editor's default is the string "false", and flowrt's editor keeps a text value
    # text when the box is ticked: "true" accumulates (Node-RED: only a boolean true).
    async with FlowHarness(join(build="object", count="2", accumulate=accumulate)) as h:
        await h.inject("j", topic="a", payload=1)
        await h.inject("j", topic="b", payload=2)
        await h.inject("j", topic="a", payload=3)
        assert len(h.outputs("j")) == sent


async def test_custom_join_strings_after_a_timeout():
    # spec: "should join strings with a specifed character after a timeout"
    async with FlowHarness(join(build="string", timeout=0.05, count="", joiner=",")) as h:
        for text in "abc":
            await h.inject("j", payload=text)
        await h.advance(0.04)
        assert h.outputs("j") == []
        await h.advance(0.01)
        assert h.payloads("j") == ["a,b,c"]
        assert h.payloads("done") == ["a", "b", "c"]


async def test_custom_join_timeout_can_be_restarted():
    # spec: "should allow the timeout to be restarted" (sent 0.9 s after the first part)
    async with FlowHarness(join(build="string", timeout=0.5, count="", joiner=",")) as h:
        await h.inject("j", payload="a")
        await h.advance(0.4)
        await h.inject("j", payload="b", restartTimeout=True)
        await h.inject("j", payload="c")
        await h.advance(0.49)
        assert h.outputs("j") == []
        await h.advance(0.01)
        assert h.payloads("j") == ["a,b,c"]


async def test_custom_join_strings_complete_when_told_to():
    # spec: "should join strings with a specifed character and complete when told to"
    async with FlowHarness(join(build="string", timeout=5, count=0, joiner="\n")) as h:
        for text in ("Hello", "NodeRED", "World"):
            await h.inject("j", payload=text)
        await h.inject("j", payload="", complete=True)
        assert h.payloads("j") == ["Hello\nNodeRED\nWorld\n"]
        assert "complete" not in h.outputs("j")[0]
        await h.advance(5)
        assert len(h.outputs("j")) == 1


async def test_custom_join_whole_messages_into_an_array():
    # spec: "should join complete message objects into an array after a count"
    async with FlowHarness(join(build="array", timeout=0, count=3, propertyType="full")) as h:
        for text in "abc":
            await h.inject("j", payload=text, topic=text.upper())
        [out] = h.outputs("j")
        assert [(m["payload"], m["topic"]) for m in out["payload"]] == [
            ("a", "A"), ("b", "B"), ("c", "C")]


@pytest.mark.parametrize(("build", "expected"), [
    # spec: "should manually join things into an array, send when told complete"
    ("array", [1, 2, 3]),
    # spec: "should manually join things into an object, send when told complete"
    ("object", {"A": 1, "B": 2, "C": 3}),
])
async def test_custom_join_sends_when_told_complete(build, expected):
    async with FlowHarness(join(timeout=1, build=build)) as h:
        for payload, topic in ((1, "A"), (2, "B"), (3, "C")):
            await h.inject("j", payload=payload, topic=topic)
        await h.inject("j", complete=True)
        assert h.payloads("j") == [expected]


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


async def test_custom_join_uses_split_count_when_count_is_empty():
    flow = [TAB, node("s", "split", [["j"]]),
            node("j", "join", mode="custom", build="string", joiner="+", count="",
                 useparts=True)]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="a\nb\nc")
        assert h.payloads("j") == ["a+b+c"]


@pytest.mark.parametrize(("useparts", "expected"), [
    (None, ["a+b+c"]), (False, []), (True, ["a+b+c"]), ("false", [])])
async def test_custom_join_without_useparts_uses_msg_parts_as_node_red(useparts, expected):
    # Flows exported before the option existed have no key: Node-RED reads that as true.
    # A text "false" is false in flowrt (Node-RED: any text is true).
    config = {"mode": "custom", "build": "string", "joiner": "+", "count": ""}
    if useparts is not None:
        config["useparts"] = useparts
    flow = [TAB, node("s", "split", [["j"]]), node("j", "join", **config)]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload="a\nb\nc")
        assert h.payloads("j") == expected


async def test_custom_join_without_useparts_keeps_only_the_outer_parts():
    flow = [TAB, node("s", "split", [["j"]]),
            node("j", "join", mode="custom", build="array", count="2", useparts=False)]
    async with FlowHarness(flow) as h:
        await h.inject("s", payload=[1, 2], parts={"id": "outer", "index": 0, "count": 1})
        [out] = h.outputs("j")
        assert out["payload"] == [1, 2]
        assert out["parts"] == {"id": "outer", "index": 0, "count": 1}


async def test_join_buffer_of_wrong_type_is_an_error():
    flow = [*join(build="buffer", count="2"), node("c", "catch", scope=None)]
    async with FlowHarness(flow) as h:
        await h.inject("j", payload={"no": 1})
        assert h.outputs("c")[0]["error"]["message"] == "Cannot join object to buffer"


async def test_join_with_an_invalid_binary_joiner_fails_to_start():
    with pytest.raises(DeployError, match=r"Invalid joiner: join bin: invalid JSON"):
        async with FlowHarness(join(build="buffer", joinerType="bin", joiner="[1,")):
            pass


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


# ================================================================== reduce
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
    # spec: "should reduce messages"
    h = await reduce()
    (out,) = h.outputs("j")
    assert out["payload"] == 10
    assert out["parts"]["index"] == 3  # the last message folded, parts kept
    assert sorted(m["payload"] for m in h.outputs("done")) == [1, 2, 3, 10]


async def test_reduce_with_the_count_only_in_the_last_part():
    # spec: "should reduce messages - count only in last part"
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


# spec: "should reduce messages with init types (str|num|bool|json|bin|JSONata|env|
# flow.name|global.name)"
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
    # spec: "should reduce messages using $I"
    assert (await reduce(reduceExp="$A+$I")).payloads("j") == [6]
    # spec: "should reduce messages with fixup"
    five = [*FOUR, (0, 4)]
    assert (await reduce(five, count=5, reduceFixup="$A/$N")).payloads("j") == [2]
    text = [(str(p), i) for p, i in FOUR]
    expression = "'(' & $A & '+' & payload & ')'"
    # spec: "should reduce messages (left)"
    left = await reduce(text, reduceExp=expression, reduceInitType="str")
    assert left.payloads("j") == ["((((0+1)+2)+3)+4)"]
    # spec: "should reduce messages (right)"
    right = await reduce(text, reduceExp=expression, reduceInitType="str", reduceRight=True)
    assert right.payloads("j") == ["((((0+4)+3)+2)+1)"]
    assert right.outputs("j")[0]["parts"]["index"] == 0
    # A text "false" is false in flowrt (Node-RED: any text is true).
    left = await reduce(text, reduceExp=expression, reduceInitType="str",
                        reduceRight="false")
    assert left.payloads("j") == ["((((0+1)+2)+3)+4)"]


async def test_reduce_with_an_array_result_per_sequence():
    # spec: "should reduce messages with array result"
    async with FlowHarness(reducer(reduceExp="$append($A,[payload])", reduceInit="[]",
                                   reduceInitType="json")) as h:
        for payload, index, part_id in [(1, 0, 222), (2, 1, 222), (3, 2, 333), (4, 3, 333)]:
            await h.inject("j", payload=payload, parts={"index": index, "count": 2,
                                                        "id": part_id})
        assert h.payloads("j") == [[1, 2], [3, 4]]


# spec: "should reduce messages with flow context" / "... with global context" /
# "... with persistable flow context" / "... with persistable global context"
@pytest.mark.parametrize("store", [None, "memory"])
@pytest.mark.parametrize(("getter", "op", "expected"), [
    ("flowContext", "*", ((((1 + 1 * 2) + 2 * 2) + 3 * 2) + 4 * 2) * 3),
    ("globalContext", "/", ((((1 + 1 / 2) + 2 / 2) + 3 / 2) + 4 / 2) * 3),
])
async def test_reduce_with_context_in_every_expression(getter, op, expected, store):
    def init(node):
        context = node.ctx.flow_context if getter == "flowContext" else node.ctx.global_context
        for key, value in (("one", 1), ("two", 2), ("three", 3)):
            context.set(key, value, store)

    def get(key):
        return f'${getter}("{key}")' if store is None else f'${getter}("{key}","{store}")'

    settings = {"contextStorage": {"memory": {"module": "memory"}}} if store else None
    h = await reduce(reduceExp=f"$A+(payload{op}{get('two')})", reduceInit=get("one"),
                     reduceInitType="jsonata", reduceFixup=f"$A*{get('three')}", init=init,
                     settings=settings)
    assert h.payloads("j") == [expected]


async def test_reduce_passes_messages_without_parts():
    async with FlowHarness(reducer(reduceExp="$A")) as h:
        await h.inject("j", payload="alone")
        assert h.payloads("j") == ["alone"]


async def test_reduce_too_many_pending_messages():
    # spec: "should handle too many pending messages for reduce mode"
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


@pytest.mark.parametrize(("config", "where"), [
    # spec: "should handle invalid JSONata reduce expression - runtime error"
    ({"reduceExp": "$uknown()"}, "reduceExp"),
    # spec: "should handle invalid JSONata fixup expression - runtime err"
    ({"reduceExp": "$A", "reduceFixup": "$unknown()"}, "reduceFixup"),
])
async def test_reduce_runtime_error_is_the_last_messages_error(config, where):
    parts = {"id": 1, "type": "string", "ch": ",", "index": 0, "count": 1}
    async with FlowHarness(reducer(**config)) as h:
        await h.inject("j", payload="A", parts=parts)
        assert h.outputs("j") == []
        (caught,) = h.outputs("c")
        assert caught["payload"] == "A"
        message = caught["error"]["message"]
        assert message.startswith(f"JSONata error in {where} of join node j: ")
        assert "Attempted to invoke a non-function" in message


async def test_reduce_error_in_a_longer_sequence():
    h = await reduce(reduceExp="$A + $number(payload)", payloads=[("1", 0), ("x", 1)], count=2)
    assert h.outputs("j") == []
    (caught,) = h.outputs("c")
    assert caught["payload"] == "x"
    assert caught["error"]["message"].startswith(
        "JSONata error in reduceExp of join node j: ")
    assert [m["payload"] for m in h.outputs("done")] == ["1"]


@pytest.mark.parametrize(("config", "where"), [
    # spec: "should handle invalid JSONata reduce expression - syntax error"
    ({"reduceExp": "invalid expr"}, "reduceExp"),
    # spec: "should handle invalid JSONata fixup expression - syntax err"
    ({"reduceExp": "$A", "reduceFixup": "invalid expr"}, "reduceFixup"),
    ({"reduceFixup": "$A *"}, "reduceFixup"),
])
async def test_reduce_syntax_error_fails_the_node_creation(config, where):
    with pytest.raises(DeployError, match=f"JSONata error in {where} of join node j: "):
        async with FlowHarness(reducer(**config)):
            pass
    # Without strictDeploy the node is not running: nothing is sent.
    join_config = {"mode": "reduce", "reduceExp": "$A+payload", "reduceInit": "0",
                   "reduceInitType": "num", **config}
    flow = [TAB, node("i", "function", [["j"]], func="return msg;"),
            node("j", "join", [["o"]], **join_config),
            node("o", "function", func="return msg;")]
    async with FlowHarness(flow, settings={"strictDeploy": False}) as h:
        await h.inject("i", payload="A", parts={"id": 1, "index": 0, "count": 1})
        assert h.outputs("o") == []
        assert h.runtime.failed["j"].dropped == 1


# ==================================================== messaging API (done)
# spec: describe('messaging API'). Node-RED checks when done() is called by timing the
# complete node's output; here each step checks what the complete node has seen so far.
def split_done_flow(splt, splt_type, stream):
    return [TAB, node("s", "split", splt=splt, spltType=splt_type, stream=stream),
            node("done", "complete", [["out"]], scope=["s"], uncaught=False),
            node("c", "catch", [["out"]], scope=["s"], uncaught=False),
            node("out", "function", func="return msg;")]


@pytest.mark.parametrize("payload", [
    "12345",  # spec: "should call done() when message is sent (string)"
    [0, 1, 2, 3, 4],  # spec: "... (array)"
    {"a": 1, "b": 2},  # spec: "... (object)"
])
async def test_split_done_when_the_message_is_sent(payload):
    async with FlowHarness(split_done_flow(2, "len", False),
                           settings={"nodeMessageBufferMaxLength": 2}) as h:
        await h.inject("s", seq=0, payload=payload)
        assert [m["seq"] for m in h.outputs("out")] == [0]


@pytest.mark.parametrize(("splt", "splt_type", "chunks"), [
    # spec: "should call done() when consolidated message is emitted (string, len)"
    (5, "len", ["12", "34", "5"]),
    # spec: "... (Buffer, len)", "... (Buffer, str)", "... (Buffer, bin)"
    (5, "len", [b"12", b"34", b"5"]),
    ("5", "str", [b"12", b"34", b"5"]),
    ("[53]", "bin", [b"12", b"34", b"5"]),
])
async def test_split_done_when_the_consolidated_message_is_emitted(splt, splt_type, chunks):
    async with FlowHarness(split_done_flow(splt, splt_type, True),
                           settings={"nodeMessageBufferMaxLength": 2}) as h:
        await h.inject("s", seq=0, payload=chunks[0])
        await h.inject("s", seq=1, payload=chunks[1])
        assert h.outputs("out") == []
        await h.inject("s", seq=2, payload=chunks[2])
        assert sorted(m["seq"] for m in h.outputs("out")) == [0, 1, 2]
        assert h.outputs("c") == []


def join_done_flow(**config):
    return [TAB, node("j", "join", **config),
            node("done", "complete", [["out"]], scope=["j"], uncaught=False),
            node("c", "catch", [["out"]], scope=["j"], uncaught=False),
            node("out", "function", func="return msg;")]


async def join_done(config, steps, settings=None):
    """Feed (msg, advance, seqs done so far) steps to a join and check each."""
    async with FlowHarness(join_done_flow(**config),
                           settings=settings or {"nodeMessageBufferMaxLength": 3}) as h:
        for msg, advance, expected in steps:
            if msg is not None:
                await h.inject("j", msg)
            if advance:
                await h.advance(advance)
            assert sorted(m["seq"] for m in h.outputs("out")) == expected
        return h


def abc_part(seq, text):
    return {"seq": seq, "payload": text, "parts": string_parts(seq, 3)}


async def test_join_done_when_all_messages_are_joined():
    # spec: "should call done() when all messages are joined"
    await join_done({"mode": "auto", "timeout": 1}, [
        (abc_part(0, "A"), 0, []), (abc_part(1, "B"), 1, []),
        (abc_part(2, "C"), 0, [0, 1, 2])])


async def test_join_done_when_the_node_is_reset():
    # spec: "should call done() when the node is reset"
    await join_done({"mode": "auto", "timeout": 1}, [
        (abc_part(0, "A"), 0, []), (abc_part(1, "B"), 0, []),
        ({"seq": 2, "payload": "dummy", "reset": True, "parts": {"id": 1}}, 0, [0, 1, 2])])


async def test_join_done_when_timed_out():
    # spec: "should call done() when timed out"
    h = await join_done({"mode": "custom", "joiner": ",", "build": "string", "timeout": 0.5}, [
        ({"seq": 0, "payload": "A"}, 0.2, []), ({"seq": 1, "payload": "B"}, 0.29, []),
        (None, 0.01, [0, 1])])
    assert h.payloads("j") == ["A,B"]


def reduce_done_config():
    return {"mode": "reduce", "reduceRight": False, "reduceExp": "$A+payload",
            "reduceInit": "0", "reduceInitType": "num", "reduceFixup": None}


async def test_join_done_when_all_messages_are_reduced():
    # spec: "should call done() when all messages are reduced"
    h = await join_done(reduce_done_config(), [
        ({"seq": 0, "payload": 3, "parts": {"index": 2, "count": 3, "id": 222}}, 0, []),
        ({"seq": 1, "payload": 2, "parts": {"index": 1, "count": 3, "id": 222}}, 0, []),
        ({"seq": 2, "payload": 4, "parts": {"index": 0, "count": 3, "id": 222}}, 0,
         [0, 1, 2])])
    assert h.payloads("j") == [9]


async def test_join_done_regardless_of_buffer_overflow():
    # spec: "should call done() regardless of buffer overflow"
    h = await join_done(reduce_done_config(), [
        ({"seq": 0, "payload": 3, "parts": {"index": 2, "count": 5, "id": 222}}, 0, []),
        ({"seq": 1, "payload": 2, "parts": {"index": 1, "count": 5, "id": 222}}, 0, []),
        ({"seq": 2, "payload": 4, "parts": {"index": 0, "count": 5, "id": 222}}, 0, []),
        ({"seq": 3, "payload": 1, "parts": {"index": 3, "count": 5, "id": 222}}, 0,
         [0, 1, 2, 3])])
    assert [m["seq"] for m in h.outputs("c")] == [3]  # the overflowing message fails
    assert h.outputs("j") == []
