"""The command line: validate, nodes, usage errors."""

from __future__ import annotations

import json

from tests.cli_runner import run_cli


def test_validate_reports_node_id_type_and_path_and_exits_1(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"id": "t", "type": "tab"}]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "t", "type": "tab"},
                               {"id": "n1", "type": "mystery", "z": "t", "x": 0, "y": 0}]))
    result = run_cli("validate", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{good}: ok" in result.output
    assert "node 'n1' (mystery) at $[1].type: unknown node type 'mystery'" in result.output


def test_validate_ok_exits_0(tmp_path):
    good = tmp_path / "good.json"
    good.write_text("[]")
    result = run_cli("validate", str(good))
    assert result.exit_code == 0, result.output


def test_nodes_lists_types_with_their_origin(tmp_path):
    result = run_cli("nodes", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "built-in" in lines["junction"]
    assert "package flowrt-example-nodes" in lines["unit-convert"]


def test_validate_names_undecodable_and_too_deep_files(tmp_path):
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'[{"id": "t", "type": "tab", "label": "caf\xe9"}]')
    deep: dict = {}
    for _ in range(300):
        deep = {"a": deep}
    too_deep = tmp_path / "deep.json"
    too_deep.write_text(json.dumps([{"id": "t", "type": "tab"}, {
        "id": "n1", "type": "comment", "z": "t", "x": 0, "y": 0, "deep": deep}]))
    result = run_cli("validate", str(latin1), str(too_deep))
    assert result.exit_code == 1, result.output
    assert "document at $: byte 0xe9 at offset 41 is not UTF-8" in result.output
    assert "node 'n1' (comment) at $[1].deep: nested more than 200 levels deep" in result.output


def test_validate_reports_every_problem_of_a_file_in_one_run(tmp_path):
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps([
        {"id": "t", "type": "tab"},
        "not a node",                                                # shape: not an object
        {"id": "cfg", "type": "mqtt-broker", "z": 0, "broker": "localhost"},  # accepted
        {"type": "comment", "z": "t", "x": 0, "y": 0},               # shape: no id
        {"id": "h", "type": "http in", "z": "t", "x": 0, "y": 0},    # schema: no url
        {"id": "c", "type": "ui_worldmap", "z": "t", "x": 0, "y": 0},  # contrib
        {"id": "js", "type": "function", "z": "t", "x": 0, "y": 0,
         "func": "const a = 1;\nreturn msg.payload.(;"},                 # JavaScript
        {"id": "ok", "type": "function", "z": "t", "x": 0, "y": 0, "func": "return msg;"},
        {"id": "ch", "type": "change", "z": "t", "x": 0, "y": 0,        # JSONata
         "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": "$sum(", "tot": "jsonata"}]},
        {"id": "r", "type": "range", "z": "t", "x": 0, "y": 0, "action": "nope"},  # schema
    ]))
    result = run_cli("validate", str(flows))
    assert result.exit_code == 1, result.output
    lines = [line.strip() for line in result.output.splitlines()[1:]]
    assert result.output.splitlines()[0] == f"{flows}: {len(lines)} problem(s)"
    assert lines[0] == "document at $[1]: a string where a node object was expected"
    assert lines[1].startswith("document at $[3]: 'id' is a required property")
    assert lines[2] == "node 'h' (http in) at $[4]: 'url' is a required property"
    assert lines[3].startswith("node 'c' (ui_worldmap) at $[5].type: unknown node type "
                               "'ui_worldmap': a contrib node that is not installed")
    assert lines[4].startswith("node 'js' (function) at $[6]: ")
    assert "JavaScript syntax error in func at line 2, col " in lines[4]
    assert lines[5].startswith("node 'ch' (change) at $[8]: ")
    assert "JSONata error in rule 1" in lines[5] and "'$sum('" in lines[5]
    assert all(line.startswith("node 'r' (range) at $[9]") for line in lines[6:])
    assert any(".action: 'nope' is not one of" in line for line in lines[6:])
    assert not any("'cfg'" in line or "'ok'" in line for line in lines)


def test_usage_errors_missing_files_and_version(tmp_path):
    usage = run_cli("validate")
    assert usage.exit_code == 2 and "the following arguments are required: FLOWFILE" in usage.output
    unknown = run_cli("frobnicate")
    assert unknown.exit_code == 2 and "invalid choice: 'frobnicate'" in unknown.output
    missing = run_cli("validate", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1
    assert "cannot read the file: No such file or directory" in missing.output
    shown = run_cli("--version")
    assert shown.exit_code == 0 and shown.output.startswith("flowrt, version ")
