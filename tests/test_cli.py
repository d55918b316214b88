"""The command line: validate and nodes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from flowrt.cli import main


def test_validate_reports_node_id_type_and_path_and_exits_1(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"id": "t", "type": "tab"}]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "t", "type": "tab"},
                               {"id": "n1", "type": "mystery", "z": "t", "x": 0, "y": 0}]))
    result = CliRunner().invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{good}: ok" in result.output
    assert "node 'n1' (mystery) at $[1].type: unknown node type 'mystery'" in result.output


def test_validate_ok_exits_0(tmp_path):
    good = tmp_path / "good.json"
    good.write_text("[]")
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output


def test_nodes_lists_types_with_their_origin(tmp_path):
    result = CliRunner().invoke(main, ["nodes", "--data-dir", str(tmp_path)])
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
    result = CliRunner().invoke(main, ["validate", str(latin1), str(too_deep)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "document at $: byte 0xe9 at offset 41 is not UTF-8" in result.output
    assert "node 'n1' (comment) at $[1].deep: nested more than 200 levels deep" in result.output
