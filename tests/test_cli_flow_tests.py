"""``flowrt test``: pass/fail per case, what differed, and the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "flow_tests_data" / "broken-demo.yaml"


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_the_example_flows_pass_their_cases() -> None:
    result = run_cli("test", "flows/demo.json", "flows/edge-gateway.json")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "flows/demo.tests.yaml (flows/demo.json)"
    assert "  PASS  each sensor has its own deadband" in lines
    assert "flows/edge-gateway.tests.yaml (flows/edge-gateway.json)" in lines
    assert ("  PASS  through a cloud outage nothing is lost, and the alert goes first when it "
            "is back") in lines
    assert sum(line.startswith("  PASS  ") for line in lines) == 15
    assert lines[-1] == "15 passed, 0 failed"


def test_a_directory_runs_every_test_file_under_it_and_k_picks_cases() -> None:
    result = run_cli("test", "flows", "-k", "heartbeat")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "flows/edge-gateway.tests.yaml (flows/edge-gateway.json)",
        "  PASS  an unchanged reading is still forwarded once a minute as a heartbeat",
        "1 passed, 0 failed"]


def test_a_broken_case_fails_with_what_differed_and_exit_1() -> None:
    result = run_cli("test", str(BROKEN.relative_to(ROOT)))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:6] == [
        "tests/flow_tests_data/broken-demo.yaml (flows/demo.json)",
        "  FAIL  a reading inside the deadband is forwarded  (line 6)",
        "        step 4 (line 16): nothing arrived at 'changed by > 0.5' (demo-filter) within "
        "5 s of fake time (t=5 s); the 1 earlier message(s) there were taken by earlier steps",
        "  FAIL  the first alert is critical  (line 20)",
        "        step 2 (line 25): message 1 at the input of 'alerts' (demo-debug-alerts) "
        "(t=0 s) differs:",
        '          payload.level: expected "critical", got "warning"',
    ]
    assert "          payload.value: expected 72 (±0.1), got 72.4" in lines
    assert lines[-1] == "0 passed, 3 failed"


def test_unusable_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "plant.json").write_text("[]")
    (tmp_path / "lonely.json").write_text("[]")
    (tmp_path / "plant.tests.yaml").write_text("cases:\n  - name: x\n    steps:\n"
                                               "      - advance: forever\n")
    result = run_cli("test", str(tmp_path / "plant.json"), str(tmp_path / "lonely.json"),
                     str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {tmp_path}/lonely.json: no test cases beside it (write lonely.tests.yaml)",
        f"error: {tmp_path}/missing: no such file or directory",
        f"error: {tmp_path}/plant.tests.yaml:4: case 'x': step 1: `advance` is a duration "
        "(5, 2.5, \"500ms\", \"2m\"), not 'forever'",
        "0 passed, 0 failed, 3 error(s)"]
