"""Node-RED compatibility: a flow written exactly as Node-RED 4's editor exports it
(tabs, config nodes without x/y, groups, junctions, comments, disabled nodes and tabs,
links across tabs, link call with return, subflows with env overrides, ``${ENV}``
properties, global-config env) runs unchanged; documents round-trip key for key; and
the engine's catch rules for subflows and error loops match Node-RED's.

Function nodes hold Python code (flowrt's function node), everything else is as saved
by Node-RED.
"""

from __future__ import annotations

import copy

import pytest

from flowrt import flowdoc
from flowrt.testing import FlowHarness

# Node-RED 4 export order: tabs, subflows, groups, junctions, config nodes, flow nodes.
EXPORT: list[dict] = [
    {"id": "f1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "",
     "env": [{"name": "GREETING", "value": "hello", "type": "str"},
             {"name": "LIMIT", "value": "2", "type": "num"}]},
    {"id": "f2", "type": "tab", "label": "Flow 2", "disabled": False, "info": "", "env": []},
    {"id": "f3", "type": "tab", "label": "Parked", "disabled": True, "info": "", "env": []},
    {"id": "sf1", "type": "subflow", "name": "times factor", "info": "", "category": "",
     "in": [{"x": 50, "y": 30, "wires": [{"id": "sf_fn"}]}],
     "out": [{"x": 300, "y": 30, "wires": [{"id": "sf_fn", "port": 0}]}],
     "env": [{"name": "FACTOR", "type": "num", "value": "2"}], "meta": {},
     "color": "#DDAA99"},
    {"id": "sf2", "type": "subflow", "name": "fails", "info": "", "category": "",
     "in": [{"x": 50, "y": 30, "wires": [{"id": "sf2_fn"}]}], "out": [], "env": [],
     "meta": {}, "color": "#DDAA99"},
    {"id": "grp", "type": "group", "z": "f1", "name": "Greeting",
     "style": {"label": True, "stroke": "#a4a4a4", "fill": "#ffffbf", "fill-opacity": "0.5",
               "label-position": "nw", "color": "#000000"},
     "nodes": ["greet", "chg"], "x": 34, "y": 359, "w": 372, "h": 82},
    {"id": "res3", "type": "junction", "z": "f1", "x": 400, "y": 80, "wires": [["dbg"]]},
    {"id": "res2", "type": "junction", "z": "f1", "x": 400, "y": 120, "wires": [["dbg"]]},
    {"id": "broker", "type": "mqtt-broker", "name": "local", "broker": "127.0.0.1",
     "port": "1883", "clientid": "", "autoConnect": True, "usetls": False,
     "protocolVersion": "4", "keepalive": "60", "cleansession": True,
     "autoUnsubscribe": True, "birthTopic": "", "birthQos": "0", "birthRetain": "false",
     "birthPayload": "", "birthMsg": {}, "closeTopic": "", "closeQos": "0",
     "closeRetain": "false", "closePayload": "", "closeMsg": {}, "willTopic": "",
     "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": {},
     "userProps": "", "sessionExpiry": ""},
    {"id": "sf_fn", "type": "function", "language": "python", "z": "sf1", "name": "multiply",
     "func": "msg['payload'] = msg['payload'] * env.get('FACTOR')\nreturn msg",
     "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
     "x": 170, "y": 30, "wires": [[]]},
    {"id": "sf2_fn", "type": "function", "language": "python", "z": "sf2", "name": "boom",
     "func": "raise ValueError('inside the subflow')", "outputs": 1, "timeout": 0,
     "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 170, "y": 30,
     "wires": [[]]},
    {"id": "inj", "type": "inject", "z": "f1", "name": "seven",
     "props": [{"p": "payload"}, {"p": "topic", "vt": "str"}], "repeat": "", "crontab": "",
     "once": True, "onceDelay": 0.1, "topic": "calc", "payload": "7", "payloadType": "num",
     "x": 110, "y": 80, "wires": [["sfi3", "sfi_default"]]},
    {"id": "sfi3", "type": "subflow:sf1", "z": "f1", "name": "",
     "env": [{"name": "FACTOR", "value": "3", "type": "num"}], "x": 260, "y": 80,
     "wires": [["res3"]]},
    {"id": "sfi_default", "type": "subflow:sf1", "z": "f1", "name": "", "x": 260, "y": 120,
     "wires": [["res2"]]},
    {"id": "dbg", "type": "debug", "z": "f1", "name": "result", "active": True,
     "tosidebar": True, "console": False, "tostatus": False, "complete": "payload",
     "targetType": "msg", "statusVal": "", "statusType": "auto", "x": 520, "y": 100,
     "wires": []},
    {"id": "note", "type": "comment", "z": "f1", "name": "How this works",
     "info": "Multiplies by FACTOR", "x": 120, "y": 30, "wires": []},
    {"id": "greet", "type": "function", "language": "python",
     "z": "f1", "g": "grp", "name": "env chain",
     "func": "msg['payload'] = [env.get('GREETING'), env.get('SITE'), "
             "env.get('NR_GROUP_NAME')]\nreturn msg",
     "outputs": 1, "timeout": 0, "noerr": 0, "initialize": "", "finalize": "", "libs": [],
     "x": 130, "y": 400, "wires": [["chg"]]},
    {"id": "chg", "type": "change", "z": "f1", "g": "grp", "name": "",
     "rules": [{"t": "set", "p": "topic", "pt": "msg", "to": "${GREETING}", "tot": "str"}],
     "action": "", "property": "", "from": "", "to": "", "reg": False, "x": 310, "y": 400,
     "wires": [[]]},
    {"id": "trg", "type": "trigger", "z": "f1", "name": "", "op1": "${GREETING}", "op2": "0",
     "op1type": "str", "op2type": "nul", "duration": "0", "extend": False,
     "overrideDelay": False, "units": "ms", "reset": "", "bytopic": "all", "topic": "topic",
     "outputs": 1, "x": 120, "y": 480, "wires": [[]]},
    {"id": "dl", "type": "delay", "z": "f1", "name": "", "pauseType": "delay",
     "timeout": "${LIMIT}", "timeoutUnits": "seconds", "rate": "1", "nbRateUnits": "1",
     "rateUnits": "second", "randomFirst": "1", "randomLast": "5", "randomUnits": "seconds",
     "drop": False, "allowrate": False, "outputs": 1, "x": 120, "y": 520, "wires": [[]]},
    {"id": "sw", "type": "switch", "z": "f1", "name": "", "property": "payload",
     "propertyType": "msg", "rules": [{"t": "gt", "v": "10", "vt": "num"}, {"t": "else"}],
     "checkall": "true", "repair": False, "outputs": 2, "x": 120, "y": 560,
     "wires": [[], []]},
    {"id": "pre", "type": "junction", "z": "f1", "x": 100, "y": 600, "wires": [["off", "post"]]},
    {"id": "off", "type": "function", "language": "python",
     "z": "f1", "d": True, "name": "disabled",
     "func": "msg['payload'] = 'should not run'\nreturn msg", "outputs": 1, "timeout": 0,
     "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 200, "y": 600,
     "wires": [["post"]]},
    {"id": "post", "type": "junction", "z": "f1", "x": 300, "y": 600, "wires": [[]]},
    {"id": "lo", "type": "link out", "z": "f1", "name": "to flow 2", "mode": "link",
     "links": ["li"], "x": 100, "y": 640, "wires": []},
    {"id": "lc", "type": "link call", "z": "f1", "name": "", "links": ["svc"],
     "linkType": "static", "timeout": "30", "x": 120, "y": 680, "wires": [["after_call"]]},
    {"id": "after_call", "type": "junction", "z": "f1", "x": 260, "y": 680, "wires": [[]]},
    {"id": "li", "type": "link in", "z": "f2", "name": "from flow 1", "links": ["lo"],
     "x": 80, "y": 40, "wires": [["spl"]]},
    {"id": "spl", "type": "split", "z": "f2", "name": "", "splt": "\\n", "spltType": "str",
     "arraySplt": 1, "arraySpltType": "len", "stream": False, "addname": "",
     "property": "payload", "x": 200, "y": 40, "wires": [["jn"]]},
    {"id": "jn", "type": "join", "z": "f2", "name": "", "mode": "auto", "build": "object",
     "property": "payload", "propertyType": "msg", "key": "topic", "joiner": "\\n",
     "joinerType": "str", "useparts": False, "accumulate": "false", "timeout": "",
     "count": "", "reduceRight": False, "reduceExp": "", "reduceInit": "",
     "reduceInitType": "", "reduceFixup": "", "x": 320, "y": 40, "wires": [["joined"]]},
    {"id": "joined", "type": "junction", "z": "f2", "x": 420, "y": 40, "wires": [[]]},
    {"id": "svc", "type": "link in", "z": "f2", "name": "service", "links": [], "x": 80,
     "y": 100, "wires": [["svc_fn"]]},
    {"id": "svc_fn", "type": "function", "language": "python", "z": "f2", "name": "double",
     "func": "msg['payload'] = msg['payload'] * 2\nreturn msg", "outputs": 1, "timeout": 0,
     "noerr": 0, "initialize": "", "finalize": "", "libs": [], "x": 200, "y": 100,
     "wires": [["ret"]]},
    {"id": "ret", "type": "link out", "z": "f2", "name": "", "mode": "return", "links": [],
     "x": 320, "y": 100, "wires": []},
    {"id": "sfi_fail", "type": "subflow:sf2", "z": "f2", "name": "", "x": 100, "y": 160,
     "wires": []},
    {"id": "catch_inst", "type": "catch", "z": "f2", "name": "", "scope": ["sfi_fail"],
     "uncaught": False, "x": 100, "y": 200, "wires": [[]]},
    {"id": "catch_f1", "type": "catch", "z": "f1", "name": "", "scope": None,
     "uncaught": False, "x": 100, "y": 720, "wires": [[]]},
    {"id": "parked", "type": "inject", "z": "f3", "name": "", "props": [{"p": "payload"}],
     "repeat": "", "crontab": "", "once": True, "onceDelay": 0.1, "topic": "",
     "payload": "", "payloadType": "date", "x": 100, "y": 40, "wires": [[]]},
    {"id": "gc", "type": "global-config", "env": [
        {"name": "SITE", "value": "plant-7", "type": "str"}], "modules": {}},
]


