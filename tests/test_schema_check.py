"""flowrt.schema_check never says "valid" where jsonschema would not.

It answers the common case without loading jsonschema (about 3 MB at start); jsonschema
stays the authority for every error. Checked here on hand-made edge cases, on every
built-in schema with values of every JSON kind in every property, and on every node of
the corpus of real flows.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from flowrt.flowdoc import DOCUMENT_SCHEMA
from flowrt.registry import discover
from flowrt.schema_check import SchemaValidator, check_schema, conforms, schema_is_sound
from tests.compat import corpus

REGISTRY = discover()
SCHEMAS = {name: entry.cls.schema for name, entry in sorted(REGISTRY.types.items())}
KINDS: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, math.nan, "", "x", "1", "true",
                    [], ["a"], [1, 1], {}, {"a": 1}]


def jsonschema_valid(schema: Any, instance: Any) -> bool:
    return not list(Draft202012Validator(schema).iter_errors(instance))


@pytest.mark.parametrize(("schema", "instance"), [
    ({"enum": [0, 1]}, False),             # JSON: false is not 0
    ({"enum": [True]}, 1),
    ({"const": 1}, 1.0),                   # but 1.0 is 1
    ({"type": "integer"}, 1.0),
    ({"type": "integer"}, 1.5),
    ({"type": "integer"}, True),
    ({"type": "number"}, False),
    ({"type": ["string", "null"]}, None),
    ({"type": "object", "required": ["a"]}, {"b": 1}),
    ({"properties": {"a": {"type": "string"}}}, {"a": 1}),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}),
    ({"additionalProperties": {"type": "string"}}, {"b": "x", "c": 2}),
    ({"patternProperties": {"^x": {}}, "additionalProperties": False}, {"xa": 1}),
    ({"pattern": "^[0-9]+$"}, "12a"),
    ({"pattern": "^[0-9]+$"}, 12),         # pattern applies to strings only
    ({"minimum": 0}, -0.5),
    ({"exclusiveMaximum": 1}, 1),
    ({"minimum": 0}, "-1"),
    ({"maxLength": 2}, "abc"),
    ({"minItems": 1}, []),
    ({"uniqueItems": True}, [1, 1.0]),
    ({"uniqueItems": True}, [1, True]),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1}]),
    ({"items": {"type": "string"}}, ["a", 1]),
    ({"anyOf": [{"type": "string"}, {"enum": [0, False]}]}, 0),
    ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, 3),
    ({"not": {"type": "string"}}, 1),      # a keyword left to jsonschema
    ({"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}, 1),
    ({"enum": [math.nan]}, math.nan),
    ({"x-kind": "typed", "title": "Free"}, {"anything": True}),
    (True, 1),
])
def test_edge_cases_agree_with_jsonschema(schema: Any, instance: Any) -> None:
    if conforms(schema, instance):
        assert jsonschema_valid(schema, instance)


def test_the_common_case_is_answered_without_jsonschema() -> None:
    assert conforms({"type": "object", "properties": {"a": {"enum": ["x", "y"]}},
                     "required": ["a"]}, {"a": "y", "b": [1]})
    assert conforms({"anyOf": [{"type": "string"}, {"type": "null"}]}, None)
    assert not conforms({"type": "string"}, 1)


@pytest.mark.parametrize("node_type", SCHEMAS)
def test_every_built_in_schema_is_checked_without_jsonschema(node_type: str) -> None:
    schema = SCHEMAS[node_type]
    assert schema_is_sound(schema), f"{node_type}: a keyword schema_check does not handle"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("node_type", SCHEMAS)
def test_values_of_every_kind_in_every_property_agree(node_type: str) -> None:
    schema = SCHEMAS[node_type]
    properties = [*schema.get("properties", {}), "unknown-key"]
    for key, value in itertools.product(properties, KINDS):
        instance = {"id": "n1", "type": node_type, key: value}
        if conforms(schema, instance):
            assert jsonschema_valid(schema, instance), (node_type, key, value)


def test_every_node_of_the_corpus_agrees_and_most_are_answered_quickly() -> None:
    answered = checked = 0
    document = SchemaValidator(DOCUMENT_SCHEMA["items"])
    for path in corpus.flow_files():
        for node in corpus.load_nodes(path):
            schemas = [DOCUMENT_SCHEMA["items"]]
            if isinstance(node, dict) and node.get("type") in SCHEMAS:
                schemas.append(SCHEMAS[node["type"]])
            for schema in schemas:
                valid = jsonschema_valid(schema, node)
                quick = conforms(schema, node)
                assert valid or not quick, (corpus.file_key(path), node.get("id"))
                checked += 1
                answered += quick
            assert (not list(document.iter_errors(node))) == jsonschema_valid(
                DOCUMENT_SCHEMA["items"], node)
    assert checked > 5000
    assert answered / checked > 0.95, f"only {answered} of {checked} answered without jsonschema"


@pytest.mark.parametrize("schema", [
    {"type": "strnig"}, {"type": []}, {"type": ["string", "string"]}, {"enum": "a"},
    {"required": ["a", "a"]}, {"required": "a"}, {"minimum": "0"}, {"maxLength": -1},
    {"pattern": "("}, {"anyOf": []}, {"properties": {"a": 1}}, {"items": 3},
    {"title": 3}, {"examples": "a"}, {"uniqueItems": "yes"},
])
def test_bad_schemas_are_refused_with_jsonschemas_reason(schema: dict[str, Any]) -> None:
    assert not schema_is_sound(schema)
    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema(schema)
    assert check_schema(schema) is not None


def test_a_sound_schema_needs_no_check_and_unknown_keywords_are_allowed() -> None:
    assert check_schema({"type": "object", "x-kind": {"any": "thing"}}) is None
    assert check_schema({"not": {"type": "string"}}) is None  # checked by jsonschema
