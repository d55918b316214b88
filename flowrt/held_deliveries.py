"""Deliveries to a node that is created but not started yet, held until it is.

A deploy creates and wires every node before starting them one by one, so that a node
may send from ``start()``; starts are awaited, and while one awaits (a broker
connecting), nodes already started may send to a node whose ``start()`` has not run.
Node-RED creates nodes synchronously, so its nodes never see that; here such
deliveries wait in :class:`HeldDeliveries` and reach the node, in order, once its
start is done (or its stand-in, when the start failed).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from flowrt.dispatch import Tracker
from flowrt.errors import NodeError
from flowrt.messages import Message

log = logging.getLogger("flowrt.runtime")

HELD_LIMIT = 1000
"""Deliveries held per starting node; beyond, each fails (its sender learns)."""


class Receiver(Protocol):
    """What takes a delivery: a node, or the stand-in of one that failed."""

    id: str

    def receive(self, msg: Message, tracker: Tracker | None) -> None: ...


class HeldDeliveries:
    """Holds what is delivered to ``node`` until :meth:`release` (see the module).

    While held, ``node.receive`` is this object's :meth:`hold` (an instance attribute
    over the class's method); :meth:`release` removes it, so a started node's
    deliveries cost nothing extra.
    """

    def __init__(self, node: Any) -> None:
        self._node = node
        self._held: list[tuple[Message, Tracker | None]] = []
        self._refused = 0
        node.receive = self.hold

    def hold(self, msg: Message, tracker: Tracker | None) -> None:
        """Keep a delivery for when the node has started."""
        if len(self._held) < HELD_LIMIT:
            self._held.append((msg, tracker))
            return
        self._refused += 1
        if self._refused == 1:
            log.warning("node %s is still starting and %d messages wait for it: more are "
                        "dropped", self._node.id, HELD_LIMIT)
        if tracker is not None:
            tracker.fail(NodeError(f"node {self._node.id} is still starting and cannot take "
                                   "more messages", node_id=self._node.id))

    def discard(self) -> None:
        """The node will not run (a strict deploy is rolled back): give it back its
        ``receive`` and fail the held deliveries whose senders wait for an outcome."""
        del self._node.receive
        held, self._held = self._held, []
        for msg, tracker in held:
            if tracker is not None:
                tracker.fail(NodeError(f"node {self._node.id} was not started: the deploy "
                                       "was rolled back", node_id=self._node.id,
                                       msg_id=msg.get("_msgid")))

    def release(self, to: Receiver) -> None:
        """Give the node back its own ``receive`` and hand the held deliveries to ``to``
        (the node, or its stand-in if its start failed), in the order they came."""
        del self._node.receive
        held, self._held = self._held, []
        for msg, tracker in held:
            to.receive(msg, tracker)
