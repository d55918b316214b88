"""Helpers for writing node config schemas (JSON Schema draft 2020-12).

Node-RED's editor stores many numbers and booleans as strings (``"qos": "2"``,
``"gap": "0.5"``, ``"console": "false"``), so a compatible schema accepts both
forms; nodes then read values through :func:`as_number` and :func:`as_bool`.

A text field holding code says so with ``x-format``: the editor shows it in its code
editor, highlighted as that language (``javascript``, ``python``, ``json``,
``jsonata``; other names are plain text with line numbers). ``x-format-by`` names the
key whose value is the language instead (the function node's ``language``), with
``x-format`` the language while that key is unset.

Besides JSON Schema, the editor reads a few ``x-`` annotations (validation ignores
them): ``x-labels`` (the words shown for enum values, see :func:`enum`), ``x-show-if``
(show a field only when other fields have given values, see :func:`show_if`; ``x-hide-if``
the other way round), ``x-title-by`` (a label that follows another field's value:
``{"key": "t", "titles": {"set": "to the value", ...}}``), ``x-section`` (a heading the
field is grouped under),
``x-hidden`` (kept and validated, never shown as a field), ``x-required`` (a
config-node reference the editor flags while empty), ``x-kind``, ``x-node-type``,
``x-type-key``, ``x-types`` and ``x-widget`` (``"node-list"``: node ids of the
same flow, ticked in a list, as the catch / status / complete scope; ``"row"``: an
object's fields on one line, as a switch or change rule, see :func:`one_line`).
"""

from __future__ import annotations

from typing import Any

QOS_LABELS = {"0": "0 - at most once", "1": "1 - at least once", "2": "2 - exactly once"}
"""The words of MQTT's QoS levels, for :func:`enum`'s ``labels``."""

_NUMERIC_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def number(default: Any = None, *, minimum: float | None = None, title: str = "",
           allow_empty: bool = False, **extra: Any) -> dict[str, Any]:
    """A number, also accepted as numeric text (``"0.5"``)."""
    text: dict[str, Any] = {"type": "string", "pattern": _NUMERIC_TEXT}
    if allow_empty:
        text["pattern"] = f"({_NUMERIC_TEXT})|^$"
    num: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        num["minimum"] = minimum
    schema: dict[str, Any] = {"anyOf": [num, text], "x-kind": "number"}
    return _finish(schema, default, title, extra)


def integer(default: Any = None, *, minimum: int | None = None, title: str = "",
            **extra: Any) -> dict[str, Any]:
    """An integer, also accepted as digits in a string (``"1883"``)."""
    num: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        num["minimum"] = minimum
    schema = {"anyOf": [num, {"type": "string", "pattern": r"^\s*[-+]?\d*\s*$"}],
              "x-kind": "integer"}
    return _finish(schema, default, title, extra)


def boolean(default: Any = None, *, title: str = "", **extra: Any) -> dict[str, Any]:
    """A boolean, also accepted as ``"true"``/``"false"``."""
    schema = {"anyOf": [{"type": "boolean"}, {"enum": ["true", "false", ""]}],
              "x-kind": "boolean"}
    return _finish(schema, default, title, extra)


def string(default: Any = None, *, title: str = "", **extra: Any) -> dict[str, Any]:
    """Free text."""
    return _finish({"type": "string"}, default, title, extra)


def enum(values: list[Any], default: Any = None, *, title: str = "",
         labels: dict[Any, str] | None = None, **extra: Any) -> dict[str, Any]:
    """One of a fixed list of values; ``labels`` gives the words the editor shows for them.

    ``labels`` maps a value to its words (``{"0": "0 - at most once"}``). It lands in the
    schema as ``x-labels``, keyed by the value's text (:func:`value_text`), so a value
    accepted both as text and as a number (``"1"`` and ``1``) is one choice in the editor.
    """
    schema: dict[str, Any] = {"enum": list(values)}
    if labels:
        schema["x-labels"] = {value_text(value): words for value, words in labels.items()}
    return _finish(schema, default, title, extra)


