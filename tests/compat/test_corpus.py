"""Real Node-RED flows run in flowrt: no function node and no JSONata expression fails.

Each file of ``tests/compat/flows`` (public repositories' flows and Node-RED's own
examples, provenance in ``SOURCES``) is prepared and run by :mod:`tests.compat.corpus`:
unknown node types removed, MQTT pointed at a private mosquitto, every inject fired
once. The test asserts that the flow started and that no function node and no node
with a JSONata expression reported an error; other errors are printed, not failed.

``pytest -m compat -s`` prints the corpus numbers at the end. With
``FLOWRT_COMPAT_REPORT=1`` the corpus files report instead of asserting (to see the
numbers while the function/JSONata work is unfinished); the harness tests still assert.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.compat import corpus

pytestmark = pytest.mark.compat

REPORT_ONLY = os.environ.get("FLOWRT_COMPAT_REPORT", "") not in ("", "0")

MIN_COMMUNITY_FILES = 40
MIN_COMMUNITY_REPOSITORIES = 35


@pytest.fixture(scope="module")
def results() -> Iterator[list[corpus.FlowResult]]:
    """Every corpus file's result; their numbers are printed when the module ends."""
    collected: list[corpus.FlowResult] = []
    yield collected
    if collected:
        print("\n--- Node-RED compatibility corpus ---")
        print(corpus.summary(collected))


@pytest.mark.broker
@pytest.mark.parametrize("path", corpus.flow_files(), ids=corpus.file_key)
async def test_flow_runs_without_function_or_jsonata_errors(
        path: Path, compat_broker: Mosquitto, results: list[corpus.FlowResult]) -> None:
    result = await corpus.run_flow(path, compat_broker.port)
    results.append(result)
    for error in result.errors:
        print(error.line())
    if REPORT_ONLY:
        return
    assert result.started, f"{result.name} did not start: {result.start_problem}"
    bad = result.unexpected_errors
    assert not bad, f"{len(bad)} function/JSONata errors in {result.name}:\n" + \
        "\n".join(e.line() for e in bad)
    assert not result.stale_exceptions, \
        f"expected errors no longer happen; remove from EXCEPTIONS: {result.stale_exceptions}"


# ------------------------------------------------------------ the corpus itself
def test_every_file_has_its_provenance() -> None:
    files = {corpus.file_key(p) for p in corpus.flow_files()}
    sources = corpus.sources()
    assert files == set(sources), (
        f"without a SOURCES line: {sorted(files - set(sources))}; "
        f"SOURCES lines without a file: {sorted(set(sources) - files)}")
    for name, entry in sources.items():
        assert len(entry["commit"]) == 40, f"{name}: commit {entry['commit']!r}"
    community = {n: e for n, e in sources.items() if e["repository"] != "node-red/node-red"}
    assert len(community) >= MIN_COMMUNITY_FILES
    assert len({e["repository"] for e in community.values()}) >= MIN_COMMUNITY_REPOSITORIES
    examples = [n for n, e in sources.items() if e["repository"] == "node-red/node-red"]
    assert examples and all(n.startswith("nodered-examples/") for n in examples)


@pytest.mark.parametrize("path", corpus.flow_files(), ids=corpus.file_key)
def test_file_is_a_node_red_flow(path: Path) -> None:
    nodes = corpus.load_nodes(path)
    assert nodes, f"{path.name} holds no nodes"
    for node in nodes:
        assert isinstance(node.get("id"), str) and isinstance(node.get("type"), str), node


def test_exceptions_name_corpus_files_and_say_why() -> None:
    files = {corpus.file_key(p) for p in corpus.flow_files()}
    for name, nodes in corpus.EXCEPTIONS.items():
        assert name in files, f"EXCEPTIONS names {name!r}, which is not in the corpus"
        ids = {n["id"] for n in corpus.load_nodes(corpus.FLOWS_DIR / name)}
        for node_id, reason in nodes.items():
            assert node_id in ids, f"{name}: no node {node_id!r}"
            assert len(reason.split()) >= 3, f"{name} {node_id}: say why, not {reason!r}"


# ----------------------------------------------------- the harness can see failures
TAB = {"id": "t1", "type": "tab", "label": "harness"}


def _write(tmp_path: Path, nodes: list[dict]) -> Path:
    target = tmp_path / "flow.json"
    target.write_text(json.dumps([TAB, *nodes]))
    return target


def _inject(node_id: str, wires: list[str]) -> dict:
    return {"id": node_id, "type": "inject", "z": "t1", "props": [{"p": "payload"}],
            "payload": "21", "payloadType": "num", "repeat": "", "once": False,
            "wires": [wires]}


def _function(node_id: str, code: str, wires: list[str]) -> dict:
    # No "language" key: the function node of a flow exported from Node-RED.
    return {"id": node_id, "type": "function", "z": "t1", "func": code, "outputs": 1,
            "wires": [wires]}


