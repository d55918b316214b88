"""CSS selection in HTML documents, with cheerio's text and serialisation rules.

Node-RED's ``html`` node parses with cheerio (parse5, the HTML5 algorithm) and
selects with css-select. flowrt parses with selectolax's lexbor engine, which
follows the same HTML5 parsing algorithm, and selects with lexbor's CSS engine.
Measured (parse + select + text of each match): on a 98 KB documentation page
(``td code``, 323 matches) selectolax 1.2 ms, BeautifulSoup 4.15 with soupsieve 4.1
(html.parser) 55 ms; on Node-RED's example page (``.Item``, 3 matches) 0.14 ms and
0.34 ms. BeautifulSoup's html.parser also does not build the HTML5 tree cheerio
builds (html5lib would, more slowly still).

What the node needs from a match, each as cheerio gives it:

- :meth:`Match.inner_xml` — the "html" output: the element's inner HTML, trimmed,
  written the way cheerio's ``.xml()`` writes it (childless elements self-closed,
  every character outside ASCII and ``& < > " '`` as entities);
- :meth:`Match.inner_html` — ``.html()``: the HTML5 serialisation (parse5's rules);
- :meth:`Match.text` — ``.text()``: the text of every descendant, leaving out the
  contents of ``script`` and ``style`` (cheerio 1.0.0-rc.10's rule);
- :meth:`Match.attributes` — the attributes, an attribute without value as ``""``.

Walks are iterative, so a deeply nested document cannot exhaust the stack. Input
is limited to :data:`MAX_HTML_CHARS` characters and selectors to
:data:`MAX_SELECTOR_CHARS`; past that :class:`HTMLInputTooLarge` is raised. Results
can be far larger than the input (every one of n nested matches repeats what it
holds: n² characters), so the methods take an :class:`OutputBudget` that raises
:class:`HTMLOutputTooLarge` once the results of one selection pass
:data:`MAX_OUTPUT_CHARS` characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

__all__ = [
    "MAX_HTML_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_SELECTOR_CHARS",
    "HTMLInputTooLarge",
    "HTMLOutputTooLarge",
    "HTMLSelectError",
    "InvalidSelector",
    "Match",
    "OutputBudget",
    "select",
]

#: The largest document parsed (characters). lexbor's tree costs roughly ten times
#: the input, so this bounds one message's parse to a few hundred MB at worst.
MAX_HTML_CHARS = 16 * 1024 * 1024
#: The most characters the results of one selection may hold together.
MAX_OUTPUT_CHARS = 32 * 1024 * 1024
#: The longest selector accepted (characters).
MAX_SELECTOR_CHARS = 4096


class HTMLSelectError(ValueError):
    """Base of the errors :func:`select` raises."""


class InvalidSelector(HTMLSelectError):
    """The CSS selector cannot be parsed; the message names it."""


class HTMLInputTooLarge(HTMLSelectError):
    """The document or the selector is longer than the documented limit."""


class HTMLOutputTooLarge(HTMLSelectError):
    """The results of one selection would pass :data:`MAX_OUTPUT_CHARS`."""


class OutputBudget:
    """The characters the results of one selection may still use."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.limit = limit
        self.left = limit

    def take(self, size: int) -> None:
        """Spend ``size`` characters; :class:`HTMLOutputTooLarge` past the limit."""
        self.left -= size
        if self.left < 0:
            raise HTMLOutputTooLarge(
                f"the selected HTML is over the limit of {self.limit} characters")


# Elements parse5 writes without an end tag (and without children).
_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame",
                   "hr", "img", "input", "keygen", "link", "meta", "param", "source",
                   "track", "wbr"})
# Elements whose text parse5 writes unescaped (noscript: parse5's scripting is on).
_RAW_TEXT = frozenset({"style", "script", "xmp", "iframe", "noembed", "noframes",
                       "plaintext", "noscript"})
