"""switch: routes a message to the outputs whose rule matches a property."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from flowrt.buffering import buffer_limit
from flowrt.jsregex import js_regex
from flowrt.jsvalue import MISSING, compare, is_nan, js_number, js_string, loose_equals
from flowrt.messages import Message, clone_message, new_msgid
from flowrt.node import Node, NodeContext
from flowrt.schema import boolean, enum, integer, one_line, show_if, string, typed
from flowrt.typed_input import TypedInputError, TypedValue

_RULE_WORDS = {
    "eq": "==", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
    "btwn": "is between", "cont": "contains", "regex": "matches regex", "true": "is true",
    "false": "is false", "null": "is null", "nnull": "is not null", "empty": "is empty",
    "nempty": "is not empty", "istype": "is of type", "head": "head", "tail": "tail",
    "index": "index between", "hask": "has key", "jsonata_exp": "JSONata exp",
    "else": "otherwise"}
_WITH_VALUE = ["eq", "neq", "lt", "lte", "gt", "gte", "btwn", "cont", "regex", "istype",
               "head", "tail", "index", "hask", "jsonata_exp"]
_RULE_TYPES = ["eq", "neq", "lt", "lte", "gt", "gte", "btwn", "cont", "regex", "true", "false",
               "null", "nnull", "empty", "nempty", "istype", "head", "tail", "index", "hask",
               "jsonata_exp", "else"]


def _ordered(ok: Callable[[int], bool]) -> Callable[..., bool]:
    def test(a: Any, b: Any, c: Any, msg: Message) -> bool:
        result = compare(a, b)
        return result is not None and ok(result)
    return test


def _between(a: Any, b: Any, c: Any, msg: Message) -> bool:
    ab, ac = compare(a, b), compare(a, c)
    if ab is None or ac is None:
        return False
    return (ab >= 0 and ac <= 0) or (ab <= 0 and ac >= 0)


def _size(a: Any) -> int | None:
    if isinstance(a, str | list | tuple | bytes | bytearray | dict):
        return len(a)
    return None


def _is_type(a: Any, b: Any, c: Any, msg: Message) -> bool:
    if b == "array":
        return isinstance(a, list | tuple)
    if b == "buffer":
        return isinstance(a, bytes | bytearray)
    if b == "json":
        if isinstance(a, str | bytes):
            try:
                orjson.loads(a)
            except orjson.JSONDecodeError:
                return False
            return True
        return a is None or isinstance(a, bool | int | float)
    if b == "null":
        return a is None
    if b == "undefined":
        return a is MISSING
    if b == "number":
        return isinstance(a, int | float) and not isinstance(a, bool) and not is_nan(a)
    if b == "string":
        return isinstance(a, str)
    if b == "boolean":
        return isinstance(a, bool)
    if b == "object":
        return isinstance(a, dict)
    return False


def _parts(msg: Message) -> dict[str, Any]:
    parts = msg.get("parts")
    if not isinstance(parts, dict):
        raise ValueError("this rule needs msg.parts (the message is not part of a sequence)")
    return parts


def _has_key(a: Any, b: Any, c: Any, msg: Message) -> bool:
    if a is None or a is MISSING or isinstance(b, dict | list):
        return False
    key = js_string(b)
    if isinstance(a, dict):
        return key in a
    if isinstance(a, list | tuple | str):
        return key.isdigit() and int(key) < len(a)
    return False


_OPERATORS: dict[str, Callable[[Any, Any, Any, Message], bool]] = {
    "eq": lambda a, b, c, msg: loose_equals(a, b),
    "neq": lambda a, b, c, msg: not loose_equals(a, b),
    "lt": _ordered(lambda r: r < 0),
    "lte": _ordered(lambda r: r <= 0),
    "gt": _ordered(lambda r: r > 0),
    "gte": _ordered(lambda r: r >= 0),
    "btwn": _between,
    "cont": lambda a, b, c, msg: js_string(b) in js_string(a),
    "regex": lambda a, b, c, msg: b.search(js_string(a)) is not None,
    "true": lambda a, b, c, msg: a is True,
    "false": lambda a, b, c, msg: a is False,
    "null": lambda a, b, c, msg: a is None or a is MISSING,
    "nnull": lambda a, b, c, msg: a is not None and a is not MISSING,
    "empty": lambda a, b, c, msg: _size(a) == 0,
    "nempty": lambda a, b, c, msg: bool(_size(a)),
    "istype": _is_type,
    "head": lambda a, b, c, msg: _parts(msg).get("index", 0) < js_number(b),
    "tail": lambda a, b, c, msg: (js_number(_parts(msg).get("count")) - js_number(b)
                                  <= _parts(msg).get("index", 0)),
    "index": lambda a, b, c, msg: js_number(b) <= _parts(msg).get("index", 0) <= js_number(c),
    "hask": _has_key,
    "jsonata_exp": lambda a, b, c, msg: b is True,
    "else": lambda a, b, c, msg: a is True,
}
_NO_VALUE = {"true", "false", "null", "nnull", "empty", "nempty", "else"}


class _Rule:
    """One compiled rule: its operator and how to get its values for a message."""

    __slots__ = ("case", "dynamic", "op", "t", "v1", "v2")

    def __init__(self, node: Switch, rule: dict[str, Any], number: int) -> None:
        self.t = t = rule.get("t")
        if t not in _OPERATORS:
            raise TypedInputError(f"rule {number}: unknown rule type {t!r}")
        self.op = _OPERATORS[t]
        self.case = bool(rule.get("case"))
        self.v1 = self._value(node, rule, "v", "vt", number)
        self.v2 = self._value(node, rule, "v2", "v2t", number) if "v2" in rule else None
        if t == "regex":
            self.v1 = self._regex(self.v1, number)
        self.dynamic = callable(self.v1) or callable(self.v2)

    def _value(self, node: Switch, rule: dict[str, Any], key: str, type_key: str,
               number: int) -> Any:
        """A constant, a callable ``(msg) -> value``, or None when the rule needs none."""
        value, vtype = rule.get(key), rule.get(type_key)
        if self.t in _NO_VALUE:
            return None
        if self.t == "istype":
            return value
        if not vtype:
            vtype = "str" if is_nan(js_number(MISSING if value is None else value)) else "num"
        if vtype == "prev":
            return lambda msg: node.previous_value
        if vtype in ("json", "null"):
            return vtype  # Node-RED compares with the type name itself
        if vtype == "jsonata" and self.t == "jsonata_exp":
            return _sequence_expression(node, value, f"rule {number}")
        typed = TypedValue(node, value, vtype, f"rule {number} {key!r}")
        if typed.is_constant:
            return typed.get()
        return lambda msg: typed.get(msg, MISSING)

    def _regex(self, value: Any, number: int) -> Any:
        flags = "i" if self.case else ""
        if callable(value):
            return lambda msg: js_regex(js_string(value(msg)), flags)
        try:
            return js_regex(js_string(value), flags)
        except re.error as exc:
            raise TypedInputError(f"rule {number}: invalid regular expression "
                                  f"{value!r}: {exc}") from None

    def matches(self, a: Any, msg: Message) -> bool:
        """Whether ``a`` (the switch property) passes this rule."""
        v1, v2 = self.v1, self.v2
        if self.dynamic:
            v1 = v1(msg) if callable(v1) else v1
            v2 = v2(msg) if callable(v2) else v2
        return self.op(a, v1, v2, msg)


def _sequence_expression(node: Switch, value: Any, where: str) -> Callable[[Message], Any]:
    """A ``jsonata_exp`` rule's expression: for a message of a sequence (``msg.parts``
    with ``id`` and ``index``) ``$I`` is its index and ``$N`` the sequence's count."""
    from flowrt.jsonata import JSONataExpression  # loaded only by flows that use JSONata

    expr = JSONataExpression(js_string("" if value is None else value), node, where)

    def evaluate(msg: Message) -> Any:
        parts = msg.get("parts")
        if type(parts) is dict and "id" in parts and "index" in parts:
            return expr.evaluate(msg, MISSING, {"I": parts["index"],
                                                "N": parts.get("count")})
        return expr.evaluate(msg, MISSING)

    return evaluate


