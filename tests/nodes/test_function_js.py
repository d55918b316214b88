"""function (JavaScript): the scenarios of Node-RED's function node spec, as users see them.

Messages out, the error text at catch nodes, logs, status: what a flow exported from
Node-RED shows when it runs on flowrt.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import flowrt_nodes.function as function_node
import pytest

from flowrt.errors import DeployError, FlowValidationError
from flowrt.testing import FlowHarness


def function(func, outputs=1, **config):
    """A JavaScript function node ``f`` (as Node-RED exports it) and a catch node ``c``."""
    return [{"id": "f", "type": "function", "z": "t1", "x": 0, "y": 0, "name": "",
             "func": func, "outputs": outputs, "timeout": 0, "noerr": 0, "initialize": "",
             "finalize": "", "libs": [], "wires": [[] for _ in range(outputs)], **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


def caught(h):
    return [m["error"]["message"] for m in h.outputs("c")]


# ------------------------------------------------------------------ sending
async def test_returned_message_is_sent_with_the_input_msgid():
    async with FlowHarness(function("msg.payload = msg.payload * 2;\nreturn msg;")) as h:
        await h.inject("f", payload=21, topic="bar", _topic="baz", _msgid="abc")
        (out,) = h.outputs("f")
        assert out == {"payload": 42, "topic": "bar", "_topic": "baz", "_msgid": "abc"}


async def test_language_absent_or_javascript_is_javascript():
    for extra in ({}, {"language": "javascript"}):
        async with FlowHarness(function("return {payload: typeof msg.payload}", **extra)) as h:
            await h.inject("f", payload=1)
            assert h.payloads("f") == ["number"]


async def test_the_language_is_never_guessed_from_the_code():
    with pytest.raises(DeployError, match="JavaScript syntax error in func at line 1"):
        async with FlowHarness(function("import math\nreturn msg")):
            pass
    with pytest.raises(FlowValidationError, match="'lua' is not one of"):
        async with FlowHarness(function("return msg;", language="lua")):
            pass


def test_the_editor_offers_both_languages():
    schema = function_node.Function.schema["properties"]["language"]
    assert schema["enum"] == ["javascript", "python"] and schema["default"] == "javascript"
    assert schema["title"]


async def test_node_send_sends_a_copy():
    async with FlowHarness(function("node.send(msg); msg.payload = 'changed';")) as h:
        await h.inject("f", payload="foo", topic="bar")
        assert h.payloads("f") == ["foo"]


@pytest.mark.parametrize("args", ["[msg]", "[[msg],[null]]", "[null,msg]", "[null,[msg]]"])
async def test_node_send_copies_the_first_message_of_any_shape(args):
    flow = function(f"node.send({args}); msg.payload = 'changed';", outputs=2)
    async with FlowHarness(flow) as h:
        await h.inject("f", payload="foo")
        assert h.payloads("f", 0) + h.payloads("f", 1) == ["foo"]


async def test_node_send_with_clone_false_sends_the_message_as_it_ends_up():
    async with FlowHarness(function("node.send(msg, false); msg.payload = 'changed';")) as h:
        await h.inject("f", payload="foo", topic="bar")
        assert h.outputs("f")[0]["payload"] == "changed"


async def test_multiple_outputs_and_multiple_messages():
    code = """
if (msg.payload === 'none') return null;
if (msg.payload === 'second') return [null, msg];
if (msg.payload === 'many') return [[{payload: 1}, null, {payload: 2}], {payload: 3}];
return [{payload: '1'}, {payload: '2'}];
"""
    async with FlowHarness(function(code, outputs=2)) as h:
        for payload in ("none", "second", "many", "x"):
            await h.inject("f", payload=payload, _msgid="m1")
        assert h.payloads("f", 0) == [1, 2, "1"]
        assert h.payloads("f", 1) == ["second", 3, "2"]
        assert {m["_msgid"] for m in h.outputs("f", 0) + h.outputs("f", 1)} == {"m1"}


async def test_fanned_out_copies_are_independent():
    flow = function("return [[msg, msg]];")
    flow[0]["wires"] = [["g", "g"]]
    flow.append({"id": "g", "type": "function", "z": "t1", "x": 0, "y": 0,
                 "func": "msg.payload.n += 1; return msg;", "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload={"n": 0})
        assert [p["n"] for p in h.payloads("g")] == [1, 1, 1, 1]


@pytest.mark.parametrize(("code", "kind"), [
    ('return "foo"', "string"), ('return Buffer.from("hello")', "Buffer"),
    ("return [[[1,2,3]]]", "Array"), ("return true", "boolean"), ("return 123", "number")])
async def test_non_message_results_are_dropped_and_logged(code, kind):
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.outputs("f") == []
        assert [e["msg"] for e in h.errors] == [
            f"Function tried to send a message of type {kind}"]
        assert caught(h) == []


async def test_node_identity():
    code = "return {payload: [node.id, node.name, node.outputCount, node.path]};"
    async with FlowHarness(function(code, outputs=2, name="calc")) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [["f", "calc", 2, "t1/f"]]


# ------------------------------------------------------------------ values
async def test_values_keep_their_kind_across_the_boundary():
    code = """
