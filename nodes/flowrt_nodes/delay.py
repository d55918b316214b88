"""delay: hold messages for a while, or limit the rate at which they pass.

Node-RED's ``delay`` node (``89-delay.js``), key for key and mode for mode.
Held messages complete (``done``) only when they are sent or discarded, so a
``complete`` node or a tracked send sees them finish when they really leave.

Every buffer is bounded by the ``nodeMessageBufferMaxLength`` setting, or by
:data:`flowrt.buffering.DEFAULT_BUFFER_LIMIT` when it is unset or 0 (Node-RED leaves it
unbounded).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections import deque
from typing import Any, ClassVar

from flowrt.buffering import buffer_limit, failure, new_hold, release
from flowrt.clock import TimerHandle
from flowrt.messages import Message
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, enum, number, show_if, string

TOO_MANY = "too many pending messages in delay node"

_UNIT_MS = {"milliseconds": 1.0, "seconds": 1000.0, "minutes": 60_000.0,
            "hours": 3_600_000.0, "days": 86_400_000.0}
_UNIT_WORDS = {"milliseconds": "Milliseconds", "seconds": "Seconds", "minutes": "Minutes",
               "hours": "Hours", "days": "Days"}
_RATE_MODES = ["rate", "burst", "queue", "timed"]
_RATE_UNIT_MS = {"second": 1000.0, "minute": 60_000.0, "hour": 3_600_000.0,
                 "day": 86_400_000.0}
_REPORT_DEPTH_AFTER = 0.5


def _flush_count(flush: Any, held: int) -> int:
    """How many held messages ``msg.flush`` releases: a number caps it, anything else is all."""
    if isinstance(flush, int | float) and not isinstance(flush, bool):
        return max(0, min(math.floor(flush), held))
    return held


def _msg_delay_ms(msg: Message) -> float | None:
    value = msg.get("delay")
    return None if isinstance(value, bool) else as_number(value)


class Delay(Node):
    """Delays each message passing through the node or limits the rate at which they pass.

    **Delay modes** (`pauseType`): `delay` waits `timeout` `timeoutUnits`; `delayv` uses
    `msg.delay` (milliseconds) when present; `random` waits between `randomFirst` and
    `randomLast` `randomUnits`. Each message is delayed independently.

    **Rate modes**: `rate` lets `rate` messages per `nbRateUnits` `rateUnits` through,
    evenly spaced. The first message passes at once; later ones are queued (with
    `drop` they are dropped instead, or sent on output 2 when `outputs` is 2).
    `burst` passes up to `rate` messages at once, then blocks until the period ends.
    `queue` sends the latest message of each `msg.topic` in turn, one per period;
    `timed` sends the latest message of every topic each period.

    ### Inputs
    - `delay` (number): the delay in ms, in `delayv` mode.
    - `rate` (number): with `allowrate`, the new interval between messages in ms.
    - `reset`: any value clears held messages without sending them.
    - `flush`: a number releases that many held messages now; any other value all.
    - `toFront` (boolean): in `rate` mode, queue this message first.

    At most `nodeMessageBufferMaxLength` messages are held (10000 when that setting is
    unset). In `rate` mode an overflow discards the queue, as Node-RED does; in the
    other modes the new message is discarded. Either way the node reports the error
    "too many pending messages in delay node", which catch nodes receive.
    """

    type = "delay"
    category = "function"
    color = "#E6E0F8"
    icon = "timer"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "pauseType": enum(["delay", "delayv", "random", "rate", "burst", "queue", "timed"],
                          "delay", title="Action", labels={
                              "delay": "Delay each message: fixed delay",
                              "delayv": "Delay each message: override delay with msg.delay",
                              "random": "Delay each message: random delay",
                              "rate": "Rate limit: all messages",
                              "burst": "Rate limit: all messages, in bursts",
                              "queue": "Rate limit for each msg.topic: send each topic in turn",
                              "timed": "Rate limit for each msg.topic: send all topics"}),
        "timeout": show_if(number("5", minimum=0, title="For"), pauseType=["delay", "delayv"]),
        "timeoutUnits": show_if(enum(list(_UNIT_MS), "seconds", title="Units",
                                     labels=_UNIT_WORDS), pauseType=["delay", "delayv"]),
        "randomFirst": show_if(number("1", minimum=0, title="Between"), pauseType="random"),
        "randomLast": show_if(number("5", minimum=0, title="And"), pauseType="random"),
        "randomUnits": show_if(enum(list(_UNIT_MS), "seconds", title="Units",
                                    labels=_UNIT_WORDS), pauseType="random"),
        "rate": show_if(number("1", minimum=0, title="Rate (messages)"), pauseType=_RATE_MODES),
        "nbRateUnits": show_if(number("1", minimum=0, allow_empty=True, title="per"),
                               pauseType=_RATE_MODES),
        "rateUnits": show_if(enum(list(_RATE_UNIT_MS), "second", title="Rate unit", labels={
            "second": "Second", "minute": "Minute", "hour": "Hour", "day": "Day"}),
            pauseType=_RATE_MODES),
        "drop": show_if(boolean(False, title="Drop intermediate messages",
                                description="else they are queued (or, with 2 outputs, "
                                            "sent on the 2nd output)"),
                        pauseType=["rate", "burst", "queue", "timed"]),
        "allowrate": show_if(boolean(False, title="Allow msg.rate (in ms) to override the rate"),
                             pauseType="rate"),
        "outputs": show_if(enum([1, 2, "1", "2"], 1, title="Outputs", labels={
            1: "1", 2: "2 (intermediate messages on the 2nd)"}), pauseType="rate"),
    }}
    editor: ClassVar = {"outputsFrom": "outputs"}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.pause_type = str(c.get("pauseType") or "delay")
        timeout = as_number(c.get("timeout"), 5.0) or 0.0
        self.timeout_ms = timeout * _UNIT_MS.get(str(c.get("timeoutUnits")), 1000.0)
        random_unit = _UNIT_MS.get(str(c.get("randomUnits")), 1000.0)
        self.random_first_ms = (as_number(c.get("randomFirst"), 1.0) or 0.0) * random_unit
        self.random_last_ms = (as_number(c.get("randomLast"), 5.0) or 0.0) * random_unit
        rate = as_number(c.get("rate"), 1.0) or 0.0
        unit_ms = _RATE_UNIT_MS.get(str(c.get("rateUnits")), 1000.0)
        units = as_number(c.get("nbRateUnits"), 0.0) or 0.0
        self.burst = rate
        self.burst_period_ms = units * unit_ms
        self.fixed_rate_ms = unit_ms / rate * (units if units > 0 else 1) if rate > 0 else 0.0
        self.rate_ms = self.fixed_rate_ms
        self.drop = as_bool(c.get("drop"))
        self.allowrate = as_bool(c.get("allowrate"))
        self.second_output = self.output_count == 2
        self.limit = buffer_limit(self)
        self.dropped = 0
        """Messages discarded because a buffer was full or a rate limit dropped them."""
        # Per-message timers (delay, delayv, random), in arrival order.
        self._held: dict[int, tuple[TimerHandle, Message, asyncio.Future[None]]] = {}
        self._keys = itertools.count()
        # Rate-limit queue (rate) and per-topic slots (queue, timed).
        self._queue: deque[tuple[Message, asyncio.Future[None]]] = deque()
        self._topics: dict[Any, tuple[Message, asyncio.Future[None]]] = {}
        self._interval: TimerHandle | None = None
        self._report_timer: TimerHandle | None = None
        self._last_sent: float | None = None
        self._burst_timers: deque[TimerHandle] = deque()
        handlers = {"delay": self._on_delay, "delayv": self._on_delay, "random": self._on_delay,
                    "rate": self._on_drop if self.drop else self._on_rate,
                    "burst": self._on_burst, "queue": self._on_topic, "timed": self._on_topic}
        if self.pause_type not in handlers:
            raise ValueError(f"delay: unknown pauseType {self.pause_type!r}; "
                             f"use one of {sorted(handlers)}")
        self._handler = handlers[self.pause_type]
        # Node-RED only shows the count of delayed messages when the delay is long.
        self._show_count = {"delay": self.timeout_ms > 1000, "delayv": True,
                            "random": self.timeout_ms >= 1000}.get(self.pause_type, False)

    async def start(self) -> None:
        if self.pause_type in ("rate", "queue", "timed") and not self.fixed_rate_ms > 0:
            raise ValueError(f"delay: rate must be a positive number, got "
                             f"{self.config.get('rate')!r}")
        if self.pause_type == "burst":
            if not (self.burst > 0 and self.burst_period_ms > 0):
                raise ValueError("delay: burst mode needs a positive rate and nbRateUnits")
            self.status(fill="green", shape="ring", text="")
        if self.pause_type in ("queue", "timed"):
            self._start_interval()

    def on_input(self, msg: Message) -> asyncio.Future[None] | None:
        return self._handler(msg)

    async def close(self, removed: bool) -> None:
        self._stop_interval()
        for timer in (self._report_timer, *self._burst_timers):
            if timer is not None:
                timer.cancel()
        self._report_timer = None
        self._burst_timers.clear()
        self._clear_held()
        self._discard_queued()
        self.status({})

    # ------------------------------------------------- delay, delayv, random
    def _on_delay(self, msg: Message) -> asyncio.Future[None] | None:
        future = None
        if not ("reset" in msg or (len(msg) == 2 and "flush" in msg)):
            if len(self._held) >= self.limit:
                self.dropped += 1
                raise failure(self, TOO_MANY)
            future = new_hold()
            key = next(self._keys)
            timer = self.clock.call_later(self._wait_ms(msg) / 1000, self._delayed_due, key)
            self._held[key] = (timer, msg, future)
        if "reset" in msg:
            self._clear_held()
            self.status(fill="blue", shape="ring", text="0")
        elif "flush" in msg:
            for key in list(self._held)[: _flush_count(msg["flush"], len(self._held))]:
                timer, *_ = self._held[key]
                timer.cancel()
                self._delayed_due(key)
            self.status(fill="blue", shape="dot", text=str(len(self._held)))
        elif self._show_count:
            self.status(fill="blue", shape="dot", text=str(len(self._held)))
        return future

    def _wait_ms(self, msg: Message) -> float:
        if self.pause_type == "random":
            spread = self.random_last_ms - self.random_first_ms
            return self.random_first_ms + spread * random.random()
        if self.pause_type == "delayv":
            wanted = _msg_delay_ms(msg)
            return max(0.0, self.timeout_ms if wanted is None else wanted)
        return self.timeout_ms

    def _delayed_due(self, key: int) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        _, msg, future = held
        if self._show_count:
            self.status(fill="blue", shape="dot", text=str(len(self._held)))
        self.send(msg)
        release(future)

    def _clear_held(self) -> None:
        held, self._held = self._held, {}
        for timer, _, future in held.values():
            timer.cancel()
            release(future)

    # ------------------------------------------------------------------ rate
    def _on_rate(self, msg: Message) -> asyncio.Future[None] | None:
        future = None
        queued = {k: v for k, v in msg.items() if k != "flush"}
        if len(queued) > 1:
            if self._interval is not None:
                if self._rate_override(queued):
                    self._start_interval()
                if len(self._queue) >= self.limit:
                    self.dropped += len(self._queue) + 1
                    self._discard_queued()
                    raise failure(self, TOO_MANY)
                else:
                    future = new_hold()
                    if msg.get("toFront") is True:
                        self._queue.appendleft((queued, future))
                    else:
                        self._queue.append((queued, future))
                    self._report_depth()
            else:
                self._rate_override(queued)
                if "reset" not in msg:
                    self.send(queued)
                elif "flush" in msg:
                    future = new_hold()
                    self._queue.append((queued, future))
                self._report_depth()
                self._start_interval()
        if "flush" in msg:
            count = _flush_count(msg["flush"], len(self._queue))
            if count == 0:
                self._stop_interval()
            else:
                for _ in range(count):
                    held, held_future = self._queue.popleft()
                    held.pop("flush", None)
                    held.pop("reset", None)
                    if len(held) > 1:
                        self.send(held)
                    release(held_future)
                self._start_interval()
            self.status(fill="blue", shape="dot", text=str(len(self._queue)))
        if "reset" in msg:
            if "flush" not in msg:
                self._stop_interval()
                self._last_sent = None
            self._discard_queued()
            self.rate_ms = self.fixed_rate_ms
            self.status(fill="blue", shape="ring", text="0")
        return future

    def _rate_tick(self) -> None:
        if not self._queue:
            self._interval = None
        else:
            self._interval = self.clock.call_later(self.rate_ms / 1000, self._rate_tick)
            held, future = self._queue.popleft()
            if len(held) > 1:
                self.send(held)
            release(future)
        self._report_depth()

    def _on_drop(self, msg: Message) -> None:
        if "reset" in msg:
            if "flush" not in msg:
                self._last_sent = None
            self.rate_ms = self.fixed_rate_ms
            self.status(fill="blue", shape="ring", text="0")
            return
        self._rate_override(msg)
        now = self.clock.monotonic()
        if self._last_sent is None or (now - self._last_sent) * 1000 > self.rate_ms:
            self._last_sent = now
            self.send(msg)
            return
        self.dropped += 1
        if self.second_output:
            self.send([None, msg])

    def _rate_override(self, msg: Message) -> bool:
        """Apply ``msg.rate`` (ms) when ``allowrate`` is set; True if the rate changed."""
        if not self.allowrate or "rate" not in msg:
            return False
        wanted = as_number(msg["rate"])
        if wanted is None or wanted <= 0 or wanted == self.rate_ms:
            return False
        self.rate_ms = wanted
        return True

    # ----------------------------------------------------------------- burst
    def _on_burst(self, msg: Message) -> None:
        if "reset" in msg:
            for timer in self._burst_timers:
                timer.cancel()
            self._burst_timers.clear()
            self.status(fill="green", shape="ring", text="")
            return
        if len(self._burst_timers) < self.burst:
            self.send(msg)
            self._burst_timers.append(
                self.clock.call_later(self.burst_period_ms / 1000, self._burst_slot_free))
            return
        self.dropped += 1
        if self.second_output:
            self.send([None, msg])
        self.status(fill="red", shape="dot", text="")

    def _burst_slot_free(self) -> None:
        # Every slot lasts the same period, so slots free up in the order they were taken.
        if len(self._burst_timers) >= self.burst:
            self.status(fill="green", shape="ring", text="")
        self._burst_timers.popleft()

    # ---------------------------------------------------------- queue, timed
    def _on_topic(self, msg: Message) -> asyncio.Future[None] | None:
        if self._rate_override(msg):
            self._start_interval()
        topic = msg.setdefault("topic", "_none_")
        replaced = self._topics.get(topic)
        if replaced is None and len(self._topics) >= self.limit:
            self.dropped += 1
            raise failure(self, TOO_MANY)
        future = new_hold()
        self._topics[topic] = (msg, future)  # a replaced topic keeps its place in the queue
        if replaced is not None:
            self.dropped += 1
            if self.second_output:
                self.send([None, replaced[0]])
            release(replaced[1])
        else:
            self._report_depth()
        if "flush" in msg:
            for key in list(self._topics)[: _flush_count(msg["flush"], len(self._topics))]:
                held, held_future = self._topics.pop(key)
                held.pop("flush", None)
                held.pop("reset", None)
                if len(held) > 2:
                    self.send(held)
                release(held_future)
            self.status({})
        if "reset" in msg:
            self._discard_queued()
            self.rate_ms = self.fixed_rate_ms
            self.status(text="reset")
        return future

    def _topic_tick(self) -> None:
        self._interval = self.clock.call_later(self.rate_ms / 1000, self._topic_tick)
        count = 1 if self.pause_type == "queue" else len(self._topics)
        for key in list(self._topics)[:count]:
            held, future = self._topics.pop(key)
            self.send(held)
            release(future)
        self._report_depth()

    # -------------------------------------------------------------- helpers
    def _start_interval(self) -> None:
        self._stop_interval()
        tick = self._rate_tick if self.pause_type == "rate" else self._topic_tick
        self._interval = self.clock.call_later(self.rate_ms / 1000, tick)

    def _stop_interval(self) -> None:
        if self._interval is not None:
            self._interval.cancel()
            self._interval = None

    def _discard_queued(self) -> None:
        for _, future in (*self._queue, *self._topics.values()):
            release(future)
        self._queue.clear()
        self._topics.clear()

    def _report_depth(self) -> None:
        """Show the queue length, at most every half second (as Node-RED does)."""
        if self._report_timer is None:
            self._report_timer = self.clock.call_later(_REPORT_DEPTH_AFTER, self._show_depth)

    def _show_depth(self) -> None:
        self._report_timer = None
        depth = len(self._queue) + len(self._topics)
        self.status(fill="blue", shape="dot", text=str(depth))
