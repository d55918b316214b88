"""sort: order the array in a message property, or the messages of a sequence.

Node-RED's ``sort`` node (``18-sort.js``), key for key. In property mode the array at
``target`` is sorted in place; in sequence mode messages with the same
``msg.parts.id`` are held until ``msg.parts.count`` of them have arrived, then sent in
order, each with ``msg.parts.index`` renumbered.

The order is JavaScript's: the node's comparison function (equal when ``===``,
greater when ``>``, by JavaScript's relational rules) run by a stable merge sort.
CPython's ``list.sort`` is the TimSort that V8's ``Array.prototype.sort`` was ported
from, so even keys JavaScript cannot order consistently (NaN, objects) come out as in
Node-RED.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from flowrt.buffering import buffer_limit, failure, new_hold, release
from flowrt.errors import ConfigError
from flowrt.jsvalue import MISSING, compare, js_number, js_string
from flowrt.messages import Message, property_getter, set_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, enum, show_if, string, typed

if TYPE_CHECKING:
    from flowrt.jsonata import JSONataExpression

_NUMBER_TYPES = (int, float)


def _strictly_equal(x: Any, y: Any) -> bool:
    """JavaScript's ``x === y`` for message values (objects equal only to themselves)."""
    tx, ty = type(x), type(y)
    if tx in _NUMBER_TYPES and ty in _NUMBER_TYPES:
        return bool(x == y)  # NaN is not equal to itself, as in JavaScript
    if tx is not ty:
        return False
    if tx is str or tx is bool:
        return bool(x == y)
    return x is y  # None, MISSING, and the same object


def _greater(x: Any, y: Any) -> bool:
    """JavaScript's ``x > y``. Strings compare by UTF-16 code units, as JavaScript's do:
    Python's code-point order differs for characters above U+FFFF."""
    if type(x) is str and type(y) is str and not (x.isascii() and y.isascii()):
        return x.encode("utf-16-be") > y.encode("utf-16-be")
    return compare(x, y) == 1


def _comparison(direction: int, as_num: bool) -> Callable[[Any, Any], int]:
    """Node-RED's ``generateComparisonFunction`` over already computed keys."""

    def compare_keys(x: Any, y: Any) -> int:
        if as_num:
            x, y = js_number(x), js_number(y)
        if _strictly_equal(x, y):
            return 0
        return direction if _greater(x, y) else -direction

    return compare_keys


def _getter(path: str, key: str) -> Callable[..., Any]:
    """A compiled message property path; a bad one is a configuration error naming ``key``."""
    try:
        return property_getter(path)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


class _Group:
    """The messages of one sequence received so far, with their holds."""

    __slots__ = ("count", "held", "msgs")

    def __init__(self) -> None:
        self.count: Any = None
        self.msgs: list[Message] = []
        self.held: list[asyncio.Future[None]] = []


