"""flowrt.flowtests: the test-case format (errors located by file, case, step and line),
running cases on the fake clock with MQTT and HTTP faked, and what a failure says."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flowrt.flowtests import FlowTestFormatError, load_test_file, run_case
from flowrt.flowtests.matching import differences
from flowrt.flowtests.runner import CaseResult

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "flow_tests_data" / "broken-demo.yaml"

# A tab with: inject → delay 5 s → debug; a change node that multiplies by flow/global
# context through a JS function; mqtt in → function → mqtt out on a broker that does not
# exist (port 1: a real connection would fail); an http request answered by fixtures.
FLOWS: list[dict[str, Any]] = [
    {"id": "tab", "type": "tab", "label": "Tests"},
    {"id": "broker", "type": "mqtt-broker", "name": "plant", "broker": "127.0.0.1",
     "port": "1"},
    {"id": "later", "type": "delay", "z": "tab", "name": "five seconds later",
     "pauseType": "delay", "timeout": "5", "timeoutUnits": "seconds", "wires": [["shown"]]},
    {"id": "shown", "type": "debug", "z": "tab", "name": "shown", "wires": []},
    {"id": "scale", "type": "function", "z": "tab", "name": "scale",
     "func": "msg.payload = msg.payload * flow.get('factor') + global.get('offset')"
             " + (context.get('bias') || 0);\nreturn msg;",
     "outputs": 1, "wires": [["scaled"]]},
    {"id": "scaled", "type": "debug", "z": "tab", "name": "scaled", "wires": []},
    {"id": "in", "type": "mqtt in", "z": "tab", "name": "readings", "topic": "plant/+/t",
     "qos": "1", "datatype": "json", "broker": "broker", "wires": [["double"]]},
    {"id": "double", "type": "function", "z": "tab", "name": "double", "language": "python",
     "func": "msg['payload'] = msg['payload'] * 2\nmsg['topic'] = 'out/' + "
             "msg['topic'].split('/')[1]\nreturn msg\n", "outputs": 1, "wires": [["out"]]},
    {"id": "out", "type": "mqtt out", "z": "tab", "name": "publish", "topic": "",
     "qos": "1", "broker": "broker", "wires": []},
    {"id": "fetch", "type": "http request", "z": "tab", "name": "fetch", "method": "GET",
     "ret": "obj", "url": "http://api.invalid/v1/limits", "wires": [["fetched"]]},
    {"id": "fetched", "type": "debug", "z": "tab", "name": "fetched", "wires": []},
]


def write(tmp_path: Path, text: str, name: str = "plant.tests.yaml") -> Path:
    (tmp_path / "plant.json").write_text(json.dumps(FLOWS))
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


async def run_only(path: Path) -> CaseResult:
    test_file = load_test_file(path)
    assert len(test_file.cases) == 1
    return await run_case(test_file, test_file.cases[0])


def problems_of(path: Path) -> list[str]:
    with pytest.raises(FlowTestFormatError) as caught:
        load_test_file(path)
    return caught.value.problems


# ----------------------------------------------------------------------- format
def test_format_errors_name_the_file_case_step_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: first
            steps:
              - inject: no such node
                payload: 1
              - expect: shown
                within: soon
          - name: second
            colour: red
            steps:
              - expct: shown
              - advance: 5
                payload: 1
    """)
    assert problems_of(path) == [
        f"{path}:4: case 'first': step 1: no node has the id or name 'no such node'",
        f"{path}:6: case 'first': step 2: `within` is a duration (5, 2.5, \"500ms\", \"2m\"), "
        "not 'soon'",
        f"{path}:8: case 'second': unknown key 'colour' (known: context, description, "
        "disabled, http, name, real, steps)",
        f"{path}:11: case 'second': step 1: a step has exactly one of advance, broker down, "
        "broker up, expect, expect nothing, expect nothing topic, expect topic, inject, "
        "publish; found none",
        f"{path}:12: case 'second': step 2: unknown key 'payload' (known: advance)",
    ]


def test_yaml_errors_and_duplicate_keys_give_their_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "cases:\n  - name: x\n    steps: [\n", "bad.tests.yaml")
    [problem] = problems_of(bad)
    assert problem.startswith(f"{bad}:4: not valid YAML")
    twice = write(tmp_path, "cases:\n  - name: x\n    steps: []\n    name: y\n",
                  "twice.tests.yaml")
    [problem] = problems_of(twice)
    assert problem == f"{twice}:4: not valid YAML: duplicate key 'name'"


