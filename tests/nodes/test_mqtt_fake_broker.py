"""mqtt-broker, mqtt in and mqtt out on flowrt.mqtt.fake's in-memory broker: the nodes'
semantics without a broker process (tests/nodes/test_mqtt*.py run them on mosquitto)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from flowrt_nodes.mqtt import MqttBroker

from flowrt.errors import NotStoredError
from flowrt.messages import Message
from flowrt.mqtt.fake import FakeBroker, FakeMessage
from flowrt.node import Node
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "fake"}
CONNECTED = "node-red:common.status.connected"
DISCONNECTED = "node-red:common.status.disconnected"


def broker_node(**extra: Any) -> dict[str, Any]:
    return {"id": "b1", "type": "mqtt-broker", "broker": "fake", "port": "1883", **extra}


def mqtt_in(topic: str, wires: list[list[str]], **extra: Any) -> dict[str, Any]:
    return {"id": "in1", "type": "mqtt in", "z": "t1", "topic": topic, "qos": "1",
            "datatype": "auto-detect", "broker": "b1", "wires": wires, **extra}


def mqtt_out(topic: str = "", **extra: Any) -> dict[str, Any]:
    return {"id": "out1", "type": "mqtt out", "z": "t1", "topic": topic, "qos": "",
            "retain": "", "broker": "b1", "wires": [], **extra}


class Hold(Node):
    """Test sink: completes each message when the test resolves its future, or fails it
    with NotStoredError (as a durable node on a full disk does)."""

    type = "test-fake-hold"
    category = "function"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {}}
    held: ClassVar[list[asyncio.Future[None]]] = []

    def on_input(self, msg: Message) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        Hold.held.append(future)
        return future


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBroker]:
    fake = FakeBroker()
    monkeypatch.setattr(MqttBroker, "transport_factory", fake)
    Hold.held.clear()
    yield fake


def published(broker: FakeBroker, topic: str) -> list[FakeMessage]:
    return [m for m in broker.messages if m.topic == topic]


async def test_relay_in_to_out(broker: FakeBroker) -> None:
    flow = [TAB, broker_node(), mqtt_in("in/#", [["out1"]]), mqtt_out("out", qos="1")]
    async with FlowHarness(flow) as h:
        await h.wait_for(lambda: h.status("out1").get("text") == CONNECTED)
        broker.publish("in/a", b'{"t": 21.5}', qos=1)
        broker.publish("in/b", b"plain", qos=0)
        await h.wait_for(lambda: len(published(broker, "out")) == 2)
        assert [m.payload for m in published(broker, "out")] == [b'{"t":21.5}', b"plain"]
        assert h.payloads("in1") == [{"t": 21.5}, "plain"]
        assert [m.topic for m in broker.acknowledged] == ["in/a"]


async def test_a_message_is_acknowledged_once_the_flow_completed_it(broker: FakeBroker) -> None:
    flow = [TAB, broker_node(), mqtt_in("held", [["hold"]]),
            {"id": "hold", "type": "test-fake-hold", "z": "t1", "wires": []}]
    async with FlowHarness(flow, node_types=[Hold]) as h:
        await h.wait_for(lambda: h.status("in1").get("text") == CONNECTED)
        broker.publish("held", b"1", qos=1)
        await h.wait_for(lambda: len(Hold.held) == 1)
        await h.settle()
        assert broker.acknowledged == []
        Hold.held[0].set_result(None)
        await h.wait_for(lambda: len(broker.acknowledged) == 1)


async def test_a_message_not_stored_is_withheld_and_delivered_again(broker: FakeBroker) -> None:
    flow = [TAB, broker_node(clientid="gw", cleansession=False), mqtt_in("held", [["hold"]]),
            {"id": "hold", "type": "test-fake-hold", "z": "t1", "wires": []}]
    async with FlowHarness(flow, node_types=[Hold]) as h:
        await h.wait_for(lambda: h.status("in1").get("text") == CONNECTED)
        broker.publish("held", b"disk full", qos=1)
        await h.wait_for(lambda: len(Hold.held) == 1)
        Hold.held[0].set_exception(NotStoredError("disk full"))
        transport = h.node("b1").transport  # type: ignore[attr-defined]
        await h.wait_for(lambda: transport.stats.withheld == 1)
        assert broker.acknowledged == []
        broker.stop()
        broker.start()
        await h.wait_for(lambda: len(Hold.held) == 2)  # the broker delivers it again
        Hold.held[1].set_result(None)
        await h.wait_for(lambda: [m.payload for m in broker.acknowledged] == [b"disk full"])


async def test_an_outage_queues_qos1_and_refuses_qos0(broker: FakeBroker) -> None:
    flow = [TAB, broker_node(), mqtt_out("out")]
    async with FlowHarness(flow) as h:
        await h.wait_for(lambda: h.status("out1").get("text") == CONNECTED)
        broker.stop()
        await h.wait_for(lambda: h.status("out1").get("text") == DISCONNECTED)
        h.send("out1", {"payload": "kept", "qos": 1})
        h.send("out1", {"payload": "lost", "qos": 0})
        await h.wait_for(lambda: len(h.errors) == 1)
        assert "QoS 0 message dropped" in str(h.errors[0])
        assert h.node("b1").metrics()["queued"] == 1  # type: ignore[attr-defined]
        broker.start()
        await h.wait_for(lambda: [m.payload for m in published(broker, "out")] == [b"kept"])
        assert h.status("out1").get("text") == CONNECTED


async def test_retained_messages_and_v5_properties(broker: FakeBroker) -> None:
    broker.publish("cfg", b"on", qos=0, retain=True, properties={"contentType": "text/plain"})
    flow = [TAB, broker_node(protocolVersion="5"), mqtt_in("cfg", [[]])]
    async with FlowHarness(flow) as h:
        await h.wait_for(lambda: len(h.outputs("in1")) == 1)
        msg = h.outputs("in1")[0]
        assert (msg["payload"], msg["retain"], msg["contentType"]) == ("on", True, "text/plain")


@pytest.mark.parametrize(("datatype", "expected"), [
    (None, ['{"t": 21.5}', "20"]),  # no key (older exports): utf8, as Node-RED's runtime
    ("auto-detect", [{"t": 21.5}, 20]),
])
async def test_a_node_without_datatype_delivers_utf8_strings(
        broker: FakeBroker, datatype: str | None, expected: list[Any]) -> None:
    node = mqtt_in("in/#", [[]], datatype=datatype)
    if datatype is None:
        del node["datatype"]
    async with FlowHarness([TAB, broker_node(), node]) as h:
        await h.wait_for(lambda: h.status("in1").get("text") == CONNECTED)
        broker.publish("in/a", b'{"t": 21.5}', qos=0)
        broker.publish("in/b", b"20", qos=0)
        await h.wait_for(lambda: len(h.payloads("in1")) == 2)
        assert h.payloads("in1") == expected
