"""template: Node-RED's spec scenarios (80-template_spec.js), mustache.js's rendering as
Node-RED 4.1.15 gives it (every expected value below was read from a running Node-RED),
JSON/YAML output, context targets, errors and Node-RED's own example flows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrt.mustache import MustacheError, MustacheTemplate
from flowrt.testing import FlowHarness
from flowrt.yaml_codec import YAMLCodecError, load

EXAMPLES = Path(__file__).parents[1] / "compat" / "flows" / "nodered-examples"
TAB = {"id": "t1", "type": "tab", "label": "T",
       "env": [{"name": "TPL_VAR", "value": "tab-env", "type": "str"}]}
STORES = {"contextStorage": {"default": {"module": "memory"},
                             "memory1": {"module": "memory"},
                             "memory2": {"module": "memory"}}}


def template(**config):
    node = {"id": "n1", "type": "template", "z": "t1", "x": 0, "y": 0, "wires": [[]],
            "name": "", "field": "payload", "fieldType": "msg", "format": "handlebars",
            "syntax": "mustache", "output": "str", **config}
    catch = {"id": "c", "type": "catch", "z": "t1", "x": 0, "y": 0, "scope": None,
             "uncaught": False, "wires": [[]]}
    return [TAB, node, catch]


async def render(msg, settings=None, **config):
    """The payload the template node sends for ``msg`` (or the error it reports)."""
    async with FlowHarness(template(**config), settings=settings) as h:
        await h.inject("n1", **msg)
        if h.outputs("c"):
            return ("error", h.outputs("c")[0]["error"]["message"])
        return h.payloads("n1")[0]


# ------------------------------------------------------------ Node-RED's spec
async def test_node_template_wins_over_msg_template():
    async with FlowHarness(template(template="payload={{payload}}")) as h:
        await h.inject("n1", payload="foo", topic="bar", template="ignored {{payload}}")
        out = h.outputs("n1")[0]
        assert (out["payload"], out["topic"], out["template"]) == (
            "payload=foo", "bar", "ignored {{payload}}")


async def test_empty_template_uses_msg_template_per_message():
    async with FlowHarness(template(template="", field="randomProperty")) as h:
        await h.inject("n1", payload="foo", topic="bar", template="payload={{payload}}")
        await h.inject("n1", payload="foo", topic="another bar", template="topic={{topic}}")
        await h.inject("n1", payload="foo", topic="bar", template="topic={{topic}}")
        assert [m["randomProperty"] for m in h.outputs("n1")] == [
            "payload=foo", "topic=another bar", "topic=bar"]
        assert h.outputs("n1")[0]["payload"] == "foo"


async def test_env_flow_and_global_context():
    async with FlowHarness(template(
            template="{{env.TPL_VAR}}|{{env.NOPE}}|{{flow.value}}|{{global.value}}|"
                     "{{flow.nested.x}}|{{flow.shadow}}")) as h:
        h.node("n1").ctx.flow_context.set("value", "fv")
        h.node("n1").ctx.flow_context.set("nested", {"x": "nx"})
        h.node("n1").ctx.global_context.set("value", "gv")
        await h.inject("n1", payload=1, flow={"shadow": "msg wins"})
        assert h.payloads("n1") == ["tab-env||fv|gv|nx|msg wins"]


async def test_context_stores():
    async with FlowHarness(template(
            template="{{flow[memory1].value}}/{{flow[memory2].value}}/{{global[memory1].value}}"
                     "/{{flow.value}}"), settings=STORES) as h:
        node = h.node("n1")
        node.ctx.flow_context.set("value", "f1", "memory1")
        node.ctx.flow_context.set("value", "f2", "memory2")
        node.ctx.global_context.set("value", "g1", "memory1")
        await h.inject("n1", payload=1)
        assert h.payloads("n1") == ["f1/f2/g1/"]


CONDITIONAL = ("{{#flow.time}}time={{flow.time}}{{/flow.time}}{{^flow.time}}!time{{/flow.time}}"
               "{{#flow.random}}random={{flow.random}}randomtime={{flow.randomtime}}"
               "{{/flow.random}}{{^flow.random}}!random{{/flow.random}}")


async def test_sections_over_context_values():
    async with FlowHarness(template(template=CONDITIONAL)) as h:
        await h.inject("n1", payload="foo")
        for key, value in (("time", "123"), ("random", "456"), ("randomtime", "789")):
            h.node("n1").ctx.flow_context.set(key, value)
        await h.inject("n1", payload="foo")
        assert h.payloads("n1") == ["!time!random", "time=123random=456randomtime=789"]


async def test_missing_context_renders_empty():
    assert await render({"payload": 1}, template="payload={{flow.value}},{{global.value}}"
                        ) == "payload=,"


async def test_json_output_escapes_control_characters_of_message_strings():
    text = "line\t1\nline\\2\r\nline\b3\f"
    assert await render({"payload": text}, template='{"data":"{{payload}}"}',
                        output="json") == {"data": text}


async def test_plain_syntax_keeps_the_text():
    assert await render({"payload": "foo"}, template="payload={{payload}}", syntax="plain"
                        ) == "payload={{payload}}"


async def test_writes_flow_and_global_context_and_sends_the_message_unchanged():
    for scope in ("flow", "global"):
        async with FlowHarness(template(template="payload={{payload}}", fieldType=scope,
                                        field="#:(memory1)::result"), settings=STORES) as h:
            await h.inject("n1", payload="foo", topic="bar")
            out = h.outputs("n1")[0]
            assert (out["payload"], out["topic"]) == ("foo", "bar")
            context = getattr(h.node("n1").ctx, f"{scope}_context")
            assert context.get("result", "memory1") == "payload=foo"
            assert context.get("result") is None


async def test_deeper_objects_both_ways():
    async with FlowHarness(template(template="payload={{payload.doh.rei.me}}",
                                    field="topic.foo.bar")) as h:
        await h.inject("n1", payload={"doh": {"rei": {"me": "foo"}}})
        assert h.outputs("n1")[0]["topic"] == {"foo": {"bar": "payload=foo"}}


async def test_block_context_over_a_string():
    assert await render({"payload": {"A": "abc"}},
                        template="A{{#payload.A}}{{payload.A}}{{.}}{{/payload.A}}B") == "AabcabcB"


@pytest.mark.parametrize(("text", "error"), [
    ("payload={{payload", "Unclosed tag at 17"),
    ("{{#a}}x", 'Unclosed section "a" at 7'),
    ("x{{/a}}", 'Unopened section "a" at 1'),
    ("{{#a}}x{{/b}}", 'Unclosed section "a" at 7'),
    ("a{{> foo}}b", "tokens.forEach is not a function"),
    # mustache.js names the innermost open section, at the end of the template
    ("{{^b}}{{#b.c}}{{#c}}x{{a}}", 'Unclosed section "c" at 26'),
    ("{{#a}}{{#b}}{{/a}}", 'Unclosed section "b" at 12'),
    ("{{{a}}x", "Unclosed tag at 7"),
])
async def test_bad_templates_are_each_messages_error(text, error):
    async with FlowHarness(template(template=text)) as h:
        await h.inject("n1", payload="P", topic="t")
        await h.inject("n1", payload="Q", template="not used")
        assert h.payloads("n1") == []
        assert [(m["error"]["message"], m["payload"]) for m in h.outputs("c")] == [
            (error, "P"), (error, "Q")]
    assert await render({"payload": 1, "template": text}, template="") == ("error", error)


async def test_msg_template_of_another_type_is_an_error():
    assert await render({"payload": 1, "template": 5}, template="") == (
        "error", 'Invalid template! Template should be a "string" but "number" was given '
                 "as the first argument for mustache#render(template, view, partials)")


# ------------------------------------------- rendering (checked on Node-RED 4.1.15)
async def test_escaping():
    assert await render({"payload": "a/b=c<d>&\"e'`", "topic": "x/y"},
                        template="{{payload}}|{{{payload}}}|{{&payload}}|{{topic}}") == (
        "a&#x2F;b&#x3D;c&lt;d&gt;&amp;&quot;e&#39;&#x60;|a/b=c<d>&\"e'`|a/b=c<d>&\"e'`|x&#x2F;y")


async def test_values_print_as_javascript_strings():
    assert await render({"n": 1.5, "f": 1e21, "b": True, "nul": None, "arr": [1, None, "a"],
                         "obj": {"a": 1}, "payload": b"hi"},
                        template="{{n}} {{f}} {{b}} {{nul}} {{arr}} {{obj}} {{missing}}."
                                 "{{payload}}") == "1.5 1e+21 true  1,,a [object Object] .hi"


async def test_sections_follow_javascript_truthiness():
    assert await render({"o": {}, "z": 0, "e": [], "s": "str", "t": True, "topic": "tt",
                         "n": float("nan")},
                        template="{{#o}}O{{/o}}{{^o}}noO{{/o}}{{#z}}Z{{/z}}{{^z}}noZ{{/z}}"
                                 "{{#e}}E{{/e}}{{^e}}noE{{/e}}{{#s}}[{{.}}]{{/s}}"
                                 "{{#t}}{{topic}}{{/t}}{{#n}}N{{/n}}{{^n}}noN{{/n}}{{n}}"
                        ) == "OnoZnoE[str]ttnoNNaN"


async def test_dotted_names_search_every_enclosing_context():
    assert await render({"a": {"b": {}}, "b": {"c": "root"}, "s": "hello", "arr": [5, 6]},
                        template="{{#a}}{{b.c}}{{/a}}|{{s.length}}|{{arr.1}}|{{arr.length}}"
                        ) == "root|5|6|2"


async def test_empty_tag_prints_nothing():
    # mustache.js reads `{{ }}` as a variable with no name (pystache alone would not)
    assert await render({"a": "A"}, template="<{{ }}>{{a}}{{}}") == "<>A"


async def test_list_sections_standalone_lines_comments_and_delimiters():
    assert await render({"arr": [1, 2]}, template="list:\n  {{#arr}}\n  - {{.}}\n  {{/arr}}\n"
                        "{{! a comment }}\nend") == "list:\n  - 1\n  - 2\nend"
    assert await render({"payload": "P"}, template="{{=[[ ]]=}}[[payload]] {{payload}}"
                        ) == "P {{payload}}"


async def test_json_output():
    result = await render({"payload": "x\ny\t\\z&\r", "n": 2, "arr": ["p<"]}, output="json",
                          template='{"a":"{{payload}}","n":{{n}},'
                                   '"c":[{{#arr}}"{{.}}",{{/arr}}"end"]}')
    assert result == {"a": "x\ny\t\\z&amp;\r", "n": 2, "c": ["p&lt;", "end"]}


async def test_json_escaping_stops_inside_sections_as_in_node_red():
    result = await render({"arr": ["p\\q"]}, output="json",
                          template='[{{#arr}}"{{.}}"{{/arr}}]')
    assert result[0] == "error"
    assert "not valid JSON" in result[1]


async def test_invalid_json_output_is_the_messages_error():
    async with FlowHarness(template(template='{"a": {{payload}} ', output="json")) as h:
        await h.inject("n1", payload=1, topic="t")
        assert h.payloads("n1") == []
        caught = h.outputs("c")[0]
        assert caught["topic"] == "t" and caught["payload"] == 1
        assert caught["error"]["message"].startswith("template output is not valid JSON: ")
        assert caught["error"]["source"]["id"] == "n1"


async def test_yaml_output_is_yaml_1_2():
    assert await render({"payload": "2024-01-02"}, output="yaml",
                        template="a: yes\nb: 007\nc: 0x1F\nd: 1:20\ne: ~\nf: .5\ng: on\n"
                                 "h: {{payload}}\ni: 0o17\nj: True") == {
        "a": "yes", "b": 7, "c": 31, "d": "1:20", "e": None, "f": 0.5, "g": "on",
        "h": datetime(2024, 1, 2, tzinfo=UTC), "i": 15, "j": True}


async def test_yaml_keys_merges_and_collections_as_js_yaml():
    # Expected values: js-yaml 4 (Node-RED's YAML library) on the same text.
    assert await render({}, output="yaml", syntax="plain", template=(
        "1: a\ntrue: b\nnull: c\n1.5: d\n[1,2]: e\nbase: &b {x: 1, y: 2}\n"
        "m:\n  <<: *b\n  y: 3\ns: !!set {a, b}\no: !!omap [a: 1, b: 2]\n"
        "p: !!pairs [a: 1, a: 2]\nt: 2024-01-02T10:00:00+02:00\nbin: !!binary aGk=")) == {
        "1": "a", "true": "b", "null": "c", "1.5": "d", "1,2": "e",
        "base": {"x": 1, "y": 2}, "m": {"x": 1, "y": 3}, "s": {"a": None, "b": None},
        "o": [{"a": 1}, {"b": 2}], "p": [["a", 1], ["a", 2]],
        "t": datetime(2024, 1, 2, 8, tzinfo=UTC), "bin": b"hi"}


@pytest.mark.parametrize(("text", "error"), [
    ("a: 1\na: 2", "duplicated mapping key (2:1)"),
    ("a: !!python/object:os.system x", "could not determine a constructor for the tag "
                                       "'tag:yaml.org,2002:python/object:os.system' (1:4)"),
    ("a: 1\n---\nb: 2", "expected a single document in the stream, but found more"),
])
async def test_yaml_refusals(text, error):
    assert await render({}, output="yaml", syntax="plain", template=text) == (
        "error", f"template output is not valid YAML: {error}")


async def test_invalid_yaml_output_is_the_messages_error():
    result = await render({"payload": 1}, template="a: [1, 2", output="yaml")
    assert result[0] == "error"
    assert result[1] == ("template output is not valid YAML: did not find expected ',' or "
                         "']' (2:1)")


async def test_yaml_alias_bomb_is_refused():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8))
    result = await render({"payload": 1}, template=bomb, output="yaml", syntax="plain")
    assert result == ("error", "template output is not valid YAML: YAML expands to more than "
                               "1000000 values (aliases nested too deeply)")


async def test_plain_syntax_still_parses_output():
    assert await render({"payload": 1}, template='{"a": [1]}', syntax="plain",
                        output="json") == {"a": [1]}


async def test_editor_default_template():
    flow = [TAB, {"id": "n1", "type": "template", "z": "t1", "wires": [[]]}]
    async with FlowHarness(flow) as h:
        await h.inject("n1", payload="x")
        assert h.payloads("n1") == ["This is the payload: x !"]


# ------------------------------------------------------------------ fuzzing
# Templates and YAML text come from messages (msg.template, rendered values), so any
# text gives a result or a named error, never a crash or a hang.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                suppress_health_check=list(HealthCheck))
TAG_PIECES = st.sampled_from(["{{", "}}", "{{{", "}}}", "{{#", "{{^", "{{/", "{{&", "{{>",
                              "{{!", "{{=", "=}}", "a", "b.c", ".", " ", "\n", "[[", "]]",
                              "<%", "%>", "x"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "b", "c", "x"]), inner, max_size=3), max_leaves=12)


@FUZZ
@given(pieces=st.lists(TAG_PIECES, max_size=30), view=st.dictionaries(
    st.sampled_from(["a", "b", "x", "payload"]), json_values, max_size=4))
def test_fuzz_any_template_renders_or_names_its_error(pieces, view):
    text = "".join(pieces)
    try:
        compiled = MustacheTemplate(text)
    except MustacheError as exc:
        assert str(exc)
        return
    assert isinstance(compiled.render(view, {"flow.x": 1}, json_escape=True), str)


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("ab: -[]{},&*!?|>'\"\n#~0.")),
                    max_size=60))
def test_fuzz_any_yaml_text_loads_or_names_its_error(text):
    try:
        load(text)
    except YAMLCodecError as exc:
        assert str(exc)


@pytest.mark.parametrize("text", ["[" * 50_000, "a:\n" + "  " * 3000 + "b: 1",
                                  "- " * 20_000 + "x"])
def test_deep_yaml_is_a_named_error_or_a_value(text):
    try:
        load(text)
    except YAMLCodecError as exc:
        assert str(exc)


# ------------------------------------------------- Node-RED's example flows
async def run_example(name: str, inject_id: str) -> list:
    flow = json.loads((EXAMPLES / name).read_text())
    templates = [n["id"] for n in flow if n["type"] == "template"]
    async with FlowHarness(flow) as h:
        h.node(inject_id).trigger()
        await h.settle()
        return [h.payloads(t) for t in templates]


async def test_example_mustache_syntax():
    assert await run_example("function__template__01---Use-mustache-syntax.json",
                             "61fbfe34.14a02") == [
        ["# Price List of Fruits\n\n- apple: 100\n- orange: 80\n- banana: 210\n"]]


async def test_example_parse_result_as_json():
    assert await run_example("function__template__02---Parse-result-as-JSON.json",
                             "931f94e8.592cd8") == [[{"key": "message",
                                                      "value": "Hello, World!"}]]


async def test_example_parse_result_as_yaml():
    assert await run_example("function__template__03---Parse-result-as-YAML.json",
                             "8d6be9a2.c3fa58") == [[{"key": "message",
                                                      "value": "Hello, World!"}]]
