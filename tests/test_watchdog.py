"""Function code against a real ``flowrt run``: what would end the process fails only
its message, the admin API answers during a runaway, SIGTERM interrupts the code, and
a stop that cannot finish ends the process anyway. Then :func:`flowrt.watchdog.run`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flowrt import watchdog
from flowrt.settings import SettingsError, load_settings
from flowrt.testing import FlowHarness
from flowrt.watchdog import FORCED_EXIT_CODE
from tests.e2e_support.processes import FlowrtProcess, wait_until

# A repeating inject feeds the function; it runs ``{statement}`` once, when the test
# creates the trigger file, after announcing it. Messages after a caught error say so.
FUNC = """import os
if os.path.exists(TRIGGER):
    os.remove(TRIGGER)
    open(RUNNING, "w").close()
    {statement}
if os.path.exists(CAUGHT):
    open(AFTER, "w").close()
return msg
"""
SPIN = "while True:\n        pass"
BUSY_AWAITING = ("import time\n    for _ in range(80):\n        started = time.monotonic()\n"
                 "        while time.monotonic() - started < 0.05:\n            pass\n"
                 "        await asyncio.sleep(0)\n    open(RUNNING + '.done', 'w').close()")
SWALLOW_EVERY_INTERRUPTION = ("while True:\n        try:\n            while True:\n"
                              "                pass\n        except BaseException:\n"
                              "            pass")


class TriggeredFlow:
    """``flowrt run`` on a flow whose function runs ``statement`` on demand; a catch node
    writes the errors it receives to the file ``caught``."""

    def __init__(self, tmp_path: Path, statement: str, settings: str = "") -> None:
        files = {name: str(tmp_path / name) for name in ("trigger", "running", "caught",
                                                         "after")}
        self.trigger_file, self.running, self.caught, self.after = (
            Path(files[name]) for name in ("trigger", "running", "caught", "after"))
        names = "".join(f"{name.upper()} = {path!r}\n" for name, path in files.items())
        flow = [{"id": "t1", "type": "tab", "label": "triggered"},
                {"id": "i", "type": "inject", "z": "t1", "x": 0, "y": 0, "repeat": "0.05",
                 "once": True, "onceDelay": 0.05, "wires": [["f"]]},
                {"id": "f", "type": "function", "language": "python", "z": "t1", "x": 0, "y": 0,
                 "func": FUNC.format(statement=statement), "outputs": 1, "wires": [[]],
                 "initialize": names, "libs": [{"var": "asyncio", "module": "asyncio"}]},
                {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [["record"]]},
                {"id": "record", "type": "function", "language": "python",
                 "z": "t1", "x": 0, "y": 0, "outputs": 0,
                 "wires": [], "func": f"open({files['caught']!r}, 'a').write("
                                      "msg['error']['message'] + '\\n')"}]
        flow_file = tmp_path / "flows.json"
        flow_file.write_text(json.dumps(flow))
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / "settings.toml").write_text(settings)
        self.process = FlowrtProcess(flow_file, data_dir)

    def trigger(self) -> None:
        """Make the function run the statement; return once it has started."""
        self.trigger_file.touch()
        wait_until(self.running.exists, 10, "function code ran the statement")


@pytest.fixture
def triggered(tmp_path: Path):
    """``triggered(statement, settings="")``: a started :class:`TriggeredFlow`."""
    made: list[TriggeredFlow] = []

    def start(statement: str, settings: str = "") -> TriggeredFlow:
        flow = TriggeredFlow(tmp_path, statement, settings)
        made.append(flow)
        flow.process.start()
        return flow

    yield start
    for flow in made:
        flow.process.kill()


@pytest.mark.parametrize("statement", ["import sys\n    sys.exit()", "exit()",
                                       "raise KeyboardInterrupt",
                                       "raise asyncio.CancelledError"])
def test_code_that_would_end_the_process_fails_only_its_message(triggered, statement):
    flow = triggered(statement)
    flow.trigger()
    wait_until(flow.after.exists, 10, "a message handled after the caught error")
    name = statement.split()[-1].removesuffix("()").split(".")[-1]
    expected = {"exit": "SystemExit"}.get(name, name)
    assert flow.caught.read_text().startswith(expected)
    assert flow.process.get("/flows")[0] == 200
    assert flow.process.stop() == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_admin_api_answers_while_code_without_a_timeout_runs_away(triggered, loop):
    flow = triggered(SPIN, f'eventLoop = "{loop}"\n')  # the default functionTimeout
    flowrt = flow.process
    flow.trigger()
    # FlowrtProcess.get gives up after 2 s (status 0).
    assert flowrt.get("/flows")[0] == 200
    wait_until(flow.after.exists, 5, "a message handled after the timed-out one")
    assert flow.caught.read_text().startswith("timed out after 1 s (line ")
    assert flowrt.stop() == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_coroutine_that_awaits_often_is_not_interrupted_for_its_total_time(triggered, loop):
    """4 s of work in 50 ms steps, past the 1 s limit in all: each step is a new run
    (uvloop's callbacks leave no frame on the stack to tell the steps apart)."""
    flow = triggered(BUSY_AWAITING, f'eventLoop = "{loop}"\n')
    flow.trigger()
    done = Path(f"{flow.running}.done")
    wait_until(done.exists, 10, "the coroutine finished its 80 steps")
    assert not flow.caught.exists()
    assert flow.process.stop() == 0


def test_sigterm_interrupts_code_that_has_no_limit(triggered):
    flow = triggered(SPIN, "functionTimeout = 0\n")
    flowrt = flow.process
    flow.trigger()
    assert flowrt.stop() == 0  # within 15 s, else AssertionError
    assert "stopping" in flowrt.log.read_text()


def test_a_stop_that_cannot_finish_ends_the_process_after_the_grace_period(triggered):
    flow = triggered(SWALLOW_EVERY_INTERRUPTION, "functionTimeout = 0\nshutdownTimeout = 1\n")
    flowrt = flow.process
    flow.trigger()
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


def scheduling(code: str) -> list[dict]:
    """A function node ``f`` running ``code`` (with asyncio), and a catch node ``c``."""
    return [{"id": "f", "type": "function", "language": "python",
             "z": "t1", "x": 0, "y": 0, "func": code,
             "outputs": 1, "wires": [[]], "libs": [{"var": "asyncio", "module": "asyncio"}]},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


def test_system_exit_in_a_callback_the_code_scheduled_is_its_node_error():
    code = ("import sys\nif msg['payload'] == 'exit':\n"
            "    asyncio.get_running_loop().call_soon(lambda: sys.exit(3))\nreturn msg")

    async def main() -> tuple[list[dict], list]:
        async with FlowHarness(scheduling(code)) as h:
            await h.inject("f", payload="exit")
            await h.wait_for(lambda: h.outputs("c"), within=5)
            await h.inject("f", payload="next")
            return h.outputs("c"), h.payloads("f")

    caught, payloads = watchdog.run(main())  # a loop of its own, as `flowrt run` has
    assert [m["error"]["message"] for m in caught] == [
        "SystemExit in a callback the code scheduled: ignored"]
    assert payloads == ["exit", "next"]


def test_an_error_in_a_callback_the_code_scheduled_is_its_node_error():
    code = "asyncio.get_running_loop().call_soon(lambda: 1 / 0)\nreturn msg"

    async def main() -> list[dict]:
        async with FlowHarness(scheduling(code)) as h:
            await h.inject("f", payload=1)
            await h.wait_for(lambda: h.outputs("c"), within=5)
            return h.outputs("c")

    (caught,) = watchdog.run(main())
    assert caught["error"]["message"] == ("in a callback the code scheduled: "
                                          "ZeroDivisionError: division by zero")
    assert caught["error"]["source"]["id"] == "f"


def test_limits_are_settings_and_a_negative_one_is_refused(tmp_path):
    settings = load_settings(tmp_path, environ={"FLOWRT_FUNCTION_TIMEOUT": "2.5",
                                                "FLOWRT_SHUTDOWN_TIMEOUT": "5"})
    assert (settings.function_timeout, settings.shutdown_timeout) == (2.5, 5.0)
    assert settings.function_timeout == 2.5
    with pytest.raises(SettingsError, match="'functionTimeout' must be 0 or more seconds"):
        load_settings(tmp_path, environ={"FLOWRT_FUNCTION_TIMEOUT": "-1"})
