"""Message cloning (independent copies at any depth, cycles, shared immutables) and
property paths (the object family and Node-RED's message family)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import pytest

from flowrt.jsvalue import MISSING
from flowrt.messages import (
    clone_message,
    clone_value,
    delete_property,
    field_names,
    get_message_property,
    get_property,
    has_property,
    parse_path,
    property_getter,
    set_message_property,
    set_property,
)


def nested(depth: int) -> dict:
    """``{"a": {"a": ... 1}}``, ``depth`` dicts deep."""
    value: dict | int = 1
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


def depth_of(value: dict) -> int:
    depth = 0
    while isinstance(value, dict):
        value, depth = value["a"], depth + 1
    return depth


def test_a_clone_shares_nothing_mutable_and_keeps_immutables() -> None:
    payload = {"list": [1, {"x": bytearray(b"ab")}], "text": "t", "raw": b"r",
               "pair": (1, [2]), "tags": {"a", "b"}}
    msg = {"_msgid": "1", "payload": payload}
    copy = clone_message(msg)
    assert copy == msg
    assert copy["payload"] is not payload
    assert copy["payload"]["list"][1]["x"] is not payload["list"][1]["x"]
    assert copy["payload"]["pair"][1] is not payload["pair"][1]
    assert copy["payload"]["tags"] is not payload["tags"]
    assert copy["payload"]["text"] is payload["text"] and copy["payload"]["raw"] is payload["raw"]


def test_the_json_that_overflowed_the_recursive_copy_is_cloned() -> None:
    # Issue 11, finding 1: 600 levels of JSON (1.2 KB) from an MQTT message.
    msg = {"payload": orjson.loads('{"a":' * 600 + "1" + "}" * 600)}
    assert depth_of(clone_message(msg)["payload"]) == 600


def test_a_message_nested_deeper_than_the_stack_allows_is_cloned() -> None:
    depth = sys.getrecursionlimit() * 2
    msg = {"payload": nested(depth)}
    copy = clone_message(msg)
    assert depth_of(copy["payload"]) == depth
    inner, original = copy["payload"], msg["payload"]
    for _ in range(depth - 1):
        assert inner is not original
        inner, original = inner["a"], original["a"]
    assert clone_value([nested(depth)])[0]["a"] is not None


def test_cycles_are_copied_as_cycles() -> None:
    value: dict = {"items": [1]}
    value["self"] = value
    value["items"].append(value["items"])
    loop: list = []
    pair = (loop,)
    loop.append(pair)
    value["pair"] = pair
    copy = clone_value(value)
    assert copy is not value and copy["self"] is copy
    assert copy["items"] is not value["items"] and copy["items"][1] is copy["items"]
    assert copy["pair"][0] is not loop and copy["pair"][0][0] is copy["pair"]


def test_references_shared_inside_a_deep_value_stay_shared() -> None:
    shared = [1, 2]
    value = {"a": nested(sys.getrecursionlimit() * 2), "x": shared, "y": shared}
    copy = clone_value(value)
    assert copy["x"] is copy["y"] and copy["x"] is not shared


# ------------------------------------------------------------------ property paths
def test_parse_path() -> None:
    assert parse_path("payload.readings[0]") == ("payload", "readings", 0)
    assert parse_path('a["b.c"][\'d\']') == ("a", "b.c", "d")
    for bad in ("", "  ", "a[", "a..b"):
        with pytest.raises(ValueError, match="invalid property expression"):
            parse_path(bad)


def test_get_has_and_delete() -> None:
    msg: dict[str, Any] = {"payload": {"readings": [3, 4], "s": "abc"}, "topic": None}
    assert get_property(msg, "payload.readings[1]") == 4
    assert get_property(msg, "payload.s[0]") == "a"  # a string's character, as in JS
    assert get_property(msg, "payload.missing.x", "d") == "d"
    assert get_property(msg, "topic", "d") is None  # null is a value, not missing
    assert has_property(msg, "topic") and not has_property(msg, "payload.readings[5]")
    assert get_property(msg, "msg.topic", "d") == "d"  # the object family takes paths as written
    delete_property(msg, "payload.readings[0]")
    delete_property(msg, "payload.nothing.here")
    assert msg["payload"]["readings"] == [4]


def test_the_message_family_allows_the_msg_prefix() -> None:
    msg = {"payload": {"a": 1}}
    assert get_message_property(msg, "msg.payload.a") == 1
    assert get_message_property(msg, "payload.b", MISSING) is MISSING
    getter = property_getter("msg.payload.a")
    assert getter(msg) == 1 and getter({}, MISSING) is MISSING
    plain = property_getter("payload")
    assert plain(msg) == {"a": 1} and plain({}, "d") == "d"
    with pytest.raises(ValueError, match="invalid property expression"):
        property_getter("a[")


def test_set_message_property_creates_parents_but_not_under_values() -> None:
    msg: dict = {"payload": 5, "list": [None]}
    assert set_message_property(msg, "msg.a.b[1].c", 1)
    assert msg["a"] == {"b": [None, {"c": 1}]}
    assert set_message_property(msg, "list[0].x", 2) and msg["list"] == [{"x": 2}]
    assert not set_message_property(msg, "payload.x", 1)
    assert msg["payload"] == 5
    assert set_message_property(msg, "a.b", MISSING) and msg["a"] == {}
    with pytest.raises(TypeError, match="cannot set property 'x' of a list"):
        set_message_property(msg, "list.x", 1)


def test_set_property_replaces_what_is_in_its_way() -> None:
    values: dict = {"a": 5}
    set_property(values, "a.b[2]", "x")
    assert values == {"a": {"b": [None, None, "x"]}}


def test_field_names_are_last_segments_unless_they_collide() -> None:
    assert field_names(["payload.temp", "payload.hum"]) == ["temp", "hum"]
    assert field_names(["a.temp", "b.temp", "c[0]"]) == ["a.temp", "b.temp", "0"]
