"""MQTT for flowrt: the :class:`Transport` interface, its paho-mqtt implementation
on the event loop (:class:`MqttTransport`), and topic helpers.

Modules: ``interface`` (what a connection offers), ``transport`` (the connection's
policy: reconnects, queues, acknowledgements, flow control), ``paho_adapter`` (the
only code touching paho), ``codec`` (PUBLISH packets as bytes), ``properties`` (MQTT 5
properties as messages carry them), ``fake`` (an in-memory broker for unit tests),
``topics``.
"""

from flowrt.mqtt.interface import (
    ConnectOptions,
    FlowControl,
    MessageHandler,
    PublishDropped,
    SharedConnection,
    Subscription,
    Transport,
    TransportFactory,
    TransportStats,
    Will,
)
from flowrt.mqtt.topics import strip_share, topic_matches, valid_filter, valid_topic_name
from flowrt.mqtt.transport import MqttTransport

__all__ = [
    "ConnectOptions",
    "FlowControl",
    "MessageHandler",
    "MqttTransport",
    "PublishDropped",
    "SharedConnection",
    "Subscription",
    "Transport",
    "TransportFactory",
    "TransportStats",
    "Will",
    "strip_share",
    "topic_matches",
    "valid_filter",
    "valid_topic_name",
]
