"""batch: make message sequences (``msg.parts``) out of the messages that arrive.

Node-RED's ``batch`` node (``19-batch.js``), key for key: groups of ``count``
messages (with ``overlap``), the messages of each ``interval``, or the concatenation
of complete sequences in the order of their topics. Every message sent carries
``msg.parts = {id, index, count}`` (``id`` being the ``_msgid`` of the sequence's
first message; other keys of an existing ``msg.parts`` are kept), which a ``join``
node in automatic mode turns into an array.

Held messages complete (``complete`` nodes, tracked sends) when they are sent, reset
or discarded, as Node-RED calls ``done`` for them.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, TypeGuard

from flowrt.buffering import buffer_limit, failure, new_hold, release
from flowrt.clock import TimerHandle
from flowrt.jsvalue import MISSING, js_number, js_string
from flowrt.messages import Message, clone_message, new_msgid
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, enum, integer, number, string

_NUMBER_TYPES = (int, float)

_Held = tuple[Message, asyncio.Future[None]]


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A JavaScript number (not a boolean, not numeric text)."""
    return type(value) in _NUMBER_TYPES


def _config_number(value: Any, when_empty: float) -> float:
    """Node-RED's ``Number(n.key || default)``: an empty or zero setting is the default."""
    number = js_number(value) if value not in (None, "", 0, False) else when_empty
    return float(number)


def _ends_sequence(msg: Message) -> bool:
    """``msg.parts.index + 1 === msg.parts.count``: the last message of its sequence."""
    parts = msg.get("parts")
    if not isinstance(parts, dict):
        return False
    index, count = parts.get("index"), parts.get("count")
    return _is_number(index) and _is_number(count) and index + 1 == count


def _topic_of(entry: Any) -> Any:
    return entry.get("topic", MISSING) if isinstance(entry, dict) else MISSING


class _Group:
    """The messages of one incoming sequence, in arrival order (concat mode)."""

    __slots__ = ("count", "held")

    def __init__(self) -> None:
        self.count: Any = MISSING  # from the first message that has msg.parts.count
        self.held: list[_Held] = []


