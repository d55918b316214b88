"""mqtt-broker, mqtt in and mqtt out against a real mosquitto (no mocks at this layer)."""

from __future__ import annotations

import asyncio
import getpass
import subprocess
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from flowrt.clock import Clock
from flowrt.payloads import serialize_payload
from flowrt.testing import FlowHarness
from tests.brokers import Mosquitto

pytestmark = pytest.mark.broker


class Client:
    """A test-side MQTT client (paho with its own network thread)."""

    def __init__(self, port: int, *, v5: bool = False, client_id: str = "",
                 clean: bool = True) -> None:
        protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=protocol, clean_session=None if v5 else clean)
        self.messages: list[paho.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait (bounded) for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic, qos)
        assert done.wait(5), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: Any, qos: int = 1, retain: bool = False,
                properties: Properties | None = None) -> None:
        """Publish and wait (bounded) until it is sent/acknowledged."""
        info = self.client.publish(topic, payload, qos, retain, properties)
        info.wait_for_publish(5)

    def payloads(self) -> list[bytes]:
        with self.lock:
            return [m.payload for m in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def broker_node(port: int, **extra: Any) -> dict[str, Any]:
    return {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(port),
            "clientid": "", "protocolVersion": "4", **extra}


def mqtt_in(topic: str, node_id: str = "in1", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "mqtt in", "z": "t1", "topic": topic, "qos": "1",
            "datatype": "auto-detect", "broker": "b1", "x": 0, "y": 0, "wires": [[]], **extra}


def mqtt_out(topic: str = "", node_id: str = "out1", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "mqtt out", "z": "t1", "topic": topic, "qos": "",
            "retain": "", "broker": "b1", "x": 0, "y": 0, "wires": [], **extra}


TAB = {"id": "t1", "type": "tab", "label": "mqtt"}


def connected(h: FlowHarness, *ids: str) -> bool:
    return all(h.status(i).get("text") == "node-red:common.status.connected" for i in ids)


async def until(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def client(mosquitto: Any) -> Any:
    c = Client(mosquitto.port)
    yield c
    c.close()


async def test_wildcards_and_auto_detect(mosquitto: Any, client: Client) -> None:
    flow = [TAB, broker_node(mosquitto.port), mqtt_in("sensors/+/temp", "plus"),
            mqtt_in("sensors/#", "hash")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "plus", "hash"))
        await asyncio.sleep(0.1)  # SUBACK
        client.publish("sensors/a/temp", "20")
        client.publish("sensors/b/hum", '{"v": 1}')
        client.publish("other/a/temp", "x")
        await h.wait_for(lambda: len(h.outputs("hash")) == 2 and len(h.outputs("plus")) == 1)
        msg = h.outputs("plus")[0]
        assert msg["payload"] == 20 and msg["topic"] == "sensors/a/temp"
        assert msg["qos"] == 1 and msg["retain"] is False
        assert h.payloads("hash") == [20, {"v": 1}]


@pytest.mark.parametrize(("datatype", "raw", "expected"), [
    ("auto-detect", b"20", 20),
    ("auto-detect", b"true", True),
    ("auto-detect", b"hello", "hello"),
    ("auto-detect", b"\xff\xfe", b"\xff\xfe"),
    ("auto", b"20", "20"),
    ("auto", b"\xff", b"\xff"),
    ("utf8", b"{\"a\":1}", "{\"a\":1}"),
    ("buffer", b"abc", b"abc"),
    ("base64", b"abc", "YWJj"),
    ("json", b"[1, 2]", [1, 2]),
])
async def test_datatypes(mosquitto: Any, client: Client, datatype: str, raw: bytes,
                         expected: Any) -> None:
    flow = [TAB, broker_node(mosquitto.port), mqtt_in("d/t", datatype=datatype)]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        await asyncio.sleep(0.1)
        client.publish("d/t", raw)
        await h.wait_for(lambda: len(h.outputs("in1")) == 1)
        assert h.payloads("in1") == [expected]


async def test_bad_json_reports_error_and_emits_nothing(mosquitto: Any, client: Client) -> None:
    catch = {"id": "c1", "type": "catch", "z": "t1", "scope": None, "x": 0, "y": 0,
             "wires": [[]]}
    flow = [TAB, broker_node(mosquitto.port), mqtt_in("j", datatype="json"), catch]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        await asyncio.sleep(0.1)
        client.publish("j", b"{nope")
        client.publish("j", b"\xff")
        client.publish("j", b"1")
        await h.wait_for(lambda: len(h.outputs("in1")) == 1)
        await h.wait_for(lambda: len(h.outputs("c1")) == 2)
        assert h.payloads("in1") == [1]
        errors = [m["error"]["message"] for m in h.outputs("c1")]
        assert errors == ["Failed to parse JSON string", "Invalid JSON string"]
        assert h.outputs("c1")[0]["topic"] == "j"


async def test_out_precedence_and_serialisation(mosquitto: Any, client: Client) -> None:
    client.subscribe("#", 2)
    flow = [TAB, broker_node(mosquitto.port), mqtt_out("", "free"),
            mqtt_out("fixed/topic", "fixed", qos="0", retain="false")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "free", "fixed"))
        await h.inject("free", topic="a", payload={"x": 1}, qos=1, retain=True)
        await h.inject("fixed", topic="ignored", payload=1.0, qos=2, retain=True)
        await h.inject("free", topic="no/payload")
        await h.inject("free", payload="no topic")
        await until(lambda: len(client.messages) == 2)
        first, second = client.messages
        # (a live subscriber sees retain=False: MQTT sets it only for stored messages)
        assert (first.topic, first.payload, first.qos) == ("a", b'{"x":1}', 1)
        assert (second.topic, second.payload, second.qos, second.retain) == \
            ("fixed/topic", b"1", 0, False)
        assert any("Invalid topic specified" in w["msg"] for w in h.warnings)
        # Retained: a late subscriber still gets "a".
        late = Client(mosquitto.port)
        try:
            late.subscribe("a")
            await until(lambda: late.payloads() == [b'{"x":1}'])
            assert late.messages[0].retain
        finally:
            late.close()


