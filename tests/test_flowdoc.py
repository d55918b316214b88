"""Flow documents: parsing, validation with locations, round trips, atomic saves."""

from __future__ import annotations

import pytest

from flowrt import flowdoc
from flowrt.errors import FlowValidationError
from flowrt.registry import discover


def test_invalid_json_names_the_position():
    with pytest.raises(FlowValidationError, match="not valid JSON") as info:
        flowdoc.parse('[{"id": "a", "type": "junction",}]')
    assert "line 1" in str(info.value) or "char" in str(info.value)


def test_non_array_and_missing_keys_are_reported_with_paths():
    with pytest.raises(FlowValidationError) as info:
        flowdoc.parse('{"id": "a"}')
    assert info.value.problems[0].path == "$"
    with pytest.raises(FlowValidationError) as info:
        flowdoc.parse('[{"id": "a", "type": "junction", "wires": "b"}, {"type": "x"}]')
    paths = {p.path for p in info.value.problems}
    assert "$[0].wires" in paths
    assert "$[1]" in paths


def test_every_problem_is_reported_at_once():
    registry = discover()
    flows = [
        {"id": "t", "type": "tab"},
        {"id": "a", "type": "junction", "z": "t", "x": 1, "y": 1, "wires": [[]]},
        {"id": "a", "type": "junction", "z": "t", "x": 1, "y": 1, "wires": [[]]},
        {"id": "b", "type": "nope", "z": "t", "x": 1, "y": 1, "wires": []},
        {"id": "c", "type": "catch", "z": "t", "x": 1, "y": 1, "wires": [[]], "scope": 5},
        {"id": "s", "type": "subflow:missing", "z": "t", "x": 1, "y": 1, "wires": []},
    ]
    problems = flowdoc.validate(flows, registry)
    found = {(p.id, p.path) for p in problems}
    assert ("a", "$[2].id") in found
    assert ("b", "$[3].type") in found
    assert ("c", "$[4].scope") in found
    assert ("s", "$[5].type") in found
    assert flowdoc.missing_types(flows, registry) == ["nope", "subflow:missing"]


def test_round_trip_keeps_unknown_keys_and_order():
    text = ('[{"id":"t","type":"tab","label":"x","futureKey":{"a":[1,2]}},'
            '{"id":"n","type":"junction","z":"t","x":1,"y":2,"wires":[["m"]],"extra":"kept"}]')
    flows = flowdoc.parse(text)
    assert flowdoc.parse(flowdoc.dumps(flows)) == flows
    assert flowdoc.parse(flowdoc.dumps(flows, pretty=False)) == flows
    assert list(flows[1]) == ["id", "type", "z", "x", "y", "wires", "extra"]


def test_bom_and_empty_files(tmp_path):
    path = tmp_path / "flows.json"
    path.write_bytes(b"\xef\xbb\xbf[]")
    assert flowdoc.load(path) == []
    path.write_bytes(b"")
    assert flowdoc.load(path) == []


def test_save_is_atomic_and_keeps_a_backup(tmp_path):
    path = tmp_path / "flows.json"
    flowdoc.save(path, [{"id": "a", "type": "tab"}])
    flowdoc.save(path, [{"id": "b", "type": "tab"}])
    assert flowdoc.load(path) == [{"id": "b", "type": "tab"}]
    assert flowdoc.load(tmp_path / ".flows.json.backup") == [{"id": "a", "type": "tab"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".flows.json.backup", "flows.json"]


def nested(levels: int) -> dict:
    """A value ``levels`` objects deep."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_nesting_beyond_the_limit_is_a_problem_naming_node_and_key():
    limit = flowdoc.MAX_NODE_DEPTH
    flows = [{"id": "t", "type": "tab"},
             {"id": "ok", "type": "comment", "z": "t", "x": 1, "y": 1, "deep": nested(limit - 1)},
             {"id": "n", "type": "comment", "z": "t", "x": 1, "y": 2, "deep": [nested(limit)]}]
    problems = flowdoc.validate(flows, discover())
    assert [(p.id, p.type, p.path) for p in problems] == [("n", "comment", "$[2].deep")]
    assert f"more than {limit} levels" in problems[0].message
    # What validates can be written back, by both writers; the reader refuses the rest.
    assert flowdoc.parse(flowdoc.dumps(flows[:2], pretty=False)) == flows[:2]
    with pytest.raises(FlowValidationError, match="not a valid flow document") as info:
        flowdoc.parse(flowdoc.dumps(flows))
    assert [(p.id, p.path) for p in info.value.problems] == [("n", "$[2].deep")]


def test_a_shape_error_does_not_hide_the_other_problems():
    registry = discover()
    flows = [
        {"id": "t", "type": "tab"},
        7,
        {"id": "j", "type": "junction", "z": "t", "x": 0, "y": 0, "wires": "nope"},
        {"id": "m", "type": "mystery", "z": "t", "x": 0, "y": 0},
        {"id": "d", "type": "delay", "z": "t", "x": 0, "y": 0, "pauseType": "sometimes"},
        {"id": "t", "type": "junction", "z": "t", "x": 0, "y": 0},
    ]
    problems = flowdoc.validate(flows, registry)
    where = [(p.id, p.path.split(".")[0]) for p in problems]
    assert where[0] == (None, "$[1]") and "a number where a node object" in problems[0].message
    assert ("j", "$[2]") in where and ("m", "$[3]") in where and ("d", "$[4]") in where
    assert ("t", "$[5]") in where  # the duplicate id
    assert where == sorted(where, key=lambda w: int(w[1][2:-1]))  # document order


@pytest.mark.parametrize("z", [0, "", None, False])
def test_a_config_node_with_an_empty_z_is_accepted(z):
    flows = [{"id": "b", "type": "mqtt-broker", "z": z, "broker": "localhost"}]
    assert flowdoc.validate(flows, discover()) == []


def test_a_z_that_is_not_a_tab_id_is_named():
    flows = [{"id": "b", "type": "mqtt-broker", "z": 5, "broker": "localhost"}]
    [problem] = flowdoc.validate(flows, discover())
    assert (problem.id, problem.path) == ("b", "$[0].z")
    assert problem.message == "5 is not a tab or subflow id (a string), nor empty"


def test_unknown_types_say_whether_node_red_has_them():
    flows = [{"id": "h", "type": "tcp request", "z": "t", "x": 0, "y": 0},
             {"id": "u", "type": "ui_worldmap", "z": "t", "x": 0, "y": 0}]
    core, contrib = flowdoc.validate(flows, discover(excludes=frozenset({"tcp request"})))
    assert core.message == ("Node-RED core node 'tcp request' is not loaded (left out by the "
                            "nodesExcludes setting, or its module failed to load: see "
                            "`flowrt nodes`)")
    assert contrib.message.startswith("unknown node type 'ui_worldmap': a contrib node that is "
                                      "not installed")
