"""switch: rule types, loose comparisons, checkall, else, typed values, Node-RED export."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError, FlowValidationError
from flowrt.testing import FlowHarness


def switch(rules, **config):
    config.setdefault("outputs", len(rules))
    return [{"id": "sw", "type": "switch", "z": "t1", "x": 0, "y": 0, "rules": rules,
             "wires": [[] for _ in rules], **config}]


async def routes(rules, payloads, **config):
    """For each payload, the list of outputs it left on."""
    async with FlowHarness(switch(rules, **config)) as h:
        result = []
        for payload in payloads:
            h.clear()
            await h.inject("sw", payload=payload)
            result.append([i for i in range(len(rules)) if h.outputs("sw", i)])
        return result


async def test_node_red_export_routes():
    # As Node-RED 4 writes it (switch with a numeric, a string and an otherwise rule).
    flow = [{"id": "t1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "",
             "env": []},
            {"id": "4f7d0c1e2a3b4c5d", "type": "switch", "z": "t1", "name": "route",
             "property": "payload", "propertyType": "msg",
             "rules": [{"t": "gt", "v": "10", "vt": "num"}, {"t": "cont", "v": "hot",
                                                               "vt": "str"},
                       {"t": "else"}],
             "checkall": "true", "repair": False, "outputs": 3, "x": 300, "y": 200,
             "wires": [[], [], []]}]
    async with FlowHarness(flow) as h:
        await h.inject("4f7d0c1e2a3b4c5d", payload="20 hot")
        await h.inject("4f7d0c1e2a3b4c5d", payload=5)
        assert h.payloads("4f7d0c1e2a3b4c5d", 0) == []  # "20 hot" is NaN as a number
        assert h.payloads("4f7d0c1e2a3b4c5d", 1) == ["20 hot"]
        assert h.payloads("4f7d0c1e2a3b4c5d", 2) == [5]
        await h.inject("4f7d0c1e2a3b4c5d", payload={"hot": 11})  # "[object Object]"
        assert h.payloads("4f7d0c1e2a3b4c5d", 2) == [5, {"hot": 11}]


async def test_loose_equality_and_comparisons():
    assert await routes([{"t": "eq", "v": "5"}], [5, "5", 6, "5.0", True]) == \
        [[0], [0], [], [0], []]
    assert await routes([{"t": "eq", "v": "true", "vt": "bool"}], [True, "true", 1]) == \
        [[0], [], [0]]
    assert await routes([{"t": "neq", "v": "a", "vt": "str"}], ["a", "b"]) == [[], [0]]
    assert await routes([{"t": "lt", "v": "10", "vt": "num"}], [9, "9", 10, "x", None]) == \
        [[0], [0], [], [], [0]]
    assert await routes([{"t": "gte", "v": "b", "vt": "str"}], ["a", "b", "c"]) == \
        [[], [0], [0]]
    assert await routes([{"t": "btwn", "v": "10", "vt": "num", "v2": "1", "v2t": "num"}],
                        [1, 5, 10, 11, "7"]) == [[0], [0], [0], [], [0]]


async def test_value_free_rules():
    rules = [{"t": "true"}, {"t": "false"}, {"t": "null"}, {"t": "nnull"}, {"t": "empty"},
             {"t": "nempty"}]
    got = await routes(rules, [True, False, None, "", "x", [], {"a": 1}, 0])
    assert got == [[0, 3], [1, 3], [2], [3, 4], [3, 5], [3, 4], [3, 5], [3]]


async def test_null_matches_missing_property():
    async with FlowHarness(switch([{"t": "null"}], property="nope")) as h:
        await h.inject("sw", payload=1)
        assert len(h.outputs("sw", 0)) == 1


async def test_istype():
    types = ["string", "number", "boolean", "array", "buffer", "object", "json", "null"]
    rules = [{"t": "istype", "v": t, "vt": t} for t in types]
    got = await routes(rules, ["x", 1.5, True, [1], b"ab", {"a": 1}, '{"a":1}', None])
    assert got == [[0], [1, 6], [2, 6], [3], [4], [5], [0, 6], [6, 7]]


async def test_regex_contains_and_case():
    rules = [{"t": "regex", "v": "^ab+c$", "vt": "str", "case": False},
             {"t": "regex", "v": "^ab+c$", "vt": "str", "case": True},
             {"t": "cont", "v": "bb", "vt": "str"}]
    assert await routes(rules, ["abbc", "ABBC", "xbb", 12]) == [[0, 1, 2], [1], [2], []]


async def test_checkall_false_stops_at_first_match_and_else():
    rules = [{"t": "gt", "v": "1", "vt": "num"}, {"t": "gt", "v": "0", "vt": "num"},
             {"t": "else"}]
    assert await routes(rules, [2, 0.5, -1], checkall="false") == [[0], [1], [2]]
    assert await routes(rules, [2, 0.5, -1]) == [[0, 1], [1], [2]]


async def test_a_message_matching_two_rules_is_copied_for_the_second():
    async with FlowHarness(switch([{"t": "nnull"}, {"t": "nempty"}])) as h:
        await h.inject("sw", payload=[1])
        first, second = h.outputs("sw", 0)[0], h.outputs("sw", 1)[0]
        assert first == second and first is not second
        assert first["payload"] is not second["payload"]


async def test_rule_values_from_msg_flow_env_and_prev():
    flow = [{"id": "t1", "type": "tab", "label": "F",
             "env": [{"name": "LIMIT", "value": "50", "type": "num"}]},
            *switch([{"t": "eq", "v": "expected", "vt": "msg"},
                     {"t": "gt", "v": "limit", "vt": "flow"},
                     {"t": "gte", "v": "LIMIT", "vt": "env"},
                     {"t": "gt", "v": "", "vt": "prev"}])]
    async with FlowHarness(flow) as h:
        h.runtime.contexts.flow("t1").set("limit", 10)
        await h.inject("sw", payload=20, expected=20)
        await h.inject("sw", payload=60)
        await h.inject("sw", payload=5)
        assert h.payloads("sw", 0) == [20]
        assert h.payloads("sw", 1) == [20, 60]
        assert h.payloads("sw", 2) == [60]
        assert h.payloads("sw", 3) == [20, 60]  # 20 > null (as 0), 60 > 20, 5 < 60


async def test_property_from_flow_context():
    async with FlowHarness(switch([{"t": "eq", "v": "on", "vt": "str"}],
                                  property="#:(default)::mode", propertyType="flow")) as h:
        await h.inject("sw", payload=1)
        h.runtime.contexts.flow("t1").set("mode", "on")
        await h.inject("sw", payload=2)
        assert h.payloads("sw", 0) == [2]


async def test_sequence_rules_use_parts():
    rules = [{"t": "head", "v": "2", "vt": "num"}, {"t": "tail", "v": "1", "vt": "num"},
             {"t": "index", "v": "1", "vt": "num", "v2": "2", "v2t": "num"}]
    async with FlowHarness(switch(rules)) as h:
        for i in range(4):
            await h.inject("sw", payload=i, parts={"id": "p", "index": i, "count": 4})
        assert h.payloads("sw", 0) == [0, 1]
        assert h.payloads("sw", 1) == [3]
        assert h.payloads("sw", 2) == [1, 2]
        await h.inject("sw", payload="no parts")
        assert "msg.parts" in h.errors[-1]["msg"]


async def test_hask():
    assert await routes([{"t": "hask", "v": "a", "vt": "str"}], [{"a": 1}, {"b": 1}, None]) == \
        [[0], [], []]


@pytest.mark.parametrize(("rule", "words"), [
    ({"t": "jsonata_exp", "v": "payload >", "vt": "jsonata"},
     "JSONata error in rule 1 of switch node sw: Unexpected end of expression"),
    ({"t": "eq", "v": "(1", "vt": "jsonata"}, "JSONata error in rule 1 'v' of switch node sw"),
    ({"t": "regex", "v": "(", "vt": "str"}, "regular expression"),
])
async def test_bad_rules_fail_the_deploy_naming_the_node(rule, words):
    with pytest.raises(DeployError, match=words) as info:
        async with FlowHarness(switch([rule])):
            pass
    assert info.value.node_id == "sw"


async def test_unknown_rule_type_is_rejected_by_the_schema():
    with pytest.raises(FlowValidationError, match="bogus"):
        async with FlowHarness(switch([{"t": "bogus", "v": "1"}])):
            pass


async def test_repair_rebuilds_a_sequence_per_output():
    rules = [{"t": "gt", "v": "1", "vt": "num"}, {"t": "else"}]
    async with FlowHarness(switch(rules, repair=True)) as h:
        for i, value in enumerate([5, 0, 7, 1]):
            await h.inject("sw", payload=value, parts={"id": "s", "index": i, "count": 4,
                                                       "type": "array"})
        high, low = h.outputs("sw", 0), h.outputs("sw", 1)
        assert [m["payload"] for m in high] == [5, 7]
        assert [m["payload"] for m in low] == [0, 1]
        assert [(m["parts"]["index"], m["parts"]["count"]) for m in high] == [(0, 2), (1, 2)]
        assert high[0]["parts"]["id"] == high[1]["parts"]["id"] != low[0]["parts"]["id"]
        assert high[0]["parts"]["type"] == "array"


async def test_tail_waits_for_the_count_on_the_last_message():
    async with FlowHarness(switch([{"t": "tail", "v": "2", "vt": "num"}])) as h:
        await h.inject("sw", payload="a", parts={"id": "s", "index": 0})
        await h.inject("sw", payload="b", parts={"id": "s", "index": 1})
        assert h.payloads("sw") == []
        await h.inject("sw", payload="c", parts={"id": "s", "index": 2, "count": 3})
        assert h.payloads("sw") == ["b", "c"]


async def test_held_messages_are_bounded():
    settings = {"nodeMessageBufferMaxLength": 2}
    async with FlowHarness(switch([{"t": "tail", "v": "1", "vt": "num"}]),
                           settings=settings) as h:
        for i in range(3):
            await h.inject("sw", payload=i, parts={"id": "s", "index": i})
        assert "too many pending messages" in h.errors[0]["msg"]
        # What was held is dropped: the sequence's last part completes nothing, and
        # holding it is within the bound again.
        await h.inject("sw", payload=3, parts={"id": "s", "index": 3, "count": 4})
        assert h.payloads("sw") == [] and len(h.errors) == 1


async def test_held_messages_are_bounded_without_the_setting_too(monkeypatch):
    # As delay, trigger, split and join: 0 (unset) means the default bound, not none.
    monkeypatch.setattr("flowrt.buffering.DEFAULT_BUFFER_LIMIT", 2)
    async with FlowHarness(switch([{"t": "tail", "v": "1", "vt": "num"}])) as h:
        for i in range(3):
            await h.inject("sw", payload=i, parts={"id": "s", "index": i})
        assert "too many pending messages" in h.errors[0]["msg"]


# ------------------------------------------------------------------ JSONata
# The JSONata cases of Node-RED's 10-switch_spec.js, and the §6 behaviours.
def with_catch(rules, **config):
    return [{"id": "t1", "type": "tab", "label": "F"}, *switch(rules, **config),
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def test_jsonata_property_and_between_values():
    rules = [{"t": "btwn", "v": "$sqrt(16)", "vt": "jsonata", "v2": "$sqrt(36)",
              "v2t": "jsonata"}]
    assert await routes(rules, [-5, 3, -6, 7], property="$abs(payload)",
                        propertyType="jsonata") == [[0], [], [0], []]


@pytest.mark.parametrize("store", [None, "memory1"])
async def test_jsonata_with_flow_and_global_context(store):
    settings = {"contextStorage": {"default": {"module": "memory"},
                                   "memory1": {"module": "memory"}}}
    arg = "" if store is None else f',"{store}"'
    rules = [{"t": "btwn", "v": f'$flowContext("vt"{arg})', "vt": "jsonata",
              "v2": f'$globalContext("v2t"{arg})', "v2t": "jsonata"}]
    flow = with_catch(rules, property=f'$abs($flowContext("payload"{arg}))',
                      propertyType="jsonata")
    async with FlowHarness(flow, settings=settings) as h:
        node = h.node("sw")
        node.ctx.flow_context.set("payload", -7, store)
        node.ctx.flow_context.set("vt", 6, store)
        node.ctx.global_context.set("v2t", 8, store)
        await h.inject("sw", payload="pass")
        assert h.payloads("sw") == ["pass"]
        node.ctx.flow_context.set("payload", -9, store)
        await h.inject("sw", payload="fail")
        assert h.payloads("sw") == ["pass"]


async def sequence_through(rules, payloads, **config):
    """Send ``payloads`` as one sequence (as Node-RED's spec does, index order)."""
    async with FlowHarness(switch(rules, checkall="true", **config)) as h:
        for i, payload in enumerate(payloads):
            await h.inject("sw", payload=payload,
                           parts={"index": i, "count": len(payloads), "id": 222})
        return h.outputs("sw")


async def test_head_of_a_sequence_with_a_jsonata_count():
    out = await sequence_through([{"t": "head", "v": "1+4/2", "vt": "jsonata"}],
                                 [0, 1, 2, 3, 4], repair=True)
    assert [m["payload"] for m in out] == [0, 1, 2]
    assert [(m["parts"]["index"], m["parts"]["count"]) for m in out] == [(0, 3), (1, 3),
                                                                         (2, 3)]


async def test_jsonata_exp_rule():
    rules = [{"t": "jsonata_exp", "v": "payload%2 = 1", "vt": "jsonata"}]
    assert await routes(rules, [9, 4]) == [[0], []]


@pytest.mark.parametrize(("expression", "expected"), [
    ("$I % 2 = 1", [1, 3]),
    ("payload >= $N-2", [3, 4]),
])
async def test_jsonata_exp_sees_the_index_and_count_of_a_sequence(expression, expected):
    out = await sequence_through([{"t": "jsonata_exp", "v": expression, "vt": "jsonata"}],
                                 [0, 1, 2, 3, 4], repair=True)
    assert [m["payload"] for m in out] == expected


async def test_jsonata_exp_matches_only_an_exact_true():
    rules = [{"t": "jsonata_exp", "v": "payload", "vt": "jsonata"}]
    # An array value is returned as it is (only sequences are unwrapped): [true] is no match.
    assert await routes(rules, [True, 1, "true", [True], {"a": True}, False]) == [
        [0], [], [], [], [], []]


async def test_jsonata_property_error_warns_and_drops_the_message():
    rules = [{"t": "btwn", "v": "$sqrt(16)", "vt": "jsonata", "v2": "$sqrt(36)",
              "v2t": "jsonata"}]
    flow = with_catch(rules, property="$invalidExpression(payload)", propertyType="jsonata")
    async with FlowHarness(flow) as h:
        await h.inject("sw", payload=1)
        assert h.outputs("sw") == [] and h.outputs("c") == []
        (warning,) = h.warnings
        assert warning["msg"] == (
            "JSONata error in property of switch node sw: Attempted to invoke a non-function "
            "in '$invalidExpression(payload)'")


async def test_jsonata_value_error_is_the_messages_error():
    flow = with_catch([{"t": "eq", "v": "$number('x') + $boom()", "vt": "jsonata"}])
    async with FlowHarness(flow) as h:
        await h.inject("sw", payload=1)
        assert h.outputs("sw") == []
        (caught,) = h.outputs("c")
        assert caught["error"]["message"].startswith(
            "JSONata error in rule 1 'v' of switch node sw: ")