def test_a_name_shared_by_two_nodes_asks_for_an_id(tmp_path: Path) -> None:
    flows = [*FLOWS, *({"id": f"d{i}", "type": "debug", "z": "tab", "name": "display",
                        "wires": []} for i in (1, 2))]
    (tmp_path / "flows.json").write_text(json.dumps(flows))
    path = tmp_path / "t.tests.yaml"
    path.write_text("flows: flows.json\ncases:\n  - name: x\n    steps:\n"
                    "      - expect: display\n")
    assert problems_of(path) == [
        f"{path}:5: case 'x': step 1: 2 nodes are named 'display' (d1, d2): use an id"]


def test_the_flow_file_beside_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "gone.tests.yaml"
    path.write_text("cases: []\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:1: cannot read the flows {tmp_path / 'gone.json'}")


# ------------------------------------------------------------------ pass and fail
async def test_a_case_passes_on_fake_time_and_stops_time_where_the_message_came(
        tmp_path: Path) -> None:
    passing = write(tmp_path, """\
        cases:
          - name: delayed
            steps:
              - inject: five seconds later
                payload: 1
              - expect nothing: shown
                within: 4.9
              - expect: shown
                within: 1m
                payload: 1
    """)
    assert (await run_only(passing)).passed
    # Had the expect moved time by its whole minute, this would say t=60 s.
    failing = write(tmp_path, """\
        cases:
          - name: delayed
            steps:
              - inject: later
                payload: 1
              - expect: shown
                within: 60
                payload: 2
    """)
    result = await run_only(failing)
    assert result.failure == [
        "step 2 (line 6): message 1 at the input of 'shown' (shown) (t=5 s) differs:",
        "  payload: expected 2, got 1",
        '  got: {"payload": 1}',
    ]
    assert result.report().startswith(f"{failing}:2: case 'delayed': FAILED\n  step 2")


async def test_nothing_arriving_in_time_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: too soon
            steps:
              - inject: later
              - expect: shown
                within: 4
    """)
    assert (await run_only(path)).failure == [
        "step 2 (line 5): nothing arrived at the input of 'shown' (shown) within 4 s of "
        "fake time (t=4 s)"]


async def test_expect_nothing_fails_on_a_message(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: quiet
            steps:
              - inject: later
                topic: t
              - expect nothing: shown
                within: 10
    """)
    assert (await run_only(path)).failure == [
        "step 2 (line 6): expected nothing at the input of 'shown' (shown) within 10 s, "
        "but a message arrived (t=5 s):",
        '  got: {"topic": "t"}']


async def test_context_values_are_set_before_the_flows_start(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: scaled by context
            context:
              global: {offset: 1}
              flow: {factor: 10}
              node: {scale: {bias: 0.5}}
            steps:
              - inject: scale
                payload: 4
              - expect: scaled
                payload: 41.5
    """)
    result = await run_only(path)
    assert result.passed, result.failure


async def test_mqtt_messages_compare_as_json_or_as_text(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: doubled
            steps:
              - publish: plant/p1/t
                qos: 1
                payload: 21
              - expect topic: out/+
                payload: 42
                qos: 1
              - expect nothing topic: out/#
              - publish: plant/p2/t
                payload: 1.5
              - expect topic: out/p2
                payload: {$regex: "^3(\\\\.0)?$"}
              - publish: plant/p3/t
                payload: 2
              - expect topic: out/p3
                payload: "5"
    """)
    assert (await run_only(path)).failure == [
        "step 7 (line 17): message 1 on topic 'out/p3' (t=0 s) differs:",
        '  payload: expected "5", got "4"',
        '  got: {"topic": "out/p3", "payload": "4", "qos": 1, "retain": false}']


async def test_disabled_nodes_are_off_for_the_case(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: switched off
            disabled: [double]
            steps:
              - publish: plant/p1/t
                payload: 21
              - expect nothing topic: out/#
                within: 1
    """)
    assert (await run_only(path)).passed


async def test_http_requests_are_answered_by_fixtures_or_fail_clearly(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cases:
          - name: fetched
            http:
              - url: http://api.invalid/v1/limits
                body: {high: 40}
            steps:
              - inject: fetch
              - expect: fetched
                msg: {statusCode: 200, payload: {high: 40}}
    """)
    assert (await run_only(path)).passed
    unanswered = write(tmp_path, """\
        flows: plant.json
        cases:
          - name: no fixture
            steps:
              - inject: fetch
              - expect: fetched
                msg: {statusCode: 200}
    """, "unanswered.tests.yaml")
    result = await run_only(unanswered)
    assert result.failure is not None
    assert result.failure[0].startswith(
        "step 2 (line 6): message 1 at the input of 'fetched' (fetched) (t=0 s) differs:")
    assert "errors the nodes reported:" in result.failure
    assert ("  fetch (http request): RequestError: no http fixture of the test case answers "
            "GET http://api.invalid/v1/limits") in result.failure


