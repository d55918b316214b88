"""Tests for flowrt.durable_queue: ordering, TTL, eviction, retries, durability."""

import asyncio
import os
import random
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowrt.durable_queue as dq
from flowrt.clock import FakeClock
from flowrt.durable_queue import (
    DurableQueue,
    Priority,
    QueueBusyError,
    QueueClosedError,
    decode_message,
    encode_message,
    queue_path,
)
from flowrt.errors import NotStoredError
from tests.crash import ids_until_killed
from tests.tmpfs import fill, small_tmpfs

REPO = Path(dq.__file__).resolve().parent.parent
WRITER = Path(__file__).with_name("durable_queue_writer.py")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(tmp_path: Path, clock: FakeClock):
    q = await DurableQueue.open(tmp_path / "q.sqlite3", name="q", clock=clock.time)
    yield q
    await q.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk") as disk:
        yield disk


async def drain(queue: DurableQueue) -> list[int]:
    """Lease and ack one entry at a time; the order in which ids came out."""
    order = []
    while entries := await queue.lease(1):
        order.append(entries[0].message["n"])
        await queue.ack([entries[0].id])
    return order


async def test_highest_priority_first_and_fifo_within_a_priority(queue: DurableQueue) -> None:
    priorities = ["low", "normal", "critical", "high", "low", "critical", "normal", "high"]
    for n, priority in enumerate(priorities):
        await queue.put({"n": n}, priority)

    assert await drain(queue) == [2, 5, 3, 7, 1, 6, 0, 4]


async def test_lease_returns_a_batch_in_priority_order_and_never_twice(
    queue: DurableQueue,
) -> None:
    await queue.put_many([({"n": n}, Priority(n % 4)) for n in range(8)])

    first = await queue.lease(3)
    second = await queue.lease(10)

    assert [(e.priority, e.message["n"]) for e in first] == [(0, 0), (0, 4), (1, 1)]
    assert [e.message["n"] for e in second] == [5, 2, 6, 3, 7]
    assert await queue.lease(1) == []
    await queue.release([first[0].id])
    assert [e.id for e in await queue.lease(5)] == [first[0].id]


async def test_lease_can_be_limited_to_some_priorities(queue: DurableQueue) -> None:
    await queue.put_many([({"n": n}, Priority(n % 4)) for n in range(8)])

    assert [e.message["n"] for e in await queue.lease(10, priorities=["normal"])] == [2, 6]
    assert [e.message["n"] for e in await queue.lease(3, priorities=[3, "high"])] == [1, 5, 3]
    assert [e.message["n"] for e in await queue.lease(10)] == [0, 4, 7]


async def test_sfid_is_stable_and_names_queue_epoch_and_id(queue: DurableQueue) -> None:
    result = await queue.put({"n": 1})
    [entry] = await queue.lease(1)

    assert entry.id == result.ids[0]
    assert entry.sfid == queue.sfid(entry.id) == f"q:{queue.epoch}:{entry.id}"
    assert len(queue.epoch) == 8


async def test_messages_round_trip_including_bytes_and_tag_lookalikes(
    queue: DurableQueue,
) -> None:
    message = {
        "payload": b"\x00\x01\xff",
        "buf": bytearray(b"ab"),
        "nested": [{"$bytes": "not a tag"}, ("t", 1), {"$esc": {"x": b"y"}}],
        "text": "h\u00e9",
        "n": None,
    }
    await queue.put(message)
    [entry] = await queue.lease(1)

    assert entry.message == {
        "payload": b"\x00\x01\xff",
        "buf": b"ab",
        "nested": [{"$bytes": "not a tag"}, ["t", 1], {"$esc": {"x": b"y"}}],
        "text": "h\u00e9",
        "n": None,
    }


def test_plain_json_messages_skip_the_tagged_encoding() -> None:
    payload, encoding = encode_message({"$bytes": "literal"})
    assert payload == b'{"$bytes":"literal"}'
    assert decode_message(payload, encoding) == {"$bytes": "literal"}


