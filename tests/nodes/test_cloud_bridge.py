"""cloud-bridge against a real "cloud" mosquitto: outages, batches, downlink, state."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowrt.clock import Clock
from flowrt.durable_queue import Priority
from flowrt.errors import NotStoredError
from flowrt.testing import FlowHarness
from tests.brokers import free_port
from tests.nodes.test_mqtt import TAB, Client, broker_node, until
from tests.nodes.test_mqtt import persistent_broker as persistent_broker  # fixture
from tests.nodes.test_mqtt_tls import tls_broker as tls_broker  # fixture
from tests.tmpfs import fill, small_tmpfs

pytestmark = pytest.mark.broker

PRIORITIES = ["critical", "normal", "normal", "low", "high", "normal"]


def bridge(**extra: Any) -> dict[str, Any]:
    return {"id": "cb", "type": "cloud-bridge", "z": "t1", "broker": "b1", "deviceId": "gw1",
            "modes": {"critical": "stream", "high": "stream",
                      "normal": {"batch": {"interval": 0.2, "maxMessages": 20}},
                      "low": {"batch": {"interval": 0.5, "maxMessages": 50}}},
            "x": 0, "y": 0, "wires": [[], []], **extra}


def received(client: Client) -> list[tuple[str, dict[str, Any]]]:
    """Every (kind, item) the cloud got, in arrival order; batches unpacked. A streamed
    item is its envelope, or ``{"payload"}`` (plus ``_sfid`` on MQTT 5) without one."""
    out: list[tuple[str, dict[str, Any]]] = []
    with client.lock:
        messages = list(client.messages)
    for message in messages:
        data = message.payload
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        document = json.loads(data)
        if message.topic.startswith("devices/gw1/batch/"):
            assert set(document) == {"batchId", "deviceId", "priority", "count", "messages"}
            assert document["count"] == len(document["messages"])
            assert message.topic == f"devices/gw1/batch/{document['priority']}"
            out.extend(("batch", item) for item in document["messages"])
        else:
            assert message.topic == "devices/gw1/t"
            if isinstance(document, dict) and "_sfid" in document:
                out.append(("stream", document))
            else:
                out.append(("stream", {"payload": document, **user_properties(message)}))
    return out


def user_properties(message: Any) -> dict[str, str]:
    return dict(getattr(message.properties, "UserProperty", None) or [])


async def test_outage_loses_nothing_and_drains_by_priority(persistent_broker: Any,
                                                           tmp_path: Path) -> None:
    cloud = persistent_broker
    watcher = Client(cloud.port, client_id="cloud-app", clean=False)
    watcher.subscribe("devices/gw1/#", 1)
    # The watcher (MQTT 3.1.1) drops duplicates by `_sfid`: streamed messages come in
    # their envelope.
    flow = [TAB, broker_node(cloud.port, clientid="gw1", protocolVersion="5"),
            bridge(compress="gzip", envelope=True)]
    acknowledged: dict[str, list[int]] = {p: [] for p in set(PRIORITIES)}
    during_outage: list[tuple[str, int]] = []
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            stop = asyncio.Event()

            async def feed() -> None:
                count = 0
                while not stop.is_set():
                    priority = PRIORITIES[count % len(PRIORITIES)]
                    await node.on_input({"topic": "t", "priority": priority,
                                         "payload": {"p": priority, "n": count}})
                    acknowledged[priority].append(count)
                    if node.state == "offline":
                        during_outage.append((priority, count))
                    count += 1
                    await asyncio.sleep(0.004)

            feeder = asyncio.create_task(feed())
            await asyncio.sleep(0.5)
            await asyncio.to_thread(cloud.stop)
            await h.wait_for(lambda: node.state == "offline")
            await asyncio.sleep(1.0)
            assert node.queued > 0 and node.metrics()["state"] == 0
            await asyncio.to_thread(cloud.start)
            await h.wait_for(lambda: node.state == "online", within=10)
            await asyncio.sleep(0.5)
            stop.set()
            await feeder
            total = sum(len(v) for v in acknowledged.values())
            await h.wait_for(lambda: len({i["_sfid"] for _, i in received(watcher)}) >= total,
                             within=15)
            await h.wait_for(lambda: node.queued == 0)
            assert node.metrics()["reconnects_total"] == 1
            states = [m["payload"]["state"] for m in h.outputs("cb", 1)]
            assert states[:3] == ["online", "offline", "online"]
    finally:
        watcher.close()

    items = received(watcher)
    first: dict[str, dict[str, Any]] = {}
    for kind, item in items:
        first.setdefault(item["_sfid"], {**item["payload"], "kind": kind})
    got: dict[str, list[int]] = {p: [] for p in acknowledged}
    for value in first.values():
        got[value["p"]].append(value["n"])
    for priority, numbers in acknowledged.items():
        assert got[priority] == numbers, priority  # every one, once, in order
    kinds = {v["p"]: v["kind"] for v in first.values()}
    assert kinds == {"critical": "stream", "high": "stream", "normal": "batch", "low": "batch"}
    # The outage backlog drained critical first.
    assert during_outage
    order = [(v["p"], v["n"]) for v in first.values()]
    backlog = [order.index(key) for key in during_outage]
    critical = [i for i, key in zip(backlog, during_outage, strict=True) if key[0] == "critical"]
    normal = [i for i, key in zip(backlog, during_outage, strict=True) if key[0] == "normal"]
    assert critical and normal and max(critical) < min(normal)


async def test_downlink_and_plain_batches(mosquitto: Any, tmp_path: Path) -> None:
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/batch/#", 1)
    flow = [TAB, broker_node(mosquitto.port), bridge()]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            await asyncio.sleep(0.1)  # SUBACK of the downlink
            cloud_app.publish("devices/gw1/commands/valve/set", '{"open": true}')
            await h.wait_for(lambda: len(h.outputs("cb", 0)) == 1)
            command = h.outputs("cb", 0)[0]
            assert command["topic"] == "valve/set" and command["payload"] == {"open": True}
            for n in range(25):
                await node.on_input({"topic": "t", "payload": n})  # normal: batches of 20
            await until(lambda: sum(len(json.loads(m.payload)["messages"])
                                    for m in cloud_app.messages) == 25)
            sizes = [json.loads(m.payload)["count"] for m in cloud_app.messages]
            assert sizes == [20, 5]
            await h.wait_for(lambda: node.metrics()["queued"] == 0)  # acks settled
            figures = node.metrics()
            assert figures["batches_total"] == 2 and figures["messages_sent_total"] == 25
            assert figures["bytes_sent_total"] > 0
    finally:
        cloud_app.close()


async def test_not_durable_publishes_at_once(mosquitto: Any) -> None:
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(mosquitto.port), bridge(durable=False, downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock()) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            await asyncio.wait_for(node.on_input({"topic": "t", "payload": "now"}), 5)
            await until(lambda: len(cloud_app.messages) == 1)
            assert cloud_app.messages[0].payload == b"now"
    finally:
        cloud_app.close()


PAYLOADS = [{"temperature": 21.5, "ok": True}, [1, 2.5], "text", 42, 0.5, False, None,
            b"\x00\xffraw"]


@pytest.mark.parametrize("protocol", ["4", "5"])
async def test_streamed_payloads_reach_the_cloud_as_a_local_subscriber_sees_them(
    mosquitto: Any, tmp_path: Path, protocol: str
) -> None:
    # The same messages through mqtt out to the local side and through the bridge.
    local_app, cloud_app = Client(mosquitto.port), Client(mosquitto.port, v5=True)
    local_app.subscribe("local/#", 1)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(mosquitto.port, protocolVersion=protocol),
            {"id": "out", "type": "mqtt out", "z": "t1", "topic": "", "qos": "1",
             "broker": "b1", "x": 0, "y": 0, "wires": []},
            bridge(downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            for payload in PAYLOADS:
                await node.on_input({"topic": "t", "priority": "high", "payload": payload})
                h.send("out", {"topic": "local/t", "payload": payload})
            await until(lambda: len(cloud_app.messages) == len(local_app.messages)
                        == len(PAYLOADS))
    finally:
        local_app.close()
        cloud_app.close()

    assert [m.payload for m in cloud_app.messages] == [m.payload for m in local_app.messages]
    assert {m.topic for m in cloud_app.messages} == {"devices/gw1/t"}
    properties = [user_properties(m) for m in cloud_app.messages]
    if protocol == "4":
        assert properties == [{}] * len(PAYLOADS)  # MQTT 3.1.1 has no user properties
        return
    assert [set(p) for p in properties] == [{"_sfid", "ts", "priority"}] * len(PAYLOADS)
    assert len({p["_sfid"] for p in properties}) == len(PAYLOADS)
    assert all(p["_sfid"].startswith("cb:") and p["priority"] == "high"
               and p["ts"].isdigit() for p in properties)


async def test_envelope_wraps_streamed_messages(mosquitto: Any, tmp_path: Path) -> None:
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(mosquitto.port), bridge(envelope=True, downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            await node.on_input({"topic": "t", "priority": "critical", "payload": {"v": 1}})
            await until(lambda: len(cloud_app.messages) == 1)
    finally:
        cloud_app.close()
    envelope = json.loads(cloud_app.messages[0].payload)
    assert set(envelope) == {"topic", "payload", "ts", "_sfid", "priority"}
    assert (envelope["topic"], envelope["payload"], envelope["priority"]) == (
        "t", {"v": 1}, "critical")
    assert envelope["_sfid"].startswith("cb:") and isinstance(envelope["ts"], int)


async def test_bad_modes_fail_the_deploy(mosquitto: Any, tmp_path: Path) -> None:
    flow = [TAB, broker_node(mosquitto.port), bridge(modes={"low": "sometimes"})]
    with pytest.raises(Exception, match=r"modes\.low"):
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path):
            pass


async def test_slow_acknowledgements_mean_degraded(mosquitto: Any, tmp_path: Path) -> None:
    flow = [TAB, broker_node(mosquitto.port), bridge(degradedAfter=0, downlink="")]
    async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
        node: Any = h.node("cb")
        await h.wait_for(lambda: node.state == "online")
        await node.on_input({"topic": "t", "priority": "critical", "payload": 1})
        await h.wait_for(lambda: node.state == "degraded")
        event = h.outputs("cb", 1)[-1]["payload"]
        assert event["state"] == "degraded" and isinstance(event["since"], int)
        assert h.status("cb")["fill"] == "yellow"


async def test_bridge_over_mutual_tls(tls_broker: Any, tmp_path: Path) -> None:
    pki = tls_broker.pki
    cloud_app = Client(tls_broker.plain.port)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(tls_broker.tls_port, usetls=True, tls="tls1"),
            {"id": "tls1", "type": "tls-config", "ca": pki.path("ca.pem"),
             "cert": pki.path("client.pem"), "key": pki.path("client.key")},
            bridge(downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            await node.on_input({"topic": "t", "priority": "high", "payload": "secure"})
            await until(lambda: len(cloud_app.messages) == 1)
            assert cloud_app.messages[0].payload == b"secure"
    finally:
        cloud_app.close()


async def test_a_backlog_larger_than_the_window_drains_completely(mosquitto: Any,
                                                                 tmp_path: Path) -> None:
    # The in-flight window (20) is smaller than a batch (50): batches go out as
    # acknowledgements make room, until nothing is left.
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/batch/#", 1)
    flow = [TAB, broker_node(mosquitto.port),
            bridge(window=20, modes={"normal": {"batch": {"interval": 0.1, "maxMessages": 50}}})]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            for n in range(300):
                await node.on_input({"topic": "t", "payload": n})
            await until(lambda: sum(len(json.loads(m.payload)["messages"])
                                    for m in cloud_app.messages) == 300, within=10)
            sent = [item["payload"] for m in cloud_app.messages
                    for item in json.loads(m.payload)["messages"]]
            assert sent == list(range(300))
            assert max(json.loads(m.payload)["count"] for m in cloud_app.messages) <= 20
    finally:
        cloud_app.close()


async def test_max_bytes_evicts_the_oldest_of_the_lowest_priority(tmp_path: Path) -> None:
    # The cloud is unreachable: everything stays in the outbox, which holds 1000 bytes.
    flow = [TAB, broker_node(free_port()), bridge(maxBytes="1000", downlink="")]
    async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
        node: Any = h.node("cb")
        for n, priority in enumerate(["critical", "low", "normal", "low", "high"] * 4):
            await node.on_input({"topic": "t", "priority": priority, "payload": f"{n:0>100}"})
        stats = await node.queue.stats()
        kept = [(e.priority, int(e.message["payload"])) for e in await node.queue.lease(100)]

    # Every stored message has the same size: the budget holds six of them. Lows and
    # normals went first, then the oldest highs; criticals were never touched.
    assert stats.bytes <= 1000 < stats.bytes + stats.bytes // 6
    assert kept == [(Priority.CRITICAL, n) for n in (0, 5, 10, 15)] + [
        (Priority.HIGH, n) for n in (14, 19)]
    assert node.metrics()["dropped_total"] == 20 - len(kept) == stats.evicted
    assert node.metrics()["queued"] == len(kept)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk") as disk:
        yield disk


async def test_full_disk_fails_what_it_cannot_store_and_sends_the_rest_once_freed(
    mosquitto: Any, small_disk: Path
) -> None:
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(mosquitto.port), bridge(downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=small_disk) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            ballast = fill(small_disk, leave=64 * 1024)
            outcomes = await asyncio.gather(
                *(node.on_input({"topic": "t", "priority": "high", "payload": n, "pad": "x" * 500})
                  for n in range(300)), return_exceptions=True)

            stored = [n for n, outcome in enumerate(outcomes)
                      if not isinstance(outcome, BaseException)]
            failed = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert stored and len(stored) + len(failed) == 300
            for error in failed:
                assert isinstance(error, NotStoredError)
                assert str(error) == "not stored in queue 'cb': database or disk is full"
            assert h.status("cb")["text"].startswith("not storing: database or disk is full")

            ballast.unlink()
            await asyncio.gather(*(node.on_input({"topic": "t", "priority": "high", "payload": n})
                                   for n in range(300, 310)))
            expected = {*stored, *range(300, 310)}
            await until(lambda: {item["payload"] for _, item in received(cloud_app)} == expected,
                        within=10)
            await until(lambda: h.status("cb")["text"] == "online, 0 queued")
    finally:
        cloud_app.close()


async def test_acks_refused_by_a_full_disk_are_settled_once_space_is_back(
    mosquitto: Any, small_disk: Path
) -> None:
    mosquitto.stop()  # the outbox fills while the cloud is away
    flow = [TAB, broker_node(mosquitto.port), bridge(downlink="")]
    async with FlowHarness(flow, clock=Clock(), data_dir=small_disk) as h:
        node: Any = h.node("cb")
        await asyncio.gather(*(node.on_input({"topic": "t", "priority": "high", "payload": n})
                               for n in range(50)))
        ballast = fill(small_disk)
        mosquitto.start()
        await until(lambda: node.metrics()["messages_sent_total"] == 50, within=10)
        await until(lambda: any("outbox failed: database or disk is full" in e["msg"]
                                for e in h.errors))  # the cloud acknowledged, the disk refused

        ballast.unlink()
        await until(lambda: node.metrics()["queued"] == 0, within=10)
        assert (await node.queue.stats()).total == 0
        assert node.metrics()["messages_sent_total"] == 50  # settled, not sent again


async def test_waiting_messages_expire_as_in_store_forward(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cloud is unreachable for longer than a normal message's ttl (7 days): it is
    # swept out of the outbox and counted as dropped; the critical one stays. (Hourly
    # sweeps and ticks, so that the fake clock does not step through a week of seconds.)
    monkeypatch.setattr("flowrt_nodes.cloud_bridge.TICK", 3600.0)
    monkeypatch.setattr("flowrt_nodes.cloud_bridge.EXPIRY_INTERVAL", 3600.0)
    flow = [TAB, broker_node(free_port()), bridge(downlink="")]
    async with FlowHarness(flow, data_dir=tmp_path) as h:
        node: Any = h.node("cb")
        for priority in ("critical", "normal", "normal"):
            await node.on_input({"topic": "t", "priority": priority, "payload": 1})
        await h.advance(7 * 86400)
        for _ in range(1000):  # each sweep waits for the queue's thread: hour by hour
            if node.metrics()["dropped_total"] == 2:
                break
            await h.advance(3600)
        assert node.metrics()["dropped_total"] == 2
        assert node.metrics()["queued"] == 1
        assert [e.priority for e in await node.queue.lease(10)] == [Priority.CRITICAL]
        assert any("2 messages expired" in w["msg"] for w in h.warnings)


async def test_a_streamed_message_is_published_while_its_put_commits(
        mosquitto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flowrt.durable_queue as dq

    committing = dq._Store.op_put_leased
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    leased_puts = []

    def slow_commit(store: Any, *args: Any) -> Any:
        # The worker holds the transaction open until the cloud has the message.
        leased_puts.append(args)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(5)
        return committing(store, *args)

    monkeypatch.setattr(dq._Store, "op_put_leased", slow_commit)
    cloud_app = Client(mosquitto.port)
    cloud_app.subscribe("devices/gw1/#", 1)
    flow = [TAB, broker_node(mosquitto.port), bridge(envelope=True, downlink="")]
    try:
        async with FlowHarness(flow, clock=Clock(), data_dir=tmp_path) as h:
            node: Any = h.node("cb")
            await h.wait_for(lambda: node.state == "online")
            for n in range(3):  # the first puts may go the usual way while ids are granted
                done = node.on_input({"topic": "t", "priority": "critical", "payload": n})
                await until(lambda n=n: len(cloud_app.messages) == n + 1)
                release.set()
                await done
                release.clear()
                await until(lambda: node.queued == 0)
    finally:
        release.set()
        cloud_app.close()
    assert [json.loads(m.payload)["payload"] for m in cloud_app.messages] == [0, 1, 2]
    assert len(leased_puts) >= 2  # all but the first, which asked for ids
