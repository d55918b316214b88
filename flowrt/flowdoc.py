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

from flowrt.errors import FlowValidationError, Problem
from flowrt.files import atomic_write
from flowrt.nodered_types import is_core_type
from flowrt.schema_check import SchemaValidator


class NodeTypes(Protocol):
    """The node types a document may use (``flowrt.registry.Registry``)."""

    def __contains__(self, node_type: str) -> bool: ...

    def validator(self, node_type: str) -> SchemaValidator: ...

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
            # Node-RED takes any empty value (0, "", null, false) for "no tab": a
            # config node exported with "z": 0 is global.
            "z": {"anyOf": [{"type": "string"}, {"type": "null"}, {"enum": [0, False]}]},
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
_NODE_VALIDATOR = SchemaValidator(DOCUMENT_SCHEMA["items"])

MAX_NODE_DEPTH = 200
"""How deep a node object may nest (the node itself is level 1). orjson writes at
most 254 levels and the admin API serves nodes up to four levels further in
(``GET /flow/global``: subflows, nodes), so whatever validates can be saved and
served. ``parse`` refuses deeper documents too: orjson reads 1024 levels, and a
reader accepting what the writer refuses is how a flow got stuck unservable."""


def parse(text: str | bytes, source: str = "flow document") -> list[dict[str, Any]]:
    """Parse JSON text into a flow document, with an error that says where it broke
    (bad JSON, or every shape problem)."""
    data = parse_json(text, source)
    check_shape(data, source)
    return data  # type: ignore[no-any-return]


def parse_json(text: str | bytes, source: str = "flow document") -> Any:
    """Parse JSON text (UTF-8, a BOM allowed; empty text is an empty document), shape
    unchecked: ``validate`` then reports every shape problem with the rest."""
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
    return data


def check_shape(data: Any, source: str = "flow document") -> None:
    """Raise FlowValidationError unless ``data`` is an array of node objects, none
    nested deeper than MAX_NODE_DEPTH (every entry's problems at once)."""
    problems = shape_problems(data)
    if problems:
        raise FlowValidationError(problems, f"{source} is not a valid flow document")


def shape_problems(data: Any) -> list[Problem]:
    """Every shape problem of a document, entry by entry: one bad entry does not hide
    the problems of the others."""
    if not isinstance(data, list):
        return [Problem(None, None, "$", "a flow document is a JSON array of node objects, "
                                         f"not {_json_kind(data)}")]
    problems: list[Problem] = []
    for index, node in enumerate(data):
        problems.extend(_node_shape_problems(index, node))
    return problems


def _node_shape_problems(index: int, node: Any) -> list[Problem]:
    if not isinstance(node, dict):
        return [Problem(None, None, f"$[{index}]",
                        f"{_json_kind(node)} where a node object was expected")]
    node_id = node["id"] if isinstance(node.get("id"), str) else None
    node_type = node["type"] if isinstance(node.get("type"), str) else None
    problems = [Problem(node_id, node_type, f"$[{index}]" + _json_path(err.absolute_path)[1:],
                        _shape_message(err))
                for err in _NODE_VALIDATOR.iter_errors(node)]
    if not problems:
        deep_key = _too_deep(node)
        if deep_key is not None:
            problems.append(Problem(node_id, node_type, _json_path([index, deep_key]),
                                    f"nested more than {MAX_NODE_DEPTH} levels deep"))
    return problems


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


def unknown_type_message(node_type: str) -> str:
    """Why a node type is unknown, worded for the user: a Node-RED core node that is not
    loaded (flowrt has them all), a subflow whose definition is missing, or a contrib node."""
    if is_core_type(node_type):
        return (f"Node-RED core node {node_type!r} is not loaded (left out by the "
                f"nodesExcludes setting, or its module failed to load: see `flowrt nodes`)")
    if node_type.startswith("subflow:"):
        return f"subflow definition {node_type[8:]!r} not found"
    return (f"unknown node type {node_type!r}: a contrib node that is not installed "
            f"(install a flowrt plugin that provides it, or remove the node)")


def validate(flows: Any, registry: NodeTypes) -> list[Problem]:
    """Every problem in a flow document: shape, ids, types and node configs.

    An entry whose shape is wrong (not an object, no string ``id``...) is reported
    and left out of the other checks; every other entry is still checked. The
    problems come in document order.
    """
    document, configs = validate_parts(flows, registry)
    return sorted([*document, *configs], key=document_position)


def validate_parts(flows: Any, registry: NodeTypes) -> tuple[list[Problem], list[Problem]]:
    """``validate``'s problems in two lists: the document's (shape, duplicate ids,
    unknown types: nothing can run it) and the node configs' (a value its type's
    schema refuses: that node cannot run)."""
    if not isinstance(flows, list):
        return shape_problems(flows), []
    document: list[Problem] = []
    configs: list[Problem] = []
    sound: list[tuple[int, dict[str, Any]]] = []
    for index, node in enumerate(flows):
        found = _node_shape_problems(index, node)
        document.extend(found)
        if not found:
            sound.append((index, node))
    seen: dict[str, int] = {}
    for index, node in sound:
        node_id, node_type = node["id"], node["type"]
        if node_id in seen:
            document.append(Problem(node_id, node_type, f"$[{index}].id",
                                    f"duplicate id (first used at $[{seen[node_id]}])"))
        else:
            seen[node_id] = index
    subflows = {node["id"] for _, node in sound if node["type"] == "subflow"}
    for index, node in sound:
        node_type = node["type"]
        if node_type in STRUCTURAL_TYPES:
            continue
        if node_type.startswith("subflow:") and node_type[8:] in subflows:
            continue
        if node_type.startswith("subflow:") or node_type not in registry:
            document.append(Problem(node["id"], node_type, f"$[{index}].type",
                                    unknown_type_message(node_type)))
            continue
        for err in registry.validator(node_type).iter_errors(node):
            if isinstance(err.instance, str) and ENV_REFERENCE.match(err.instance):
                continue  # "${NAME}" is resolved when the node starts
            configs.append(Problem(node["id"], node_type,
                                   f"$[{index}]" + _json_path(err.absolute_path)[1:],
                                   _short_message(err)))
    return document, configs


def document_position(problem: Problem) -> int:
    """The index of the entry a problem is about (``$[3].wires`` → 3; -1 for ``$``)."""
    match = re.match(r"\$\[(\d+)\]", problem.path)
    return int(match.group(1)) if match else -1


def constructible(flows: list[Any], registry: NodeTypes) -> list[dict[str, Any]]:
    """The part of a document its nodes can be created from (for a dry run after
    ``validate``): the entries with a sound shape whose type is known (a subflow
    instance needs its definition)."""
    sound = [node for index, node in enumerate(flows) if not _node_shape_problems(index, node)]
    subflows = {node["id"] for node in sound if node["type"] == "subflow"}
    return [node for node in sound
            if node["type"] in STRUCTURAL_TYPES or node["type"] in registry
            or (node["type"].startswith("subflow:") and node["type"][8:] in subflows)]


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


def _shape_message(err: Any) -> str:
    if list(err.absolute_path) == ["z"]:
        return f"{err.instance!r} is not a tab or subflow id (a string), nor empty"
    return str(err.message)


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words (for "not an object" messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _short_message(err: Any) -> str:
    if err.validator == "anyOf" and err.context:
        kinds = sorted({str(sub.schema.get("type", "value")) for sub in err.context})
        return f"{err.instance!r} is not a valid {' or '.join(kinds)}"
    return str(err.message)


def _json_path(parts: Iterable[Any]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