@pytest.mark.broker
async def test_a_failing_function_node_is_a_function_error(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    # An undefined name fails at run time in JavaScript and in Python alike.
    path = _write(tmp_path, [_inject("i1", ["f1"]),
                             _function("f1", "nosuchname();\nreturn msg;", [])])
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.started and result.injects_fired == 1
    assert [(e.node_id, e.kind) for e in result.function_jsonata_errors] == \
        [("f1", "function")]


@pytest.mark.broker
async def test_a_node_that_cannot_start_is_its_error_and_the_rest_runs(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    # Not code in JavaScript nor in Python; "return msg" is code in both.
    path = _write(tmp_path, [_inject("i1", ["bad", "good"]),
                             _function("bad", "this is not code(", ["d1"]),
                             _function("good", "return msg", ["d1"]),
                             {"id": "d1", "type": "debug", "z": "t1", "wires": []}])
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.started
    assert {(e.node_id, e.kind) for e in result.errors} == {("bad", "function")}
    assert all(e.at_start for e in result.errors)
    assert result.received["d1"] == 1


@pytest.mark.broker
async def test_a_failing_jsonata_expression_is_a_jsonata_error(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    change = {"id": "c1", "type": "change", "z": "t1", "wires": [[]],
              "rules": [{"t": "set", "p": "payload", "pt": "msg",
                         "to": "$nosuchfunction(payload)", "tot": "jsonata"}]}
    path = _write(tmp_path, [_inject("i1", ["c1"]), change])
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.jsonata_expressions == 1
    assert {(e.node_id, e.kind) for e in result.function_jsonata_errors} == {("c1", "jsonata")}


@pytest.mark.broker
async def test_other_errors_are_collected_but_are_not_function_errors(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    # An inject whose payload type no Node-RED knows: an error of the inject itself.
    bad = dict(_inject("i1", []), payloadType="no-such-type")
    path = _write(tmp_path, [bad, _inject("i2", [])])
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.started
    assert [e.node_id for e in result.errors] == ["i1"]
    assert result.errors[0].kind == "other" and not result.function_jsonata_errors


@pytest.mark.broker
async def test_unknown_types_are_removed_with_their_wires(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    nodes = [_inject("i1", ["ui", "req", "d1"]),
             {"id": "ui", "type": "ui_worldmap", "z": "t1", "wires": []},
             {"id": "req", "type": "http request", "z": "t1", "url": "http://example.com/",
              "wires": [["d1"]]},
             {"id": "d1", "type": "debug", "z": "t1", "wires": []}]
    path = _write(tmp_path, nodes)
    prepared = corpus.prepare(corpus.load_nodes(path), compat_broker.port)
    assert prepared.removed_contrib == Counter({"ui_worldmap": 1})
    # http request is a known type now: removed because it would reach outside the machine.
    assert prepared.removed_outside == Counter({"http request": 1})
    assert [n["id"] for n in prepared.nodes] == ["t1", "i1", "d1"]
    assert prepared.nodes[1]["wires"] == [["d1"]]
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.started and not result.errors
    assert result.received["d1"] == 1


@pytest.mark.broker
async def test_mqtt_goes_to_the_local_broker_and_the_flow_waits_for_it(
        tmp_path: Path, compat_broker: Mosquitto) -> None:
    broker = {"id": "b1", "type": "mqtt-broker", "broker": "mqtt.example.com",
              "port": "8883", "usetls": True, "clientid": "fixed", "cleansession": False}
    nodes = [broker, _inject("i1", ["out"]),
             {"id": "out", "type": "mqtt out", "z": "t1", "broker": "b1",
              "topic": "compat/harness", "qos": "1", "wires": []},
             {"id": "in", "type": "mqtt in", "z": "t1", "broker": "b1",
              "topic": "compat/harness", "qos": "1", "datatype": "utf8", "wires": [["d1"]]},
             {"id": "d1", "type": "debug", "z": "t1", "wires": []}]
    path = _write(tmp_path, nodes)
    prepared = corpus.prepare(corpus.load_nodes(path), compat_broker.port)
    local = next(n for n in prepared.nodes if n["id"] == "b1")
    assert (local["broker"], local["port"], local["usetls"]) == \
        ("127.0.0.1", str(compat_broker.port), False)
    result = await corpus.run_flow(path, compat_broker.port)
    assert result.started and result.idle and not result.errors
    # The message went out, through mosquitto, and back in before the run ended.
    assert result.received["d1"] == 1


def test_jsonata_expressions_are_found_wherever_node_red_takes_them() -> None:
    assert corpus.jsonata_expressions(
        {"type": "change", "rules": [{"t": "set", "to": "a+1", "tot": "jsonata"},
                                     {"t": "set", "to": "x", "tot": "str"}]}) == ["a+1"]
    assert corpus.jsonata_expressions(
        {"type": "switch", "property": "p*2", "propertyType": "jsonata",
         "rules": [{"t": "eq", "v": "$x", "vt": "jsonata"}]}) == ["p*2", "$x"]
    assert corpus.jsonata_expressions(
        {"type": "join", "mode": "reduce", "reduceExp": "$A+payload",
         "reduceFixup": ""}) == ["$A+payload"]
    assert corpus.jsonata_expressions(
        {"type": "debug", "complete": "payload", "targetType": "jsonata"}) == ["payload"]
    assert corpus.jsonata_expressions({"type": "join", "mode": "auto"}) == []
