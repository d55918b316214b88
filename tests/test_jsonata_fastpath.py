"""flowrt.jsonata_fastpath: every value it gives is the library's own, for any input;
what it does not know exactly, it hands back (Fallback)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonata import Jsonata
from jsonata.utils import Utils

from flowrt.jsonata_fastpath import UNDEFINED, Fallback, compile_fast

FAST = [
    "payload.temperature * 9 / 5 + 32", "payload.a + payload.b", "payload.a - 1.5",
    "payload.a * payload.b", "payload.a / payload.b", "payload.a % payload.b",
    "payload.a > payload.b", "payload.a <= 3", "payload.a >= 'm'", "payload.a < payload.b",
    "payload.a = payload.b", "payload.a != payload.b", "payload.a = true", "payload",
    "payload.a", "payload.a.b", "msg.payload.a", "'text'", "42", "-2.5", "true",
    "payload.a = 'x'", "(payload.a + 1) * 2",
]
SLOW = [
    "$round(payload.a)", "payload.a & 'x'", "payload.a and true", "payload[0]",
    "payload.a[0]", "$x + 1", "payload.*", "payload.**.a", "-payload.a", "payload.a ? 1 : 2",
    "{'a': payload.a}", "[payload.a]", "payload.(a + 1)", "payload.a in [1]", "null",
    "payload#$i.a", "payload@$p.a", "payload^(a)", "payload{a: b}", "$.payload",
    "payload.a ~> $string()", "payload.a.%.b",
]

SCALARS = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, -0.0, 1, 2, 3, "m", "a", "", "x", True, False, None]),
    st.text(max_size=4),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "temperature"]), inner, max_size=3)),
    max_leaves=6)
INPUTS = st.fixed_dictionaries({}, optional={"payload": VALUES, "msg": VALUES})


def library(expression: str, data: Any) -> Any:
    """The library's value (as the fast path represents it), or ``"<error>"``."""
    expr = Jsonata(expression)
    expr.set_validate_input(False)
    expr.set_output_convert_nulls(False)
    try:
        result = expr.evaluate(data)
    except Exception:
        return "<error>"
    if result is None:
        return UNDEFINED
    return None if result is Utils.NULL_VALUE else result


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("expression", FAST)
def test_these_have_a_fast_path(expression: str) -> None:
    assert compile_fast(Jsonata(expression).ast) is not None


@pytest.mark.parametrize("expression", SLOW)
def test_these_are_left_to_the_library(expression: str) -> None:
    assert compile_fast(Jsonata(expression).ast) is None


@pytest.mark.parametrize("expression", FAST)
@settings(max_examples=150, deadline=None)
@given(data=INPUTS)
def test_a_fast_result_is_always_the_librarys(expression: str, data: dict[str, Any]) -> None:
    fast = compile_fast(Jsonata(expression).ast)
    assert fast is not None
    try:
        value = fast(data)
    except Fallback:
        return
    expected = library(expression, data)
    assert same(value, expected), (expression, data, value, expected)


@pytest.mark.parametrize(("expression", "data", "expected"), [
    ("payload.temperature * 9 / 5 + 32", {"payload": {"temperature": 21.5}}, 70.7),
    ("payload.temperature * 9 / 5 + 32", {"payload": {"temperature": 20}}, 68),
    ("payload.a > 2", {"payload": {"a": 3}}, True),
    ("payload.a", {"payload": {}}, UNDEFINED),
    ("payload.a.b", {"payload": {"a": 5}}, UNDEFINED),
    ("payload.a", {"payload": {"a": None}}, None),
    ("payload", {"payload": {"a": 1}}, {"a": 1}),
])
def test_the_common_cases_are_fast(expression: str, data: Any, expected: Any) -> None:
    fast = compile_fast(Jsonata(expression).ast)
    assert fast is not None
    assert same(fast(data), expected)
    assert same(library(expression, data), expected)


@pytest.mark.parametrize(("expression", "data"), [
    ("payload.a + 1", {"payload": {}}),              # undefined operand
    ("payload.a + 1", {"payload": {"a": None}}),     # null: the library's error
    ("payload.a + 1", {"payload": {"a": "5"}}),      # a string: the library's error
    ("payload.a / 0", {"payload": {"a": 5}}),        # division by zero
    ("payload.a * 1e308", {"payload": {"a": 1e10}}),  # overflow
    ("payload.a", {"payload": [{"a": 1}]}),          # an array on the way
    ("payload.a", {"payload": {"a": [1]}}),          # an array as the value
    ("payload.a = payload.b", {"payload": {"a": {}, "b": {}}}),  # deep equality
])
def test_what_the_fast_path_does_not_know_goes_to_the_library(expression: str,
                                                               data: Any) -> None:
    fast = compile_fast(Jsonata(expression).ast)
    assert fast is not None
    with pytest.raises(Fallback):
        fast(data)
