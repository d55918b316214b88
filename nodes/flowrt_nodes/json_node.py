"""json: converts between a JSON string and the value it encodes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

import orjson

from flowrt.jsvalue import MISSING, json_default
from flowrt.messages import Message, get_message_property, set_message_property
from flowrt.node import Node
from flowrt.schema import as_bool, boolean, enum, string


def to_json(value: Any, pretty: bool = False) -> str:
    """``JSON.stringify(value, null, pretty ? 4 : 0)``."""
    if pretty:
        return json.dumps(value, indent=4, ensure_ascii=False, default=json_default)
    return orjson.dumps(value, default=json_default,
                        option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


class Json(Node):
    """Converts between a JSON string and the value it encodes.

    `action` `""` converts either way (a string or bytes is parsed, anything else is
    serialised), `"str"` always produces a string, `"obj"` always produces a value.
    `property` (default `payload`) is the message property converted; `pretty` indents
    the JSON by four spaces. A message without the property passes unchanged.

    When the message carries `msg.schema` (a JSON Schema), the value is validated against
    it: a valid message is sent without `msg.schema`; an invalid one gets
    `msg.schemaError` (the list of problems) and is reported as the node's error.
    A string that is not valid JSON is reported as the node's error for that message
    (catch nodes receive it) and nothing is sent.
    """

    type = "json"
    category = "parser"
    color = "#DEBD5C"
    icon = "parser-json"
    editor: ClassVar = {"label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "action": enum(["", "str", "obj"], "", title="Action", labels={
            "": "Convert between JSON String & Object",
            "str": "Always convert to JSON String",
            "obj": "Always convert to JavaScript Object"}),
        "property": string("payload", title="Property (msg.)"),
        "pretty": boolean(False, title="Format JSON string (object to JSON)"),
    }}

    async def start(self) -> None:
        self._action = self.config.get("action") or ""
        self._property = str(self.config.get("property") or "payload")
        self._pretty = as_bool(self.config.get("pretty"))
        self._schema_key: bytes | None = None
        self._validator: Any = None

    def on_input(self, msg: Message) -> None:
        validator = self._schema_validator(msg) if "schema" in msg else None
        if validator is False:
            return
        value = get_message_property(msg, self._property, MISSING)
        if value is MISSING:
            self.send(msg)
            return
        if isinstance(value, str | bytes | bytearray):
            if self._action == "str":
                checked = value
            else:
                try:
                    checked = orjson.loads(value)
                except orjson.JSONDecodeError as exc:
                    self.error(f"{exc}", msg)
                    return
                set_message_property(msg, self._property, checked)
            if validator is not None and not self._valid(validator, orjson.loads(value)
                                                         if self._action == "str" else checked,
                                                         msg):
                return
        elif value is None or isinstance(value, dict | list | tuple | bool | int | float
                                         | datetime):  # a Date is an object too
            if validator is not None and not self._valid(validator, value, msg):
                return
            if self._action != "obj":
                try:
                    set_message_property(msg, self._property, to_json(value, self._pretty))
                except (TypeError, ValueError):
                    self.error("Failed to convert payload", msg)
                    return
        else:
            self.warn("Ignored unsupported payload type")
            return
        msg.pop("schema", None)
        self.send(msg)

    def _schema_validator(self, msg: Message) -> Any:
        """The validator for ``msg.schema`` (compiled once per distinct schema), or False."""
        from jsonschema import validators  # imported here: only schema users need it

        schema = msg["schema"]
        try:
            key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            key = None
        if key is None or key != self._schema_key:
            try:
                cls = validators.validator_for(schema)
                cls.check_schema(schema)
                self._validator, self._schema_key = cls(schema), key
            except Exception:
                self._validator = self._schema_key = None
                self.error("JSON Schema error: failed to compile schema", msg)
                return False
        return self._validator

    def _valid(self, validator: Any, value: Any, msg: Message) -> bool:
        errors = [{"keyword": e.validator, "instancePath": "/" + "/".join(map(str, e.path))
                   if e.path else "", "message": e.message}
                  for e in validator.iter_errors(value)]
        if not errors:
            return True
        msg["schemaError"] = errors
        self.error("JSON Schema error: " + ", ".join(
            f"data{e['instancePath'].replace('/', '.')} {e['message']}" for e in errors), msg)
        return False