msg.kinds = [Buffer.isBuffer(msg.payload), msg.when instanceof Date, Number.isNaN(msg.nan),
             msg.inf === Infinity, msg.missing === undefined, msg.nothing === null,
             Buffer.isBuffer(msg.parts[1]) && msg.parts[1][0] === 2];
msg.buf = Buffer.from([1, 2, 255]);
msg.date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
msg.bad = 0 / 0;
msg.gone = undefined;
msg.nested = {a: [1, {b: -Infinity}], s: 'é'};
return msg;
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=b"\x00\xff", when=datetime(2020, 1, 1, tzinfo=UTC),
                       nan=math.nan, inf=math.inf, nothing=None,
                       parts=[b"\x01", b"\x02"], untouched={"raw": b"\x03\x04"})
        (out,) = h.outputs("f")
        assert out["kinds"] == [True, True, True, True, True, True, True]
        assert out["parts"] == [b"\x01", b"\x02"] and out["untouched"] == {"raw": b"\x03\x04"}
        assert out["buf"] == b"\x01\x02\xff" and out["payload"] == b"\x00\xff"
        assert out["date"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert out["when"] == datetime(2020, 1, 1, tzinfo=UTC)
        assert math.isnan(out["bad"]) and "gone" not in out and out["nothing"] is None
        assert out["nested"] == {"a": [1, {"b": -math.inf}], "s": "é"}


async def test_large_messages_cross_whole():
    # Long concatenations are ropes inside the engine: they must still reach Python.
    code = ("node.warn('w'.repeat(5000) + '!');\n"
            "msg.text = 'y'.repeat(100000) + msg.text;\n"
            "msg.copy = Buffer.from(msg.payload.toString('base64'), 'base64');\n"
            "return msg;")
    payload = bytes(range(256)) * 800
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=payload, text="end")
        (out,) = h.outputs("f")
        assert out["payload"] == payload and out["copy"] == payload
        assert out["text"] == "y" * 100000 + "end"
        assert h.warnings[0]["msg"] == "w" * 5000 + "!"


async def test_json_stringify_of_a_date_and_a_buffer_is_as_in_node():
    code = "return {payload: JSON.stringify([new Date(0), Buffer.from('hi')])};"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [
            '["1970-01-01T00:00:00.000Z",{"type":"Buffer","data":[104,105]}]']


async def test_buffer_basics():
    code = """
const b = Buffer.from('héllo');
return {payload: [b.length, b[1], b.toString(), b.toString('hex'), b.toString('base64'),
                  Buffer.from('aGk=', 'base64').toString(), Buffer.from('6869', 'hex').toString(),
                  Buffer.from([0, 1, 2]).readUInt16BE(1), Buffer.isBuffer(b),
                  Buffer.isBuffer('x'), Buffer.concat([b, Buffer.from('!')]).toString(),
                  b.slice(0, 1).toString()]};
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [[6, 195, "héllo", "68c3a96c6c6f", "aMOpbGxv", "hi", "hi", 258,
                                    True, False, "héllo!", "h"]]


async def test_red_util():
    code = """
