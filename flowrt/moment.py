"""``$moment`` for JSONata: the part of Moment.js (with moment-timezone) flows use.

Node-RED binds ``$moment`` to Moment.js in every JSONata expression; flows call it as
``$moment().tz("Europe/Paris").format("HH:mm")`` or ``$moment(payload.ts).add(2,
"hours").valueOf()``. flowrt gives a :class:`Moment` over Python's ``datetime`` and
``zoneinfo`` with these methods (each returns a new moment where Moment.js would
change the moment in place and return it, which reads the same in a chain):

- creating: ``$moment()`` (now, on the runtime's clock, local time zone),
  ``$moment(ms)``, ``$moment(iso_text)`` (ISO 8601; without an offset it is local
  time), ``$moment(text, format)`` (tokens ``YYYY YY M MM MMM MMMM D DD Do H HH h hh
  m mm s ss S SS SSS A a Z ZZ X x``), ``$moment(moment)``;
- time zones: ``tz(name)``, ``utc()``, ``local()``, ``utcOffset()`` (minutes);
- output: ``format([fmt])`` (the tokens above plus ``d dd ddd dddd`` and ``[literal]``;
  default ``YYYY-MM-DDTHH:mm:ssZ``), ``toISOString()``, ``toJSON()``, ``valueOf()``,
  ``unix()``, ``isValid()``;
- arithmetic: ``add(n, unit)``, ``subtract(n, unit)`` (also ``add({"hours": 2})``),
  ``startOf(unit)``, ``endOf(unit)`` (``year month week isoWeek day date hour minute
  second``), ``diff(other[, unit[, float]])``, ``isBefore``, ``isAfter``, ``isSame``
  (with an optional unit), ``clone()``;
- parts: ``year() month() date() day() hour() minute() second() millisecond()`` (and
  the plural names), each also a setter with an argument; ``dayOfYear()``,
  ``isoWeekday()``, ``daysInMonth()``.

Not supported: locales other than English, ``fromNow``/``calendar``/``humanize``,
durations (``$moment.duration``), week-year tokens (``w W gggg``), ``toDate()``.
Calling one is the expression's error ("Attempted to invoke a non-function").
An unparseable date gives an invalid moment (``format()`` is ``"Invalid date"``), as
Moment.js does. The moment itself, put into a message, becomes its ISO text (what
``JSON.stringify`` makes of a moment).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonata import Jsonata

from flowrt.dateformat import format_date
from flowrt.jsvalue import iso_timestamp

_UNITS = {
    "y": "year", "year": "year", "years": "year",
    "M": "month", "month": "month", "months": "month",
    "Q": "quarter", "quarter": "quarter", "quarters": "quarter",
    "w": "week", "week": "week", "weeks": "week",
    "isoWeek": "isoWeek", "isoWeeks": "isoWeek",
    "d": "day", "day": "day", "days": "day", "date": "day", "dates": "day",
    "h": "hour", "hour": "hour", "hours": "hour",
    "m": "minute", "minute": "minute", "minutes": "minute",
    "s": "second", "second": "second", "seconds": "second",
    "ms": "millisecond", "millisecond": "millisecond", "milliseconds": "millisecond",
}
_FIXED_MS = {"week": 604_800_000, "day": 86_400_000, "hour": 3_600_000, "minute": 60_000,
             "second": 1000, "millisecond": 1}


def _unit(name: Any) -> str:
    unit = _UNITS.get(name) if isinstance(name, str) else None
    if unit is None:
        raise ValueError(f"$moment: unknown unit {name!r}")
    return unit


class Moment(dict):  # type: ignore[type-arg]
    """A point in time with a time zone (``when``), or an invalid date (``when`` None).

    A ``dict`` only so that JSONata's path steps (``$moment().format(...)``) find its
    methods through ``get``; it holds no items.
    """

    __slots__ = ("when",)

    def __init__(self, when: datetime | None) -> None:
        super().__init__()
        self.when = when

    def get(self, key: Any, default: Any = None) -> Any:
        """The method called ``key`` (JSONata looks methods up as properties)."""
        return _METHODS.get(key, default)

    def __repr__(self) -> str:
        return f"Moment({self.to_json()!r})"

    def to_json(self) -> str | None:
        """``toJSON()``: UTC ISO 8601 with milliseconds, None when invalid."""
        if self.when is None:
            return None
        return iso_timestamp(self.when.timestamp())


class _Method(Jsonata.JFunction):
    """A moment method: JSONata passes the moment it was looked up on as ``input``."""

    def __init__(self, name: str, impl: Callable[..., Any]) -> None:
        super().__init__(None, None)
        self.name = name
        self.impl = impl

    def call(self, input: Any, args: Any) -> Any:
        if not isinstance(input, Moment):
            raise ValueError(f"$moment: {self.name}() called without a moment")
        return self.impl(input, *(args or ()))


def _local(when: datetime) -> datetime:
    return when.astimezone()


def _from_ms(ms: float, zone: tzinfo | None = None) -> datetime:
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.astimezone(zone) if zone is not None else _local(when)


def moment_binding(now_ms: Callable[[], int]) -> Callable[..., Moment]:
    """The ``$moment`` function of an expression; ``now_ms`` is its clock."""
    def moment(value: Any = None, fmt: Any = None, *_: Any) -> Moment:
        if value is None:
            return Moment(_from_ms(now_ms()))
        return Moment(_parse(value, fmt))
    return moment


def _parse(value: Any, fmt: Any = None) -> datetime | None:
    if isinstance(value, Moment):
        return value.when
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_ms(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if not isinstance(value, str):
        return None
    if isinstance(fmt, str) and fmt:
        return _parse_format(value, fmt)
    text = value.strip()
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return when if when.tzinfo else when.astimezone()


_PARSE_TOKENS = re.compile(r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|HH|H|hh|h|mm|m|ss|s"
                           r"|SSS|SS|S|A|a|ZZ|Z|X|x")
_MONTHS = [calendar.month_name[i].lower() for i in range(1, 13)]
_TOKEN_PATTERNS = {
    "YYYY": r"(?P<year>\d{4})", "YY": r"(?P<yy>\d{2})",
    "MMMM": r"(?P<monthname>[A-Za-z]+)", "MMM": r"(?P<monthname>[A-Za-z]{3})",
    "MM": r"(?P<month>\d{1,2})", "M": r"(?P<month>\d{1,2})",
    "Do": r"(?P<day>\d{1,2})(?:st|nd|rd|th)", "DD": r"(?P<day>\d{1,2})", "D": r"(?P<day>\d{1,2})",
    "HH": r"(?P<hour>\d{1,2})", "H": r"(?P<hour>\d{1,2})",
    "hh": r"(?P<hour12>\d{1,2})", "h": r"(?P<hour12>\d{1,2})",
    "mm": r"(?P<minute>\d{1,2})", "m": r"(?P<minute>\d{1,2})",
    "ss": r"(?P<second>\d{1,2})", "s": r"(?P<second>\d{1,2})",
    "SSS": r"(?P<ms>\d{1,3})", "SS": r"(?P<ms>\d{1,2})", "S": r"(?P<ms>\d)",
    "A": r"(?P<ampm>[AaPp][Mm])", "a": r"(?P<ampm>[AaPp][Mm])",
    "ZZ": r"(?P<offset>Z|[+-]\d{2}:?\d{2})", "Z": r"(?P<offset>Z|[+-]\d{2}:?\d{2})",
    "X": r"(?P<unix>-?\d+(?:\.\d+)?)", "x": r"(?P<unixms>-?\d+)",
}


def _parse_format(text: str, fmt: str) -> datetime | None:
    """Moment's forgiving parse of ``text`` by the tokens of ``fmt``."""
    pattern, pos, seen = [], 0, set()
    for match in _PARSE_TOKENS.finditer(fmt):
        pattern.append(_literal(fmt[pos:match.start()]))
        token = match.group(0)
        piece = re.escape(token[1:-1]) if token[0] == "[" else _TOKEN_PATTERNS[token]
        name = re.search(r"\?P<(\w+)>", piece)
        if name and name.group(1) in seen:  # a repeated token: match it, keep the first
            piece = re.sub(r"\?P<\w+>", "?:", piece)
        elif name:
            seen.add(name.group(1))
        pattern.append(piece)
        pos = match.end()
    pattern.append(_literal(fmt[pos:]))
    found = re.match("".join(pattern), text.strip())
    if found is None:
        return None
    parts = {k: v for k, v in found.groupdict().items() if v is not None}
    if "unixms" in parts:
        return _from_ms(int(parts["unixms"]))
    if "unix" in parts:
        return _from_ms(float(parts["unix"]) * 1000)
    try:
        return _assemble(parts)
    except ValueError:
        return None