def test_serialize_payload() -> None:
    assert serialize_payload(None) == b""
    assert serialize_payload(True) == b"true"
    assert serialize_payload(123) == b"123"
    assert serialize_payload(1.5) == b"1.5"
    assert serialize_payload(2.0) == b"2"
    assert serialize_payload([1, "a"]) == b'[1,"a"]'
    assert serialize_payload(b"\x00\x01") == b"\x00\x01"
    assert serialize_payload({"b": b"\x01"}) == b'{"b":{"type":"Buffer","data":[1]}}'
    when = datetime(2026, 12, 6, 1, 2, 3, 4000, tzinfo=UTC)
    assert serialize_payload({"at": when}) == b'{"at":"2026-12-06T01:02:03.004Z"}'


@pytest.mark.parametrize("qos", [1, 2])
async def test_qos_end_to_end_completes_on_ack(mosquitto: Any, client: Client, qos: int) -> None:
    client.subscribe("q/out", 2)
    flow = [TAB, broker_node(mosquitto.port), mqtt_out("q/out", qos=str(qos)),
            mqtt_in("q/in", qos=str(qos), wires=[["out1"]])]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1", "out1"))
        await asyncio.sleep(0.1)
        for i in range(200):
            client.client.publish("q/in", str(i), qos)
        await until(lambda: len(client.messages) == 200)
        assert [m.payload for m in client.messages] == [str(i).encode() for i in range(200)]
        assert {m.qos for m in client.messages} == {qos}
        # done fires on the broker's acknowledgement: a tracked send resolves.
        sender = h.node("in1")
        result = await asyncio.wait_for(sender.send_tracked({"payload": "tracked"}), 5)
        assert result == 2  # mqtt out and the harness probe


async def test_v5_properties_both_ways(mosquitto: Any) -> None:
    v5 = Client(mosquitto.port, v5=True)
    try:
        v5.subscribe("v5/out", 1)
        flow = [TAB, broker_node(mosquitto.port, protocolVersion="5"),
                mqtt_in("v5/in", wires=[["out1"]]),
                mqtt_out("v5/out", qos="1", contentType="application/json",
                         userProps='{"site": "A"}')]
        async with FlowHarness(flow, clock=Clock()) as h:
            await h.wait_for(lambda: connected(h, "in1", "out1"))
            await asyncio.sleep(0.1)
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("k", "v")]
            props.ResponseTopic = "reply/here"
            props.CorrelationData = b"id-1"
            props.ContentType = "text/plain"
            props.MessageExpiryInterval = 60
            v5.publish("v5/in", b"42", 1, properties=props)
            await h.wait_for(lambda: len(h.outputs("in1")) == 1)
            msg = h.outputs("in1")[0]
            assert msg["payload"] == "42"  # text/plain wins over auto-detect
            assert msg["userProperties"] == {"k": "v"}
            assert msg["responseTopic"] == "reply/here"
            assert msg["correlationData"] == b"id-1"
            assert msg["contentType"] == "text/plain"
            assert 0 < msg["messageExpiryInterval"] <= 60
            await until(lambda: len(v5.messages) == 1)
            out = v5.messages[0].properties
            assert out.ContentType == "application/json"  # config beats msg
            assert ("site", "A") in out.UserProperty
            assert out.ResponseTopic == "reply/here"
            assert out.CorrelationData == b"id-1"
    finally:
        v5.close()


