"""From a flow document to the graph of nodes the runtime starts.

``build_graph`` resolves everything Node-RED resolves at load time: disabled
nodes and tabs are left out, link-out ``links`` become wires, and every subflow
instance is expanded into copies of the subflow's nodes (ids
``<instanceId>-<originalId>``, ``_alias`` = original id), with the instance's
output wires attached to the nodes feeding the subflow's output ports.
``diff_graphs`` sorts node ids into added, removed, changed and rewired the way
Node-RED's ``diffConfigs`` does, to restart only what a deploy changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowrt.flowdoc import STRUCTURAL_TYPES, is_config_node

GLOBAL_FLOW = "global"
SUBFLOW_IN = "subflow-in"
SUBFLOW_STATUS = "subflow-status"
_IGNORED_IN_DIFF = frozenset({"x", "y", "wires", "w", "h"})


@dataclass
class NodeSpec:
    """One node to run: its config (as the node sees it) and the flow it belongs to."""

    id: str
    type: str
    config: dict[str, Any]
    flow_id: str
    is_config: bool

    @property
    def wires(self) -> list[list[str]]:
        """Target ids per output port."""
        return self.config.get("wires") or []


@dataclass
class FlowSpec:
    """A tab or a subflow instance."""

    id: str
    config: dict[str, Any]
    parent_id: str | None = None
    subflow: dict[str, Any] | None = None
    instance: dict[str, Any] | None = None


@dataclass
class Graph:
    """Everything the runtime needs to start a flow document."""

    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    flows: dict[str, FlowSpec] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    global_env: list[dict[str, Any]] = field(default_factory=list)


def build_graph(document: list[dict[str, Any]]) -> Graph:
    """Resolve a (validated) flow document into a Graph."""
    graph = Graph()
    tabs = {n["id"]: n for n in document if n["type"] == "tab"}
    subflows = {n["id"]: n for n in document if n["type"] == "subflow"}
    members: dict[str, list[dict[str, Any]]] = {}
    for node in document:
        if node["type"] == "group":
            graph.groups[node["id"]] = node
        elif node["type"] == "global-config":
            graph.global_env = node.get("env") or []
        if node.get("z"):
            members.setdefault(node["z"], []).append(node)
    graph.flows[GLOBAL_FLOW] = FlowSpec(GLOBAL_FLOW, {"id": GLOBAL_FLOW, "label": "global"})
    for tab in tabs.values():
        if not tab.get("disabled"):
            graph.flows[tab["id"]] = FlowSpec(tab["id"], tab)
    for node in document:
        if node["type"] in STRUCTURAL_TYPES or node.get("d"):
            continue
        z: str = node.get("z") or ""
        if z in subflows:
            continue
        if z in tabs:
            if tabs[z].get("disabled"):
                continue
            flow_id = z
        elif z and not is_config_node(node):
            # Node-RED creates an implicit tab for flow nodes whose tab is missing.
            graph.flows.setdefault(z, FlowSpec(z, {"id": z, "type": "tab", "label": z}))
            flow_id = z
        else:
            flow_id = GLOBAL_FLOW
        if node["type"].startswith("subflow:"):
            _expand_instance(graph, node, flow_id, subflows, members)
        else:
            _add(graph, node, flow_id)
    return graph


def _add(graph: Graph, node: dict[str, Any], flow_id: str) -> None:
    config = node
    if "z" in node and not node["z"]:
        # "z": 0 / "" / null (older exports of config nodes) means no tab, as in Node-RED.
        config = {key: value for key, value in node.items() if key != "z"}
    if node["type"] == "link out" and node.get("mode", "link") != "return":
        config = {**config, "wires": [list(node.get("links") or [])]}
    graph.nodes[node["id"]] = NodeSpec(node["id"], node["type"], config, flow_id,
                                       is_config_node(node))


def _expand_instance(graph: Graph, instance: dict[str, Any], parent_flow: str,
                     subflows: dict[str, dict[str, Any]],
                     members: dict[str, list[dict[str, Any]]]) -> None:
    definition = subflows[instance["type"][8:]]
    iid = instance["id"]
    graph.flows[iid] = FlowSpec(iid, {"id": iid, "label": definition.get("name", "")},
                                parent_flow, definition, instance)
    inner = [n for n in members.get(definition["id"], []) if not n.get("d")]
    idmap = {n["id"]: f"{iid}-{n['id']}" for n in inner}
    copies: dict[str, dict[str, Any]] = {}
    for node in inner:
        copy = {key: (idmap.get(value, value) if isinstance(value, str)
                      and key not in ("id", "z", "type", "name") else value)
                for key, value in node.items()}
        copy.update(id=idmap[node["id"]], _alias=node["id"], z=iid)
        copy["wires"] = [[idmap.get(t, t) for t in port] for port in node.get("wires") or []]
        if node["type"] in ("link out", "link in", "link call"):
            copy["links"] = [idmap.get(t, t) for t in node.get("links") or []]
        if node["type"] == "group":
            # A group inside a subflow is drawn, not run; each instance has its own
            # copy, so its nodes' env lookups (``g`` mapped above) find it.
            graph.groups[copy["id"]] = copy
            continue
        if node["type"] in STRUCTURAL_TYPES:
            continue
        copies[node["id"]] = copy
    outer_wires = instance.get("wires") or []
    entry_targets: list[str] = []
    for index, port in enumerate(definition.get("in") or []):
        if index == 0:
            entry_targets += [idmap[w["id"]] for w in port.get("wires", []) if w["id"] in idmap]
    for index, port in enumerate(definition.get("out") or []):
        targets = list(outer_wires[index]) if index < len(outer_wires) else []
        for wire in port.get("wires", []):
            if wire["id"] == definition["id"]:
                entry_targets += targets
            elif wire["id"] in copies:
                _extend_port(copies[wire["id"]], int(wire.get("port", 0)), targets)
    status_port = definition.get("status")
    if isinstance(status_port, dict) and status_port.get("wires"):
        status_id = f"{iid}:status"
        graph.nodes[status_id] = NodeSpec(status_id, SUBFLOW_STATUS,
                                          {"id": status_id, "type": SUBFLOW_STATUS, "z": iid,
                                           "instance": iid, "wires": []}, iid, False)
        for wire in status_port["wires"]:
            if wire["id"] in copies:
                _extend_port(copies[wire["id"]], int(wire.get("port", 0)), [status_id])
    graph.nodes[iid] = NodeSpec(iid, SUBFLOW_IN, {**instance, "wires": [entry_targets]},
                                parent_flow, False)
    for copy in copies.values():
        if copy["type"].startswith("subflow:"):
            _expand_instance(graph, copy, iid, subflows, members)
        else:
            _add(graph, copy, iid)


def _extend_port(node: dict[str, Any], port: int, targets: list[str]) -> None:
    wires = node["wires"]
    while len(wires) <= port:
        wires.append([])
    wires[port] = wires[port] + targets


@dataclass
class Diff:
    """Node ids sorted by what a deploy does to them."""

    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    rewired: set[str] = field(default_factory=set)
    linked: set[str] = field(default_factory=set)


def diff_graphs(old: Graph, new: Graph, changed_credentials: set[str]) -> Diff:
    """Compare two graphs the way Node-RED's ``diffConfigs`` does."""
    diff = Diff()
    diff.added = set(new.nodes) - set(old.nodes)
    diff.removed = set(old.nodes) - set(new.nodes)
    # A subflow instance's flow changes with its instance node too (env, name).
    changed_flows = {fid for fid, spec in new.flows.items()
                     if fid in old.flows and (
                         _significant(old.flows[fid].config) != _significant(spec.config)
                         or _significant(old.flows[fid].instance or {})
                         != _significant(spec.instance or {}))}
    for node_id in set(new.nodes) & set(old.nodes):
        before, after = old.nodes[node_id], new.nodes[node_id]
        if (_significant(before.config) != _significant(after.config)
                or node_id in changed_credentials or after.flow_id in changed_flows
                or before.flow_id != after.flow_id):
            diff.changed.add(node_id)
        elif before.wires != after.wires:
            diff.rewired.add(node_id)
    _propagate_config_changes(new, diff)
    diff.linked = _linked(old, new, diff.added | diff.removed | diff.changed | diff.rewired)
    return diff


def _significant(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _IGNORED_IN_DIFF}


def _propagate_config_changes(new: Graph, diff: Diff) -> None:
    # Editing a config node restarts its users: anything whose property value is
    # the id of a changed or removed node is changed too, transitively.
    dirty = diff.changed | diff.removed
    while True:
        more = {
            node_id for node_id, spec in new.nodes.items()
            if node_id not in diff.changed and node_id not in diff.added
            and any(isinstance(v, str) and v in dirty for k, v in spec.config.items()
                    if k not in ("id", "z", "type", "wires", "g"))
        }
        if not more:
            return
        diff.changed |= more
        diff.rewired -= more
        dirty |= more


def _linked(old: Graph, new: Graph, seeds: set[str]) -> set[str]:
    neighbours: dict[str, set[str]] = {}
    for graph in (old, new):
        for node_id, spec in graph.nodes.items():
            for port in spec.wires:
                for target in port:
                    neighbours.setdefault(node_id, set()).add(target)
                    neighbours.setdefault(target, set()).add(node_id)
    seen = set(seeds)
    stack = list(seeds)
    while stack:
        for other in neighbours.get(stack.pop(), ()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen - seeds
