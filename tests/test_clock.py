"""Clocks: a failing timer callback is logged and stops nothing else."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowrt.clock import Clock, FakeClock


def exits() -> None:
    raise SystemExit(2)


def breaks() -> None:
    raise ValueError("broken timer")


@pytest.mark.parametrize("failure", [exits, breaks], ids=["SystemExit", "ValueError"])
async def test_a_failing_timer_is_logged_and_the_next_one_fires(
        failure, caplog: pytest.LogCaptureFixture) -> None:
    fired = asyncio.Event()
    clock = Clock()
    clock.call_later(0, failure)
    clock.call_later(0.001, fired.set)
    await asyncio.wait_for(fired.wait(), 2)
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "flowrt.clock"]
    assert len(logged) == 1 and logged[0][0] == logging.ERROR
    assert logged[0][1].startswith(f"Timer callback {failure.__qualname__} failed: ")


async def test_the_fake_clock_contains_failing_timers_too(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    fired: list[float] = []
    clock.call_later(1, exits)
    clock.call_later(2, lambda: fired.append(clock.monotonic()))
    await clock.advance(3)
    assert fired == [2.0]
    assert "Timer callback exits failed: SystemExit: 2" in caplog.text


async def test_the_fake_clock_says_when_its_next_timer_is_due() -> None:
    clock = FakeClock(start=100.0)
    assert clock.next_due() is None
    later = clock.call_later(5, lambda: None)
    clock.call_later(9, lambda: None)
    assert clock.next_due() == 105.0
    later.cancel()
    assert clock.next_due() == 109.0
    await clock.advance(10)
    assert clock.next_due() is None