async def test_dynamic_subscriptions(mosquitto: Any, client: Client) -> None:
    flow = [TAB, broker_node(mosquitto.port), mqtt_in("", inputs=1)]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        await h.inject("in1", action="subscribe", topic=[{"topic": "dyn/a", "qos": 1},
                                                          {"topic": "dyn/b", "datatype": "utf8"}])
        await h.inject("in1", action="getSubscriptions")
        assert h.outputs("in1")[0]["payload"] == [{"topic": "dyn/a", "qos": 1},
                                                  {"topic": "dyn/b", "qos": 2}]
        h.clear()
        await asyncio.sleep(0.1)
        client.publish("dyn/a", "1")
        client.publish("dyn/b", "2")
        await h.wait_for(lambda: len(h.outputs("in1")) == 2)
        assert sorted(h.payloads("in1"), key=str) == [1, "2"]
        await h.inject("in1", action="unsubscribe", topic="dyn/a")
        await asyncio.sleep(0.1)
        client.publish("dyn/a", "3")
        client.publish("dyn/b", "4")
        await h.wait_for(lambda: len(h.outputs("in1")) == 3)
        await asyncio.sleep(0.1)
        assert h.payloads("in1")[2] == "4" and len(h.outputs("in1")) == 3
        await h.inject("in1", action="unsubscribe", topic=True)
        await h.inject("in1", action="bogus")
        assert any("Invalid action specified" in e["msg"] for e in h.errors)


async def test_broker_down_at_deploy_then_restart_mid_flow(mosquitto: Any) -> None:
    mosquitto.stop()
    flow = [TAB, broker_node(mosquitto.port), mqtt_out("r/out", qos="1"),
            mqtt_in("r/in", wires=[["out1"]])]
    async with FlowHarness(flow, clock=Clock()) as h:
        # The deploy succeeded although the broker is down; nodes show it.
        await h.wait_for(lambda: h.status("in1").get("fill") in ("red", "yellow"))
        mosquitto.start()
        await h.wait_for(lambda: connected(h, "in1", "out1"), within=10)
        sub = Client(mosquitto.port, client_id="watcher", clean=False)
        try:
            sub.subscribe("r/out", 1)
            await h.inject("out1", payload="x")
            await until(lambda: sub.payloads() == [b"x"])
            # Broker restart: QoS 1 publishes made during the outage are kept and sent.
            sub.close()
            mosquitto.stop()
            await h.wait_for(lambda: not connected(h, "out1"))
            sends = [h.node("in1").send_tracked({"payload": f"during-{i}"}) for i in range(20)]
            mosquitto.start()
            await h.wait_for(lambda: connected(h, "in1", "out1"), within=10)
            await asyncio.wait_for(asyncio.gather(*sends), 10)
            # Resubscribed: the flow works again.
            sub = Client(mosquitto.port)
            sub.subscribe("r/out", 1)
            pub = Client(mosquitto.port)
            pub.publish("r/in", "after")
            pub.close()
            await until(lambda: b"after" in sub.payloads(), within=5)
        finally:
            sub.close()


@pytest.fixture
def persistent_broker() -> Any:
    """A mosquitto that keeps sessions and queued messages across restarts."""
    broker = Mosquitto()
    # As root mosquitto would switch to its own user, which cannot write the temp dir.
    broker.extra_config = (f"persistence true\npersistence_location {broker.dir}/\n"
                           f"user {getpass.getuser()}\n")
    yield broker.start()
    broker.cleanup()


async def test_outage_publishes_are_not_lost(persistent_broker: Any) -> None:
    broker = persistent_broker
    flow = [TAB, broker_node(broker.port), mqtt_out("keep", qos="1")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "out1"))
        sub = Client(broker.port, client_id="keeper", clean=False)
        sub.subscribe("keep", 1)
        sub.close()
        broker.stop()
        await h.wait_for(lambda: not connected(h, "out1"))
        pending = [asyncio.ensure_future(h.node("out1").on_input(  # type: ignore[arg-type]
            {"topic": "keep", "payload": str(i)})) for i in range(50)]
        broker.start()
        await asyncio.wait_for(asyncio.gather(*pending), 10)
        sub = Client(broker.port, client_id="keeper", clean=False)
        try:
            await until(lambda: len(sub.messages) == 50, within=5)
            assert sub.payloads() == [str(i).encode() for i in range(50)]
        finally:
            sub.close()


