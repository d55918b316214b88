"""Runtime events for the editor: debug messages, node status, notifications.

A tiny publish/subscribe hub with retained topics (``status/<id>``,
``notification/runtime-*``), which the ``/comms`` websocket relays to browsers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("flowrt.events")

Subscriber = Callable[[str, Any], None]


class Events:
    """Publish/subscribe with retained messages."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.retained: dict[str, Any] = {}

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(topic, data)`` for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def publish(self, topic: str, data: Any, retain: bool = False) -> None:
        """Send an event to every subscriber; ``retain`` keeps it for late subscribers.

        Publishing ``{}`` (or None) on a retained topic clears it.
        """
        if retain:
            if data:
                self.retained[topic] = data
            else:
                self.retained.pop(topic, None)
        for callback in list(self._subscribers):
            try:
                callback(topic, data)
            except Exception:
                log.exception("event subscriber failed on %s", topic)
