"""Running one flow-test case on :class:`~flowrt.testing.FlowHarness` with its fake clock.

Each case gets a fresh runtime, a temporary data directory and, unless it runs for
real, an in-memory MQTT broker per broker address (:class:`~flowrt.mqtt.fake.FakeBroker`)
and an HTTP client that answers from the case's fixtures. Steps run in order; an
``expect`` takes the next message at its target that no earlier step took, moving fake
time timer by timer until it arrives or ``within`` runs out, so time stops where the
message came. A failure names the step, its line, the target, and what differed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowrt.clock import FakeClock
from flowrt.errors import DeployError
from flowrt.flowtests.matching import differences, short
from flowrt.flowtests.spec import Case, HttpFixture, NodeRef, Step, TestFile
from flowrt.http_client import (
    ClientPool,
    HttpRequest,
    HttpResponse,
    RequestError,
    use_client_pool,
)
from flowrt.messages import Message
from flowrt.mqtt import Subscription
from flowrt.mqtt.fake import FakeBroker, FakeTransport
from flowrt.mqtt.interface import ConnectOptions
from flowrt.mqtt.topics import topic_matches
from flowrt.node import Node
from flowrt.testing import FlowHarness, make_registry

REAL_WAIT = 2.0
"""Seconds of real time a case that runs for real gives the network to deliver before
an ``expect`` fails (or an ``expect nothing`` passes), after fake time ran out."""
GRACE = 1.0
"""Seconds of real time work off the event loop (a durable queue's disk writes) gets
before an ``expect`` fails, after fake time ran out: a loaded machine can be slow to
commit, and fake time does not wait for it."""
CONNECT_WAIT = 10.0
"""Seconds of real time a real broker gets to accept the flows' connections."""
SETTLE_LIMIT = 5.0
"""Seconds of real time the flows get to go quiet after each step and timer."""
_MAX_TIMER_ROUNDS = 100_000


@dataclass
class CaseResult:
    """How a case ended: ``failure`` holds the lines that explain a failure."""

    case: Case
    failure: list[str] | None = None

    @property
    def passed(self) -> bool:
        """True when every step held."""
        return self.failure is None

    def report(self) -> str:
        """The failure as people read it: where, then the indented explanation."""
        if self.failure is None:
            return f"{self.case.where}: passed"
        return "\n".join([f"{self.case.where}: FAILED", *(f"  {line}" for line in self.failure)])


class _StepFailed(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class FakeBrokers:
    """A :data:`~flowrt.mqtt.TransportFactory`: one in-memory broker per broker address,
    so two ``mqtt-broker`` nodes naming the same server share it, as they would for real."""

    def __init__(self) -> None:
        self.brokers: dict[tuple[str, int], FakeBroker] = {}

    def __call__(self, options: ConnectOptions, **callbacks: Any) -> FakeTransport:
        broker = self.brokers.setdefault((options.host, options.port), FakeBroker())
        return broker(options, **callbacks)


class FixturePool(ClientPool):
    """An HTTP client that answers from a case's fixtures and fails a request none
    answers, naming it (no request leaves the machine)."""

    def __init__(self, fixtures: list[HttpFixture]) -> None:
        super().__init__()
        self.fixtures = fixtures

    async def fetch(self, request: HttpRequest) -> HttpResponse:
        """The first fixture whose url (and method, when it names one) matches."""
        for fixture in self.fixtures:
            if fixture.url == request.url and fixture.method in (None, request.method):
                return HttpResponse(status=fixture.status, headers=dict(fixture.headers),
                                    body=fixture.body, url=request.url, redirects=[])
        raise RequestError(f"no http fixture of the test case answers {request.method} "
                           f"{request.url}", "ENOFIXTURE")


class _TopicProbe(Node):
    """Subscribes, on a real broker connection, to the topics a case expects messages on."""

    type = "flowrt-test-topic-probe"
    inputs = 0
    outputs = 0


class _Mqtt:
    """The MQTT side of a case: publish as another client would, and what the flows
    published, per broker node."""

    def __init__(self, harness: FlowHarness, broker_ids: list[str], real: bool) -> None:
        self.harness = harness
        self.broker_ids = broker_ids
        self.real = real
        self.heard: list[tuple[str, dict[str, Any]]] = []
        """Real mode: (broker id, message) for every message the probes heard, in order."""
        self._probes: list[tuple[Any, _TopicProbe]] = []

    def _broker(self, broker_id: str) -> Any:
        return self.harness.node(broker_id)

    def fake_broker(self, broker_id: str) -> FakeBroker | None:
        """The in-memory broker a broker node is connected to (None when unconnected)."""
        transport = getattr(self._broker(broker_id), "transport", None)
        return transport.broker if isinstance(transport, FakeTransport) else None

    async def connected(self) -> None:
        """Wait until every broker node with users is connected (real mode: bounded)."""
        deadline = time.monotonic() + (CONNECT_WAIT if self.real else 5.0)
        for broker_id in self.broker_ids:
            broker = self._broker(broker_id)
            while getattr(broker, "transport", None) is not None and not broker.connected:
                if time.monotonic() > deadline:
                    raise _StepFailed([f"broker {broker.label!r} ({broker_id}) did not "
                                       f"connect within {CONNECT_WAIT:g} s"])
                await asyncio.sleep(0.01)

    def listen(self, topics: set[tuple[str, str | None]]) -> None:
        """Real mode: subscribe to every (filter, broker id or None for all) expected."""
        for broker_id in self.broker_ids:
            broker = self._broker(broker_id)
            probe = _TopicProbe({"id": f"{broker_id}:flow-test", "type": _TopicProbe.type},
                                self.harness.runtime.new_context(f"{broker_id}:flow-test",
                                                                 broker.ctx.flow.id))
            for topic_filter, only in topics:
                if only in (None, broker_id):
                    broker.subscribe(probe, topic_filter, Subscription(qos=1),
                                     self._recorder(broker_id))
            broker.register(probe)
            self._probes.append((broker, probe))

    def _recorder(self, broker_id: str) -> Callable[..., None]:
        def record(topic: str, payload: bytes, qos: int, retain: bool, _: Any) -> None:
            self.heard.append((broker_id, {"topic": topic, "payload": payload, "qos": qos,
                                           "retain": retain}))
        return record

    def close(self) -> None:
        """Take the probes' subscriptions away."""
        for broker, probe in self._probes:
            broker.deregister(probe, removed=True)

    async def publish(self, step: Step) -> None:
        """Publish the step's message on its broker (default: every broker of the flows)."""
        payload = _encode(step.msg.get("payload", ""))
        targets = [step.broker.id] if step.broker else self.broker_ids
        if not targets:
            raise _StepFailed(["the flows have no mqtt-broker to publish on"])
        for broker_id in targets:
            if self.real:
                future = self._broker(broker_id).publish(step.topic, payload, step.qos,
                                                         step.retain, None)
                if future is not None:
                    await future
                continue
            fake = self.fake_broker(broker_id)
            if fake is not None:
                fake.publish(step.topic, payload, step.qos, step.retain)
            elif step.broker is not None:
                raise _StepFailed([f"no node of the flows uses broker {step.broker}"])

    def outage(self, broker: NodeRef, down: bool) -> None:
        """Stop (``down``) or restart the in-memory broker a broker node connects to."""
        if self.real:
            raise _StepFailed([f"a real broker cannot be stopped by a test ({broker})"])
        fake = self.fake_broker(broker.id)
        if fake is None:
            raise _StepFailed([f"no node of the flows uses broker {broker}"])
        if down:
            fake.stop()
        else:
            fake.start()

    def published(self, topic_filter: str, broker: NodeRef | None) -> list[tuple[Any, Message]]:
        """What the flows published on topics matching ``topic_filter``, in order, each
        with what identifies it whichever filter finds it."""
        ids = [broker.id] if broker else self.broker_ids
        if self.real:
            return [(("mqtt", index), m) for index, (b, m) in enumerate(self.heard)
                    if b in ids and topic_matches(topic_filter, m["topic"])]
        seen: set[int] = set()
        found = []
        for broker_id in ids:
            fake = self.fake_broker(broker_id)
            if fake is None or id(fake) in seen:
                continue
            seen.add(id(fake))
            found += [(("mqtt", id(m)), {"topic": m.topic, "payload": m.payload, "qos": m.qos,
                                          "retain": m.retain})
                      for m in fake.messages if m.sender and topic_matches(topic_filter, m.topic)]
        return found

    def message_count(self) -> int:
        """How many messages the in-memory brokers (or, for real, the probes) have seen."""
        if self.real:
            return len(self.heard)
        return sum(len(b.messages) for b in {id(b): b for b in map(self.fake_broker,
                                                                   self.broker_ids) if b}.values())

    async def settled(self) -> None:
        """Wait (bounded) until the in-memory brokers delivered what they have."""
        if self.real:
            return
        for broker_id in self.broker_ids:
            fake = self.fake_broker(broker_id)
            if fake is not None:
                await fake.settled()


def _encode(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def _mqtt_view(message: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """An MQTT message as the step compares it: the payload as text when the step
    expects text (or a ``$regex``) or nothing, else parsed as JSON when it is JSON."""
    view = dict(message)
    text = bytes(message["payload"]).decode("utf-8", "replace")
    view["payload"] = text
    want = expected.get("payload")
    if "payload" in expected and not isinstance(want, str) and not (
            isinstance(want, dict) and "$regex" in want):
        with contextlib.suppress(ValueError):
            view["payload"] = json.loads(text)
    return view


class _CaseRun:
    """The state of one running case: the harness, and the messages steps took."""

    def __init__(self, harness: FlowHarness, mqtt: _Mqtt, flows: list[dict[str, Any]],
                 real: bool) -> None:
        self.h = harness
        self.mqtt = mqtt
        self.real = real
        assert isinstance(harness.clock, FakeClock)
        self.clock: FakeClock = harness.clock
        self.start = self.clock.time()
        self.taken: set[Any] = set()
        self.outputs = {n["id"]: len(n.get("wires") or []) for n in flows if "id" in n}

    @property
    def t(self) -> str:
        return f"t={self.clock.time() - self.start:g} s"

    def _fingerprint(self) -> tuple[int, ...]:
        return (len(self.h.sent), len(self.h.events), len(self.h.runtime.dispatcher),
                self.clock.pending(), self.mqtt.message_count(),
                sum(1 for t in asyncio.all_tasks() if not t.done()))

    async def settle(self) -> None:
        """Let the flows finish what they started without moving fake time: deliveries,
        in-memory broker traffic, and work off the loop (a durable queue's disk writes),
        which shows as nothing changing for a few milliseconds of real time (bounded)."""
        deadline = time.monotonic() + SETTLE_LIMIT
        quiet = 0
        while quiet < 3 and time.monotonic() < deadline:
            before = self._fingerprint()
            await self.h.settle()
            await self.mqtt.settled()
            await asyncio.sleep(0.002)
            quiet = quiet + 1 if self._fingerprint() == before else 0

    # ------------------------------------------------------------- targets
    def _target(self, step: Step) -> Callable[[], list[tuple[Any, Message]]]:
        """The messages at the step's target so far, each with its identity: a message
        one step took is taken for every later step at the same node port, or, on MQTT,
        for every topic filter that matches it."""
        if step.node is not None:
            node_id, port = step.node.id, step.output - 1
            if self.outputs.get(node_id):
                return lambda: [((node_id, port, i), m)
                                for i, m in enumerate(self.h.outputs(node_id, port))]
            return lambda: [((node_id, "in", i), m)
                            for i, m in enumerate(self.h.received(node_id))]
        return lambda: self.mqtt.published(step.topic, step.broker)

    def _where(self, step: Step) -> str:
        if step.node is None:
            return f"on {step.describe()}"
        return f"at {step.describe()}" if self.outputs.get(step.node.id) else \
            f"at the input of {step.describe()}"

    # --------------------------------------------------------------- steps
    async def run(self, step: Step) -> None:
        if step.kind == "inject":
            assert step.node is not None
            if self.h.runtime.get_node(step.node.id) is None:
                raise _StepFailed([f"{step.node} is not running (disabled?): nothing to "
                                   "inject into"])
            self.h.send(step.node.id, copy.deepcopy(step.msg))
        elif step.kind == "publish":
            await self.mqtt.publish(step)
        elif step.kind == "advance":
            await self.h.advance(step.seconds)
        elif step.kind.startswith("broker "):
            assert step.broker is not None
            self.mqtt.outage(step.broker, step.kind == "broker down")
        elif step.kind in ("expect", "expect topic"):
            await self.expect(step)
        else:
            await self.expect_nothing(step)
        await self.settle()

    async def _until(self, deadline: float, arrived: Callable[[], bool], grace: float) -> bool:
        """Move fake time timer by timer up to ``deadline`` until ``arrived()``; then give
        work off the loop (disk writes, the network) ``grace`` seconds of real time.
        True when it arrived."""
        for _ in range(_MAX_TIMER_ROUNDS):
            await self.settle()
            if arrived():
                return True
            now = self.clock.time()
            if now >= deadline:
                break
            due = self.clock.next_due()
            await self.h.advance((deadline if due is None else min(max(due, now), deadline))
                                 - now)
        else:
            raise _StepFailed([f"timers keep firing at {self.t} without time moving on"])
        until = time.monotonic() + grace
        while time.monotonic() < until:
            await asyncio.sleep(0.01)
            await self.h.settle()
            if arrived():
                return True
        return False

    async def expect(self, step: Step) -> None:
        messages = self._target(step)

        def fresh() -> list[tuple[Any, Message]]:
            return [(ident, m) for ident, m in messages() if ident not in self.taken]

        if not await self._until(self.clock.time() + step.within, lambda: bool(fresh()),
                                 REAL_WAIT if self.real else GRACE):
            taken = len(messages())
            earlier = (f"; the {taken} earlier message(s) there were taken by earlier steps"
                       if taken else "")
            raise _StepFailed([f"nothing arrived {self._where(step)} within "
                               f"{step.within:g} s of fake time ({self.t}){earlier}"])
        ident, got = fresh()[0]
        self.taken.add(ident)
        number = [i for i, _ in messages()].index(ident) + 1
        view = _mqtt_view(got, step.msg) if step.node is None else got
        found = differences(step.msg, view, exact=step.exact, tolerance=step.tolerance)
        if found:
            raise _StepFailed([f"message {number} {self._where(step)} ({self.t}) differs:",
                               *(f"  {line}" for line in found), f"  got: {_shown(view)}"])

    async def expect_nothing(self, step: Step) -> None:
        messages = self._target(step)

        def fresh() -> list[tuple[Any, Message]]:
            return [(ident, m) for ident, m in messages() if ident not in self.taken]

        if await self._until(self.clock.time() + step.within, lambda: bool(fresh()),
                             REAL_WAIT if self.real else 0.0):
            got = fresh()[0][1]
            view = _mqtt_view(got, {"payload": None}) if step.node is None else got
            raise _StepFailed([f"expected nothing {self._where(step)} within "
                               f"{step.within:g} s, but a message arrived ({self.t}):",
                               f"  got: {_shown(view)}"])


def _shown(msg: Message) -> str:
    return short({k: v for k, v in msg.items() if not str(k).startswith("_")}, 300)


def _broker_type(fakes: FakeBrokers) -> type[Node] | None:
    """The installed ``mqtt-broker`` type, connecting to ``fakes`` instead of the network."""
    entry = make_registry().types.get("mqtt-broker")
    if entry is None:
        return None
    base = entry.cls
    return type(base.__name__, (base,), {"transport_factory": fakes, "__doc__": base.__doc__,
                                         "__module__": base.__module__})


def _set_context(harness: FlowHarness, case: Case, flows: list[dict[str, Any]]) -> None:
    contexts = harness.runtime.contexts
    tab_of = {n["id"]: n.get("z", "") for n in flows if "id" in n}
    for key, value in case.context.get("global", {}).items():
        contexts.global_.set(key, copy.deepcopy(value))
    for tab, values in case.context.get("flow", {}).items():
        for key, value in values.items():
            contexts.flow(tab).set(key, copy.deepcopy(value))
    for node_id, values in case.context.get("node", {}).items():
        for key, value in values.items():
            contexts.node(node_id, tab_of.get(node_id, "")).set(key, copy.deepcopy(value))


def _node_problems(harness: FlowHarness) -> list[str]:
    reported = harness.errors
    if not reported:
        return []
    return ["errors the nodes reported:",
            *(f"  {d.get('name') or d.get('id')} ({d.get('type', '?')}): {d.get('msg')}"
              for d in reported)]


async def run_case(test_file: TestFile, case: Case, *, real: bool = False) -> CaseResult:
    """Run one case (for real when ``real`` or the case says so) and say how it went."""
    real = real or case.real
    flows = [dict(n, d=True) if n.get("id") in case.disabled else n for n in test_file.flows]
    broker_ids = [n["id"] for n in flows if isinstance(n, dict) and n.get("type") == "mqtt-broker"]
    node_types: list[type[Node]] = []
    if not real:
        faked = _broker_type(FakeBrokers())
        if faked is not None:
            node_types.append(faked)
    # A pool per case: a real one, or fixtures (never a pool an earlier case left behind).
    use_client_pool(ClientPool() if real else FixturePool(case.http))
    with tempfile.TemporaryDirectory(prefix="flowrt-test-") as data_dir:
        harness = FlowHarness(flows, node_types=node_types, data_dir=Path(data_dir))
        mqtt = _Mqtt(harness, broker_ids, real)
        number = 0
        await harness.runtime.open()
        try:
            _set_context(harness, case, flows)
            try:
                await harness.deploy(harness.flows)
            except DeployError as exc:
                return CaseResult(case, [f"the flows did not start: {exc}"])
            run = _CaseRun(harness, mqtt, flows, real)
            await mqtt.connected()
            if real:
                mqtt.listen({(s.topic, s.broker.id if s.broker else None)
                             for s in case.steps if s.kind.endswith("topic")})
            await run.settle()
            for step in case.steps:
                number += 1
                await run.run(step)
        except _StepFailed as exc:
            where = f"step {number} (line {case.steps[number - 1].line}): " if number else ""
            return CaseResult(case, [where + exc.lines[0], *exc.lines[1:],
                                     *_node_problems(harness)])
        finally:
            mqtt.close()
            await harness.__aexit__(None, None, None)
    return CaseResult(case)


def run_case_sync(test_file: TestFile, case: Case, *, real: bool = False) -> CaseResult:
    """:func:`run_case` on an event loop of its own."""
    return asyncio.run(run_case(test_file, case, real=real))


def run_file(test_file: TestFile, *, real: bool = False) -> list[CaseResult]:
    """Every case of a file, in order."""
    return [run_case_sync(test_file, case, real=real) for case in test_file.cases]