def _literal(text: str) -> str:
    # Moment matches separators loosely: any run of non-alphanumerics stands for another.
    return re.sub(r"[^0-9A-Za-z]+", r"[^0-9A-Za-z]*", re.escape(text).replace("\\", "")) \
        if text else ""


def _assemble(parts: dict[str, str]) -> datetime:
    now = datetime.now()
    year = int(parts["year"]) if "year" in parts else (
        2000 + int(parts["yy"]) if int(parts.get("yy", "99")) <= 68 else
        1900 + int(parts["yy"])) if "yy" in parts else now.year
    month = int(parts.get("month", 0)) or (
        _MONTHS.index(next(m for m in _MONTHS if m.startswith(parts["monthname"].lower())))
        + 1 if "monthname" in parts else 1)
    hour = int(parts.get("hour", 0))
    if "hour12" in parts:
        hour = int(parts["hour12"]) % 12
        if parts.get("ampm", "am").lower() == "pm":
            hour += 12
    ms = parts.get("ms", "0")
    micro = int(ms.ljust(3, "0")) * 1000
    when = datetime(year, month, int(parts.get("day", 1)), hour, int(parts.get("minute", 0)),
                    int(parts.get("second", 0)), micro)
    offset = parts.get("offset")
    if offset is None:
        return when.astimezone()
    if offset == "Z":
        return when.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.replace(tzinfo=_fixed_zone(sign * delta))


