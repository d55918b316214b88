"""MQTT topic names and filters: validation and local matching (Node-RED's rules).

``mqtt in`` validates its subscription with Node-RED's pattern, and the broker
connection routes each received message to the subscriptions it matches
(``$share/<group>/`` prefixes stripped, as a broker does before matching).
"""

from __future__ import annotations

import re

# Node-RED's static-topic check (10-mqtt.js): '#' only last, '+' only a whole level.
_VALID_FILTER = re.compile(r"^(#$|(\+|[^+#]*)(/(\+|[^+#]*))*(/(\+|#|[^+#]*))?$)")
_INVALID_NAME_CHARS = frozenset("+#\b\f\n\r\t\v\0")


def valid_filter(topic: object) -> bool:
    """True when ``topic`` is a usable subscription filter (wildcards allowed)."""
    if not isinstance(topic, str) or not topic:
        return False
    return _VALID_FILTER.match(strip_share(topic)) is not None


def valid_topic_name(topic: object) -> bool:
    """True when ``topic`` can be published to (non-empty, no wildcards or controls)."""
    return isinstance(topic, str) and bool(topic) and _INVALID_NAME_CHARS.isdisjoint(topic)


def strip_share(topic: str) -> str:
    """The filter a shared subscription ``$share/<group>/<filter>`` matches with."""
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        return parts[2] if len(parts) == 3 else ""
    return topic


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True when ``topic`` matches ``topic_filter`` (``+`` one level, ``#`` the rest).

    Filters starting with a wildcard do not match topics starting with ``$``
    (MQTT 3.1.1 §4.7.2).
    """
    topic_filter = strip_share(topic_filter)
    if topic_filter == topic:
        return True
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic.split("/")
    parts = topic_filter.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return True
        if index >= len(levels):
            return False
        if part != "+" and part != levels[index]:
            return False
    return len(parts) == len(levels)
