"""The run queue's passes: a source's read, its deliveries and the writes they queue
happen in one loop callback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowrt.dispatch import Dispatcher, Tracker


class Sink:
    """A receiver that asks for a flush at the end of the pass, like a connection."""

    def __init__(self, dispatcher: Dispatcher, log: list[str]) -> None:
        self.id = "sink"
        self.dispatcher = dispatcher
        self.log = log

    def receive(self, msg: dict[str, Any], tracker: Tracker | None) -> None:
        self.log.append(f"deliver {msg['payload']}")
        if not self.dispatcher.after_pass(lambda: self.log.append("flush")):
            self.log.append("no pass")


def count_call_soon(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Record every callback scheduled on ``loop`` from now on."""
    scheduled: list[Any] = []
    original = loop.call_soon

    def call_soon(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
        scheduled.append(callback)
        return original(callback, *args, **kwargs)

    loop.call_soon = call_soon  # type: ignore[method-assign]
    return scheduled


async def test_a_source_pass_delivers_and_flushes_without_scheduling_anything() -> None:
    dispatcher = Dispatcher()
    log: list[str] = []
    sink = Sink(dispatcher, log)
    scheduled = count_call_soon(asyncio.get_running_loop())

    def read() -> str:
        for i in range(3):
            dispatcher.push(sink, {"payload": i}, None)
        log.append("read")
        return "more"

    assert dispatcher.source_pass(read) == "more"
    # Three deliveries, then one flush per registration, all before source_pass returned.
    assert log == ["read", "deliver 0", "deliver 1", "deliver 2", "flush", "flush", "flush"]
    assert scheduled == []
    assert not dispatcher.after_pass(lambda: None)  # the pass is over


async def test_a_drain_outside_a_pass_is_its_own_pass() -> None:
    dispatcher = Dispatcher()
    log: list[str] = []
    sink = Sink(dispatcher, log)
    drained = asyncio.get_running_loop().create_future()
    dispatcher.push(sink, {"payload": "x"}, None)
    dispatcher.when_drained(lambda: drained.set_result(None))
    await asyncio.wait_for(drained, 5)
    assert log == ["deliver x", "flush"]


async def test_a_read_that_fails_still_gets_its_messages_delivered() -> None:
    dispatcher = Dispatcher()
    log: list[str] = []
    sink = Sink(dispatcher, log)
    drained = asyncio.get_running_loop().create_future()

    def read() -> None:
        dispatcher.push(sink, {"payload": "kept"}, None)
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        dispatcher.source_pass(read)
    dispatcher.when_drained(lambda: drained.set_result(None))
    await asyncio.wait_for(drained, 5)
    assert log == ["deliver kept", "flush"]
