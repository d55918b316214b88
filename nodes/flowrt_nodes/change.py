"""change: sets, changes, deletes and moves message and context properties."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from flowrt.context import Context
from flowrt.jsregex import js_regex, js_replacer
from flowrt.jsvalue import MISSING, js_number, js_string
from flowrt.messages import Message, clone_value, get_message_property, set_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import boolean, one_line, string
from flowrt.typed_input import (
    TypedInputError,
    TypedValue,
    context_of,
    parse_context_key,
    resolve_nested,
)

_ESCAPE = re.compile(r"[-\[\]{}()*+?.,\\^$|#\s]")
_FROM_TYPES = ("str", "num", "bool", "re", "msg", "flow", "global", "env")


class _Stop(Exception):
    """A rule failed: the error was reported and the message goes no further."""


class _Rule:
    """One primitive rule (set, change or delete) compiled for its node."""

    __slots__ = ("context", "dc", "from_re", "from_type", "from_value", "key", "node", "p",
                 "store", "t", "to", "to_bool")

    def __init__(self, node: Change, rule: dict[str, Any], what: str) -> None:
        self.node = node
        self.t = rule["t"]
        self.p = js_string(rule.get("p") or "")
        pt = rule.get("pt") or "msg"
        if pt not in ("msg", "flow", "global"):
            raise TypedInputError(f"{what}: cannot {self.t} a property of type {pt!r}")
        if not self.p.strip():
            raise TypedInputError(f"{what}: the property to {self.t} is empty")
        self.context: Context | None = None
        self.store, self.key = None, self.p
        if pt != "msg":
            self.context = context_of(node, pt)
            self.store, self.key = parse_context_key(self.p)
        self.dc = bool(rule.get("dc"))
        tot = rule.get("tot") or "str"
        self.to_bool = tot == "bool"
        self.to: TypedValue | None = None
        if self.t in ("set", "change"):
            # Only `to` takes JSONata, so "rule 2" alone places an expression.
            self.to = TypedValue(node, "" if rule.get("to") is None else rule["to"], tot,
                                 what if tot == "jsonata" else f"{what} 'to'")
        self.from_type: str | TypedValue | None = None
        self.from_value: str | None = None
        self.from_re: re.Pattern[str] | None = None
        if self.t == "change":
            self._compile_from(node, rule, what)

    def _compile_from(self, node: Change, rule: dict[str, Any], what: str) -> None:
        fromt = rule.get("fromt") or "str"
        if fromt not in _FROM_TYPES:
            raise TypedInputError(f"{what}: unknown 'from' type {fromt!r}")
        source = "" if rule.get("from") is None else rule["from"]
        if fromt in ("msg", "flow", "global"):
            self.from_type = TypedValue(node, source, fromt, f"{what} 'from'")
            return
        if fromt == "env":
            source = TypedValue(node, source, "env", f"{what} 'from'").get()
        self.from_type = fromt
        self.from_value = text = js_string(source)
        pattern = text if fromt == "re" else _ESCAPE.sub(r"\\\g<0>", text)
        try:
            self.from_re = js_regex(pattern)
        except re.error as exc:
            raise TypedInputError(f"{what}: invalid 'from' property: {exc}") from None

    # --------------------------------------------------------------- applying
    def apply(self, msg: Message) -> None:
        """Apply the rule to ``msg`` (or context); raises _Stop after reporting a failure."""
        if self.t == "delete":
            self._write(msg, MISSING)
            return
        assert self.to is not None
        value = self.to.get(msg, MISSING)
        if self.dc:
            value = clone_value(value)
        if self.t == "set":
            if not self._write(msg, value):
                self.node.warn(f"Cannot set property of non-object type: {self.p}")
            return
        from_type, from_value, from_re = self._from(msg)
        current = self._read(msg)
        if isinstance(current, str):
            if from_type in ("num", "bool", "str") and current == from_value:
                self._write(msg, value)
                return
            if from_re is None:
                return
            replaced: Any = from_re.sub(js_replacer(js_string(value)), current)
            if self.to_bool and replaced == js_string(value):
                replaced = value
            self._write(msg, replaced)
        elif isinstance(current, int | float) and not isinstance(current, bool):
            if from_type == "num" and current == js_number(from_value):
                self._write(msg, value)
        elif isinstance(current, bool) and from_type == "bool" \
                and js_string(current) == from_value:
            self._write(msg, value)

    def _from(self, msg: Message) -> tuple[str | None, Any, re.Pattern[str] | None]:
        if not isinstance(self.from_type, TypedValue):
            return self.from_type, self.from_value, self.from_re
        value = self.from_type.get(msg, MISSING)
        if isinstance(value, bool):
            return "bool", value, None
        if isinstance(value, int | float):
            return "num", value, None
        if isinstance(value, re.Pattern):
            return "re", value, value
        if isinstance(value, str):
            return "str", value, js_regex(_ESCAPE.sub(r"\\\g<0>", value))
        self.node.error(f"Invalid 'from' property: unsupported type: {type(value).__name__}", msg)
        raise _Stop

    def _context_key(self, msg: Message) -> str:
        return resolve_nested(self.key, msg) if "[msg" in self.key else self.key

    def _read(self, msg: Message) -> Any:
        if self.context is None:
            return get_message_property(msg, self.p, MISSING)
        return self.context.get(self._context_key(msg), self.store)

    def _write(self, msg: Message, value: Any) -> bool:
        if self.context is None:
            try:
                return set_message_property(msg, self.p, value)
            except (TypeError, ValueError):
                return False
        try:
            self.context.set(self._context_key(msg), None if value is MISSING else value,
                             self.store)
        except (TypeError, ValueError) as exc:
            self.node.error(exc, msg)
            raise _Stop from None
        return True


def _legacy_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Node-RED's conversion of a pre-0.10 change node (`action`, `property`, ...)."""
    action = config["action"]
    rule: dict[str, Any] = {"t": "set" if action == "replace" else action,
                            "p": config.get("property") or ""}
    if rule["t"] in ("set", "move"):
        rule["to"] = config.get("to") or ""
    elif rule["t"] == "change":
        rule.update(to=config.get("to") or "", **{"from": config.get("from") or ""},
                    re=config.get("reg") is None or bool(config.get("reg")))
    return [rule]


