"""The runtime's internal node types for subflow instances (never in the palette).

``flowrt.graph`` expands each subflow instance into copies of the subflow's nodes,
plus a :class:`SubflowIn` (the instance itself, feeding the subflow's input port)
and, when the subflow has a status port, a :class:`SubflowStatus`.
"""

from __future__ import annotations

from flowrt.graph import SUBFLOW_IN, SUBFLOW_STATUS
from flowrt.messages import Message
from flowrt.node import Node


class SubflowIn(Node):
    """A subflow instance: passes what it receives into the subflow's input port."""

    type = SUBFLOW_IN
    category = "internal"


class SubflowStatus(Node):
    """The status port of a subflow instance: sets the instance's status."""

    type = SUBFLOW_STATUS
    category = "internal"
    outputs = 0

    def on_input(self, msg: Message) -> None:
        instance = self.ctx.get_node(self.config["instance"])
        if instance is not None:
            status = msg.get("status")
            instance.status(status if isinstance(status, dict) else msg.get("payload"))


INTERNAL_TYPES: dict[str, type[Node]] = {SUBFLOW_IN: SubflowIn, SUBFLOW_STATUS: SubflowStatus}
"""Node types the runtime creates itself, by type name."""