class Switch(Node):
    """Routes each message to the outputs whose rule matches a property.

    `property` (`propertyType` `msg`, `flow`, `global` or `env`) is tested against each
    rule in `rules` (`{t, v, vt, v2, v2t, case}`), one output per rule. Rule types:
    `eq neq lt lte gt gte` (JavaScript's loose comparisons: `"5"` equals 5), `btwn`
    (inclusive, either order), `cont`, `regex` (`case` true ignores case), `true`,
    `false`, `null`, `nnull`, `empty`, `nempty`, `istype` (`v` one of `string number
    boolean array buffer object json null undefined`), `hask` (has key), `head`, `tail`,
    `index` (position in a sequence, from `msg.parts`), `jsonata_exp` (the JSONata
    expression in `v` gives exactly `true`; in a sequence `$I` is the message's index and
    `$N` the count) and `else` (matches when no earlier rule did). Values are typed inputs
    (`str num bool json msg flow global env jsonata prev`, `prev` being the property's
    value for the previous message).

    `checkall` `"true"` sends to every matching output, `"false"` only to the first.
    A message going to several outputs is copied for each after the first.

    Sequences (messages with `msg.parts`, as split makes them): with `repair` true, or a
    `tail` rule, the node holds each sequence until its last message has arrived (its
    `parts.count` known), then routes it; with `repair`, every output gets its own
    sequence with rebuilt `msg.parts` (new id, index and count). At most
    `nodeMessageBufferMaxLength` messages are held (setting; 0 = 10,000, as delay, trigger,
    split and join); beyond that the held messages are dropped with an error.

    JSONata (`propertyType` `jsonata`, `jsonata` values, `jsonata_exp` rules) is evaluated
    against the message as Node-RED does (see the change node), with `$flowContext`,
    `$globalContext`, `$env`, `$moment`. A syntax error fails the node's creation. When
    the property expression fails for a message, the node warns and drops the message
    (Node-RED's rule); when a rule's value fails, that is the message's error (`catch`).
    """

    type = "switch"
    category = "function"
    color = "#e2d96e"
    icon = "switch"
    # One output per rule: the editor keeps `outputs` (saved as Node-RED does) in step.
    editor: ClassVar = {"label": "name", "outputsFrom": "rules"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "property": typed("payload", title="Property"),
        "propertyType": enum(["msg", "flow", "global", "env", "jsonata"], "msg",
                             title="Property type"),
        "rules": {"type": "array", "default": [{"t": "eq", "v": "", "vt": "str"}],
                  "title": "Rules (one output each)",
                  "items": one_line({
                      "type": "object", "required": ["t"], "title": "Rule", "properties": {
                      "t": enum(_RULE_TYPES, "eq", title="Test", labels=_RULE_WORDS),
                      "v": show_if({"x-kind": "typed", "x-type-key": "vt", "title": "Value"},
                                   t=_WITH_VALUE),
                      "vt": {"type": "string", "default": "str", "title": "Value type"},
                      "v2": show_if({"x-kind": "typed", "x-type-key": "v2t", "title": "and"},
                                    t=["btwn", "index"]),
                      "v2t": {"type": "string", "default": "str", "title": "Second value type"},
                      "case": show_if(boolean(False, title="ignore case"), t="regex")}},
                      "v2", "case")},
        "checkall": enum(["true", "false", True, False], "true", title="When a rule matches",
                         labels={"true": "checking all rules",
                                 "false": "stopping after the first match"}),
        "repair": boolean(False, title="Recreate message sequences"),
        "outputs": integer(1, minimum=0, title="Outputs", **{"x-hidden": True}),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self.previous_value: Any = None
        self._held: dict[Any, tuple[list[Message], Any]] = {}
        self._routed: dict[Any, list[list[Message | None]]] = {}
        self._pending = 0
        # Compiled at creation: a bad rule or expression is a configuration error.
        property_type = config.get("propertyType") or "msg"
        self._property = TypedValue(self, config.get("property") or "payload",
                                    property_type, "property")
        self._property_is_jsonata = property_type == "jsonata"
        rules = config.get("rules") or []
        self._rules = [_Rule(self, rule, i + 1) for i, rule in enumerate(rules)]
        self._first_only = str(config.get("checkall")).lower() == "false"
        self._repair = config.get("repair") in (True, "true")
        self._hold = self._repair or any(rule.t == "tail" for rule in self._rules)

    async def start(self) -> None:
        self._max_held = buffer_limit(self)

    def on_input(self, msg: Message) -> None:
        parts = msg.get("parts")
        if self._hold and type(parts) is dict and "id" in parts and "index" in parts:
            self._hold_message(msg, parts)
            return
        self._route(msg, None)

    def _route(self, msg: Message, parts: dict[str, Any] | None) -> None:
        if self._property_is_jsonata:
            try:
                value = self._property.get(msg, MISSING)
            except ValueError as exc:  # a JSONata error (JSONataEvaluationError)
                self.warn(str(exc))  # Node-RED warns and drops the message
                return
        else:
            value = self._property.get(msg, MISSING)
        onward: list[Message | None] = []
        else_flag = True
        for rule in self._rules:
            if rule.t == "else":
                matched, else_flag = else_flag, True
            else:
                matched = rule.matches(value, msg)
            if matched:
                onward.append(msg)
                else_flag = False
                if self._first_only:
                    break
            else:
                onward.append(None)
        self.previous_value = value
        if parts is not None and self._repair:
            self._regroup(onward, msg, parts)
        elif onward:
            self.send(onward)

    # -------------------------------------------------------------- sequences
    def _hold_message(self, msg: Message, parts: dict[str, Any]) -> None:
        """Keep a sequence's messages until the whole sequence (its count) is known."""
        msgs, count = self._held.get(parts["id"], ([], None))
        msgs.append(msg)
        count = parts.get("count", count)
        self._held[parts["id"]] = (msgs, count)
        self._count_pending(1, msg)
        if count is not None and len(msgs) >= count:
            del self._held[parts["id"]]
            self._pending -= len(msgs)
            for held in msgs:
                held["parts"]["count"] = count
                self._route(held, held["parts"])

    def _regroup(self, onward: list[Message | None], msg: Message,
                 parts: dict[str, Any]) -> None:
        """Collect a sequence's routing; when complete, send one new sequence per output."""
        routed = self._routed.setdefault(parts["id"], [])
        routed.append(onward)
        self._count_pending(1, msg)
        if len(routed) < js_number(parts.get("count")):
            return
        del self._routed[parts["id"]]
        self._pending -= len(routed)
        ports = len(self._rules)
        counts = [sum(1 for o in routed if j < len(o) and o[j] is not None)
                  for j in range(ports)]
        ids = [new_msgid() for _ in range(ports)]
        indexes = [0] * ports
        for entry in routed:
            out: list[Message | None] = []
            for j in range(ports):
                original = entry[j] if j < len(entry) else None
                if original is None:
                    out.append(None)
                    continue
                copy = clone_message(original)
                copy["parts"].update(id=ids[j], index=indexes[j], count=counts[j])
                indexes[j] += 1
                out.append(copy)
            self.send(out)

    def _count_pending(self, added: int, msg: Message) -> None:
        self._pending += added
        if self._pending > self._max_held:
            self._held.clear()
            self._routed.clear()
            self._pending = 0
            self.error("too many pending messages in switch node", msg)

    async def close(self, removed: bool) -> None:
        self._held.clear()
        self._routed.clear()
        self._pending = 0
