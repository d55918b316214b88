"""junction: a dot on the canvas that merges and splits wires."""

from __future__ import annotations

from flowrt.messages import Message
from flowrt.node import Node


class Junction(Node):
    """Passes every message on unchanged; used to tidy wiring."""

    type = "junction"
    category = "common"
    color = "#dddddd"
    icon = ""

    def on_input(self, msg: Message) -> None:
        self.send(msg)
