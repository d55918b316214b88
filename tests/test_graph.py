"""flowrt/graph.py: ``build_graph`` (what a flow document resolves to) and ``diff_graphs``
(what a ``nodes`` or ``flows`` deploy restarts), then the deploy modes that use them."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest

from flowrt.graph import GLOBAL_FLOW, SUBFLOW_IN, SUBFLOW_STATUS, build_graph, diff_graphs
from flowrt.node import Node
from flowrt.testing import FlowHarness

TAB = {"id": "t1", "type": "tab", "label": "Flow 1"}
TAB2 = {"id": "t2", "type": "tab", "label": "Flow 2"}


def node(id_: str, wires: list[list[str]] | None = None, z: str = "t1",
         **config: Any) -> dict[str, Any]:
    """A flow node (it has x and y) of a type the graph does not care about."""
    return {"id": id_, "type": "test", "z": z, "x": 10, "y": 10, "wires": wires or [], **config}


def config_node(id_: str, **config: Any) -> dict[str, Any]:
    """A config node: Node-RED's rule is that it has no x/y."""
    return {"id": id_, "type": "test-config", **config}


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]],
         changed_credentials: frozenset[str] = frozenset()) -> dict[str, set[str]]:
    """The diff of two documents, as a dict of its non-empty sets."""
    result = diff_graphs(build_graph(old), build_graph(new), set(changed_credentials))
    sets = {"added": result.added, "removed": result.removed, "changed": result.changed,
            "rewired": result.rewired, "linked": result.linked}
    return {name: ids for name, ids in sets.items() if ids}


def edited(document: list[dict[str, Any]], node_id: str, **changes: Any) -> list[dict[str, Any]]:
    """A deep copy of ``document`` with one node's keys changed."""
    new = copy.deepcopy(document)
    for item in new:
        if item["id"] == node_id:
            item.update(changes)
    return new


# ------------------------------------------------------------------ build_graph
def test_nodes_belong_to_their_tab_and_config_nodes_to_the_global_flow():
    graph = build_graph([TAB, node("a", [["b"]]), node("b"), config_node("broker"),
                         config_node("scoped", z="t1"),
                         {"id": "g1", "type": "group", "z": "t1", "nodes": ["a"]},
                         {"id": "gc", "type": "global-config", "env": [{"name": "E"}]}])
    assert set(graph.nodes) == {"a", "b", "broker", "scoped"}  # tabs, groups: not nodes
    assert graph.nodes["a"].flow_id == "t1" and graph.nodes["a"].wires == [["b"]]
    assert not graph.nodes["a"].is_config
    assert graph.nodes["broker"].flow_id == GLOBAL_FLOW and graph.nodes["broker"].is_config
    assert graph.nodes["scoped"].flow_id == "t1"  # a config node scoped to its tab
    assert set(graph.flows) == {GLOBAL_FLOW, "t1"}
    assert set(graph.groups) == {"g1"}
    assert graph.global_env == [{"name": "E"}]


def test_disabled_nodes_and_tabs_are_left_out():
    graph = build_graph([TAB, {**TAB2, "disabled": True}, node("a"), node("off", d=True),
                         node("b", z="t2")])
    assert set(graph.nodes) == {"a"}
    assert set(graph.flows) == {GLOBAL_FLOW, "t1"}


def test_a_node_whose_tab_is_missing_gets_an_implicit_tab():
    graph = build_graph([node("a", z="lost")])
    assert graph.nodes["a"].flow_id == "lost"
    assert graph.flows["lost"].config["type"] == "tab"


def test_link_out_links_become_wires_except_in_return_mode():
    graph = build_graph([TAB, {**node("out"), "type": "link out", "links": ["in1", "in2"]},
                         {**node("ret"), "type": "link out", "mode": "return", "links": ["x"]},
                         {**node("in1"), "type": "link in"}, {**node("in2"), "type": "link in"}])
    assert graph.nodes["out"].wires == [["in1", "in2"]]
    assert graph.nodes["ret"].wires == []


SUBFLOW = {"id": "sf", "type": "subflow", "name": "double",
           "in": [{"wires": [{"id": "s1"}]}],
           "out": [{"wires": [{"id": "s2", "port": 0}]}, {"wires": [{"id": "sf"}]}],
           "status": {"wires": [{"id": "s1", "port": 1}]}}
SUBFLOW_NODES = [node("s1", [["s2"], []], z="sf", broker="broker"), node("s2", z="sf"),
                 node("s3", z="sf", d=True)]


