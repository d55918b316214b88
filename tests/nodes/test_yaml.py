"""yaml: Node-RED's spec scenarios, YAML 1.2 as js-yaml reads and writes it, safe loading
only, alias bombs, Node-RED's example flows, and a fuzz test."""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flowrt.jsvalue import MISSING
from flowrt.testing import FlowHarness
from flowrt.yaml_codec import MAX_DEPTH, MAX_INPUT_CHARS, YAMLCodecError, dump, load, load_document
from tests.nodes.nodered_examples import run_example


def yaml_flow(**config):
    node = {"id": "y", "type": "yaml", "z": "t1", "name": "", "property": "payload",
            "x": 0, "y": 0, "wires": [[]], **config}
    return [node, {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
                   "wires": [[]]}]


# ------------------------------------------------------------ Node-RED's spec
async def test_yaml_string_to_object():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", topic="bar",
                       payload="employees:\n  - firstName: John\n    lastName: Smith\n")
        out = h.outputs("y")[0]
        assert out["topic"] == "bar"
        assert out["payload"] == {"employees": [{"firstName": "John", "lastName": "Smith"}]}


async def test_object_and_array_to_yaml_string():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", payload={"employees": [{"firstName": "John", "lastName": "Smith"}]})
        await h.inject("y", payload=[1, 2, 3])
        await h.inject("y", payload=None)
        assert h.payloads("y") == ["employees:\n  - firstName: John\n    lastName: Smith\n",
                                   "- 1\n- 2\n- 3\n", "null\n"]


async def test_invalid_yaml_is_the_messages_error_in_js_yamls_words():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", topic="bar",
                       payload="employees:\n-firstName: John\n- lastName: Smith\n")
        await h.inject("y", payload="a: 1\na: 2")
        await h.inject("y", payload="---\na\n---\nb\n")
        assert h.payloads("y") == []
        assert [c["error"]["message"] for c in h.outputs("c")] == [
            # js-yaml: "end of the stream or a document separator is expected (3:1)"
            "did not find expected key (3:1)",
            "duplicated mapping key (2:1)",
            "expected a single document in the stream, but found more"]
        assert h.outputs("c")[0]["topic"] == "bar"
        assert h.outputs("c")[0]["error"]["source"]["id"] == "y"


async def test_neither_yaml_nor_object_only_warns():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", payload=True)
        await h.inject("y", payload=1)
        await h.inject("y", payload=b"a")
        assert h.payloads("y") == [] and h.outputs("c") == []
        assert [w["msg"] for w in h.warnings] == [
            "Ignored unsupported payload type", "Ignored unsupported payload type",
            "Ignored non-object payload"]


async def test_missing_property_passes_through_and_empty_document_removes_it():
    async with FlowHarness(yaml_flow(property="data.text")) as h:
        await h.inject("y", topic="bar")
        await h.inject("y", data={"text": ""}, payload="kept")
        first, second = h.outputs("y")
        assert "payload" not in first and first["topic"] == "bar"
        assert second["data"] == {} and second["payload"] == "kept"


async def test_a_value_yaml_cannot_hold_fails_with_node_reds_words():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", payload={"s": object()})
        assert [c["error"]["message"] for c in h.outputs("c")] == ["Failed to convert payload"]


# ------------------------------------------------------------ YAML 1.2 (reference §6)
def test_yaml_1_2_scalars_as_js_yaml_reads_them():
    assert load("a: yes\nb: on\nc: y\nd: No\ne: true\nf: FALSE") == {
        "a": "yes", "b": "on", "c": "y", "d": "No", "e": True, "f": False}
    assert load("a: 007\nb: 0o17\nc: 0x1F\nd: 0b11\ne: 1e3\nf: 1_000\ng: 1:20\nh: 012\n"
                "i: .inf\nj: -.Inf\nk: ~\nl: Null\nm: 1.5\nn: '007'") == {
        "a": 7, "b": 15, "c": 31, "d": 3, "e": 1000, "f": "1_000", "g": "1:20", "h": 12,
        "i": math.inf, "j": -math.inf, "k": None, "l": None, "m": 1.5, "n": "007"}
    assert math.isnan(load(".nan"))


async def test_an_unquoted_date_becomes_a_date():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", payload="a: 2001-12-14\nb: 2001-12-14 21:59:43.10 -5\nc: '2001-12-14'")
        assert h.payloads("y") == [{
            "a": datetime(2001, 12, 14, tzinfo=UTC),
            "b": datetime(2001, 12, 15, 2, 59, 43, 100000, tzinfo=UTC),
            "c": "2001-12-14"}]
        await h.inject("y", payload=h.payloads("y")[0])
        assert h.payloads("y")[1] == ("a: 2001-12-14T00:00:00.000Z\n"
                                      "b: 2001-12-15T02:59:43.100Z\nc: '2001-12-14'\n")


def test_dump_quotes_what_would_read_back_as_another_type():
    assert dump({"a": "007", "b": "yes", "c": "1e3", "d": "true", "e": "null", "f": "~",
                 "g": "", "h": "1:20", "i": "=", "j": "plain", "k": "2001-12-14",
                 "l": "1_000"}) == (
        "a: '007'\nb: 'yes'\nc: '1e3'\nd: 'true'\ne: 'null'\nf: '~'\ng: ''\nh: '1:20'\n"
        "i: '='\nj: plain\nk: '2001-12-14'\nl: 1_000\n")