def _fixed_zone(delta: timedelta) -> tzinfo:
    return timezone(delta)


# ------------------------------------------------------------------ methods
def _valid(m: Moment) -> datetime:
    if m.when is None:
        raise ValueError("$moment: the date is invalid")
    return m.when


def _format(m: Moment, fmt: Any = None) -> str:
    if m.when is None:
        return "Invalid date"
    return format_date(fmt if isinstance(fmt, str) and fmt else "YYYY-MM-DDTHH:mm:ssZ", m.when)


def _tz(m: Moment, name: Any = None) -> Any:
    if name is None:
        return getattr(_valid(m).tzinfo, "key", None)
    try:
        zone = ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"$moment: unknown time zone {name!r}") from None
    return Moment(_valid(m).astimezone(zone))


def _shift(m: Moment, amount: Any, unit: Any = "ms", sign: int = 1) -> Moment:
    when = _valid(m)
    if isinstance(amount, dict):
        for key, value in amount.items():
            when = _shift(Moment(when), value, key, sign).when  # type: ignore[assignment]
        return Moment(when)
    if isinstance(amount, str):
        amount = float(amount)
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        raise ValueError(f"$moment: cannot add {amount!r}")
    name = _unit(unit)
    if name in ("year", "quarter", "month"):
        months = int(amount) * {"year": 12, "quarter": 3, "month": 1}[name] * sign
        return Moment(_add_months(when, months))
    if name in ("week", "day"):
        # Calendar days: the wall-clock time stays across a daylight-saving change.
        days = amount * (7 if name == "week" else 1) * sign
        local = when.replace(tzinfo=None) + timedelta(days=days)
        return Moment(_in_zone(local, when.tzinfo))
    return Moment(when + timedelta(milliseconds=amount * _FIXED_MS[name] * sign))


def _in_zone(local: datetime, zone: tzinfo | None) -> datetime:
    if zone is None or not hasattr(zone, "key"):
        return local.replace(tzinfo=zone) if zone else local.astimezone()
    return local.replace(tzinfo=zone)


