"""debug: the sidebar message shape, encodeObject formats, active toggle, console, status."""

from __future__ import annotations

import logging
import math

import orjson
import pytest

from flowrt.debug_encoding import DEBUG_MAX_DEPTH, encode_debug
from flowrt.errors import DeployError
from flowrt.jsvalue import MISSING
from flowrt.testing import FlowHarness


def debug(**config):
    base = {"name": "debug 1", "active": True, "tosidebar": True, "console": False,
            "tostatus": False, "complete": "false", "statusVal": "", "statusType": "auto"}
    return [{"id": "d", "type": "debug", "z": "t1", "x": 0, "y": 0, "wires": [],
             **base, **config}]


def sidebar(h):
    return [data for topic, data in h.events if topic == "debug" and "level" not in data]


async def test_node_red_export_publishes_node_red_shape():
    flow = [{"id": "t1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "",
             "env": []},
            {"id": "8a9b0c1d2e3f4a5b", "type": "debug", "z": "t1", "name": "debug 1",
             "active": True, "tosidebar": True, "console": False, "tostatus": False,
             "complete": "false", "statusVal": "", "statusType": "auto", "x": 420, "y": 160,
             "wires": []}]
    async with FlowHarness(flow) as h:
        await h.inject("8a9b0c1d2e3f4a5b", payload={"t": 21.5}, topic="room")
        assert sidebar(h) == [{"id": "8a9b0c1d2e3f4a5b", "z": "t1", "path": "t1",
                               "name": "debug 1", "topic": "room", "property": "payload",
                               "msg": '{"t":21.5}', "format": "Object"}]


async def test_complete_message_and_property_paths():
    async with FlowHarness(debug(complete="true")) as h:
        await h.inject("d", payload=1, _msgid="m")
        (data,) = sidebar(h)
        assert "property" not in data and "topic" not in data
        assert orjson.loads(data["msg"]) == {"payload": 1, "_msgid": "m"}
    async with FlowHarness(debug(complete="reading.value")) as h:
        await h.inject("d", reading={"value": 3})
        await h.inject("d", payload=1)
        first, second = sidebar(h)
        assert (first["property"], first["msg"], first["format"]) == ("reading.value", "3",
                                                                      "number")
        assert (second["msg"], second["format"]) == ("(undefined)", "undefined")


async def test_inactive_or_not_to_sidebar_publishes_nothing():
    async with FlowHarness(debug(active=False)) as h:
        await h.inject("d", payload=1)
        h.node("d").active = True  # what POST /debug/:id/enable does
        await h.inject("d", payload=2)
        assert [d["msg"] for d in sidebar(h)] == ["2"]
    async with FlowHarness(debug(tosidebar=False)) as h:
        await h.inject("d", payload=1)
        assert sidebar(h) == []


async def test_console_logs(caplog):
    async with FlowHarness(debug(console="true", tosidebar=False)) as h:
        with caplog.at_level(logging.INFO, logger="flowrt.node.debug"):
            await h.inject("d", payload="hello")
        assert "hello" in caplog.text


@pytest.mark.parametrize(("value", "msg", "fmt"), [
    ("abc", "abc", "string[3]"),
    ("x" * 1200, "x" * 1000 + "...", "string[1200]"),
    (5, "5", "number"), (2.0, "2", "number"), (0.1, "0.1", "number"),
    (math.nan, "NaN", "number"), (True, "true", "boolean"), (None, "(undefined)", "null"),
    (MISSING, "(undefined)", "undefined"),
    (b"\x01\xff", "01ff", "buffer[2]"),
    ([1, "a"], '[1,"a"]', "array[2]"),
    ({"b": b"\x01"}, '{"b":{"type":"Buffer","data":[1],"__enc__":true,"length":1}}', "Object"),
    ({"n": math.inf}, '{"n":{"__enc__":true,"type":"number","data":"Infinity"}}', "Object"),
    ({"s": {1}}, '{"s":{"__enc__":true,"type":"set","data":[1],"length":1}}', "Object"),
    (ValueError("bad"), '{"__enc__":true,"type":"error","data":{"name":"ValueError",'
                        '"message":"bad"}}', "error"),
])
def test_encode_debug_formats(value, msg, fmt):
    assert encode_debug(value) == (msg, fmt)


def test_encode_debug_truncates_long_arrays_buffers_and_nested_strings():
    text, fmt = encode_debug(list(range(1500)))
    data = orjson.loads(text)
    assert fmt == "array[1500]"
    assert data["__enc__"] and data["length"] == 1500 and len(data["data"]) == 1000
    text, fmt = encode_debug(bytes(800))
    assert fmt == "buffer[800]" and len(text) == 1000
    nested = orjson.loads(encode_debug({"s": "y" * 1001})[0])
    assert nested["s"] == "y" * 1000 + "..."


