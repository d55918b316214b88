"""xml: Node-RED's spec scenarios, the xml2js object shape both ways, msg.options,
entity attacks (XXE, billion laughs), Node-RED's example flows, and a fuzz test."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flowrt.testing import FlowHarness
from flowrt.xml_codec import MAX_DEPTH, MAX_INPUT_CHARS, XMLCodecError, build, parse
from tests.nodes.nodered_examples import run_example

DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def xml_flow(**config):
    node = {"id": "x", "type": "xml", "z": "t1", "name": "", "property": "payload",
            "attr": "", "chr": "", "x": 0, "y": 0, "wires": [[]], **config}
    return [node, {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
                   "wires": [[]]}]


# ------------------------------------------------------------ Node-RED's spec
async def test_xml_string_to_object():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", topic="bar", payload="<employees><firstName>John</firstName>"
                                                 "<lastName>Smith</lastName></employees>")
        out = h.outputs("x")[0]
        assert out["topic"] == "bar"
        assert out["payload"] == {"employees": {"firstName": ["John"], "lastName": ["Smith"]}}


async def test_xml_string_to_object_with_options_and_options_updated_as_node_red_does():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", topic="bar", options={"trim": True},
                       payload="<employees><firstName> John </firstName></employees>")
        out = h.outputs("x")[0]
        assert out["payload"] == {"employees": {"firstName": ["John"]}}
        assert out["options"] == {"trim": True, "async": True, "attrkey": "$", "charkey": "_"}


async def test_object_to_xml_string_on_one_line():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", topic="bar",
                       payload={"employees": {"firstName": ["John"], "lastName": ["Smith"]}})
        assert h.payloads("x") == [DECL + "<employees><firstName>John</firstName>"
                                   "<lastName>Smith</lastName></employees>"]


async def test_object_to_xml_string_with_options_is_pretty_and_headless():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", options={"headless": True},
                       payload={"employees": {"firstName": ["John"], "lastName": ["Smith"]}})
        assert h.payloads("x") == ["<employees>\n  <firstName>John</firstName>\n"
                                   "  <lastName>Smith</lastName>\n</employees>"]


async def test_invalid_xml_is_the_messages_error_and_nothing_is_sent():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", topic="bar", payload="<a></b>")
        assert h.payloads("x") == []
        caught = h.outputs("c")
        assert len(caught) == 1 and caught[0]["topic"] == "bar"
        assert caught[0]["error"]["message"] == "Error: Unexpected close tag\nLine: 0\nColumn: 5"
        assert caught[0]["error"]["source"]["id"] == "x"
        await h.inject("x", payload="<not valid>")
        assert h.outputs("c")[1]["error"]["message"].startswith(
            "Error: not well-formed (invalid token)")


async def test_neither_xml_nor_object_only_warns():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", payload=1)
        await h.inject("x", payload=True)
        assert h.payloads("x") == [] and h.outputs("c") == []
        assert [w["msg"] for w in h.warnings] == [
            "This node only handles xml strings or js objects."] * 2


async def test_missing_property_passes_through():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", topic="bar")
        assert h.outputs("x") == [{"topic": "bar", "_msgid": h.outputs("x")[0]["_msgid"]}]


# ------------------------------------------------------------ the object shape
async def test_attributes_text_and_renamed_keys():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", payload='<p class="tag">Hello World</p>')
        assert h.payloads("x") == [{"p": {"_": "Hello World", "$": {"class": "tag"}}}]
    async with FlowHarness(xml_flow(attr="@", chr="#")) as h:
        await h.inject("x", payload='<p class="tag">Hello <b>x</b>World</p>',
                       options={"attrkey": "ignored"})
        assert h.payloads("x") == [{"p": {"#": "Hello World", "@": {"class": "tag"},
                                          "b": ["x"]}}]


async def test_values_are_strings_children_arrays_empty_elements_empty_strings():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", payload="<r><n>5</n><n>6</n><e/><f></f><s>  </s>\n"
                                    "<c><![CDATA[ ]]></c><t>a&amp;b &lt;&#65;</t></r>")
        assert h.payloads("x") == [{"r": {"n": ["5", "6"], "e": [""], "f": [""],
                                          "s": ["  "], "c": [" "], "t": ["a&b <A"]}}]


async def test_other_property_and_blank_text():
    async with FlowHarness(xml_flow(property="data.xml")) as h:
        await h.inject("x", data={"xml": "<a>1</a>"}, payload="<b/>")
        await h.inject("x", data={"xml": "  \n"})
        assert [m["data"]["xml"] for m in h.outputs("x")] == [{"a": "1"}, None]
        assert h.outputs("x")[0]["payload"] == "<b/>"


def test_parse_options_follow_xml2js():
    text = "<a x='1'><b y='2'> t  u </b><b/><C/></a>"
    assert parse(text, {"explicitArray": False, "mergeAttrs": True}) == {
        "a": {"x": "1", "b": [{"_": " t  u ", "y": "2"}, ""], "C": ""}}
    assert parse(text, {"explicitRoot": False, "ignoreAttrs": True, "normalize": True,
                        "normalizeTags": True, "emptyTag": "E"}) == {
        "b": ["t u", "E"], "c": ["E"]}
    assert parse("<a>t<b>u</b></a>", {"explicitChildren": True, "explicitCharkey": True}) == {
        "a": {"_": "t", "$$": {"b": [{"_": "u"}]}}}
    # text between two pieces of markup is one piece, as sax delivers it
    assert parse("<a>x &amp; y<b/></a>", {"explicitChildren": True,
                                          "preserveChildrenOrder": True,
                                          "charsAsChildren": True})["a"]["$$"][0] == {
        "#name": "__text__", "_": "x & y"}
    # what follows the root element is ignored, as xml2js stops there
    assert parse("<a/><b/>junk") == {"a": ""}
    assert parse("\ufeff<a>x &nbsp;&copy;</a>") == {"a": "x \xa0\xa9"}


def test_build_follows_xml2js_builder():
    value = {"a": {"$": {"id": 5, "q": 'x"<&>\n', "none": None}, "b": [1, None, "x",
                                                                       {"c": True}],
                   "_": "t<&>"}}
    assert build(value, {"renderOpts": {"pretty": False}}) == (
        DECL + '<a id="5" q="x&quot;&lt;&amp;>&#xA;"><b>1</b><b/><b>x</b><b><c>true</c></b>'
        "t&lt;&amp;&gt;</a>")
    assert build({"k": "x", "v": 1.5}, {"rootName": "r", "xmldec": {"version": "1.1"}}) == (
        '<?xml version="1.1"?>\n<r>\n  <k>x</k>\n  <v>1.5</v>\n</r>')
    assert build({"a": {"b": "x&y"}}, {"cdata": True, "headless": True}) == (
        "<a>\n  <b><![CDATA[x&y]]></b>\n</a>")
    assert build({}, {"renderOpts": {"pretty": False}}) == DECL + "<root/>"
    # an empty text is a line of its own among children when pretty, as xmlbuilder
    assert build({"a": {"_": "", "b": 1}}, {"headless": True}) == "<a>\n  \n  <b>1</b>\n</a>"
    with pytest.raises(XMLCodecError, match=r"^Missing element text\. parent: <a>$"):
        build({"a": {"_": None}})
    with pytest.raises(XMLCodecError, match=r"^Could not create any elements with"):
        build({"a": {"_": {"b": 1}}})
    with pytest.raises(XMLCodecError, match=r"^Invalid character in name$"):
        build({"a": {"$": ["x"]}})


async def test_bad_names_and_null_are_errors_with_node_reds_words():
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", payload={"1": "x"})
        await h.inject("x", payload={"a b": {"c": 1}})
        await h.inject("x", payload=None)
        await h.inject("x", payload=b"ab")  # a Buffer: an object whose keys are "0", "1"
        assert [c["error"]["message"] for c in h.outputs("c")] == [
            "Error: Invalid character in name", "Error: Invalid character in name",
            "TypeError: Cannot convert undefined or null to object",
            "Error: Invalid character in name"]
        assert h.payloads("x") == []


async def test_round_trip_of_node_reds_shape():
    async with FlowHarness([
            {"id": "x1", "type": "xml", "z": "t", "property": "payload", "wires": [["x2"]]},
            {"id": "x2", "type": "xml", "z": "t", "property": "payload", "wires": [[]]}]) as h:
        await h.inject("x1", payload='<fruit id="100"><kind>Apple</kind><kind/></fruit>')
        assert h.payloads("x2") == [DECL + '<fruit id="100"><kind>Apple</kind><kind/></fruit>']


# ------------------------------------------------------------ entity attacks
XXE = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       "<foo>&xxe;</foo>")
XXE_PARAMETER = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % p SYSTEM '
                 '"http://127.0.0.1:9/evil.dtd"> %p;]><foo>x</foo>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                    .replace("&lol0;", "&lol;") for i in range(1, 10))
          + "]><lolz>&lol9;</lolz>")


@pytest.mark.parametrize("attack", [XXE, XXE_PARAMETER, LAUGHS],
                         ids=["xxe", "xxe-parameter-entity", "billion-laughs"])
async def test_entity_attacks_are_refused_as_the_messages_error(attack):
    async with FlowHarness(xml_flow()) as h:
        await h.inject("x", payload=attack)
        assert h.payloads("x") == []
        [caught] = h.outputs("c")
        assert caught["error"]["message"].startswith(
            "Error: XML entity declarations and external references are not allowed")
        assert "root:" not in caught["error"]["message"]


def test_undeclared_entity_is_a_syntax_error_and_dtd_without_entities_is_fine():
    with pytest.raises(XMLCodecError, match=r"^Invalid character entity"):
        parse("<a>&xxe;</a>")
    assert parse('<!DOCTYPE note SYSTEM "Note.dtd"><note>x</note>') == {"note": "x"}


def test_size_and_depth_limits():
    with pytest.raises(XMLCodecError, match="longer than"):
        parse("<a>" + "x" * MAX_INPUT_CHARS + "</a>")
    with pytest.raises(XMLCodecError, match="nested more than"):
        parse("<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1))
    assert parse("<a>" * MAX_DEPTH + "</a>" * MAX_DEPTH) is not None
    deep: dict = {}
    node = deep
    for _ in range(MAX_DEPTH + 2):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(XMLCodecError, match="nested more than"):
        build(deep)


# ------------------------------------------------------------ Node-RED's examples
async def test_example_convert_javascript_object_to_xml():
    _, received = await run_example("parser__xml__01---Convert-JavaScript-object-to-XML.json")
    assert [m["payload"] for m in received] == [
        DECL + "<root><kind>Apple</kind><price>100</price><origin>Canada</origin></root>"]


async def test_example_convert_xml_to_javascript_object():
    _, received = await run_example("parser__xml__02---Convert-XML-to-JavaScript-object.json")
    assert [m["payload"] for m in received] == [
        {"fruit": {"$": {"id": "100"}, "kind": ["Apple"], "price": ["100"],
                   "origin": ["Canada"]}}]


async def test_example_control_conversion_using_options_property():
    _, received = await run_example(
        "parser__xml__03---Control-conversion-using-options-property.json")
    assert [(m["payload"], m["options"]) for m in received] == [
        ({"fruit": {"$": {"id": "100"}, "kind": "Apple", "price": "100", "origin": "Canada"}},
         {"explicitArray": False, "async": True, "attrkey": "$", "charkey": "_"})]


# ------------------------------------------------------------ fuzzing
FUZZ = settings(derandomize=os.environ.get("HYPOTHESIS_PROFILE", "ci") != "explore",
                database=None, deadline=None, max_examples=300,
                suppress_health_check=list(HealthCheck))
names = st.sampled_from(["a", "b", "x:y", "_c", "d-1"])
attributes = st.sampled_from(["", ' k="v"', " k='&lt;'", ' a="1" b="2"'])


def _element(name: str, attrs: str, kids: list[str]) -> str:
    return f"<{name}{attrs}>{''.join(kids)}</{name}>"


def _elements(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(_element, names, attributes, st.lists(inner, max_size=4))


xml_text = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
    .map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")),
    _elements, max_leaves=25)
junk = st.text(alphabet="<>/&;!?[]-=\"' abAB\n#%x", max_size=80)


@FUZZ
@given(st.one_of(xml_text, junk, st.text(max_size=60), st.builds(
    lambda text, cut: text[:cut], xml_text, st.integers(0, 40))))
@example(LAUGHS)
@example(XXE)
@example("<a>" * 5000)
@example("<![CDATA[x]]>")
@example("<a><![CDATA[]]]]></a>")
def test_any_text_gives_an_object_or_a_named_error(text):
    started = time.monotonic()
    try:
        result = parse(text)
    except XMLCodecError as exc:
        assert str(exc)
    else:
        assert result is None or isinstance(result, dict)
        if isinstance(result, dict):
            build(result, {"renderOpts": {"pretty": False}})
    assert time.monotonic() - started < 5


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    keys = st.one_of(names, st.sampled_from(["$", "_", "1", "a b", ""]), st.text(max_size=4))
    return st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    _containers, max_leaves=15)


@FUZZ
@given(json_values)
def test_any_value_builds_or_gives_a_named_error(value):
    try:
        text = build(value, {"renderOpts": {"pretty": False}})
    except XMLCodecError as exc:
        assert str(exc)
    else:
        assert text.startswith(DECL)
        # What was written reads back, or (names expat's XML 1.0 4th edition rejects)
        # gives a named error.
        try:
            assert isinstance(parse(text), dict)
        except XMLCodecError as exc:
            assert str(exc)
