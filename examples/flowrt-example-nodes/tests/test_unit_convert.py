"""Tests for the example plugin, written with flowrt.testing as any plugin author would."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError
from flowrt.registry import discover
from flowrt.testing import FlowHarness


def flow(**config):
    return [
        {"id": "t1", "type": "tab", "label": "example"},
        {"id": "conv", "type": "unit-convert", "z": "t1", "x": 100, "y": 100,
         "wires": [[]], **config},
        {"id": "catch", "type": "catch", "z": "t1", "x": 100, "y": 200, "wires": [[]],
         "scope": None},
    ]


def test_installed_package_is_discovered_with_its_origin():
    registry = discover()
    entry = registry.types["unit-convert"]
    assert entry.origin == "package flowrt-example-nodes"
    assert entry.module == "flowrt_example_nodes.unit_convert"


async def test_converts_celsius_to_fahrenheit_with_defaults():
    async with FlowHarness(flow()) as h:
        await h.inject("conv", payload=21.5)
        out = h.outputs("conv")
        assert [m["payload"] for m in out] == [70.7]
        assert out[0]["unit"] == "F"


async def test_nested_property_and_string_numbers():
    async with FlowHarness(flow(property="payload.pressure", **{"from": "bar", "to": "psi"},
                                decimals="1")) as h:
        await h.inject("conv", payload={"pressure": "2"})
        assert h.payloads("conv") == [{"pressure": 29.0}]


async def test_non_numeric_value_is_reported_and_dropped():
    async with FlowHarness(flow()) as h:
        await h.inject("conv", payload="warm")
        assert h.outputs("conv") == []
        errors = h.outputs("catch")
        assert len(errors) == 1
        assert "msg.payload is not a number: 'warm'" in errors[0]["error"]["message"]


async def test_unsupported_pair_fails_the_deploy_naming_the_node():
    async with FlowHarness([{"id": "t1", "type": "tab"}]) as h:
        with pytest.raises(DeployError, match=r"conv \(unit-convert\).*cannot convert K to psi"):
            await h.deploy(flow(**{"from": "K", "to": "psi"}))
