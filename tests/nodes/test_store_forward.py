"""store-forward: durable queueing, priority order, retries, dead letters, eviction, TTL,
control actions, status, pacing, restart."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowrt_nodes.store_forward import ERROR_PAUSE, STATUS_INTERVAL, StoreForward

import flowrt.durable_queue as dq
from flowrt.errors import DeployError, NotStoredError
from flowrt.forwarder import RetryPolicy
from flowrt.node import Node
from flowrt.testing import FlowHarness
from tests.crash import ids_until_killed
from tests.tmpfs import fill, small_tmpfs


class Sink(Node):
    """Records what it receives; fails the first `failFirst` messages, or with `hold`
    never completes them (the test resolves ``held`` futures)."""

    type = "test-sink"
    outputs = 0
    schema: ClassVar = {"type": "object", "properties": {}}

    def __init__(self, config: dict[str, Any], flow: Any) -> None:
        super().__init__(config, flow)
        self.got: list[dict[str, Any]] = []
        self.held: list[asyncio.Future[None]] = []

    def on_input(self, msg):
        self.got.append(msg)
        if len(self.got) <= int(self.config.get("failFirst", 0)):
            raise RuntimeError(f"sink down ({len(self.got)})")
        if self.config.get("hold"):
            future = asyncio.get_running_loop().create_future()
            self.held.append(future)
            return future
        return None


class Source(Node):
    """Sends every message it receives to store-forward, tracked, and records completions
    (and, in ``outcomes``, the error each completed with, or None)."""

    type = "test-source"

    def __init__(self, config: dict[str, Any], flow: Any) -> None:
        super().__init__(config, flow)
        self.completed: list[Any] = []
        self.outcomes: dict[Any, BaseException | None] = {}
        self.on_complete: Callable[[Any], None] = lambda n: None

    def on_input(self, msg):
        n = msg["payload"]
        self.send_tracked(msg).add_done_callback(lambda f: self._done(n, f))

    def _done(self, n: Any, future: asyncio.Future[int]) -> None:
        self.on_complete(n)
        self.completed.append(n)
        self.outcomes[n] = future.exception()


REPO = Path(dq.__file__).resolve().parent.parent
WRITER = Path(__file__).with_name("store_forward_writer.py")
TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
NO_JITTER = {p: {"jitter": 0} for p in ("critical", "high", "normal", "low")}


def flow(sf: dict[str, Any] | None = None, sink: dict[str, Any] | None = None
         ) -> list[dict[str, Any]]:
    return [
        TAB,
        {"id": "src", "type": "test-source", "z": "t1", "wires": [["sf"]]},
        {"id": "sf", "type": "store-forward", "z": "t1", "queue": "q", "retry": NO_JITTER,
         "wires": [["sink"], []], **(sf or {})},
        {"id": "sink", "type": "test-sink", "z": "t1", "wires": [], **(sink or {})},
    ]


def harness(tmp_path: Path, sf: dict[str, Any] | None = None,
            sink: dict[str, Any] | None = None) -> FlowHarness:
    return FlowHarness(flow(sf, sink), node_types=[Sink, Source], data_dir=tmp_path)


def sink(h: FlowHarness) -> Sink:
    node = h.node("sink")
    assert isinstance(node, Sink)
    return node


def events(h: FlowHarness, kind: str | None = None) -> list[dict[str, Any]]:
    return [m["payload"] for m in h.outputs("sf", 1) if kind is None or m["topic"] == kind]


async def stats(h: FlowHarness) -> dq.QueueStats:
    node = h.node("sf")
    assert isinstance(node, StoreForward) and node.queue is not None
    return await node.queue.stats()


async def advance_housekeeping(h: FlowHarness, seconds: float) -> None:
    """Advance the fake clock in steps of the node's housekeeping interval, each time
    after its housekeeping task went back to sleep (its queue calls run on a thread).

    Only for a paused node: then the housekeeping timer is the only one.
    """
    for _ in range(round(seconds / STATUS_INTERVAL)):
        await h.wait_for(lambda: h.clock.pending() == 1)
        await h.advance(STATUS_INTERVAL)
    await h.wait_for(lambda: h.clock.pending() == 1)


def counts(h: FlowHarness) -> dict[str, int]:
    node = h.node("sf")
    assert isinstance(node, StoreForward)
    return node.counts


async def put_paused(h: FlowHarness, messages: list[dict[str, Any]]) -> None:
    """Pause forwarding, queue ``messages`` and wait until all are committed."""
    await h.inject("sf", action="pause")
    expected = len(h.node("src").completed) + len(messages)
    for msg in messages:
        h.send("src", msg)
    await h.wait_for(lambda: len(h.node("src").completed) == expected)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk") as disk:
        yield disk


async def test_forwards_highest_priority_first_fifo_within_and_acks(tmp_path: Path) -> None:
    priorities = ["low", "normal", "critical", None, "high", "critical", "low"]
    async with harness(tmp_path) as h:
        await put_paused(h, [{"payload": n, "priority": p} for n, p in enumerate(priorities)])
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 7)
        await h.wait_for(lambda: counts(h)["delivered"] == 7)

        assert [m["payload"] for m in sink(h).got] == [2, 5, 4, 1, 3, 0, 6]
        sfids = [m["_sfid"] for m in sink(h).got]
        assert len(set(sfids)) == 7 and all(s.startswith("q:") for s in sfids)
        assert (await stats(h)).total == 0


async def test_a_message_completes_only_after_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed: list[int] = []
    run_batch = dq._Store.run_batch

    def recording(store, jobs):
        outcomes = run_batch(store, jobs)
        for job, (_, result, ok) in zip(jobs, outcomes, strict=True):
            if ok and job.op is dq._Store.op_put:
                committed.extend(result.ids)
        return outcomes

    monkeypatch.setattr(dq._Store, "run_batch", recording)
    seen_at_completion: list[int] = []
    async with harness(tmp_path) as h:
        await h.inject("sf", action="pause")
        h.node("src").on_complete = lambda n: seen_at_completion.append(len(committed))
        for n in range(50):
            h.send("src", {"payload": n})
        await h.wait_for(lambda: len(h.node("src").completed) == 50)

    # Each completion saw at least as many committed puts as completions so far.
    assert all(seen >= i + 1 for i, seen in enumerate(seen_at_completion))


async def test_failed_try_is_retried_after_backoff_with_the_same_sfid(tmp_path: Path) -> None:
    sf = {"retry": {"normal": {"initialDelay": 30, "multiplier": 3, "jitter": 0}}}
    async with harness(tmp_path, sf, {"failFirst": 2}) as h:
        await h.inject("src", payload="a")
        await h.wait_for(lambda: counts(h)["failed"] == 1)
        await h.advance(29)
        assert len(sink(h).got) == 1
        await h.advance(1)
        await h.wait_for(lambda: counts(h)["failed"] == 2)
        assert len(sink(h).got) == 2
        await h.advance(89)
        assert len(sink(h).got) == 2
        await h.advance(1)
        await h.wait_for(lambda: counts(h)["delivered"] == 1)

        assert len({m["_sfid"] for m in sink(h).got}) == 1
        assert counts(h)["failed"] == 2
        assert (await stats(h)).total == 0


async def test_backoff_holds_its_priority_and_lower_but_not_higher(tmp_path: Path) -> None:
    async with harness(tmp_path, sink={"failFirst": 1}) as h:
        await h.inject("src", payload="n1", priority="normal")
        await h.wait_for(lambda: len(sink(h).got) == 1)
        await h.wait_for(lambda: counts(h)["failed"] == 1)
        for payload, priority in (("n2", "normal"), ("l1", "low"), ("c1", "critical")):
            h.send("src", {"payload": payload, "priority": priority})
        await h.wait_for(lambda: len(sink(h).got) == 2)
        await h.advance(29)
        assert [m["payload"] for m in sink(h).got] == ["n1", "c1"]

        await h.advance(1)
        await h.wait_for(lambda: len(sink(h).got) == 5)
        assert [m["payload"] for m in sink(h).got] == ["n1", "c1", "n1", "n2", "l1"]


async def test_ack_timeout_counts_as_a_failed_try(tmp_path: Path) -> None:
    sf = {"ackTimeout": 10, "retry": {"high": {"initialDelay": 5, "jitter": 0}}}
    async with harness(tmp_path, sf, {"hold": True}) as h:
        await h.inject("src", payload="x", priority="high")
        await h.wait_for(lambda: len(sink(h).got) == 1)
        await h.advance(10)
        await h.wait_for(lambda: counts(h)["failed"] == 1)
        sink(h).held[0].set_result(None)  # too late: the try already failed
        await h.advance(5)
        await h.wait_for(lambda: len(sink(h).got) == 2)
        sink(h).held[1].set_result(None)
        await h.wait_for(lambda: counts(h)["delivered"] == 1)
        assert (await stats(h)).total == 0


async def test_spent_retries_move_the_message_to_dead_letters(tmp_path: Path) -> None:
    sf = {"retry": {"low": {"maxRetries": 2, "initialDelay": 1, "multiplier": 1}}}
    async with harness(tmp_path, sf, {"failFirst": 99}) as h:
        await h.inject("src", payload="doomed", priority="low")
        for tries in (1, 2, 3):
            await h.wait_for(lambda tries=tries: counts(h)["failed"] == tries)
            await h.advance(1)
        await h.wait_for(lambda: events(h, "dead-lettered"))

        [dead] = events(h, "dead-lettered")
        assert dead["message"]["payload"] == "doomed"
        assert dead["attempts"] == 3 and dead["priority"] == "low"
        assert dead["reason"] == "gave up after 3 tries: sink down (3)"
        assert dead["counts"]["deadLettered"] == 1
        stats_now = await stats(h)
        assert (stats_now.total, stats_now.dead_letters) == (0, 1)
        await h.advance(10)
        assert len(sink(h).got) == 3


async def test_full_queue_evicts_lowest_priority_oldest_and_reports_it(tmp_path: Path) -> None:
    async with harness(tmp_path, {"maxMessages": 2}) as h:
        await put_paused(h, [{"payload": "c", "priority": "critical"},
                             {"payload": "l1", "priority": "low"},
                             {"payload": "l2", "priority": "low"}])
        await h.wait_for(lambda: events(h, "evicted"))

        [evicted] = events(h, "evicted")
        assert evicted["message"]["payload"] == "l1"
        assert evicted["counts"]["evicted"] == 1
        assert (await stats(h)).queued == {"critical": 1, "high": 0, "normal": 0, "low": 1}


async def test_expired_messages_are_dropped_and_counted(tmp_path: Path) -> None:
    async with harness(tmp_path, {"ttl": {"normal": 60}}) as h:
        await put_paused(h, [{"payload": 1}, {"payload": 2, "priority": "critical"}])
        await advance_housekeeping(h, 55)
        assert events(h, "expired") == []
        await advance_housekeeping(h, 10)
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 1)

        [expired] = events(h, "expired")
        assert expired["count"] == 1 and expired["byPriority"]["normal"] == 1
        assert [m["payload"] for m in sink(h).got] == [2]


async def test_flush_retries_at_once_and_purge_empties_one_priority(tmp_path: Path) -> None:
    async with harness(tmp_path, sink={"failFirst": 1}) as h:
        await h.inject("src", payload="retry me")
        await h.wait_for(lambda: counts(h)["failed"] == 1)
        await h.inject("sf", action="flush")
        await h.wait_for(lambda: len(sink(h).got) == 2)

        await put_paused(h, [{"payload": n, "priority": "low"} for n in range(3)]
                         + [{"payload": "keep", "priority": "high"}])
        await h.inject("sf", action="purge", priority="low")
        await h.wait_for(lambda: events(h, "purged"))
        assert events(h, "purged")[0]["count"] == 3
        assert (await stats(h)).queued["high"] == 1


async def test_status_shows_queued_per_priority_oldest_age_and_pause(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await put_paused(h, [{"payload": 1, "priority": "high"}, {"payload": 2}])
        await advance_housekeeping(h, 125)

        assert h.status("sf") == {"fill": "grey", "shape": "ring",
                                  "text": "paused, 2 queued (c 0 / h 1 / n 1 / l 0), oldest 2m"}


async def test_drain_rate_paces_forwarding(tmp_path: Path) -> None:
    async with harness(tmp_path, {"drainRate": 2, "window": 10}) as h:
        await put_paused(h, [{"payload": n} for n in range(5)])
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 1)
        for sent in (2, 3, 4, 5):
            await h.advance(0.5)
            await h.wait_for(lambda sent=sent: len(sink(h).got) == sent)
            await asyncio.sleep(0.01)
            assert len(sink(h).got) == sent


async def test_drain_byte_rate_paces_by_payload_size(tmp_path: Path) -> None:
    message = {"payload": "x" * 80}
    size = len(dq.encode_message({**message, "_msgid": "0123456789abcdef"})[0])
    async with harness(tmp_path, {"drainByteRate": size, "window": 10}) as h:
        await put_paused(h, [dict(message, _msgid="0123456789abcdef") for _ in range(3)])
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 1)
        await h.advance(0.9)
        await asyncio.sleep(0.01)
        assert len(sink(h).got) == 1
        await h.advance(0.1)
        await h.wait_for(lambda: len(sink(h).got) == 2)


async def test_starvation_share_lets_lower_priorities_through(tmp_path: Path) -> None:
    async with harness(tmp_path, {"starvationShare": 0.5}) as h:
        await put_paused(h, [{"payload": f"c{n}", "priority": "critical"} for n in range(4)]
                         + [{"payload": f"l{n}", "priority": "low"} for n in range(2)])
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 6)
        assert [m["payload"] for m in sink(h).got] == ["c0", "l0", "c1", "l1", "c2", "c3"]


async def test_queue_survives_a_restart_and_resumes_forwarding(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await put_paused(h, [{"payload": n, "raw": b"\x01"} for n in range(3)])
    async with harness(tmp_path) as h:
        await h.wait_for(lambda: len(sink(h).got) == 3)
        assert [(m["payload"], m["raw"]) for m in sink(h).got] == [(n, b"\x01") for n in range(3)]


async def test_unknown_priority_is_stored_as_normal_with_a_warning(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.inject("src", payload=1, priority="urgent")
        await h.wait_for(lambda: len(sink(h).got) == 1)
        assert "invalid priority 'urgent'" in h.warnings[0]["msg"]


async def test_unencodable_message_is_reported_not_queued(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.inject("sf", payload=object())
        assert h.errors and h.errors[0]["id"] == "sf"
        assert (await stats(h)).total == 0


async def test_full_disk_fails_what_it_cannot_store_and_stores_again_once_freed(
    small_disk: Path,
) -> None:
    async with harness(small_disk) as h:
        source = h.node("src")
        assert isinstance(source, Source)
        await h.inject("sf", action="pause")
        ballast = fill(small_disk, leave=64 * 1024)
        for n in range(300):
            h.send("src", {"payload": n, "pad": "x" * 500})
        await h.wait_for(lambda: len(source.outcomes) == 300)

        stored = [n for n, error in source.outcomes.items() if error is None]
        failed = [error for error in source.outcomes.values() if error is not None]
        assert stored and failed  # the room left took some, then the disk was full
        for error in failed:
            assert isinstance(error, NotStoredError)
            assert str(error) == "not stored in queue 'q': database or disk is full"
        status = h.status("sf")
        assert (status["fill"], status["shape"]) == ("red", "ring")
        assert status["text"].startswith("not storing: database or disk is full")
        assert len(h.errors) == len(failed) and {e["id"] for e in h.errors} == {"sf"}

        ballast.unlink()
        for n in range(300, 310):
            h.send("src", {"payload": n})
        await h.wait_for(lambda: len(source.outcomes) == 310)
        assert [source.outcomes[n] for n in range(300, 310)] == [None] * 10
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: counts(h)["delivered"] == len(stored) + 10)
        assert [m["payload"] for m in sink(h).got] == [*stored, *range(300, 310)]
        assert h.status("sf")["fill"] == "green"


async def test_acks_refused_by_a_full_disk_are_settled_once_space_is_back(
    small_disk: Path,
) -> None:
    async with harness(small_disk, {"window": 50}) as h:
        await put_paused(h, [{"payload": n} for n in range(50)])
        ballast = fill(small_disk)
        await h.inject("sf", action="resume")
        await h.wait_for(lambda: len(sink(h).got) == 50)
        await h.wait_for(lambda: any("failed: database or disk is full" in e["msg"]
                                     for e in h.errors))  # the sink completed, the disk refused

        ballast.unlink()
        await h.advance(ERROR_PAUSE)
        await h.wait_for(lambda: counts(h)["delivered"] == 50)
        assert (await stats(h)).total == 0
        assert [m["payload"] for m in sink(h).got] == list(range(50))  # none sent twice


async def test_start_needs_a_data_directory() -> None:
    with pytest.raises(DeployError, match="needs a data directory"):
        async with FlowHarness(flow(), node_types=[Sink, Source]):
            pass


def test_backoff_grows_caps_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(max_retries=None, initial_delay=5, multiplier=2, max_delay=300,
                         jitter=0.2)
    rng = random.Random(7)
    exact = RetryPolicy(None, 5, 2, 300, 0.0)
    assert [exact.delay(t, rng) for t in (1, 2, 3, 7, 10_000)] == [5, 10, 20, 300, 300]
    for tries in range(1, 12):
        delay = policy.delay(tries, rng)
        assert 0.8 * exact.delay(tries, rng) <= delay <= exact.delay(tries, rng)



@pytest.mark.slow
@pytest.mark.timeout(60)
def test_kill_9_of_the_runtime_loses_no_acknowledged_message(tmp_path: Path) -> None:
    rng = random.Random(99)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    acknowledged: set[int] = set()
    for round_ in range(5):
        runtime = subprocess.Popen([sys.executable, str(WRITER), str(tmp_path), str(round_)],
                                   stdout=subprocess.PIPE, env=env)
        acknowledged.update(ids_until_killed(runtime, rng, 600))

    asyncio.run(_check_all_forwarded_after_restart(tmp_path, acknowledged))


async def _check_all_forwarded_after_restart(data_dir: Path, acknowledged: set[int]) -> None:
    async with harness(data_dir, {"window": 64}) as h:
        await h.wait_for(lambda: {m["payload"] for m in sink(h).got} >= acknowledged,
                         within=20)
