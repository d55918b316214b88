"""trigger: send a message, then optionally a second one after a delay.

Node-RED's ``trigger`` node (``89-trigger.js``), key for key: ``op1``/``op2`` with
their types, ``duration`` + ``units`` (0 waits for a reset; a negative duration
resends ``op1`` every ``|duration|``), ``extend``, ``overrideDelay``, ``reset``,
``bytopic``/``topic`` and ``outputs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from flowrt.buffering import buffer_limit, failure
from flowrt.clock import TimerHandle
from flowrt.jsvalue import js_string
from flowrt.messages import Message, clone_message, clone_value, get_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, enum, number, show_if, string, typed
from flowrt.typed_input import TypedValue

if TYPE_CHECKING:
    from flowrt.mustache import MustacheTemplate

_UNIT_MS = {"ms": 1.0, "s": 1000.0, "min": 60_000.0, "hr": 3_600_000.0}
_OP_WORDS = {"str": "the string", "num": "the number", "val": "the value",
             "pay": "the existing msg object", "payl": "the latest msg object",
             "nul": "nothing", "null": "null"}
_OP_TYPES = ["str", "num", "bool", "json", "bin", "date", "env", "flow", "global", "jsonata",
             "pay", "payl", "nul", "val", "null"]
_ALL = "_none"


class _Operand:
    """What ``op1`` or ``op2`` sends: its type and how to compute its value."""

    __slots__ = ("kind", "template", "value")

    def __init__(self, node: Node, raw: Any, kind: str, what: str) -> None:
        if kind == "val":  # Node-RED's legacy type: a bool, null or a string
            kind = "bool" if raw in ("true", "false") else "null" if raw == "null" else "str"
        self.kind = kind
        self.template: MustacheTemplate | None = None
        self.value: TypedValue | None = None
        if kind == "str" and "{{" in js_string(raw):
            # Imported here: the Mustache library is loaded only by flows that use it.
            from flowrt.mustache import MustacheError, MustacheTemplate

            try:
                self.template = MustacheTemplate(js_string(raw))
            except MustacheError as exc:
                raise ValueError(f"{what}: mustache template: {exc}") from None
        elif kind not in ("pay", "payl", "nul", "null"):
            self.value = TypedValue(node, raw, kind, what)

    def evaluate(self, msg: Message) -> Any:
        """The value for ``msg`` (``pay`` and ``payl`` give a copy of its payload)."""
        if self.template is not None:
            return self.template.render(msg)
        if self.value is not None:
            return self.value.get(msg)
        if self.kind in ("pay", "payl"):
            return clone_value(msg.get("payload"))
        return None


class _Pending:
    """One stream's state: the timer (or 0 when blocked until reset) and op2's value."""

    __slots__ = ("blocked", "m2", "timer")

    def __init__(self) -> None:
        self.timer: TimerHandle | None = None
        self.blocked = False
        self.m2: Any = None

    @property
    def waiting(self) -> bool:
        return self.timer is not None or self.blocked

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Trigger(Node):
    """Sends a message when triggered, then optionally a second one, unless extended or reset.

    On a message, sends `op1` (typed by `op1type`: `str`, `num`, `bool`, `json`, `bin`,
    `date`, `env`, `flow`, `global`, `jsonata`, `pay` = the message's own payload, `nul` = send
    nothing), then waits `duration` `units` and sends `op2` (`op2type` also allows `pay` =
    the first message's payload and `payl` = the latest message). Messages arriving while
    it waits are ignored, unless `extend` restarts the wait.

    - `duration` 0: send `op1`, then block until reset.
    - negative `duration`: resend `op1` every `|duration|` until reset.
    - `overrideDelay`: `msg.delay` (ms) sets the wait for that message.
    - `bytopic` `"topic"`: each value of the message property named in `topic` is
      handled separately (`"all"`: one stream for every message).
    - `outputs` 2: `op2` goes to the second output.
    - A `str` value may be a mustache template over the message (`{{payload}}`,
      sections), rendered as Node-RED's mustache.js does.
    - `jsonata` values (`op1type`/`op2type`) are evaluated against the triggering
      message, both when it arrives, as Node-RED does; an evaluation error is that
      message's error and nothing is sent.

    ### Inputs
    - `reset`: any value stops the wait (nothing more is sent); so does a `payload`
      equal to the `reset` setting.
    - `delay` (number): the wait in ms, with `overrideDelay`.

    With `bytopic` `"topic"` at most `nodeMessageBufferMaxLength` topics wait at once
    (10000 when unset); a message for a new topic beyond that is discarded with the error
    "too many pending topics in trigger node".
    """

    type = "trigger"
    category = "function"
    color = "#E6E0F8"
    icon = "trigger"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "op1": typed("1", title="Send", type_key="op1type"),
        "op1type": enum(_OP_TYPES, "val", title="Send (type)", labels=_OP_WORDS),
        "duration": number("250", title="then wait for",
                           description="0: wait to be reset; negative: resend every"),
        "units": enum(list(_UNIT_MS), "ms", title="Units", labels={
            "ms": "Milliseconds", "s": "Seconds", "min": "Minutes", "hr": "Hours"}),
        "extend": boolean("false", title="Extend the delay if a new message arrives"),
        "overrideDelay": boolean("false", title="Override the delay with msg.delay"),
        "op2": typed("0", title="then send", type_key="op2type"),
        "op2type": enum(_OP_TYPES, "val", title="then send (type)", labels=_OP_WORDS),
        "outputs": enum([1, 2, "1", "2"], 1, title="Outputs", labels={
            1: "one", 2: "two: the second message on its own output"}),
        "reset": string("", title="Reset if msg.payload equals", description="optional; "
                        "msg.reset always resets"),
        "bytopic": enum(["all", "topic"], "all", title="Handling", labels={
            "all": "all messages", "topic": "each msg.topic (or the property below)"}),
        "topic": show_if(string("topic", title="Property (msg.)"), bytopic="topic"),
    }}
    editor: ClassVar = {"outputsFrom": "outputs"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.by_topic = c.get("bytopic") == "topic"
        self.topic_property = str(c.get("topic") or "topic")
        self.second = self.output_count == 2
        duration = as_number(c.get("duration"), 250.0)
        duration = 250.0 if duration is None else duration
        self.loop = duration < 0
        self.extend = as_bool(c.get("extend")) and not self.loop
        self.override = as_bool(c.get("overrideDelay"))
        self.duration_ms = abs(duration) * _UNIT_MS.get(str(c.get("units")), 1.0)
        self.reset_value = js_string(c.get("reset") or "")
        self.limit = buffer_limit(self)
        self.dropped = 0
        """Messages discarded because too many topics were waiting."""
        self._topics: dict[Any, _Pending] = {}
        self._latest: dict[Any, Message] = {}  # op2type "payl": the latest message per topic
        self.op1 = self._operand("op1", "1")
        self.op2 = self._operand("op2", "0")

    def _operand(self, key: str, default: str) -> _Operand:
        kind = str(self.config.get(f"{key}type") or "str")
        raw = self.config.get(key)
        if raw in (None, ""):
            raw = default
        if kind == "date" and raw == default:
            raw = ""  # an untouched date operand means "now in ms"
        return _Operand(self, raw, kind, f"trigger {key}")

    def on_input(self, msg: Message) -> None:
        topic = _ALL
        if self.by_topic:
            topic = get_message_property(msg, self.topic_property) or _ALL
        delay_ms = self.duration_ms
        if self.override:
            wanted = msg.get("delay")
            if not isinstance(wanted, bool) and (wanted := as_number(wanted)) is not None:
                delay_ms = wanted
        state = self._topics.get(topic)
        if self._is_reset(msg):
            if state is not None:
                state.cancel()
                self._forget(topic)
            return
        if state is None:
            if len(self._topics) >= self.limit:
                self.dropped += 1
                raise failure(self, "too many pending topics in trigger node")
            state = self._topics[topic] = _Pending()
        if self.op2.kind == "payl":
            self._latest[topic] = clone_message(msg)
        if not state.waiting or self.loop:
            self._trigger(topic, state, msg, delay_ms)
        elif self.extend and delay_ms > 0:
            if self.op2.kind == "payl":
                state.m2 = clone_value(msg.get("payload"))
            state.cancel()
            state.timer = self.clock.call_later(delay_ms / 1000, self._extended_due, topic, msg)

    def _is_reset(self, msg: Message) -> bool:
        if "reset" in msg:
            return True
        if not self.reset_value or msg.get("payload") is None:
            return False
        return js_string(msg["payload"]) == self.reset_value

    def _trigger(self, topic: Any, state: _Pending, msg: Message, delay_ms: float) -> None:
        try:
            if self.op2.kind != "nul":
                state.m2 = self.op2.evaluate(msg)
            if self.op1.kind not in ("pay", "nul"):
                msg["payload"] = self.op1.evaluate(msg)
        except Exception:
            # A failed evaluation (a JSONata error) is this message's error: nothing was
            # sent, so nothing waits for this stream either.
            self._forget(topic)
            raise
        if delay_ms == 0:
            state.blocked = True
        elif self.loop:
            state.cancel()
            if self.op1.kind != "nul":
                state.timer = self.clock.call_later(delay_ms / 1000, self._repeat, topic,
                                                    clone_message(msg), delay_ms)
        elif state.timer is None:
            state.timer = self.clock.call_later(delay_ms / 1000, self._due, topic, msg)
        self._show_status()
        if self.op1.kind != "nul":
            self.send(clone_message(msg))

    def _repeat(self, topic: Any, msg: Message, delay_ms: float) -> None:
        state = self._topics.get(topic)
        if state is None:
            return
        state.timer = self.clock.call_later(delay_ms / 1000, self._repeat, topic, msg, delay_ms)
        if self.op1.kind == "date":
            msg["payload"] = int(self.clock.time() * 1000)
        self.send(clone_message(msg))

    def _due(self, topic: Any, msg: Message) -> None:
        """The wait after the first message ended: send op2."""
        state = self._topics.get(topic)
        if state is None:
            return
        out: Message | None = None
        if self.op2.kind == "payl":
            out = self._latest.get(topic)
        elif self.op2.kind != "nul":
            if self.op2.kind in ("flow", "global", "date"):
                state.m2 = self.op2.evaluate(msg)
            out = clone_message(msg)
            out["payload"] = state.m2
        self._forget(topic)
        self._send_second(out)

    def _extended_due(self, topic: Any, msg: Message) -> None:
        """The wait restarted by ``extend`` ended: send op2 with the latest message."""
        state = self._topics.get(topic)
        if state is None:
            return
        out: Message | None = None
        if self.op2.kind != "nul":
            if self.op2.kind in ("flow", "global"):
                state.m2 = self.op2.evaluate(msg)
            out = clone_message(msg)
            out["payload"] = state.m2
        self._forget(topic)
        self._send_second(out)

    def _send_second(self, out: Message | None) -> None:
        if out is not None:
            self.send([None, out] if self.second else out)

    def _forget(self, topic: Any) -> None:
        self._topics.pop(topic, None)
        self._latest.pop(topic, None)
        self._show_status()

    def _show_status(self) -> None:
        count = len(self._topics)
        if count == 0:
            self.status({})
        elif count == 1:
            self.status(fill="blue", shape="dot")
        else:
            self.status(fill="blue", shape="dot", text=str(count))

    async def close(self, removed: bool) -> None:
        for state in self._topics.values():
            state.cancel()
        self._topics.clear()
        self._latest.clear()
        self.status({})
