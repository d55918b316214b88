"""flowrt.jsvalue against JavaScript: every expected value below is what Node.js 20
printed for the same expression (``String(Number(v))``, ``String(parseFloat(v))``...)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from flowrt.jsvalue import (
    MISSING,
    compare,
    is_nan,
    js_number,
    js_string,
    loose_equals,
    number_value,
    parse_float,
    parse_int,
    truthy,
    typeof,
)

# text → (String(Number(text)), String(parseFloat(text)), String(parseInt(text)))
TEXT = {
    "5": ("5", "5", "5"),
    "  12  ": ("12", "12", "12"),
    "": ("0", "NaN", "NaN"),
    " ": ("0", "NaN", "NaN"),
    "x": ("NaN", "NaN", "NaN"),
    "0x10": ("16", "0", "16"),
    "0X1f": ("31", "0", "31"),
    "0o17": ("15", "0", "0"),
    "0b11": ("3", "0", "0"),
    "0b12": ("NaN", "0", "0"),
    "-0x10": ("NaN", "0", "-16"),
    "1e21": ("1e+21", "1e+21", "1"),
    "1e": ("NaN", "1", "1"),
    "1.": ("1", "1", "1"),
    ".": ("NaN", "NaN", "NaN"),
    ".5": ("0.5", "0.5", "NaN"),
    "+.5": ("0.5", "0.5", "NaN"),
    "-0": ("0", "0", "0"),
    "Infinity": ("Infinity", "Infinity", "NaN"),
    "-Infinity": ("-Infinity", "-Infinity", "NaN"),
    "+Infinity": ("Infinity", "Infinity", "NaN"),
    "infinity": ("NaN", "NaN", "NaN"),
    "inf": ("NaN", "NaN", "NaN"),
    "1_000": ("NaN", "1", "1"),
    "\u00a012\ufeff": ("12", "12", "12"),
    "\x1c5": ("NaN", "NaN", "NaN"),
    "6 deg": ("NaN", "6", "6"),
    "12px": ("NaN", "12", "12"),
    "0x": ("NaN", "0", "NaN"),
    "0xg": ("NaN", "0", "NaN"),
    "1e400": ("Infinity", "Infinity", "1"),
    "00012": ("12", "12", "12"),
    "\u0661\u0662": ("NaN", "NaN", "NaN"),
    "-12.5e1xyz": ("NaN", "-125", "-12"),
}


@pytest.mark.parametrize(("text", "expected"), TEXT.items())
def test_number_parse_float_and_parse_int_of_text(text: str, expected: tuple[str, ...]) -> None:
    assert (js_string(js_number(text)), js_string(parse_float(text)),
            js_string(parse_int(text))) == expected


# number → (String(n), String(parseInt(n)))
NUMBERS = [
    (1e21, "1e+21", "1"),
    (1e20, "100000000000000000000", "100000000000000000000"),
    (1.5e-6, "0.0000015", "0"),
    (1e-7, "1e-7", "1"),
    (0.1, "0.1", "0"),
    (-0.0, "0", "0"),
    (123456789012345680000.0, "123456789012345680000", "123456789012345680000"),
    (9007199254740993.0, "9007199254740992", "9007199254740992"),
    (2.0**53, "9007199254740992", "9007199254740992"),
    (1.5e300, "1.5e+300", "1"),
    (5e-324, "5e-324", "5"),
    (0.000001, "0.000001", "0"),
    (1 / 3, "0.3333333333333333", "0"),
    (100, "100", "100"),
    (-1e21, "-1e+21", "-1"),
    (2.0**64, "18446744073709552000", "18446744073709552000"),
    (3e-7, "3e-7", "3"),
    (math.nan, "NaN", "NaN"),
    (math.inf, "Infinity", "NaN"),
]


@pytest.mark.parametrize(("number", "text", "integer"), NUMBERS)
def test_string_and_parse_int_of_numbers(number: float, text: str, integer: str) -> None:
    assert js_string(number) == text
    assert js_string(parse_int(number)) == integer


def test_python_ints_keep_their_digits() -> None:
    # JavaScript has no such numbers (it rounds them when parsing); flowrt keeps them.
    assert js_string(2**64) == "18446744073709551616"
    assert js_string(parse_int("18446744073709551616")) == "18446744073709551616"


def test_string_of_other_values() -> None:
    assert js_string([1, None, "a"]) == "1,,a"
    assert js_string([[1, 2], [3]]) == "1,2,3"
    assert js_string({}) == "[object Object]"
    assert js_string(None) == "null"
    assert js_string(MISSING) == "undefined"
    assert js_string(True) == "true"
    assert js_string(b"abc") == "abc"


def test_number_of_other_values() -> None:
    assert js_number([7]) == 7 and js_number([]) == 0 and is_nan(js_number([1, 2]))
    assert js_number(None) == 0 and is_nan(js_number(MISSING)) and js_number(True) == 1
    assert js_number(b"5") == 5  # Number(Buffer.from("5"))
    assert is_nan(js_number({})) and is_nan(parse_float(True))
    assert parse_float([" 6 deg", 2]) == 6
    assert is_nan(parse_int(None))
    assert type(js_number("5")) is int and type(js_number("5.5")) is float
    assert number_value(5.0) == 5 and type(number_value(5.0)) is int


# (a, b, a == b) as Node.js answered
EQUALS: list[tuple[Any, Any, bool]] = [
    ("5", 5, True), ("5.0", 5, True), ("", 0, True), (" ", 0, True),
    (None, MISSING, True), (None, 0, False), (True, 1, True), (True, "1", True),
    ([1, 2], "1,2", True), ([], "", True), ([], 0, True), ({}, "[object Object]", True),
    ("a", "a", True), (False, "", True), (math.nan, math.nan, False), ("0x10", 16, True),
]


@pytest.mark.parametrize(("a", "b", "equal"), EQUALS)
def test_loose_equals(a: object, b: object, equal: bool) -> None:
    assert loose_equals(a, b) is equal
    assert loose_equals(b, a) is equal


def test_an_object_equals_only_itself() -> None:
    value = {"a": 1}
    assert loose_equals(value, value) and not loose_equals(value, {"a": 1})


# (a, b, a < b, a > b) as Node.js answered
ORDER: list[tuple[Any, Any, bool, bool]] = [
    ("10", "9", True, False), (10, "9", False, True), ("a", "b", True, False),
    (None, 1, True, False), (MISSING, 1, False, False), ("x", 1, False, False),
    (True, 0, False, True), ([5], 4, False, True),
]


@pytest.mark.parametrize(("a", "b", "less", "greater"), ORDER)
def test_compare(a: object, b: object, less: bool, greater: bool) -> None:
    result = compare(a, b)
    assert (result is not None and result < 0) is less
    assert (result is not None and result > 0) is greater


@pytest.mark.parametrize(("value", "expected"), [
    ("", False), (0, False), (-0.0, False), (math.nan, False), (None, False),
    (MISSING, False), ([], True), ({}, True), ("0", True), (" ", True), (b"", True),
    (0.1, True),
])
def test_truthy(value: object, expected: bool) -> None:
    assert truthy(value) is expected


def test_typeof() -> None:
    values: tuple[Any, ...] = (MISSING, None, True, 1, 1.5, "s", [], {}, b"")
    assert [typeof(v) for v in values] == [
        "undefined", "object", "boolean", "number", "number", "string", "object", "object",
        "object"]
