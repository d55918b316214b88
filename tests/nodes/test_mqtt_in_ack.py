"""mqtt in acknowledges QoS 1/2 messages to the broker only once the flow completed them.

Observed through a persistent session against a real mosquitto: a message the flow
had not completed when the connection went away is delivered again on the next
connection; a completed (or failed) one is not.
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowrt.clock import Clock
from flowrt.errors import NotStoredError
from flowrt.messages import Message
from flowrt.node import Node
from flowrt.testing import FlowHarness
from tests.brokers import Mosquitto
from tests.nodes.test_mqtt import TAB, Client, broker_node, connected, mqtt_in

pytestmark = pytest.mark.broker


class Hold(Node):
    """Test sink: completes each message only when the test resolves its future."""

    type = "test-hold"
    category = "function"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {}}
    held: ClassVar[list[tuple[Message, asyncio.Future[None]]]] = []

    def on_input(self, msg: Message) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        Hold.held.append((msg, future))
        return future


def flow(port: int, qos: int, subscribers: int = 1) -> list[dict[str, Any]]:
    """``subscribers`` mqtt in nodes on the same topic (in1, in2...), all → hold."""
    hold = {"id": "hold", "type": "test-hold", "z": "t1", "x": 0, "y": 0, "wires": []}
    return [TAB, broker_node(port, clientid="ack-test", cleansession=False), hold,
            *(mqtt_in("ack/#", f"in{i}", qos=str(qos), wires=[["hold"]])
              for i in range(1, subscribers + 1))]


def held_payloads() -> list[Any]:
    return [msg["payload"] for msg, _ in Hold.held]


async def run_until(port: int, qos: int, client: Client, marker: str,
                    complete: bool = False, subscribers: int = 1) -> list[Any]:
    """Connect the flow, publish ``marker`` and return what arrived before it, still
    held (or completed, with ``complete``); the marker itself is completed."""
    Hold.held = []
    async with FlowHarness(flow(port, qos, subscribers), node_types=[Hold],
                           clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        client.publish("ack/marker", marker, qos=qos)
        await h.wait_for(lambda: held_payloads().count(marker) == subscribers)
        before = held_payloads()[: held_payloads().index(marker)]
        for _, future in Hold.held if complete else Hold.held[-subscribers:]:
            future.set_result(None)
        await asyncio.sleep(0)
        return before


@pytest.mark.parametrize("qos", [1, 2])
async def test_unfinished_message_is_redelivered_finished_one_is_not(
        mosquitto: Mosquitto, qos: int) -> None:
    client = Client(mosquitto.port)
    try:
        assert await run_until(mosquitto.port, qos, client, "m0") == []  # session made
        Hold.held = []
        async with FlowHarness(flow(mosquitto.port, qos), node_types=[Hold],
                               clock=Clock()) as h:
            await h.wait_for(lambda: connected(h, "in1"))
            client.publish("ack/a", "pending", qos=qos)
            client.publish("ack/b", "failing", qos=qos)
            await h.wait_for(lambda: len(Hold.held) == 2)
            Hold.held[1][1].set_exception(ValueError("sink failed"))
            await h.wait_for(lambda: len(h.errors) == 1)
            # "pending" is still held when the connection closes.
        # The failed one was acknowledged all the same; "pending" comes again.
        assert await run_until(mosquitto.port, qos, client, "m1") == ["pending"]
        assert await run_until(mosquitto.port, qos, client, "m2", complete=True) == ["pending"]
        assert await run_until(mosquitto.port, qos, client, "m3") == []
    finally:
        client.close()


async def test_completion_on_a_lost_connection_is_not_acknowledged(
        mosquitto_factory: Any, tmp_path: Path) -> None:
    # The broker keeps sessions on disk (as this user, not mosquitto's), so they
    # outlive its restart.
    mosquitto = mosquitto_factory(f"persistence true\npersistence_location {tmp_path}/\n"
                                  f"user {getpass.getuser()}")
    client = Client(mosquitto.port)
    try:
        await run_until(mosquitto.port, 1, client, "m0")
        Hold.held = []
        async with FlowHarness(flow(mosquitto.port, 1), node_types=[Hold],
                               clock=Clock()) as h:
            await h.wait_for(lambda: connected(h, "in1"))
            client.publish("ack/a", "late", qos=1)
            await h.wait_for(lambda: len(Hold.held) == 1)
            mosquitto.stop()
            await h.wait_for(lambda: not connected(h, "in1"))
            Hold.held[0][1].set_result(None)  # too late for the lost connection
            mosquitto.start()
            await h.wait_for(lambda: held_payloads() == ["late", "late"], within=10)
            assert Hold.held[1][0]["topic"] == "ack/a"
    finally:
        client.close()


async def test_two_nodes_on_one_topic_acknowledged_once_both_completed(
        mosquitto: Mosquitto) -> None:
    client = Client(mosquitto.port)
    try:
        await run_until(mosquitto.port, 1, client, "m0", subscribers=2)
        Hold.held = []
        async with FlowHarness(flow(mosquitto.port, 1, subscribers=2), node_types=[Hold],
                               clock=Clock()) as h:
            await h.wait_for(lambda: connected(h, "in1", "in2"))
            client.publish("ack/a", "shared", qos=1)
            await h.wait_for(lambda: len(Hold.held) == 2)
            Hold.held[0][1].set_result(None)  # one of the two nodes' flows is done
        assert await run_until(mosquitto.port, 1, client, "m1", complete=True,
                               subscribers=2) == ["shared", "shared"]
        assert await run_until(mosquitto.port, 1, client, "m2", subscribers=2) == []
    finally:
        client.close()


class RefuseOnce(Node):
    """Test sink: refuses "refused" the first time, as a durable node on a full disk
    does (NotStoredError); takes everything else."""

    type = "test-refuse-once"
    category = "function"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {}}
    seen: ClassVar[list[Any]] = []

    def on_input(self, msg: Message) -> None:
        RefuseOnce.seen.append(msg["payload"])
        if msg["payload"] == "refused" and RefuseOnce.seen.count("refused") == 1:
            raise NotStoredError("queue q: database or disk is full", node_id=self.id)


@pytest.mark.parametrize("persistent", [True, False], ids=["persistent", "clean"])
async def test_a_message_not_stored_is_delivered_again(mosquitto: Mosquitto,
                                                       persistent: bool) -> None:
    client = Client(mosquitto.port)
    broker = broker_node(mosquitto.port, clientid="not-stored", cleansession=not persistent)
    refuse = {"id": "refuse", "type": "test-refuse-once", "z": "t1", "x": 0, "y": 0,
              "wires": []}
    flow = [TAB, broker, refuse, mqtt_in("ns", qos="1", wires=[["refuse"]])]
    RefuseOnce.seen = []
    try:
        async with FlowHarness(flow, node_types=[RefuseOnce], clock=Clock(),
                               settings={"mqttReconnectTime": 200}) as h:
            await h.wait_for(lambda: connected(h, "in1"))
            await h.wait_for(lambda: _probe(client, "ns"))  # subscribed
            client.publish("ns", "refused", qos=1)
            await h.wait_for(lambda: "refused" in RefuseOnce.seen)
            client.publish("ns", "next", qos=1)
            await h.wait_for(lambda: "next" in RefuseOnce.seen)
            transport = h.node("b1").transport  # type: ignore[attr-defined]
            if persistent:  # not acknowledged: the broker delivers it on the next connection
                await h.wait_for(lambda: RefuseOnce.seen.count("refused") == 2, within=10)
                assert transport.stats.withheld == 1 and transport.stats.connects == 2
            else:  # the session ends with the connection: nothing to wait for
                assert transport.stats.withheld == 0 and transport.stats.connects == 1
            assert [e["msg"] for e in h.errors] == ["queue q: database or disk is full"]
    finally:
        client.close()


def _probe(client: Client, topic: str) -> bool:
    if "probe" not in RefuseOnce.seen:
        client.publish(topic, "probe", qos=0)
    return "probe" in RefuseOnce.seen
