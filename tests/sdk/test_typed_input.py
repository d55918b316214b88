"""flowrt.typed_input through a plugin-shaped node: every type, constants vs lookups,
and the errors that fail a deploy."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from flowrt.errors import DeployError
from flowrt.jsvalue import MISSING
from flowrt.messages import Message
from flowrt.node import Node
from flowrt.testing import FlowHarness
from flowrt.typed_input import (
    TYPES,
    TypedInputError,
    TypedValue,
    context_of,
    evaluator_for,
    format_date,
)

START_MS = 1_767_225_600_000  # the FakeClock's 2026-01-01T00:00:00Z


class Probe(Node):
    """Sends the value of its typed input ``v``/``vt`` for each message as ``msg.payload``
    (``"MISSING"`` for a missing property)."""

    type = "typed-probe"
    schema: ClassVar = {"type": "object", "properties": {}}

    async def start(self) -> None:
        self.value = TypedValue(self, self.config.get("v"), self.config.get("vt"), "v")

    def on_input(self, msg: Message) -> None:
        result = self.value.get(msg, MISSING)
        msg["payload"] = "MISSING" if result is MISSING else result
        self.send(msg)


def flow(v: Any, vt: str | None, env: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    return [{"id": "t1", "type": "tab", "label": "F", "env": env or []},
            {"id": "p", "type": "typed-probe", "z": "t1", "v": v, "vt": vt, "wires": [[]]}]


async def evaluate(v: Any, vt: str | None, msg: Message | None = None, **kw: Any) -> Any:
    async with FlowHarness(flow(v, vt, **kw), node_types=[Probe]) as h:
        h.send("p", msg or {})
        await h.settle()
        return h.payloads("p")[0]


@pytest.mark.parametrize(("v", "vt", "expected"), [
    ("hello", "str", "hello"), ("hello", None, "hello"), (5, "str", "5"),
    ("42", "num", 42), ("-1.5", "num", -1.5), ("0x10", "num", 16), ("", "num", 0),
    ("true", "bool", True), ("false", "bool", False), (True, "bool", True),
    ('{"a":[1,2]}', "json", {"a": [1, 2]}), ("[65,66]", "bin", b"AB"), ('"AB"', "bin", b"AB"),
])
async def test_constant_types(v: Any, vt: str | None, expected: Any) -> None:
    value = await evaluate(v, vt)
    assert value == expected and type(value) is type(expected)


async def test_a_regex_is_compiled_as_javascript_would() -> None:
    value = await evaluate("(?<word>\\w+)", "re")
    assert isinstance(value, re.Pattern)
    match = value.match("abc")
    assert match is not None and match["word"] == "abc"


async def test_dates() -> None:
    assert await evaluate("", "date") == START_MS
    assert await evaluate("iso", "date") == "2026-01-01T00:00:00.000Z"
    assert await evaluate("x [ms]", "date") == f"{START_MS} ms"
    when = await evaluate("object", "date")
    assert isinstance(when, datetime) and when.timestamp() * 1000 == START_MS


def test_every_moment_token_of_a_date_format() -> None:
    when = datetime(2026, 3, 2, 15, 4, 5, 678000, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    fmt = "YYYY YY MMMM MMM MM M Do DD D dddd ddd dd d HH H hh h mm m ss s SSS SS S A a ZZ Z X x"
    assert format_date(f"{fmt} [at HH]", when) == (
        "2026 26 March Mar 03 3 2nd 02 2 Monday Mon Mo 1 15 15 03 3 04 4 05 5 678 67 6 PM pm "
        "+0530 +05:30 1772444045 1772444045678 at HH")


async def test_message_properties_with_or_without_msg_prefix() -> None:
    msg = {"payload": {"readings": [3, 4]}, "topic": "t"}
    assert await evaluate("payload.readings[1]", "msg", msg) == 4
    assert await evaluate("msg.topic", "msg", msg) == "t"
    assert await evaluate("nothing.here", "msg", msg) == "MISSING"


async def test_flow_and_global_context() -> None:
    async with FlowHarness(flow("counts[msg.topic]", "flow"), node_types=[Probe]) as h:
        context_of(h.node("p"), "flow").set("counts", {"a": 1})
        h.send("p", {"topic": "a"})
        h.send("p", {"topic": "b"})
        await h.settle()
        assert h.payloads("p") == [1, "MISSING"]
    async with FlowHarness(flow("#:(memory)::limit", "global"), node_types=[Probe]) as h:
        context_of(h.node("p"), "global").set("limit", 9, "memory")
        h.send("p", {})
        await h.settle()
        assert h.payloads("p") == [9]


@pytest.mark.parametrize(("v", "expected"), [
    ("DEVICE", "pump-7"), ("id-${DEVICE}-${UNSET_X}", "id-pump-7-"), ("UNSET_X", ""),
])
async def test_environment_variables(v: str, expected: str) -> None:
    env = [{"name": "DEVICE", "value": "pump-7", "type": "str"}]
    assert await evaluate(v, "env", env=env) == expected


async def test_json_constants_are_copied_for_every_message() -> None:
    async with FlowHarness(flow('{"a": 1}', "json"), node_types=[Probe]) as h:
        h.send("p", {})
        h.send("p", {})
        await h.settle()
        first, second = h.payloads("p")
        assert first == second and first is not second
        probe = h.node("p")
        assert isinstance(probe, Probe)
        typed = probe.value
        assert typed.is_constant and typed.type == "json" and typed.raw == '{"a": 1}'


@pytest.mark.parametrize(("v", "vt", "text"), [
    ("payload +", "jsonata",
     "JSONata error in v of typed-probe node p: Unexpected end of expression (at character 9) "
     "in 'payload +'"),
    ("x", "nope", "unknown value type 'nope'"),
    ("{bad", "json", "invalid JSON"),
    ("(", "re", "invalid regular expression"),
    ("[1,{}]", "bin", "buffer data"),
    ("a[", "msg", "invalid property expression"),
    ("", "flow", "empty flow context key"),
])
async def test_values_that_can_never_be_evaluated_fail_the_deploy(v: str, vt: str,
                                                                   text: str) -> None:
    with pytest.raises(DeployError, match=re.escape(text)):
        async with FlowHarness(flow(v, vt), node_types=[Probe]):
            pass


def test_every_type_has_one_evaluator() -> None:
    assert TYPES == ("str", "num", "bool", "json", "bin", "re", "date", "msg", "flow",
                     "global", "env", "jsonata")
    assert all(callable(evaluator_for(t, None, "v")) for t in TYPES)
    with pytest.raises(TypedInputError, match="unknown value type 'jsonatax'"):
        evaluator_for("jsonatax", "$x", "v")


@pytest.mark.parametrize(("v", "msg", "expected"), [
    ("payload.t * 2", {"payload": {"t": 21}}, 42),
    ("msg.topic & '!'", {"topic": "a"}, "a!"),          # legacy mode: mentions msg.
    ("$env('DEVICE')", {}, "pump-7"),
    ("nothing", {}, "MISSING"),                         # undefined is the caller's default
    ("$millis()", {}, START_MS),
])
async def test_jsonata_values(v: str, msg: Message, expected: Any) -> None:
    env = [{"name": "DEVICE", "value": "pump-7", "type": "str"}]
    assert await evaluate(v, "jsonata", msg, env=env) == expected
