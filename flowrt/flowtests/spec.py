"""The flow-test file format (docs/flow-tests.md): reading a file into :class:`TestFile`.

A file is YAML (JSON is YAML too, so ``.tests.json`` files read the same way). Every
mapping remembers the line it starts on, so a problem is reported as
``demo.tests.yaml:14: case "name": step 2: ...``. Node references (an id or a name) are
resolved against the flows here, so a typo fails before anything runs.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowrt.errors import FlowrtError

TEST_FILE_SUFFIXES = (".tests.yaml", ".tests.yml", ".tests.json")
"""How a test-case file's name ends; ``NAME.tests.yaml`` tests the flows in ``NAME.json``."""

MESSAGE_SHORTHANDS = ("payload", "topic")
"""Message keys a step may give directly instead of under ``msg``."""

_NODE_STEPS = {"inject", "expect", "expect nothing"}
_TOPIC_STEPS = {"publish", "expect topic", "expect nothing topic"}
_OPTIONS = {
    "inject": {"msg", *MESSAGE_SHORTHANDS},
    "publish": {"payload", "qos", "retain", "broker"},
    "advance": set(),
    "broker down": set(),
    "broker up": set(),
    "expect": {"msg", *MESSAGE_SHORTHANDS, "output", "within", "match", "tolerance"},
    "expect topic": {"payload", "qos", "retain", "broker", "within", "match", "tolerance"},
    "expect nothing": {"output", "within"},
    "expect nothing topic": {"broker", "within"},
}
_CASE_KEYS = {"name", "description", "real", "disabled", "context", "http", "steps"}
_FILE_KEYS = {"flows", "cases"}
_HTTP_KEYS = {"url", "method", "status", "headers", "body"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class FlowTestFormatError(FlowrtError):
    """A test-case file that cannot be used; each problem names its file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class NodeRef:
    """A node a step names, resolved: its id, its label for messages, its output count."""

    id: str
    label: str
    type: str
    outputs: int

    def __str__(self) -> str:
        return self.label


@dataclass
class Step:
    """One step of a case: ``kind`` is the step's verb (``inject``, ``expect topic``...)."""

    kind: str
    line: int
    node: NodeRef | None = None
    topic: str = ""
    seconds: float = 0.0
    msg: dict[str, Any] = field(default_factory=dict)
    """The message to send, or the keys to expect."""
    output: int = 1
    within: float = 0.0
    exact: bool = False
    tolerance: float = 0.0
    broker: NodeRef | None = None
    qos: int = 0
    retain: bool = False

    def describe(self) -> str:
        """What the step is about, as failures name it."""
        if self.node is not None:
            where = f"{self.node}"
            if self.kind != "inject" and self.node.outputs > 1:
                where += f" output {self.output}"
            return where
        return f"topic {self.topic!r}" + (f" on {self.broker}" if self.broker else "")


@dataclass
class HttpFixture:
    """A canned answer for ``http request`` nodes: the first fixture matching a request wins."""

    url: str
    method: str | None
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Case:
    """One test case."""

    name: str
    line: int
    path: Path
    steps: list[Step]
    context: dict[str, Any] = field(default_factory=dict)
    """``{"global": {...}, "flow": {TAB_ID: {...}}, "node": {NODE_ID: {...}}}``, resolved."""
    http: list[HttpFixture] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    """Ids of the nodes switched off for this case (as the editor's "disable" does)."""
    real: bool = False
    description: str = ""

    @property
    def where(self) -> str:
        """``file:line: case "name"``."""
        return f"{self.path}:{self.line}: case {self.name!r}"


@dataclass
class TestFile:
    """A test-case file and the flows its cases run on."""

    __test__ = False  # not a pytest test class

    path: Path
    flows_path: Path
    flows: list[dict[str, Any]]
    cases: list[Case]


def is_test_file(path: Path) -> bool:
    """True for a name that ends as a test-case file's does."""
    return path.name.endswith(TEST_FILE_SUFFIXES)


def tests_beside(flows_path: Path) -> list[Path]:
    """The test-case files of a flow file (``demo.json`` → ``demo.tests.yaml``...)."""
    stem = flows_path.name.removesuffix(".json")
    return [p for s in TEST_FILE_SUFFIXES if (p := flows_path.with_name(stem + s)).is_file()]


def flows_for(path: Path) -> Path:
    """The default flow file of a test-case file: the same name without ``.tests.*``."""
    for suffix in TEST_FILE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.with_name(path.name.removesuffix(suffix) + ".json")
    return path.with_suffix(".json")


# ---------------------------------------------------------------- YAML with lines
class _Map(dict[str, Any]):
    """A mapping read from the file, with the line it starts on."""

    line = 0


class _Loader(yaml.SafeLoader):
    """Safe YAML whose mappings remember their line and refuse duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.MarkedYAMLError("while reading a mapping", node.start_mark,
                                       f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def plain(value: Any) -> Any:
    """``value`` with every mapping a plain dict (what a message holds)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# ------------------------------------------------------------------- reading
class _Reader:
    """Reads one file, collecting every problem rather than stopping at the first."""

    def __init__(self, path: Path, flows: list[dict[str, Any]]) -> None:
        self.path = path
        self.problems: list[str] = []
        self.by_id = {n["id"]: n for n in flows if isinstance(n, dict) and "id" in n}
        self.tabs = [n for n in flows if isinstance(n, dict) and n.get("type") == "tab"]

    def problem(self, line: int, where: str, text: str) -> None:
        self.problems.append(f"{self.path}:{line}: {where}{text}")

    def node(self, ref: Any, line: int, where: str, config: bool = False) -> NodeRef | None:
        """The node with id or name ``ref`` (a problem when none or several); names are
        looked up among mqtt-broker config nodes when ``config``, among the others if not."""
        if not isinstance(ref, str) or not ref:
            self.problem(line, where, f"a node id or name is needed, not {ref!r}")
            return None
        found = self.by_id.get(ref)
        if found is None:
            named = [n for n in self.by_id.values() if n.get("name") == ref
                     and (n.get("type") == "mqtt-broker") == config]
            if len(named) > 1:
                ids = ", ".join(n["id"] for n in named)
                self.problem(line, where, f"{len(named)} nodes are named {ref!r} ({ids}): "
                                          "use an id")
                return None
            if not named:
                self.problem(line, where, f"no node has the id or name {ref!r}")
                return None
            found = named[0]
        name = found.get("name") or ""
        label = (f"{name!r} ({found['id']})" if name else f"{found['id']}")
        outputs = len(found.get("wires") or [])
        return NodeRef(found["id"], label, str(found.get("type")), outputs)

    def mapping(self, value: Any, line: int, where: str, what: str) -> _Map | None:
        if isinstance(value, _Map):
            return value
        self.problem(line, where, f"{what} must be a mapping, not {_kind(value)}")
        return None

    def known(self, data: _Map, allowed: set[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(data.line, where, f"unknown key {key!r} (known: "
                                               f"{', '.join(sorted(allowed))})")

    # -------------------------------------------------------------- the parts
    def case(self, data: Any, index: int, line: int) -> Case | None:
        found = self.mapping(data, line, "", f"case {index + 1}")
        if found is None:
            return None
        data = found
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(data.line, "", f"case {index + 1} needs a name")
            name = f"case {index + 1}"
        where = f"case {name!r}: "
        self.known(data, _CASE_KEYS, where)
        steps_data = data.get("steps")
        steps: list[Step] = []
        if not isinstance(steps_data, list) or not steps_data:
            self.problem(data.line, where, "`steps` must be a non-empty list")
        else:
            for number, step_data in enumerate(steps_data, 1):
                step = self.step(step_data, data.line, f"{where}step {number}: ")
                if step is not None:
                    steps.append(step)
        real = data.get("real", False)
        if not isinstance(real, bool):
            self.problem(data.line, where, "`real` must be true or false")
        disabled = data.get("disabled", [])
        if not isinstance(disabled, list):
            self.problem(data.line, where, "`disabled` must be a list of node ids or names")
            disabled = []
        refs = [self.node(ref, data.line, where) for ref in disabled]
        return Case(name=name, line=data.line, path=self.path, steps=steps,
                    disabled=[ref.id for ref in refs if ref is not None],
                    context=self.context(data.get("context"), data.line, where),
                    http=self.http(data.get("http"), data.line, where), real=real is True,
                    description=str(data.get("description") or ""))

    def step(self, data: Any, line: int, where: str) -> Step | None:
        found = self.mapping(data, line, where, "a step")
        if found is None:
            return None
        data = found
        verbs = [k for k in data if k in _OPTIONS]
        if len(verbs) != 1:
            self.problem(data.line, where, "a step has exactly one of "
                         f"{', '.join(sorted(_OPTIONS))}; found {verbs or 'none'}")
            return None
        kind = verbs[0]
        self.known(data, {kind, *_OPTIONS[kind]}, where)
        step = Step(kind=kind, line=data.line)
        target = data[kind]
        if kind in _NODE_STEPS:
            step.node = self.node(target, data.line, where)
        elif kind.startswith("broker "):
            step.broker = self.node(target, data.line, where, config=True)
        elif kind in _TOPIC_STEPS:
            if not isinstance(target, str) or not target:
                self.problem(data.line, where, f"`{kind}` needs an MQTT topic")
            step.topic = str(target)
        else:
            step.seconds = self.duration(target, data.line, where, kind)
        if "msg" in data:
            msg = self.mapping(data["msg"], data.line, where, "`msg`")
            step.msg = plain(msg) if msg is not None else {}
        for key in ("payload", "topic", "qos", "retain"):
            if key in data:
                step.msg[key] = plain(data[key])
        if kind == "publish":
            step.qos = self.integer(step.msg.pop("qos", 0), data.line, where, "qos", 0, 2)
            step.retain = step.msg.pop("retain", False) is True
        if "broker" in data:
            step.broker = self.node(data["broker"], data.line, where, config=True)
        if "output" in data:
            step.output = self.integer(data["output"], data.line, where, "output", 1, 1000)
        if step.node is not None and kind in ("expect", "expect nothing") and \
                step.node.outputs and step.output > step.node.outputs:
            self.problem(data.line, where, f"{step.node} has {step.node.outputs} output(s), "
                                           f"not {step.output}")
        if "within" in data:
            step.within = self.duration(data["within"], data.line, where, "within")
        match = data.get("match", "partial")
        if match not in ("partial", "exact"):
            self.problem(data.line, where, f"`match` is partial or exact, not {match!r}")
        step.exact = match == "exact"
        tolerance = data.get("tolerance", 0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or \
                tolerance < 0:
            self.problem(data.line, where, f"`tolerance` must be a number >= 0, "
                                           f"not {tolerance!r}")
        else:
            step.tolerance = float(tolerance)
        return step

    def duration(self, value: Any, line: int, where: str, what: str) -> float:
        """Seconds from ``5``, ``2.5``, ``"500ms"``, ``"90s"``, ``"2m"`` or ``"1h"``."""
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        found = _DURATION.match(value) if isinstance(value, str) else None
        if found is None:
            self.problem(line, where, f"`{what}` is a duration (5, 2.5, \"500ms\", \"2m\"), "
                                      f"not {value!r}")
            return 0.0
        return float(found.group(1)) * _UNITS[found.group(2)]

    def integer(self, value: Any, line: int, where: str, what: str, low: int, high: int) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.problem(line, where, f"`{what}` must be a whole number from {low} to {high}, "
                                  f"not {value!r}")
        return low

    def context(self, data: Any, line: int, where: str) -> dict[str, Any]:
        if data is None:
            return {}
        found = self.mapping(data, line, where, "`context`")
        if found is None:
            return {}
        data = found
        where += "context: "
        self.known(data, {"global", "flow", "node"}, where)
        result: dict[str, Any] = {"global": {}, "flow": {}, "node": {}}
        if "global" in data and self.mapping(data["global"], data.line, where, "`global`"):
            result["global"] = plain(data["global"])
        flow = data.get("flow")
        if flow is not None and self.mapping(flow, data.line, where, "`flow`") is not None:
            if len(self.tabs) == 1:
                result["flow"][self.tabs[0]["id"]] = plain(flow)
            else:
                for tab, values in flow.items():
                    found_tab = [t for t in self.tabs if tab in (t["id"], t.get("label"))]
                    if not found_tab:
                        self.problem(flow.line, where, f"the flows have {len(self.tabs)} "
                                     f"tabs: `flow` maps a tab's id or label to its values; "
                                     f"no tab is {tab!r}")
                    elif self.mapping(values, flow.line, where, f"flow {tab!r}") is not None:
                        result["flow"][found_tab[0]["id"]] = plain(values)
        nodes = data.get("node")
        if nodes is not None and self.mapping(nodes, data.line, where, "`node`") is not None:
            for ref, values in nodes.items():
                node = self.node(ref, nodes.line, where)
                if node is not None and self.mapping(values, nodes.line, where,
                                                     f"node {ref!r}") is not None:
                    result["node"][node.id] = plain(values)
        return result

    def http(self, data: Any, line: int, where: str) -> list[HttpFixture]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.problem(line, where, "`http` must be a list of fixtures")
            return []
        fixtures = []
        for number, item in enumerate(data, 1):
            here = f"{where}http fixture {number}: "
            found = self.mapping(item, line, here, "a fixture")
            if found is None:
                continue
            self.known(found, _HTTP_KEYS, here)
            url = found.get("url")
            if not isinstance(url, str) or not url:
                self.problem(found.line, here, "`url` is needed")
                continue
            body = found.get("body", "")
            headers = {str(k).lower(): str(v) for k, v in (found.get("headers") or {}).items()}
            if isinstance(body, dict | list):
                headers.setdefault("content-type", "application/json")
                body_bytes = json.dumps(plain(body)).encode()
            else:
                body_bytes = body if isinstance(body, bytes) else str(body).encode()
            method = found.get("method")
            fixtures.append(HttpFixture(
                url=url, method=str(method).upper() if method else None,
                status=self.integer(found.get("status", 200), found.line, here, "status",
                                    100, 599),
                headers=headers, body=body_bytes))
        return fixtures


def _kind(value: Any) -> str:
    return {dict: "a mapping", _Map: "a mapping", list: "a list", str: "text",
            type(None): "nothing"}.get(type(value), type(value).__name__)


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    line = f"{mark.line + 1}" if mark is not None else "1"
    text = getattr(exc, "problem", None) or str(exc)
    return f"{path}:{line}: not valid YAML: {text}"


def _flows_path(path: Path, data: _Map) -> Path:
    """The flow file a test-case file names (``flows``) or sits beside."""
    flows_ref = data.get("flows")
    return (Path(os.path.normpath(path.parent / flows_ref)) if isinstance(flows_ref, str)
            else flows_for(path))


def _read_flows(path: Path, data: _Map, flows_path: Path) -> Any:
    try:
        return json.loads(flows_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FlowTestFormatError([f"{path}:{data.line}: cannot read the flows "
                                   f"{flows_path}: {exc}"]) from None


def load_test_file(path: Path, flows: list[Any] | None = None) -> TestFile:
    """Read a test-case file and its flows (``flows``, else its flow file: see
    :func:`parse_test_file`); FlowTestFormatError lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowTestFormatError([f"{path}: cannot read the file: {exc.strerror}"]) from None
    return parse_test_file(path, text, flows)


def parse_test_file(path: Path, text: str, flows: list[Any] | None = None) -> TestFile:
    """Read ``text`` as the test-case file at ``path``, for ``flows`` (a project's, as
    the server has them) or else the flow file it names or sits beside."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise FlowTestFormatError([_yaml_problem(path, exc)]) from None
    if not isinstance(data, _Map):
        raise FlowTestFormatError([f"{path}:1: a test-case file is a mapping with `cases` "
                                   f"(and optionally `flows`), not {_kind(data)}"])
    flows_path = _flows_path(path, data)
    if flows is None:
        flows = _read_flows(path, data, flows_path)
    if not isinstance(flows, list):
        raise FlowTestFormatError([f"{path}:{data.line}: {flows_path} is not a flow "
                                   "document (a list of nodes)"])
    reader = _Reader(path, flows)
    reader.known(data, _FILE_KEYS, "")
    cases_data = data.get("cases")
    cases: list[Case] = []
    if not isinstance(cases_data, list) or not cases_data:
        reader.problem(data.line, "", "`cases` must be a non-empty list")
    else:
        names: set[str] = set()
        for index, case_data in enumerate(cases_data):
            case = reader.case(case_data, index, data.line)
            if case is None:
                continue
            if case.name in names:
                reader.problem(case.line, "", f"two cases are named {case.name!r}")
            names.add(case.name)
            cases.append(case)
    if reader.problems:
        raise FlowTestFormatError(reader.problems)
    return TestFile(path=path, flows_path=flows_path, flows=flows, cases=cases)