@pytest.fixture
async def h():
    async with FlowHarness(EXPORT) as harness:
        yield harness


async def test_export_deploys_with_everything_node_red_puts_in_it(h):
    running = set(h.runtime.nodes)
    assert {"broker", "res3", "li", "svc", "sfi3-sf_fn", "sfi_default-sf_fn"} <= running
    assert h.runtime.get_node("broker").ctx.flow.id == "global"  # no x/y: a config node
    assert "note" in running  # a comment is an ordinary (inert) node
    assert "off" not in running  # d:true
    assert "parked" not in running  # on a disabled tab
    assert h.errors == []


async def test_subflow_instance_env_overrides_the_definition_default(h):
    await h.advance(0.2)  # the inject fires once, 0.1 s after deploy
    assert h.payloads("res3") == [21]  # FACTOR=3 on the instance: 7 -> 21
    assert h.payloads("res2") == [14]  # definition default FACTOR=2
    assert h.outputs("res3")[0]["topic"] == "calc"


async def test_env_chain_tab_global_config_and_group(h):
    await h.inject("greet", payload=None)
    assert h.payloads("greet") == [["hello", "plant-7", "Greeting"]]
    assert h.outputs("chg")[0]["topic"] == "hello"  # "${GREETING}" inside a change rule


async def test_whole_value_env_references_in_core_node_properties(h):
    await h.inject("trg", payload="x")
    assert h.payloads("trg") == ["hello"]
    await h.inject("dl", payload="late")
    await h.advance(1.9)
    assert h.payloads("dl") == []
    await h.advance(0.2)  # timeout "${LIMIT}" = 2 s from the tab env
    assert h.payloads("dl") == ["late"]


