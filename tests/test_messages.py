"""Message cloning: independent copies at any depth, cycles, shared immutables."""

from __future__ import annotations

import sys

import orjson

from flowrt.messages import clone_message, clone_value


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