class Batch(Node):
    """Creates sequences of messages (`msg.parts`) by count, by time or by concatenation.

    **`mode` `count`**: every `count` messages are sent on as one sequence. With
    `overlap`, the last `overlap` messages of a sequence are sent again (copied) at the
    start of the next one. With `honourParts`, a message that ends its own sequence
    (`msg.parts.index + 1` equals `msg.parts.count`) also ends the batch early.

    **`mode` `interval`**: every `interval` seconds (counted from deploy), the messages
    received since the last time are sent on as one sequence. With
    `allowEmptySequence`, an interval without messages sends one message with
    `msg.payload` `null` (a sequence of one).

    **`mode` `concat`**: `topics` is a list of `{topic}`. Messages whose `msg.topic` is
    one of them must be part of a sequence (`msg.parts` with `id`, `index` and `count`);
    once a complete sequence has arrived for every topic, they are sent on, copied, as
    one sequence: the messages of the first topic's sequence (in arrival order), then
    the second's, and so on. A topic may be listed more than once. Messages with other
    topics are not sent (a warning says so).

    Every message sent gets `msg.parts.id` (the `_msgid` of the sequence's first
    message), `msg.parts.index` and `msg.parts.count`; other keys of its `msg.parts` stay,
    so a `join` node in automatic mode rebuilds an array (or what a `split` made).

    ### Inputs
    - `reset`: discard the messages held so far (they are not sent); in interval mode
      the interval restarts.

    At most `nodeMessageBufferMaxLength` messages (10000 when unset) wait; one more
    discards them all, with the error "too many pending messages in batch node" for the
    message that overflowed. A concat message without a complete `msg.parts` is the error
    "no parts property in message".

    Differences from Node-RED: a configuration Node-RED cannot run (count not above
    overlap, a count or interval that is not a positive number, an unknown mode) fails
    the node's creation with Node-RED's words ("Invalid count and overlap"...); an
    overflow in concat mode fails only the message that overflowed (Node-RED, comparing
    an absent `msg.id`, fails every discarded message, and may still send the sequence
    that message completed); a topic listed twice takes that topic's first sequence
    only once from the buffer (Node-RED also discards the next one); messages dropped for
    their topic are warned about; the buffer is bounded by default (Node-RED's is not).
    """

    type = "batch"
    category = "sequence"
    color = "#E2D96E"
    icon = "join"
    editor: ClassVar = {"label": "name", "order": [
        "mode", "count", "overlap", "honourParts", "interval", "allowEmptySequence",
        "topics"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "mode": enum(["count", "interval", "concat"], "count", title="Mode", labels={
            "count": "Group by number of messages", "interval": "Group by time interval",
            "concat": "Concatenate sequences"}),
        "count": integer(10, title="Number of messages (count mode)"),
        "overlap": integer(0, title="Overlap (count mode)"),
        "interval": number(10, title="Interval in seconds (interval mode)",
                           allow_empty=True),
        "allowEmptySequence": boolean(
            False, title="Send an empty message when none arrived (interval mode)"),
        "honourParts": boolean(
            False, title="Allow msg.parts to also complete a batch (count mode)"),
        "topics": {"type": "array", "default": [{"topic": ""}],
                   "title": "Topics, in order (concat mode)",
                   "items": {"type": "object", "title": "Topic",
                             "properties": {"topic": string("", title="Topic")}}},
    }}
    # Node-RED's runtime defaults for keys a flow leaves out (its editor writes others).
    config_when_absent: ClassVar = {"count": 1, "interval": 0, "topics": []}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.mode = str(c.get("mode") or "count")
        self.count = 1
        self.overlap = 0
        self.interval = 0.0
        self.honour_parts = as_bool(c.get("honourParts"))
        self.allow_empty = as_bool(c.get("allowEmptySequence"))
        self.topics: list[Any] = []
        if self.mode == "count":
            count = _config_number(c.get("count"), 1)
            overlap = _config_number(c.get("overlap"), 0)
            if not (count.is_integer() and count >= 1):
                raise ValueError(f"Invalid count: {c.get('count')!r} (a whole number, 1 or more)")
            if not (overlap.is_integer() and overlap >= 0):
                raise ValueError(f"Invalid overlap: {c.get('overlap')!r} "
                                 "(a whole number, 0 or more)")
            if count <= overlap:
                raise ValueError(f"Invalid count and overlap: the count ({int(count)}) "
                                 f"must be more than the overlap ({int(overlap)})")
            self.count, self.overlap = int(count), int(overlap)
        elif self.mode == "interval":
            interval = _config_number(c.get("interval"), 0)
            if not (interval > 0 and interval != float("inf")):
                raise ValueError(f"Invalid interval: {c.get('interval')!r} "
                                 "(a number of seconds above 0)")
            self.interval = interval
        elif self.mode == "concat":
            topics = c.get("topics") or []
            if not isinstance(topics, list):
                raise ValueError(f"topics: a list of {{topic}} entries, not {topics!r}")
            self.topics = [_topic_of(entry) for entry in topics]
        else:
            raise ValueError(f"unexpected mode {self.mode!r} (count, interval or concat)")
        self.limit = buffer_limit(self)
        self._queue: list[_Held] = []  # count and interval modes
        self._topics: dict[Any, dict[str, _Group]] = {}  # concat: topic → id → group
        self._pending = 0
        self._timer: TimerHandle | None = None

    async def start(self) -> None:
        if self.mode == "interval":
            self._start_timer()

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        if "reset" in msg:
            self._discard_all()
            if self.mode == "interval":
                self._start_timer()
            return None
        if self.mode == "concat":
            return self._concat_input(msg)
        future = new_hold()
        self._queue.append((msg, future))
        self._pending += 1
        if self.mode == "count" and (len(self._queue) == self.count or (
                self.honour_parts and _ends_sequence(msg))):
            self._send_count_batch()
        if self._pending > self.limit:
            # Node-RED's rule: the message that overflowed fails, the others complete.
            last = self._queue.pop()
            last[1].set_exception(failure(self, "too many pending messages in batch node"))
            self._discard_all()
        return future

    # --------------------------------------------------------------- sending
    def _send_sequence(self, msgs: list[Message], copy: bool) -> None:
        """Node-RED's ``send_msgs``: number ``msgs`` as one sequence and send them."""
        first = msgs[0]
        if "_msgid" not in first:
            first["_msgid"] = new_msgid()
        sequence_id = first["_msgid"]
        count = len(msgs)
        for index, original in enumerate(msgs):
            msg = clone_message(original) if copy else original
            parts = msg.get("parts")
            if not isinstance(parts, dict):
                parts = msg["parts"] = {}
            parts["id"] = sequence_id
            parts["index"] = index
            parts["count"] = count
            self.send(msg)

    def _send_count_batch(self) -> None:
        queue, overlap = self._queue, self.overlap
        # With an overlap the kept messages are sent again later: send copies.
        self._send_sequence([msg for msg, _ in queue], copy=overlap > 0)
        for _, future in queue[:max(len(queue) - overlap, 0)]:
            release(future)
        self._queue = queue[-overlap:] if overlap else []
        self._pending = 0

    # -------------------------------------------------------------- interval
    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.clock.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        # setInterval: the next tick is due one interval after this one started.
        self._timer = self.clock.call_later(self.interval, self._tick)
        queue, self._queue = self._queue, []
        self._pending = 0
        if queue:
            self._send_sequence([msg for msg, _ in queue], copy=False)
            for _, future in queue:
                release(future)
        elif self.allow_empty:
            self.send({"payload": None, "parts": {"id": new_msgid(), "index": 0, "count": 1}})

    # ---------------------------------------------------------------- concat
    def _concat_input(self, msg: Message) -> asyncio.Future[None] | None:
        topic = msg.get("topic", MISSING)
        if not any(_same_topic(topic, wanted) for wanted in self.topics):
            self.warn(f"batch: msg.topic {js_string(topic)!r} is not one of the topics to "
                      "concatenate; message not sent")
            return None
        parts = msg.get("parts")
        if not (isinstance(parts, dict) and "id" in parts and "index" in parts
                and "count" in parts):
            raise failure(self, "no parts property in message")
        groups = self._topics.setdefault(_key(topic), {})
        # Node-RED keeps groups in an object: sequence ids are property names.
        group = groups.setdefault(js_string(parts["id"]), _Group())
        future = new_hold()
        group.held.append((msg, future))
        if group.count is MISSING:
            group.count = parts["count"]
        self._pending += 1
        if self._pending > self.limit:
            group.held.pop()
            future.set_exception(failure(self, "too many pending messages in batch node"))
            self._discard_all()
            return future
        self._try_concat()
        return future

    def _first_group(self, topic: Any) -> _Group | None:
        groups = self._topics.get(_key(topic))
        return next(iter(groups.values())) if groups else None

    def _try_concat(self) -> None:
        firsts = [self._first_group(topic) for topic in self.topics]
        complete = [group for group in firsts if group is not None and _is_number(group.count)
                    and group.count == len(group.held)]
        if not firsts or len(complete) < len(firsts):
            return
        held = [entry for group in complete for entry in group.held]
        for topic in dict.fromkeys(_key(t) for t in self.topics):
            groups = self._topics[topic]
            del groups[next(iter(groups))]
        self._send_sequence([msg for msg, _ in held], copy=True)
        unique = {id(future): future for _, future in held}
        self._pending -= len(unique)
        for future in unique.values():
            release(future)

    # ----------------------------------------------------------------- reset
    def _discard_all(self) -> None:
        """Complete every held message without sending it (reset, overflow, close)."""
        queue, self._queue = self._queue, []
        for _, future in queue:
            release(future)
        for groups in self._topics.values():
            for group in groups.values():
                for _, future in group.held:
                    release(future)
        self._topics.clear()
        self._pending = 0

    async def close(self, removed: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._discard_all()


def _key(topic: Any) -> Any:
    """A topic as a dict key (Node-RED's pending object stringifies it)."""
    return js_string(topic)


def _same_topic(topic: Any, wanted: Any) -> bool:
    """``topics.indexOf(msg.topic) >= 0``: strict equality."""
    if _is_number(topic) and _is_number(wanted):
        return bool(topic == wanted)
    return type(topic) is type(wanted) and (topic is wanted or topic == wanted)
