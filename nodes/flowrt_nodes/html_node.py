"""html: extracts elements from an HTML document with a CSS selector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from flowrt.jsvalue import MISSING
from flowrt.messages import (
    Message,
    clone_message,
    get_message_property,
    set_message_property,
)
from flowrt.node import Node
from flowrt.schema import enum, string

if TYPE_CHECKING:
    from flowrt.html_select import Match, OutputBudget


class Html(Node):
    """Extracts elements from an HTML document using a CSS selector.

    The document is read from `property` (default `msg.payload`, a string or a
    Buffer); the elements that `tag` (the selector) matches are written to
    `outproperty` (default: the same property). When `tag` is empty, `msg.select`
    gives the selector. A message without the property passes unchanged.

    **Output** (`ret`):

    - `html`: the element's inner HTML, trimmed, written as XML (as Node-RED's
      cheerio writes it: `<br/>`, `&#xE9;` for `é`);
    - `text`: the text of the element and its descendants, without the contents of
      `script` and `style` elements;
    - `attr`: an object of the element's attributes (`disabled` → `""`);
    - `compl`: the attributes plus the inner HTML (HTML5 serialisation) under the key
      `chr` (default `_`).

    **As** (`as`): `single` sends one message whose property is an array of the
    results (an empty array when nothing matches); `multi` sends one message per
    element, with `msg.parts` (`id`, `index`, `count`, `type: "string"`, `ch: ""`)
    so a `join` node can rebuild the sequence. As in Node-RED, an element whose
    html or text is empty sends no message in `multi` mode (the others keep their
    index and count).

    A selector that cannot be parsed, input that is not a string or Buffer, input
    over 16 Mi characters and results over 32 Mi characters (n nested matches
    repeat each other: n² characters) are reported as the node's error for that message
    (catch nodes receive it); nothing is sent.

    **Differences from Node-RED:** selectors are CSS Selectors Level 4 as the lexbor
    engine implements them; cheerio's jQuery extensions (`:contains()`, `:first`,
    `:eq()`...) and selectors ending in a combinator (`p >`) are errors here, and
    elements inside a `template` are not matched by selectors (they are output as
    part of the template). The error texts are flowrt's (Node-RED passes on
    css-select's). Parsing follows the current HTML standard (lexbor) where Node-RED's
    parse5 follows an older one: markup inside `select` and some broken
    `math`/`svg` nesting can give a different tree. Non-string input is an error,
    where Node-RED gives an empty result for an object and a JavaScript error text
    for other values. Results of one message are limited to 32 Mi characters.
    """

    type = "html"
    category = "parser"
    color = "#DEBD5C"
    icon = "parser-html"
    editor: ClassVar = {"label": "name"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "property": string("payload", title="Input property (msg.)"),
        "outproperty": string("payload", title="Output property (msg.)"),
        "tag": string("", title="Selector (empty: msg.select)"),
        "ret": enum(["html", "text", "attr", "compl"], "html", title="Output", labels={
            "html": "the html content of the elements",
            "text": "only the text content of the elements",
            "attr": "an object of any attributes of the elements",
            "compl": "the attributes and html content of the elements"},
                    description="html: the html content of the elements; text: only "
                    "their text; attr: an object of their attributes; compl: the "
                    "attributes and the html content"),
        "as": enum(["single", "multi"], "single", title="Send", labels={
            "single": "a single message containing an array",
            "multi": "multiple messages, one for each element"},
                   description="single: one message containing an array; multi: one "
                   "message for each element"),
        "chr": string("_", title="Property name for HTML content (compl)"),
    }}

    async def start(self) -> None:
        c = self.config
        self._property = str(c.get("property") or "payload")
        self._outproperty = str(c.get("outproperty") or self._property)
        self._tag = str(c.get("tag") or "")
        self._ret = str(c.get("ret") or "html")
        self._as = str(c.get("as") or "single")
        self._chr = str(c.get("chr") or "_")
        if self._ret not in ("html", "text", "attr", "compl"):
            raise ValueError(f'html: "ret" must be html, text, attr or compl, not {self._ret!r}')
        if self._as not in ("single", "multi"):
            raise ValueError(f'html: "as" must be single or multi, not {self._as!r}')

    def on_input(self, msg: Message) -> None:
        value = get_message_property(msg, self._property, MISSING)
        if value is MISSING:
            self.send(msg)
            return
        selector: Any = self._tag
        if not selector and "select" in msg:
            # null selects nothing in cheerio, as an empty selector does
            selector = "" if msg["select"] is None else msg["select"]
        if not isinstance(selector, str):
            self.error(f"msg.select must be a string CSS selector, not "
                       f"{type(selector).__name__}", msg)
            return
        if not isinstance(value, str | bytes | bytearray):
            self.error(f"msg.{self._property} must be an HTML string or a Buffer, not "
                       f"{type(value).__name__}", msg)
            return
        # Imported here: the HTML parser is loaded only by flows that use it.
        from flowrt.html_select import HTMLSelectError, OutputBudget, select

        try:
            matches = select(value, selector)
            budget = OutputBudget()
            results = [self._result(match, budget) for match in matches]
        except HTMLSelectError as exc:
            self.error(str(exc), msg)
            return
        if self._as == "single":
            set_message_property(msg, self._outproperty, results)
            self.send(msg)
            return
        count = len(results)
        msgid = msg.get("_msgid")
        for index, result in enumerate(results):
            # Node-RED skips a falsy result ("" html or text) but still counts it.
            if result == "":
                continue
            out = clone_message(msg)
            set_message_property(out, self._outproperty, result)
            out["parts"] = {"id": msgid, "index": index, "count": count,
                            "type": "string", "ch": ""}
            self.send(out)

    def _result(self, match: Match, budget: OutputBudget) -> Any:
        if self._ret == "html":
            return match.inner_xml(budget)
        if self._ret == "text":
            return match.text(budget)
        if self._ret == "attr":
            return match.attributes(budget)
        result: dict[str, Any] = {self._chr: match.trimmed_inner_html(budget)}
        result.update(match.attributes(budget))
        return result


__all__ = ["Html"]