async def test_unencodable_message_and_bad_priority_raise_at_put(queue: DurableQueue) -> None:
    with pytest.raises(TypeError):
        queue.put({"payload": object()})
    with pytest.raises(ValueError, match="invalid priority 'urgent'"):
        queue.put({"payload": 1}, "urgent")
    assert (await queue.stats()).total == 0


async def test_expired_entries_are_not_leased_and_expire_returns_them(
    tmp_path: Path, clock: FakeClock
) -> None:
    q = await DurableQueue.open(tmp_path / "q.sqlite3", clock=clock.time,
                                ttl={"normal": 10, "low": 30})
    async with q:
        await q.put({"n": 0}, "normal")
        await q.put({"n": 1}, "low")
        await q.put({"n": 2}, "critical")
        await clock.advance(11)

        assert [e.message["n"] for e in await q.lease(10)] == [2, 1]
        expired = await q.expire()
        stats = await q.stats()

    assert [(e.message["n"], e.expires_at) for e in expired] == [(0, clock.time() - 1)]
    assert stats.expired == 1
    assert stats.queued == {"critical": 1, "high": 0, "normal": 0, "low": 1}


async def test_full_queue_evicts_oldest_of_lowest_priority(tmp_path: Path) -> None:
    async with await DurableQueue.open(tmp_path / "q.sqlite3", max_messages=3) as q:
        await q.put({"n": 0}, "critical")
        await q.put({"n": 1}, "normal")
        await q.put({"n": 2}, "normal")
        first = await q.put({"n": 3}, "critical")
        second = await q.put({"n": 4}, "critical")
        third = await q.put({"n": 5}, "critical")
        stats = await q.stats()
        left = [e.message["n"] for e in await q.lease(10)]

    assert [e.message["n"] for e in first.evicted] == [1]
    assert [e.message["n"] for e in second.evicted] == [2]
    # Only critical entries are left: now the oldest critical one goes.
    assert [e.message["n"] for e in third.evicted] == [0]
    assert left == [3, 4, 5]
    assert stats.evicted == 3


async def test_new_message_below_everything_queued_is_itself_evicted(tmp_path: Path) -> None:
    async with await DurableQueue.open(tmp_path / "q.sqlite3", max_messages=2) as q:
        await q.put_many([({"n": 0}, "high"), ({"n": 1}, "high")])
        result = await q.put({"n": 2}, "low")
        assert [e.id for e in result.evicted] == result.ids
        assert [e.message["n"] for e in await q.lease(10)] == [0, 1]


async def test_max_bytes_evicts_until_under_the_byte_budget(tmp_path: Path) -> None:
    size = len(encode_message({"n": 0, "pad": "x" * 90})[0])
    big = {"n": 9, "pad": "x" * 150}
    async with await DurableQueue.open(tmp_path / "q.sqlite3", max_bytes=3 * size) as q:
        await q.put_many([({"n": n, "pad": "x" * 90}, "normal") for n in range(3)])
        result = await q.put(big, "high")
        stats = await q.stats()

    assert [e.message["n"] for e in result.evicted] == [0, 1]
    assert stats.queued == {"critical": 0, "high": 1, "normal": 1, "low": 0}
    assert stats.bytes == size + len(encode_message(big)[0])


async def test_fail_records_attempts_and_backoff(queue: DurableQueue, clock: FakeClock) -> None:
    await queue.put({"n": 0})
    await queue.put({"n": 1})
    [entry] = await queue.lease(1)

    attempts = await queue.fail(entry.id, clock.time() + 30, "timeout")

    assert attempts == 1
    assert await queue.next_retry_at() == clock.time() + 30
    assert [e.message["n"] for e in await queue.lease(5)] == [1]
    await clock.advance(30)
    [again] = await queue.lease(5)
    assert (again.id, again.attempts, again.last_error) == (entry.id, 1, "timeout")
    assert await queue.fail(again.id, clock.time() + 60, "refused") == 2
    assert await queue.next_retry_at() == clock.time() + 60


