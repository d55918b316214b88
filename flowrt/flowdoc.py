"""Flow documents in Node-RED's format: parse, validate, save.

A flow document is a JSON array of node objects (tabs, subflow definitions,
groups, junctions, config nodes, flow nodes). flowrt keeps every object exactly
as given (unknown keys included) so a document round-trips unchanged; the
runtime reads from it but never rewrites it.

Validation reports every problem at once, each with the node id, type and JSON
path (:class:`flowrt.errors.Problem`): the document's shape (including how deep
each node nests), duplicate ids, unknown node types, and each node's config
against its type's JSON Schema.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson
from jsonschema import Draft202012Validator

from flowrt.errors import FlowValidationError, Problem
from flowrt.files import atomic_write


class NodeTypes(Protocol):
    """The node types a document may use (``flowrt.registry.Registry``)."""

    def __contains__(self, node_type: str) -> bool: ...

    def validator(self, node_type: str) -> Draft202012Validator: ...

# A whole-value environment reference, substituted when a node is created.
ENV_REFERENCE = re.compile(r"^\$\{(\S+)\}$")

# Types the runtime understands itself; they are not node plugins.
STRUCTURAL_TYPES = frozenset({"tab", "subflow", "group", "global-config", "unknown"})

DOCUMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "type": {"type": "string", "minLength": 1},
            "z": {"type": "string"},
            "name": {"type": "string"},
            "x": {"type": "number"},
            "y": {"type": "number"},
            "d": {"type": "boolean"},
            "g": {"type": "string"},
            "wires": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "credentials": {"type": ["object", "null"]},
        },
    },
}
_DOCUMENT_VALIDATOR = Draft202012Validator(DOCUMENT_SCHEMA)

MAX_NODE_DEPTH = 200
"""How deep a node object may nest (the node itself is level 1). orjson writes at
most 254 levels and the admin API serves nodes up to four levels further in
(``GET /flow/global``: subflows, nodes), so whatever validates can be saved and
served. ``parse`` refuses deeper documents too: orjson reads 1024 levels, and a
reader accepting what the writer refuses is how a flow got stuck unservable."""


def parse(text: str | bytes, source: str = "flow document") -> list[dict[str, Any]]:
    """Parse JSON text into a flow document, with an error that says where it broke."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FlowValidationError(
                [Problem(None, None, "$", f"byte {exc.object[exc.start]:#04x} at offset "
                                          f"{exc.start} is not UTF-8")],
                f"{source} is not UTF-8 text") from None
    elif text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return []
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FlowValidationError(
            [Problem(None, None, "$", f"invalid JSON: {exc}")], f"{source} is not valid JSON"
        ) from None
    check_shape(data, source)
    return data


def check_shape(data: Any, source: str = "flow document") -> None:
    """Raise FlowValidationError unless ``data`` is an array of node objects, none
    nested deeper than MAX_NODE_DEPTH."""
    problems = [
        Problem(_at(data, err.absolute_path, "id"), _at(data, err.absolute_path, "type"),
                _json_path(err.absolute_path), err.message)
        for err in _DOCUMENT_VALIDATOR.iter_errors(data)
    ]
    if not problems:
        for index, node in enumerate(data):
            deep_key = _too_deep(node)
            if deep_key is not None:
                problems.append(Problem(node["id"], node["type"], _json_path([index, deep_key]),
                                        f"nested more than {MAX_NODE_DEPTH} levels deep"))
    if problems:
        raise FlowValidationError(problems, f"{source} is not a valid flow document")


