"""What stands in for a node that failed to configure or to start.

A deploy (or the start at boot) does not fail because one node is misconfigured
(a JavaScript or JSONata compile error, a bad option) or cannot start: as in
Node-RED, the node is reported and the rest of the flow runs (DESIGN.md
"Runtime principles"; ``strictDeploy`` restores the all-or-nothing deploy).

The runtime keeps a :class:`FailedNode` in the failed node's place. It is not a
running node (``get_node`` does not find it, so nodes that use it as a config
node see it as missing), but wires still lead to it: a message sent to it is
dropped and counted (``flowrt_node_dropped_total`` in ``/metrics``), and an
acknowledged delivery fails, so a store-and-forward sender keeps the message.
It shows a red ring status with a short text under the node in the editor, and
``/healthz`` lists it (:meth:`FailedNode.describe`).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from flowrt.dispatch import Tracker
from flowrt.errors import FlowrtError, NodeError
from flowrt.messages import Message
from flowrt.node import Node, NodeContext

log = logging.getLogger("flowrt.runtime")

Stage = Literal["configure", "start"]

STATUS_TEXT_LENGTH = 40
"""Characters of the error shown in the node's status (the full text is logged)."""


def error_text(exc: BaseException) -> str:
    """An exception as one line a user can act on.

    flowrt's own errors (and node errors) are already worded for the user; any
    other exception keeps its class name, which often says most (``KeyError``).
    """
    if isinstance(exc, FlowrtError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


class FailedNode(Node):
    """A node that failed to configure or start, kept in its place (see the module)."""

    type = "flowrt:failed-node"
    category = "internal"
    outputs = 0

    def __init__(self, config: dict[str, Any], ctx: NodeContext, stage: Stage,
                 error: BaseException, flow_id: str) -> None:
        super().__init__(config, ctx)
        self.node_type: str = str(config.get("type", ""))
        self.stage: Stage = stage
        self.flow_id = flow_id
        self.error_text = error_text(error)
        self.dropped = 0

    def report(self) -> None:
        """Log the failure and show it as the node's status (red ring)."""
        doing = "configure" if self.stage == "configure" else "start"
        log.error("node %s (%s) in flow %s failed to %s, the rest of the flow runs: %s",
                  self.id, self.node_type, self.flow_id, doing, self.error_text)
        short = self.error_text
        if len(short) > STATUS_TEXT_LENGTH:
            short = short[:STATUS_TEXT_LENGTH - 1] + "…"
        self.status(fill="red", shape="ring", text=short)

    def describe_failure(self) -> dict[str, Any]:
        """This failure as ``/healthz`` lists it."""
        return {"id": self.id, "type": self.node_type, "flow": self.flow_id,
                "stage": self.stage, "error": self.error_text, "dropped": self.dropped}

    def receive(self, msg: Message, tracker: Tracker | None) -> None:
        """Drop a message wired to this node: count it, and fail an acknowledged send."""
        self.dropped += 1
        if self.dropped == 1:
            # Once: the failure itself was already reported, and a busy wire would
            # otherwise log every message.
            log.warning("node %s (%s) is not running (it failed to %s): messages sent to it "
                        "are dropped", self.id, self.node_type, self.stage)
        if tracker is not None:
            tracker.fail(NodeError(f"node {self.id} ({self.node_type}) is not running: "
                                   f"{self.error_text}", node_id=self.id,
                                   node_type=self.node_type, msg_id=msg.get("_msgid")))

    def metrics(self) -> dict[str, float]:
        """Messages dropped because this node is not running."""
        return {"dropped_total": self.dropped}
