"""aggregate: windowed statistics per group (count, tumbling and sliding windows).

Messages only append numbers to a per-group buffer; the statistics are computed
once per closed window, so the per-message cost is a few dict and list operations.
Time windows are aligned to multiples of their length (a 60 s window runs from one
whole minute to the next) and one timer per node closes them on the clock, whether or
not messages keep arriving.

count, min, max, mean, sum, first, last and rate are plain Python (the sum adds in
numpy's pairwise order, so the figures are the ones numpy gives); numpy is imported
only when a window is summarised with a statistic that needs it (stddev, percentiles),
so an aggregate flow with the default statistics idles at a relay's memory.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict, deque
from itertools import compress
from typing import Any, ClassVar

from flowrt.clock import TimerHandle
from flowrt.messages import Message, field_names, get_property, parse_path
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_int, as_number, boolean, enum, integer, number, string

STATS = ("count", "min", "max", "mean", "sum", "stddev", "median", "p90", "p95", "p99",
         "first", "last", "rate")
_PERCENTILES = {"median": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
_MISSING: Any = object()
_STATUS_INTERVAL = 1.0


_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


def pairwise_sum(values: list[float]) -> float:
    """The sum of ``values`` added in numpy's order (``numpy.add.reduce`` of a float64
    array: pairwise above 128 values, eight running sums below), so it is bit for bit
    the sum numpy gives, which ``math.fsum`` (exact) and, from Python 3.12, ``sum``
    (compensated) are not."""
    return 0.0 + _pairwise(values, 0, len(values))  # numpy's reduction starts at 0.0


def _pairwise(a: list[float], start: int, n: int) -> float:
    if n < 8:
        res = -0.0
        for i in range(start, start + n):
            res += a[i]
        return res
    if n <= _PAIRWISE_BLOCK:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[start:start + 8]
        end = start + n - n % 8
        for i in range(start + 8, end, 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(end, start + n):
            res += a[i]
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(a, start, half) + _pairwise(a, start + half, n - half)


def summarize(values: list[float], stats: tuple[str, ...],
              seconds: float | None) -> dict[str, Any]:
    """The requested statistics of ``values`` (finite floats, in arrival order).

    ``stddev`` is the sample standard deviation (0 for one value); percentiles
    interpolate linearly; ``rate`` is values per second over ``seconds``. With no
    values, ``count`` and ``sum`` are 0, ``rate`` is 0 and the rest are None. Only
    ``stddev`` and the percentiles use numpy (imported on their first use).
    """
    n = len(values)
    out: dict[str, Any] = {}
    array: Any = None
    quantiles: dict[float, float] = {}
    if n and any(s == "stddev" or s in _PERCENTILES for s in stats):
        import numpy

        array = numpy.array(values, dtype=float)
        wanted = [q for s, q in _PERCENTILES.items() if s in stats]
        if wanted:
            quantiles = dict(zip(wanted, numpy.percentile(array, wanted).tolist(), strict=True))
    total = pairwise_sum(values) if n and ("sum" in stats or "mean" in stats) else 0.0
    for stat in stats:
        if stat == "count":
            out[stat] = n
        elif stat == "sum":
            out[stat] = total
        elif stat == "rate":
            out[stat] = n / seconds if seconds else (0.0 if not n else None)
        elif not n:
            out[stat] = None
        elif stat == "min":
            out[stat] = min(values)
        elif stat == "max":
            out[stat] = max(values)
        elif stat == "mean":
            out[stat] = total / n
        elif stat == "stddev":
            out[stat] = float(array.std(ddof=1)) if n > 1 else 0.0
        elif stat in _PERCENTILES:
            out[stat] = quantiles[_PERCENTILES[stat]]
        elif stat == "first":
            out[stat] = values[0]
        elif stat == "last":
            out[stat] = values[-1]
    return out


class _Group:
    """One group's data for the window being filled (count and tumbling windows),
    or its recent history (sliding windows)."""

    __slots__ = ("columns", "count", "first_ts", "history", "index", "label", "last_ts",
                 "topic", "values", "warned")

    def __init__(self, label: Any, fields: int, history: int | None) -> None:
        self.label = label
        self.topic: Any = None
        self.index: int | None = None  # tumbling: the open window's number
        self.values: list[list[float]] = [[] for _ in range(fields)]
        self.count = 0  # messages that gave at least one number to this window
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.warned = False
        # sliding: arrival (or event) times, oldest first, and one column of values per
        # field, NaN where a value was rejected
        self.history: deque[float] | None = deque(maxlen=history) if history else None
        self.columns: list[deque[float]] = \
            [deque(maxlen=history) for _ in range(fields)] if history else []

    def clear(self) -> None:
        """Start an empty window."""
        for values in self.values:
            values.clear()
        self.count = 0
        self.index = None
        self.warned = False


class Aggregate(Node):
    """Windowed statistics per group: one message per closed window and group.

    **Windows** (`window`): `count` closes on the `size`-th message with a numeric
    value; `tumbling` covers consecutive `size`-second periods aligned to the clock (a
    60 s window runs from one whole minute to the next; a message exactly on a boundary
    opens the next window);
    `sliding` emits every `slide` seconds the statistics of the last `size` seconds.
    Time windows close on the clock even when no more messages arrive.

    **What is aggregated**: `property` (a path to a number, default `payload`) or
    `properties` (several paths). Values may be numbers, numeric text or booleans (1/0).
    Missing, non-numeric and non-finite values are left out of the statistics and out of
    `count`; they are reported once per window with a warning, counted in the node
    status and on `/metrics` (`flowrt_node_rejected_total`), never in the payload.

    **Groups**: `groupBy` is `topic` (default), any message property path, or empty for one
    group. At most `maxGroups` groups are kept: a new group beyond that flushes and evicts
    the least recently updated one. A group holds at most `maxSamples` values per window.

    **Output** per window and group:
    `msg.topic` = `outputTopic`, or the topic of the group's last message;
    `msg.payload = {group, windowStart, windowEnd (ms), count, <field>: {<stat>: value}}`,
    `count` being the messages that gave at least one numeric value (with a single
    property: the values aggregated), and `<field>` is the last segment of each property path
    (the full path when two share a last segment). `stats` may list `count`, `min`,
    `max`, `mean`, `sum`, `stddev` (sample), `median`, `p90`, `p95`, `p99`, `first`,
    `last`, `rate` (values per second); default count, min, max, mean.

    `emitEmpty`: also emit windows in which a known group got no message (count 0).
    `flushOnClose` (default on): on redeploy or shutdown the partial windows are emitted
    with `partial: true`. `timeProperty`: a path to the event time in ms, used instead of
    the arrival time to place each message in its window; a message for a window that
    has already closed is dropped with a warning (late).
    """

    type = "aggregate"
    category = "function"
    color = "#E2D96E"
    icon = "aggregate"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "property": string("payload", title="Property"),
        "properties": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "default": [], "title": "Properties (several fields)"},
        "groupBy": string("topic", title="Group by (property path, empty: one group)"),
        "window": enum(["count", "tumbling", "sliding"], "tumbling", title="Window", labels={
            "count": "every N messages", "tumbling": "tumbling time window",
            "sliding": "sliding time window"}),
        "size": number(60, minimum=0, title="Size (messages or seconds)"),
        "slide": number(10, minimum=0, title="Slide (seconds, sliding windows)"),
        "stats": {"type": "array", "items": enum(list(STATS), title="Statistic", labels={
                      "count": "count", "min": "minimum", "max": "maximum", "mean": "mean",
                      "sum": "sum", "stddev": "standard deviation (sample)",
                      "median": "median", "p90": "90th percentile",
                      "p95": "95th percentile", "p99": "99th percentile",
                      "first": "first value", "last": "last value",
                      "rate": "rate (values per second)"}),
                  "uniqueItems": True,
                  "default": ["count", "min", "max", "mean"], "title": "Statistics"},
        "emitEmpty": boolean(False, title="Emit empty windows"),
        "flushOnClose": boolean(True, title="Emit partial windows on close"),
        "timeProperty": string("", title="Event time property (ms), empty: arrival time"),
        "outputTopic": string("", title="Output topic"),
        "maxGroups": integer(10000, minimum=1, title="Maximum groups"),
        "maxSamples": integer(100000, minimum=1, title="Maximum values per group and window"),
    }}
    editor: ClassVar = {"label": "name", "order": [
        "property", "properties", "groupBy", "window", "size", "slide", "stats", "emitEmpty",
        "flushOnClose", "timeProperty", "outputTopic", "maxGroups", "maxSamples"]}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        paths = [str(p) for p in config.get("properties") or ()] or \
            [str(config.get("property") or "payload")]
        self._paths = paths
        self._names = field_names(paths)
        self._group_by = str(config.get("groupBy") or "")
        self._time_property = str(config.get("timeProperty") or "")
        for path in (*paths, self._group_by, self._time_property):
            if path:
                parse_path(path)  # now, so that a bad path fails the deploy
        self._mode = config.get("window") or "tumbling"
        size = as_number(config.get("size"), 0) or 0.0
        if size <= 0 or (self._mode == "count" and not float(size).is_integer()):
            kind = "whole number of messages" if self._mode == "count" else "number of seconds"
            raise ValueError(f"size must be a positive {kind}, not {config.get('size')!r}")
        self._size = size
        slide = as_number(config.get("slide"), 0) or 0.0
        if self._mode == "sliding" and slide <= 0:
            raise ValueError(f"slide must be a positive number of seconds, not {slide!r}")
        self._slide = slide
        self._stats = tuple(s for s in STATS if s in (config.get("stats") or STATS[:4]))
        self._emit_empty = as_bool(config.get("emitEmpty"))
        self._flush_on_close = as_bool(config.get("flushOnClose"), True)
        self._output_topic = config.get("outputTopic") or ""
        self._max_groups = as_int(config.get("maxGroups"), 10000) or 10000
        self._max_samples = as_int(config.get("maxSamples"), 100000) or 100000
        self._groups: OrderedDict[Any, _Group] = OrderedDict()
        self._timer: TimerHandle | None = None
        self.windows = 0
        self.rejected = 0
        self.late = 0
        self._closed_before = -(1 << 62)
        self._status_at = -math.inf

    async def start(self) -> None:
        self.status(fill="grey", shape="ring", text="waiting")

    # ---------------------------------------------------------------- messages
    def on_input(self, msg: Message) -> None:
        ts = self._timestamp(msg)
        if ts is None:
            return
        group = self._group(msg)
        if "topic" in msg:
            group.topic = msg["topic"]
        if self._mode == "sliding":
            self._add_to_history(group, ts, msg)
        elif self._mode == "count":
            self._add(group, ts, msg)
            if group.count >= self._size:  # the size-th numeric value closes it
                self._close_bucket(group, group.first_ts, group.last_ts,
                                   group.last_ts - group.first_ts)
        else:
            self._add_to_window(group, ts, msg)

    def _timestamp(self, msg: Message) -> float | None:
        if not self._time_property:
            return self.clock.time()
        raw = get_property(msg, self._time_property, _MISSING)
        ms = as_number(raw) if raw is not _MISSING else None
        if ms is None or not math.isfinite(ms):
            self.rejected += 1
            self.warn(f"{self._time_property} is not a time in ms ({_short(raw)}): "
                      "message left out")
            return None
        return ms / 1000.0

    def _group(self, msg: Message) -> _Group:
        label = get_property(msg, self._group_by) if self._group_by else None
        key = label if label is None or isinstance(label, str | int | float | bool) \
            else json.dumps(label, sort_keys=True, default=str)
        groups = self._groups
        group = groups.get(key)
        if group is not None:
            groups.move_to_end(key)
            return group
        if len(groups) >= self._max_groups:
            _, evicted = groups.popitem(last=False)
            self._flush(evicted)
        history = self._max_samples if self._mode == "sliding" else None
        group = groups[key] = _Group(label, len(self._paths), history)
        return group

    def _value(self, msg: Message, path: str, group: _Group) -> float | None:
        raw = get_property(msg, path, _MISSING)
        value = as_number(raw)
        if value is not None and math.isfinite(value):
            return value
        self._reject(group, f"{path} is {'missing' if raw is _MISSING else 'not a number'}"
                            f"{'' if raw is _MISSING else f' ({_short(raw)})'}")
        return None

    def _reject(self, group: _Group, reason: str, values: int = 1) -> None:
        self.rejected += values
        if not group.warned:
            group.warned = True
            self.warn(f"group {_short(group.label)}: {reason}; left out of the window "
                      "(reported once per window)")

    def _add(self, group: _Group, ts: float, msg: Message) -> None:
        if group.count >= self._max_samples:
            self._reject(group, f"more than {self._max_samples} messages (maxSamples)",
                         len(self._paths))
            return
        numeric = False
        for column, path in zip(group.values, self._paths, strict=True):
            value = self._value(msg, path, group)
            if value is not None:
                column.append(value)
                numeric = True
        if not numeric:
            return
        if group.count == 0:
            group.first_ts = ts
        group.last_ts = ts
        group.count += 1

    def _add_to_window(self, group: _Group, ts: float, msg: Message) -> None:
        index = math.floor(ts / self._size)
        # Every window before _closed_before has been emitted, and so has any window of
        # this group before the one it is filling.
        oldest = self._closed_before if group.index is None else \
            max(self._closed_before, group.index)
        if index < oldest:
            if self._time_property:
                self.late += 1
                self.warn(f"late message for group {_short(group.label)}: its window "
                          f"(start {round(index * self._size * 1000)} ms) has closed; left out")
                return
            index = oldest  # the wall clock stepped back: stay in the open window
        if group.index is not None and index > group.index:
            self._close_window(group)
        if group.index is None:
            group.index = index
        self._add(group, ts, msg)
        self._arm()

    def _add_to_history(self, group: _Group, ts: float, msg: Message) -> None:
        history = group.history
        assert history is not None
        if len(history) == history.maxlen and not group.warned:
            group.warned = True
            self.warn(f"group {_short(group.label)}: more than {self._max_samples} values "
                      "in the window (maxSamples); the oldest are dropped")
        history.append(ts)
        for column, path in zip(group.columns, self._paths, strict=True):
            value = self._value(msg, path, group)
            column.append(math.nan if value is None else value)
        self._arm()

    # ------------------------------------------------------------------ windows
    def _arm(self) -> None:
        if self._timer is not None:
            return
        step = self._slide if self._mode == "sliding" else self._size
        now = self.clock.time()
        boundary = math.floor(now / step) + 1
        self._timer = self.clock.call_later(boundary * step - now, self._tick, boundary)

    def _tick(self, boundary: int) -> None:
        """A window boundary passed: close what ended there and arm the next one."""
        self._timer = None
        self._closed_before = max(self._closed_before, boundary)
        for key, group in list(self._groups.items()):
            if group.history is not None:
                end = boundary * self._slide
                self._slide_window(group, end - self._size, end)
                cutoff = end + self._slide - self._size
                while group.history and group.history[0] < cutoff:
                    group.history.popleft()
                    for column in group.columns:
                        column.popleft()
                keep = bool(group.history)
            else:
                if group.index is not None and group.index < boundary:
                    self._close_window(group)
                elif group.index is None and self._emit_empty:
                    start = (boundary - 1) * self._size
                    self._close_bucket(group, start, start + self._size, self._size)
                keep = group.index is not None
            if not keep and not self._emit_empty:
                del self._groups[key]
        if self._groups:
            self._arm()
        self._show_status(force=True)

    def _close_window(self, group: _Group) -> None:
        assert group.index is not None
        start = group.index * self._size
        self._close_bucket(group, start, start + self._size, self._size)

    def _slide_window(self, group: _Group, start: float, end: float,
                      partial: bool = False) -> None:
        """Emit the statistics of the history between ``start`` and ``end``."""
        history = group.history
        assert history is not None
        inside = [start <= ts and (ts <= end if partial else ts < end) for ts in history]
        if any(inside) or (self._emit_empty and not partial):
            columns = [list(compress(column, inside)) for column in group.columns]
            fields = [[v for v in column if not math.isnan(v)] for column in columns]
            # a message counts when at least one of its fields gave a number
            count = sum(1 for row in zip(*columns, strict=True)
                        if not all(math.isnan(v) for v in row))
            self._emit(group, start, end, self._size, count, fields, partial)
        group.warned = False

    def _close_bucket(self, group: _Group, start: float, end: float, seconds: float,
                      partial: bool = False) -> None:
        """Emit the window a group has been filling and start an empty one."""
        self._emit(group, start, end, seconds, group.count, group.values, partial)
        group.clear()

    def _emit(self, group: _Group, start: float, end: float, seconds: float, count: int,
              fields: list[list[float]], partial: bool) -> None:
        payload: dict[str, Any] = {
            "group": group.label, "windowStart": round(start * 1000),
            "windowEnd": round(end * 1000), "count": count}
        for name, values in zip(self._names, fields, strict=True):
            payload[name] = summarize(values, self._stats, seconds)
        if partial:
            payload["partial"] = True
        topic = self._output_topic or group.topic
        if topic is None:
            topic = group.label if isinstance(group.label, str) else ""
        self.windows += 1
        self.send({"topic": topic, "payload": payload})
        self._show_status()

    def _flush(self, group: _Group) -> None:
        """Emit what a group holds now (eviction, close) as a partial window."""
        now = self.clock.time()
        if group.history is not None:
            if group.history:
                self._slide_window(group, now - self._size, now, partial=True)
                group.history.clear()
                for column in group.columns:
                    column.clear()
        elif group.count:
            start = group.index * self._size if group.index is not None else group.first_ts
            self._close_bucket(group, start, now, now - start, partial=True)

    def _show_status(self, force: bool = False) -> None:
        now = self.clock.monotonic()
        if not force and now - self._status_at < _STATUS_INTERVAL:
            return
        self._status_at = now
        text = f"{len(self._groups)} groups, {self.windows} windows"
        if self.rejected or self.late:
            text += f", {self.rejected + self.late} rejected"
        self.status(fill="yellow" if self.rejected or self.late else "green", shape="dot",
                    text=text)

    def metrics(self) -> dict[str, float]:
        """Windows emitted, values rejected (non-numeric, over `maxSamples`, bad event
        times) and late messages, for ``/metrics``."""
        return {"windows_total": self.windows, "rejected_total": self.rejected,
                "late_total": self.late}

    async def close(self, removed: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flush_on_close:
            for group in self._groups.values():
                self._flush(group)
        self._groups.clear()


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