def value_text(value: Any) -> str:
    """A value as the editor writes it for comparing (``True`` → ``"true"``, 1 → ``"1"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def section(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """``properties`` grouped under the heading ``name`` in the editor (``x-section``)."""
    return {key: {**prop, "x-section": name} for key, prop in properties.items()}


def one_line(schema: dict[str, Any], *labelled: str) -> dict[str, Any]:
    """An object ``schema`` whose fields the editor lays out on one line (``x-widget: row``),
    as Node-RED's rule rows: ``== [string] a → 1``. Field titles are not shown there
    (they stay the fields' accessible names) except those of the keys ``labelled``, which
    read as words between the fields (``and``, ``to the value``) (``x-row-labels``).
    """
    schema["x-widget"] = "row"
    if labelled:
        schema["x-row-labels"] = list(labelled)
    return schema


def show_if(schema: dict[str, Any], **conditions: Any) -> dict[str, Any]:
    """``schema`` shown by the editor only when each condition holds (``x-show-if``).

    A condition is ``key=value`` or ``key=[value, ...]``; ``key`` names another field of
    the same node, or ``<ref>.<key>`` a field of the config node that field ``<ref>``
    refers to (``show_if(s, **{"broker.protocolVersion": "5"})``). Values compare by their
    text, so ``"5"`` and ``5`` match alike. A hidden field keeps its value.
    """
    schema["x-show-if"] = {
        key: [value_text(v) for v in (wanted if isinstance(wanted, list) else [wanted])]
        for key, wanted in conditions.items()}
    return schema


def node_ref(node_type: str, *, title: str = "", required: bool = False,
             **extra: Any) -> dict[str, Any]:
    """The id of a config node of ``node_type`` (the editor offers a picker).

    ``required``: the editor flags the node until one is chosen (``x-required``); the
    node's own ``__init__`` refuses to run without it.
    """
    schema: dict[str, Any] = {"type": "string", "x-node-type": node_type}
    if required:
        schema["x-required"] = True
    return _finish(schema, "" if not required else None, title, extra)


def typed(default: Any = None, *, types: list[str] | None = None, title: str = "",
          type_key: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Node-RED typed-input value; its type lives in a sibling key: ``type_key``
    (``op1type``), else ``<key>Type``. ``types`` limits the types offered."""
    schema: dict[str, Any] = {"x-kind": "typed"}
    if types:
        schema["x-types"] = types
    if type_key:
        schema["x-type-key"] = type_key
    return _finish(schema, default, title, extra)


def retitle(properties: dict[str, Any], **titles: str) -> dict[str, Any]:
    """A copy of schema ``properties`` with the given keys' titles replaced (for shared
    property sets such as a durable queue's, worded for one node type)."""
    return {key: {**prop, "title": titles[key]} if key in titles else prop
            for key, prop in properties.items()}


def _finish(schema: dict[str, Any], default: Any, title: str, extra: dict[str, Any]) -> dict:
    if default is not None:
        schema["default"] = default
    if title:
        schema["title"] = title
    schema.update(extra)
    return schema


def as_number(value: Any, default: float | None = None) -> float | None:
    """``value`` as a float (``"0.5"`` → 0.5); ``default`` when empty or not numeric."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return default
    return default


def as_int(value: Any, default: int | None = None) -> int | None:
    """``value`` as an int (``"1883"`` → 1883); ``default`` when empty or not numeric."""
    number_value = as_number(value)
    return default if number_value is None else int(number_value)


def as_bool(value: Any, default: bool = False) -> bool:
    """``value`` as a bool (``"true"`` → True, ``"false"`` → False)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip().lower() == "true":
            return True
        if value.strip().lower() in ("false", ""):
            return False if value.strip() else default
    if value is None:
        return default
    return bool(value)


def defaults_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``default`` of every top-level property of an object schema."""
    return {
        key: prop["default"]
        for key, prop in schema.get("properties", {}).items()
        if isinstance(prop, dict) and "default" in prop
    }