def load(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a flow file. A missing file is an error; an empty one is an empty flow."""
    path = Path(path)
    return parse(path.read_bytes(), source=str(path))


def dumps(flows: list[dict[str, Any]], pretty: bool = True) -> bytes:
    """Serialise a flow document (4-space indent when pretty, like Node-RED)."""
    if not pretty:
        return orjson.dumps(flows)
    import json

    return json.dumps(flows, indent=4, ensure_ascii=False).encode()


def save(path: str | os.PathLike[str], flows: list[dict[str, Any]], pretty: bool = True) -> None:
    """Atomically write a flow document, keeping a backup of the previous one."""
    atomic_write(path, dumps(flows, pretty), backup=True)


def is_config_node(node: dict[str, Any]) -> bool:
    """Node-RED's rule: a node without both ``x`` and ``y`` is a config node."""
    return "x" not in node or "y" not in node


def missing_types(flows: Iterable[dict[str, Any]], registry: NodeTypes) -> list[str]:
    """The node types a document uses that no plugin provides, sorted."""
    subflows = {n["id"] for n in flows if n.get("type") == "subflow"}
    missing = set()
    for node in flows:
        node_type = node.get("type", "")
        if node_type in STRUCTURAL_TYPES:
            continue
        if node_type.startswith("subflow:"):
            if node_type[8:] not in subflows:
                missing.add(node_type)
        elif node_type not in registry:
            missing.add(node_type)
    return sorted(missing)


def validate(flows: Any, registry: NodeTypes) -> list[Problem]:
    """Every problem in a flow document: shape, ids, types and node configs."""
    try:
        check_shape(flows)
    except FlowValidationError as exc:
        return exc.problems
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(flows):
        node_id, node_type = node["id"], node["type"]
        if node_id in seen:
            problems.append(Problem(node_id, node_type, f"$[{index}].id",
                                    f"duplicate id (first used at $[{seen[node_id]}])"))
        else:
            seen[node_id] = index
    subflows = {n["id"] for n in flows if n["type"] == "subflow"}
    for index, node in enumerate(flows):
        node_type = node["type"]
        if node_type in STRUCTURAL_TYPES:
            continue
        if node_type.startswith("subflow:"):
            if node_type[8:] not in subflows:
                problems.append(Problem(node["id"], node_type, f"$[{index}].type",
                                        f"subflow definition {node_type[8:]!r} not found"))
            continue
        if node_type not in registry:
            problems.append(Problem(node["id"], node_type, f"$[{index}].type",
                                    f"unknown node type {node_type!r}"))
            continue
        for err in registry.validator(node_type).iter_errors(node):
            if isinstance(err.instance, str) and ENV_REFERENCE.match(err.instance):
                continue  # "${NAME}" is resolved when the node starts
            problems.append(Problem(node["id"], node_type,
                                    f"$[{index}]" + _json_path(err.absolute_path)[1:],
                                    _short_message(err)))
    return problems


def check(flows: Any, registry: NodeTypes) -> list[dict[str, Any]]:
    """Validate and return the document, or raise FlowValidationError with every problem."""
    problems = validate(flows, registry)
    if problems:
        raise FlowValidationError(problems)
    return flows


def _too_deep(node: dict[str, Any]) -> str | None:
    """The key of ``node`` whose value nests beyond MAX_NODE_DEPTH levels, or None."""
    # Iterative: a recursive walk would itself fail on the documents it guards against.
    stack = [(value, 2, key) for key, value in node.items() if isinstance(value, (dict, list))]
    while stack:
        value, depth, key = stack.pop()
        if depth > MAX_NODE_DEPTH:
            return key
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1, key) for child in children
                     if isinstance(child, (dict, list)))
    return None


def _short_message(err: Any) -> str:
    if err.validator == "anyOf" and err.context:
        kinds = sorted({str(sub.schema.get("type", "value")) for sub in err.context})
        return f"{err.instance!r} is not a valid {' or '.join(kinds)}"
    return str(err.message)


def _json_path(parts: Iterable[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _at(data: Any, path: Iterable[Any], key: str) -> str | None:
    parts = list(path)
    if parts and isinstance(parts[0], int) and isinstance(data, list) and parts[0] < len(data):
        item = data[parts[0]]
        if isinstance(item, dict) and isinstance(item.get(key), str):
            return item[key]
    return None
