"""exec: Node-RED's spec scenarios (90-exec_spec.js) with real child processes: exec and
spawn modes, stderr, binary output, timeouts, msg.kill, process groups, maxBuffer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from flowrt_nodes.exec_node import split_arguments, text_or_buffer

from flowrt.clock import Clock
from flowrt.testing import FlowHarness
from tests.nodes.nodered_examples import EXAMPLES, example_flow, fire_all


def exec_flow(command, **config):
    node = {"id": "e", "type": "exec", "z": "t1", "x": 0, "y": 0, "name": "",
            "command": command, "addpay": False, "append": "", "oldrc": "false",
            "wires": [[], [], []], **config}
    return [node, {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
                   "wires": [[]]}]


async def rc_of(h, count=1):
    """Wait (bounded) for the return code message(s)."""
    await h.wait_for(lambda: len(h.outputs("e", 2)) >= count, within=10)
    return [m["payload"] for m in h.outputs("e", 2)]


async def running_pid(h):
    await h.wait_for(lambda: h.status("e").get("text", "").startswith("pid:"))
    return int(h.status("e")["text"][4:])


def gone(pid: int) -> bool:
    """The process has ended (a zombie left for an init that does not reap counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


# ---------------------------------------------------------------- exec mode
async def test_exec_with_payload_and_extra_parameters():
    async with FlowHarness(exec_flow("echo", addpay="payload", append="more")) as h:
        h.send("e", {"payload": "and", "foo": "kept"})
        [rc] = await rc_of(h)
        assert rc == {"code": 0}
        [out] = h.outputs("e", 0)
        assert out["payload"] == "and more\n"
        assert out["rc"] == {"code": 0} and out["foo"] == "kept"
        assert h.outputs("e", 1) == []  # no stderr, no message
        assert h.outputs("e", 2)[0]["foo"] == "kept"
        assert h.status("e") == {}


async def test_addpay_defaults_to_payload_for_old_flows_and_may_name_another_property():
    flow = exec_flow("echo", append="more")
    del flow[0]["addpay"]
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": "foo", "topic": "bar"})
        await rc_of(h)
        assert h.payloads("e") == ["foo more\n"]
    async with FlowHarness(exec_flow("echo", addpay="topic", append="more")) as h:
        h.send("e", {"payload": "foo", "topic": "bar"})
        await rc_of(h)
        assert h.payloads("e") == ["bar more\n"]


async def test_stderr_and_a_failing_command():
    command = "echo out; echo err >&2; exit 3"
    async with FlowHarness(exec_flow(command)) as h:
        h.send("e", {"payload": "x", "foo": 1})
        [rc] = await rc_of(h)
        message = f"Command failed: {command}\nerr\n"
        assert rc == {"code": 3, "message": message}
        assert h.payloads("e", 0) == ["out\n"] and h.payloads("e", 1) == ["err\n"]
        assert h.outputs("e", 0)[0]["rc"] == rc and h.outputs("e", 1)[0]["rc"] == rc
        assert h.outputs("e", 1)[0]["foo"] == 1
        assert h.status("e") == {"fill": "red", "shape": "dot", "text": "error:3"}


async def test_old_style_return_code():
    async with FlowHarness(exec_flow("true", oldrc=True)) as h:
        h.send("e", {"payload": ""})
        await h.wait_for(lambda: len(h.outputs("e", 0)) == 1)
        assert "rc" not in h.outputs("e", 0)[0]
        assert h.outputs("e", 2) == []


async def test_binary_output_is_a_buffer():
    async with FlowHarness(exec_flow(r"printf '\001\002\003\210'")) as h:
        h.send("e", {})
        await rc_of(h)
        assert h.payloads("e") == [b"\x01\x02\x03\x88"]


async def test_timeout_kills_the_command():
    flow = exec_flow("sleep", append="5", timer="0.3")
    async with FlowHarness(flow, clock=Clock()) as h:
        h.send("e", {})
        [rc] = await rc_of(h)
        assert rc["code"] is None and rc["signal"] == "SIGTERM"
        assert rc["message"] == "Command failed: sleep 5\n"
        assert h.status("e") == {"fill": "red", "shape": "dot", "text": "killed"}


@pytest.mark.parametrize(("kill", "signal"), [("", "SIGTERM"), ("SIGINT", "SIGINT"),
                                              ("sighup", "SIGHUP"), (True, "SIGTERM")])
async def test_msg_kill(kill, signal):
    async with FlowHarness(exec_flow("sleep", append="5", timer="2")) as h:
        h.send("e", {})
        await running_pid(h)
        h.send("e", {"kill": kill})
        [rc] = await rc_of(h)
        assert rc["signal"] == signal
        assert h.outputs("e", 0)[0]["rc"]["code"] is None


async def test_kill_by_pid_among_several_and_an_unknown_signal():
    async with FlowHarness(exec_flow("sleep", append="5")) as h:
        h.send("e", {"n": 1})
        first = await running_pid(h)
        h.send("e", {"n": 2})
        await h.wait_for(lambda: h.status("e")["text"] != f"pid:{first}")
        h.send("e", {"kill": "SIGTERM"})  # two run: nothing without msg.pid
        h.send("e", {"kill": "SIGNOPE", "pid": first})
        await h.wait_for(lambda: len(h.outputs("c")) == 1)
        assert "Unknown signal: SIGNOPE" in h.outputs("c")[0]["error"]["message"]
        h.send("e", {"kill": "SIGTERM", "pid": str(first)})
        [rc] = await rc_of(h)
        assert rc["signal"] == "SIGTERM"
        assert h.outputs("e", 2)[0]["n"] == 1
        h.send("e", {"kill": "SIGKILL"})  # one left now
        rcs = await rc_of(h, 2)
        assert rcs[1]["signal"] == "SIGKILL"


async def test_max_buffer_kills_the_command():
    flow = exec_flow("head -c 100 /dev/zero; sleep 5")
    async with FlowHarness(flow, settings={"execMaxBufferSize": 10}) as h:
        h.send("e", {})
        [rc] = await rc_of(h)
        assert rc == {"code": "ERR_CHILD_PROCESS_STDIO_MAXBUFFER",
                      "message": "stdout maxBuffer length exceeded"}
        assert h.outputs("e", 0)[0]["payload"] == text_or_buffer(b"\0" * 10)


# --------------------------------------------------------------- spawn mode
async def test_spawn_a_simple_command():
    flow = exec_flow("echo", addpay=True, useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": "hello world", "fred": 123})
        [rc] = await rc_of(h)
        assert rc == {"code": 0}
        assert "".join(h.payloads("e", 0)) == "hello world\n"
        assert all("rc" not in m and m["fred"] == 123 for m in h.outputs("e", 0))
        # Node-RED's spawn mode leaves "rc:0" (its success branch is overwritten).
        assert h.status("e") == {"fill": "yellow", "shape": "dot", "text": "rc:0"}


async def test_spawn_with_a_number_payload_and_a_buffer_payload():
    flow = exec_flow("echo", addpay=True, append=" deg C", useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": 12345})
        await rc_of(h)
        assert "".join(h.payloads("e")) == "12345 deg C\n"
    flow = exec_flow("echo", addpay=True, useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": b"\x01\x02\x03\x88"})
        await rc_of(h)
        [out] = h.payloads("e")
        assert isinstance(out, bytes) and len(out) == 7  # \x88 → U+FFFD, control chars


async def test_spawn_multiple_words_and_quotes():
    flow = exec_flow('printf "%s|%s\\n" "this now" works', useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": None})
        [rc] = await rc_of(h)
        assert rc == {"code": 0}
        assert "".join(h.payloads("e")) == "this now|works\n"
    assert split_arguments('a "b c" d"e f"') == ["a", "b c", 'd"e f"']


async def test_spawn_a_bad_command():
    flow = exec_flow("madeupcommandshouldfail", useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": None})
        [rc] = await rc_of(h)
        assert rc == {"code": -2}
        assert h.status("e") == {"fill": "red", "shape": "dot", "text": "rc:-2"}


async def test_spawn_a_failing_command_reports_stderr_before_the_code(tmp_path):
    flow = exec_flow(f"mkdir {tmp_path}/no/such/dir", useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {"payload": None})
        [rc] = await rc_of(h)
        assert rc == {"code": 1}
        assert " directory" in "".join(h.payloads("e", 1))
        assert h.status("e") == {"fill": "yellow", "shape": "dot", "text": "rc:1"}


async def test_spawn_streams_output_while_the_command_runs(tmp_path):
    go = tmp_path / "go"
    script = f"echo first; while [ ! -e {go} ]; do sleep 0.02; done; echo second"
    flow = exec_flow(f'sh -c "{script}"', useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {})
        await h.wait_for(lambda: h.payloads("e") == ["first\n"])
        assert h.outputs("e", 2) == []  # still running
        go.touch()
        await rc_of(h)
        assert h.payloads("e") == ["first\n", "second\n"]


async def test_spawn_timeout_and_kill():
    flow = exec_flow("sleep 5", useSpawn="true", timer="0.3")
    async with FlowHarness(flow, clock=Clock()) as h:
        h.send("e", {})
        [rc] = await rc_of(h)
        assert rc == {"code": None, "signal": "SIGTERM"}
        assert h.status("e") == {"fill": "red", "shape": "dot", "text": "killed"}
    async with FlowHarness(exec_flow("sleep 5", useSpawn="true")) as h:
        h.send("e", {})
        await running_pid(h)
        h.send("e", {"kill": "SIGINT"})
        [rc] = await rc_of(h)
        assert rc == {"code": None, "signal": "SIGINT"}


async def test_spawn_old_style_return_code():
    async with FlowHarness(exec_flow("false", useSpawn="true", oldrc=True)) as h:
        h.send("e", {})
        assert await rc_of(h) == [1]


# ----------------------------------------------------------- process groups
async def test_stop_kills_the_whole_process_group():
    flow = exec_flow('sh -c "sleep 60 & echo $!; wait"', useSpawn="true")
    async with FlowHarness(flow) as h:
        h.send("e", {})
        await h.wait_for(lambda: len(h.payloads("e")) == 1)
        grandchild = int(h.payloads("e")[0])
        child = await running_pid(h)
        assert not gone(grandchild)
    # Leaving the harness stopped the flow: the shell and its background sleep end.
    await h.wait_for(lambda: gone(child) and gone(grandchild))
    assert h.outputs("e", 2) == []  # nothing sent once the node is stopping


async def test_timeout_reaches_background_processes(tmp_path):
    flow = exec_flow(f"sleep 60 & echo $! > {tmp_path}/pid; wait", timer="0.3")
    async with FlowHarness(flow, clock=Clock()) as h:
        h.send("e", {})
        [rc] = await rc_of(h)
        assert rc["signal"] == "SIGTERM"
    grandchild = int((tmp_path / "pid").read_text())
    await h.wait_for(lambda: gone(grandchild))


async def test_each_command_gets_its_own_process_group():
    async with FlowHarness(exec_flow("ps -o pgid= -p $$")) as h:
        h.send("e", {})
        await rc_of(h)
        assert int(h.payloads("e")[0]) != os.getpgid(0)


def test_is_utf8_as_node_red():
    assert text_or_buffer("é\t\r\n".encode()) == "é\t\r\n"
    assert text_or_buffer(b"\x01") == b"\x01"
    assert text_or_buffer(b"\xff") == b"\xff"


# ------------------------------------------------ Node-RED's example flows
async def test_node_red_example_stdout():
    flow = example_flow("function__exec__01---Get-standard-output-from-external-command.json")
    exec_id = next(n["id"] for n in flow if n["type"] == "exec")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        await h.wait_for(lambda: len(h.outputs(exec_id, 2)) == 1)
        assert h.payloads(exec_id) == ["Hello World!\n"]
        assert h.payloads(exec_id, 2) == [{"code": 0}]


async def test_node_red_example_stderr():
    flow = example_flow("function__exec__02---Get-error-output-from-external-command.json")
    exec_id = next(n["id"] for n in flow if n["type"] == "exec")
    async with FlowHarness(flow) as h:
        await fire_all(h, flow)
        await h.wait_for(lambda: len(h.outputs(exec_id, 2)) == 1)
        [stderr] = h.payloads(exec_id, 1)
        assert "/non/existing/command: No such file or directory" in stderr
        [rc] = h.payloads(exec_id, 2)
        assert rc == {"code": 127, "message": f"Command failed: /non/existing/command\n{stderr}"}


async def test_node_red_example_spawn_then_kill():
    flow = example_flow("function__exec__03---Run-external-command-in-spawn-mode.json")
    exec_id = next(n["id"] for n in flow if n["type"] == "exec")
    start, kill = (n for n in flow if n["type"] == "inject")
    assert kill["name"] == "Kill process"
    async with FlowHarness(flow) as h:
        h.node(start["id"]).trigger()
        await h.wait_for(lambda: h.payloads(exec_id) == ["Hello\n"])
        h.node(kill["id"]).trigger()
        await h.wait_for(lambda: len(h.outputs(exec_id, 2)) == 1)
        assert h.payloads(exec_id, 2) == [{"code": None, "signal": "SIGTERM"}]


async def test_corpus_configurations_deploy():
    """Every exec node of the compat corpus deploys (alone, unwired; nothing runs)."""
    configs = []
    for path in sorted(EXAMPLES.parent.rglob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(document, dict):
            document = document.get("flows", [])
        configs += [n for n in document if isinstance(n, dict) and n.get("type") == "exec"]
    assert len(configs) >= 15
    for config in configs:
        alone = {**config, "z": "t1", "wires": [[], [], []]}
        alone.pop("g", None)
        alone.pop("d", None)
        async with FlowHarness([alone]) as h:
            assert h.node(config["id"])
