"""Process logging: repeated lines are summarised, for every logger."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from flowrt.server.logs import RepeatSummaryHandler, configure_logging
from flowrt.settings import Settings


class Clock:
    """Monotonic seconds that the test sets."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(text: str, name: str = "flowrt.mqtt", level: int = logging.WARNING,
           **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord(name, level, __file__, 1, "%s", (text,), None)
    entry.__dict__.update(extra)
    return entry


@pytest.fixture
def lines() -> Iterator[tuple[RepeatSummaryHandler, io.StringIO, Clock]]:
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    clock = Clock()
    yield RepeatSummaryHandler(target, window=60, clock=clock), out, clock


def test_a_line_logged_every_5_s_for_10_minutes_is_written_twice_a_minute(lines) -> None:
    # Issue 11: "Connection failed" every 5 s for as long as a broker is down.
    handler, out, clock = lines
    failed = "Connection failed to broker: mqtt://127.0.0.1:1883: Connection refused"
    for _ in range(120):
        handler.handle(record(failed))
        clock.now += 5
    handler.handle(record("Connected to broker: mqtt://127.0.0.1:1883", level=logging.INFO))
    written = out.getvalue().splitlines()
    summary = f"flowrt.mqtt WARNING {failed} … repeated 11 times in 55 s"
    assert written == [f"flowrt.mqtt WARNING {failed}", summary] * 10 + [
        "flowrt.mqtt INFO Connected to broker: mqtt://127.0.0.1:1883"]


def test_what_is_held_back_is_written_at_shutdown(lines) -> None:
    handler, out, clock = lines
    for _ in range(3):
        handler.handle(record("disk full", exc_info=(OSError, OSError("full"), None)))
        clock.now += 1
    handler.close()
    written = out.getvalue().splitlines()
    assert written[0] == "flowrt.mqtt WARNING disk full" and written[1] == "OSError: full"
    assert written[2:] == ["flowrt.mqtt WARNING disk full … repeated 2 times in 2 s"]


def test_lines_differing_in_logger_level_or_node_are_not_repeats(lines) -> None:
    handler, out, _ = lines
    for entry in (record("x"), record("x", name="asyncio"), record("x", level=logging.ERROR),
                  record("x", node_id="n1"), record("x", node_id="n2"), record("y")):
        handler.handle(entry)
    assert len(out.getvalue().splitlines()) == 6


def test_the_number_of_remembered_lines_is_bounded(lines) -> None:
    handler, out, _ = lines
    handler.max_kinds = 3
    for text in ("a", "a", "b", "c", "d"):  # "d" makes "a" the oldest to forget
        handler.handle(record(text))
    handler.handle(record("a"))  # forgotten, so written again
    assert [line.split(" ", 2)[2] for line in out.getvalue().splitlines()] == [
        "a", "b", "c", "a … repeated 1 times in 0 s", "d", "a"]


def test_configure_logging_summarises_every_logger(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings())
        for name in ("asyncio", "flowrt.node.function", "some.plugin"):
            for _ in range(50):
                logging.getLogger(name).error("the same failure")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved
    written = capsys.readouterr().err.splitlines()
    assert len(written) == 6
    assert [line.endswith("the same failure … repeated 49 times in 0 s")
            for line in written] == [False, False, False, True, True, True]
