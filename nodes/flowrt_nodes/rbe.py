"""rbe ("filter"): report by exception and deadband, bit-compatible with Node-RED.

Node-RED's ``rbe.js`` is JavaScript, so its comparisons follow JavaScript's rules:
``!==`` for plain values (``"1"`` and ``1`` differ, ``true`` and ``1`` differ),
a key-order-blind deep compare for objects, ``parseFloat`` for the band modes
(``"6 deg"`` is 6), and stream keys that are strings (topic ``1`` and ``"1"`` are
the same stream). :mod:`flowrt.jsvalue` gives those rules and :func:`js_equal` is
Node-RED's ``compareObjects``; property paths may start with ``msg.``, as
``getMessageProperty`` allows. Everything the config decides is worked out once in
``__init__`` so that ``on_input`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flowrt.jsvalue import MISSING, js_number, js_string, parse_float, truthy, typeof
from flowrt.messages import Message, clone_value, property_getter
from flowrt.node import Node, NodeContext
from flowrt.schema import boolean, enum, number, string

_NO_TOPIC = "_no_topic"
_BAND_MODES = ("deadband", "deadbandEq", "narrowband", "narrowbandEq")
_GAP_TEXT = r"^\s*(\d*[.]*\d*|)(%|)\s*$"
_GAP = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _GAP_TEXT}]}


def js_equal(a: Any, b: Any) -> bool:
    """Node-RED's ``compareObjects``: deep for objects and arrays, ``===`` for the rest."""
    ta, tb = type(a), type(b)
    if ta is dict:
        return (tb is dict and len(a) == len(b)
                and all(k in b and js_equal(v, b[k]) for k, v in a.items()))
    if ta is list:
        return tb is list and len(a) == len(b) and all(map(js_equal, a, b))
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if (ta is str) is not (tb is str):
        return False
    return bool(a == b)


class _Gap:
    """A configured gap: a fixed number, or a percentage of the previous value."""

    __slots__ = ("fixed", "percent")

    def __init__(self, gap: Any) -> None:
        text = js_string(gap) if gap not in (None, "") else "0"
        self.percent: float | None = None
        self.fixed = 0.0
        if text.endswith("%"):
            self.percent = parse_float(text)
        else:
            self.fixed = js_number(text)

    def of(self, previous: float) -> float:
        """The gap to use against ``previous`` (``Math.abs(prev*g/100) || 0``)."""
        if self.percent is None:
            return self.fixed
        if previous is MISSING:
            return 0.0
        gap = abs(previous * self.percent / 100)
        return 0.0 if gap != gap or gap == 0 else gap


