"""function: return shapes, node.send cloning, context, env, async, setup/close, errors."""

from __future__ import annotations

import asyncio

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness


def function(func, outputs=1, **config):
    return [{"id": "f", "type": "function", "language": "python",
             "z": "t1", "x": 0, "y": 0, "func": func,
             "outputs": outputs, "wires": [[] for _ in range(outputs)], **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def test_node_red_export_shape_runs():
    flow = [{"id": "t1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "",
             "env": []},
            {"id": "5e6f7a8b9c0d1e2f", "type": "function", "language": "python",
             "z": "t1", "name": "double",
             "func": "msg['payload'] = msg['payload'] * 2\nreturn msg", "outputs": 1,
             "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
             "x": 300, "y": 140, "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.inject("5e6f7a8b9c0d1e2f", payload=21, _msgid="abc")
        (out,) = h.outputs("5e6f7a8b9c0d1e2f")
        assert out["payload"] == 42 and out["_msgid"] == "abc"


async def test_return_shapes_per_output():
    code = """
p = msg["payload"]
if p == "none":
    return None
if p == "two":
    return [None, msg]
if p == "many":
    return [[{"payload": 1}, {"payload": 2}], {"payload": 3}]
return {"payload": "new"}
"""
    async with FlowHarness(function(code, outputs=2)) as h:
        for payload in ("none", "two", "many", "x"):
            await h.inject("f", payload=payload, _msgid="m1")
        assert h.payloads("f", 0) == [1, 2, "new"]
        assert h.payloads("f", 1) == ["two", 3]
        assert {m["_msgid"] for m in h.outputs("f", 0) + h.outputs("f", 1)} == {"m1"}


async def test_node_send_clones_first_message_unless_asked_not_to():
    code = """
node.send(msg)
msg["payload"] = "changed"
node.send(msg, False)
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload="orig")
        first, second = h.outputs("f")
        assert first["payload"] == "orig" and second["payload"] == "changed"


async def test_returned_messages_are_not_cloned():
    code = "node.send(msg, False)\nreturn msg"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=[1])
        first, second = h.outputs("f")
        assert first is second


async def test_non_message_results_are_reported():
    async with FlowHarness(function("return [5]")) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == []
        assert "Function tried to send a message of type int" in h.errors[0]["msg"]


async def test_context_flow_global_and_env():
    code = """
count = context.get("count") or 0
context.set("count", count + 1)
flow.set("last", msg["payload"])
global_.set("seen", (global_.get("seen") or 0) + 1)
g = globals()["global"]
msg["payload"] = [context.get("count"), flow.get("last"), g.get("seen"),
                  context.global_.get("seen"), env.get("SITE"), node.id, node.name,
                  node.outputCount]
return msg
"""
    flow = [{"id": "t1", "type": "tab", "label": "F",
             "env": [{"name": "SITE", "value": "plant", "type": "str"}]},
            *function(code, name="counter")]
    async with FlowHarness(flow) as h:
        await h.inject("f", payload="a")
        await h.inject("f", payload="b")
        assert h.payloads("f") == [[1, "a", 1, 1, "plant", "f", "counter", 1],
                                   [2, "b", 2, 2, "plant", "f", "counter", 1]]


async def test_runtime_error_reaches_catch_with_line_number():
    code = "x = 1\ny = msg['payload'] / 0\nreturn msg"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1, topic="t")
        (caught,) = h.outputs("c")
        assert caught["error"]["message"] == "ZeroDivisionError: division by zero (line 2)"
        assert caught["error"]["source"] == {"id": "f", "type": "function", "name": "",
                                             "count": 1}
        assert caught["topic"] == "t"


async def test_error_line_inside_a_helper_function():
    code = "def helper(v):\n    return v['missing']\n\nreturn helper(msg)"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.outputs("c")[0]["error"]["message"] == "KeyError: 'missing' (line 2)"


async def test_node_error_with_msg_is_catchable():
    async with FlowHarness(function("node.error('bad reading', msg)")) as h:
        await h.inject("f", payload=1)
        assert h.outputs("c")[0]["error"]["message"] == "bad reading"


async def test_syntax_error_fails_the_deploy_with_line():
    with pytest.raises(DeployError, match=r"func: syntax error at line 2") as info:
        async with FlowHarness(function("x = 1\nreturn (msg")):
            pass
    assert info.value.node_id == "f"


async def test_initialize_defines_names_and_finalize_runs_on_close():
    init = "import math\nstate = {'closed': False}\nglobal_.set('inits', 1)"
    fin = "global_.set('closed', True)"
    flow = function("msg['payload'] = math.sqrt(msg['payload'])\nreturn msg",
                    initialize=init, finalize=fin)
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=16)
        assert h.payloads("f") == [4.0]
        assert h.runtime.contexts.global_.get("inits") == 1
        await h.deploy([])
        assert h.runtime.contexts.global_.get("closed") is True


async def test_finalize_cannot_send():
    async with FlowHarness(function("return msg", finalize="node.send({'payload': 1})")) as h:
        await h.deploy([])
        assert h.errors[-1]["msg"] == "Cannot send from close function"


async def test_initialize_error_fails_the_deploy():
    with pytest.raises(DeployError, match=r"initialize: NameError: .* \(line 2\)"):
        async with FlowHarness(function("return msg", initialize="x = 1\nundefined_name")):
            pass


async def test_async_initialize_is_awaited():
    init = "import asyncio\nawait asyncio.sleep(0)\nready = True"
    async with FlowHarness(function("msg['payload'] = ready\nreturn msg",
                                    initialize=init)) as h:
        await h.inject("f", payload=None)
        assert h.payloads("f") == [True]


async def test_async_body_awaits_and_completes_after():
    code = """
await asyncio.sleep(0)
msg["payload"] = msg["payload"] + 1
return msg
"""
    flow = function(code, libs=[{"var": "asyncio", "module": "asyncio"}])
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [2]
    # It runs as a coroutine: other messages are handled while one awaits.
    code = """
if msg["payload"] == "wait":
    await gate.wait()
else:
    gate.set()
return msg
"""
    flow = function(code, initialize="gate = asyncio.Event()",
                    libs=[{"var": "asyncio", "module": "asyncio"}])
    async with FlowHarness(flow) as h:
        h.send("f", {"payload": "wait"})
        await h.inject("f", payload="open")
        assert h.payloads("f") == ["open", "wait"]


async def test_plain_body_is_a_plain_function():
    async with FlowHarness(function("async def later():\n    await x\nreturn msg")) as h:
        assert not asyncio.iscoroutinefunction(h.node("f")._func)


async def test_async_error_reaches_catch():
    code = "import asyncio\nawait asyncio.sleep(0)\nraise ValueError('late')"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=2)
        assert h.outputs("c")[0]["error"]["message"] == "ValueError: late (line 3)"


async def test_node_done_controls_completion():
    # The code keeps each message's `node` so that the test can call done() later.
    flow = function("pending.append(node)\nreturn msg\nif False:\n    node.done()",
                    initialize="pending = []\nflow.set('pending', pending)")
    flow.append({"id": "done", "type": "complete", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [1]
        assert h.outputs("done") == []
        h.runtime.contexts.flow("t1").get("pending")[0].done()
        await h.settle()
        assert len(h.outputs("done")) == 1


async def test_node_done_with_an_error_fails_the_message():
    async with FlowHarness(function("node.done('sensor offline')")) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=2)
        assert h.outputs("c")[0]["error"]["message"] == "sensor offline"


async def test_completion_is_immediate_without_node_done():
    flow = function("return msg")
    flow.append({"id": "done", "type": "complete", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert len(h.outputs("done")) == 1


async def test_status_and_warn():
    code = "node.status({'fill': 'green', 'shape': 'dot', 'text': 5})\nnode.warn('careful')"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.status("f") == {"fill": "green", "shape": "dot", "text": "5"}
        assert h.warnings[0]["msg"] == "careful"


async def test_missing_lib_fails_the_deploy():
    with pytest.raises(DeployError, match="no_such_module"):
        async with FlowHarness(function("return msg", libs=[{"var": "m",
                                                             "module": "no_such_module"}])):
            pass


# ------------------------------------------------------- code cannot end the process
ENDINGS = {
    "sys.exit()": ("import sys\n    sys.exit()", "SystemExit (line 4)"),
    "exit(3)": ("exit(3)", "SystemExit: 3 (line 3)"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", "KeyboardInterrupt (line 3)"),
    "CancelledError": ("raise asyncio.CancelledError", "CancelledError (line 3)"),
}


@pytest.mark.parametrize("awaits", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_base_exceptions_are_errors_of_the_message(ending, awaits):
    statement, expected = ENDINGS[ending]
    first = "await asyncio.sleep(0)\n" if awaits else "\n"
    code = f"{first}if msg['payload'] == 'bad':\n    {statement}\nreturn msg"
    flow = function(code, libs=[{"var": "asyncio", "module": "asyncio"}])
    async with FlowHarness(flow) as h:
        await h.inject("f", payload="bad")
        await h.wait_for(lambda: h.outputs("c"), within=2)
        assert h.outputs("c")[0]["error"]["message"] == expected
        await h.inject("f", payload="next")
        await h.wait_for(lambda: h.payloads("f"), within=2)
        assert h.payloads("f") == ["next"]


async def test_node_done_with_a_base_exception_fails_only_the_message():
    async with FlowHarness(function("node.done(KeyboardInterrupt())")) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=2)
        assert h.outputs("c")[0]["error"]["message"] == "KeyboardInterrupt"


async def test_system_exit_in_initialize_fails_the_deploy():
    with pytest.raises(DeployError, match=r"initialize: SystemExit: 2 \(line 2\)"):
        async with FlowHarness(function("return msg", initialize="x = 1\nraise SystemExit(2)")):
            pass


async def test_keyboard_interrupt_in_finalize_is_reported():
    async with FlowHarness(function("return msg", finalize="raise KeyboardInterrupt")) as h:
        await h.deploy([])
        assert h.errors[-1]["msg"] == "finalize: KeyboardInterrupt (line 1)"


# ------------------------------------------------------------------ time limits
async def test_timeout_interrupts_a_runaway_loop_and_the_next_message_flows():
    code = "if msg['payload'] == 'spin':\n    while True:\n        pass\nreturn msg"
    async with FlowHarness(function(code, timeout=0.2)) as h:
        await h.inject("f", payload="spin")
        await h.inject("f", payload="next")
        await h.wait_for(lambda: h.payloads("f"), within=5)
        # The line of the loop where the interruption landed.
        assert h.outputs("c")[0]["error"]["message"] in ("timed out after 0.2 s (line 2)",
                                                       "timed out after 0.2 s (line 3)")
        assert h.payloads("f") == ["next"]


async def test_timeout_survives_code_that_catches_the_first_interruption():
    code = ("try:\n    while True:\n        pass\nexcept BaseException:\n    pass\n"
            "while True:\n    pass")
    async with FlowHarness(function(code, timeout=0.2)) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=5)
        assert h.outputs("c")[0]["error"]["message"] in ("timed out after 0.2 s (line 6)",
                                                       "timed out after 0.2 s (line 7)")


async def test_timeout_interrupts_a_blocking_call():
    async with FlowHarness(function("import time\ntime.sleep(60)", timeout="0.2")) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=5)
        assert h.outputs("c")[0]["error"]["message"] == "timed out after 0.2 s (line 2)"


async def test_runtime_wide_limit_applies_without_a_node_timeout():
    async with FlowHarness(function("while True:\n    pass"),
                           settings={"functionTimeout": 0.2}) as h:
        await h.inject("f", payload=1)
        await h.wait_for(lambda: h.outputs("c"), within=5)
        message = h.outputs("c")[0]["error"]["message"]
        assert message.startswith("timed out after 0.2 s (line ")
        assert message.endswith("; the limit is the functionTimeout setting: give the node a "
                                "timeout")


async def test_async_code_is_bounded_while_awaiting_and_while_running():
    awaiting = "await asyncio.sleep(60)"
    spinning = "await asyncio.sleep(0)\nwhile True:\n    pass"
    flow = [*function(awaiting, timeout=0.2, libs=[{"var": "asyncio", "module": "asyncio"}]),
            {"id": "g", "type": "function", "language": "python",
             "z": "t1", "x": 0, "y": 0, "func": spinning,
             "outputs": 1, "wires": [[]], "libs": [{"var": "asyncio", "module": "asyncio"}]}]
    async with FlowHarness(flow, settings={"functionTimeout": 0.2}) as h:
        await h.inject("f", payload=1)
        await h.inject("g", payload=1)
        await h.wait_for(lambda: len(h.outputs("c")) == 2, within=5)
        errors = {m["error"]["source"]["id"]: m["error"]["message"] for m in h.outputs("c")}
        assert errors["f"] == "timed out after 0.2 s (line 1)"
        assert errors["g"].startswith("timed out after 0.2 s (line ")


async def test_a_runaway_initialize_fails_the_deploy():
    with pytest.raises(DeployError, match=r"initialize: timed out after 0.2 s \(line \d\)"):
        async with FlowHarness(function("return msg", initialize="while True:\n    pass",
                                        timeout=0.2)):
            pass


async def test_code_that_returns_in_time_is_not_interrupted():
    code = "total = 0\nfor i in range(1000):\n    total += i\nmsg['payload'] = total\nreturn msg"
    async with FlowHarness(function(code, timeout=5)) as h:
        for _ in range(100):
            await h.inject("f", payload=None)
        assert h.payloads("f") == [499500] * 100
        assert h.errors == []


async def test_a_runaway_callback_the_code_scheduled_is_interrupted():
    code = ("def spin():\n    while True:\n        pass\n\n"
            "if msg['payload'] == 'spin':\n    asyncio.get_running_loop().call_soon(spin)\n"
            "return msg")
    flow = function(code, libs=[{"var": "asyncio", "module": "asyncio"}])
    async with FlowHarness(flow, settings={"functionTimeout": 0.2}) as h:
        await h.inject("f", payload="spin")
        await h.settle()  # the callback runs (and is interrupted) in here
        await h.inject("f", payload="next")
        await h.wait_for(lambda: len(h.payloads("f")) == 2, within=5)
        assert h.payloads("f") == ["spin", "next"]
