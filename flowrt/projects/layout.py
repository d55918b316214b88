"""The project's files: a flow document split into one file per tab and per subflow.

``split(flows)`` gives the files (path → bytes), ``join(files)`` the document back,
exactly: the same node objects in the same order (``join(split(f)) == f``)::

    index.json              order of the document, then the nodes on no tab/subflow
    tabs/<tab id>.json      the tab node, then the nodes whose ``z`` is that tab
    subflows/<id>.json      the subflow definition, then its nodes

Every file is a JSON array with one block per node; a node's top-level keys are one
per line in a fixed order (``id``, ``type``, ``z``, ``g``, ``name``, ``label``, then the others
sorted, then ``x``, ``y``, ``w``, ``h``, ``wires``), each value compact JSON on that
line with its own keys sorted. So a property edit is a one-line diff and a new node a
new block, whatever tool wrote the flows.

The document's order is kept in ``index.json`` as *runs*: ``[file, start]`` says "the
next nodes of the document are those of ``file`` from position ``start`` up to where
the file's next run starts". Node-RED writes the tabs first, then each tab's nodes, so
a tab file has two runs starting at 0 and 1, and adding or removing nodes leaves the
index unchanged. A file under ``tabs/`` or ``subflows/`` that the index does not name
is not part of the flows (it is removed at the next save).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from flowrt.errors import FlowValidationError, Problem

INDEX = "index.json"
FORMAT = "flowrt-project/1"
FLOW_DIRS = ("tabs", "subflows")
"""The directories flowrt owns: every file in them is written by ``split``."""
_FIRST_KEYS = ("id", "type", "z", "g", "name", "label")
_LAST_KEYS = ("x", "y", "w", "h", "wires")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")

Flows = list[dict[str, Any]]


def split(flows: Flows) -> dict[str, bytes]:
    """The project's files for ``flows`` (a document whose entries are node objects)."""
    homes = _homes(flows)
    members: dict[str, list[dict[str, Any]]] = {}
    order: list[list[Any]] = []
    current = None
    for node in flows:
        path = _file_of(node, homes)
        nodes = members.setdefault(path, [])
        if path != current:
            order.append([path, len(nodes)])
            current = path
        nodes.append(node)
    global_nodes = members.pop(INDEX, [])
    files = {path: _array(nodes) for path, nodes in members.items()}
    runs = ",\n".join("    " + orjson.dumps(run).decode() for run in order)
    files[INDEX] = (f'{{\n  "format": "{FORMAT}",\n  "order": [\n{runs}\n  ],\n'
                    f'  "nodes": {_array(global_nodes, indent="  ").decode().rstrip()}\n}}\n'
                    ).encode()
    return files


def join(files: Mapping[str, bytes]) -> Flows:
    """The flow document of a project's files (FlowValidationError if they do not make one)."""
    index = _parse(files, INDEX)
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise _error(INDEX, f"not a flowrt project index (no \"format\": \"{FORMAT}\")")
    order, global_nodes = index.get("order"), index.get("nodes", [])
    if not isinstance(order, list) or not all(
            isinstance(run, list) and len(run) == 2 and isinstance(run[0], str)
            and isinstance(run[1], int) for run in order):
        raise _error(INDEX, '"order" must be a list of [file, start] pairs')
    contents: dict[str, list[Any]] = {INDEX: _node_list(global_nodes, INDEX)}
    for path, _ in order:
        if path not in contents:
            if path not in files:
                raise _error(INDEX, f"its order names {path}, which does not exist")
            contents[path] = _node_list(_parse(files, path), path)
    starts: dict[str, list[int]] = {}
    for path, start in order:
        starts.setdefault(path, []).append(start)
    flows: Flows = []
    taken: dict[str, int] = {}
    for path, start in order:
        nodes = contents[path]
        later = [s for s in starts[path] if s > start]
        end = min(later) if later else len(nodes)
        if start != taken.get(path, 0) or end < start:
            raise _error(INDEX, f"the runs of {path} do not follow each other "
                                f"(run from {start}, expected {taken.get(path, 0)})")
        flows.extend(nodes[start:end])
        taken[path] = end
    for path, nodes in contents.items():
        if taken.get(path, 0) != len(nodes):
            raise _error(INDEX, f"its order leaves out nodes of {path}")
    return flows


def file_name(node_id: str) -> str:
    """A file name for a tab or subflow id: the id itself when it is a safe name, else
    ``_`` and the hex of its UTF-8 bytes."""
    if _SAFE_ID.fullmatch(node_id) and node_id not in (".", ".."):
        return f"{node_id}.json"
    return f"_{node_id.encode().hex()}.json"


def dumps_node(node: dict[str, Any], indent: str = "") -> str:
    """One node as its block: a key per line in the canonical order (see the module)."""
    keys = [k for k in _FIRST_KEYS if k in node]
    keys += sorted(k for k in node if k not in _FIRST_KEYS and k not in _LAST_KEYS)
    keys += [k for k in _LAST_KEYS if k in node]
    lines = [f"{indent}    {orjson.dumps(k).decode()}: "
             f"{orjson.dumps(node[k], option=orjson.OPT_SORT_KEYS).decode()}" for k in keys]
    return f"{indent}  {{\n" + ",\n".join(lines) + f"\n{indent}  }}"


# --------------------------------------------------------------------- helpers
def _homes(flows: Flows) -> dict[str, str]:
    """Tab and subflow id → its file (the first node of a duplicated id wins)."""
    homes: dict[str, str] = {}
    for node in flows:
        kind = node.get("type")
        if kind in ("tab", "subflow") and isinstance(node.get("id"), str):
            homes.setdefault(node["id"], f"{kind}s/{file_name(node['id'])}")
    return homes


def _file_of(node: dict[str, Any], homes: dict[str, str]) -> str:
    if node.get("type") in ("tab", "subflow") and node.get("id") in homes:
        return homes[node["id"]]
    z = node.get("z")
    return homes.get(z, INDEX) if isinstance(z, str) else INDEX


def _array(nodes: list[dict[str, Any]], indent: str = "") -> bytes:
    if not nodes:
        return b"[]\n"
    body = ",\n".join(dumps_node(node, indent) for node in nodes)
    return f"[\n{body}\n{indent}]\n".encode()


def _parse(files: Mapping[str, bytes], path: str) -> Any:
    try:
        return orjson.loads(files[path])
    except KeyError:
        raise _error(path, "the file is missing") from None
    except orjson.JSONDecodeError as exc:
        raise _error(path, f"not valid JSON: {exc}") from None


def _node_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(node, dict) for node in value):
        raise _error(path, "must be a JSON array of node objects")
    return value


def _error(path: str, message: str) -> FlowValidationError:
    return FlowValidationError([Problem(None, None, "$", f"{path}: {message}")],
                               f"project file {path} is not valid")
