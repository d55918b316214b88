"""change: set/change/delete/move on msg and context, typed values, legacy keys."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError
from flowrt.testing import FlowHarness


def change(rules=None, **config):
    node = {"id": "ch", "type": "change", "z": "t1", "x": 0, "y": 0, "wires": [[]], **config}
    if rules is not None:
        node["rules"] = rules
    return [node]


async def run(rules, msg):
    async with FlowHarness(change(rules)) as h:
        await h.inject("ch", msg)
        out = h.outputs("ch")
        return out[0] if out else None


async def test_node_red_export_set_change_delete_move():
    # As Node-RED 4 writes it, including the legacy keys with their empty defaults.
    flow = [{"id": "t1", "type": "tab", "label": "Flow 1"},
            {"id": "a1b2c3d4e5f60718", "type": "change", "z": "t1", "name": "",
             "rules": [{"t": "set", "p": "topic", "pt": "msg", "to": "sensors/t", "tot": "str"},
                       {"t": "change", "p": "payload", "pt": "msg", "from": "C",
                        "fromt": "str", "to": "°C", "tot": "str"},
                       {"t": "delete", "p": "secret", "pt": "msg"},
                       {"t": "move", "p": "raw", "pt": "msg", "to": "data.raw", "tot": "msg"}],
             "action": "", "property": "", "from": "", "to": "", "reg": False,
             "x": 320, "y": 120, "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.inject("a1b2c3d4e5f60718", payload="21 C", secret=1, raw=[1, 2])
        out = h.outputs("a1b2c3d4e5f60718")[0]
        assert out["topic"] == "sensors/t"
        assert out["payload"] == "21 °C"
        assert "secret" not in out and "raw" not in out
        assert out["data"] == {"raw": [1, 2]}


@pytest.mark.parametrize(("to", "tot", "expected"), [
    ("5", "num", 5), ("2.5", "num", 2.5), ("true", "bool", True), ("TRUE", "bool", True),
    ("x", "bool", False), ('{"a": [1]}', "json", {"a": [1]}), ("[104, 105]", "bin", b"hi"),
    ('"hi"', "bin", b"hi"), ("hello", "str", "hello"),
])
async def test_set_typed_values(to, tot, expected):
    out = await run([{"t": "set", "p": "payload", "pt": "msg", "to": to, "tot": tot}], {})
    assert out["payload"] == expected
    assert type(out["payload"]) is type(expected)


async def test_set_json_gives_a_fresh_object_each_time():
    async with FlowHarness(change([{"t": "set", "p": "payload", "to": "{}", "tot": "json"}])) as h:
        await h.inject("ch", {})
        await h.inject("ch", {})
        first, second = h.payloads("ch")
        first["x"] = 1
        assert second == {}


async def test_set_date_env_and_msg_sources():
    flow = [{"id": "t1", "type": "tab", "label": "F",
             "env": [{"name": "SITE", "value": "plant-1", "type": "str"}]},
            *change([{"t": "set", "p": "ts", "to": "", "tot": "date"},
                     {"t": "set", "p": "iso", "to": "iso", "tot": "date"},
                     {"t": "set", "p": "fmt", "to": "YYYY-MM-DD HH:mm", "tot": "date"},
                     {"t": "set", "p": "site", "to": "SITE", "tot": "env"},
                     {"t": "set", "p": "where", "to": "at ${SITE}!", "tot": "env"},
                     {"t": "set", "p": "copy", "to": "msg.payload.a", "tot": "msg", "dc": True},
                     {"t": "set", "p": "gone", "to": "nothing.here", "tot": "msg"}])]
    async with FlowHarness(flow) as h:
        await h.inject("ch", payload={"a": {"b": 1}}, gone=5)
        out = h.outputs("ch")[0]
        assert out["ts"] == 1_767_225_600_000
        assert out["iso"] == "2026-01-01T00:00:00.000Z"
        assert out["fmt"] == "2026-01-01 00:00"
        assert out["site"] == "plant-1" and out["where"] == "at plant-1!"
        assert out["copy"] == {"b": 1} and out["copy"] is not out["payload"]["a"]
        assert "gone" not in out  # set from a missing property deletes the target


async def test_set_under_a_string_warns_and_continues():
    out = None
    async with FlowHarness(change([{"t": "set", "p": "payload.x", "to": "1", "tot": "num"},
                                   {"t": "set", "p": "y", "to": "2", "tot": "num"}])) as h:
        await h.inject("ch", payload="text")
        out = h.outputs("ch")[0]
        assert "Cannot set property of non-object type: payload.x" in h.warnings[0]["msg"]
    assert out["payload"] == "text" and out["y"] == 2


async def test_change_string_regex_and_replacement_groups():
    rule = {"t": "change", "p": "payload", "from": r"(\w+)@(\w+)", "fromt": "re",
            "to": "$2 at $1 ($&)", "tot": "str"}
    out = await run([rule], {"payload": "bob@home, amy@work"})
    assert out["payload"] == "home at bob (bob@home), work at amy (amy@work)"


async def test_change_escapes_plain_strings_and_replaces_all():
    out = await run([{"t": "change", "p": "payload", "from": "a.b", "fromt": "str", "to": "-",
                      "tot": "str"}], {"payload": "a.b axb a.b"})
    assert out["payload"] == "- axb -"


async def test_change_numbers_and_booleans():
    rules = [{"t": "change", "p": "n", "from": "5", "fromt": "num", "to": "6", "tot": "num"},
             {"t": "change", "p": "s", "from": "5", "fromt": "num", "to": "6", "tot": "num"},
             {"t": "change", "p": "b", "from": "true", "fromt": "bool", "to": "off",
              "tot": "str"},
             {"t": "change", "p": "t", "from": "yes", "fromt": "str", "to": "true",
              "tot": "bool"}]
    out = await run(rules, {"n": 5, "s": "5", "b": True, "t": "yes"})
    assert out["n"] == 6 and out["s"] == 6 and out["b"] == "off" and out["t"] is True


async def test_change_from_a_message_property():
    out = await run([{"t": "change", "p": "payload", "from": "word", "fromt": "msg",
                      "to": "X", "tot": "str"}], {"payload": "a+b a+b", "word": "a+b"})
    assert out["payload"] == "X X"


async def test_context_targets_with_store_syntax():
    rules = [{"t": "set", "p": "count", "pt": "flow", "to": "payload", "tot": "msg"},
             {"t": "set", "p": "#:(default)::cfg.mode", "pt": "global", "to": "auto",
              "tot": "str"},
             {"t": "change", "p": "#:(default)::cfg.mode", "pt": "global", "from": "au",
              "to": "AU", "tot": "str"},
             {"t": "set", "p": "payload", "to": "count", "tot": "flow"},
             {"t": "delete", "p": "count", "pt": "flow"}]
    async with FlowHarness(change(rules)) as h:
        await h.inject("ch", payload=7)
        assert h.payloads("ch") == [7]
        assert h.runtime.contexts.flow("t1").get("count") is None
        assert h.runtime.contexts.global_.get("cfg") == {"mode": "AUto"}


async def test_move_to_a_child_and_to_a_parent():
    out = await run([{"t": "move", "p": "payload", "pt": "msg", "to": "payload.inner",
                      "tot": "msg"}], {"payload": {"a": 1}})
    assert out["payload"] == {"inner": {"a": 1}}
    out = await run([{"t": "move", "p": "payload.inner", "pt": "msg", "to": "payload",
                      "tot": "msg"}], {"payload": {"inner": 5, "other": 1}})
    assert out["payload"] == 5


async def test_move_to_flow_context():
    async with FlowHarness(change([{"t": "move", "p": "payload", "pt": "msg", "to": "last",
                                    "tot": "flow"}])) as h:
        await h.inject("ch", payload=3)
        assert "payload" not in h.outputs("ch")[0]
        assert h.runtime.contexts.flow("t1").get("last") == 3


async def test_legacy_single_rule_nodes():
    legacy = change(action="replace", property="payload", to="new", **{"from": ""}, reg=False)
    async with FlowHarness(legacy) as h:
        await h.inject("ch", payload="old")
        assert h.payloads("ch") == ["new"]
    legacy = change(action="change", property="payload", to="Y", reg=True, **{"from": "x+"})
    async with FlowHarness(legacy) as h:
        await h.inject("ch", payload="axxb")
        assert h.payloads("ch") == ["aYb"]
    legacy = change(action="delete", property="payload")
    async with FlowHarness(legacy) as h:
        await h.inject("ch", payload=1, topic="t")
        assert "payload" not in h.outputs("ch")[0]


async def test_legacy_set_from_msg_prefix():
    out = await run([{"t": "set", "p": "copy", "to": "msg.topic"}], {"topic": "a/b"})
    assert out["copy"] == "a/b"


@pytest.mark.parametrize(("rule", "words"), [
    ({"t": "set", "p": "payload", "to": "{bad", "tot": "json"}, "invalid JSON"),
    ({"t": "set", "p": "payload", "to": "payload +", "tot": "jsonata"},
     "JSONata error in rule 1 of change node ch: Unexpected end of expression"),
    ({"t": "change", "p": "payload", "from": "(", "fromt": "re", "to": ""}, "invalid 'from'"),
    ({"t": "set", "p": "", "to": "1"}, "empty"),
])
async def test_invalid_rules_fail_the_deploy(rule, words):
    with pytest.raises(DeployError, match=words) as info:
        async with FlowHarness(change([rule])):
            pass
    assert info.value.node_id == "ch"


# ------------------------------------------------------------------ JSONata
# The JSONata cases of Node-RED's 15-change_spec.js, and the §6 behaviours.
def with_catch(rules):
    return [{"id": "t1", "type": "tab", "label": "F"}, *change(rules),
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def test_jsonata_sets_a_value():
    out = await run([{"t": "set", "p": "payload", "to": "$length(payload)", "tot": "jsonata"}],
                    {"payload": "Hello World!"})
    assert out["payload"] == 12


async def test_jsonata_temperature_in_place_as_the_bench_does():
    rule = {"t": "set", "p": "payload.temperature", "pt": "msg",
            "to": "payload.temperature * 9 / 5 + 32", "tot": "jsonata"}
    out = await run([rule], {"payload": {"temperature": 21.5, "id": "s1"}, "topic": "t"})
    assert out["payload"] == {"temperature": 70.7, "id": "s1"}


async def test_jsonata_evaluation_error_goes_to_catch_and_stops_the_message():
    rules = [{"t": "set", "p": "payload", "to": "$invalid(payload)", "tot": "jsonata"}]
    async with FlowHarness(with_catch(rules)) as h:
        await h.inject("ch", payload="Hello World!")
        assert h.outputs("ch") == []
        (caught,) = h.outputs("c")
        assert caught["error"]["message"] == (
            "JSONata error in rule 1 of change node ch: Attempted to invoke a non-function "
            "in '$invalid(payload)'")
        assert caught["payload"] == "Hello World!"


@pytest.mark.parametrize("store", [None, "memory1"])
async def test_jsonata_reads_flow_and_global_context(store):
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "memory1": {"module": "memory"}}}
    arg = "" if store is None else f', "{store}"'
    rules = [{"t": "set", "p": "f", "to": f'$flowContext("foo"{arg})', "tot": "jsonata"},
             {"t": "set", "p": "g", "to": f'$globalContext("foo"{arg})', "tot": "jsonata"}]
    async with FlowHarness(with_catch(rules), settings=settings) as h:
        node = h.node("ch")
        node.ctx.flow_context.set("foo", "flow-bar", store)
        node.ctx.global_context.set("foo", "global-bar", store)
        if store is not None:  # the default store holds something else
            node.ctx.flow_context.set("foo", "error!")
            node.ctx.global_context.set("foo", "error!")
        await h.inject("ch", payload="x")
        out = h.outputs("ch")[0]
        assert (out["f"], out["g"]) == ("flow-bar", "global-bar")


async def test_jsonata_undefined_deletes_the_target_and_objects_drop_undefined_keys():
    rules = [{"t": "set", "p": "topic", "to": "nothing.here", "tot": "jsonata"},
             {"t": "set", "p": "payload", "to": "{'a': payload, 'b': nothing}",
              "tot": "jsonata"},
             {"t": "set", "p": "count", "pt": "flow", "to": "nothing", "tot": "jsonata"}]
    async with FlowHarness(with_catch(rules)) as h:
        h.node("ch").ctx.flow_context.set("count", 3)
        await h.inject("ch", payload=1, topic="t")
        (out,) = h.outputs("ch")
        assert "topic" not in out
        assert out["payload"] == {"a": 1}
        assert h.node("ch").ctx.flow_context.get("count") is None


async def test_jsonata_legacy_msg_mode_and_context_target():
    rules = [{"t": "set", "p": "total", "pt": "flow",
              "to": "$flowContext('total') + msg.payload", "tot": "jsonata"},
             {"t": "set", "p": "payload", "to": "$flowContext('total')", "tot": "jsonata"}]
    async with FlowHarness(with_catch(rules)) as h:
        h.node("ch").ctx.flow_context.set("total", 10)
        await h.inject("ch", payload=5)
        await h.inject("ch", payload=7)
        assert h.payloads("ch") == [15, 22]


async def test_jsonata_as_the_replacement_of_a_change_rule():
    rule = {"t": "change", "p": "payload", "from": "NAME", "fromt": "str",
            "to": "$uppercase(topic)", "tot": "jsonata"}
    out = await run([rule], {"payload": "hello NAME", "topic": "bob"})
    assert out["payload"] == "hello BOB"


async def test_jsonata_syntax_error_is_raised_while_the_node_is_created():
    rules = [{"t": "set", "p": "a", "to": "1", "tot": "num"},
             {"t": "set", "p": "payload", "to": "payload.temperature * ", "tot": "jsonata"}]
    with pytest.raises(DeployError) as info:
        async with FlowHarness(change(rules)):
            pass
    assert info.value.node_id == "ch"
    assert ("JSONata error in rule 2 of change node ch: Unexpected end of expression "
            "(at character 22) in 'payload.temperature * '") in str(info.value)


async def test_the_constructor_raises_the_jsonata_error():
    from flowrt_nodes.change import Change

    from flowrt.jsonata import JSONataError

    async with FlowHarness(with_catch([])) as h:
        config = {"id": "bad", "type": "change", "z": "t1",
                  "rules": [{"t": "set", "p": "payload", "to": "(1", "tot": "jsonata"}]}
        with pytest.raises(JSONataError, match=r"JSONata error in rule 1 of change node bad: "
                                               r"Expected \) before end of expression"):
            Change(config, h.runtime.new_context("bad", "t1"))
