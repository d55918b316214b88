"""The pytest plugin flowrt ships (entry point ``pytest11``): ``pytest DIR`` collects
``*.tests.yaml`` files and runs each case as an item, failing with the case's report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DEMO = Path(__file__).resolve().parent.parent / "flows" / "demo.json"

CASES = """\
cases:
  - name: a warning at 72.4
    steps:
      - inject: over-temperature
        topic: sensors/boiler/temperature
        payload: 72.4
      - expect: alerts
        payload: {level: warning}
  - name: a critical alert at 72.4
    steps:
      - inject: over-temperature
        topic: sensors/boiler/temperature
        payload: 72.4
      - expect: alerts
        payload: {level: critical}
"""


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_pytest_collects_and_runs_the_cases(pytester: pytest.Pytester) -> None:
    shutil.copy(DEMO, pytester.path / "demo.json")
    (pytester.path / "demo.tests.yaml").write_text(CASES)
    (pytester.path / "notes.yaml").write_text("not: collected\n")
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "demo.tests.yaml::a warning at 72.4 PASSED*",
        "demo.tests.yaml::a critical alert at 72.4 FAILED*",
        "*demo.tests.yaml:9: case 'a critical alert at 72.4': FAILED",
        "step 2 (line 14): message 1 at the input of 'alerts' (demo-debug-alerts) (t=0 s) "
        "differs:",
        '  payload.level: expected "critical", got "warning"',
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_file_with_mistakes_is_a_collection_error(pytester: pytest.Pytester) -> None:
    shutil.copy(DEMO, pytester.path / "demo.json")
    (pytester.path / "demo.tests.yaml").write_text(
        "cases:\n  - name: x\n    steps:\n      - expect: nobody\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*demo.tests.yaml:4: case 'x': step 1: no node has the id or name 'nobody'"])
