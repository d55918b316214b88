"""Process logging from the ``[logging]`` settings: level and text or JSON lines.

Every logger's records pass through :class:`RepeatSummaryHandler`: a line repeated
word for word (a broker that stays down, a message that keeps failing) is written
once, then once a minute with how many times it came meanwhile, so a fault cannot
fill the disk with its log.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from flowrt.settings import Settings

LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL,
          "off": logging.CRITICAL + 10}
TEXT_FORMAT = "%(asctime)s - [%(levelname)s] %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, node id/type if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("node_id", "node_type"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


REPEAT_WINDOW = 60.0
"""Seconds during which a repeated line is counted instead of written."""
REPEAT_KINDS = 1000
"""Distinct lines remembered at once; beyond that the oldest is forgotten."""


class _Repeats:
    __slots__ = ("count", "first", "last", "line")

    def __init__(self, record: logging.LogRecord, text: str, now: float) -> None:
        # The record without its arguments and traceback, which may hold large objects.
        self.line = {**record.__dict__, "msg": text, "args": None, "exc_info": None,
                     "exc_text": None, "stack_info": None}
        self.first = self.last = now
        self.count = 0


class RepeatSummaryHandler(logging.Handler):
    """Passes records on to ``target``, holding back repeats of the same line.

    A line is the same when its logger, level, node and text are (its traceback
    does not count). The first one is written; the same line within ``window``
    seconds after it is only counted; once the window is over one line says how
    many there were (``<text> … repeated 11 times in 55 s``), written at the next
    record of any kind, or when logging shuts down. The next repeat after that
    is written again and opens a new window.
    """

    def __init__(self, target: logging.Handler, window: float = REPEAT_WINDOW,
                 clock: Callable[[], float] = time.monotonic,
                 max_kinds: int = REPEAT_KINDS) -> None:
        super().__init__()
        self.target = target
        self.window = window
        self.clock = clock
        self.max_kinds = max_kinds
        self._seen: OrderedDict[tuple[str, int, Any, str], _Repeats] = OrderedDict()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            now = self.clock()
            seen = self._seen
            while seen:  # oldest first: windows end in the order they began
                oldest = next(iter(seen.values()))
                if now - oldest.first < self.window and len(seen) < self.max_kinds:
                    break
                seen.popitem(last=False)
                self._summarise(oldest)
            text = record.getMessage()
            key = (record.name, record.levelno, getattr(record, "node_id", None), text)
            repeats = seen.get(key)
            if repeats is not None:
                repeats.count += 1
                repeats.last = now
                return
            seen[key] = _Repeats(record, text, now)
        except Exception:
            self.handleError(record)
            return
        self.target.handle(record)

    def close(self) -> None:
        """Write the counts still held back (logging calls this at shutdown)."""
        self.acquire()
        try:
            while self._seen:
                self._summarise(self._seen.popitem(last=False)[1])
        finally:
            self.release()
        super().close()

    def _summarise(self, repeats: _Repeats) -> None:
        if not repeats.count:
            return
        summary = logging.makeLogRecord(repeats.line)
        summary.msg = f"{repeats.line['msg']} … repeated {repeats.count} times in " \
                      f"{round(repeats.last - repeats.first)} s"
        summary.created = time.time()
        summary.msecs = summary.created % 1 * 1000
        self.target.handle(summary)


def configure_logging(settings: Settings) -> None:
    """Send log records to stderr at the configured level and format, repeats summarised."""
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter() if settings.logging_format == "json"
                        else logging.Formatter(TEXT_FORMAT, "%d %b %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [RepeatSummaryHandler(stream)]
    root.setLevel(LEVELS[settings.logging_level])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
