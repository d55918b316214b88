"""html: CSS selection, the four outputs, single/multi, msg.select, errors, Node-RED's examples.

Expected values were read from Node-RED 4.1.15 (cheerio 1.0.0-rc.10) running the same
flows; the fuzz test at the end checks the node's bounds on arbitrary input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flowrt.html_select import (
    MAX_HTML_CHARS,
    HTMLInputTooLarge,
    HTMLOutputTooLarge,
    HTMLSelectError,
    InvalidSelector,
    OutputBudget,
    select,
)
from flowrt.testing import FlowHarness

EXAMPLES = Path(__file__).parents[1] / "compat" / "flows" / "nodered-examples"

DOC = ('<html><body><ul id="l"><li class="Item" data-n="1">Apple</li><li class="Item">  </li>'
       '<li class="Item"><b>Or&amp;ange</b> é</li></ul><script>var x=1;</script>'
       '<p>text <i>it</i></p></body></html>')


def html_node(**config):
    base = {"name": "", "property": "payload", "outproperty": "payload", "tag": "li",
            "ret": "html", "as": "single", "chr": "_"}
    return [{"id": "h", "type": "html", "z": "t1", "x": 0, "y": 0, "wires": [[]],
             **base, **config},
            {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "uncaught": False, "wires": [[]]}]


async def run(config: dict, **msg) -> FlowHarness:
    async with FlowHarness(html_node(**config)) as h:
        await h.inject("h", payload=msg.pop("payload", DOC), **msg)
    return h


@pytest.mark.parametrize(("ret", "expected"), [
    ("html", ["Apple", "", "<b>Or&amp;ange</b> &#xE9;"]),
    ("text", ["Apple", "  ", "Or&ange é"]),
    ("attr", [{"class": "Item", "data-n": "1"}, {"class": "Item"}, {"class": "Item"}]),
    ("compl", [{"_": "Apple", "class": "Item", "data-n": "1"}, {"_": "", "class": "Item"},
               {"_": "<b>Or&amp;ange</b> é", "class": "Item"}]),
])
async def test_single_sends_one_array(ret, expected):
    h = await run({"ret": ret}, topic="t")
    (out,) = h.outputs("h")
    assert out["payload"] == expected and out["topic"] == "t"
    assert "parts" not in out


@pytest.mark.parametrize(("ret", "expected"), [
    # An empty html or text result sends nothing, but keeps its index (Node-RED's rule).
    ("html", {0: "Apple", 2: "<b>Or&amp;ange</b> &#xE9;"}),
    ("text", {0: "Apple", 1: "  ", 2: "Or&ange é"}),
    ("attr", {0: {"class": "Item", "data-n": "1"}, 1: {"class": "Item"}, 2: {"class": "Item"}}),
    ("compl", {0: {"_": "Apple", "class": "Item", "data-n": "1"}, 1: {"_": "", "class": "Item"},
               2: {"_": "<b>Or&amp;ange</b> é", "class": "Item"}}),
])
async def test_multi_sends_a_sequence_with_parts(ret, expected):
    h = await run({"ret": ret, "as": "multi"}, _msgid="m1", topic="t",
                  parts={"id": "old", "index": 0, "count": 1})
    outs = h.outputs("h")
    assert {o["parts"]["index"]: o["payload"] for o in outs} == expected
    for out in outs:
        assert out["parts"] == {"id": "m1", "index": out["parts"]["index"], "count": 3,
                                "type": "string", "ch": ""}
        assert out["topic"] == "t"
    # Each message is its own copy.
    assert len({id(o) for o in outs}) == len(outs)


async def test_script_text_is_empty_so_multi_sends_nothing():
    h = await run({"tag": "script", "ret": "text", "as": "multi"})
    assert h.outputs("h") == []
    h = await run({"tag": "script", "ret": "text"})
    assert h.payloads("h") == [[""]]


async def test_text_leaves_out_script_and_style_but_keeps_descendants():
    doc = "<div>a<b>b</b><script>s</script><style>y</style><!-- c -->c<br>d</div>"
    h = await run({"tag": "div", "ret": "text"}, payload=doc)
    assert h.payloads("h") == [["abcd"]]


async def test_no_match_gives_an_empty_array_or_no_message():
    assert (await run({"tag": "table"})).payloads("h") == [[]]
    assert (await run({"tag": "table", "as": "multi"})).outputs("h") == []


async def test_msg_select_is_used_only_when_the_node_has_no_selector():
    assert (await run({"tag": "", "ret": "text"}, select="p i")).payloads("h") == [["it"]]
    assert (await run({"tag": "p", "ret": "text"}, select="li")).payloads("h") == [["text it"]]
    assert (await run({"tag": "", "ret": "text"})).payloads("h") == [[]]
    assert (await run({"tag": "", "ret": "text"}, select=None)).payloads("h") == [[]]


async def test_output_property_and_content_key():
    h = await run({"tag": "#l", "ret": "compl", "outproperty": "out", "chr": "content"})
    (out,) = h.outputs("h")
    assert out["payload"] == DOC
    assert out["out"] == [{"content": '<li class="Item" data-n="1">Apple</li>'
                           '<li class="Item">  </li><li class="Item"><b>Or&amp;ange</b> é</li>',
                           "id": "l"}]


async def test_input_property_and_nested_output():
    h = await run({"property": "data.page", "outproperty": "data.found", "ret": "text"},
                  data={"page": "<li>x</li>"})
    assert h.outputs("h")[0]["data"] == {"page": "<li>x</li>", "found": ["x"]}


async def test_missing_property_passes_through():
    h = await run({"property": "nothing"}, topic="t")
    assert h.payloads("h") == [DOC]


async def test_buffer_input_is_read_as_utf8():
    h = await run({"ret": "text"}, payload="<li>é</li>".encode())
    assert h.payloads("h") == [["é"]]


async def test_bad_selector_is_an_error_naming_it():
    h = await run({"tag": "li["}, topic="t")
    assert h.outputs("h") == []
    (caught,) = h.outputs("c")
    assert caught["topic"] == "t" and caught["error"]["source"]["id"] == "h"
    assert 'Invalid CSS selector "li["' in caught["error"]["message"]


@pytest.mark.parametrize(("payload", "select_", "text"), [
    (5, None, "msg.payload must be an HTML string or a Buffer, not int"),
    ({"a": 1}, None, "msg.payload must be an HTML string or a Buffer, not dict"),
    (DOC, 7, "msg.select must be a string CSS selector, not int"),
])
async def test_wrong_input_types_are_errors(payload, select_, text):
    extra = {} if select_ is None else {"select": select_}
    h = await run({"tag": ""}, payload=payload, **extra)
    assert h.outputs("h") == []
    assert h.outputs("c")[0]["error"]["message"] == text


async def test_bad_config_fails_start():
    with pytest.raises(Exception, match="ret"):
        async with FlowHarness(html_node(ret="value")):
            pass


# ------------------------------------------------------------ cheerio's serialisation
@pytest.mark.parametrize(("doc", "selector", "xml", "html", "text"), [
    # void elements self-close in the xml output, comments and entities kept
    ('<p id=a>Hi <b>there</b><!-- c --><br>&amp; é &lt;&gt;&quot; &nbsp;x'
     '<script>var a=1<2;</script></p>', "p",
     "Hi <b>there</b><!-- c --><br/>&amp; &#xE9; &lt;&gt;&quot; &#xA0;x"
     "<script>var a=1&lt;2;</script>",
     'Hi <b>there</b><!-- c --><br>&amp; é &lt;&gt;" &nbsp;x<script>var a=1<2;</script>',
     'Hi there& é <>" \u00a0x'),
    # svg keeps its case; childless elements self-close only in xml; template content
    ('<div><svg viewBox="0 0 1 1"><clipPath id=c></clipPath><path d="M"/></svg>'
     '<template><i>t</i></template><input value=1><img src=x></div>', "div",
     '<svg viewBox="0 0 1 1"><clipPath id="c"/><path d="M"/></svg><template><i>t</i>'
     '</template><input value="1"/><img src="x"/>',
     '<svg viewBox="0 0 1 1"><clipPath id="c"></clipPath><path d="M"></path></svg>'
     '<template><i>t</i></template><input value="1"><img src="x">', "t"),
    # a row's cells stay cells (Node-RED re-parses; flowrt must not lose the td)
    ("<table><tr><td> a </td></tr></table>", "tr", "<td> a </td>", "<td> a </td>", " a "),
    # trimming: JavaScript's whitespace, but &nbsp; is not whitespace once serialised
    ("<div>\n  <b>x</b>\n  \u2003</div><p>\u00a0é€😀 &copy;</p>", "div, p",
     None, None, None),
    # bogus comments and CDATA become comments, as in the HTML5 algorithm
    ("<p><![CDATA[x]]>a<?php x ?>b</p>", "p", "<!--[CDATA[x]]-->a<!--?php x ?-->b",
     "<!--[CDATA[x]]-->a<!--?php x ?-->b", "ab"),
    # attribute values: encodeXML in xml, &quot; &amp; only in html
    ("<div><i t=\"é&quot;&lt;x&apos;&amp;\">it's</i></div>", "div",
     '<i t="&#xE9;&quot;&lt;x&apos;&amp;">it&apos;s</i>',
     '<i t="é&quot;<x\'&amp;">it\'s</i>', "it's"),
])
def test_serialisation_matches_cheerio(doc, selector, xml, html, text):
    matches = select(doc, selector)
    if xml is None:  # the trimming case, two matches
        assert [m.inner_xml() for m in matches] == ["<b>x</b>",
                                                    "&#xA0;&#xE9;&#x20AC;&#x1F600; &#xA9;"]
        assert [m.trimmed_inner_html() for m in matches] == ["<b>x</b>", "&nbsp;é€😀 ©"]
        return
    (match,) = matches
    assert match.inner_xml() == xml
    assert match.trimmed_inner_html() == html
    assert match.text() == text


def test_html_output_follows_node_reds_reparse():
    # A script's text is parsed as HTML again (entities decoded, then re-encoded).
    (script,) = select('<script> if (a < b && c) { x = "&amp;#x1F600;"; } </script>', "script")
    assert script.inner_xml() == "if (a &lt; b &amp;&amp; c) { x = &quot;&amp;#x1F600;&quot;; }"
    assert script.trimmed_inner_html() == 'if (a < b && c) { x = "&amp;#x1F600;"; }'
    assert script.text() == ""
    # The html element's head and body tags vanish; what they hold stays.
    (root,) = select("<title>T</title><p>x", "html")
    assert root.inner_xml() == "<title>T</title><p>x</p>"
    assert root.trimmed_inner_html() == "<head><title>T</title></head><body><p>x</p></body>"


def test_selector_lists_give_each_element_once_in_document_order():
    doc = "<li>1</li><p>2</p><li>3</li>"
    assert [m.text() for m in select(doc, "p, li, p")] == ["1", "2", "3"]
    assert [m.attributes() for m in select('<a href="/x?a=1&amp;b=2" hidden>l</a>', "a")] \
        == [{"href": "/x?a=1&b=2", "hidden": ""}]


def test_html5_parsing_closes_implied_elements():
    assert [m.inner_xml() for m in select("<ul><li>a<li>b</ul><p>x<p>y", "li, p")] \
        == ["a", "b", "x", "y"]


def test_limits():
    with pytest.raises(HTMLInputTooLarge, match="over the limit"):
        select("a" * (MAX_HTML_CHARS + 1), "p")
    with pytest.raises(HTMLInputTooLarge, match="CSS selector"):
        select("<p>", "p" * 5000)
    with pytest.raises(InvalidSelector, match='"p:foo"'):
        select("<p>", "p:foo")


def test_results_are_bounded():
    # n nested matches repeat each other's content: n² characters out of n in.
    matches = select("<div>" * 300, "div")
    budget = OutputBudget(limit=10_000)
    with pytest.raises(HTMLOutputTooLarge, match="over the limit of 10000"):
        for match in matches:
            match.inner_xml(budget)
    assert sum(len(m.inner_xml()) for m in matches) > 10_000
    with pytest.raises(HTMLOutputTooLarge):
        select("<p>" + "x" * 200 + "</p>", "p")[0].text(OutputBudget(limit=100))


def test_deep_nesting_does_not_recurse():
    depth = 20000
    doc = "<div>" * depth + "x" + "</div>" * depth
    (first, *_rest) = select(doc, "div")
    assert first.text() == "x"
    assert first.inner_xml().count("<div>") == depth - 1


# ------------------------------------------------------------ Node-RED's own examples
def _example(name: str) -> list[dict]:
    (path,) = EXAMPLES.glob(f"parser__html__{name}*.json")
    flow = json.loads(path.read_text())
    return flow


def _inject_id(flow: list[dict]) -> str:
    return next(n["id"] for n in flow if n["type"] == "inject")


async def test_example_01_array_of_elements():
    flow = _example("01")
    async with FlowHarness(flow) as h:
        await h.inject(_inject_id(flow))
        assert h.payloads("599a1155.61a5c") == [["Apple", "Orange", "Banana"]]


async def test_example_02_sequence_of_elements():
    flow = _example("02")
    async with FlowHarness(flow) as h:
        await h.inject(_inject_id(flow))
        outs = h.outputs("cee70712.6f3538")
        assert [o["payload"] for o in outs] == ["Apple", "Orange", "Banana"]
        assert [o["parts"] for o in outs] == [
            {"id": outs[0]["_msgid"], "index": i, "count": 3, "type": "string", "ch": ""}
            for i in range(3)]


async def test_example_03_selector_in_message():
    flow = _example("03")
    async with FlowHarness(flow) as h:
        await h.inject(_inject_id(flow))
        assert h.payloads("9c49de8a.bad25") == [["Apple", "Orange", "Banana"]]


async def test_example_04_join_rebuilds_the_sequence():
    flow = _example("04")
    async with FlowHarness(flow) as h:
        await h.inject(_inject_id(flow))
        assert h.payloads("bd01ca4.966ad38") == ["Apple,Orange,Banana"]


async def test_example_04_with_useparts_written_out():
    flow = _example("04")
    for node in flow:
        if node["type"] == "join":
            node["useparts"] = True
    async with FlowHarness(flow) as h:
        await h.inject(_inject_id(flow))
        assert h.payloads("bd01ca4.966ad38") == ["Apple,Orange,Banana"]


# ------------------------------------------------------------ fuzz
FUZZ_SELECTORS = st.sampled_from(["p", "div > p", "a[href]", "*", "li:nth-child(2n+1)",
                                  "p, li", ":not(p)", "[x~=y]", "p[", ":foo", ">>", ""]) \
    | st.text(max_size=20)
FUZZ_TAGS = st.sampled_from(["p", "div", "li", "ul", "table", "tr", "td", "script", "style",
                             "svg", "template", "textarea", "br", "a", "b", "math", "select"])


@st.composite
def html_fragments(draw):
    """Markup-shaped text: tags, attributes, entities, comments and broken bits."""
    pieces = draw(st.lists(st.one_of(
        FUZZ_TAGS.map(lambda t: f"<{t}>"), FUZZ_TAGS.map(lambda t: f"</{t}>"),
        st.tuples(FUZZ_TAGS, st.text(max_size=6), st.text(max_size=6)).map(
            lambda a: f'<{a[0]} {a[1]}="{a[2]}">'),
        st.sampled_from(["&amp;", "&nbsp;", "&#x1F600;", "&bogus", "<!--", "-->", "<![CDATA[",
                         "<?x", "<", ">", "\x00", "\r\n", "\u2003", '"', "'"]),
        st.text(max_size=10)), max_size=40))
    return "".join(pieces)


@settings(derandomize=True, database=None, deadline=None, max_examples=300,
          suppress_health_check=list(HealthCheck))
@given(doc=st.one_of(html_fragments(), st.text(max_size=200)), selector=FUZZ_SELECTORS,
       ret=st.sampled_from(["html", "text", "attr", "compl"]))
@example(doc="<div>" * 5000, selector="div", ret="html")
@example(doc="<p>x</p>", selector="p >", ret="text")
def test_fuzz_any_input_gives_a_result_or_a_named_error(doc, selector, ret):
    # Memory is bounded by the input limit (the tree) and the output budget (here
    # small, so that the quadratic example stops early); time by both and pytest's
    # timeout. Every failure must be one of the named errors.
    budget = OutputBudget(limit=1_000_000)
    try:
        matches = select(doc, selector)
        for match in matches:
            value = {"html": match.inner_xml, "text": match.text, "attr": match.attributes,
                     "compl": match.trimmed_inner_html}[ret](budget)
            assert isinstance(value, str | dict)
    except HTMLOutputTooLarge:
        assert budget.left < 0
    except HTMLSelectError as exc:
        assert isinstance(exc, InvalidSelector)
        assert f'"{selector}"' in str(exc)
