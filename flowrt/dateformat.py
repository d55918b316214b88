"""Dates formatted with moment.js format strings (``YYYY-MM-DD HH:mm``), as Node-RED's
``date`` typed input and ``$moment().format()`` write them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

__all__ = ["format_date"]


_MOMENT_TOKEN = re.compile(
    r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s"
    r"|SSS|SS|S|A|a|ZZ|Z|X|x")


def _offset(when: datetime) -> str:
    return when.strftime("%z") or "+0000"


# Each token's text, computed only for the tokens a format uses.
_MOMENT_VALUES: dict[str, Callable[[datetime], str]] = {
    "YYYY": lambda w: f"{w.year:04d}", "YY": lambda w: f"{w.year % 100:02d}",
    "MMMM": lambda w: w.strftime("%B"), "MMM": lambda w: w.strftime("%b"),
    "MM": lambda w: f"{w.month:02d}", "M": lambda w: str(w.month),
    "Do": lambda w: _ordinal(w.day), "DD": lambda w: f"{w.day:02d}", "D": lambda w: str(w.day),
    "dddd": lambda w: w.strftime("%A"), "ddd": lambda w: w.strftime("%a"),
    "dd": lambda w: w.strftime("%a")[:2], "d": lambda w: str((w.weekday() + 1) % 7),
    "HH": lambda w: f"{w.hour:02d}", "H": lambda w: str(w.hour),
    "hh": lambda w: f"{w.hour % 12 or 12:02d}", "h": lambda w: str(w.hour % 12 or 12),
    "mm": lambda w: f"{w.minute:02d}", "m": lambda w: str(w.minute),
    "ss": lambda w: f"{w.second:02d}", "s": lambda w: str(w.second),
    "SSS": lambda w: f"{w.microsecond // 1000:03d}",
    "SS": lambda w: f"{w.microsecond // 10000:02d}", "S": lambda w: str(w.microsecond // 100000),
    "A": lambda w: "AM" if w.hour < 12 else "PM", "a": lambda w: "am" if w.hour < 12 else "pm",
    "ZZ": _offset, "Z": lambda w: f"{_offset(w)[:3]}:{_offset(w)[3:]}",
    "X": lambda w: str(int(w.timestamp())), "x": lambda w: str(int(w.timestamp() * 1000)),
}


def format_date(fmt: str, when: datetime) -> str:
    """Format a datetime with a moment.js format string (the tokens people use)."""
    def token(match: re.Match[str]) -> str:
        t = match.group(0)
        return t[1:-1] if t[0] == "[" else _MOMENT_VALUES[t](when)

    return _MOMENT_TOKEN.sub(token, fmt)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
