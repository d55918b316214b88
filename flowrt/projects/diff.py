"""The semantic diff of two flow documents: what a person changed, node by node.

``diff(before, after)`` sorts every node (tabs, config nodes and groups too) that
differs into:

- ``added`` and ``removed``;
- ``changed``: its properties changed (each key with its value before and after);
- ``rewired``: its wires changed (``wires``, and the ``links`` of link nodes), with the
  wires added and removed as ``[output, target id]`` (output ``"link"`` for links);
- ``moved``: only its position changed (``x``, ``y``, ``w``, ``h``), from → to.

A node both edited and rewired is in both lists; a node that moved and changed
otherwise is not in ``moved``. Node-RED's editor shows the same kinds of change in its
deploy diff; the editor's own (web/static/js/diff.js) works on its unsaved edits, this
one on saved versions, for the history API and ``flowrt diff``.
"""

from __future__ import annotations

import json
from typing import Any

Flows = list[dict[str, Any]]

POSITION = ("x", "y", "w", "h")
WIRING = ("wires", "links")
_SHORT = 60


def diff(before: Flows, after: Flows) -> dict[str, list[dict[str, Any]]]:
    """The semantic diff (see the module docstring); JSON-ready."""
    old = {n["id"]: n for n in before}
    new = {n["id"]: n for n in after}
    result: dict[str, list[dict[str, Any]]] = {
        "added": [_describe(n) for n in after if n["id"] not in old],
        "removed": [_describe(n) for n in before if n["id"] not in new],
        "changed": [], "rewired": [], "moved": []}
    for node in after:
        previous = old.get(node["id"])
        if previous is None or previous == node:
            continue
        keys = [k for k in dict.fromkeys([*previous, *node])
                if previous.get(k) != node.get(k)]
        properties = [k for k in keys if k not in POSITION and k not in WIRING]
        if properties:
            result["changed"].append({**_describe(node), "properties": {
                k: {"before": previous.get(k), "after": node.get(k)} for k in properties}})
        wires_before, wires_after = _wires(previous), _wires(node)
        if wires_before != wires_after:
            result["rewired"].append({
                **_describe(node),
                "added": [list(w) for w in wires_after if w not in wires_before],
                "removed": [list(w) for w in wires_before if w not in wires_after]})
        if all(k in POSITION for k in keys):
            result["moved"].append({**_describe(node),
                                    "from": {k: previous[k] for k in POSITION if k in previous},
                                    "to": {k: node[k] for k in POSITION if k in node}})
    return result


def is_empty(changes: dict[str, list[dict[str, Any]]]) -> bool:
    """True when nothing changed."""
    return not any(changes.values())


def format_text(changes: dict[str, list[dict[str, Any]]], before: Flows, after: Flows) -> str:
    """The diff for a person: one line per node (and per property), nodes named by type,
    name and id, and the tab they are on."""
    names = {n["id"]: n for n in [*before, *after]}

    def label(entry: dict[str, Any]) -> str:
        name = f' "{entry["name"]}"' if entry.get("name") else ""
        tab = names.get(entry.get("z") or "")
        where = f' on {tab["type"]} "{tab.get("label") or tab.get("name") or tab["id"]}"' \
            if tab else ""
        return f"{entry['type']}{name} ({entry['id']}){where}"

    def target(node_id: str) -> str:
        node = names.get(node_id)
        return label(_describe(node)).split(" on ")[0] if node else node_id

    lines: list[str] = []
    sections = (("added", "Added", "+"), ("removed", "Removed", "-"),
                ("changed", "Changed", "~"), ("rewired", "Rewired", "~"),
                ("moved", "Moved only", "~"))
    for key, title, mark in sections:
        if not changes[key]:
            continue
        lines.append(f"{title} ({len(changes[key])}):")
        for entry in changes[key]:
            lines.append(f"  {mark} {label(entry)}")
            if key == "changed":
                lines.extend(f"      {k}: {_short(v['before'])} → {_short(v['after'])}"
                             for k, v in entry["properties"].items())
            elif key == "rewired":
                lines.extend(f"      {sign} {_port(port)} → {target(dest)}"
                             for sign, wires in (("+", entry["added"]), ("-", entry["removed"]))
                             for port, dest in wires)
            elif key == "moved":
                lines.append(f"      {_position(entry['from'])} → {_position(entry['to'])}")
    return "\n".join(lines) if lines else "No changes."


# --------------------------------------------------------------------- helpers
def _describe(node: dict[str, Any]) -> dict[str, Any]:
    entry = {"id": node["id"], "type": node["type"]}
    for key in ("z", "name"):
        if node.get(key):
            entry[key] = node[key]
    return entry


def _wires(node: dict[str, Any]) -> list[tuple[int | str, str]]:
    wires: list[tuple[int | str, str]] = []
    for port, targets in enumerate(node.get("wires") or []):
        wires.extend((port, t) for t in targets if isinstance(t, str))
    links = node.get("links")
    if isinstance(links, list):
        wires.extend(("link", t) for t in links if isinstance(t, str))
    return wires


def _port(port: int | str) -> str:
    return "link" if port == "link" else f"output {int(port) + 1}"


def _position(where: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items()) or "(none)"


def _short(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHORT else f"{text[:_SHORT - 3]}..."
