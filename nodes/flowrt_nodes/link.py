"""link in, link out and link call: virtual wires between flows.

The runtime turns a ``link out``'s ``links`` into ordinary wires (Node-RED does
the same at load time), so link in/out cost what any wire costs. ``link call``
sends to a ``link in`` and waits for a ``link out`` in ``return`` mode to send
the message back; the way back is kept in ``msg._linkSource``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import enum, number, show_if, string

_LINKS = {"type": "array", "items": {"type": "string"}, "default": [], "title": "Links"}


class LinkIn(Node):
    """Receives messages from the `link out` and `link call` nodes that name it."""

    type = "link in"
    category = "common"
    color = "#dddddd"
    icon = "link-out"
    schema: ClassVar = {"type": "object", "properties": {"name": string(""), "links": _LINKS}}

    def on_input(self, msg: Message) -> None:
        self.send(msg)


class LinkOut(Node):
    """Sends messages to the `link in` nodes listed in `links` (mode `link`), or back to
    the `link call` node that started the message (mode `return`)."""

    type = "link out"
    category = "common"
    outputs = 0
    color = "#dddddd"
    icon = "link-out"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "mode": enum(["link", "return"], "link", title="Mode", labels={
            "link": "Send to all connected link nodes",
            "return": "Return to the calling link node"}),
        "links": show_if(dict(_LINKS), mode="link")}}

    def on_input(self, msg: Message) -> None:
        if self.config.get("mode") != "return":
            self.send(msg)
            return
        stack = msg.get("_linkSource")
        if not isinstance(stack, list) or not stack:
            self.error("link out (return): message did not come from a link call", msg)
            return
        entry = stack.pop()
        if not stack:
            del msg["_linkSource"]
        caller = self.ctx.get_node(entry["id"])
        if not isinstance(caller, LinkCall):
            self.error(f"link call node {entry['id']!r} no longer exists", msg)
            return
        caller.returned(entry["call"], msg)


class LinkCall(Node):
    """Calls a flow that starts with a `link in` and ends with a `link out` in `return`
    mode, then sends the returned message on. `linkType` `static` calls `links[0]`;
    `dynamic` calls the link in whose id or name is in `msg.target`. Without a reply
    within `timeout` seconds the call fails with an error (catchable)."""

    type = "link call"
    category = "common"
    color = "#dddddd"
    icon = "link-call"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "linkType": enum(["static", "dynamic"], "static", title="Link type", labels={
            "static": "Fixed target", "dynamic": "Dynamic target (msg.target)"}),
        "links": show_if(dict(_LINKS), linkType="static"),
        "timeout": number("30", title="Timeout (seconds)")}}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._calls: dict[int, tuple[Message, Any]] = {}
        self._next_call = 0

    def on_input(self, msg: Message) -> None:
        target = self._target(msg)
        if target is None:
            self.error(f"link call: no link in node {msg.get('target') or self.config['links']}",
                       msg)
            return
        self._next_call += 1
        call = self._next_call
        timeout = float(self.config.get("timeout") or 30)
        timer = self.clock.call_later(timeout, self._timed_out, call)
        self._calls[call] = (msg, timer)
        stack = list(msg.get("_linkSource") or [])
        stack.append({"id": self.id, "call": call})
        msg["_linkSource"] = stack
        self.sent += 1
        if not self.ctx.deliver(target, msg):
            timer.cancel()
            del self._calls[call]
            self.error("link call: the runtime's run queue is full (maxPendingMessages): "
                       "message dropped", msg)

    def _target(self, msg: Message) -> Node | None:
        if self.config.get("linkType") == "dynamic":
            wanted = msg.get("target")
            for node in self.ctx.running_nodes():
                if isinstance(node, LinkIn) and wanted in (node.id, node.name):
                    return node
            return None
        links = self.config.get("links") or []
        found = self.ctx.get_node(links[0]) if links else None
        return found if isinstance(found, LinkIn) else None

    def returned(self, call: int, msg: Message) -> None:
        """A return-mode link out handed back the reply to call ``call``."""
        pending = self._calls.pop(call, None)
        if pending is None:
            return
        pending[1].cancel()
        self.send(msg)

    def _timed_out(self, call: int) -> None:
        pending = self._calls.pop(call, None)
        if pending is not None:
            self.error("link call: timeout waiting for a return", pending[0])

    async def close(self, removed: bool) -> None:
        for _, timer in self._calls.values():
            timer.cancel()
        self._calls.clear()
