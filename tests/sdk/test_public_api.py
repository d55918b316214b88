"""The node SDK's public names, pinned: adding or removing one must change this test."""

from __future__ import annotations

import inspect
import types

import flowrt

PUBLIC = {
    "buffering": ["DEFAULT_BUFFER_LIMIT", "buffer_limit", "failure", "new_hold", "release"],
    "clock": ["Clock", "TimerHandle"],
    "context": ["Context", "context_of"],
    "errors": ["ConfigError", "NodeError"],
    "jsregex": ["js_regex", "js_replacer"],
    "jsvalue": ["MISSING", "compare", "is_nan", "iso_timestamp", "js_number", "js_string",
                "loose_equals", "number_value", "parse_float", "parse_int", "truthy",
                "typeof"],
    "messages": ["Message", "clone_message", "clone_value", "delete_property", "field_names",
                 "get_message_property", "get_property", "has_property", "new_msgid",
                 "parse_path", "property_getter", "set_message_property", "set_property",
                 "strip_msg"],
    "node": ["Node"],
    "outbox": ["Batching", "Forwarder", "NotSent", "NotStoredError", "RetryPolicy",
               "retry_policies"],
    "payloads": ["CONVERTERS", "BadPayload", "serialize_payload"],
    "schema": ["as_bool", "as_int", "as_number", "boolean", "enum", "integer", "node_ref",
               "number", "string", "typed"],
    "typed inputs": ["TypedInputError", "TypedValue"],
}


def test_the_public_names_are_exactly_these() -> None:
    expected = sorted(name for names in PUBLIC.values() for name in names)
    assert sorted(flowrt.__all__) == expected
    exported = sorted(name for name, value in vars(flowrt).items()
                      if not name.startswith("_") and not isinstance(value, types.ModuleType))
    assert exported == expected  # nothing importable from flowrt that __all__ leaves out


def test_every_public_function_and_class_is_documented() -> None:
    for name in flowrt.__all__:
        value = getattr(flowrt, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"flowrt.{name} has no docstring"