def test_a_subflow_instance_expands_into_copies_wired_to_the_outside():
    graph = build_graph([TAB, SUBFLOW, *SUBFLOW_NODES, config_node("broker"),
                         {**node("i1", [["after"], ["passed"]]), "type": "subflow:sf"},
                         node("after"), node("passed")])
    assert set(graph.nodes) == {"i1", "i1-s1", "i1-s2", "i1:status", "broker", "after",
                                "passed"}  # s3 is disabled
    entry = graph.nodes["i1"]
    assert entry.type == SUBFLOW_IN and entry.flow_id == "t1"
    # the subflow's input feeds s1; its second output is wired straight from the input
    assert entry.wires == [["i1-s1", "passed"]]
    copy_ = graph.nodes["i1-s1"]
    assert copy_.flow_id == "i1" and copy_.config["_alias"] == "s1"
    assert copy_.config["broker"] == "broker"  # ids outside the subflow are kept
    assert copy_.wires == [["i1-s2"], ["i1:status"]]  # port 1 feeds the status output
    assert graph.nodes["i1:status"].type == SUBFLOW_STATUS
    assert graph.nodes["i1-s2"].wires == [["after"]]  # the instance's output port 0
    instance = graph.flows["i1"]
    assert instance.parent_id == "t1" and instance.subflow is not None
    assert instance.instance is not None and instance.instance["id"] == "i1"


def test_subflow_instances_inside_subflows_expand_recursively():
    outer = {"id": "outer", "type": "subflow", "in": [{"wires": [{"id": "inner-i"}]}],
             "out": []}
    inner_instance = {**node("inner-i", z="outer"), "type": "subflow:sf"}
    graph = build_graph([TAB, SUBFLOW, *SUBFLOW_NODES, config_node("broker"), outer,
                         inner_instance, {**node("top"), "type": "subflow:outer"}])
    assert {"top", "top-inner-i", "top-inner-i-s1", "top-inner-i-s2"} <= set(graph.nodes)
    assert graph.nodes["top"].wires == [["top-inner-i"]]
    assert graph.flows["top-inner-i"].parent_id == "top"


# ------------------------------------------------------------------ diff_graphs
CHAIN = [TAB, TAB2, node("a", [["b"]]), node("b", [["c"]]), node("c"), node("x"),
         node("y", z="t2")]


def test_the_same_document_changes_nothing():
    assert diff(CHAIN, copy.deepcopy(CHAIN)) == {}


def test_moving_or_resizing_a_node_changes_nothing():
    assert diff(CHAIN, edited(CHAIN, "b", x=500, y=300, w=200, h=80)) == {}


def test_a_changed_property_changes_the_node_and_links_its_neighbours():
    assert diff(CHAIN, edited(CHAIN, "b", name="renamed")) == {
        "changed": {"b"}, "linked": {"a", "c"}}


def test_the_linked_set_is_the_whole_connected_chain():
    assert diff(CHAIN, edited(CHAIN, "c", name="renamed")) == {
        "changed": {"c"}, "linked": {"a", "b"}}


def test_changed_wires_only_rewire_and_link_old_and_new_neighbours():
    assert diff(CHAIN, edited(CHAIN, "a", wires=[["x"]])) == {
        "rewired": {"a"}, "linked": {"b", "c", "x"}}


def test_added_and_removed_nodes():
    new = [n for n in CHAIN if n["id"] != "c"] + [node("d", [["x"]])]
    new = edited(new, "b", wires=[])
    assert diff(CHAIN, new) == {"added": {"d"}, "removed": {"c"}, "rewired": {"b"},
                                "linked": {"a", "x"}}


def test_changed_credentials_change_the_node():
    assert diff(CHAIN, copy.deepcopy(CHAIN), frozenset({"x"})) == {"changed": {"x"}}


def test_moving_a_node_to_another_tab_changes_it():
    assert diff(CHAIN, edited(CHAIN, "x", z="t2")) == {"changed": {"x"}}


def test_a_changed_tab_changes_every_node_on_it():
    new = edited(CHAIN, "t2", env=[{"name": "SITE", "type": "str", "value": "b"}])
    assert diff(CHAIN, new) == {"changed": {"y"}}


def test_moving_a_tab_on_screen_changes_nothing():
    assert diff(CHAIN, edited(CHAIN, "t1", x=1, y=2)) == {}


USERS = [TAB, config_node("tls", ca="/ca.pem"), config_node("broker", tls="tls", port=1883),
         node("in", [["out"]], broker="broker"), node("out", broker="broker"),
         node("other", topic="tls-not-an-id")]


