"""json: both directions, forced direction, pretty, property, errors, schema validation."""

from __future__ import annotations

from datetime import UTC, datetime

from flowrt.testing import FlowHarness


def json_node(**config):
    base = {"name": "", "property": "payload", "action": "", "pretty": False}
    return [{"id": "j", "type": "json", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             **base, **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "wires": [[]]}]


async def test_node_red_export_toggles_both_ways():
    flow = [{"id": "0a1b2c3d4e5f6a7b", "type": "json", "z": "t1", "name": "",
             "property": "payload", "action": "", "pretty": False, "x": 250, "y": 80,
             "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.inject("0a1b2c3d4e5f6a7b", payload='{"a":[1,2],"b":"x"}')
        await h.inject("0a1b2c3d4e5f6a7b", payload={"a": [1, 2], "b": "é"})
        await h.inject("0a1b2c3d4e5f6a7b", payload=b"[true]")
        await h.inject("0a1b2c3d4e5f6a7b", payload=5)
        assert h.payloads("0a1b2c3d4e5f6a7b") == [{"a": [1, 2], "b": "x"}, '{"a":[1,2],"b":"é"}',
                                                  [True], "5"]


async def test_forced_directions_leave_matching_values_alone():
    async with FlowHarness(json_node(action="str")) as h:
        await h.inject("j", payload='{"a":1}')
        await h.inject("j", payload={"a": 1})
        assert h.payloads("j") == ['{"a":1}', '{"a":1}']
    async with FlowHarness(json_node(action="obj")) as h:
        await h.inject("j", payload={"a": 1})
        await h.inject("j", payload="[1]")
        assert h.payloads("j") == [{"a": 1}, [1]]


async def test_pretty_and_other_property():
    async with FlowHarness(json_node(pretty=True, property="data.body")) as h:
        await h.inject("j", data={"body": {"a": 1}}, payload="untouched")
        out = h.outputs("j")[0]
        assert out["data"]["body"] == '{\n    "a": 1\n}'
        assert out["payload"] == "untouched"


async def test_missing_property_passes_through():
    async with FlowHarness(json_node(property="nothing")) as h:
        await h.inject("j", payload="{")
        assert h.payloads("j") == ["{"]


async def test_invalid_json_is_a_catchable_error():
    async with FlowHarness(json_node()) as h:
        await h.inject("j", payload="{not json", topic="t")
        assert h.payloads("j") == []
        caught = h.outputs("c")
        assert len(caught) == 1 and caught[0]["topic"] == "t"
        assert caught[0]["error"]["source"]["id"] == "j"


async def test_bytes_inside_objects_serialise_like_node_buffers():
    async with FlowHarness(json_node()) as h:
        await h.inject("j", payload={"raw": b"\x01\x02"})
        assert h.payloads("j") == ['{"raw":{"type":"Buffer","data":[1,2]}}']


async def test_dates_are_written_as_javascript_writes_them():
    # JSON.stringify(new Date(...)): milliseconds and "Z", never "+00:00".
    when = datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC)
    async with FlowHarness(json_node()) as h:
        await h.inject("j", payload={"at": when, "list": [when]})
        await h.inject("j", payload=when)
        assert h.payloads("j") == ['{"at":"2026-12-06T01:02:03.456Z",'
                                   '"list":["2026-12-06T01:02:03.456Z"]}',
                                   '"2026-12-06T01:02:03.456Z"']
    async with FlowHarness(json_node(pretty=True)) as h:
        await h.inject("j", payload={"at": when})
        assert h.payloads("j") == ['{\n    "at": "2026-12-06T01:02:03.456Z"\n}']


async def test_unsupported_payload_type_warns():
    async with FlowHarness(json_node()) as h:
        await h.inject("j", payload=object())
        assert h.payloads("j") == []
        assert "Ignored unsupported payload type" in h.warnings[0]["msg"]


async def test_schema_validation():
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "number"}}}
    async with FlowHarness(json_node()) as h:
        await h.inject("j", payload='{"a": 1}', schema=schema)
        await h.inject("j", payload='{"a": "x"}', schema=schema)
        await h.inject("j", payload='{"b": 1}', schema={"type": 5})
        (ok,) = h.outputs("j")
        assert ok["payload"] == {"a": 1} and "schema" not in ok
        caught = h.outputs("c")
        assert caught[0]["schemaError"][0]["keyword"] == "type"
        assert caught[0]["error"]["message"].startswith("JSON Schema error: data.a")
        assert caught[1]["error"]["message"] == "JSON Schema error: failed to compile schema"