async def test_retry_now_clears_backoff(queue: DurableQueue, clock: FakeClock) -> None:
    await queue.put({"n": 0}, "high")
    [entry] = await queue.lease(1)
    await queue.fail(entry.id, clock.time() + 3600, "down")

    assert await queue.retry_now("low") == 0
    assert await queue.lease(1) == []
    assert await queue.retry_now() == 1
    assert [e.id for e in await queue.lease(1)] == [entry.id]
    assert await queue.next_retry_at() is None


async def test_dead_letter_moves_entry_out_and_keeps_a_bounded_record(tmp_path: Path) -> None:
    async with await DurableQueue.open(tmp_path / "q.sqlite3", max_dead_letters=2) as q:
        result = await q.put_many([({"n": n}, "normal") for n in range(3)])
        dead = [await q.dead_letter(id_, "max retries") for id_ in result.ids]
        gone = await q.dead_letter(result.ids[0], "again")
        stats = await q.stats()

    assert [e.message["n"] for e in dead if e] == [0, 1, 2]
    assert gone is None
    assert (stats.total, stats.dead_lettered, stats.dead_letters) == (0, 3, 2)


async def test_ack_deletes_and_purge_by_priority(queue: DurableQueue) -> None:
    result = await queue.put_many([({"n": n}, Priority(n % 2)) for n in range(6)])
    assert await queue.ack(result.ids[:2]) == 2
    assert await queue.ack(result.ids[:2]) == 0

    assert await queue.purge("high") == 2
    stats = await queue.stats()
    assert stats.queued == {"critical": 2, "high": 0, "normal": 0, "low": 0}
    assert (stats.acked, stats.purged) == (2, 2)
    assert await queue.purge() == 2


async def test_stats_report_counts_bytes_ages_and_write_amplification(
    queue: DurableQueue, clock: FakeClock
) -> None:
    await queue.put({"n": 0}, "low")
    await clock.advance(5)
    await queue.put_many([({"n": 1}, "critical"), ({"n": 2}, "critical")])
    await queue.lease(1)
    await clock.advance(2)

    stats = await queue.stats()

    assert stats.queued == {"critical": 2, "high": 0, "normal": 0, "low": 1}
    assert stats.oldest_age == {"critical": 2.0, "high": None, "normal": None, "low": 7.0}
    assert stats.oldest == 7.0
    assert stats.bytes == 3 * len(b'{"n":0}') == stats.payload_bytes_enqueued
    assert (stats.enqueued, stats.in_flight) == (3, 1)
    assert stats.write_amplification is not None and stats.write_amplification > 1


async def test_starvation_share_serves_lower_priorities_while_critical_is_busy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.sqlite3"
    async with await DurableQueue.open(path, starvation_share=0.25) as q:
        await q.put_many([({"n": f"c{n}"}, "critical") for n in range(9)])
        await q.put_many([({"n": f"l{n}"}, "low") for n in range(3)])
        await q.put({"n": "h0"}, "high")
        order = await drain(q)

    assert order == ["c0", "c1", "c2", "l0", "c3", "c4", "c5", "l1", "c6", "c7", "c8", "l2", "h0"]


async def test_starvation_share_applies_within_one_lease(tmp_path: Path) -> None:
    async with await DurableQueue.open(tmp_path / "q.sqlite3", starvation_share=0.5) as q:
        await q.put_many([({"n": f"c{n}"}, "critical") for n in range(4)])
        await q.put_many([({"n": f"n{n}"}, "normal") for n in range(4)])
        await q.put({"n": "l0"}, "low")
        leased = [e.message["n"] for e in await q.lease(4)]
        limited = [e.message["n"] for e in await q.lease(4, priorities=["critical", "low"])]
    assert leased == ["c0", "c1", "n0", "n1"]
    assert limited == ["c2", "c3", "l0"]