def _migrate(rule: dict[str, Any]) -> dict[str, Any]:
    """Fill in what older rules leave out, as Node-RED does on load."""
    rule = {**rule, "pt": rule.get("pt") or "msg"}
    if rule.get("t") == "change" and rule.pop("re", False):
        rule["fromt"] = "re"
    to = rule.get("to")
    if rule.get("t") == "set" and not rule.get("tot") and isinstance(to, str) \
            and to.startswith("msg."):
        rule["to"], rule["tot"] = to[4:], "msg"
    rule.setdefault("tot", "str")
    rule["tot"] = rule["tot"] or "str"
    rule["fromt"] = rule.get("fromt") or "str"
    return rule


def _expand(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """A move is a set then a delete (through a temporary when moving to a parent)."""
    if rule.get("t") != "move":
        return [rule]
    p, pt = rule.get("p") or "", rule["pt"]
    to, tot = rule.get("to") or "", rule.get("tot") or "msg"
    if tot not in ("msg", "flow", "global"):
        tot = "msg"
    if tot != pt or (to in p and p != to):
        return [{"t": "set", "p": to, "pt": tot, "to": p, "tot": pt},
                {"t": "delete", "p": p, "pt": pt}]
    return [{"t": "set", "p": "_temp_move", "pt": tot, "to": p, "tot": pt},
            {"t": "delete", "p": p, "pt": pt},
            {"t": "set", "p": to, "pt": tot, "to": "_temp_move", "tot": pt},
            {"t": "delete", "p": "_temp_move", "pt": pt}]


class Change(Node):
    """Sets, changes, deletes or moves message properties and flow/global context.

    `rules` apply in order to the same message, then it is sent on. Each rule has `t`:
    - `set`: property `p` (`pt` `msg`, `flow` or `global`; context keys may name a store,
      `#:(file)::key`) to the value `to` of type `tot` (`str num bool json bin date msg
      flow global env jsonata`); `dc` true deep-copies the value. Setting from a missing
      message property, or to a JSONata expression whose result is undefined, deletes the
      target.
    - `change`: search and replace in a string property: `from` (`fromt` `str`, `num`,
      `bool`, `re` for a regular expression, or `msg`/`flow`/`global`) is replaced by
      `to` everywhere (`$1`, `$&` work in the replacement as in JavaScript). A number or
      boolean property is replaced when it equals `from`.
    - `delete`: removes `p`.
    - `move`: moves `p` to `to` (`tot`).

    Older nodes with `action`/`property`/`from`/`to`/`reg` are converted as Node-RED does.
    Setting a property under a value that cannot hold properties warns
    "Cannot set property of non-object type". Invalid JSON, regular expressions or
    JSONata syntax fail the node's creation.

    **JSONata** (`tot` `jsonata`, for `set` and as the replacement of `change`) is
    evaluated against the message as Node-RED does: an expression that mentions `msg.`
    sees `{"msg": msg}`, any other the message itself (`payload.temperature * 9 / 5 +
    32`). Node-RED's functions are there: `$flowContext(key[, store])`,
    `$globalContext(key[, store])`, `$env(name)` (`""` when unset), `$moment()`,
    `$clone(value)`; `$now()` and `$millis()` read the runtime's clock. An evaluation
    error ("JSONata error in rule 2 of change node ...: <reason> in '<expression>'") is
    the message's error (`catch` nodes receive it) and the message goes no further.
    """

    type = "change"
    category = "function"
    color = "#e2d96e"
    icon = "swap"
    editor: ClassVar = {"label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "rules": {"type": "array", "default": [{"t": "set", "p": "payload", "pt": "msg",
                                                "to": "", "tot": "str"}],
                  "title": "Rules",
                  "items": one_line({
                      "type": "object", "required": ["t"], "title": "Rule", "properties": {
                      "t": {"enum": ["set", "change", "delete", "move"], "title": "Action",
                            "default": "set",
                            "x-labels": {"set": "Set", "change": "Change", "delete": "Delete",
                                         "move": "Move"}},
                      "p": {"type": "string", "default": "payload", "x-kind": "typed",
                            "x-type-key": "pt", "title": "Property"},
                      "pt": {"type": "string", "default": "msg", "title": "Property type"},
                      "from": {"x-kind": "typed", "x-type-key": "fromt", "title": "Search for",
                               "x-show-if": {"t": ["change"]}},
                      "fromt": {"type": "string", "default": "str", "title": "Search type"},
                      "to": {"x-kind": "typed", "x-type-key": "tot", "default": "",
                             "title": "to the value",
                             "x-title-by": {"key": "t", "titles": {
                                 "set": "to the value", "change": "Replace with",
                                 "move": "to"}},
                             "x-show-if": {"t": ["set", "change", "move"]}},
                      "tot": {"type": "string", "default": "str", "title": "Value type"}}},
                      "from", "to")},
        # Node-RED 0.x's single-rule form, converted to `rules` when the node is made.
        "action": string("", title="Action (old format)", **{"x-hidden": True}),
        "property": string("", title="Property (old format)", **{"x-hidden": True}),
        "from": string("", title="From (old format)", **{"x-hidden": True}),
        "to": string("", title="To (old format)", **{"x-hidden": True}),
        "reg": boolean(False, title="Regular expression (old format)", **{"x-hidden": True}),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        # Compiled here, not in start(): a bad rule (JSONata syntax, JSON, regex) is an
        # error of the node's configuration, raised while the node is created.
        self._rules: list[_Rule] = self._compile(config)

    def _compile(self, config: dict[str, Any]) -> list[_Rule]:
        rules = _legacy_rules(config) if config.get("action") else config.get("rules") or []
        compiled = []
        for number, rule in enumerate(rules, 1):
            if not isinstance(rule, dict) or rule.get("t") not in ("set", "change", "delete",
                                                                   "move"):
                raise TypedInputError(f"rule {number}: unknown rule type "
                                      f"{rule.get('t') if isinstance(rule, dict) else rule!r}")
            for step in _expand(_migrate(rule)):
                compiled.append(_Rule(self, step, f"rule {number}"))
        return compiled

    def on_input(self, msg: Message) -> None:
        try:
            for rule in self._rules:
                rule.apply(msg)
        except _Stop:
            return
        self.send(msg)