const copy = RED.util.cloneMessage(msg);
copy.payload.a = 2;
RED.util.setMessageProperty(msg, 'msg.deep.list[1]', 'x');
return {payload: [msg.payload.a, copy.payload.a,
                  RED.util.getMessageProperty(msg, 'msg.payload.a'),
                  RED.util.getMessageProperty(msg, 'deep.list[1]'),
                  RED.util.generateId().length]};
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload={"a": 1})
        assert h.payloads("f") == [[1, 2, 1, "x", 16]]


# ------------------------------------------------------------------ context, env
async def test_context_flow_global_get_set_keys():
    code = """
const count = (context.get('count') || 0) + 1;
context.set('count', count);
flow.set('last', msg.payload);
global.set('seen', (global.get('seen') || 0) + 1);
return {payload: [count, flow.get('last'), global.get('seen'), context.global.get('seen'),
                  context.flow.get('last'), context.keys(), context.get('nothing') === undefined]};
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload="a")
        await h.inject("f", payload="b")
        assert h.payloads("f") == [[1, "a", 1, 1, "a", ["count"], True],
                                   [2, "b", 2, 2, "b", ["count"], True]]
        assert h.runtime.contexts.global_.get("seen") == 2


async def test_a_context_object_changed_in_place_is_kept_as_in_node_red():
    code = """
const counts = flow.get('counts') || {};
if (!flow.get('counts')) flow.set('counts', counts);
counts[msg.topic] = (counts[msg.topic] || 0) + 1;
flow.get('counts').total = (flow.get('counts').total || 0) + 1;
return {payload: counts};
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", topic="a")
        await h.inject("f", topic="a")
        await h.inject("f", topic="b")
        assert h.payloads("f")[-1] == {"a": 2, "b": 1, "total": 3}
        assert h.runtime.contexts.flow("t1").get("counts") == {"a": 2, "b": 1, "total": 3}


WINDOWS = """
let windows = context.get('windows');
if (!windows) { windows = {}; context.set('windows', windows); }
const key = msg.topic;
let w = windows[key];
if (!w) { w = windows[key] = {count: 0, sum: 0, seen: []}; }
w.count += 1;
w.sum += msg.payload;
w.seen.push(msg.payload);
if (w.count < 3) { return null; }
delete windows[key];
return {topic: key, payload: w.sum};
"""


async def test_an_object_held_between_messages_keeps_every_change_without_set():
    async with FlowHarness(function(WINDOWS)) as h:
        for value, topic in [(1, "a"), (10, "b"), (2, "a"), (20, "b"), (3, "a"), (4, "a")]:
            await h.inject("f", payload=value, topic=topic)
        assert [(m["topic"], m["payload"]) for m in h.outputs("f")] == [("a", 6)]
        # what the context sidebar shows: the open windows, as the code left them
        assert h.runtime.contexts.node("f", "t1").get("windows") == {
            "a": {"count": 1, "sum": 4, "seen": [4]},
            "b": {"count": 2, "sum": 30, "seen": [10, 20]}}


async def test_only_what_the_code_changed_goes_back_to_the_store():
    async with FlowHarness(function(WINDOWS)) as h:
        calls = []
        node = h.node("f")
        real = node.context_call
        node.context_call = lambda scope, op, store, args: (
            calls.append((op, args)), real(scope, op, store, args))[1]
        for n in range(50):
            await h.inject("f", payload=1, topic=f"g{n}")
        calls.clear()
        await h.inject("f", payload=5, topic="g7")
        # one look at the generation (nothing else set it), then g7's three changed values
        assert [op for op, _ in calls] == ["hold", "patch"]
        key, _, changes = calls[1][1]
        assert key == "windows"
        assert changes == [["s", ["g7", "count"], 2], ["s", ["g7", "sum"], 6],
                           ["s", ["g7", "seen"], [1, 5]]]


async def test_a_held_object_set_by_another_node_is_fetched_again():
    flow = [*function("const s = flow.get('state');\n"
                      "s.count = (s.count || 0) + 1;\nreturn {payload: s};"),
            {"id": "reset", "type": "change", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             "rules": [{"t": "set", "p": "state", "pt": "flow", "to": '{"count": 100}',
                        "tot": "json"}]}]
    async with FlowHarness(flow) as h:
        h.runtime.contexts.flow("t1").set("state", {"count": 0})
        await h.inject("f", payload=1)
        await h.inject("f", payload=1)
        await h.inject("reset", payload=1)
        await h.inject("f", payload=1)
        assert [m["payload"]["count"] for m in h.outputs("f")] == [1, 2, 101]
        assert h.runtime.contexts.flow("t1").get("state") == {"count": 101}


