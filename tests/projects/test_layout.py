"""flowrt.projects.layout: the flows as one file per tab/subflow, round trips exactly."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flowrt import flowdoc
from flowrt.errors import FlowValidationError
from flowrt.projects import layout

CORPUS = sorted((Path(__file__).resolve().parents[1] / "compat" / "flows").rglob("*.json"))
TAB = {"id": "t1", "type": "tab", "label": "Kitchen"}
SUB = {"id": "s1", "type": "subflow", "name": "Scale", "in": [], "out": []}
CONF = {"id": "b1", "type": "mqtt-broker", "broker": "localhost"}
INJECT = {"id": "n1", "type": "inject", "z": "t1", "name": "tick", "x": 100, "y": 40,
          "wires": [["n2"]]}
DEBUG = {"id": "n2", "type": "debug", "z": "t1", "x": 300, "y": 40, "wires": []}
INNER = {"id": "n3", "type": "function", "z": "s1", "func": "return msg;", "x": 1, "y": 2,
         "wires": [[]]}
FLOWS = [TAB, SUB, CONF, INJECT, DEBUG, INNER]


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) >= 150


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_every_corpus_file_round_trips_exactly(path: Path) -> None:
    flows = flowdoc.parse(path.read_bytes())
    files = layout.split(flows)
    back = layout.join(files)
    assert back == flows
    # Order of the nodes included, and the canonical form is a fixed point.
    assert [n["id"] for n in back] == [n["id"] for n in flows]
    assert layout.split(back) == files


def test_one_file_per_tab_and_subflow_and_an_index() -> None:
    files = layout.split(FLOWS)
    assert sorted(files) == ["index.json", "subflows/s1.json", "tabs/t1.json"]
    assert [n["id"] for n in orjson.loads(files["tabs/t1.json"])] == ["t1", "n1", "n2"]
    assert [n["id"] for n in orjson.loads(files["subflows/s1.json"])] == ["s1", "n3"]
    index = orjson.loads(files["index.json"])
    assert index["nodes"] == [CONF]
    assert index["order"] == [["tabs/t1.json", 0], ["subflows/s1.json", 0],
                              ["index.json", 0], ["tabs/t1.json", 1], ["subflows/s1.json", 1]]


def test_a_node_is_a_block_with_one_key_per_line_in_a_fixed_order() -> None:
    shuffled = {"wires": [["n2"]], "y": 40, "x": 100, "name": "tick", "z": "t1",
                "type": "inject", "id": "n1", "props": [{"v": 1, "p": "payload"}]}
    block = layout.dumps_node(shuffled)
    assert block.splitlines() == [
        "  {", '    "id": "n1",', '    "type": "inject",', '    "z": "t1",',
        '    "name": "tick",', '    "props": [{"p":"payload","v":1}],', '    "x": 100,',
        '    "y": 40,', '    "wires": [["n2"]]', "  }"]


def test_adding_and_removing_nodes_leaves_the_index_alone() -> None:
    before = layout.split(FLOWS)
    added = {"id": "n9", "type": "debug", "z": "t1", "x": 5, "y": 5, "wires": []}
    after = layout.split([TAB, SUB, CONF, INJECT, DEBUG, added, INNER])
    assert after["index.json"] == before["index.json"]
    assert after["tabs/t1.json"].decode().startswith(before["tabs/t1.json"].decode()[:-3])
    removed = layout.split([TAB, SUB, CONF, DEBUG, INNER])
    assert removed["index.json"] == before["index.json"]


def test_an_edit_is_a_one_line_change() -> None:
    before = layout.split(FLOWS)["tabs/t1.json"].decode().splitlines()
    after = layout.split([TAB, SUB, CONF, {**INJECT, "name": "tock"}, DEBUG, INNER]
                         )["tabs/t1.json"].decode().splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
        ('    "name": "tick",', '    "name": "tock",')]


def test_ids_that_are_not_safe_file_names_are_encoded() -> None:
    assert layout.file_name("a1b2.c3") == "a1b2.c3.json"
    for unsafe in ("../etc", "..", "a/b", ".hidden", "ü"):
        name = layout.file_name(unsafe)
        assert "/" not in name and not name.startswith(".")
    flows = [{"id": "../x", "type": "tab"}, {"id": "n", "type": "comment", "z": "../x"}]
    assert layout.join(layout.split(flows)) == flows


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.pop("tabs/t1.json"), "its order names tabs/t1.json, which does not exist"),
    (lambda f: f.update({"tabs/t1.json": b"[{"}), "tabs/t1.json: not valid JSON"),
    (lambda f: f.update({"index.json": b"{}"}), "not a flowrt project index"),
    (lambda f: f.update({"index.json": _without_run(f["index.json"], 0)}),
     "the runs of tabs/t1.json do not follow each other"),
    (lambda f: f.update({"index.json": _without_run(f["index.json"], 2)}),
     "its order leaves out nodes of index.json"),
])
def test_broken_files_are_reported_with_the_file(change: object, message: str) -> None:
    files = layout.split(FLOWS)
    change(files)  # type: ignore[operator]
    with pytest.raises(FlowValidationError) as caught:
        layout.join(files)
    assert message in str(caught.value)


def _without_run(index: bytes, position: int) -> bytes:
    document = orjson.loads(index)
    document["order"].pop(position)
    return orjson.dumps(document)


def test_files_the_index_does_not_name_are_not_flows() -> None:
    files = {**layout.split(FLOWS), "tabs/old.json": b'[{"id": "x", "type": "tab"}]'}
    assert layout.join(files) == FLOWS
