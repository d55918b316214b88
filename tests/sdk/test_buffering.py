"""flowrt.buffering through a plugin-shaped node that holds messages: the bound from
settings, completion on release (seen by a complete node), and the refusal error."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from flowrt.buffering import DEFAULT_BUFFER_LIMIT, buffer_limit, failure, new_hold, release
from flowrt.messages import Message
from flowrt.node import Node
from flowrt.testing import FlowHarness


class Holder(Node):
    """Holds every message until one with ``msg.release`` arrives."""

    type = "holder"
    schema: ClassVar = {"type": "object", "properties": {}}

    async def start(self) -> None:
        self.limit = buffer_limit(self)
        self.held: list[asyncio.Future[None]] = []

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        if "release" in msg:
            held, self.held = self.held, []
            for future in held:
                release(future)
                release(future)  # a second release is a no-op
            release(None)
            return None
        if len(self.held) >= self.limit:
            raise failure(self, "too many pending messages in holder node")
        future = new_hold()
        self.held.append(future)
        return future


FLOW: list[dict[str, Any]] = [
    {"id": "t1", "type": "tab", "label": "F"},
    {"id": "h", "type": "holder", "z": "t1", "wires": [[]]},
    {"id": "done", "type": "complete", "z": "t1", "scope": ["h"], "wires": [[]]},
    {"id": "c", "type": "catch", "z": "t1", "scope": None, "wires": [[]]},
]


async def test_the_bound_comes_from_settings_or_the_default() -> None:
    async with FlowHarness(FLOW, node_types=[Holder]) as h:
        assert buffer_limit(h.node("h")) == DEFAULT_BUFFER_LIMIT
    settings = {"nodeMessageBufferMaxLength": 2}
    async with FlowHarness(FLOW, node_types=[Holder], settings=settings) as h:
        assert buffer_limit(h.node("h")) == 2


async def test_held_messages_complete_when_released_and_overflow_is_an_error() -> None:
    settings = {"nodeMessageBufferMaxLength": 2}
    async with FlowHarness(FLOW, node_types=[Holder], settings=settings) as h:
        for n in range(3):
            h.send("h", {"payload": n})
        await h.settle()
        assert h.outputs("done") == []
        (caught,) = h.outputs("c")
        assert caught["payload"] == 2
        assert caught["error"]["message"] == "too many pending messages in holder node"
        assert caught["error"]["source"]["type"] == "holder"
        h.send("h", {"release": True, "payload": "release"})
        await h.settle()
        # The release message completes on return, the held ones when their holds resolve.
        assert [m["payload"] for m in h.outputs("done")] == ["release", 0, 1]
