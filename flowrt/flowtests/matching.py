"""Comparing an expected message with the one that arrived, listing every difference.

Partial matching (the default) checks only the keys the test names, at every depth;
exact matching also reports keys the test did not name (top-level keys starting with
``_``, such as ``_msgid``, are never compared). A number matches within the step's
``tolerance``. A mapping whose keys all start with ``$`` is an operator:

* ``{$regex: "^sensors/"}`` — a string the regular expression finds a match in;
* ``{$approx: 21.5, $tolerance: 0.1}`` — a number that close (``$tolerance`` default:
  the step's);
* ``{$any: true}`` — present, any value; ``{$absent: true}`` — not present.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MISSING = object()
_OPERATORS = {"$regex", "$approx", "$tolerance", "$any", "$absent"}


def short(value: Any, limit: int = 80) -> str:
    """A value as a failure shows it: JSON where possible, cut at ``limit`` characters."""
    if value is _MISSING:
        return "nothing (no such key)"
    if isinstance(value, bytes | bytearray):
        text = f"<{len(value)} bytes: {bytes(value[:24]).hex()}>"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=repr, sort_keys=False)
        except ValueError:  # a circular structure
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_operator(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and k.startswith("$") for k in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def differences(expected: Any, got: Any, *, exact: bool = False, tolerance: float = 0.0,
                path: str = "") -> list[str]:
    """Every way ``got`` differs from ``expected``, one line each (``path: how``)."""
    where = path or "the message"
    if _is_operator(expected):
        return _operator(expected, got, tolerance, where)
    if got is _MISSING:
        return [f"{where}: expected {short(expected)}, got nothing (no such key)"]
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{where}: expected a mapping {short(expected)}, got {short(got)}"]
        found: list[str] = []
        for key, value in expected.items():
            found += differences(value, got.get(key, _MISSING), exact=exact,
                                 tolerance=tolerance, path=_join(path, key))
        if exact:
            extra = [k for k in got if k not in expected and not (not path and
                                                                   str(k).startswith("_"))]
            found += [f"{_join(path, k)}: not expected, got {short(got[k])}" for k in extra]
        return found
    if isinstance(expected, list):
        if not isinstance(got, list | tuple):
            return [f"{where}: expected a list {short(expected)}, got {short(got)}"]
        if len(expected) != len(got):
            return [f"{where}: expected {len(expected)} item(s), got {len(got)}: "
                    f"{short(list(got))}"]
        found = []
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            found += differences(want, have, exact=exact, tolerance=tolerance,
                                 path=f"{path}[{index}]")
        return found
    if _is_number(expected) and _is_number(got):
        if abs(expected - got) <= tolerance:
            return []
        within = f" (±{tolerance:g})" if tolerance else ""
        return [f"{where}: expected {short(expected)}{within}, got {short(got)}"]
    if type(expected) is type(got) and expected == got:
        return []
    if isinstance(expected, str) and isinstance(got, bytes | bytearray) and \
            bytes(got) == expected.encode():
        return []
    return [f"{where}: expected {short(expected)}, got {short(got)}"]


def _operator(expected: dict[str, Any], got: Any, tolerance: float, where: str) -> list[str]:
    unknown = set(expected) - _OPERATORS
    if unknown:
        return [f"{where}: unknown operator {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(_OPERATORS))})"]
    if expected.get("$absent") is True:
        return [] if got is _MISSING else [f"{where}: expected no such key, got {short(got)}"]
    if got is _MISSING:
        return [f"{where}: expected a value, got nothing (no such key)"]
    if "$regex" in expected:
        pattern = str(expected["$regex"])
        if not isinstance(got, str):
            return [f"{where}: expected text matching /{pattern}/, got {short(got)}"]
        try:
            matched = re.search(pattern, got) is not None
        except re.error as exc:
            return [f"{where}: $regex /{pattern}/ is not a regular expression: {exc}"]
        return [] if matched else [f"{where}: expected text matching /{pattern}/, "
                                   f"got {short(got)}"]
    if "$approx" in expected:
        want = expected["$approx"]
        allowed = expected.get("$tolerance", tolerance)
        if not _is_number(got) or not _is_number(want) or not _is_number(allowed):
            return [f"{where}: expected a number near {short(want)}, got {short(got)}"]
        if abs(got - want) <= allowed:
            return []
        return [f"{where}: expected {short(want)} (±{allowed:g}), got {short(got)}"]
    return []  # $any


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