async def test_switch_and_disabled_node_wiring(h):
    for value in (11, 3):
        await h.inject("sw", payload=value)
    assert h.payloads("sw", 0) == [11]
    assert h.payloads("sw", 1) == [3]
    await h.inject("pre", payload="through")
    assert h.payloads("post") == ["through"]  # the wire into the disabled node goes nowhere


async def test_link_out_across_tabs_into_split_and_join(h):
    await h.inject("lo", payload="a\nb\nc", topic="lines")
    assert h.payloads("spl") == ["a", "b", "c"]
    [joined] = h.outputs("joined")
    assert joined["payload"] == "a\nb\nc"
    assert joined["topic"] == "lines"
    assert "parts" not in joined


async def test_link_call_returns_to_the_caller(h):
    await h.inject("lc", payload=5)
    assert h.payloads("after_call") == [10]
    assert "_linkSource" not in h.outputs("after_call")[0]


async def test_error_in_a_subflow_reaches_the_parent_flows_catch_via_the_instance(h):
    await h.inject("sfi_fail", payload="x")
    await h.wait_for(lambda: len(h.outputs("catch_inst")) == 1, within=2)
    error = h.outputs("catch_inst")[0]["error"]
    assert error["message"] == "ValueError: inside the subflow (line 1)"
    # Scoped by the instance node, but the source is the node that failed (Node-RED).
    assert error["source"] == {"id": "sfi_fail-sf2_fn", "type": "function", "name": "boom",
                               "count": 1}
    assert h.outputs("catch_f1") == []  # another tab's catch never sees it