async def test_nested_changes_deletions_and_arrays_reach_the_store():
    code = """
const s = global.get('s');
s.list.push(msg.payload);
s.nested.deep.x = msg.payload;
delete s.gone;
s.fresh = {made: msg.payload};
s.fresh.later = true;
s.list[0] = 'first';
return {payload: [s === global.get('s'), s.nested === s.nested]};
"""
    async with FlowHarness(function(code)) as h:
        h.runtime.contexts.global_.set("s", {"list": [0], "nested": {"deep": {}}, "gone": 1})
        await h.inject("f", payload=7)
        await h.inject("f", payload=8)
        assert h.payloads("f") == [[True, True], [True, True]]
        assert h.runtime.contexts.global_.get("s") == {
            "list": ["first", 7, 8], "nested": {"deep": {"x": 8}},
            "fresh": {"made": 8, "later": True}}


async def test_the_get_change_set_idiom_sends_the_change_not_the_object(tmp_path):
    code = """
const seen = flow.get('seen') || {};
seen[msg.topic] = msg.payload;
flow.set('seen', seen);
return msg;
"""
    settings = {"contextStorage": {"default": {"module": "sqlite",
                                               "config": {"flushInterval": 3600}}}}
    async with FlowHarness(function(code), settings=settings, data_dir=tmp_path) as h:
        calls = []
        node = h.node("f")
        real = node.context_call
        node.context_call = lambda scope, op, store, args: (
            calls.append(op), real(scope, op, store, args))[1]
        await h.inject("f", payload=1, topic="a")
        await h.inject("f", payload=2, topic="b")
        assert calls[-3:] == ["hold", "hold", "patch"]  # get, set of its own object, change
        await h.runtime.contexts.flush()
    async with FlowHarness(function(code), settings=settings, data_dir=tmp_path) as h:
        assert h.runtime.contexts.flow("t1").get("seen") == {"a": 1, "b": 2}


async def test_context_stores_several_keys_and_callbacks():
    code = """
context.set(['a', 'b'], [1, 2], 'disk');
context.set('c', 3, 'disk', function (err) {
  context.get(['a', 'b', 'c'], 'disk', function (err, a, b, c) {
    context.keys('disk', function (err, keys) {
      node.send({payload: [err, a, b, c, keys, context.get(['a', 'b'], 'disk')]});
    });
  });
});
"""
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "disk": {"module": "memory"}}}
    async with FlowHarness(function(code), settings=settings) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [[None, 1, 2, 3, ["a", "b", "c"], [1, 2]]]