def _add_months(when: datetime, months: int) -> datetime:
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def _start_of(when: datetime, unit: str) -> datetime:
    if unit == "year":
        return when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "quarter":
        return when.replace(month=(when.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0,
                            second=0, microsecond=0)
    if unit == "month":
        return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit in ("week", "isoWeek"):
        back = (when.weekday() + 1) % 7 if unit == "week" else when.weekday()
        day = when.replace(hour=0, minute=0, second=0, microsecond=0)
        return _in_zone(day.replace(tzinfo=None) - timedelta(days=back), when.tzinfo)
    if unit == "day":
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    if unit == "minute":
        return when.replace(second=0, microsecond=0)
    if unit == "second":
        return when.replace(microsecond=0)
    return when


def _start(m: Moment, unit: Any = None) -> Moment:
    return Moment(_start_of(_valid(m), _unit(unit)))


def _end(m: Moment, unit: Any = None) -> Moment:
    name = _unit(unit)
    start = Moment(_start_of(_valid(m), name))
    following = _shift(start, 1, "week" if name == "isoWeek" else name)
    return Moment(_valid(following) - timedelta(milliseconds=1))


def _ms(m: Moment) -> int:
    return round(_valid(m).timestamp() * 1000)


def _other(value: Any) -> datetime:
    when = _parse(value)
    if when is None:
        raise ValueError(f"$moment: not a date: {value!r}")
    return when


def _compare(op: Callable[[float, float], bool]) -> Callable[..., bool]:
    def compare(m: Moment, other: Any = None, unit: Any = None) -> bool:
        if m.when is None:
            return False
        this, that = m.when, _other(other) if other is not None else m.when
        if unit is not None:
            name = _unit(unit)
            this = _start_of(this, name)
            that = _start_of(that.astimezone(this.tzinfo), name)
        return op(this.timestamp(), that.timestamp())
    return compare


def _diff(m: Moment, other: Any = None, unit: Any = None, precise: Any = False) -> float:
    this, that = _valid(m), _other(other)
    name = _unit(unit) if unit is not None else "millisecond"
    if name in ("year", "quarter", "month"):
        months = (this.year - that.year) * 12 + this.month - that.month
        anchor = _add_months(that, months)
        span = (this - anchor).total_seconds()
        step = _add_months(that, months + (1 if span >= 0 else -1))
        months_float = months + span / abs((step - anchor).total_seconds() or 1)
        result = months_float / {"year": 12, "quarter": 3, "month": 1}[name]
    else:
        result = (this - that).total_seconds() * 1000 / _FIXED_MS[name]
    if precise is True:
        return result
    return int(result)  # Moment truncates towards zero


def _part(getter: Callable[[datetime], int], field: str) -> Callable[..., Any]:
    def part(m: Moment, value: Any = None) -> Any:
        when = _valid(m)
        if value is None:
            return getter(when)
        number = int(value)
        if field == "month":
            return Moment(_add_months(when, number - (when.month - 1)))
        if field == "millisecond":
            return Moment(when.replace(microsecond=number * 1000))
        if field == "weekday":
            return Moment(when + timedelta(days=number - getter(when)))
        if field == "year":
            return Moment(when.replace(year=number))
        if field == "day":
            return Moment(when.replace(day=number))
        if field == "hour":
            return Moment(when.replace(hour=number))
        if field == "minute":
            return Moment(when.replace(minute=number))
        return Moment(when.replace(second=number))
    return part


_METHOD_IMPLS: dict[str, Callable[..., Any]] = {
    "format": _format,
    "tz": _tz,
    "utc": lambda m: Moment(_valid(m).astimezone(UTC)),
    "local": lambda m: Moment(_local(_valid(m))),
    "utcOffset": lambda m: int(_valid(m).utcoffset().total_seconds() // 60),  # type: ignore[union-attr]
    "toISOString": lambda m: m.to_json(),
    "toJSON": lambda m: m.to_json(),
    "valueOf": _ms,
    "unix": lambda m: _ms(m) // 1000,
    "isValid": lambda m: m.when is not None,
    "clone": lambda m: Moment(m.when),
    "add": lambda m, n=0, unit="ms": _shift(m, n, unit),
    "subtract": lambda m, n=0, unit="ms": _shift(m, n, unit, -1),
    "startOf": _start,
    "endOf": _end,
    "diff": _diff,
    "isBefore": _compare(lambda a, b: a < b),
    "isAfter": _compare(lambda a, b: a > b),
    "isSame": _compare(lambda a, b: a == b),
    "isSameOrBefore": _compare(lambda a, b: a <= b),
    "isSameOrAfter": _compare(lambda a, b: a >= b),
    "dayOfYear": lambda m: _valid(m).timetuple().tm_yday,
    "isoWeekday": lambda m: _valid(m).isoweekday(),
    "daysInMonth": lambda m: calendar.monthrange(_valid(m).year, _valid(m).month)[1],
}
for _names, _getter, _field in (
        (("year", "years"), lambda w: w.year, "year"),
        (("month", "months"), lambda w: w.month - 1, "month"),
        (("date", "dates"), lambda w: w.day, "day"),
        (("day", "days"), lambda w: (w.weekday() + 1) % 7, "weekday"),
        (("hour", "hours"), lambda w: w.hour, "hour"),
        (("minute", "minutes"), lambda w: w.minute, "minute"),
        (("second", "seconds"), lambda w: w.second, "second"),
        (("millisecond", "milliseconds"), lambda w: w.microsecond // 1000, "millisecond")):
    for _name in _names:
        _METHOD_IMPLS[_name] = _part(_getter, _field)

_METHODS: dict[str, _Method] = {name: _Method(name, impl) for name, impl in _METHOD_IMPLS.items()}
