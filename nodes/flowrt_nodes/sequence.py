"""split and join: turn one message into a sequence of parts, and parts back into one.

Node-RED's ``split`` and ``join`` nodes (``17-split.js``), key for key. ``split``
adds ``msg.parts = {id, index, count, type, ch | key | len}`` (an existing
``msg.parts`` is kept in ``msg.parts.parts``), which ``join`` in ``auto`` mode
uses to rebuild the original value. ``join``'s ``reduce`` mode folds each sequence
with a JSONata expression (:class:`_Reduction`).
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any, ClassVar

import orjson

from flowrt.buffering import buffer_limit, failure, new_hold, release
from flowrt.clock import TimerHandle
from flowrt.errors import ConfigError
from flowrt.jsvalue import MISSING, is_nan, js_string, parse_int, typeof
from flowrt.messages import (
    Message,
    clone_message,
    get_message_property,
    new_msgid,
    set_message_property,
)
from flowrt.node import Node, NodeContext
from flowrt.schema import (
    as_bool,
    as_number,
    boolean,
    enum,
    integer,
    section,
    show_if,
    string,
)

_ESCAPES = {"\\n": "\n", "\\r": "\r", "\\t": "\t", "\\e": "e", "\\f": "\f", "\\0": "\0"}
_ESCAPE = re.compile(r"\\[nrtef0]")
_HOLE: Any = type("Hole", (), {"__repr__": lambda self: "HOLE", "__slots__": ()})()


def _unescape(text: str) -> str:
    """Node-RED's handling of ``\\n``, ``\\t``... typed into a splitter or joiner field."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)


def _byte_array(value: Any, what: str) -> list[int]:
    """A JSON array of byte values (a ``bin`` splitter or joiner), as a list."""
    try:
        data = orjson.loads(value) if isinstance(value, str | bytes) else value
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{what}: invalid JSON {value!r}: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(b, int) and 0 <= b < 256 for b in data):
        raise ValueError(f"{what}: not an array of byte values: {value!r}")
    return data