async def test_qos0_publish_while_disconnected_is_an_error(mosquitto: Any) -> None:
    mosquitto.stop()
    catch = {"id": "c1", "type": "catch", "z": "t1", "scope": None, "x": 0, "y": 0,
             "wires": [[]]}
    flow = [TAB, broker_node(mosquitto.port), mqtt_out("x", qos="0"), catch]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.inject("out1", payload="lost?")
        assert "QoS 0 message dropped" in h.outputs("c1")[0]["error"]["message"]


async def test_birth_close_will_and_status(mosquitto: Any, client: Client) -> None:
    client.subscribe("state/#", 1)
    flow = [TAB, broker_node(mosquitto.port, clientid="gw1", birthTopic="state/birth",
                             birthPayload="up", birthQos="1", closeTopic="state/close",
                             closePayload="down", closeQos="1", willTopic="state/will",
                             willPayload="gone", keepalive="2"),
            mqtt_in("state/none")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        await until(lambda: client.payloads() == [b"up"])
        assert h.status("in1") == {"fill": "green", "shape": "dot",
                                   "text": "node-red:common.status.connected"}
    await until(lambda: client.payloads() == [b"up", b"down"])
    # The will: a connection lost without DISCONNECT.
    flow[1] = broker_node(mosquitto.port, clientid="gw2", willTopic="state/will",
                          willPayload="gone", keepalive="1")
    h = FlowHarness(flow, clock=Clock())
    await h.__aenter__()
    try:
        await h.wait_for(lambda: connected(h, "in1"))
        transport = h.node("b1").transport  # type: ignore[attr-defined]
        transport._client.socket().shutdown(2)  # the network fails under it
        await until(lambda: b"gone" in client.payloads(), within=5)
        await h.wait_for(lambda: connected(h, "in1"), within=10)  # and it comes back
    finally:
        await h.__aexit__(None, None, None)


@pytest.fixture
def auth_broker(mosquitto_factory: Any, tmp_path: Any) -> Any:
    """A mosquitto that only lets user "edge" with password "s3cret" in."""
    passwords = tmp_path / "passwd"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), "edge", "s3cret"], check=True,
                   timeout=10)
    return mosquitto_factory(extra_config=f"password_file {passwords}\n"
                             f"allow_anonymous false\nuser {getpass.getuser()}\n")


async def test_credentials_and_persistent_session(auth_broker: Any) -> None:
    broker = auth_broker
    flow = [TAB, broker_node(broker.port, clientid="persist", cleansession=False),
            mqtt_in("ps/t")]
    creds = {"b1": {"user": "edge", "password": "s3cret"}}
    async with FlowHarness(flow, clock=Clock(), credentials=creds) as h:
        await h.wait_for(lambda: connected(h, "in1"))
    # Offline messages for a persistent session arrive when it comes back.
    pub = paho.Client(CallbackAPIVersion.VERSION2)
    pub.username_pw_set("edge", "s3cret")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    pub.publish("ps/t", "while-away", 1).wait_for_publish(5)
    pub.disconnect()
    pub.loop_stop()
    async with FlowHarness(flow, clock=Clock(), credentials=creds) as h:
        await h.wait_for(lambda: h.payloads("in1") == ["while-away"])
    bad = {"b1": {"user": "edge", "password": "wrong"}}
    async with FlowHarness(flow, clock=Clock(), credentials=bad) as h:
        await h.wait_for(lambda: h.status("in1").get("fill") == "red")


async def test_config_errors_are_reported(mosquitto: Any) -> None:
    flow = [TAB, mqtt_in("x", broker="nope"), mqtt_in("bad/#/x", "in2"),
            broker_node(mosquitto.port), mqtt_in("", "in3")]
    async with FlowHarness(flow, clock=Clock()) as h:
        messages = [e["msg"] for e in h.errors] + [w["msg"] for w in h.warnings]
        assert "missing broker configuration" in messages
        assert "topic not defined" in messages
        assert any("Invalid topic specified" in m for m in messages)