# What JavaScript's String.prototype.trim removes (WhiteSpace and LineTerminator).
# No-break space is left out: cheerio trims the serialised text, where it is "&nbsp;".
_JS_WHITESPACE = ("\t\n\v\f\r \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                  "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
_XML_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
_TEXT_HTML = str.maketrans({"&": "&amp;", "\u00a0": "&nbsp;", "<": "&lt;", ">": "&gt;"})
_ATTR_HTML = str.maketrans({"&": "&amp;", "\u00a0": "&nbsp;", '"': "&quot;"})


def _encode_xml(text: str) -> str:
    """The ``entities`` package's ``encodeXML``: named XML entities, hex refs past ASCII."""
    if text.isascii() and not any(c in text for c in "&<>\"'"):
        return text
    return "".join(_XML_NAMED.get(c) or (f"&#x{ord(c):X};" if ord(c) > 0x7F else c)
                   for c in text)


def _children(node: LexborNode) -> list[LexborNode]:
    """A node's children; a ``template``'s are those of its content fragment."""
    if node.tag == "template":
        return [child for fragment in node.template_fragments()
                for child in _children(fragment)]
    out = []
    child = node.child
    while child is not None:
        out.append(child)
        child = child.next
    return out


def _comment_data(node: LexborNode) -> str:
    """A comment's text, unstripped; lexbor's ``<?x?>`` node is the HTML5 comment ``?x?``.

    (``comment_content`` strips the text, so it is read from the node's markup.)
    """
    markup = str(node.html or "")
    if markup.startswith("<!--") and markup.endswith("-->"):
        return markup[4:-3]
    if markup.startswith("<?") and markup.endswith(">"):
        return markup[1:-1]
    return str(node.comment_content or "")


def _attributes(node: LexborNode) -> dict[str, str]:
    return {name: "" if value is None else value
            for name, value in node.attributes.items()}


class Match:
    """One element a selector matched."""

    __slots__ = ("_node",)

    def __init__(self, node: LexborNode) -> None:
        self._node = node

    @property
    def tag(self) -> str:
        """The element's name."""
        return str(self._node.tag)

    def attributes(self, budget: OutputBudget | None = None) -> dict[str, str]:
        """The element's attributes, in document order (``disabled`` → ``""``)."""
        attrs = _attributes(self._node)
        if budget is not None:
            budget.take(sum(len(k) + len(v) for k, v in attrs.items()))
        return attrs

    def text(self, budget: OutputBudget | None = None) -> str:
        """cheerio's ``.text()``: descendant text, without script and style contents."""
        budget = budget or OutputBudget()
        parts: list[str] = []
        stack = [self._node]
        while stack:
            node = stack.pop()
            tag = node.tag
            if tag == "-text":
                data = node.text_content or ""
                budget.take(len(data))
                parts.append(data)
            elif tag is not None and tag not in ("-comment", "script", "style") \
                    and not tag.startswith("!"):
                stack.extend(reversed(_children(node)))
        return "".join(parts)

    def inner_html(self, budget: OutputBudget | None = None) -> str:
        """cheerio's ``.html()``: the children written by the HTML5 serialisation rules."""
        return "".join(_serialise(_children(self._node), self._node.tag, xml=False,
                                  budget=budget or OutputBudget()))

    def trimmed_inner_html(self, budget: OutputBudget | None = None) -> str:
        """``.html().trim()``, the content Node-RED's "compl" output gives."""
        return self.inner_html(budget).strip(_JS_WHITESPACE + "\u00a0")

    def inner_xml(self, budget: OutputBudget | None = None) -> str:
        """What Node-RED's "html" output gives: trimmed inner HTML, written as XML.

        Node-RED trims ``.html()`` and parses it again as a fragment before calling
        ``.xml()``; trimming the edge text nodes instead gives the same text without
        re-parsing (a re-parse outside a table would drop a row's ``td`` tags).
        """
        if self._node.tag in _RAW_TEXT and self._node.tag != "noscript":
            return self._reparsed_xml(budget or OutputBudget())
        children = _children(self._node)
        # In .html() a no-break space is "&nbsp;" (not trimmed), except in raw text.
        space = _JS_WHITESPACE + ("\u00a0" if self._node.tag in _RAW_TEXT else "")
        texts: dict[int, str] = {}
        for ordered, strip in ((children, str.lstrip), (list(reversed(children)), str.rstrip)):
            for child in ordered:
                if child.tag != "-text":
                    break
                key = child.mem_id
                value = strip(texts.get(key, child.text_content or ""), space)
                texts[key] = value
                if value:
                    break
        return "".join(_serialise(children, self._node.tag, xml=True, texts=texts,
                                  budget=budget or OutputBudget()))


    def _reparsed_xml(self, budget: OutputBudget) -> str:
        """A script's (style's...) text parsed as HTML, as Node-RED's re-parse does.

        Node-RED parses the text as a fragment; this parses it as a document and
        writes what its head and body hold, which differs only for table parts.
        (lexbor parses noscript content as elements, so noscript needs no re-parse.)
        """
        text = "".join(m.text_content or "" for m in _children(self._node)
                       if m.tag == "-text").strip(_JS_WHITESPACE + "\u00a0")
        budget.take(len(text))
        root = LexborHTMLParser(text).root
        if root is None:
            return ""
        return "".join(_serialise(_children(root), "html", xml=True, budget=budget))


def _serialise(nodes: list[LexborNode], parent: str | None, *, xml: bool, budget: OutputBudget,
               texts: dict[int, str] | None = None) -> Iterator[str]:
    """Write ``nodes`` (children of an element named ``parent``) as HTML or as XML."""
    for piece in _pieces(nodes, parent, xml=xml, texts=texts):
        budget.take(len(piece))
        yield piece


def _pieces(nodes: list[LexborNode], parent: str | None, *, xml: bool,
            texts: dict[int, str] | None) -> Iterator[str]:
    # Each entry: a node to write with its parent's name, or a closing tag to emit.
    stack: list[tuple[LexborNode, str | None] | str] = [(n, parent) for n in reversed(nodes)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
            continue
        node, parent_tag = item
        tag = node.tag
        if tag == "-text":
            if texts is not None and node.mem_id in texts:
                data = texts[node.mem_id]
            else:
                data = node.text_content or ""
            if xml:
                yield _encode_xml(data)
            elif parent_tag in _RAW_TEXT:
                yield data
            else:
                yield data.translate(_TEXT_HTML)
        elif tag == "-comment" or tag is None:
            yield f"<!--{_comment_data(node)}-->"
        elif tag.startswith("-") or tag.startswith("!"):
            continue  # a doctype cannot sit inside an element; nothing else is written
        elif xml and tag in ("head", "body"):
            # Node-RED re-parses the inner HTML as a fragment, which drops these tags
            # (the "html" output of the html element) and keeps what they hold.
            stack.extend((child, tag) for child in reversed(_children(node)))
        else:
            attrs = _attributes(node)
            if xml:
                head = "".join(f' {k}="{_encode_xml(v)}"' for k, v in attrs.items())
            else:
                head = "".join(f' {k}="{v.translate(_ATTR_HTML)}"' for k, v in attrs.items())
            children = [] if (not xml and tag in _VOID) else _children(node)
            if xml and not children:
                yield f"<{tag}{head}/>"
                continue
            yield f"<{tag}{head}>"
            if not xml and tag in _VOID:
                continue
            stack.append(f"</{tag}>")
            stack.extend((child, tag) for child in reversed(children))


def select(document: str | bytes | bytearray, selector: str) -> list[Match]:
    """The elements of ``document`` that ``selector`` matches, in document order.

    An empty selector matches nothing (as cheerio's ``$("")``). Bytes are read as
    UTF-8 (as cheerio reads a Buffer). Raises :class:`InvalidSelector` naming the
    selector when it cannot be parsed, :class:`HTMLInputTooLarge` past the limits.
    """
    if len(document) > MAX_HTML_CHARS:
        raise HTMLInputTooLarge(
            f"HTML input of {len(document)} characters is over the limit of {MAX_HTML_CHARS}")
    if len(selector) > MAX_SELECTOR_CHARS:
        raise HTMLInputTooLarge(
            f"CSS selector of {len(selector)} characters is over the limit of "
            f"{MAX_SELECTOR_CHARS}")
    if not selector.strip():
        return []
    if isinstance(document, bytes | bytearray):
        document = bytes(document).decode("utf-8", errors="replace")
    tree = LexborHTMLParser(document)
    try:
        nodes: Any = tree.css(selector)
    except (SelectolaxError, ValueError) as exc:
        raise InvalidSelector(f'Invalid CSS selector "{selector}": {exc}') from exc
    if "," in selector and len(nodes) > 1:
        nodes = _document_order(tree, nodes)
    return [Match(node) for node in nodes]


def _document_order(tree: LexborHTMLParser, nodes: list[LexborNode]) -> list[LexborNode]:
    """Matches of a selector list, each once and in document order (as css-select).

    lexbor answers ``a, b`` with the ``a`` matches, then the ``b`` ones, repeats
    included.
    """
    unique = {node.mem_id: node for node in nodes}
    if len(unique) == 1:
        return list(unique.values())
    root = tree.root
    walk = root.traverse() if root is not None else iter(())
    order = {node.mem_id: index for index, node in enumerate(walk) if node.mem_id in unique}
    return sorted(unique.values(), key=lambda node: order.get(node.mem_id, -1))
