"""Every node type documents itself: help text and a valid schema with defaults."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from flowrt.registry import discover

REGISTRY = discover()


def test_no_builtin_plugin_failed_to_load():
    assert [str(e) for e in REGISTRY.errors if e.origin == "built-in"] == []


@pytest.mark.parametrize("node_type", sorted(REGISTRY.types))
def test_node_type_has_help_and_a_valid_schema(node_type):
    cls = REGISTRY.types[node_type].cls
    assert cls.__doc__ and len(cls.__doc__.strip()) > 20, f"{node_type} needs help text"
    Draft202012Validator.check_schema(cls.schema)
    assert cls.schema.get("type") == "object"
    for key, prop in cls.schema.get("properties", {}).items():
        if "x-node-type" in prop:
            continue
        assert "default" in prop, f"{node_type}.{key} has no default"
    described = cls.describe()
    assert described["help"] and described["paletteLabel"]
