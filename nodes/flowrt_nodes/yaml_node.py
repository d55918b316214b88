"""yaml: converts between a YAML string and the value it describes (js-yaml's YAML 1.2)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from flowrt.jsvalue import MISSING
from flowrt.messages import Message, get_message_property, set_message_property
from flowrt.node import Node
from flowrt.schema import string


class Yaml(Node):
    """Converts between a YAML string and the value it describes, in either direction.

    A **string** at `property` (default `payload`) is read as one YAML document (YAML
    1.2, as Node-RED's js-yaml reads it): `yes`, `on` and `y` stay strings, `007` is the
    number 7, an unquoted date such as `2001-12-14` becomes a date (written out as
    `2001-12-14T00:00:00.000Z`). An empty document removes the property, as Node-RED's
    `undefined` does. An **object** or array (or `null`) is written as YAML in block
    style, indented by two, keys in order; a string that would read back as something
    else is quoted (`'007'`, `'yes'`).

    Only safe loading is done: no tags that build programming-language objects. YAML
    that cannot be read is reported as this message's error with the reason and where
    (`duplicated mapping key (2:1)`), and nothing is sent; a Buffer (bytes) logs
    "Ignored non-object payload", another type (a number, a boolean) "Ignored unsupported
    payload type". A message without the property passes unchanged.

    **Safe with untrusted YAML:** input up to 10 million characters, nesting up to 256
    levels, and at most a million values once aliases are expanded (so an alias "billion
    laughs" is refused); a recursive alias is refused.

    **Differences from Node-RED:** error texts give js-yaml's `reason (line:column)`
    form but libyaml's reasons (`did not find expected key (3:1)` where js-yaml says
    `end of the stream or a document separator is expected (3:1)`), without js-yaml's
    source excerpt; a string with trailing spaces on a line is double-quoted where
    js-yaml writes a literal block; a string longer than a
    line is folded (`>-`) at slightly different places than js-yaml folds it (it reads
    back the same).
    """

    type = "yaml"
    category = "parser"
    color = "#DEBD5C"
    icon = "parser-yaml"
    editor: ClassVar = {"label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "property": string("payload", title="Property"),
        "name": string("", title="Name"),
    }}

    async def start(self) -> None:
        self._property = str(self.config.get("property") or "payload")

    def on_input(self, msg: Message) -> None:
        value = get_message_property(msg, self._property, MISSING)
        if value is MISSING:
            self.send(msg)
            return
        # Imported here: the YAML library is loaded only by flows that use it.
        from flowrt.yaml_codec import YAMLCodecError, dump, load_document

        if isinstance(value, str):
            try:
                result = load_document(value)
            except YAMLCodecError as exc:
                self.error(str(exc), msg)
                return
        elif isinstance(value, bytes | bytearray):
            self.warn("Ignored non-object payload")
            return
        elif isinstance(value, dict | list | datetime) or value is None:
            try:
                result = dump(value)
            except YAMLCodecError:
                self.error("Failed to convert payload", msg)
                return
        else:
            self.warn("Ignored unsupported payload type")
            return
        set_message_property(msg, self._property, result)
        self.send(msg)
