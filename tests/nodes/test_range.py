"""range: scale, clamp, roll, drop, round, swapped bounds, non-numbers, Node-RED export."""

from __future__ import annotations

import pytest

from flowrt.errors import DeployError, FlowValidationError
from flowrt.testing import FlowHarness


def range_node(**config):
    base = {"minin": "0", "maxin": "10", "minout": "0", "maxout": "100", "action": "scale",
            "round": False, "property": "payload", "name": ""}
    return [{"id": "r", "type": "range", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             **base, **config}]


async def scaled(values, **config):
    async with FlowHarness(range_node(**config)) as h:
        for value in values:
            await h.inject("r", payload=value)
        return h.payloads("r")


async def test_node_red_export():
    flow = [{"id": "9d1e2f3a4b5c6d7e", "type": "range", "z": "t1", "minin": "0",
             "maxin": "1023", "minout": "0", "maxout": "5", "action": "clamp", "round": True,
             "property": "payload", "name": "adc", "x": 200, "y": 100, "wires": [[]]}]
    async with FlowHarness(flow) as h:
        for value in (0, 512, 2000, "1023"):
            await h.inject("9d1e2f3a4b5c6d7e", payload=value)
        assert h.payloads("9d1e2f3a4b5c6d7e") == [0, 3, 5, 5]


async def test_scale_maps_linearly_even_outside():
    assert await scaled([0, 5, 2.5, -1, 20, "7"]) == [0, 50, 25, -10, 200, 70]


async def test_clamp_roll_and_drop():
    assert await scaled([-5, 15], action="clamp") == [0, 100]
    assert await scaled([12, -3, 10], action="roll") == [20, 70, 0]
    assert await scaled([-1, 5, 11], action="drop") == [50]


async def test_round_half_up_like_javascript():
    assert await scaled([0.25, 0.35, -0.25], round=True, maxout="10") == [0, 0, 0]
    assert await scaled([0.5, 1.5, -0.5, -1.5], round=True, maxout="10") == [1, 2, 0, -1]


async def test_swapped_input_bounds_swap_the_output_too():
    assert await scaled([0, 10, 2], minin="10", maxin="0") == [100, 0, 80]


async def test_integral_results_are_ints():
    (value,) = await scaled([5])
    assert value == 50 and type(value) is int


async def test_missing_property_passes_and_non_numbers_warn():
    async with FlowHarness(range_node(property="value.level")) as h:
        await h.inject("r", payload=1)
        await h.inject("r", value={"level": "abc"})
        await h.inject("r", value={"level": 3})
        assert [m.get("value") for m in h.outputs("r")] == [None, {"level": 30}]
        assert "Not a number: abc" in h.warnings[0]["msg"]


async def test_bad_bounds_fail_the_deploy():
    with pytest.raises(FlowValidationError, match="maxin"):
        async with FlowHarness(range_node(maxin="ten")):
            pass
    flow = [{"id": "t1", "type": "tab", "env": [{"name": "TOP", "value": "ten", "type": "str"}]},
            *range_node(maxin="${TOP}")]
    with pytest.raises(DeployError, match="maxin 'ten' is not a number"):
        async with FlowHarness(flow):
            pass


async def test_empty_bounds_count_as_zero_like_node_red():
    assert await scaled([5], minin="", maxin="10", minout="", maxout="1") == [0.5]