async def test_context_errors():
    code = """
try { context.get('') } catch (e) { node.warn('sync: ' + e.message) }
context.get('', function (err) { node.warn('callback: ' + err.message) });
context.get('count', 'default', 'callback');
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert [w["msg"] for w in h.warnings] == ["sync: Invalid context key",
                                                  "callback: Invalid context key"]
        assert caught(h) == ["Error: Callback must be a function"]


async def test_env_get():
    code = "return {payload: [env.get('SITE'), env.get('NR_NODE_ID'), env.get('NOPE')]};"
    flow = [{"id": "t1", "type": "tab", "label": "F",
             "env": [{"name": "SITE", "value": "plant", "type": "str"}]}, *function(code)]
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        # undefined in an array arrives as null, as JSON writes it
        assert h.payloads("f") == [["plant", "f", None]]


# ------------------------------------------------------------------ errors
async def test_thrown_error_reaches_catch_as_node_red_words_it():
    async with FlowHarness(function("throw new Error('kaboom');")) as h:
        await h.inject("f", payload=1, topic="t")
        (error,) = h.outputs("c")
        assert error["error"]["message"] == "Error: kaboom"
        assert error["error"]["source"] == {"id": "f", "type": "function", "name": "",
                                            "count": 1}
        assert error["topic"] == "t"


@pytest.mark.parametrize(("code", "expected"), [
    ('throw "small mistake";', "small mistake"), ("throw 99;", "99"),
    ("throw {a:1};", '{"a":1}'), ("throw new TypeError('bad type');", "TypeError: bad type")])
async def test_thrown_values(code, expected):
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert caught(h) == [expected]


async def test_reference_error_names_the_line_and_column():
    async with FlowHarness(function("var a = 1;\n    retunr")) as h:
        await h.inject("f", payload=1)
        assert caught(h) == [
            "ReferenceError: ReferenceError: retunr is not defined (line 2, col 5)"]


async def test_node_error_with_a_message_reaches_catch():
    async with FlowHarness(function("node.error('This is an error', msg);")) as h:
        await h.inject("f", payload="foo", topic="bar")
        (error,) = h.outputs("c")
        assert error["error"]["message"] == "This is an error" and error["payload"] == "foo"


async def test_node_error_with_a_caught_error_object():
    code = "try { nope(); } catch (e) { node.error(e, msg); }"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert caught(h) == ["ReferenceError: nope is not defined"]


async def test_node_error_without_a_message_only_logs():
    async with FlowHarness(function("node.error('only logged'); return msg;")) as h:
        await h.inject("f", payload=1)
        assert caught(h) == []
        assert [e["msg"] for e in h.errors] == ["only logged"]
        assert h.payloads("f") == [1]


async def test_log_levels_reach_the_node_log(caplog):
    code = ("node.log('info'); node.warn('warned'); node.debug('dbg'); "
            "console.log('console %s', 5); console.warn({a: 1});")
    caplog.set_level("DEBUG", logger="flowrt.node.function")
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert [w["msg"] for w in h.warnings] == ["warned"]
    logged = [(r.levelname, r.getMessage()) for r in caplog.records
              if r.name == "flowrt.node.function"]
    assert logged == [("INFO", "info"), ("WARNING", "warned"), ("DEBUG", "dbg"),
                      ("INFO", "console 5"), ("WARNING", '{"a":1}')]


async def test_syntax_error_is_a_configuration_error_with_line_and_column():
    with pytest.raises(DeployError) as info:
        async with FlowHarness(function("var a = 1;\nvar b = {\n  c: 1,,\n};")):
            pass
    assert info.value.node_id == "f"
    assert "JavaScript syntax error in func at line 3, col 8" in str(info.value)


async def test_code_that_ends_inside_a_bracket_says_so():
    with pytest.raises(DeployError, match=r"JavaScript syntax error in func at the end of "
                                          r"the code \(a bracket, brace or string not closed"):
        async with FlowHarness(function("var a = 1;\nreturn (msg")):
            pass


@pytest.mark.parametrize("kind", ["initialize", "finalize"])
async def test_syntax_error_in_setup_code_names_it(kind):
    with pytest.raises(DeployError, match=rf"JavaScript syntax error in {kind} at line 1"):
        async with FlowHarness(function("return msg;", **{kind: "let = ;"})):
            pass


async def test_code_is_compiled_when_the_node_is_created():
    async with FlowHarness([{"id": "t1", "type": "tab", "label": "F"}]) as h:
        cls = h.registry.types["function"].cls
        ctx = h.runtime.new_context("f", "t1")
        with pytest.raises(ValueError, match=r"JavaScript syntax error in func at line 2"):
            cls({"id": "f", "type": "function", "func": "return msg;\nlet = ;"}, ctx)
        assert type(cls({"id": "g", "type": "function", "func": "return msg;"},
                        ctx)).__name__ == "JavaScriptFunction"
        assert type(cls({"id": "p", "type": "function", "language": "python"},
                        ctx)).__name__ == "PythonFunction"


async def test_libs_are_a_clear_configuration_error():
    flow = function("return msg;", libs=[{"var": "moment", "module": "moment"}])
    with pytest.raises(DeployError, match="libs: module 'moment' cannot be loaded"):
        async with FlowHarness(flow):
            pass


# ------------------------------------------------------------------ status, timers
async def test_status_and_its_clearing_on_stop():
    code = ("if (msg.payload === 2) { node.status(true); return; }\n"
            "node.status({fill: 'green', shape: 'dot', text: 5}); return msg;")
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.status("f") == {"fill": "green", "shape": "dot", "text": "5"}
        await h.inject("f", payload=2)
        assert h.status("f") == {"text": "true"}
        await h.deploy([])
        assert h.status("f") == {}


async def test_set_timeout_sends_later_on_the_clock():
    async with FlowHarness(function("setTimeout(function () { node.send(msg); }, 700);")) as h:
        await h.inject("f", payload="foo")
        await h.advance(0.6)
        assert h.payloads("f") == []
        await h.advance(0.2)
        assert h.payloads("f") == ["foo"]


async def test_set_interval_and_clear_interval():
    code = """