class Sort(Node):
    """Sorts the array in a message property, or a sequence of messages.

    **Message property** (`targetType` `msg`): the array at `target` (default
    `msg.payload`) is sorted and the message sent on. The key is the element itself
    (`msgKeyType` `elem`) or the JSONata expression `msgKey` evaluated against each
    element (`msgKeyType` `jsonata`). A message whose property is not an array is not
    sent (a warning says so).

    **Message sequence** (`targetType` `seq`): messages carrying `msg.parts` (`id`,
    `index`, `count`, as a `split` node makes them) are held until the whole sequence has
    arrived, then sent in order with `msg.parts.index` renumbered. The key is the message
    property `seqKey` (`seqKeyType` `msg`) or the JSONata expression `seqKey` evaluated
    against the message (`seqKeyType` `jsonata`). A message without `msg.parts.id` and
    `msg.parts.index` is not sent (a warning says so).

    `order` is `ascending` or `descending`; with `as_num` keys compare as numbers
    (`Number(key)`), otherwise by JavaScript's rules (two strings compare as text, so
    `"1000"` sorts before `"200"`). Equal keys keep their arrival order. A JSONata key
    has `$flowContext`, `$globalContext`, `$env` and the like, but no sequence variables
    (Node-RED's sort binds no `$I` or `$N`).

    At most `nodeMessageBufferMaxLength` messages (10000 when unset) wait in unfinished
    sequences; one more drops the oldest sequence with the error "Too many pending
    messages in sort node" (for its last message). A JSONata expression that fails is
    the error "Invalid JSONata expression in sort node: ..." of the message (in
    sequence mode: of the sequence's last message, and the sequence is not sent).

    Differences from Node-RED: a JSONata syntax error fails the node's creation (Node-RED
    logs it and then ignores every message); errors carry JSONata's message where
    Node-RED writes `[object Object]`; a missing key property sorts as `undefined` (where
    Node-RED throws a TypeError and loses the sequence); dropped messages are warned
    about; the buffer is bounded by default (Node-RED's is not).
    """

    type = "sort"
    category = "sequence"
    color = "#E2D96E"
    icon = "swap"
    editor: ClassVar = {"label": "name",
                        "order": ["target", "msgKey", "seqKey", "order", "as_num"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "order": enum(["ascending", "descending"], "ascending", title="Order",
                      labels={"ascending": "ascending", "descending": "descending"}),
        "as_num": boolean(False, title="As number"),
        "target": typed("payload", types=["msg", "seq"], title="Sort"),
        "targetType": enum(["msg", "seq"], "msg", title="Sort", labels={
            "msg": "msg.", "seq": "message sequence"}),
        "msgKey": show_if(typed("payload", types=["elem", "jsonata"], title="Key"),
                          targetType="msg"),
        "msgKeyType": enum(["elem", "jsonata"], "elem", title="Key", labels={
            "elem": "element value", "jsonata": "expression"}),
        "seqKey": show_if(typed("payload", types=["msg", "jsonata"], title="Key"),
                          targetType="seq"),
        "seqKeyType": enum(["msg", "jsonata"], "msg", title="Key", labels={
            "msg": "msg.", "jsonata": "expression"}),
    }}
    # Node-RED sorts a sequence unless targetType is "msg": a node written without the
    # key (hand-made or old flows) sorts messages, though the editor's default is "msg".
    config_when_absent: ClassVar = {"targetType": "seq"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.in_property = c.get("targetType") == "msg"
        target = str(c.get("target") or "payload")
        # Only read in property mode (a sequence sort leaves `target` as the editor wrote it).
        self._get_target = _getter(target, "target") if self.in_property else None
        self._target = target
        key_type = c.get("msgKeyType") if self.in_property else c.get("seqKeyType")
        self._expression: JSONataExpression | None = None
        self._get_key: Callable[..., Any] | None = None
        if key_type == "jsonata":
            # Imported here: the JSONata library is loaded only by flows that use it.
            from flowrt.jsonata import JSONataError, JSONataExpression

            where = "msgKey" if self.in_property else "seqKey"
            text = c.get(where)
            try:
                self._expression = JSONataExpression(
                    "" if text is None else str(text), self, where)
            except JSONataError as exc:
                raise ValueError(f"Invalid JSONata expression in sort node: {exc}") from None
        elif not self.in_property:
            self._get_key = _getter(str(c.get("seqKey") or "payload"), "seqKey")
        direction = -1 if c.get("order") == "descending" else 1
        self._compare = functools.cmp_to_key(_comparison(direction, as_bool(c.get("as_num"))))
        self._groups: dict[Any, _Group] = {}
        self._pending = 0
        self.limit = buffer_limit(self)

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        if self.in_property:
            self._sort_property(msg)
            return None
        return self._add_to_sequence(msg)

    # ------------------------------------------------------------ property mode
    def _sort_property(self, msg: Message) -> None:
        assert self._get_target is not None
        data = self._get_target(msg, MISSING)
        if not isinstance(data, list):
            self.warn(f"sort: msg.{self._target} is not an array; message not sent")
            return
        if self._expression is None:
            # In place, as Array.prototype.sort; JavaScript puts undefined entries last
            # without comparing them.
            defined = [v for v in data if v is not MISSING]
            defined.sort(key=self._compare)
            data[:] = defined + [MISSING] * (len(data) - len(defined))
        else:
            keyed = [(self._evaluate(item), item) for item in data]
            keyed.sort(key=lambda pair: self._compare(pair[0]))
            set_message_property(msg, self._target, [item for _, item in keyed])
        self.send(msg)

    def _evaluate(self, value: Any) -> Any:
        assert self._expression is not None
        try:
            return self._expression.evaluate(value, MISSING)
        except ConfigError as exc:  # the expression's JSONataError
            raise failure(self, f"Invalid JSONata expression in sort node: {exc}") from None

    # ------------------------------------------------------------ sequence mode
    def _add_to_sequence(self, msg: Message) -> asyncio.Future[None] | None:
        parts = msg.get("parts")
        if not isinstance(parts, dict) or "id" not in parts or "index" not in parts:
            self.warn("sort: message without msg.parts.id and msg.parts.index "
                      "is not part of a sequence; message not sent")
            return None
        # Node-RED keeps sequences in an object: ids are property names (1 and "1" meet).
        group_id = js_string(parts["id"])
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = _Group()
        future = new_hold()
        group.msgs.append(msg)
        group.held.append(future)
        if "count" in parts:
            group.count = parts["count"]
        self._pending += 1
        count = group.count
        if type(count) in _NUMBER_TYPES and count == len(group.msgs):
            del self._groups[group_id]
            self._pending -= len(group.msgs)
            self._send_sorted(group)
        elif self._pending > self.limit:
            self._drop_oldest()
        return future

    def _send_sorted(self, group: _Group) -> None:
        msgs, held = group.msgs, group.held
        try:
            if self._expression is not None:
                keys = [self._evaluate(msg) for msg in msgs]
            else:
                assert self._get_key is not None
                keys = [self._get_key(msg, MISSING) for msg in msgs]
        except Exception as exc:
            # The error is the last message's; the others complete unsent.
            held[-1].set_exception(exc)
            for future in held[:-1]:
                release(future)
            return
        order = sorted(range(len(msgs)), key=lambda i: self._compare(keys[i]))
        for index, position in enumerate(order):
            msg = msgs[position]
            msg["parts"]["index"] = index
            self.send(msg)
            release(held[position])

    def _drop_oldest(self) -> None:
        """Node-RED's ``removeOldestPending``: the oldest sequence goes, its last
        message failing with the error."""
        group_id = next(iter(self._groups))
        group = self._groups.pop(group_id)
        self._pending -= len(group.msgs)
        group.held[-1].set_exception(failure(self, "Too many pending messages in sort node"))
        for future in group.held[:-1]:
            release(future)

    async def close(self, removed: bool) -> None:
        for group in self._groups.values():
            self.log.info("clear pending message in sort node")
            for future in group.held:
                release(future)
        self._groups.clear()
        self._pending = 0