async def test_error_loop_stops_after_ten_rounds():
    flow = [{"id": "t", "type": "tab", "label": "loop", "disabled": False, "info": "",
             "env": []},
            {"id": "fail", "type": "function", "language": "python",
             "z": "t", "name": "always fails",
             "func": "raise RuntimeError('again')", "outputs": 1, "timeout": 0, "noerr": 0,
             "initialize": "", "finalize": "", "libs": [], "x": 300, "y": 40, "wires": [[]]},
            {"id": "c", "type": "catch", "z": "t", "name": "", "scope": ["fail"],
             "uncaught": False, "x": 100, "y": 40, "wires": [["fail"]]}]
    async with FlowHarness(flow) as h:
        await h.inject("fail", payload=1)
        await h.settle()
        counts = [m["error"]["source"]["count"] for m in h.outputs("c")]
        assert counts == list(range(1, 10))  # the 10th error is dropped, ending the loop
        assert h.node("fail").received == 10


async def test_error_loop_inside_a_subflow_stops_too():
    flow = [{"id": "t", "type": "tab", "label": "main"},
            {"id": "sf", "type": "subflow", "name": "loops", "in": [{"wires": [{"id": "f"}]}],
             "out": [], "env": []},
            {"id": "f", "type": "function", "language": "python",
             "z": "sf", "func": "raise RuntimeError('again')",
             "outputs": 1, "x": 1, "y": 1, "wires": [[]]},
            {"id": "c", "type": "catch", "z": "sf", "scope": None, "x": 1, "y": 1,
             "wires": [["f"]]},
            {"id": "i", "type": "subflow:sf", "z": "t", "x": 1, "y": 1, "wires": []}]
    async with FlowHarness(flow) as h:
        await h.inject("i", payload=1)
        await h.settle()
        assert [m["error"]["source"]["count"] for m in h.outputs("i-c")] == list(range(1, 10))
        assert h.outputs("i-c")[0]["error"]["source"]["id"] == "f"


def test_flow_document_round_trips_with_unknown_keys():
    document = copy.deepcopy(EXPORT)
    document[0]["x-flowrt-unknown"] = {"nested": [1, "two", None, True]}
    document.append({"id": "u1", "type": "node-red-contrib-foo", "z": "f1", "x": 1, "y": 2,
                     "wires": [["dbg"]], "l": False, "icon": "font-awesome/fa-bolt",
                     "inputLabels": ["in"], "info": "ünïcödé", "custom": 1.5})
    for pretty in (True, False):
        text = flowdoc.dumps(document, pretty=pretty)
        assert flowdoc.parse(text) == document
        assert flowdoc.parse(flowdoc.dumps(flowdoc.parse(text), pretty=pretty)) == document
    assert b'\n    {\n        "id": "f1"' in flowdoc.dumps(document)  # 4-space, as Node-RED
