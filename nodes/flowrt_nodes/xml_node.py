"""xml: converts between an XML string and its object form (Node-RED's xml2js shape)."""

from __future__ import annotations

from typing import Any, ClassVar

from flowrt.jsvalue import MISSING
from flowrt.messages import Message, get_message_property, set_message_property
from flowrt.node import Node
from flowrt.schema import string


class Xml(Node):
    """Converts between an XML string and its object form, in either direction.

    A **string** at `property` (default `payload`) is parsed into an object the way
    Node-RED's xml node (xml2js) builds it: the root element is the one key; every
    child element is an **array**; attributes sit under `$` and text under `_` (change
    those names with `attr` and `chr`); every value is a **string**; an element with
    only text is that string, an empty element `""`. `<p class="tag">Hello</p>` gives
    `{"p": {"_": "Hello", "$": {"class": "tag"}}}`. Blank text gives `null`.

    An **object** is written as XML: an XML declaration, then the object's single key as
    the root element, or `<root>` around several keys; `$` holds attributes, `_` text,
    an array repeats its element. Without `msg.options` the XML is on one line.

    `msg.options` passes xml2js options, as in Node-RED: for parsing `explicitArray`,
    `explicitRoot`, `explicitCharkey`, `ignoreAttrs`, `mergeAttrs`, `trim`, `normalize`,
    `normalizeTags`, `emptyTag`, `explicitChildren`, `childkey`, `preserveChildrenOrder`,
    `charsAsChildren`, `includeWhiteChars`, `attrkey`, `charkey`; for building
    `rootName`, `renderOpts` (`pretty`, `indent`, `newline`; pretty by default once
    options are given), `xmldec`, `headless`, `cdata`, `attrkey`, `charkey`. As in
    Node-RED, the node adds `async`, `attrkey` and `charkey` to the `msg.options` it used.

    XML that is not well-formed is reported as this message's error (catch nodes get
    it, nothing is sent); another type (a number, a boolean) only logs a warning.
    A message without the property passes unchanged. A Buffer is an object to
    Node-RED too: a non-empty one fails ("Invalid character in name").

    **Safe with untrusted XML:** entity declarations and external references are
    refused (no XXE, no "billion laughs"); input is limited to 10 million characters
    and 512 nested elements.

    **Differences from Node-RED:** a DOCTYPE that declares entities is refused even
    when they are not used; the wording of some syntax errors differs (expat's words
    where sax has no equivalent, e.g. "not well-formed (invalid token)"), though the
    common ones (`Unexpected close tag`, `Unclosed root tag`, `Invalid character
    entity`) and the `Line:`/`Column:` lines read as Node-RED's (sax's `Char:` line
    is not given); tabs and line breaks inside an attribute value become spaces, as
    the XML standard says (sax keeps them); when writing, a text (`_`) that is an
    object or array is an error (xmlbuilder writes odd XML for it); function-valued
    options (processors, validator), `xmlns`, `strict: false` and `doctype` are ignored.
    """

    type = "xml"
    category = "parser"
    color = "#DEBD5C"
    icon = "parser-xml"
    editor: ClassVar = {"label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "property": string("payload", title="Property"),
        "attr": string("", title="Property name for XML tag attributes (default $)"),
        "chr": string("", title="Property name for tag text content (default _)"),
    }}

    async def start(self) -> None:
        self._property = str(self.config.get("property") or "payload")
        self._attrkey = str(self.config.get("attr") or "")
        self._charkey = str(self.config.get("chr") or "")

    def on_input(self, msg: Message) -> None:
        value = get_message_property(msg, self._property, MISSING)
        if value is MISSING:
            self.send(msg)
            return
        given = msg.get("options")
        if isinstance(value, bytes | bytearray):
            # A Buffer is an object to Node-RED: its keys "0", "1"... are no XML names.
            value = {str(index): byte for index, byte in enumerate(value)}
        # Imported here: the XML libraries are loaded only by flows that use them.
        from flowrt.xml_codec import XMLCodecError, build, parse

        if isinstance(value, dict | list) or value is None:
            # typeof null is "object" in Node-RED too: it fails in the builder below.
            options: dict[str, Any] = given if isinstance(given, dict) else {
                "renderOpts": {"pretty": False}}
            options["async"] = False
            try:
                text = build(value, options)
            except XMLCodecError as exc:
                prefix = "TypeError: " if value is None else "Error: "
                self.error(prefix + str(exc), msg)
                return
            set_message_property(msg, self._property, text)
        elif isinstance(value, str):
            options = given if isinstance(given, dict) else {}
            options["async"] = True
            options["attrkey"] = self._attrkey or options.get("attrkey") or "$"
            options["charkey"] = self._charkey or options.get("charkey") or "_"
            try:
                result = parse(value, options)
            except XMLCodecError as exc:
                self.error(f"Error: {exc}", msg)
                return
            set_message_property(msg, self._property, result)
        else:
            self.warn("This node only handles xml strings or js objects.")
            return
        self.send(msg)
