"""A runaway function against a real ``flowrt run``: the admin API keeps answering,
SIGTERM interrupts the code, and a stop that cannot finish ends the process anyway."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flowrt.watchdog import FORCED_EXIT_CODE
from tests.e2e_support.processes import FlowrtProcess, wait_until

# Waits for the code to start: a repeating inject feeds the function, which starts its
# runaway once the test creates the trigger file, after announcing it.
RUNAWAY = """import os
if os.path.exists(TRIGGER):
    os.remove(TRIGGER)
    open(RUNNING, "w").close()
    {loop}
return msg
"""
SPIN = "while True:\n        pass"
SWALLOW_EVERY_INTERRUPTION = ("while True:\n        try:\n            while True:\n"
                              "                pass\n        except BaseException:\n"
                              "            pass")


@pytest.fixture
def runaway(tmp_path: Path):
    """Start flowrt on a flow whose function runs away on demand: ``start(loop, settings)``
    returns the process once it is ready; ``trigger()`` starts the runaway and waits until
    the code runs."""
    started: list[FlowrtProcess] = []
    trigger, running = tmp_path / "trigger", tmp_path / "running"

    def start(loop: str, settings: str) -> FlowrtProcess:
        code = RUNAWAY.format(loop=loop)
        flow = [{"id": "t1", "type": "tab", "label": "runaway"},
                {"id": "i", "type": "inject", "z": "t1", "x": 0, "y": 0, "repeat": "0.05",
                 "once": True, "onceDelay": 0.05, "wires": [["f"]]},
                {"id": "f", "type": "function", "z": "t1", "x": 0, "y": 0, "func": code,
                 "outputs": 1, "wires": [[]],
                 "initialize": f"TRIGGER = {str(trigger)!r}\nRUNNING = {str(running)!r}"}]
        flow_file = tmp_path / "flows.json"
        flow_file.write_text(json.dumps(flow))
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / "settings.toml").write_text(settings)
        process = FlowrtProcess(flow_file, data_dir)
        started.append(process)
        return process.start()

    def trigger_runaway() -> None:
        trigger.touch()
        wait_until(running.exists, 10, "function code started its runaway")

    start.trigger = trigger_runaway  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.kill()


def test_admin_api_answers_while_code_without_a_timeout_runs_away(runaway):
    flowrt = runaway(SPIN, "")  # the default functionTimeout
    runaway.trigger()
    # FlowrtProcess.get gives up after 2 s (status 0).
    assert flowrt.get("/flows")[0] == 200
    wait_until(lambda: "timed out after 1 s" in flowrt.log.read_text(), 5,
               "the timeout logged as the message's error")
    assert flowrt.stop() == 0


def test_sigterm_interrupts_code_that_has_no_limit(runaway):
    flowrt = runaway(SPIN, "functionTimeout = 0\n")
    runaway.trigger()
    assert flowrt.stop() == 0  # within 15 s, else AssertionError
    log = flowrt.log.read_text()
    assert "interrupted: flowrt is stopping (SIGTERM)" in log
    assert "stopping" in log


def test_a_stop_that_cannot_finish_ends_the_process_after_the_grace_period(runaway):
    flowrt = runaway(SWALLOW_EVERY_INTERRUPTION, "functionTimeout = 0\nshutdownTimeout = 1\n")
    runaway.trigger()
    process = flowrt.process
    assert process is not None
    process.terminate()
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("flowrt did not end within 10 s of SIGTERM") from None
    assert code == FORCED_EXIT_CODE
    assert ("graceful stop did not finish within its grace period (main thread at "
            "<function f>:") in flowrt.log.read_text()