def test_dump_writes_js_yamls_block_style():
    assert dump({"a": "line1\nline2", "b": [1, [2, 3], []], "c": {}, "d": 1.5, "e": 5.0,
                 "f": 1e21, "g": math.nan, "h": -math.inf, "i": b"ab", "j": True}) == (
        "a: |-\n  line1\n  line2\nb:\n  - 1\n  - - 2\n    - 3\n  - []\nc: {}\nd: 1.5\n"
        "e: 5\nf: 1e+21\ng: .nan\nh: -.inf\ni: !!binary |\n  YWI=\nj: true\n")
    shared = {"x": 1}
    assert dump({"a": shared, "b": shared}) == "a: &ref_0\n  x: 1\nb: *ref_0\n"
    assert dump({1: "number key"}) == "'1': number key\n"
    # JavaScript's property order: array-index keys first, ascending
    assert dump({"b": 1, "10": 2, "2": 3}) == "'2': 3\n'10': 2\nb: 1\n"
    assert list(load("b: 1\n10: 2\n2: 3\n'': 4")) == ["2", "10", "b", ""]


def test_keys_are_strings_and_safe_tags_only():
    assert load("1: a\nnull: b\n[1, 2]: c\n") == {"1": "a", "null": "b", "1,2": "c"}
    assert load("s: !!set {a, b}\np: !!pairs [a: 1]\no: !!omap [b: 2]\nbin: !!binary YWI=") == {
        "s": {"a": None, "b": None}, "p": [["a", 1]], "o": [{"b": 2}], "bin": b"ab"}
    assert load("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")["m"] == {"x": 1, "y": 3}
    for unsafe in ("!!python/object/apply:os.system ['true']",
                   "!!python/name:os.system", "!<tag:yaml.org,2002:python/object:object> {}"):
        with pytest.raises(YAMLCodecError, match="could not determine a constructor"):
            load(unsafe)


def test_empty_document():
    assert load_document("") is MISSING and load_document("# only a comment") is MISSING
    assert load("") is None and load("~") is None


# ------------------------------------------------------------ bounds
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi",
                                                                 strict=True))


async def test_alias_bomb_and_recursive_alias_are_refused():
    async with FlowHarness(yaml_flow()) as h:
        await h.inject("y", payload=ALIAS_BOMB)
        await h.inject("y", payload="a: &a [*a]")
        await h.inject("y", payload="&a {b: *a}")
        assert h.payloads("y") == []
        assert [c["error"]["message"] for c in h.outputs("c")] == [
            "YAML expands to more than 1000000 values (aliases nested too deeply)",
            "YAML alias refers to a node that contains it",
            "YAML alias refers to a node that contains it"]
    # a few shared aliases are fine
    assert load("a: &a [1]\nb: [*a, *a]") == {"a": [1], "b": [[1], [1]]}


def test_size_and_depth_limits():
    with pytest.raises(YAMLCodecError, match="longer than"):
        load("a" * (MAX_INPUT_CHARS + 1))
    with pytest.raises(YAMLCodecError, match="nested more than"):
        load("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert load("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)) is not None
    with pytest.raises(YAMLCodecError, match="nested more than"):
        load("".join(" " * i + "a:\n" for i in range(MAX_DEPTH + 1)))


# ------------------------------------------------------------ Node-RED's examples
async def test_example_convert_javascript_object_to_yaml():
    _, received = await run_example(
        "parser__yaml__01---Convert-JavaScript-object-to-YAML.json")
    assert [m["payload"] for m in received] == [
        "fruits:\n  kind: Apple\n  price: 100\n  origin: Canada\n"]


async def test_example_convert_yaml_to_javascript_object():
    _, received = await run_example(
        "parser__yaml__02---Convert-YAML-to-JavaScript-object.json")
    assert [m["payload"] for m in received] == [
        {"fruits": {"kind": "Apple", "price": 100, "origin": "Canada"}}]


# ------------------------------------------------------------ fuzzing
FUZZ = settings(derandomize=os.environ.get("HYPOTHESIS_PROFILE", "ci") != "explore",
                database=None, deadline=None, max_examples=300,
                suppress_health_check=list(HealthCheck))
yaml_junk = st.text(alphabet="abc01:-[]{}&*!|>'\"#%@,?\n .~<=", max_size=80)


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                         max_size=3)


# Integers within JavaScript's exact range: a bigger one reads back as a double, as in
# Node-RED.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats()
    | st.text(max_size=12) | st.binary(max_size=6)
    | st.datetimes(timezones=st.just(UTC)),
    _containers, max_leaves=15)


@FUZZ
@given(st.one_of(yaml_junk, st.text(max_size=60), json_values.map(dump)))
@example(ALIAS_BOMB)
@example("[" * 5000)
@example("a: &a [*a]")
@example("!!binary x")
@example("? - a\n  - b\n: c")
@example("2001-13-45")
def test_any_text_gives_a_value_or_a_named_error(text):
    started = time.monotonic()
    try:
        load_document(text)
    except YAMLCodecError as exc:
        assert str(exc)
    assert time.monotonic() - started < 5


def _same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, datetime):
        return a.replace(microsecond=a.microsecond // 1000 * 1000) == b
    if isinstance(a, dict):
        # JavaScript's property order: array-index keys first, ascending.
        index = sorted((k for k in a if k.isascii() and k.isdigit() and str(int(k)) == k
                        and int(k) < 2**32 - 1), key=int)
        order = index + [k for k in a if k not in index]
        return order == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@FUZZ
@given(json_values)
def test_what_is_dumped_reads_back_the_same(value):
    text = dump(value)
    assert _same(value, load(text)), text