async def test_concurrent_puts_share_transactions_and_all_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = []
    run_batch = dq._Store.run_batch

    def counting(store, jobs):
        batches.append(len(jobs))
        return run_batch(store, jobs)

    monkeypatch.setattr(dq._Store, "run_batch", counting)
    path = tmp_path / "q.sqlite3"
    async with await DurableQueue.open(path) as q:
        results = await asyncio.gather(*(q.put({"n": n}) for n in range(2000)))

    ids = [r.ids[0] for r in results]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert len(batches) < 100 and max(batches) > 20
    async with await DurableQueue.open(path) as q:
        assert [e.id for e in await q.lease(5000)] == ids


async def hold_worker(queue: DurableQueue, monkeypatch: pytest.MonkeyPatch
                      ) -> tuple[threading.Event, asyncio.Future[Any]]:
    """Keep the queue's worker busy until the returned event is set, so that every job
    submitted meanwhile runs in the one batch that follows."""
    release, busy = threading.Event(), threading.Event()
    next_retry_at = dq._Store.op_next_retry_at

    def blocking(store: dq._Store, now: float) -> float | None:
        busy.set()
        release.wait(10)
        return next_retry_at(store, now)

    monkeypatch.setattr(dq._Store, "op_next_retry_at", blocking)
    holding = asyncio.ensure_future(queue.next_retry_at())
    assert await asyncio.to_thread(busy.wait, 10)
    return release, holding


async def test_a_failed_batch_rolls_back_and_fails_only_the_failing_jobs(
    queue: DurableQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    await queue.put({"n": 0})
    release, holding = await hold_worker(queue, monkeypatch)

    def broken(store):
        raise OSError("disk full")

    monkeypatch.setattr(dq._Store, "_evict_for_room", broken)
    batch = asyncio.gather(queue.put({"n": 1}), queue.stats(), queue.put({"n": 2}),
                           return_exceptions=True)
    release.set()
    failed_put, stats, failed_again = await batch
    await holding
    monkeypatch.undo()

    for failed in (failed_put, failed_again):
        assert isinstance(failed, NotStoredError)
        assert str(failed) == "not stored in queue 'q': disk full"
        assert isinstance(failed.__cause__, OSError)
    assert isinstance(stats, dq.QueueStats) and stats.total == 1
    stats = await queue.stats()
    assert (stats.total, stats.enqueued) == (1, 1)
    later = await queue.put({"n": 3})
    assert [e.message["n"] for e in await queue.lease(5)] == [0, 3]
    assert later.ids[0] == 2  # the rolled-back ids are free again: nothing ever used them


async def test_full_disk_fails_puts_as_not_stored_and_stores_again_once_freed(
    small_disk: Path,
) -> None:
    path = small_disk / "q.sqlite3"
    q = await DurableQueue.open(path, name="q")
    ballast = fill(small_disk, leave=64 * 1024)

    outcomes = await asyncio.gather(*(q.put({"n": n, "pad": "x" * 500}) for n in range(300)),
                                    return_exceptions=True)

    stored = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, dq.PutResult)]
    failed = [outcome for outcome in outcomes if not isinstance(outcome, dq.PutResult)]
    assert stored and failed  # the room left took some, then the disk was full
    for error in failed:
        assert isinstance(error, NotStoredError)
        assert str(error) == "not stored in queue 'q': database or disk is full"
    # Nothing wedged: the worker still answers, and exactly what was stored is there.
    assert [e.message["n"] for e in await q.lease(1000)] == stored
    assert (await q.stats()).total == len(stored)

    ballast.unlink()
    await asyncio.gather(*(q.put({"n": n}) for n in range(300, 400)))
    await q.close()
    async with await DurableQueue.open(path, name="q") as reopened:
        assert [e.message["n"] for e in await reopened.lease(1000)] == [
            *stored, *range(300, 400)]


