"""mqtt in and mqtt out with hostile or oversized messages, against a real mosquitto:
a message that cannot be handled is that message's error, and the next one flows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from flowrt.clock import Clock
from flowrt.testing import FlowHarness
from tests.nodes.test_mqtt import TAB, Client, broker_node, connected, mqtt_in, mqtt_out, until

pytestmark = pytest.mark.broker

DEPTH = 600
DEEP = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
"""1.2 KB of JSON that stopped all MQTT input for good (issue 11, finding 1)."""


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, dict):
        value, depth = value["a"], depth + 1
    return depth


def innermost(value: dict) -> dict:
    while isinstance(value["a"], dict):
        value = value["a"]
    return value


def node(id_: str, type_: str, wires: list[list[str]] | None = None, **config: Any) -> dict:
    return {"id": id_, "type": type_, "z": "t1", "x": 0, "y": 0, "wires": wires or [],
            **config}


@pytest.mark.parametrize("datatype", ["auto-detect", "json"])
@pytest.mark.parametrize("qos", [0, 1])
async def test_a_deeply_nested_message_is_an_error_of_its_own_and_the_next_one_flows(
        mosquitto: Any, qos: int, datatype: str) -> None:
    # mqtt in feeds two wires (a copy for the second); mqtt out cannot encode the
    # copy it gets, and its error takes another copy to the catch node.
    flow = [TAB, broker_node(mosquitto.port),
            mqtt_in("deep/in", qos=str(qos), datatype=datatype, wires=[["j1", "out1"]]),
            node("j1", "junction", [[]]), mqtt_out("deep/out", qos=str(qos)),
            node("c1", "catch", [[]], scope=None)]
    client = Client(mosquitto.port)
    client.subscribe("deep/out", qos)
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1", "out1"))
        await until(lambda: _probe(client, h))  # subscribed
        h.clear()
        client.publish("deep/in", DEEP, qos)
        client.publish("deep/in", b"42", qos)
        await until(lambda: b"42" in client.payloads())
        deep, good = [p for p in h.payloads("j1") if p != "probe"]
        assert depth_of(deep) == DEPTH and good == 42
        [caught] = h.outputs("c1")
        assert caught["error"]["message"] == (
            "ValueError: msg.payload cannot be published as JSON: "
            "nested more than 254 levels deep, or contains itself")
        assert caught["error"]["source"]["id"] == "out1"
        assert depth_of(caught["payload"]) == DEPTH
        assert innermost(caught["payload"]) is not innermost(deep)  # copies all the way down
        transport = h.node("b1").transport  # type: ignore[attr-defined]
        assert transport.connected and transport.stats.connects == 1
        assert transport.stats.failed == 0  # handled as a message error, not a read failure
    client.close()


def _probe(client: Client, h: FlowHarness) -> bool:
    """Publish a probe until it has come through: the SUBACK is not observable."""
    if not h.outputs("j1"):
        client.publish("deep/in", b'"probe"', 0)
    return bool(h.outputs("j1"))


async def test_the_offline_queue_of_mqtt_out_is_bounded_in_bytes(mosquitto: Any) -> None:
    mosquitto.stop()
    flow = [TAB, broker_node(mosquitto.port), mqtt_out("t", qos="1"),
            node("c1", "catch", [[]], scope=None)]
    async with FlowHarness(flow, clock=Clock(), settings={"mqttQueueBytes": 1000}) as h:
        await h.inject("out1", payload="x" * 600)
        await h.inject("out1", payload="y" * 600)
        [caught] = h.outputs("c1")
        assert caught["payload"] == "y" * 600
        assert caught["error"]["message"].startswith("PublishDropped: not connected to ")
        assert "publish queue is full (600 of 1000 bytes): message of 600 bytes dropped" \
            in caught["error"]["message"]
        metrics = h.node("b1").metrics()
        assert (metrics["dropped_total"], metrics["queued"], metrics["queued_bytes"]) == \
            (1, 1, 600)
        assert orjson.dumps(metrics)  # plain numbers for /metrics
