"""Checking node configs against their JSON Schemas, loading ``jsonschema`` only when needed.

``jsonschema`` (with ``referencing``, ``rpds`` and the bundled metaschemas) costs about
3 MB of memory once imported, a tenth of an idle runtime. Most configs are valid and
most schemas use a handful of keywords, so this module answers the common case itself:

- :func:`conforms` says True only when an instance certainly satisfies a schema that
  uses keywords it knows (those ``flowrt.schema`` builds, and a few more). False means
  "not certain": the caller asks ``jsonschema``, which finds every error and words it.
- :func:`schema_is_sound` says True only when a schema is certainly a valid draft
  2020-12 schema made of those keywords; otherwise ``jsonschema`` checks it.

Both are one-sided: they never answer yes where ``jsonschema`` would say no
(``tests/test_schema_check.py`` compares them on every built-in schema and on the
corpus of real flows). :class:`SchemaValidator` puts the two together behind
``jsonschema``'s ``iter_errors``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_TYPES: dict[str, Any] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "number": lambda v: type(v) in (int, float),
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
}

# Keywords that only annotate (they never make an instance invalid), with the kind of
# value the metaschema allows each; "$schema" and "$id" are left to jsonschema.
_ANNOTATIONS: dict[str, tuple[type, ...]] = {
    "title": (str,), "description": (str,), "$comment": (str,), "format": (str,),
    "deprecated": (bool,), "readOnly": (bool,), "writeOnly": (bool,), "examples": (list,),
    "default": (object,)}
# Every keyword of draft 2020-12 that can make an instance invalid; those not handled
# below leave the answer to jsonschema. (Keywords outside the vocabulary are ignored by
# jsonschema, so they are ignored here too: flowrt's own ``x-kind`` and the like.)
_ASSERTIONS = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
    "required", "dependentRequired", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "dependentSchemas", "prefixItems", "items", "contains", "properties",
    "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties", "$ref", "$dynamicRef", "$defs", "$anchor", "$dynamicAnchor",
    "$vocabulary", "contentEncoding", "contentMediaType", "contentSchema", "$schema", "$id",
})
_HANDLED = frozenset({"type", "enum", "const", "maximum", "exclusiveMaximum", "minimum",
                      "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
                      "minItems", "uniqueItems", "required", "allOf", "anyOf", "items",
                      "properties", "additionalProperties"})
_NUMBER_BOUNDS = ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum")
_COUNTS = ("maxLength", "minLength", "maxItems", "minItems")


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _scalar_equal(value: Any, candidate: Any) -> bool | None:
    """JSON equality of scalars (True is not 1); None when either is not a scalar."""
    if isinstance(value, dict | list) or isinstance(candidate, dict | list):
        return None
    if type(value) is bool or type(candidate) is bool:
        return type(value) is type(candidate) and value == candidate
    if _is_number(value) and _is_number(candidate):
        return bool(value == candidate)
    return type(value) is type(candidate) and value == candidate


def conforms(schema: Any, instance: Any) -> bool:
    """True when ``instance`` certainly satisfies ``schema``; False when not certain."""
    if schema is True:
        return True
    if type(schema) is not dict:
        return False
    for keyword, value in schema.items():
        if keyword in _HANDLED:
            if not _satisfies(keyword, value, schema, instance):
                return False
        elif keyword in _ASSERTIONS:
            return False
    return True


def _satisfies(keyword: str, value: Any, schema: dict[str, Any], instance: Any) -> bool:
    if keyword == "type":
        names = value if isinstance(value, list) else [value]
        return any(name in _TYPES and _TYPES[name](instance) for name in names)
    if keyword in ("enum", "const"):
        candidates = value if keyword == "enum" else [value]
        return isinstance(candidates, list) and any(
            _scalar_equal(instance, candidate) for candidate in candidates)
    if keyword in _NUMBER_BOUNDS:
        if not _is_number(instance):
            return True
        if not _is_number(value):
            return False
        return bool(instance <= value if keyword == "maximum" else
                    instance < value if keyword == "exclusiveMaximum" else
                    instance >= value if keyword == "minimum" else instance > value)
    if keyword in _COUNTS:
        counted = str if keyword.endswith("Length") else list
        if type(instance) is not counted:
            return True
        return type(value) is int and (len(instance) <= value if keyword.startswith("max")
                                       else len(instance) >= value)
    if keyword == "pattern":
        if type(instance) is not str:
            return True
        try:
            return _pattern(value).search(instance) is not None
        except (re.error, TypeError):
            return False
    if keyword == "uniqueItems":
        if value is False or type(instance) is not list:
            return True
        return value is True and all(_scalar_equal(item, other) is False
                   for index, item in enumerate(instance) for other in instance[index + 1:])
    if keyword == "required":
        return type(instance) is not dict or (
            isinstance(value, list) and all(key in instance for key in value))
    if keyword == "anyOf":
        return isinstance(value, list) and any(conforms(sub, instance) for sub in value)
    if keyword == "allOf":
        return isinstance(value, list) and all(conforms(sub, instance) for sub in value)
    if keyword == "items":
        return type(instance) is not list or all(conforms(value, item) for item in instance)
    if keyword == "properties":
        if type(instance) is not dict:
            return True
        return type(value) is dict and all(conforms(sub, instance[key])
                                           for key, sub in value.items() if key in instance)
    # additionalProperties: keys other than those of "properties" (patternProperties
    # would also exempt keys: not handled, so such a schema never gets here as certain).
    if type(instance) is not dict:
        return True
    if "patternProperties" in schema:
        return False
    known = schema.get("properties", {})
    return all(conforms(value, item) for key, item in instance.items() if key not in known)


def schema_is_sound(schema: Any) -> bool:
    """True when ``schema`` is certainly a valid draft 2020-12 schema (of the keywords
    handled here); False when not certain (``jsonschema`` then checks it)."""
    if type(schema) is bool:
        return True
    if type(schema) is not dict:
        return False
    for keyword, value in schema.items():
        if keyword in _HANDLED:
            if not _sound_keyword(keyword, value):
                return False
        elif keyword in _ASSERTIONS or (keyword in _ANNOTATIONS
                                        and not isinstance(value, _ANNOTATIONS[keyword])):
            return False
    return True


def _sound_keyword(keyword: str, value: Any) -> bool:
    if keyword == "type":
        names = value if isinstance(value, list) else [value]
        return bool(names) and all(name in _TYPES for name in names) and \
            len(set(names)) == len(names)
    if keyword == "enum":
        return isinstance(value, list)
    if keyword == "const":
        return True
    if keyword == "uniqueItems":
        return type(value) is bool
    if keyword in _NUMBER_BOUNDS:
        return _is_number(value)
    if keyword in _COUNTS:
        return type(value) is int and value >= 0
    if keyword == "pattern":
        if type(value) is not str:
            return False
        try:
            _pattern(value)
        except re.error:
            return False
        return True
    if keyword == "required":
        return (isinstance(value, list) and all(type(key) is str for key in value)
                and len(set(value)) == len(value))
    if keyword in ("anyOf", "allOf"):
        return isinstance(value, list) and bool(value) and all(map(schema_is_sound, value))
    if keyword == "properties":
        return type(value) is dict and all(map(schema_is_sound, value.values()))
    return schema_is_sound(value)  # items, additionalProperties


class SchemaValidator:
    """``jsonschema``'s ``iter_errors`` for one schema, that first tries :func:`conforms`."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._full: Draft202012Validator | None = None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """Every way ``instance`` fails the schema (none, without jsonschema, when it
        plainly conforms)."""
        if conforms(self.schema, instance):
            return iter(())
        if self._full is None:
            from jsonschema import Draft202012Validator

            self._full = Draft202012Validator(self.schema)
        return self._full.iter_errors(instance)


def check_schema(schema: Any) -> str | None:
    """None when ``schema`` is a valid draft 2020-12 schema, else jsonschema's reason."""
    if schema_is_sound(schema):
        return None
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None