def test_encode_debug_survives_cycles():
    loop = {"a": 1}
    loop["self"] = loop
    assert orjson.loads(encode_debug(loop)[0]) == {"a": 1, "self": "[Circular ~]"}


async def test_debug_max_length_setting():
    async with FlowHarness(debug(), settings={"debugMaxLength": 5}) as h:
        await h.inject("d", payload="abcdefgh")
        assert sidebar(h)[0]["msg"] == "abcde..."


async def test_status_auto_shows_value_and_errors():
    async with FlowHarness(debug(tostatus=True, tosidebar=False)) as h:
        await h.inject("d", payload="a long text that does not fit into the status line")
        assert h.status("d") == {"fill": "grey", "shape": "dot",
                                 "text": "a long text that does not fit in..."}
        await h.inject("d", payload=1, error={"message": "boom"})
        assert h.status("d") == {"fill": "red", "shape": "dot", "text": "boom"}
        await h.deploy([])
        assert h.status("d") == {}


async def test_status_from_another_property():
    async with FlowHarness(debug(tostatus=True, statusType="msg", statusVal="level")) as h:
        await h.inject("d", payload=1, level=42)
        assert h.status("d")["text"] == "42"


async def test_status_counter_is_throttled():
    async with FlowHarness(debug(tostatus=True, statusType="counter")) as h:
        assert h.status("d") == {"fill": "blue", "shape": "ring", "text": "0"}
        await h.advance(1)
        for _ in range(3):
            await h.inject("d", payload=1)
        assert h.status("d")["text"] == "1"
        await h.advance(0.2)
        assert h.status("d")["text"] == "3"


async def test_ignores_its_own_status_messages():
    async with FlowHarness(debug()) as h:
        await h.inject("d", status={"text": "x", "source": {"id": "d"}})
        assert sidebar(h) == []


async def test_jsonata_target_shows_the_expression_value():
    async with FlowHarness(debug(targetType="jsonata", complete="payload * 2",
                                 tostatus=True, statusType="auto")) as h:
        await h.inject("d", payload=21, topic="t")
        (data,) = sidebar(h)
        assert (data["msg"], data["format"], data["topic"]) == ("42", "number", "t")
        assert "property" not in data
        assert h.status("d")["text"] == "42"


async def test_jsonata_status_shows_the_status_expression():
    async with FlowHarness(debug(tostatus=True, statusType="jsonata",
                                 statusVal="$string(payload.t) & ' °C'")) as h:
        await h.inject("d", payload={"t": 20.5})
        assert h.status("d") == {"fill": "grey", "shape": "dot", "text": "20.5 °C"}
        assert sidebar(h)[0]["msg"] == '{"t":20.5}'


async def test_jsonata_evaluation_error_is_logged_and_nothing_shown():
    async with FlowHarness(debug(targetType="jsonata", complete="$nope(payload)")) as h:
        await h.inject("d", payload=1)
        assert sidebar(h) == []
        (error,) = h.errors
        assert error["msg"] == ("JSONata error in complete of debug node d: Attempted to "
                                "invoke a non-function in '$nope(payload)'")


async def test_jsonata_syntax_error_fails_the_node_creation():
    with pytest.raises(DeployError, match="JSONata error in statusVal of debug node d"):
        async with FlowHarness(debug(tostatus=True, statusType="jsonata", statusVal="(")):
            pass


def test_encode_debug_shows_deep_values_down_to_a_depth():
    deep = value = {}
    nested = items = []
    for _ in range(600):  # deeper than the JSON encoder and the recursion limit allow
        value["a"] = value = {}
        items.append(items := [])
    for given, marker in ((deep, "[Object]"), (nested, "[Array]")):
        shown, levels = orjson.loads(encode_debug(given)[0]), 0
        while not isinstance(shown, str):
            shown, levels = (shown["a"] if isinstance(shown, dict) else shown[0]), levels + 1
        assert (levels, shown) == (DEBUG_MAX_DEPTH, marker)


async def test_huge_topics_are_cut_like_values():
    async with FlowHarness(debug(), settings={"debugMaxLength": 5}) as h:
        await h.inject("d", payload=1, topic="t" * 1_000_000)
        await h.inject("d", payload=2, topic={"k": "v" * 100})
        first, second = sidebar(h)
        assert first["topic"] == "ttttt..."
        assert second["topic"] == '{"k":...'


async def test_an_empty_jsonata_target_shows_the_payload_as_node_red_does():
    async with FlowHarness(debug(targetType="jsonata", complete="")) as h:
        await h.inject("d", payload="p")
        assert [d["msg"] for d in sidebar(h)] == ["p"]