async def test_a_running_queue_keeps_working_in_its_own_space_when_the_disk_fills(
    small_disk: Path,
) -> None:
    async def put_and_forward(rounds: int, size: int) -> None:
        for _ in range(rounds):
            await asyncio.gather(*(q.put({"pad": "x" * 200}) for _ in range(size)))
            await q.ack([e.id for e in await q.lease(size)])

    async with await DurableQueue.open(small_disk / "q.sqlite3") as q:
        await put_and_forward(rounds=10, size=200)
        ballast = fill(small_disk)  # not a byte left: another program filled the disk

        # The WAL is checkpointed and reused in place, and acks free pages for new puts.
        await put_and_forward(rounds=30, size=100)
        assert (await q.stats()).total == 0
        ballast.unlink()


async def test_queue_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = queue_path(tmp_path, "q")
    async with await DurableQueue.open(path) as q:
        await q.put({"n": 0})
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}

    assert modes == {"q.sqlite3": 0o600, "q.sqlite3-wal": 0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_opening_tightens_files_left_readable_by_an_older_version(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    async with await DurableQueue.open(path) as q:
        await q.put({"n": 0})
    wal = tmp_path / "q.sqlite3-wal"
    wal.write_bytes(b"")  # as a crash would leave it
    for file in (path, wal):
        file.chmod(0o644)

    async with await DurableQueue.open(path) as q:
        assert [e.message["n"] for e in await q.lease(5)] == [0]
        assert {stat.S_IMODE(f.stat().st_mode) for f in (path, wal)} == {0o600}


async def test_reopen_keeps_entries_attempts_and_never_reuses_ids(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "q.sqlite3"
    q = await DurableQueue.open(path, name="q", clock=clock.time)
    first = await q.put_many([({"n": n}, Priority(n % 4)) for n in range(8)])
    leased = await q.lease(3)
    await q.fail(leased[0].id, clock.time() - 1, "nack")
    epoch = q.epoch
    await q.close()

    q = await DurableQueue.open(path, name="q", clock=clock.time)
    entries = await q.lease(100)  # the unacked leases came back
    assert sorted(e.id for e in entries) == first.ids
    assert {e.id: e.attempts for e in entries}[leased[0].id] == 1
    assert q.epoch == epoch
    await q.purge()
    await q.close()

    async with await DurableQueue.open(path, name="q", clock=clock.time) as q:
        again = await q.put({"n": 9})
    assert again.ids[0] > max(first.ids)


async def test_second_open_of_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    async with await DurableQueue.open(path):
        with pytest.raises(QueueBusyError, match="in use"):
            await DurableQueue.open(path, lock_timeout=0.05)


async def test_closed_queue_refuses_operations(queue: DurableQueue) -> None:
    pending = queue.put({"n": 0})
    await queue.close()
    await queue.close()

    assert (await pending).ids == [1]
    assert queue.closed
    with pytest.raises(QueueClosedError):
        queue.put({"n": 1})
    with pytest.raises(QueueClosedError):
        await queue.lease(1)


def test_queue_path_is_safe_for_any_name(tmp_path: Path) -> None:
    assert queue_path(tmp_path, "cloud") == tmp_path / "queues" / "cloud.sqlite3"
    assert queue_path(tmp_path, "../x").parent == tmp_path / "queues"
    assert queue_path(tmp_path, "a/b").name == "a%2Fb.sqlite3"
    assert queue_path(tmp_path, "").name != ".sqlite3"


def test_priority_parse() -> None:
    assert Priority.parse("Critical") is Priority.CRITICAL
    assert Priority.parse(3) is Priority.LOW
    assert Priority.LOW.label == "low"
    for bad in ("", 4, True, None):
        with pytest.raises(ValueError):
            Priority.parse(bad)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigkill_at_random_moments_loses_no_acknowledged_message(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    path = tmp_path / "crash.sqlite3"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    acknowledged: set[int] = set()
    for _ in range(20):
        writer = subprocess.Popen([sys.executable, str(WRITER), str(path)],
                                  stdout=subprocess.PIPE, env=env)
        # Kill after a random number of acknowledged ids: the 32 producers keep
        # transactions in progress, so the kill lands anywhere in the write path.
        round_ids = ids_until_killed(writer, rng, 1000)
        assert min(round_ids) > max(acknowledged, default=0), "an id was reused"
        acknowledged.update(round_ids)

        stored = asyncio.run(_stored_ids(path))
        assert acknowledged <= stored, f"lost {sorted(acknowledged - stored)[:10]}"


async def _stored_ids(path: Path) -> set[int]:
    async with await DurableQueue.open(path) as q:
        return {e.id for e in await q.lease(10_000_000)}


async def leased_put(queue: DurableQueue, message: Any, priority: str = "normal"):
    """put_leased, once the queue has granted ids (the first call asks for them)."""
    for _ in range(100):
        leased = queue.put_leased(message, priority)
        if leased is not None:
            return leased
        await queue.stats()  # the grant is a job ahead of this one
    raise AssertionError("no ids granted")


async def test_a_leased_put_gives_its_entry_at_once_and_is_not_leased_again(
        queue: DurableQueue) -> None:
    await queue.put({"n": 0}, "normal")
    entry, stored = await leased_put(queue, {"n": 1})
    assert entry.message == {"n": 1} and entry.sfid == queue.sfid(entry.id)
    assert not stored.done()  # the entry is known before its commit
    result = await stored
    assert result.ids == [entry.id]
    # Leased to the caller: a lease hands out only the other entry.
    assert [e.message for e in await queue.lease(10)] == [{"n": 0}]
    assert await queue.ack([entry.id]) == 1
    assert (await queue.stats()).total == 1


async def test_ids_granted_for_leased_puts_are_never_given_again_after_a_restart(
        tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "q.sqlite3"
    queue = await DurableQueue.open(path, name="q", clock=clock.time)
    entry, stored = await leased_put(queue, {"n": 1})
    await stored
    await queue.close()  # (a crash loses the rest of the granted block the same way)
    queue = await DurableQueue.open(path, name="q", clock=clock.time)
    try:
        result = await queue.put({"n": 2})
        assert result.ids[0] > entry.id + dq.ID_BLOCK // 2
        # The leased entry is ready again after the restart (leases live in memory).
        assert [e.message for e in await queue.lease(10)] == [{"n": 1}, {"n": 2}]
    finally:
        await queue.close()


async def test_leased_puts_on_a_full_disk_say_not_stored(small_disk: Path) -> None:
    q = await DurableQueue.open(small_disk / "q.sqlite3", name="q")
    try:
        _, first = await leased_put(q, {"n": -1})  # ids granted while there is room
        await first
        fill(small_disk, leave=64 * 1024)
        leased = [q.put_leased({"n": n, "pad": "x" * 500}) for n in range(300)]
        assert all(put is not None for put in leased)
        outcomes = await asyncio.gather(*(put[1] for put in leased if put is not None),
                                        return_exceptions=True)
        stored = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, dq.PutResult)]
        failed = [outcome for outcome in outcomes if not isinstance(outcome, dq.PutResult)]
        assert stored and failed
        assert all(isinstance(error, NotStoredError) for error in failed)
        # What was stored is there, leased to the caller until it gives it back.
        assert await q.lease(1000) == []
        await q.release([put[0].id for put in leased if put is not None])
        assert [e.message["n"] for e in await q.lease(1000)] == stored
    finally:
        (small_disk / "ballast").unlink(missing_ok=True)  # room for the checkpoint
        await q.close()