async def test_broken_cases_of_the_demo_fail_saying_what_differed() -> None:
    test_file = load_test_file(BROKEN)
    results = [await run_case(test_file, case) for case in test_file.cases]
    assert [r.failure for r in results] == [
        ["step 4 (line 16): nothing arrived at 'changed by > 0.5' (demo-filter) within 5 s "
         "of fake time (t=5 s); the 1 earlier message(s) there were taken by earlier steps"],
        ["step 2 (line 25): message 1 at the input of 'alerts' (demo-debug-alerts) (t=0 s) "
         "differs:",
         '  payload.level: expected "critical", got "warning"',
         "  payload.value: expected 72 (±0.1), got 72.4",
         results[1].failure[-1]],  # type: ignore[index]
        ["step 1 (line 31): message 1 on topic 'sensors/boiler/temperature' (t=0.5 s) "
         "differs:",
         '  payload: expected text matching /^6[0-9]\\./, got "68"',
         '  got: {"topic": "sensors/boiler/temperature", "payload": "68", "qos": 1, '
         '"retain": false}'],
    ]
    assert results[1].failure[-1].startswith(  # type: ignore[index]
        '  got: {"topic": "alert/sensors/boiler/temperature/temperature", "level": "warning"')


# ---------------------------------------------------------------------- matching
@pytest.mark.parametrize(("expected", "got", "options", "found"), [
    ({"payload": {"a": 1}}, {"payload": {"a": 1, "b": 2}, "_msgid": "x"}, {}, []),
    ({"payload": {"a": 1}}, {"payload": {"a": 1, "b": 2}, "_msgid": "x"}, {"exact": True},
     ["payload.b: not expected, got 2"]),
    ({"payload": [1, 2]}, {"payload": [1]}, {}, ["payload: expected 2 item(s), got 1: [1]"]),
    ({"payload": 20.0}, {"payload": 20.04}, {"tolerance": 0.05}, []),
    ({"payload": 20.0}, {"payload": 20.1}, {"tolerance": 0.05},
     ["payload: expected 20.0 (±0.05), got 20.1"]),
    ({"payload": 1}, {"payload": True}, {}, ["payload: expected 1, got true"]),
    ({"topic": {"$regex": "^a/"}}, {"topic": "a/b"}, {}, []),
    ({"topic": {"$any": True}}, {}, {}, ["topic: expected a value, got nothing (no such key)"]),
    ({"error": {"$absent": True}}, {"error": "x"}, {},
     ['error: expected no such key, got "x"']),
    ({"payload": {"$approx": 5, "$tolerance": 1}}, {"payload": 5.9}, {}, []),
    ({"payload": {"$near": 5}}, {"payload": 5}, {},
     ["payload: unknown operator $near (known: $absent, $any, $approx, $regex, $tolerance)"]),
])
def test_differences(expected: Any, got: Any, options: dict[str, Any], found: list[str]) -> None:
    assert differences(expected, got, **options) == found


async def test_the_documented_example_passes(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "flow-tests.md").read_text()
    example = text.split("## A complete example\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "demo.tests.yaml"
    path.write_text(example.replace("flows: demo.json", f"flows: {ROOT / 'flows/demo.json'}"))
    test_file = load_test_file(path)
    results = [await run_case(test_file, case) for case in test_file.cases]
    assert [r.failure for r in results] == [None, None]


@pytest.mark.broker
async def test_a_real_case_goes_through_a_real_broker(tmp_path: Path, mosquitto: Any) -> None:
    flows = [dict(n, port=str(mosquitto.port)) if n["id"] == "broker" else n for n in FLOWS]
    (tmp_path / "plant.json").write_text(json.dumps(flows))
    path = tmp_path / "plant.tests.yaml"
    path.write_text(textwrap.dedent("""\
        cases:
          - name: doubled for real
            real: true
            steps:
              - publish: plant/p1/t
                qos: 1
                payload: 21
              - expect topic: out/p1
                payload: 42
              - broker down: plant
    """))
    assert (await run_only(path)).failure == [
        "step 3 (line 10): a real broker cannot be stopped by a test ('plant' (broker))"]