class Split(Node):
    """Splits a message into a sequence of messages.

    The value of `property` (default `msg.payload`) is split by type:

    - **String**: on `splt` (`spltType` `str`, escapes such as `\\n` allowed), on a byte
      sequence (`bin`, a JSON array such as `[13,10]`), or into chunks of `splt` characters
      (`len`).
    - **Buffer**: the same, as bytes.
    - **Array**: into single elements, or chunks of `arraySplt` elements.
    - **Object**: one message per key; with `addname`, the key is also copied to that
      message property.

    Each message gets `msg.parts = {id, index, count, type, ch | len | key}` (an existing
    `msg.parts` is kept in `msg.parts.parts`), so a `join` node in automatic mode can
    rebuild the original. With `stream`, strings and buffers are treated as a stream:
    the text after the last splitter is kept and prepended to the next message, `index`
    keeps counting and `count` is not set. A stream holds at most
    `nodeMessageBufferMaxLength` (10000 when unset) messages waiting for a splitter.

    ### Differences from Node-RED
    - A value that cannot be split (a number, a boolean, null) or a missing property
      is reported as a warning; Node-RED drops the message silently (and fails on
      null).
    - An invalid `splt` or `arraySplt` makes the node fail to start (reported in the
      log, the node's status and `/healthz`; messages sent to it are dropped), as
      Node-RED's node logs the error and ignores its input. An empty byte sequence is
      refused too (Node-RED's node would loop forever on a buffer).
    - Objects are split in their key order; JavaScript would put integer-like keys
      (`"1"`, `"2"`) first.
    - `stream` given as text is read as what it says (`"true"` streams); Node-RED
      streams only for a boolean `true`.
    """

    type = "split"
    category = "sequence"
    color = "#E2D96E"
    icon = "split"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        # Node-RED reads splt with parseInt for lengths, so a number is accepted too.
        "property": string("payload", title="Split msg property"),
        **section("String / Buffer", {
            "spltType": enum(["str", "bin", "len"], "str", title="Split using", labels={
                "str": "string", "bin": "buffer", "len": "Fixed length of"}),
            "splt": {"anyOf": [{"type": "string"}, {"type": "number"}], "default": "\\n",
                     "title": "Split on", "x-title-by": {"key": "spltType", "titles": {
                         "str": "Split on", "bin": "Split on bytes (JSON array)",
                         "len": "Length"}},
                     "description": "text: escapes such as \\n allowed"},
        }),
        **section("Array", {
            # No minimum here: 0 is reported by the node (it fails to start), not refused
            # with the whole deploy, as Node-RED loads such a flow.
            "arraySplt": integer(1, title="Fixed length of"),
            "arraySpltType": enum(["len"], "len", title="Split using",
                                  labels={"len": "Fixed length of"}, **{"x-hidden": True}),
        }),
        **section("Object", {
            "addname": string("", title="Copy key to msg.",
                              description="a message is sent for each key/value pair; "
                                          "empty: the key is not copied"),
        }),
        "stream": boolean(False, title="Handle as a stream of messages"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.stream = as_bool(c.get("stream"))
        self.split_type = str(c.get("spltType") or "str")
        self.addname = str(c.get("addname") or "")
        self.property = str(c.get("property") or "payload")
        self.limit = buffer_limit(self)
        self.separator = "\n"
        self.separator_bytes = b"\n"
        self.separator_ch: Any = "\n"
        self.length = 1
        self.array_length = 1
        try:
            self._configure(c)
        except ValueError as exc:
            raise ConfigError(f"Invalid split property: {exc}") from None
        self._index = 0
        self._text_rest = ""
        self._bytes_rest = b""
        self._waiting: list[asyncio.Future[None]] = []

    def _configure(self, c: dict[str, Any]) -> None:
        if self.split_type == "str":
            self.separator = _unescape(str(c.get("splt") or "\\n"))
            self.separator_bytes = self.separator.encode()
            self.separator_ch = self.separator
        elif self.split_type == "bin":
            data = _byte_array(c.get("splt"), "split bin")
            if not data:
                raise ValueError("the byte sequence to split on is empty")
            self.separator_bytes = bytes(data)
            self.separator = self.separator_bytes.decode("utf-8", "replace")
            self.separator_ch = data
        elif self.split_type == "len":
            length = parse_int(c.get("splt"))
            if is_nan(length) or length < 1:
                raise ValueError(f"invalid split length: {c.get('splt')!r}")
            self.length = int(length)
        else:
            raise ValueError(f"unknown spltType {self.split_type!r}")
        array_length = 1 if c.get("arraySplt") is None else parse_int(c.get("arraySplt"))
        if is_nan(array_length) or array_length < 1:
            raise ValueError(f"invalid array split length: {c.get('arraySplt')!r}")
        self.array_length = int(array_length)

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        value = get_message_property(msg, self.property, MISSING)
        if value is MISSING:
            self.warn(f"split: msg.{self.property} is missing; nothing to split")
            return None
        parts: dict[str, Any] = {"parts": msg["parts"]} if "parts" in msg else {}
        parts["id"] = new_msgid()
        if self.property != "payload":
            parts["property"] = self.property
        msg["parts"] = parts
        msg.pop("_msgid", None)
        if isinstance(value, str):
            return self._split_text(msg, parts, value)
        if isinstance(value, list):
            self._split_array(msg, parts, value)
        elif isinstance(value, dict):
            self._split_object(msg, parts, value)
        elif isinstance(value, bytes | bytearray):
            return self._split_bytes(msg, parts, bytes(value))
        else:
            # Node-RED drops numbers and booleans silently and fails on null.
            kind = "null" if value is None else typeof(value)
            self.warn(f"split: cannot split a {kind} (msg.{self.property}); message dropped")
        return None

    def _emit(self, msg: Message, value: Any, parts: dict[str, Any]) -> None:
        set_message_property(msg, self.property, value)
        parts["index"] = self._index
        self._index += 1
        self.send(clone_message(msg))

    def _split_text(self, msg: Message, parts: dict[str, Any],
                    value: str) -> asyncio.Future[None] | None:
        value = self._text_rest + value
        parts["type"] = "string"
        if self.split_type == "len":
            parts["ch"] = ""
            return self._split_length(msg, parts, value)
        pieces = value.split(self.separator) if self.separator else list(value)
        parts["ch"] = self.separator_ch
        for piece in pieces[:-1]:
            if not self.stream:
                parts["count"] = len(pieces)
            self._emit(msg, piece, parts)
        if self.stream:
            self._text_rest = pieces[-1]
        else:
            parts["count"] = len(pieces)
            self._emit(msg, pieces[-1], parts)
            self._index = 0
        return None

    def _split_bytes(self, msg: Message, parts: dict[str, Any],
                     value: bytes) -> asyncio.Future[None] | None:
        data = self._bytes_rest + value
        parts["type"] = "buffer"
        if self.split_type == "len":
            return self._split_length(msg, parts, data)
        parts["ch"] = self.separator_ch
        pieces = data.split(self.separator_bytes)
        if not self.stream:
            parts["count"] = len(pieces)
            self._index = 0
        for piece in pieces[:-1]:
            self._emit(msg, piece, parts)
        if len(pieces) > 1:
            self._release_waiting()
        last = pieces[-1]
        if not self.stream and last:
            self._emit(msg, last, parts)
            self._release_waiting()
        else:
            # Node-RED drops an empty piece after a final separator, even when not
            # streaming (though msg.parts.count counts it): so does flowrt.
            self._bytes_rest = last
            if last:
                return self._wait_for_more(msg)
        return None

    def _split_length(self, msg: Message, parts: dict[str, Any],
                      data: Any) -> asyncio.Future[None] | None:
        size = self.length
        parts["len"] = size
        count = math.ceil(len(data) / size)
        if not self.stream:
            parts["count"] = count
            self._index = 0
        pos = 0
        for _ in range(count - 1):
            self._emit(msg, data[pos:pos + size], parts)
            pos += size
        if count > 1:
            self._release_waiting()
        rest = data[pos:]
        empty = b"" if isinstance(data, bytes) else ""
        if not self.stream or len(rest) == size:
            self._emit(msg, rest, parts)
            self._release_waiting()
            rest = empty
        if isinstance(data, bytes):
            self._bytes_rest = rest
        else:
            self._text_rest = rest
        return self._wait_for_more(msg) if rest else None

    def _wait_for_more(self, msg: Message) -> asyncio.Future[None] | None:
        """Hold a streamed message until the data it started is sent on."""
        if len(self._waiting) >= self.limit:
            self._release_waiting()
            self._text_rest, self._bytes_rest = "", b""
            raise failure(self, "too many pending messages in split node: stream data discarded")
        future = new_hold()
        self._waiting.append(future)
        return future

    def _release_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            release(future)

    def _split_array(self, msg: Message, parts: dict[str, Any], value: list[Any]) -> None:
        size = self.array_length
        parts.update(type="array", count=math.ceil(len(value) / size), len=size)
        for index, pos in enumerate(range(0, len(value), size)):
            set_message_property(msg, self.property, value[pos] if size == 1
                             else value[pos:pos + size])
            parts["index"] = index
            self.send(clone_message(msg))

    def _split_object(self, msg: Message, parts: dict[str, Any], value: dict[str, Any]) -> None:
        parts.update(type="object", count=len(value))
        for index, (key, item) in enumerate(list(value.items())):
            set_message_property(msg, self.property, item)
            if self.addname:
                set_message_property(msg, self.addname, key)
            parts.update(key=key, index=index)
            self.send(clone_message(msg))

    async def close(self, removed: bool) -> None:
        self._release_waiting()


class _Group:
    """The parts of one sequence collected so far."""

    __slots__ = ("array_len", "count", "held", "join_char", "kind", "msg", "payload",
                 "prop", "target", "timer")

    def __init__(self, kind: str, msg: Message, target: Any, prop: str) -> None:
        self.kind = kind  # "object" (also for merged), "array", "string" or "buffer"
        self.payload: Any = {} if kind == "object" else []
        self.count = 0
        self.target = target
        self.msg = msg
        self.prop = prop
        self.held: list[asyncio.Future[None]] = []
        self.timer: TimerHandle | None = None
        self.join_char: Any = None
        self.array_len: Any = None


class Join(Node):
    """Joins sequences of messages into a single message.

    **`mode` `auto`**: reverses a `split` node, using `msg.parts` to rebuild the
    original string, buffer, array or object.

    **`mode` `custom`**: combines the `property` of each message (or the whole message,
    `propertyType` `full`) into `build`:

    - `string` or `buffer`: joined with `joiner` (`joinerType` `str`, or `bin`: a JSON
      array of bytes);
    - `array`;
    - `object`: a key/value object, the key being the message property named in `key`;
    - `merged`: the properties of every message's object merged into one.

    It sends the result after `count` messages, `timeout` seconds after the first one,
    or on a message with `msg.complete` set. With `count` empty, a `msg.parts.count`
    from a `split` node is used. With `accumulate`, the result keeps growing and is sent
    again with every later message.

    **`mode` `reduce`**: folds each sequence (messages with the same `msg.parts.id`,
    complete when `msg.parts.count` of them have arrived) with the JSONata expression
    `reduceExp`, in `msg.parts.index` order (`reduceRight`: last to first). The
    accumulator `$A` starts as `reduceInit` (a typed value of type `reduceInitType`:
    `str num bool json bin date flow global env jsonata`), and for each message the
    expression is evaluated against it with `$A` the accumulator so far, `$I` the
    message's index and `$N` the count; its result is the new `$A`. The optional
    `reduceFixup` expression then sees `$A` and `$N` (`$A/$N` for a mean). The last
    message folded is sent with the result as `msg.payload` (its `msg.parts` kept, as
    in Node-RED). A message without `msg.parts` passes through unchanged. An evaluation
    error is the error of the sequence's last message, and nothing is sent.

    ### Inputs
    - `parts` (object): identifies the sequence in automatic mode.
    - `complete`: send the message now.
    - `reset`: discard the parts collected so far.
    - `restartTimeout`: restart the timeout.

    At most `nodeMessageBufferMaxLength` parts (10000 when unset) wait in all unfinished
    sequences; one more discards them all with the error "too many pending messages in
    join node" (Node-RED's rule for its reduce mode).

    ### Differences from Node-RED
    - The bound above applies to every mode; Node-RED bounds only reduce mode, and only
      when `nodeMessageBufferMaxLength` is set.
    - In automatic mode, a string sequence without `msg.parts.ch` is joined with no
      separator (Node-RED fails with a TypeError), and a `msg.reset` without
      `msg.parts.id` completes the messages it discards (Node-RED never calls their
      `done`, so a `complete` node never sees them).
    - `accumulate`, `useparts` and `reduceRight` given as text are read as what they
      say (`"true"`, `"false"`), as flowrt's editor keeps a text value text; Node-RED
      accumulates only for a boolean `true` and reads any other text as true for the
      other two.
    """

    type = "join"
    category = "sequence"
    color = "#E2D96E"
    icon = "join"
    # Node-RED's runtime reads keys missing from a flow otherwise than its editor fills
    # new nodes (the schema's defaults): useparts true (flows from before the option
    # use msg.parts), build array (not object), joiner "" (not "\\n"), and a count of
    # 0 (not "", which would mean msg.parts.count).
    config_when_absent: ClassVar = {"useparts": True, "build": "array", "joiner": "",
                                    "count": 0}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "mode": enum(["auto", "custom", "reduce"], "auto", title="Mode", labels={
            "auto": "automatic", "custom": "manual", "reduce": "reduce sequence"}),
        "propertyType": show_if(enum(["msg", "full"], "msg", title="Combine each", labels={
            "msg": "message property", "full": "complete message"}), mode="custom"),
        "property": show_if(string("payload", title="Message property (msg.)"),
                            mode="custom", propertyType="msg"),
        "build": show_if(enum(["object", "string", "array", "buffer", "merged"], "object",
                              title="To create", labels={
                                  "object": "a key/value Object", "string": "a String",
                                  "array": "an Array", "buffer": "a Buffer",
                                  "merged": "a merged Object"}), mode="custom"),
        "key": show_if(string("topic", title="Using the value of msg.",
                              description="as the key"), mode="custom", build="object"),
        "joinerType": show_if(enum(["str", "bin"], "str", title="Joined using", labels={
            "str": "string", "bin": "buffer"}), mode="custom", build=["string", "buffer"]),
        "joiner": show_if(string("\\n", title="Joiner",
                                 description="text (escapes such as \\n allowed), or for "
                                             "buffer a JSON array of bytes"),
                          mode="custom", build=["string", "buffer"]),
        "useparts": show_if(boolean(False, title="Use existing msg.parts property"),
                            mode="custom"),
        "count": show_if({"anyOf": [{"type": "number"}, {"type": "string"}], "default": "",
                          "title": "After a number of message parts",
                          "description": "count; empty: msg.parts.count"}, mode="custom"),
        "accumulate": show_if(boolean("false", title="And every subsequent message"),
                              mode="custom", build=["object", "merged"]),
        "timeout": show_if({"anyOf": [{"type": "number"}, {"type": "string"}],
                            "default": "",
                            "title": "After a timeout following the first message",
                            "description": "seconds"}, mode="custom"),
        "reduceExp": show_if({"type": ["string", "null"], "default": "",
                              "title": "Reduce exp", "description": "JSONata"}, mode="reduce"),
        "reduceInit": show_if({"type": ["string", "null"], "default": "",
                               "title": "Initial value"}, mode="reduce"),
        "reduceInitType": show_if({"type": ["string", "null"], "default": "",
                                   "title": "Initial value type"}, mode="reduce"),
        "reduceFixup": show_if({"type": ["string", "null"], "default": "",
                                "title": "Fix-up exp", "description": "JSONata"}, mode="reduce"),
        "reduceRight": show_if(boolean(False, title="Evaluate in reverse order (last to first)"),
                               mode="reduce"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.mode = str(c.get("mode") or "auto")
        self.full = c.get("propertyType") == "full"
        self.property = "payload" if self.full else str(c.get("property") or "payload")
        self.key = str(c.get("key") or "topic")
        self.build = str(c.get("build") or "array")
        self.accumulate = as_bool(c.get("accumulate"))
        self.count_from_parts = c.get("count") == ""
        self.target = as_number(c.get("count"), 0.0) or 0.0
        timeout = as_number(c.get("timeout"), 0.0) or 0.0
        self.timeout = 0.0 if self.mode == "auto" else timeout
        self.useparts = as_bool(c.get("useparts"))
        joiner = str(c.get("joiner") or "")
        try:
            self.joiner: Any = (bytes(_byte_array(joiner or "[]", "join bin"))
                                if c.get("joinerType") == "bin" else _unescape(joiner))
        except ValueError as exc:
            raise ConfigError(f"Invalid joiner: {exc}") from None
        self.limit = buffer_limit(self)
        self.dropped = 0
        """Parts discarded because too many were waiting."""
        self._groups: dict[Any, _Group] = {}
        self._parts_held = 0
        # Compiled at creation: a JSONata syntax error is a configuration error.
        self._reduction = _Reduction(self, c) if self.mode == "reduce" else None
        self._sequences: dict[Any, _Sequence] = {}

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        if self._reduction is not None:
            return self._reduce_input(msg, self._reduction)
        parts = msg.get("parts")
        has_id = isinstance(parts, dict) and "id" in parts
        if self.mode == "auto" and not has_id:
            if "reset" in msg:
                self._discard_all()
            else:
                self.warn("Message missing msg.parts property - cannot join in 'auto' mode")
            return None
        if self.mode != "auto" and "parts" in msg and not self.useparts:
            if isinstance(parts, dict) and "parts" in parts:
                msg["parts"] = {"parts": parts["parts"]}
            else:
                del msg["parts"]
            parts = msg.get("parts")
        part_id: Any = "_"
        index = None
        key: Any = None
        if self.mode == "auto":
            assert isinstance(parts, dict)
            part_id, kind, target = parts["id"], parts.get("type"), parts.get("count")
            value = get_message_property(msg, parts.get("property") or "payload", MISSING)
            key, index = parts.get("key"), parts.get("index")
        else:
            kind, target = self.build, self.target
            value = msg if self.full else get_message_property(msg, self.property, MISSING)
            if self.count_from_parts and isinstance(parts, dict):
                target = parts.get("count") or 0
                if "id" in parts:
                    part_id = parts["id"]
            if kind == "object":
                key = get_message_property(msg, self.key)
        group = self._groups.get(part_id)
        if "restartTimeout" in msg and group is not None:
            self._start_timer(part_id, group)
        if "reset" in msg:
            if group is not None:
                self._discard(part_id)
            return None
        if kind == "object" and key in (None, ""):
            if self.mode == "auto":
                self.warn("Message missing 'msg.parts.key' property - cannot add to object")
            elif "complete" not in msg:
                self.warn(f"Message missing key property 'msg.{self.key}' - cannot add to object")
            elif group is not None:
                group.msg["complete"] = msg["complete"]
                self._complete(part_id)
            return None
        if kind == "buffer" and value is not MISSING and not isinstance(
                value, bytes | bytearray | str | list):
            raise failure(self, f"Cannot join {typeof(value)} to buffer")
        if self._parts_held >= self.limit:
            self.dropped += self._parts_held + 1
            self._discard_all()
            raise failure(self, "too many pending messages in join node")
        if group is None:
            group = self._new_group(part_id, kind, msg, target, parts)
        future = new_hold()
        group.held.append(future)
        before = group.count
        self._add(group, kind, value, index, key, msg)
        self._parts_held += group.count - before
        group.msg.update(msg)
        if isinstance(parts, dict):
            group.target = group.target or parts.get("count")
        target = as_number(group.target, 0.0) or 0.0
        if (target > 0 and group.count >= target) or "complete" in msg:
            self._complete(part_id)
        return future

    # ----------------------------------------------------------------- reduce
    def _reduce_input(self, msg: Message, reduction: _Reduction) -> asyncio.Future[None] | None:
        """Node-RED's reduce mode: hold a sequence's messages until all have arrived."""
        if "parts" not in msg:
            self.send(msg)
            return None
        parts = msg["parts"] if isinstance(msg["parts"], dict) else {}
        part_id = parts.get("id")
        sequence = self._sequences.get(part_id)
        if sequence is None:
            sequence = self._sequences[part_id] = _Sequence()
        if sequence.count is None and "count" in parts:
            sequence.count = parts["count"]
        self._parts_held += 1
        if len(sequence.msgs) + 1 == sequence.count:
            del self._sequences[part_id]
            self._parts_held -= len(sequence.msgs) + 1
            held, sequence.held = sequence.held, []
            try:
                self.send(reduction.reduce([*sequence.msgs, msg], sequence.count))
            finally:
                for future in held:
                    release(future)
            return None
        if self._parts_held > self.limit:
            self.dropped += self._parts_held
            self._discard_sequences()
            raise failure(self, "too many pending messages in join node")
        future = new_hold()
        sequence.msgs.append(msg)
        sequence.held.append(future)
        return future

    def _discard_sequences(self) -> None:
        for sequence in self._sequences.values():
            for future in sequence.held:
                release(future)
        self._sequences.clear()
        self._parts_held = 0

    def _new_group(self, part_id: Any, kind: Any, msg: Message, target: Any,
                   parts: Any) -> _Group:
        prop = (parts.get("property") or "payload") if self.mode == "auto" else self.property
        group = _Group("object" if kind in ("object", "merged") else str(kind),
                       clone_message(msg), target, prop)
        if self.mode == "auto":
            group.join_char = parts.get("ch")
            group.array_len = parts.get("len")
        else:
            group.join_char = self.joiner
        self._groups[part_id] = group
        if self.timeout > 0:
            self._start_timer(part_id, group)
        return group

    def _add(self, group: _Group, kind: Any, value: Any, index: Any, key: Any,
             msg: Message) -> None:
        payload = group.payload
        if kind == "object":
            payload[js_string(key)] = value
            group.count = len(payload)
        elif kind == "merged":
            if isinstance(value, dict):
                payload.update((k, v) for k, v in value.items() if k != "_msgid")
                group.count = len(payload)
            elif "complete" not in msg:
                self.warn("Cannot merge non-object types")
        elif _is_index(index):
            position = int(index)
            if position >= self.limit:
                raise failure(self, f"msg.parts.index {position} is out of range "
                                    f"(at most {self.limit} parts are kept)")
            payload.extend([_HOLE] * (position + 1 - len(payload)))
            if payload[position] is _HOLE or payload[position] is None:
                group.count += 1
            payload[position] = value
        elif value is not MISSING:
            payload.append(value)
            group.count += 1

    def _complete(self, part_id: Any) -> None:
        group = self._groups.get(part_id)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        keep = self.mode != "auto" and self.accumulate and "complete" not in group.msg
        if not keep:
            self._forget(part_id)
        msg = clone_message(group.msg) if keep or self.full else group.msg
        try:
            value = self._result(group)
        except (TypeError, ValueError) as exc:
            for future in group.held:
                release(future)
            group.held = []
            self.error(str(exc), msg)
            return
        set_message_property(msg, group.prop, value)
        parts = msg.get("parts")
        if isinstance(parts, dict) and "parts" in parts:
            msg["parts"] = parts["parts"]
        else:
            msg.pop("parts", None)
        msg.pop("complete", None)
        self.send(msg)
        held, group.held = group.held, []
        for future in held:
            release(future)

    def _result(self, group: _Group) -> Any:
        payload = group.payload
        if group.kind == "object":
            return dict(payload)
        items = [None if v is _HOLE or v is MISSING else v for v in payload]
        if group.kind == "string":
            joiner = group.join_char
            joiner = joiner.decode("utf-8", "replace") if isinstance(
                joiner, bytes | bytearray) else js_string(joiner if joiner is not None else "")
            return joiner.join("" if v is None else js_string(v) for v in items)
        if group.kind == "buffer":
            chunks = [_to_bytes(v) for v in items]
            if group.join_char is None:
                return b"".join(chunks)
            return _to_bytes(group.join_char).join(chunks)
        if group.kind == "array" and _is_index(group.array_len) and group.array_len > 1:
            flat: list[Any] = []
            for item in items:
                flat.extend(item if isinstance(item, list) else [item])
            return flat
        return items

    def _start_timer(self, part_id: Any, group: _Group) -> None:
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        if self.timeout > 0:
            group.timer = self.clock.call_later(self.timeout, self._complete, part_id)

    def _forget(self, part_id: Any) -> _Group:
        group = self._groups.pop(part_id)
        self._parts_held -= group.count
        return group

    def _discard(self, part_id: Any) -> None:
        group = self._forget(part_id)
        if group.timer is not None:
            group.timer.cancel()
        for future in group.held:
            release(future)

    def _discard_all(self) -> None:
        for part_id in list(self._groups):
            self._discard(part_id)

    async def close(self, removed: bool) -> None:
        self._discard_all()
        self._discard_sequences()


class _Sequence:
    """A sequence being collected in reduce mode: its messages, their holds, its count."""

    __slots__ = ("count", "held", "msgs")

    def __init__(self) -> None:
        self.count: Any = None
        self.msgs: list[Message] = []
        self.held: list[asyncio.Future[None]] = []


class _Reduction:
    """A join's reduce configuration, compiled: the expressions and the initial value."""

    def __init__(self, node: Join, config: dict[str, Any]) -> None:
        from flowrt.jsonata import JSONataExpression  # loaded only by flows that use it
        from flowrt.typed_input import TypedValue

        self.right = as_bool(config.get("reduceRight"))
        self.expression = JSONataExpression(str(config.get("reduceExp") or ""), node,
                                            "reduceExp")
        fixup = config.get("reduceFixup")
        self.fixup = (JSONataExpression(str(fixup), node, "reduceFixup")
                      if fixup not in (None, "") else None)
        init = config.get("reduceInit")
        self.init = TypedValue(node, "" if init is None else init,
                               config.get("reduceInitType") or "str", "reduceInit")

    def reduce(self, msgs: list[Message], count: Any) -> Message:
        """Fold ``msgs`` (one whole sequence); the last one folded carries the result."""
        ordered = sorted(msgs, key=_part_index, reverse=self.right)
        accumulator = self.init.get({}, MISSING)
        for msg in ordered:
            parts = msg["parts"] if isinstance(msg["parts"], dict) else {}
            accumulator = self.expression.evaluate(msg, MISSING, {
                "I": parts.get("index"), "N": count, "A": _bound(accumulator)})
        if self.fixup is not None:
            accumulator = self.fixup.evaluate({}, MISSING,
                                              {"N": count, "A": _bound(accumulator)})
        last = ordered[-1]
        if accumulator is MISSING:
            last.pop("payload", None)
        else:
            last["payload"] = accumulator
        return last


def _bound(value: Any) -> Any:
    """A value as a JSONata variable (JSONata's undefined is the library's None)."""
    return None if value is MISSING else value


def _part_index(msg: Message) -> Any:
    parts = msg.get("parts")
    index = parts.get("index") if isinstance(parts, dict) else None
    return index if isinstance(index, int | float) and not isinstance(index, bool) else 0


def _is_index(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
        isinstance(value, float) and value.is_integer() and value >= 0)


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return bytes(int(v) & 0xFF for v in value)
    raise ValueError(f"Cannot join {typeof(value)} to buffer")
