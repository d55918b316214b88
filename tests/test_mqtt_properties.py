"""flowrt.mqtt.properties: MQTT 5 properties between message shape and wire shape."""

from __future__ import annotations

from flowrt.mqtt.properties import message_properties, wire_properties


def test_a_message_s_properties_on_the_wire_and_back() -> None:
    msg = {"contentType": "application/json", "responseTopic": "reply/1",
           "correlationData": "abc", "messageExpiryInterval": 60,
           "payloadFormatIndicator": 1, "userProperties": {"a": "1", "b": ["x", "y"], "n": 2}}
    wire = wire_properties(msg)
    assert wire == {"contentType": "application/json", "responseTopic": "reply/1",
                    "correlationData": b"abc", "messageExpiryInterval": 60,
                    "payloadFormatIndicator": 1,
                    "userProperties": [("a", "1"), ("b", "x"), ("b", "y"), ("n", "2")]}
    back = message_properties(wire)
    assert back == {**msg, "correlationData": b"abc",
                    "userProperties": {"a": "1", "b": ["x", "y"], "n": "2"}}


def test_empty_and_unknown_values_are_left_out() -> None:
    assert wire_properties(None) is None
    assert wire_properties({"contentType": "", "userProperties": {}, "other": 1}) is None
    assert message_properties({"topicAlias": 3, "subscriptionIdentifier": [1]}) is None
