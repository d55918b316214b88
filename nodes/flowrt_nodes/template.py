"""template: sets a property from a Mustache template (Node-RED's ``80-template.js``)."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from flowrt.jsvalue import MISSING, typeof
from flowrt.messages import Message, set_message_property
from flowrt.node import Node, NodeContext
from flowrt.schema import enum, string, typed
from flowrt.typed_input import context_of, parse_context_key

if TYPE_CHECKING:
    from flowrt.mustache import MustacheTemplate

# Node-RED's parseContext: `flow.x`, `global.x`, `flow[store].x`, `global[store].x`.
_CONTEXT_TAG = re.compile(r"^(flow|global)(?:\[(\w+)\])?\.(.+)", re.S)
_ENV_TAG = re.compile(r"^env\.(.+)", re.S)
_MSG_TEMPLATES_KEPT = 16


class Template(Node):
    """Sets a message property (or a flow/global context value) from a template.

    With `syntax` **mustache**, the `template` is rendered with the message as its view:
    `{{payload.name}}` inserts `msg.payload.name` HTML-escaped (`& < > " ' / ` =`, so a
    topic `a/b` reads `a&#x2F;b`), `{{{payload}}}` and `{{&payload}}` insert it as is,
    `{{#items}}...{{/items}}` repeats over an array (or shows when a value is truthy) and
    `{{^items}}...{{/items}}` shows when it is empty or false. `{{flow.x}}` and
    `{{global.x}}` read context (`{{flow[store].x}}` names a context store) and
    `{{env.NAME}}` an environment variable; a message property of the same name wins.
    `{{=[[ ]]=}}` at the top changes the delimiters. With `syntax` **plain** the text is
    used as it is.

    `output` **str** sets the text; **json** parses it as JSON (strings from the message
    then also have `\\`, newlines and tabs escaped so they fit in a JSON string) and
    **yaml** as YAML. Text that does not parse is that message's error (catch nodes get
    it) and nothing is sent.

    The result goes to the property named by `field` (default `payload`) of the message,
    or with `fieldType` **flow** or **global** to that context key (the message is then
    sent unchanged). When `template` is empty, `msg.template` is used instead. `format`
    only chooses the editor's highlighting.

    A template that does not parse (`Unclosed tag at 11`, `Unclosed section "a" at 7`,
    or any partial `{{> name}}`, which Node-RED's node cannot handle) is each message's
    error, with Node-RED's text.

    Differences from Node-RED: YAML timestamps become Python datetimes (Node-RED: Date);
    JSON errors read as Python's parser words them (`template output is not valid JSON:
    unexpected end of data: line 1 column 9 (char 8)`, where Node-RED says `Expected ','
    or '}' after property value in JSON at position 8`), YAML errors as PyYAML's with
    js-yaml's `(line:column)`; in a template that changes its delimiters, error
    positions and whitespace around odd delimiter changes can differ.
    """

    type = "template"
    category = "function"
    color = "rgb(243, 181, 103)"
    icon = "template"
    editor: ClassVar = {"label": "name", "order": ["field", "template", "format", "syntax",
                                                   "output"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "field": typed("payload", types=["msg", "flow", "global"], title="Property"),
        "fieldType": enum(["msg", "flow", "global"], "msg", title="Property", labels={
            "msg": "msg.", "flow": "flow.", "global": "global."}),
        # Editor-only (the highlighting mode): any value is kept as it is.
        "format": string("handlebars", title="Syntax Highlight",
                         examples=["handlebars", "html", "json", "javascript", "css",
                                   "markdown", "php", "python", "sql", "yaml", "text"]),
        "syntax": enum(["mustache", "plain"], "mustache", title="Format", labels={
            "mustache": "Mustache template", "plain": "Plain text"}),
        "template": string("This is the payload: {{payload}} !", title="Template",
                           **{"x-format": "handlebars", "x-format-by": "format"}),
        "output": enum(["str", "json", "yaml"], "str", title="Output as", labels={
            "str": "Plain text", "json": "Parsed JSON", "yaml": "Parsed YAML"}),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._field = str(config.get("field") or "payload")
        self._field_type = config.get("fieldType") or "msg"
        if self._field_type not in ("msg", "flow", "global"):
            raise ValueError(f"template fieldType {self._field_type!r}: "
                             "choose 'msg', 'flow' or 'global'")
        self._output = config.get("output") or "str"
        self._mustache = (config.get("syntax") or "mustache") == "mustache"
        raw = config.get("template")
        self._text: Any = raw
        self._compiled: MustacheTemplate | None = None
        self._reads: list[tuple[str, str, str | None, str]] = []
        # A template that does not parse is each message's error, as in Node-RED (which
        # parses per message), so catch nodes see it.
        self._bad: str | None = None
        if self._mustache and isinstance(raw, str) and raw != "":
            try:
                self._compiled = self._compile(raw)
                self._reads = _context_reads(self._compiled)
            except ValueError as exc:  # a MustacheError
                self._bad = str(exc)
        # Templates arriving in msg.template: a few parsed ones are kept.
        self._from_msg: OrderedDict[str, tuple[MustacheTemplate, list[Any]]] = OrderedDict()

    @staticmethod
    def _compile(text: str) -> MustacheTemplate:
        # Imported here: the Mustache library is loaded only by flows that use it.
        from flowrt.mustache import MustacheError, MustacheTemplate

        compiled = MustacheTemplate(text)
        if compiled.partials:
            # Node-RED's template node fails on any partial while it collects the tag
            # names (a partial token has no child list); this is its error text.
            raise MustacheError("tokens.forEach is not a function")
        return compiled

    def on_input(self, msg: Message) -> None:
        text = self._text
        compiled, reads = self._compiled, self._reads
        if (text == "" or text is None) and "template" in msg:
            text = msg["template"]
            compiled = None
        try:
            if self._bad is not None:  # (set only for a non-empty template of the node's)
                raise ValueError(self._bad)
            if not self._mustache:
                value: Any = text
            else:
                if compiled is None:
                    compiled, reads = self._message_template(text)
                value = compiled.render(msg, self._read_context(reads),
                                        json_escape=self._output == "json")
            value = self._parse(value)
        except ValueError as exc:  # MustacheError is one
            self.error(str(exc), msg)
            return
        if self._field_type == "msg":
            set_message_property(msg, self._field, value)
        else:
            store, key = parse_context_key(self._field)
            context_of(self, self._field_type).set(key, value, store)
        self.send(msg)

    def _message_template(self, text: Any) -> tuple[MustacheTemplate, list[Any]]:
        if not isinstance(text, str):
            kind = "array" if isinstance(text, list) else typeof(
                None if text is MISSING else text)
            raise ValueError(f'Invalid template! Template should be a "string" but '
                                f'"{kind}" was given as the first argument for '
                                "mustache#render(template, view, partials)")
        kept = self._from_msg.get(text)
        if kept is None:
            compiled = self._compile(text)
            kept = (compiled, _context_reads(compiled))
            self._from_msg[text] = kept
            if len(self._from_msg) > _MSG_TEMPLATES_KEPT:
                self._from_msg.popitem(last=False)
        else:
            self._from_msg.move_to_end(text)
        return kept

    def _read_context(self, reads: list[tuple[str, str, str | None, str]]) -> dict[str, Any]:
        """The env/flow/global values the template names, read before rendering."""
        found: dict[str, Any] = {}
        for tag, scope, store, key in reads:
            if scope == "env":
                found[tag] = self.env(key)
            else:
                found[tag] = context_of(self, scope).get(key, store)
        return found

    def _parse(self, text: Any) -> Any:
        if self._output == "json":
            try:
                return orjson.loads(text)
            except (orjson.JSONDecodeError, TypeError) as exc:
                raise ValueError(f"template output is not valid JSON: {exc}") from None
        if self._output == "yaml":
            # Imported here: the YAML library is loaded only by flows that use it.
            from flowrt.yaml_codec import YAMLCodecError, load

            if not isinstance(text, str):
                raise ValueError("template output is not valid YAML: "
                                 f"{typeof(text)} given, text expected")
            try:
                return load(text)
            except YAMLCodecError as exc:
                raise ValueError(f"template output is not valid YAML: {exc}") from None
        return text


def _context_reads(template: MustacheTemplate) -> list[tuple[str, str, str | None, str]]:
    """(tag, "env"/"flow"/"global", store, key) for each context tag of ``template``."""
    reads: list[tuple[str, str, str | None, str]] = []
    for name in sorted(template.names):
        env = _ENV_TAG.match(name)
        if env:
            reads.append((name, "env", None, env.group(1)))
            continue
        context = _CONTEXT_TAG.match(name)
        if context:
            reads.append((name, context.group(1), context.group(2), context.group(3)))
    return reads
