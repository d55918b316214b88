"""Run the real Node-RED flows of ``tests/compat/flows`` in flowrt and say what broke.

Each flow file is stored as found (see ``SOURCES``). :func:`prepare` turns it into a
document flowrt can start on a test machine: nodes whose type flowrt does not know are
removed with the wires to them (a Node-RED core node flowrt lacks is counted apart from a
contrib node), nodes that would reach outside the machine are removed even when known,
and every ``mqtt-broker`` is pointed at a local test broker. :func:`run_flow` starts the
result in-process, fires every inject node once, waits (bounded) until the flow is idle
and returns a :class:`FlowResult` with every error, each tied to the node that reported it.

Used by ``tests/compat/test_corpus.py`` (which asserts) and ``scripts/compat_report.py``
(which prints the numbers).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowrt import flowdoc
from flowrt.clock import FakeClock
from flowrt.errors import DeployError, FlowrtError, FlowValidationError
from flowrt.nodered_types import is_core_type
from flowrt.testing import FlowHarness, make_registry

COMPAT_DIR = Path(__file__).resolve().parent
FLOWS_DIR = COMPAT_DIR / "flows"
SOURCES = COMPAT_DIR / "SOURCES"

# Known to flowrt or not, these would touch the world outside the test: other hosts
# (http, tcp, udp, websocket), the file system or a shell. flowrt has none of them
# today; if it gains one, the corpus still runs without it until the harness learns
# to point it at something local, as it does for mqtt-broker.
OUTSIDE_TYPES = frozenset({
    "http request", "http proxy", "websocket in",
    "websocket out", "websocket-listener", "websocket-client", "tcp in", "tcp out",
    "tcp request", "udp in", "udp out", "exec", "file", "file in", "watch",
})

# The function/JSONata errors the test expects, in one place: file -> node id -> why.
# Only these nodes' errors are allowed; the rest of the file is checked as any other,
# and an expected error that no longer happens fails the test (the entry is stale).
# "Node-RED 4.1 too: ..." -- Node-RED 4.1.15 given the same prepared document (catch
# nodes taken out, since Node-RED logs no error a catch node handles), every inject
# fired once through POST /inject/:id, reported that error for that node: the code
# fails on data it does not get here (Home Assistant state, device replies) or fails
# on purpose (the examples of catch and node.error). "Node module ... from libs" -- a
# function node that loads a Node module, which flowrt's function node cannot.
EXCEPTIONS: dict[str, dict[str, str]] = {
    'HBir__node-red-flows__flows.json': {
        '039b8253b7696f59': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        '67fd39a02f5fe012': "Node-RED 4.1 too: TypeError: Cannot convert undefined or null to o...",
    },
    'Node-red-flows-mobile-web-app__mobi_scheduler_flow.json': {
        'c6345f77.39cba': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (re...",
        'a7923bac.586dc8': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (r...",
        '4397e4b0.bc681c': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (r...",
        '624d3c66.9db2c4': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (r...",
        '9cb192d1.634e7': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (re...",
    },
    'NodeRED-Projects__Smart-Filament-Storage.json': {
        '9a6090af8f7b27ba': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
    },
    'NodeRED-Projects__flows.json': {
        'a563736d.0dfa': "Node-RED 4.1 too: TypeError: Reduce of empty array with no initial value",
        '1d9afc9d.96eb43': "Node-RED 4.1 too: TypeError: Reduce of empty array with no initial ...",
    },
    'farmOS-3.X-Node-Red-Flows__Herd-initialization-flow.json': {
        'e7e4f19f0ce41cff': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        'b3bede87ee83f57a': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        'd2f9dad2a32635c3': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        '587b4e7e8f880ffa': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
    },
    'home-automation__flows.json': {
        '63b29e7581a0110a': "Node module 'suncalc' from libs",
        '47acab248c4d8501': "Node module 'suncalc' from libs",
    },
    'nodeRed-HA-GrowingFunctions__allFlows.json': {
        'b6b647143f2e8fda': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        'b044244b9ed623a6': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        '092db9cb1bf30fa5': "Node-RED 4.1 too: TypeError: Cannot read properties of null (readi...",
        'dd81abb6e490cf3f': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        'b7b40814c4fec103': "Node-RED 4.1 too: TypeError: Cannot read properties of null (readi...",
        'de78abd16fcaf98d': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        '224327677b576b85': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
        'f8c51d0074321534': "Node-RED 4.1 too: TypeError: Cannot read properties of null (readi...",
        '1e6dcc3c49033d86': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
    },
    'nodeRed-HA-GrowingFunctions__importSensorFeed.json': {
        'ef59bddc391216d0': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (...",
    },
    'nodered-examples/common__catch__01---Catch-error.json': {
        '7bab9134.35ad': "Node-RED 4.1 too: Error: Error Occured!",
    },
    'nodered-examples/common__link__03---Link-call.json': {
        '9095bcd27e7c3bd7': "Node-RED 4.1 too: TypeError: node.linkcall is not a function",
    },
    'nodered-examples/function__function__04---Logging-events.json': {
        'ee4f5964.5cdae8': "Node-RED 4.1 too: Oh no, something bad happened",
    },
    'nodered-examples/function__function__05---Handling-errors.json': {
        '1bcca7af.619428': "Node-RED 4.1 too: Oh no, something bad happened",
    },
    'nodered-examples/function__function__08---Using-external-modules.json': {
        'c9100743.673598': "Node-RED 4.1 too: TypeError: Cannot read properties of undefined (r...",
    },
}


IDLE_WITHIN = 5.0
"""Seconds a flow with live MQTT connections gets to become idle."""

QUIET = 0.15
"""Seconds without a delivery after which a flow with MQTT connections counts as idle:
a message may be on its way through the broker while no delivery is queued."""

_JSONATA_MARK = "jsonata"


# ------------------------------------------------------------------ the corpus
def flow_files() -> list[Path]:
    """Every flow file of the corpus, sorted (community files, then Node-RED's examples)."""
    return sorted(FLOWS_DIR.rglob("*.json"), key=lambda p: (p.parent != FLOWS_DIR, str(p)))


def file_key(path: Path) -> str:
    """A flow file's name relative to ``flows/`` (as in SOURCES and EXCEPTIONS); its
    plain name when it lies elsewhere (the harness's own tests)."""
    if path.is_relative_to(FLOWS_DIR):
        return path.relative_to(FLOWS_DIR).as_posix()
    return path.name


def sources() -> dict[str, dict[str, str]]:
    """SOURCES as ``{file: {repository, path, commit, licence}}``."""
    entries = {}
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, repository, path, commit, licence = line.split("\t")
        entries[name] = {"repository": repository, "path": path, "commit": commit,
                         "licence": licence}
    return entries


def load_nodes(path: Path) -> list[dict[str, Any]]:
    """A flow file's nodes: a JSON array, or Node-RED's v2 ``{"flows": [...]}`` shape."""
    doc = json.loads(path.read_bytes())
    if isinstance(doc, dict) and isinstance(doc.get("flows"), list):
        doc = doc["flows"]
    if not isinstance(doc, list) or not all(isinstance(n, dict) for n in doc):
        raise ValueError(f"{path.name}: not a Node-RED flow (a list of node objects)")
    return doc


# --------------------------------------------------------------- what a flow holds
def jsonata_expressions(node: dict[str, Any]) -> list[str]:
    """The JSONata expressions in a node's configuration.

    Node-RED marks a typed input as JSONata with the type ``"jsonata"`` beside the
    value (``tot``/``vt`` in change and switch rules, ``payloadType``, ``propertyType``,
    ``targetType``, ``op1type``, inject's ``props[].vt``, ...); a join in reduce mode
    holds JSONata in ``reduceExp`` and ``reduceFixup`` without a mark.
    """
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if item == _JSONATA_MARK and isinstance(key, str):
                    found.append(_value_beside(value, key))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk({k: v for k, v in node.items()
          if k not in ("wires", "x", "y", "z", "id", "name", "info")})
    if node.get("type") == "join" and node.get("mode") == "reduce":
        found += [node[k] for k in ("reduceExp", "reduceFixup")
                  if isinstance(node.get(k), str) and node[k].strip()]
    return found


def _value_beside(obj: dict[str, Any], type_key: str) -> str:
    # "payloadType" -> "payload", "tot" -> "to", "vt" -> "v", "op1type" -> "op1",
    # "targetType" -> "complete" for debug (the one that does not follow the pattern).
    for candidate in (re.sub(r"(?i)type$", "", type_key), type_key[:-1], "complete",
                      "property", "v", "to"):
        if candidate and candidate != type_key and isinstance(obj.get(candidate), str):
            return obj[candidate]
    return ""


@dataclass
class Prepared:
    """A flow document ready to start, and what was taken out of it."""

    nodes: list[dict[str, Any]]
    removed_core: Counter[str] = field(default_factory=Counter)
    removed_contrib: Counter[str] = field(default_factory=Counter)
    removed_outside: Counter[str] = field(default_factory=Counter)


def prepare(nodes: list[dict[str, Any]], broker_port: int) -> Prepared:
    """A copy of ``nodes`` that flowrt can start here (see the module docstring)."""
    registry = make_registry()
    nodes = copy.deepcopy(nodes)
    missing = set(flowdoc.missing_types(nodes, registry))
    result = Prepared(nodes=[])
    drop: set[str] = set()
    for node in nodes:
        node_type = node.get("type", "")
        if node_type in missing:
            target = result.removed_core if is_core_type(node_type) else result.removed_contrib
            target[node_type] += 1
        elif node_type in OUTSIDE_TYPES:
            result.removed_outside[node_type] += 1
        else:
            continue
        drop.add(node["id"])
    for node in nodes:
        if node["id"] in drop:
            continue
        _forget(node, drop)
        if node.get("type") == "mqtt-broker":
            _point_at_local_broker(node, broker_port)
        result.nodes.append(node)
    return result


def _forget(node: dict[str, Any], drop: set[str]) -> None:
    """Remove references to dropped nodes: wires, link targets, subflow ports, groups."""
    if isinstance(node.get("wires"), list):
        node["wires"] = [[t for t in port if t not in drop] if isinstance(port, list) else port
                         for port in node["wires"]]
    if isinstance(node.get("links"), list):
        node["links"] = [t for t in node["links"] if t not in drop]
    if node.get("type") == "group" and isinstance(node.get("nodes"), list):
        node["nodes"] = [t for t in node["nodes"] if t not in drop]
    if node.get("type") == "subflow":
        for port in (node.get("in") or []) + (node.get("out") or []) + \
                ([node["status"]] if isinstance(node.get("status"), dict) else []):
            if isinstance(port, dict) and isinstance(port.get("wires"), list):
                port["wires"] = [w for w in port["wires"]
                                 if not (isinstance(w, dict) and w.get("id") in drop)]


def _point_at_local_broker(node: dict[str, Any], port: int) -> None:
    node.update(broker="127.0.0.1", port=str(port), usetls=False, tls="")
    # A fixed client id with a persistent session would carry messages from one
    # corpus file's run into the next; a generated id starts clean each time.
    node["clientid"] = ""
    node["cleansession"] = True
    node.pop("credentials", None)


# --------------------------------------------------------------------- running
@dataclass
class NodeError:
    """One error a node reported while its flow started or ran."""

    node_id: str
    node_type: str
    kind: str  # "function", "jsonata" or "other"
    text: str
    at_start: bool = False

    def line(self) -> str:
        """The error on one line, for reports."""
        where = "start" if self.at_start else "run"
        text = " ".join(self.text.split())
        return f"{self.kind} {self.node_type} {self.node_id} ({where}): {text[:300]}"


@dataclass
class FlowResult:
    """What running one corpus file showed."""

    name: str
    nodes: int = 0
    function_nodes: int = 0
    jsonata_expressions: int = 0
    jsonata_nodes: int = 0
    injects_fired: int = 0
    started: bool = False
    nodes_taken_out: int = 0
    start_problem: str = ""
    idle: bool = True
    received: dict[str, int] = field(default_factory=dict)
    errors: list[NodeError] = field(default_factory=list)
    removed_core: Counter[str] = field(default_factory=Counter)
    removed_contrib: Counter[str] = field(default_factory=Counter)
    removed_outside: Counter[str] = field(default_factory=Counter)

    @property
    def function_jsonata_errors(self) -> list[NodeError]:
        """Every error of a function node or of a node with a JSONata expression."""
        return [e for e in self.errors if e.kind in ("function", "jsonata")]

    @property
    def unexpected_errors(self) -> list[NodeError]:
        """The function/JSONata errors ``EXCEPTIONS`` does not expect: the test fails on
        these."""
        expected = EXCEPTIONS.get(self.name, {})
        return [e for e in self.function_jsonata_errors if e.node_id not in expected]

    @property
    def stale_exceptions(self) -> list[str]:
        """Nodes ``EXCEPTIONS`` expects to fail that did not."""
        failed = {e.node_id for e in self.errors}
        return sorted(set(EXCEPTIONS.get(self.name, {})) - failed)


class _LogCollector(logging.Handler):
    """Keeps the runtime's ERROR log records (a node that fails to start may only be
    logged, with its id, once a bad node no longer stops the whole deploy)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


async def run_flow(path: Path, broker_port: int) -> FlowResult:
    """Start one corpus file in-process, fire its injects, wait for idle, collect errors.

    A node that fails validation or start is reported with its id; while flowrt refuses
    a whole deploy for one such node, the harness takes that node out and starts the
    rest (as Node-RED does), once per node at most, so the other nodes are still tried.
    """
    original = load_nodes(path)
    prepared = prepare(original, broker_port)
    result = FlowResult(
        name=file_key(path), nodes=len(original),
        function_nodes=sum(n.get("type") == "function" for n in original),
        jsonata_expressions=sum(len(jsonata_expressions(n)) for n in original),
        jsonata_nodes=sum(bool(jsonata_expressions(n)) for n in original),
        removed_core=prepared.removed_core, removed_contrib=prepared.removed_contrib,
        removed_outside=prepared.removed_outside)
    by_id = {n["id"]: n for n in prepared.nodes if isinstance(n.get("id"), str)}
    kinds = {node_id: _kind(node) for node_id, node in by_id.items()}

    def origin(node_id: str) -> str:
        # Nodes inside a subflow instance run as "<instance>-<node>".
        if node_id in by_id:
            return node_id
        for cut in range(len(node_id)):
            if node_id[cut] == "-" and node_id[cut + 1:] in by_id:
                return node_id[cut + 1:]
        return node_id

    def record(node_id: str, node_type: str, text: str, at_start: bool) -> None:
        source = origin(node_id)
        kind = kinds.get(source, "function" if node_type == "function" else "other")
        result.errors.append(NodeError(source, node_type, kind, text, at_start))

    collector = _LogCollector()
    logger = logging.getLogger()
    logger.addHandler(collector)
    harness = FlowHarness([], clock=FakeClock())
    try:
        await harness.runtime.open()
        nodes = prepared.nodes
        for _ in range(len(nodes) + 1):
            # Only the log of the deploy that ran counts: a refused one raised.
            collector.records.clear()
            try:
                await harness.deploy(nodes)
                result.started = harness.runtime.state == "start"
                break
            except DeployError as exc:
                if exc.node_id is None:
                    result.start_problem = str(exc)
                    break
                record(exc.node_id, exc.node_type or "", str(exc), True)
                nodes = _without(nodes, {origin(exc.node_id)})
                result.nodes_taken_out += 1
            except FlowValidationError as exc:
                # Node-RED starts a node whatever its configuration says; flowrt
                # refuses the document. Each node named is that node's error.
                named = {p.id for p in exc.problems if p.id in by_id}
                if not named or len(named) < len(exc.problems):
                    result.start_problem = str(exc)
                    break
                for problem in exc.problems:
                    record(str(problem.id), problem.type or "", str(problem), True)
                nodes = _without(nodes, named)
                result.nodes_taken_out += len(named)
            except FlowrtError as exc:
                result.start_problem = str(exc)
                break
        if result.started:
            for text in collector.records:
                for node_id in _ids_named(text, by_id):
                    record(node_id, by_id[node_id].get("type", ""), text, True)
            collector.records.clear()
            await _wait_connected(harness)
            for node in list(harness.runtime.running_nodes()):
                if node.config.get("type") == "inject":
                    node.trigger()  # type: ignore[attr-defined]
                    result.injects_fired += 1
            result.idle = await _wait_idle(harness)
        result.received = {n.id: n.received for n in harness.runtime.running_nodes()}
        for entry in harness.errors:
            record(str(entry.get("id", "")), str(entry.get("type", "")),
                   str(entry.get("msg", "")), False)
    finally:
        try:
            await harness.runtime.stop()
        finally:
            logger.removeHandler(collector)
    return result


def _kind(node: dict[str, Any]) -> str:
    if node.get("type") == "function":
        return "function"
    return "jsonata" if jsonata_expressions(node) else "other"


def _without(nodes: list[dict[str, Any]], drop: set[str]) -> list[dict[str, Any]]:
    kept = [n for n in nodes if n.get("id") not in drop]
    for node in kept:
        _forget(node, drop)
    return kept


def _ids_named(text: str, by_id: dict[str, Any]) -> list[str]:
    return [node_id for node_id in by_id if len(node_id) >= 6 and node_id in text]


async def _wait_connected(harness: FlowHarness) -> None:
    """Wait (bounded) until every MQTT broker connection in use is up, so the first
    publish finds the subscriptions in place. One that never connects is not an error
    here: its nodes report it themselves."""
    brokers = [n for n in harness.runtime.running_nodes()
               if n.config.get("type") == "mqtt-broker" and getattr(n, "transport", None)]
    deadline = time.monotonic() + IDLE_WITHIN
    while any(getattr(b, "_state", "") != "connected" for b in brokers):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


async def _wait_idle(harness: FlowHarness) -> bool:
    """Wait until no delivery is queued; with live MQTT connections also until no node
    has received a message for ``QUIET`` seconds. False when not idle in time (a flow
    that loops through the broker, say)."""
    try:
        await harness.settle()
    except AssertionError:
        return False
    live = any(n.config.get("type") == "mqtt-broker" and getattr(n, "transport", None)
               for n in harness.runtime.running_nodes())
    if not live:
        return True
    deadline = time.monotonic() + IDLE_WITHIN
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        received = sum(n.received for n in harness.runtime.running_nodes())
        if received != last or len(harness.runtime.dispatcher):
            last, quiet_since = received, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET:
            return True
        await asyncio.sleep(0.01)
    return False


# --------------------------------------------------------------------- numbers
def summary(results: list[FlowResult]) -> str:
    """The corpus numbers, as printed by ``pytest -m compat -s`` and the report script."""
    core: Counter[str] = Counter()
    contrib: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for r in results:
        core.update(r.removed_core)
        contrib.update(r.removed_contrib)
        outside.update(r.removed_outside)
    fn_errors = [e for r in results for e in r.errors if e.kind == "function"]
    js_errors = [e for r in results for e in r.errors if e.kind == "jsonata"]
    fn_nodes = {(r.name, e.node_id) for r in results for e in r.errors if e.kind == "function"}
    js_nodes = {(r.name, e.node_id) for r in results for e in r.errors if e.kind == "jsonata"}
    lines = [
        f"files: {len(results)}",
        f"nodes: {sum(r.nodes for r in results)}",
        f"function nodes: {sum(r.function_nodes for r in results)}",
        f"JSONata expressions: {sum(r.jsonata_expressions for r in results)} "
        f"(in {sum(r.jsonata_nodes for r in results)} nodes)",
        f"inject nodes fired: {sum(r.injects_fired for r in results)}",
        f"flows that start: {sum(r.started for r in results)} "
        f"({sum(r.started and not r.nodes_taken_out for r in results)} with every node; "
        f"{sum(r.nodes_taken_out for r in results)} nodes taken out because they "
        f"failed validation or start)",
        f"flows with function/JSONata errors: "
        f"{sum(bool(r.function_jsonata_errors) for r in results)} "
        f"({sum(bool(r.unexpected_errors) for r in results)} not in EXCEPTIONS)",
        f"function nodes with errors: {len(fn_nodes)} "
        f"({len(fn_errors)} errors, {sum(e.at_start for e in fn_errors)} at start)",
        f"JSONata nodes with errors: {len(js_nodes)} "
        f"({len(js_errors)} errors, {sum(e.at_start for e in js_errors)} at start)",
        f"other errors: {sum(1 for r in results for e in r.errors if e.kind == 'other')}",
        f"flows not idle in time: {sum(not r.idle for r in results)}",
        f"types removed: core {sum(core.values())} nodes of {len(core)} types, "
        f"contrib {sum(contrib.values())} nodes of {len(contrib)} types, "
        f"outside the machine {sum(outside.values())} nodes",
        "core types removed: " + ", ".join(f"{t} {n}" for t, n in core.most_common()),
    ]
    return "\n".join(lines)
