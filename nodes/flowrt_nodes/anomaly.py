"""anomaly: per-key statistical anomaly scores, no model file needed.

Each key and field has a small model: a numpy ring buffer of the last ``window``
values (``zscore``, ``mad``) or two floats (``ewma``). A reading is scored against
the model as it was before the reading, then added to it. numpy is imported when the
node starts.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, ClassVar

from flowrt.messages import Message, field_names, get_property, parse_path
from flowrt.node import Node, NodeContext
from flowrt.schema import as_int, as_number, enum, integer, number, string

_MISSING: Any = object()
_MAD_TO_STD = 1.4826  # scales a median absolute deviation to a normal distribution's std


def _floor(spread: float, centre: float) -> float:
    """A spread that is never zero, so a perfectly flat history still gives a finite score."""
    return max(spread, 1e-9 * max(1.0, abs(centre)))


class _Window:
    """The last ``size`` values of one key and field, in a preallocated array."""

    __slots__ = ("count", "median", "next", "np", "values")

    def __init__(self, np: Any, size: int, median: bool) -> None:
        self.np = np
        self.values = np.empty(size, dtype=float)
        self.count = 0
        self.next = 0
        self.median = median

    def estimate(self) -> tuple[float, float] | None:
        """(centre, spread) of the history: mean and std, or median and scaled MAD."""
        if not self.count:
            return None
        values = self.values[: self.count]
        if not self.median:
            return float(values.mean()), float(values.std())
        np = self.np
        centre = float(np.median(values))
        return centre, _MAD_TO_STD * float(np.median(np.abs(values - centre)))

    def add(self, value: float) -> None:
        """Remember ``value``, forgetting the oldest once the window is full."""
        self.values[self.next] = value
        self.next = (self.next + 1) % self.values.size
        self.count = min(self.count + 1, self.values.size)


class _Ewma:
    """Exponentially weighted mean and variance of one key and field."""

    __slots__ = ("alpha", "count", "mean", "var")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.count = 0
        self.mean = 0.0
        self.var = 0.0

    def estimate(self) -> tuple[float, float] | None:
        """(mean, std) so far."""
        return (self.mean, math.sqrt(self.var)) if self.count else None

    def add(self, value: float) -> None:
        """Fold ``value`` into the mean and variance (West's incremental form)."""
        if not self.count:
            self.mean = value
        else:
            diff = value - self.mean
            step = self.alpha * diff
            self.mean += step
            self.var = (1 - self.alpha) * (self.var + diff * step)
        self.count += 1


class Anomaly(Node):
    """Scores every reading against a rolling model of its key; flags the outliers.

    `method`:
    - `zscore` — distance from the mean of the last `window` readings, in standard
      deviations (population std of the window);
    - `ewma` — distance from an exponentially weighted mean, in weighted standard
      deviations (`alpha`, default 0.1: the weight of each new reading);
    - `mad` — distance from the median of the last `window` readings, in median absolute
      deviations scaled to a standard deviation (times 1.4826): robust to the outliers it finds.

    A reading is scored against the model as it was before that reading, then added to it.
    Until a key has `minSamples` readings (default 10) the score is null and nothing is
    flagged. A flat history (spread 0) makes any different value anomalous.

    `property` (default `payload`) or `properties` name the values; `key` (default `topic`)
    the message property that separates devices. Every message leaves on **output 1** with
    `msg.anomaly = {score, isAnomaly, mean, std, method}` (`isAnomaly`: score above
    `threshold`, default 3; for `mad`, `mean` is the median). With `properties`,
    `msg.anomaly = {isAnomaly (any field), method, fields: {<field>: {...}}}`, `<field>`
    being each path's last segment. Anomalous messages also leave on **output 2**.

    A missing or non-numeric value is reported with a warning, counted, and scored null.
    Memory is bounded: `window` values per key and field, at most `maxKeys` keys (the least
    recently seen is forgotten).
    """

    type = "anomaly"
    category = "function"
    outputs = 2
    color = "#F3B567"
    icon = "anomaly"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "property": string("payload", title="Property"),
        "properties": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "default": [], "title": "Properties (several fields)"},
        "key": string("topic", title="Key property"),
        "method": enum(["zscore", "ewma", "mad"], "zscore", title="Method", labels={
            "zscore": "z-score (rolling mean and deviation)",
            "ewma": "EWMA (exponentially weighted mean)",
            "mad": "median absolute deviation"}),
        "window": integer(60, minimum=2, title="Window (readings)"),
        "alpha": number(0.1, minimum=0, title="Alpha (ewma)"),
        "threshold": number(3.0, minimum=0, title="Score threshold"),
        "minSamples": integer(10, minimum=1, title="Warm-up (readings)"),
        "maxKeys": integer(10000, minimum=1, title="Maximum keys"),
    }}
    editor: ClassVar = {"label": "name", "order": [
        "property", "properties", "key", "method", "window", "alpha", "threshold",
        "minSamples", "maxKeys"]}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._multi = bool(config.get("properties"))
        self._paths = [str(p) for p in config.get("properties") or ()] or \
            [str(config.get("property") or "payload")]
        self._key = str(config.get("key") or "topic")
        for path in (*self._paths, self._key):
            parse_path(path)  # now, so that a bad path fails the deploy
        self._names = field_names(self._paths)
        self._method = config.get("method") or "zscore"
        self._window = as_int(config.get("window"), 60) or 60
        self._alpha = as_number(config.get("alpha"), 0.1) or 0.0
        if not 0 < self._alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], not {config.get('alpha')!r}")
        self._threshold = as_number(config.get("threshold"), 3.0) or 0.0
        self._min_samples = as_int(config.get("minSamples"), 10) or 1
        if self._method != "ewma" and self._min_samples > self._window:
            raise ValueError(f"minSamples ({self._min_samples}) cannot exceed window "
                             f"({self._window}): the model would never warm up")
        self._max_keys = as_int(config.get("maxKeys"), 10000) or 10000
        self._models: OrderedDict[str, list[_Window | _Ewma]] = OrderedDict()
        self._np: Any = None
        self.anomalies = 0
        self.rejected = 0

    async def start(self) -> None:
        import numpy

        self._np = numpy

    def on_input(self, msg: Message) -> None:
        raw_key = get_property(msg, self._key)
        key = raw_key if type(raw_key) is str else "" if raw_key is None else str(raw_key)
        models = self._models_for(key or "_no_key")
        results = [self._score(model, msg, path) for model, path in
                   zip(models, self._paths, strict=True)]
        flagged = any(r["isAnomaly"] for r in results)
        if self._multi:
            msg["anomaly"] = {"isAnomaly": flagged, "method": self._method,
                              "fields": dict(zip(self._names, results, strict=True))}
        else:
            msg["anomaly"] = results[0]
        if flagged:
            self.anomalies += 1
            self._show_status()
            self.send([msg, msg])
        else:
            self.send(msg)

    def _models_for(self, key: str) -> list[_Window | _Ewma]:
        models = self._models.get(key)
        if models is not None:
            self._models.move_to_end(key)
            return models
        if len(self._models) >= self._max_keys:
            self._models.popitem(last=False)
        if self._method == "ewma":
            models = [_Ewma(self._alpha) for _ in self._paths]
        else:
            models = [_Window(self._np, self._window, self._method == "mad")
                      for _ in self._paths]
        self._models[key] = models
        return models

    def _score(self, model: _Window | _Ewma, msg: Message, path: str) -> dict[str, Any]:
        estimate = model.estimate()
        centre, spread = estimate if estimate is not None else (None, None)
        result: dict[str, Any] = {"score": None, "isAnomaly": False, "mean": centre,
                                  "std": spread, "method": self._method}
        raw = get_property(msg, path, _MISSING)
        value = as_number(raw)
        if value is None or not math.isfinite(value):
            self.rejected += 1
            self.warn(f"{path} is {'missing' if raw is _MISSING else 'not a number'}"
                      f"{'' if raw is _MISSING else f' ({raw!r:.40})'}: not scored")
            self._show_status()
            return result
        if centre is not None and spread is not None and model.count >= self._min_samples:
            score = abs(value - centre) / _floor(spread, centre)
            result["score"] = score
            result["isAnomaly"] = score > self._threshold
        model.add(value)
        return result

    def _show_status(self) -> None:
        text = f"{self.anomalies} anomalies, {len(self._models)} keys"
        if self.rejected:
            text += f", {self.rejected} rejected"
        self.status(fill="red" if self.anomalies else "yellow", shape="dot", text=text)