def test_a_changed_config_node_changes_its_users_transitively():
    assert diff(USERS, edited(USERS, "tls", ca="/other.pem")) == {
        "changed": {"tls", "broker", "in", "out"}}


def test_a_removed_config_node_changes_its_users():
    new = [n for n in USERS if n["id"] != "tls"]
    assert diff(USERS, new) == {"removed": {"tls"}, "changed": {"broker", "in", "out"}}


def test_a_rewired_user_of_a_changed_config_node_counts_as_changed_only():
    new = edited(edited(USERS, "broker", port=8883), "in", wires=[])
    assert diff(USERS, new) == {"changed": {"broker", "in", "out"}}


def test_a_new_user_of_a_changed_config_node_is_only_added():
    new = [*edited(USERS, "broker", port=8883), node("new", broker="broker")]
    assert diff(USERS, new) == {"added": {"new"}, "changed": {"broker", "in", "out"}}


INSTANCES = [TAB, SUBFLOW, *SUBFLOW_NODES, config_node("broker"),
             {**node("i1", [["after"]]), "type": "subflow:sf"},
             {**node("i2"), "type": "subflow:sf"}, node("after")]


def test_a_change_inside_a_subflow_changes_every_instance():
    changed = diff(INSTANCES, edited(INSTANCES, "s2", name="renamed"))["changed"]
    assert changed == {"i1-s2", "i2-s2"}


def test_rewiring_an_instance_rewires_the_copies_that_feed_its_outputs():
    assert diff(INSTANCES, edited(INSTANCES, "i1", wires=[[]])) == {
        "rewired": {"i1-s2"}, "linked": {"after", "i1", "i1-s1", "i1:status"}}


def test_a_removed_instance_removes_its_copies():
    new = [n for n in INSTANCES if n["id"] != "i2"]
    assert diff(INSTANCES, new)["removed"] == {"i2", "i2-s1", "i2-s2", "i2:status"}


# ------------------------------------------------------------------ deploy modes
class Recorder(Node):
    """Records its starts and closes, and sends ``config.value`` as the payload."""

    type = "test-graph-recorder"
    log_: ClassVar[list[tuple[str, str]]] = []

    async def start(self) -> None:
        Recorder.log_.append(("start", self.id))

    async def close(self, removed: bool) -> None:
        Recorder.log_.append(("close", self.id))

    def on_input(self, msg: dict[str, Any]) -> None:
        msg["payload"] = self.config.get("value")
        self.send(msg)


def recorder(id_: str, wires: list[list[str]] | None = None, **config: Any) -> dict[str, Any]:
    return {**node(id_, wires, **config), "type": "test-graph-recorder"}


DEPLOYED = [TAB, {**config_node("cfg"), "type": "test-graph-recorder"},
            recorder("a", [["b"]]), recorder("b", cfg="cfg"), recorder("c", [["d"]]),
            recorder("d")]


@pytest.mark.parametrize(("mode", "restarted"), [
    ("nodes", {"cfg", "b"}),
    ("flows", {"cfg", "a", "b"}),
    ("full", {"cfg", "a", "b", "c", "d"}),
])
async def test_deploy_modes_restart_what_the_diff_says(mode, restarted):
    async with FlowHarness(DEPLOYED, node_types=[Recorder]) as h:
        Recorder.log_.clear()
        await h.deploy(edited(DEPLOYED, "cfg", value="new"), mode)
        assert {node_id for event, node_id in Recorder.log_ if event == "start"} == restarted
        assert {node_id for event, node_id in Recorder.log_ if event == "close"} == restarted


@pytest.mark.parametrize("mode", ["nodes", "flows", "full"])
async def test_a_changed_instance_env_takes_effect_on_deploy(mode):
    definition = {"id": "sf", "type": "subflow", "in": [{"wires": [{"id": "s1"}]}],
                  "out": [{"wires": [{"id": "s1", "port": 0}]}],
                  "env": [{"name": "LEVEL", "type": "str", "value": "default"}]}
    document = [TAB, definition, recorder("s1", z="sf", value="${LEVEL}"),
                {**node("i1", [["end"]]), "type": "subflow:sf"}, recorder("end")]
    async with FlowHarness(document, node_types=[Recorder]) as h:
        await h.inject("i1", payload=0)
        assert h.payloads("i1-s1") == ["default"]
        env = [{"name": "LEVEL", "type": "str", "value": "instance"}]
        await h.deploy(edited(document, "i1", env=env), mode)
        h.clear()
        await h.inject("i1", payload=0)
        assert h.payloads("i1-s1") == ["instance"]
