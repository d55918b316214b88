"""inject: payload types, props, once/repeat/cron with the fake clock, trigger overrides."""

from __future__ import annotations

import pytest
from flowrt_nodes.inject import Inject

from flowrt.admin_routes import AdminRequest, AdminRouteError
from flowrt.errors import DeployError
from flowrt.testing import FlowHarness

START_MS = 1_767_225_600_000  # the FakeClock's 2026-01-01T00:00:00Z


def inject(**config):
    base = {"name": "", "props": [{"p": "payload"}, {"p": "topic", "vt": "str"}],
            "repeat": "", "crontab": "", "once": False, "onceDelay": 0.1, "topic": "",
            "payload": "", "payloadType": "date"}
    return [{"id": "i", "type": "inject", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             **base, **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def test_node_red_export_with_props_fires_once_then_repeats():
    flow = [{"id": "t1", "type": "tab", "label": "Flow 1", "disabled": False, "info": "",
             "env": []},
            {"id": "1f2e3d4c5b6a7988", "type": "inject", "z": "t1", "name": "tick",
             "props": [{"p": "payload"}, {"p": "topic", "vt": "str"},
                       {"p": "count", "v": "3", "vt": "num"}],
             "repeat": "5", "crontab": "", "once": True, "onceDelay": "1",
             "topic": "sensors/tick", "payload": '{"on":true}', "payloadType": "json",
             "x": 140, "y": 80, "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.advance(0.9)
        assert h.outputs("1f2e3d4c5b6a7988") == []
        await h.advance(0.1)
        (first,) = h.outputs("1f2e3d4c5b6a7988")
        assert first["payload"] == {"on": True} and first["topic"] == "sensors/tick"
        assert first["count"] == 3 and len(first["_msgid"]) == 16
        await h.advance(10)
        assert len(h.outputs("1f2e3d4c5b6a7988")) == 3  # at 1, 6 and 11 s
        payloads = h.payloads("1f2e3d4c5b6a7988")
        assert payloads[0] is not payloads[1]  # JSON is parsed afresh for every message


@pytest.mark.parametrize(("payload", "ptype", "expected"), [
    ("", "date", START_MS), ("iso", "date", "2026-01-01T00:00:00.000Z"),
    ("YYYY/MM/DD", "date", "2026/01/01"), ("hello", "str", "hello"), ("42", "num", 42),
    ("-1.5", "num", -1.5), ("true", "bool", True), ("false", "bool", False),
    ("[1,2]", "json", [1, 2]), ("[65,66]", "bin", b"AB"),
])
async def test_payload_types(payload, ptype, expected):
    async with FlowHarness(inject(payload=payload, payloadType=ptype)) as h:
        h.node("i").trigger()
        await h.settle()
        assert h.payloads("i") == [expected]


async def test_context_and_env_values():
    flow = [{"id": "t1", "type": "tab", "label": "F",
             "env": [{"name": "DEVICE", "value": "pump-7", "type": "str"}]},
            *inject(props=[{"p": "payload", "v": "level", "vt": "flow"},
                           {"p": "g", "v": "#:(default)::limit", "vt": "global"},
                           {"p": "device", "v": "DEVICE", "vt": "env"},
                           {"p": "label", "v": "dev-${DEVICE}-x", "vt": "env"},
                           {"p": "nested.deep[1]", "v": "x", "vt": "str"}])]
    async with FlowHarness(flow) as h:
        h.runtime.contexts.flow("t1").set("level", 12)
        h.runtime.contexts.global_.set("limit", 99)
        h.node("i").trigger()
        await h.settle()
        (msg,) = h.outputs("i")
        assert msg["payload"] == 12 and msg["g"] == 99
        assert msg["device"] == "pump-7" and msg["label"] == "dev-pump-7-x"
        assert msg["nested"] == {"deep": [None, "x"]}


async def test_legacy_node_without_props():
    node = inject(topic="legacy", payload="7", payloadType="num")
    del node[0]["props"]
    async with FlowHarness(node) as h:
        h.node("i").trigger()
        await h.settle()
        assert [(m["topic"], m["payload"]) for m in h.outputs("i")] == [("legacy", 7)]


async def test_user_props_override_once():
    async with FlowHarness(inject(payload="a", payloadType="str")) as h:
        h.node("i").trigger([{"p": "payload", "v": "from-editor", "vt": "str"}])
        h.node("i").trigger()
        await h.settle()
        assert h.payloads("i") == ["from-editor", "a"]
        assert "__user_inject_props__" not in h.outputs("i")[0]


async def test_repeat_without_once_starts_after_one_interval():
    async with FlowHarness(inject(repeat="2", payload="x", payloadType="str")) as h:
        await h.advance(1.9)
        assert h.payloads("i") == []
        await h.advance(4.2)
        assert h.payloads("i") == ["x", "x", "x"]


async def test_once_without_repeat_fires_exactly_once_with_default_delay():
    async with FlowHarness(inject(once=True, onceDelay="", payload="x",
                                  payloadType="str")) as h:
        await h.advance(0.1)
        await h.advance(100)
        assert h.payloads("i") == ["x"]


async def test_crontab_schedule_in_local_time():
    async with FlowHarness(inject(crontab="*/5 * * * *", payload="c", payloadType="str")) as h:
        await h.advance(299)
        assert h.payloads("i") == []
        await h.advance(1)
        assert h.payloads("i") == ["c"]
        await h.advance(600)
        assert h.payloads("i") == ["c", "c", "c"]


async def test_crontab_with_seconds_field_first():
    async with FlowHarness(inject(crontab="*/10 * * * * *", payload="s",
                                  payloadType="str")) as h:
        await h.advance(30)
        assert len(h.payloads("i")) == 3


async def test_redeploy_stops_the_timer():
    async with FlowHarness(inject(repeat="1", payload="x", payloadType="str")) as h:
        await h.advance(1)
        await h.deploy([])
        await h.advance(5)
        assert h.payloads("i") == ["x"]
        assert h.clock.pending() == 0


async def test_evaluation_errors_are_reported_and_nothing_is_sent():
    async with FlowHarness(inject(props=[{"p": "payload", "v": "x", "vt": "str"},
                                         {"p": "payload.deep", "v": "1", "vt": "num"}])) as h:
        h.node("i").trigger()
        await h.settle()
        assert h.payloads("i") == []
        assert "msg.payload.deep" in h.outputs("c")[0]["error"]["message"]


@pytest.mark.parametrize(("config", "words"), [
    ({"repeat": "3000000"}, "too large"),
    ({"crontab": "not a cron"}, "crontab"),
    ({"payload": "{bad", "payloadType": "json"}, "invalid JSON"),
    ({"payload": "$now(", "payloadType": "jsonata"},
     "JSONata error in msg.payload of inject node i: Expected \\) before end of expression"),
])
async def test_bad_config_fails_the_deploy(config, words):
    with pytest.raises(DeployError, match=words) as info:
        async with FlowHarness(inject(**config)):
            pass
    assert info.value.node_id == "i"


async def test_the_button_says_when_nothing_was_injected():
    # A full run queue used to answer the button 200 although the message was dropped.
    (route,) = [r for r in Inject.admin_routes if r.path == "/inject/{id}"]
    async with FlowHarness(inject(), settings={"maxPendingMessages": 1}) as h:
        node = h.node("i")
        assert node.trigger() is True  # queued; the loop has not drained it yet
        with pytest.raises(AdminRouteError) as refused:
            await route.handler(_request(h, {}))
        assert (refused.value.status, refused.value.code) == (503, "run_queue_full")
        await h.settle()
        assert await route.handler(_request(h, {})) == 200


def _request(h, body):
    return AdminRequest(params={"id": "i"}, body=body, node=h.runtime.get_node)


async def test_jsonata_props_see_the_message_being_built():
    props = [{"p": "payload", "v": "5", "vt": "num"},
             {"p": "double", "v": "payload * 2", "vt": "jsonata"},
             {"p": "when", "v": "$millis()", "vt": "jsonata"},
             {"p": "none", "v": "nothing", "vt": "jsonata"},
             {"p": "empty", "v": "", "vt": "jsonata"}]
    async with FlowHarness(inject(props=props)) as h:
        h.node("i").trigger()
        await h.settle()
        (out,) = h.outputs("i")
        assert (out["payload"], out["double"], out["when"]) == (5, 10, START_MS)
        assert "none" not in out and "empty" not in out  # undefined and empty set nothing


async def test_jsonata_prop_evaluation_error_is_reported_and_nothing_sent():
    props = [{"p": "payload", "v": "$boom()", "vt": "jsonata"}]
    async with FlowHarness(inject(props=props)) as h:
        h.node("i").trigger()
        await h.settle()
        assert h.outputs("i") == []
        (caught,) = h.outputs("c")
        assert caught["error"]["message"] == (
            "msg.payload: JSONata error in msg.payload of inject node i: Attempted to invoke "
            "a non-function in '$boom()'")