const id = setInterval(function () { node.send({payload: 'tick'}); }, 100);
setTimeout(function () { clearInterval(id); node.send({payload: 'stopped'}); }, 350);
"""
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        await h.advance(1.0)
        assert h.payloads("f") == ["tick", "tick", "tick", "stopped"]


async def test_timers_are_cleared_when_the_node_stops():
    async with FlowHarness(function("setInterval(() => node.send(msg), 100);")) as h:
        await h.inject("f", payload=1)
        await h.advance(0.25)
        assert h.payloads("f") == [1, 1]
        await h.deploy([])
        assert h.clock.pending() == 0


async def test_an_error_in_a_timer_reaches_catch():
    async with FlowHarness(function("setTimeout(() => { throw new Error('late'); }, 10);")) as h:
        await h.inject("f", payload=1)
        await h.advance(0.02)
        assert caught(h) == ["Error: late"]


# ------------------------------------------------------------------ async
async def test_async_await_and_promises():
    code = """
const value = await new Promise((resolve) => setTimeout(() => resolve(msg.payload + 1), 50));
msg.payload = value;
return msg;
"""
    flow = function(code)
    flow.append({"id": "done", "type": "complete", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == [] and h.outputs("done") == []
        await h.advance(0.05)
        assert h.payloads("f") == [2]
        assert len(h.outputs("done")) == 1


async def test_a_returned_promise_is_awaited():
    code = "return new Promise((resolve) => resolve({payload: 'from a promise'}));"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=1)
        assert h.payloads("f") == ["from a promise"]


async def test_a_rejection_reaches_catch():
    async with FlowHarness(function("await null;\nthrow new Error('async kaboom');")) as h:
        await h.inject("f", payload=1)
        await h.settle()
        assert caught(h) == ["Error: async kaboom"]


async def test_node_done_controls_completion():
    code = "setTimeout(() => { node.send(msg); node.done(); }, 100);"
    flow = function(code)
    flow.append({"id": "done", "type": "complete", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert h.outputs("done") == []
        await h.advance(0.1)
        assert h.payloads("f") == [1] and len(h.outputs("done")) == 1


async def test_node_done_in_a_comment_does_not_count():
    flow = function("// node.done()\nreturn msg;")
    flow.append({"id": "done", "type": "complete", "z": "t1", "x": 0, "y": 0, "scope": ["f"],
                 "wires": [[]]})
    async with FlowHarness(flow) as h:
        await h.inject("f", payload=1)
        assert len(h.outputs("done")) == 1


# ------------------------------------------------------------------ On Start, On Stop
async def test_initialize_runs_before_messages():
    flow = function("msg.payload = global.get('X'); return msg;",
                    initialize="global.set('X', 'bar');")
    async with FlowHarness(flow) as h:
        await h.inject("f", payload="foo")
        assert h.payloads("f") == ["bar"]


async def test_messages_wait_until_initialize_resolves():
    init = ("global.set('X', '-');\nreturn new Promise((resolve) => "
            "setTimeout(() => { global.set('X', 'bar'); resolve(); }, 500));")
    flow = function("msg.payload = global.get('X'); return msg;", initialize=init)
    async with FlowHarness(flow) as h:
        for n in range(3):
            await h.inject("f", payload=n)
        assert h.payloads("f") == []
        await h.advance(0.5)
        assert h.payloads("f") == ["bar", "bar", "bar"]


async def test_messages_beyond_the_waiting_bound_are_dropped_with_an_error(monkeypatch):
    monkeypatch.setattr(function_node, "MAX_WAITING", 2)
    init = "return new Promise((resolve) => setTimeout(resolve, 100));"
    async with FlowHarness(function("return msg;", initialize=init)) as h:
        for n in range(3):
            await h.inject("f", payload=n)
        assert caught(h) == ["On Start has not finished and 2 messages wait: message dropped"]
        await h.advance(0.1)
        assert h.payloads("f") == [0, 1]


async def test_a_later_initialize_failure_fails_waiting_and_later_messages():
    init = ("return new Promise((resolve, reject) => "
            "setTimeout(() => reject(new Error('no db')), 100));")
    async with FlowHarness(function("return msg;", initialize=init)) as h:
        await h.inject("f", payload=1)
        await h.advance(0.1)
        await h.inject("f", payload=2)
        assert caught(h) == ["initialize failed: Error: no db"] * 2
        assert h.errors[0]["msg"] == "initialize: Error: no db"
        assert h.payloads("f") == []


async def test_initialize_can_send_with_node_send():
    init = "setTimeout(() => node.send({topic: node.name, payload: node.id}), 10);"
    async with FlowHarness(function("", initialize=init, name="starter")) as h:
        await h.advance(0.01)
        (out,) = h.outputs("f")
        assert out["topic"] == "starter" and out["payload"] == "f" and len(out["_msgid"]) == 16


async def test_an_initialize_that_throws_fails_the_start():
    with pytest.raises(DeployError, match=r"initialize: Error: no setup"):
        async with FlowHarness(function("return msg;", initialize="throw new Error('no setup');")):
            pass


async def test_finalize_runs_on_stop_and_cannot_send():
    fin = ("global.set('closed', [node.id, node.outputCount]);\n"
           "node.send({payload: 1});")
    code = "node.on('close', () => global.set('handler', true)); return msg;"
    async with FlowHarness(function(code, finalize=fin)) as h:
        await h.inject("f", payload=1)
        await h.deploy([])
        assert h.runtime.contexts.global_.get("closed") == ["f", 1]
        assert h.runtime.contexts.global_.get("handler") is True
        assert [e["msg"] for e in h.errors] == ["Cannot send from close function"]


async def test_an_input_listener_cannot_be_added():
    async with FlowHarness(function("node.on('input', () => {});")) as h:
        await h.inject("f", payload=1)
        assert caught(h) == ["Error: Cannot add listener to 'input' event within Function"]


# ------------------------------------------------------------------ limits
async def test_timeout_interrupts_a_runaway_loop_and_the_next_message_flows():
    code = "if (msg.payload === 'spin') { while (1 == 1) {} }\nreturn msg;"
    async with FlowHarness(function(code, timeout="0.05")) as h:
        await h.inject("f", payload="spin")
        await h.inject("f", payload="next")
        assert caught(h) == ["Error: Script execution timed out after 50ms"]
        assert h.payloads("f") == ["next"]


async def test_the_runtime_wide_limit_applies_without_a_node_timeout():
    async with FlowHarness(function("while (true) {}"), settings={"functionTimeout": 0.05}) as h:
        await h.inject("f", payload=1)
        assert caught(h) == ["Error: Script execution timed out after 50ms; the limit is the "
                             "functionTimeout setting: give the node a timeout"]


async def test_sends_before_a_timeout_still_go_out_and_dates_stay_intact():
    code = ("node.send({payload: 'before'});\n"
            "if (msg.payload === 1) { while (true) {} }\n"
            "return {payload: JSON.stringify(new Date(0))};")
    async with FlowHarness(function(code, timeout=0.05)) as h:
        await h.inject("f", payload=1)
        await h.inject("f", payload=2)
        assert h.payloads("f") == ["before", "before", '"1970-01-01T00:00:00.000Z"']


async def test_memory_is_limited_per_node_and_the_node_recovers():
    code = ("if (msg.payload === 'hog') { const a = []; while (true) a.push('x'.repeat(1000)); }\n"
            "return msg;")
    async with FlowHarness(function(code, timeout=10)) as h:
        await h.inject("f", payload="hog")
        await h.inject("f", payload="fine")
        (error,) = caught(h)
        assert error.startswith("InternalError: out of memory")
        assert h.payloads("f") == ["fine"]


async def test_runaway_recursion_is_the_message_error():
    code = "function down(n) { return down(n + 1) + 1; }\nif (msg.payload) down(0);\nreturn msg;"
    async with FlowHarness(function(code)) as h:
        await h.inject("f", payload=True)
        await h.inject("f", payload=False)
        assert caught(h) == ["RangeError: Maximum call stack size exceeded"]
        assert h.payloads("f") == [False]