class Rbe(Node):
    """Report by exception: passes a message only when its value has changed.

    Palette name **filter**; flow files written by Node-RED's filter node run unchanged.

    **Modes** (`func`):
    - `rbe` — block unless the value changes (objects compared deeply, key order ignored;
      `"1"` and `1` differ). A first payload of `{}` is blocked, as in Node-RED.
    - `rbei` — the same, but the first value of each stream is absorbed, not sent.
    - `deadband` — block unless the value changes by more than `gap`;
      `deadbandEq` — by at least `gap`. The first value always passes.
    - `narrowband` — block if the value changes by more than `gap`;
      `narrowbandEq` — by `gap` or more. The reference starts at `start` (or the first value).

    In the band modes the value is read like JavaScript's `parseFloat` (`"6 deg"` is 6);
    a value with no number is dropped with the warning "no number found in payload".
    `gap` may be a percentage of the previous value (`"10%"`). `inout` `out` compares with
    the last value sent, `in` with the last value received.

    `property` is the value to watch (`payload`). With `septopics` every value of the message
    property `topi` (`topic`) is its own stream. A message with a `reset` property clears the
    state first — only the stream named by `msg.topic` when streams are separate (like
    Node-RED, `msg.topic` even when `topi` names another property), else every stream.
    Messages without the watched property are ignored. The output is the input message,
    unchanged.

    **flowrt additions**
    - `fields`: a list of `{property, gap}`. The message passes when ANY of those fields
      moved by more than its own gap (at least, in `deadbandEq` mode) since the last message
      sent (`inout` `out`) or received (`in`), per stream. `gap` may be a percentage. Fields
      missing from a message do not vote; a present but non-numeric field is warned about.
      `fields` replaces `property` and `func`'s other modes.
    - `maxInterval` (seconds, 0 = off): a heartbeat. A message that would be blocked passes
      anyway when nothing has passed for its stream for that long.
    """

    type = "rbe"
    palette_label = "filter"
    category = "function"
    color = "#E2D96E"
    icon = "rbe"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "func": enum(["rbe", "rbei", *_BAND_MODES], "rbe", title="Mode", labels={
            "rbe": "block unless value changes",
            "rbei": "block unless value changes (ignore initial value)",
            "deadbandEq": "block unless value change is greater or equal to",
            "deadband": "block unless value change is greater than",
            "narrowbandEq": "block if value change is greater or equal to",
            "narrowband": "block if value change is greater than"}),
        "gap": {**_GAP, "default": "", "title": "Gap (number, or N% of the last value)"},
        "start": {"anyOf": [{"type": "number"}, {"type": "string"}], "default": "",
                  "title": "Start value (narrowband)"},
        "inout": enum(["out", "in"], "out", title="Compare with", labels={
            "out": "the last valid output value", "in": "the last input value"}),
        "septopics": boolean(True, title="Separate streams per topic"),
        "property": string("payload", title="Property"),
        "topi": string("topic", title="Stream property"),
        "fields": {"type": "array", "default": [], "title": "Fields (multi-field deadband)",
                   "items": {"type": "object", "required": ["property"],
                             "title": "Field",
                             "properties": {"property": {"type": "string", "minLength": 1,
                                                         "title": "Property (msg.)"},
                                            "gap": {**_GAP, "default": "0",
                                                    "title": "Gap"}}}},
        "maxInterval": number(0, minimum=0, allow_empty=True,
                              title="Heartbeat: pass one message after this many seconds"),
    }}
    editor: ClassVar = {"label": "name", "order": ["func", "gap", "start", "inout", "property",
                                                   "septopics", "topi", "fields", "maxInterval"]}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._func = config.get("func") or "rbe"
        self._gap = _Gap(config.get("gap"))
        start = config.get("start")
        self._start = MISSING if start in (None, "", 0, False) else js_number(start)
        self._inout_in = config.get("inout") == "in"
        self._inout_out = (config.get("inout") or "out") == "out"
        self._septopics = config.get("septopics") not in (False, "false")
        self._topi = property_getter(str(config.get("topi") or "topic"))
        self._property = property_getter(str(config.get("property") or "payload"))
        self._fields = [(str(f["property"]), property_getter(str(f["property"])),
                         _Gap(f.get("gap"))) for f in config.get("fields") or ()]
        interval = js_number(config.get("maxInterval"))
        self._max_interval = interval if interval > 0 else 0.0
        self._last_pass: dict[str, float] = {}
        func = self._func
        self._pass_eq = func in ("deadbandEq", "narrowband")
        self._pass_gt = func in ("deadband", "deadbandEq")
        self._pass_lt = func in ("narrowband", "narrowbandEq")
        self._narrow = func in ("narrowband", "narrowbandEq")
        self.previous: dict[str, Any] = {}
        self._decide: Callable[[str, Any, bool], bool]
        if self._fields:
            self._decide = self._fields_changed
        elif func in ("rbe", "rbei"):
            self._decide = self._changed
        else:
            self._decide = self._outside_band

    def on_input(self, msg: Message) -> None:
        topic = self._topi(msg, MISSING) if self._septopics or "reset" in msg else MISSING
        if "reset" in msg:
            self._reset(msg, topic)
        if self._fields:
            value = msg
        else:
            value = self._property(msg, MISSING)
            if value is MISSING:
                return
        if not self._septopics:
            key = _NO_TOPIC
        elif type(topic) is str:
            key = topic or _NO_TOPIC
        else:
            key = js_string(topic) if truthy(topic) else _NO_TOPIC
        due = self._max_interval > 0 and self._heartbeat_due(key)
        if self._decide(key, value, due):
            if self._max_interval:
                self._last_pass[key] = self.clock.monotonic()
            self.send(msg)

    def _reset(self, msg: Message, topic: Any) -> None:
        if self._septopics and isinstance(topic, str) and topic:
            # Node-RED deletes previous[msg.topic], not previous[msg[topi]].
            key = js_string(msg["topic"]) if "topic" in msg else "undefined"
            self.previous.pop(key, None)
            self._last_pass.pop(key, None)
        else:
            self.previous.clear()
            self._last_pass.clear()

    def _heartbeat_due(self, key: str) -> bool:
        now = self.clock.monotonic()
        return now - self._last_pass.setdefault(key, now) >= self._max_interval

    def _changed(self, key: str, value: Any, due: bool) -> bool:
        previous = self.previous
        send = self._func != "rbei" or key in previous
        old = previous.get(key, MISSING)
        cls = type(value)
        if cls is str or cls is float or cls is int:  # the common case, without js_equal
            kind = type(old)
            same = old == value and (kind is cls or (cls is not str and kind in (int, float)))
            if not same:
                previous[key] = value
                return send
        elif typeof(value) == "object":
            if typeof(old) != "object":
                old = previous[key] = {}
            if not js_equal(value, old):
                previous[key] = clone_value(value)
                return send
        elif old is MISSING or not js_equal(value, old):
            previous[key] = value
            return send
        return due

    def _outside_band(self, key: str, value: Any, due: bool) -> bool:
        n = parse_float(value)
        if n != n:
            self.warn("no number found in payload")
            return False
        previous = self.previous
        old = previous.get(key, MISSING)
        if old is MISSING and self._narrow:
            old = n if self._start is MISSING else self._start
        gap = self._gap.of(old)
        if old is MISSING:
            old = n - gap - 1
        distance = abs(n - old)
        if distance == gap:
            passed = self._pass_eq
        elif distance > gap:
            passed = self._pass_gt
        elif distance < gap:
            passed = self._pass_lt
        else:  # NaN: every comparison is false in JavaScript too
            passed = False
        passed = passed or bool(due)
        previous[key] = n if self._inout_in or (passed and self._inout_out) else old
        return passed

    def _fields_changed(self, key: str, msg: Message, due: bool) -> bool:
        state = self.previous.get(key)
        if state is None:
            state = self.previous[key] = {}
        readings: list[tuple[str, float]] = []
        moved = False
        at_least = self._func == "deadbandEq"
        for name, read, gap in self._fields:
            raw = read(msg, MISSING)
            if raw is MISSING:
                continue
            n = parse_float(raw)
            if n != n:
                self.warn(f"no number found in {name}")
                continue
            readings.append((name, n))
            old = state.get(name, MISSING)
            if old is MISSING:
                moved = True
                continue
            distance, limit = abs(n - old), gap.of(old)
            moved = moved or distance > limit or (at_least and distance == limit)
        if not readings:
            return False
        passed = moved or bool(due)
        if self._inout_in or (passed and self._inout_out):
            state.update(readings)
        return passed

