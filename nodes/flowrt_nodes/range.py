"""range: maps a number from one range onto another."""

from __future__ import annotations

import math
from typing import ClassVar

from flowrt.jsvalue import MISSING, js_number, js_string, number_value
from flowrt.messages import Message, property_getter, set_message_property
from flowrt.node import Node
from flowrt.schema import as_bool, boolean, enum, number, string


class Range(Node):
    """Maps a numeric property from the input range `minin`..`maxin` onto
    `minout`..`maxout`: `(n - minin) / (maxin - minin) * (maxout - minout) + minout`.

    `action`: `scale` maps any value (even outside the range), `clamp` first limits the
    input to the range, `roll` wraps it around inside the range, `drop` discards messages
    outside it. `round` rounds the result to an integer. `property` (default `payload`)
    is the message property used. Numeric strings are converted; a value that is not a
    number is reported with a warning and dropped; a message without the property passes
    through unchanged. When `minin` is greater than `maxin` both pairs are swapped.
    """

    type = "range"
    category = "function"
    color = "#e2d96e"
    icon = "range"
    editor: ClassVar = {"label": "name", "order": ["property", "action", "minin", "maxin",
                                                   "minout", "maxout", "round"]}
    schema: ClassVar = {"type": "object", "required": ["minin", "maxin", "minout", "maxout"],
                        "properties": {
        "minin": number("", allow_empty=True, title="Map the input range from"),
        "maxin": number("", allow_empty=True, title="… to"),
        "minout": number("", allow_empty=True, title="to the target range from"),
        "maxout": number("", allow_empty=True, title="… to"),
        "action": enum(["scale", "clamp", "roll", "drop"], "scale", title="Action", labels={
            "scale": "Scale the message property",
            "clamp": "Scale and limit to the target range",
            "roll": "Scale and wrap within the target range",
            "drop": "Scale, but drop msg if outside input range"}),
        "round": boolean(False, title="Round result to the nearest integer"),
        "property": string("payload", title="Property (msg.)"),
        "name": string(""),
    }}

    async def start(self) -> None:
        config = self.config
        bounds = {}
        for key in ("minin", "maxin", "minout", "maxout"):
            bounds[key] = js_number(config.get(key))
            if bounds[key] != bounds[key]:
                raise ValueError(f"range {key} {config.get(key)!r} is not a number")
        self._minin, self._maxin = bounds["minin"], bounds["maxin"]
        self._minout, self._maxout = bounds["minout"], bounds["maxout"]
        if self._minin > self._maxin:
            self._minin, self._maxin = self._maxin, self._minin
            self._minout, self._maxout = self._maxout, self._minout
        self._round = as_bool(config.get("round"))
        if self._round:
            self._maxout, self._minout = math.floor(self._maxout), math.ceil(self._minout)
        self._action = config.get("action") or "scale"
        self._property = str(config.get("property") or "payload")
        self._get = property_getter(self._property)

    def on_input(self, msg: Message) -> None:
        value = self._get(msg, MISSING)
        if value is MISSING:
            self.send(msg)
            return
        n = js_number(value)
        if n != n:
            self.warn(f"Not a number: {js_string(value)}")
            return
        minin, maxin = self._minin, self._maxin
        if self._action == "drop" and (n < minin or n > maxin):
            return
        if self._action == "clamp":
            n = min(max(n, minin), maxin)
        elif self._action == "roll":
            divisor = maxin - minin
            n = math.fmod(math.fmod(n - minin, divisor) + divisor, divisor) + minin \
                if divisor else math.nan
        try:
            result = (n - minin) / (maxin - minin) * (self._maxout - self._minout) + self._minout
        except ZeroDivisionError:
            result = math.nan
        if self._round:
            result = math.floor(result + 0.5) if math.isfinite(result) else result
        set_message_property(msg, self._property, number_value(float(result)))
        self.send(msg)
