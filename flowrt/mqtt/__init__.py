"""MQTT for flowrt: a connection on the event loop, and topic helpers."""

from flowrt.mqtt.topics import strip_share, topic_matches, valid_filter, valid_topic_name
from flowrt.mqtt.transport import (
    ConnectOptions,
    FlowControl,
    MqttTransport,
    PublishDropped,
    Subscription,
    TransportStats,
    Will,
)

__all__ = [
    "ConnectOptions",
    "FlowControl",
    "MqttTransport",
    "PublishDropped",
    "Subscription",
    "TransportStats",
    "Will",
    "strip_share",
    "topic_matches",
    "valid_filter",
    "valid_topic_name",
]
