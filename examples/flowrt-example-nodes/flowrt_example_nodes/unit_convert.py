"""unit-convert: converts a sensor reading between units."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flowrt.messages import Message, get_property, set_property
from flowrt.node import Node, NodeContext
from flowrt.schema import as_number, enum, integer, string

CONVERSIONS: dict[tuple[str, str], Callable[[float], float]] = {
    ("C", "F"): lambda v: v * 9 / 5 + 32,
    ("F", "C"): lambda v: (v - 32) * 5 / 9,
    ("C", "K"): lambda v: v + 273.15,
    ("K", "C"): lambda v: v - 273.15,
    ("bar", "psi"): lambda v: v * 14.5037738,
    ("psi", "bar"): lambda v: v / 14.5037738,
    ("kPa", "bar"): lambda v: v / 100,
    ("bar", "kPa"): lambda v: v * 100,
}
UNITS = sorted({unit for pair in CONVERSIONS for unit in pair})


class UnitConvert(Node):
    """Converts the number at `property` from unit `from` to unit `to`.

    Supported pairs: °C ↔ °F, °C ↔ K, bar ↔ psi, kPa ↔ bar. The result is rounded to
    `decimals` places and `msg.unit` is set to the target unit. A value that is not a
    number is reported as an error (catchable) and the message is dropped.
    """

    type = "unit-convert"
    category = "function"
    color = "#c7e9c0"
    icon = "arrow-right"
    palette_label = "convert"
    schema: ClassVar = {
        "type": "object",
        "properties": {
            "name": string(""),
            "property": string("payload", title="Property"),
            "from": enum(UNITS, "C", title="From unit"),
            "to": enum(UNITS, "F", title="To unit"),
            "decimals": integer(2, minimum=0, title="Decimal places"),
        },
    }
    editor: ClassVar = {"order": ["name", "property", "from", "to", "decimals"]}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        pair = (config["from"], config["to"])
        if pair[0] == pair[1]:
            self._convert: Callable[[float], float] = float
        elif pair in CONVERSIONS:
            self._convert = CONVERSIONS[pair]
        else:
            raise ValueError(f"cannot convert {pair[0]} to {pair[1]}")
        self._property = config["property"]
        self._decimals = int(as_number(config["decimals"], 2) or 0)

    def on_input(self, msg: Message) -> None:
        value = as_number(get_property(msg, self._property))
        if value is None:
            raise ValueError(f"msg.{self._property} is not a number: "
                             f"{get_property(msg, self._property)!r}")
        set_property(msg, self._property, round(self._convert(value), self._decimals))
        msg["unit"] = self.config["to"]
        self.send(msg)
