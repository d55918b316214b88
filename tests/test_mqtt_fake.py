"""flowrt.mqtt.fake: the in-memory broker keeps the broker semantics unit tests rely on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flowrt.mqtt import ConnectOptions, PublishDropped, Subscription
from flowrt.mqtt.fake import FakeBroker, FakeTransport


async def connected(broker: FakeBroker, client_id: str, got: list[tuple[Any, ...]],
                    **options: Any) -> FakeTransport:
    ready = asyncio.Event()
    transport = broker(ConnectOptions("fake", client_id=client_id, **options),
                       on_message=lambda *args: got.append(args),
                       on_state=lambda state, detail: state == "connected" and ready.set())
    transport.start()
    await asyncio.wait_for(ready.wait(), 5)
    return transport


async def test_shared_subscriptions_split_the_messages_of_a_group() -> None:
    broker = FakeBroker()
    first: list[tuple[Any, ...]] = []
    second: list[tuple[Any, ...]] = []
    plain: list[tuple[Any, ...]] = []
    for cid, got in (("a", first), ("b", second)):
        (await connected(broker, cid, got)).subscribe("$share/g/s/#", Subscription(qos=0))
    (await connected(broker, "c", plain)).subscribe("s/+", Subscription(qos=0))
    for i in range(10):
        broker.publish("s/x", str(i).encode())
    await broker.settled()
    assert len(first) == len(second) == 5 and len(plain) == 10


async def test_no_local_and_retained_messages() -> None:
    broker = FakeBroker()
    got: list[tuple[Any, ...]] = []
    me = await connected(broker, "me", got, protocol=5)
    me.subscribe("t", Subscription(qos=1, no_local=True))
    me.publish("t", b"mine", 0)
    broker.publish("t", b"kept", 1, retain=True, properties={"contentType": "text/plain"})
    await broker.settled()
    assert [(t, p, q, r) for t, p, q, r, _ in got] == [("t", b"kept", 1, True)]
    late: list[tuple[Any, ...]] = []
    (await connected(broker, "late", late)).subscribe("t", Subscription(qos=0))
    await broker.settled()
    assert late == [("t", b"kept", 0, True, {"contentType": "text/plain"})]


async def test_publishes_wait_for_the_broker_within_their_bounds() -> None:
    broker = FakeBroker()
    transport = await connected(broker, "p", [], max_queued=2)
    broker.stop()
    assert transport.state == "disconnected"
    with pytest.raises(PublishDropped, match="QoS 0"):
        transport.publish("t", b"x", 0)
    futures = [transport.publish("t", b"x", 1) for _ in range(2)]
    with pytest.raises(PublishDropped, match="full"):
        transport.publish("t", b"x", 1)
    broker.start()
    await asyncio.gather(*[f for f in futures if f is not None])
    assert [m.payload for m in broker.messages] == [b"x", b"x"]
    await transport.close()
    assert transport.state == "closed"