async def test_a_birth_topic_with_a_wildcard_is_a_config_problem(mosquitto: Any) -> None:
    # It used to be sent on every connect, and refused each time with a ValueError
    # that escaped the connect callback.
    flow = [TAB, broker_node(mosquitto.port, birthTopic="status/+"), mqtt_in("x")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: h.status("in1").get("fill") == "red")
        assert "birthTopic 'status/+' is not a topic to publish on" in h.status("in1")["text"]


async def test_shared_subscription_splits_load_in_process(mosquitto: Any, client: Client) -> None:
    def flow(cid: str) -> list[dict[str, Any]]:
        return [TAB, broker_node(mosquitto.port, clientid=cid),
                mqtt_in("$share/workers/jobs/#", qos="1")]
    async with FlowHarness(flow("w1"), clock=Clock()) as h1, \
            FlowHarness(flow("w2"), clock=Clock()) as h2:
        await h1.wait_for(lambda: connected(h1, "in1") and connected(h2, "in1"))
        await asyncio.sleep(0.2)
        for i in range(200):
            client.client.publish(f"jobs/{i % 3}", str(i), 1)
        await h1.wait_for(lambda: len(h1.outputs("in1")) + len(h2.outputs("in1")) == 200)
        await asyncio.sleep(0.2)
        got = h1.payloads("in1") + h2.payloads("in1")
        assert sorted(got) == list(range(200))  # nothing lost, nothing doubled
        assert h1.outputs("in1") and h2.outputs("in1")  # both took a share


def nodered_export(port: int) -> list[dict[str, Any]]:
    """mqtt in → mqtt out exactly as Node-RED 4's editor exports it."""
    return [
        {"id": "f1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "", "env": []},
        {"id": "in9", "type": "mqtt in", "z": "f1", "name": "", "topic": "nr/in", "qos": "2",
         "datatype": "auto-detect", "broker": "br9", "nl": False, "rap": True, "rh": 0,
         "inputs": 0, "x": 130, "y": 100, "wires": [["out9"]]},
        {"id": "out9", "type": "mqtt out", "z": "f1", "name": "", "topic": "nr/out", "qos": "",
         "retain": "", "respTopic": "", "contentType": "", "userProps": "", "correl": "",
         "expiry": "", "broker": "br9", "x": 330, "y": 100, "wires": []},
        {"id": "br9", "type": "mqtt-broker", "name": "local", "broker": "127.0.0.1",
         "port": str(port), "clientid": "", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": True,
         "autoUnsubscribe": True, "birthTopic": "", "birthQos": "0", "birthRetain": "false",
         "birthPayload": "", "birthMsg": {}, "closeTopic": "", "closeQos": "0",
         "closeRetain": "false", "closePayload": "", "closeMsg": {}, "willTopic": "",
         "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": {},
         "userProps": "", "sessionExpiry": ""},
    ]


async def test_nodered_export_runs_unchanged(mosquitto: Any, client: Client) -> None:
    client.subscribe("nr/out", 1)
    async with FlowHarness(nodered_export(mosquitto.port), clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in9", "out9"))
        await asyncio.sleep(0.1)
        client.publish("nr/in", '{"t": 21.5}')
        await until(lambda: client.payloads() == [b'{"t":21.5}'])
        assert not h.errors and not h.warnings


async def test_connect_and_disconnect_actions(mosquitto: Any, client: Client) -> None:
    client.subscribe("ctl/#", 1)
    flow = [TAB, broker_node(mosquitto.port, autoConnect=False, closeTopic="ctl/close",
                             closePayload="bye", birthTopic="ctl/birth", birthPayload="hi"),
            mqtt_out("ctl/data", qos="1")]
    async with FlowHarness(flow, clock=Clock()) as h:
        await asyncio.sleep(0.2)
        assert h.status("out1")["text"] == "node-red:common.status.disconnected"
        await h.inject("out1", action="connect")
        await h.wait_for(lambda: connected(h, "out1"))
        await until(lambda: client.payloads() == [b"hi"])
        await h.inject("out1", action="disconnect")
        await h.wait_for(lambda: not connected(h, "out1"))
        await until(lambda: client.payloads() == [b"hi", b"bye"])
        await h.inject("out1", action="connect", broker={"clientid": "renamed"})
        await h.wait_for(lambda: connected(h, "out1"))
        assert h.node("b1").transport.options.client_id == "renamed"  # type: ignore[attr-defined]
        await h.inject("out1", action="connect", force=True)  # reconnects
        await until(lambda: client.payloads().count(b"hi") == 3)
        await h.wait_for(lambda: connected(h, "out1"))
        await h.inject("out1", action="jump")
        assert any("Invalid action specified" in e["msg"] for e in h.errors)
