"""Messages: ids, cheap cloning, and Node-RED's message-property paths.

A message is a plain ``dict`` (``_msgid``, ``topic``, ``payload``, anything else).
Cloning follows Node-RED's rule (a deep copy for every wire after the first) but
copies only what can be mutated: dicts, lists, sets and bytearrays are copied,
immutable values (str, bytes, numbers, tuples of immutables) are shared.

Property paths (``payload.readings[0]``, ``a["b.c"]``) are the only path code in
flowrt. Two families, as in Node-RED's ``RED.util``:

- :func:`get_property`, :func:`has_property`, :func:`set_property`,
  :func:`delete_property` work on any object (context stores use them); a path is
  taken as written, and ``set_property`` replaces whatever is in its way.
- :func:`get_message_property` and :func:`set_message_property` are Node-RED's
  ``getMessageProperty``/``setMessageProperty``: a leading ``msg.`` is allowed, and
  setting refuses (returns False) to create a property under a string or number.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flowrt.jsvalue import MISSING

Message = dict[str, Any]

_ID_PREFIX = os.urandom(4).hex()
_id_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_msgid() -> str:
    """A 16-hex-character message id, unique within this process (like Node-RED's)."""
    return f"{_ID_PREFIX}{next(_id_counter) & 0xFFFFFFFF:08x}"


IMMUTABLE_TYPES = (str, int, float, bool, bytes, type(None), complex, frozenset)
"""Types whose values are shared, never copied, by :func:`clone_value`."""


def clone_value(value: Any) -> Any:
    """Deep-copy the mutable parts of a JSON-like value; share immutable ones.

    Any depth can be copied, and a value that contains itself is copied with the
    same shape (as lodash's ``cloneDeep`` does in Node-RED).
    """
    try:
        return _clone_recursively(value)
    except RecursionError:
        # Nested deeper than the stack allows (a message from the network can be), or
        # cyclic. Rare, so the common case pays nothing for it but this ``try``.
        return _clone_iteratively(value)


def clone_message(msg: Message) -> Message:
    """A copy of ``msg`` that shares nothing mutable with it."""
    try:
        return _clone_recursively(msg)  # not via clone_value: one call less per message
    except RecursionError:
        return _clone_iteratively(msg)


def _clone_recursively(value: Any) -> Any:
    cls = type(value)
    if cls is dict:
        return {k: (v if type(v) in IMMUTABLE_TYPES else _clone_recursively(v))
                for k, v in value.items()}
    if cls is list:
        return [v if type(v) in IMMUTABLE_TYPES else _clone_recursively(v) for v in value]
    if cls in IMMUTABLE_TYPES:
        return value
    if cls is bytearray:
        return bytearray(value)
    if cls is tuple:
        return tuple(_clone_recursively(v) for v in value)
    if cls is set:
        return set(value)  # members are hashable, so immutable (or objects we share)
    if isinstance(value, dict):
        return {k: _clone_recursively(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone_recursively(v) for v in value]
    # Other objects (sockets, HTTP requests, futures...) are shared, as Node-RED does
    # for msg.req/msg.res: copying them would be wrong, not just slow.
    return value


def _clone_iteratively(value: Any) -> Any:
    """:func:`clone_value` without recursion: an explicit stack (depth costs heap, not
    stack), and a memo of the containers already copied, so that references shared
    within the value stay shared and a cycle is copied as a cycle."""
    memo: dict[int, Any] = {}
    root: list[Any] = [value]
    # Each task: replace holder[key] (still the original) by its copy. A tuple is
    # built after its items, so its task carries the list the items are copied into.
    tasks: list[tuple[Any, Any, list[Any] | None]] = [(root, 0, None)]
    while tasks:
        holder, key, items = tasks.pop()
        original = holder[key]
        if items is not None:
            holder[key] = memo.setdefault(id(original), tuple(items))
            continue
        if type(original) in IMMUTABLE_TYPES:
            continue
        copy = memo.get(id(original))
        if copy is None:
            if isinstance(original, dict):
                copy = memo[id(original)] = dict(original)
                tasks.extend((copy, k, None) for k in copy)
            elif isinstance(original, list):
                copy = memo[id(original)] = list(original)
                tasks.extend((copy, i, None) for i in range(len(copy)))
            elif type(original) is tuple:
                copy = list(original)
                tasks.append((holder, key, copy))  # runs after the items' tasks
                tasks.extend((copy, i, None) for i in range(len(copy)))
                continue
            elif type(original) in (bytearray, set):
                copy = memo[id(original)] = type(original)(original)
            else:
                continue  # shared, as in _clone_recursively
        holder[key] = copy
    return root[0]


_TOKEN = re.compile(r"""\.?([^.\[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\['((?:[^'\\]|\\.)*)'\]""")


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str | int, ...]:
    """Split a property expression (``payload.readings[0]``, ``a["b.c"]``) into keys.

    Raises ValueError naming the expression when it cannot be parsed.
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"invalid property expression: {path!r}")
    keys: list[str | int] = []
    pos = 0
    path = path.strip()
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match or match.end() == pos:
            raise ValueError(f"invalid property expression {path!r} at character {pos}")
        name, index, dq, sq = match.groups()
        if index is not None:
            keys.append(int(index))
        else:
            keys.append(name if name is not None else (dq if dq is not None else sq))
        pos = match.end()
    return tuple(keys)


def field_names(paths: list[str]) -> list[str]:
    """Short names for values read from ``paths`` (output keys): each path's last
    segment, or the whole path where last segments collide."""
    last = [str(parse_path(p)[-1]) for p in paths]
    return [name if last.count(name) == 1 else path
            for name, path in zip(last, paths, strict=True)]


def strip_msg(path: str) -> str:
    """A property path without a leading ``msg.`` (Node-RED accepts both)."""
    return path[4:] if path.startswith("msg.") else path


def _walk(obj: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return obj


def get_property(obj: Any, path: str, default: Any = None) -> Any:
    """The value at ``path`` inside ``obj``, or ``default`` when any step is missing."""
    value = _walk(obj, parse_path(path))
    return default if value is MISSING else value


def get_message_property(msg: Any, path: str, default: Any = None) -> Any:
    """Node-RED's ``getMessageProperty``: :func:`get_property` with ``msg.`` allowed."""
    value = _walk(msg, parse_path(strip_msg(path)))
    return default if value is MISSING else value


def property_getter(path: str) -> Callable[..., Any]:
    """A compiled ``get_message_property``: ``getter(msg, default=None)``.

    For a node that reads the same path from every message: the path is parsed now
    (a bad one raises ValueError naming it), and a plain key costs one ``dict.get``.
    """
    keys = parse_path(strip_msg(path))
    if len(keys) == 1 and isinstance(keys[0], str):
        key = keys[0]
        return lambda msg, default=None: msg.get(key, default)

    def getter(msg: Any, default: Any = None) -> Any:
        value = _walk(msg, keys)
        return default if value is MISSING else value

    return getter


def has_property(obj: Any, path: str) -> bool:
    """True when every step of ``path`` exists in ``obj``."""
    return _walk(obj, parse_path(path)) is not MISSING


def set_property(obj: Any, path: str, value: Any) -> None:
    """Set the value at ``path``, creating intermediate dicts (or lists for ``[n]``)
    and replacing any value that cannot hold properties."""
    _set(obj, parse_path(path), value, replace=True)


def set_message_property(msg: Any, path: str, value: Any) -> bool:
    """Node-RED's ``setMessageProperty(msg, path, value, true)``.

    ``msg.`` is allowed. Missing parents are created (dicts, or lists before
    ``[n]``); returns False, changing nothing, when a parent is a value that cannot
    hold properties. :data:`~flowrt.jsvalue.MISSING` (undefined) deletes the property.
    Raises ValueError for a path that cannot be parsed, TypeError for a name used
    as an index into a list.
    """
    path = strip_msg(path)
    if value is MISSING:
        delete_property(msg, path)
        return True
    keys = parse_path(path)
    if len(keys) == 1 and type(msg) is dict:  # the common case, one call less per message
        msg[keys[0]] = value
        return True
    return _set(msg, keys, value, replace=False)


def _set(obj: Any, keys: tuple[str | int, ...], value: Any, replace: bool) -> bool:
    for key, next_key in itertools.pairwise(keys):
        child = _walk(obj, (key,))
        if not isinstance(child, dict | list):
            # Node-RED creates a parent that is missing (or an empty array slot) and
            # refuses one that is a value; set_property overwrites it.
            if not (replace or child is MISSING or (child is None and isinstance(obj, list))):
                return False
            child = [] if isinstance(next_key, int) else {}
            _assign(obj, key, child)
        obj = child
    if not isinstance(obj, dict | list):
        return False
    _assign(obj, keys[-1], value)
    return True


def _assign(obj: Any, key: str | int, value: Any) -> None:
    if isinstance(obj, list):
        if not isinstance(key, int):
            raise TypeError(f"cannot set property {key!r} of a list")
        obj.extend([None] * (key + 1 - len(obj)))
    obj[key] = value


def delete_property(obj: Any, path: str) -> None:
    """Remove the value at ``path`` if it exists."""
    keys = parse_path(path)
    parent = _walk(obj, keys[:-1])
    with contextlib.suppress(KeyError, IndexError, TypeError):
        del parent[keys[-1]]
