"""MQTT 5 properties of a PUBLISH: as flowrt messages carry them, and as the codec does.

A message carries ``userProperties`` as a dict (a repeated key's values as a list, as
mqtt.js reports them), ``correlationData`` as bytes or text, and ``contentType``,
``responseTopic``, ``messageExpiryInterval``, ``payloadFormatIndicator``. The codec
(:mod:`flowrt.mqtt.codec`) keeps the wire's shape: user properties as (key, value)
pairs in order.
"""

from __future__ import annotations

from typing import Any

_MESSAGE_PROPERTIES = ("contentType", "responseTopic", "correlationData",
                       "messageExpiryInterval", "payloadFormatIndicator")


def wire_properties(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Codec-shaped v5 properties from a message's fields (``userProperties`` as a dict
    whose values may be lists, ``correlationData`` as text or bytes...)."""
    if not values:
        return None
    out: dict[str, Any] = {}
    for key in _MESSAGE_PROPERTIES:
        value = values.get(key)
        if value is None or value == "":
            continue
        out[key] = value.encode() if key == "correlationData" and isinstance(value, str) \
            else value
    user = values.get("userProperties")
    if isinstance(user, dict) and user:
        out["userProperties"] = [(str(k), str(item)) for k, v in user.items()
                                 for item in (v if isinstance(v, list) else [v])]
    return out or None


def message_properties(props: dict[str, Any] | None) -> dict[str, Any] | None:
    """A received PUBLISH's codec-shaped v5 properties under Node-RED's message names."""
    if not props:
        return None
    out = {key: props[key] for key in _MESSAGE_PROPERTIES if key in props}
    user = props.get("userProperties")
    if user:
        merged: dict[str, Any] = {}
        for k, v in user:
            if k in merged:
                # Repeated keys become a list, as mqtt.js reports them.
                previous = merged[k]
                merged[k] = [*previous, v] if isinstance(previous, list) else [previous, v]
            else:
                merged[k] = v
        out["userProperties"] = merged
    return out or None
