"""XML text ↔ objects in the shape Node-RED's ``xml`` node gives (xml2js 0.6 defaults).

**Parsing** (:func:`parse`) runs the standard library's expat through ``defusedxml``'s
SAX reader: entity declarations (internal or external) and external references are
refused, so neither XXE nor "billion laughs" can happen; named HTML 4 entities
(``&nbsp;``), which Node-RED's sax parser knows, are read as their characters. The
result follows xml2js: the root element is the one key of the result; every child
element is an array (``explicitArray``); attributes sit under ``$`` and text under ``_``
(``attrkey``/``charkey``); every value is a string; an element with only text is that
string, an empty one ``""``, whitespace-only text is dropped unless it came from
CDATA; text around child elements is joined. Parsing stops at the end of the root
element, as xml2js does (what follows is ignored); blank input gives ``None``.
Options (xml2js names): ``attrkey``, ``charkey``, ``explicitArray``, ``explicitRoot``,
``explicitCharkey``, ``ignoreAttrs``, ``mergeAttrs``, ``trim``, ``normalize``,
``normalizeTags``, ``emptyTag``, ``explicitChildren``, ``childkey``,
``preserveChildrenOrder``, ``charsAsChildren``, ``includeWhiteChars``; the others
(functions, ``xmlns``, ``strict: false``, ``validator``) are not supported and ignored.

**Building** (:func:`build`) writes xml2js's ``Builder`` output (xmlbuilder's text):
an XML declaration, then the single key of the object as the root element, or
``rootName`` (default ``root``) around several; ``$`` attributes, ``_`` text, arrays
as repeated elements, ``null`` as an empty element; ``renderOpts`` (``pretty``,
``indent``, ``newline``), ``xmldec`` (``version``, ``encoding``, ``standalone``),
``headless``, ``cdata``, ``rootName``, ``attrkey``/``charkey``. A key that is not an XML
name raises ``Invalid character in name``, as xmlbuilder does.

Bounds (untrusted input): at most :data:`MAX_INPUT_CHARS` characters and
:data:`MAX_DEPTH` nested elements; every failure raises :class:`XMLCodecError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.entities import name2codepoint
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, property_lexical_handler

from defusedxml import DefusedXmlException
from defusedxml.sax import make_parser

from flowrt.jsvalue import js_string

__all__ = ["MAX_DEPTH", "MAX_INPUT_CHARS", "XMLCodecError", "build", "parse"]

MAX_INPUT_CHARS = 10_000_000
MAX_DEPTH = 512


class XMLCodecError(ValueError):
    """XML that cannot be read, or an object that cannot be written as XML."""


# ------------------------------------------------------------------------- parsing
_PARSE_DEFAULTS: dict[str, Any] = {
    "attrkey": "$", "charkey": "_", "explicitArray": True, "explicitRoot": True,
    "explicitCharkey": False, "ignoreAttrs": False, "mergeAttrs": False, "trim": False,
    "normalize": False, "normalizeTags": False, "emptyTag": "", "explicitChildren": False,
    "childkey": "$$", "preserveChildrenOrder": False, "charsAsChildren": False,
    "includeWhiteChars": False,
}
# sax (Node-RED's parser) resolves HTML 4's named entities; expat knows only XML's five.
_XML_ENTITIES = {"lt", "gt", "amp", "quot", "apos"}
_HTML_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_VERBATIM = re.compile(r"(<!\[CDATA\[.*?\]\]>|<!--.*?-->)", re.S)
_BLANK = re.compile(r"^\s*$")
_SPACES = re.compile(r"\s{2,}")
# expat's words for the errors people meet most, in sax's (Node-RED's) words.
_SAX_WORDS = {"mismatched tag": "Unexpected close tag", "no element found": "Unclosed root tag",
              "undefined entity": "Invalid character entity"}


def _html_entities(text: str) -> str:
    """Replace HTML named entities by their characters, outside CDATA and comments."""
    if "&" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES or name not in name2codepoint:
            return match.group(0)
        return chr(name2codepoint[name])

    parts = _VERBATIM.split(text)
    return "".join(part if i % 2 else _HTML_ENTITY.sub(replace, part)
                   for i, part in enumerate(parts))


class _RootClosed(Exception):
    """Raised to stop expat when the root element ends (xml2js ignores what follows)."""


class _Builder(ContentHandler):
    """Builds xml2js's object from SAX events (the same steps as xml2js's parser)."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self.o = options
        self.stack: list[dict[str, Any]] = []
        self.result: Any = None
        self.pending: list[str] = []  # expat splits text at references; sax does not

    def flush(self) -> None:
        """Deliver the text read since the last markup as one piece, as sax does."""
        if self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            self.text(text)

    # LexicalHandler: only CDATA matters (its whitespace is kept).
    def startCDATA(self) -> None:
        if self.stack:
            self.stack[-1]["\0cdata"] = True

    def endCDATA(self) -> None:
        pass

    def comment(self, content: str) -> None:
        pass

    def startDTD(self, name: str, public_id: str | None, system_id: str | None) -> None:
        pass

    def endDTD(self) -> None:
        pass

    def _assign(self, obj: dict[str, Any], key: str, value: Any) -> None:
        if key not in obj:
            obj[key] = [value] if self.o["explicitArray"] else value
        else:
            if not isinstance(obj[key], list):
                obj[key] = [obj[key]]
            obj[key].append(value)

    def skippedEntity(self, name: str) -> None:
        # Only after an unread external DTD; sax (Node-RED) knows no such entity either.
        raise XMLCodecError("Invalid character entity")

    def startElement(self, name: str, attrs: Any) -> None:
        self.flush()
        if len(self.stack) >= MAX_DEPTH:
            raise XMLCodecError(f"XML nested more than {MAX_DEPTH} elements deep")
        o = self.o
        obj: dict[str, Any] = {o["charkey"]: ""}
        if not o["ignoreAttrs"]:
            for key, value in attrs.items():
                if o["mergeAttrs"]:
                    self._assign(obj, key, value)
                else:
                    obj.setdefault(o["attrkey"], {})[key] = value
        obj["#name"] = name.lower() if o["normalizeTags"] else name
        self.stack.append(obj)

    def characters(self, content: str) -> None:
        self.pending.append(content)

    def text(self, content: str) -> None:
        if not self.stack:
            return
        o = self.o
        top = self.stack[-1]
        if not isinstance(top[o["charkey"]], str):
            return  # a child element named like the text key took its place
        top[o["charkey"]] += content
        if (o["explicitChildren"] and o["preserveChildrenOrder"] and o["charsAsChildren"]
                and (o["includeWhiteChars"] or content.replace("\\n", "").strip() != "")):
            child = {"#name": "__text__", o["charkey"]: content}
            if o["normalize"]:
                child[o["charkey"]] = _SPACES.sub(" ", content).strip()
            top.setdefault(o["childkey"], []).append(child)

    def endElement(self, name: str) -> None:
        self.flush()
        o = self.o
        charkey, attrkey, childkey = o["charkey"], o["attrkey"], o["childkey"]
        obj: Any = self.stack.pop()
        node_name = obj["#name"]
        if not o["explicitChildren"] or not o["preserveChildrenOrder"]:
            del obj["#name"]
        cdata = obj.pop("\0cdata", False)
        parent = self.stack[-1] if self.stack else None
        empty_text = ""
        if not isinstance(obj[charkey], str):
            pass  # a child element named like the text key: keep it as it is
        elif _BLANK.match(obj[charkey]) and not cdata:
            empty_text = obj.pop(charkey)
        else:
            if o["trim"]:
                obj[charkey] = obj[charkey].strip()
            if o["normalize"]:
                obj[charkey] = _SPACES.sub(" ", obj[charkey]).strip()
            if len(obj) == 1 and charkey in obj and not o["explicitCharkey"]:
                obj = obj[charkey]
        if isinstance(obj, dict) and not obj:
            obj = o["emptyTag"] if o["emptyTag"] != "" else empty_text
        if o["explicitChildren"] and not o["mergeAttrs"] and isinstance(obj, dict):
            if not o["preserveChildrenOrder"]:
                node: dict[str, Any] = {}
                if attrkey in obj:
                    node[attrkey] = obj.pop(attrkey)
                if not o["charsAsChildren"] and charkey in obj:
                    node[charkey] = obj.pop(charkey)
                if obj:
                    node[childkey] = obj
                obj = node
            elif parent is not None:
                parent.setdefault(childkey, []).append(dict(obj))
                del obj["#name"]
                if len(obj) == 1 and charkey in obj and not o["explicitCharkey"]:
                    obj = obj[charkey]
        if parent is not None:
            self._assign(parent, node_name, obj)
            return
        self.result = {node_name: obj} if o["explicitRoot"] else obj
        raise _RootClosed


def _skip_external_subset(context: str | None, base: str | None, system_id: str | None,
                          public_id: str | None) -> int:
    if context is not None:  # a named external entity: refused, never fetched
        raise XMLCodecError("XML entity declarations and external references are not allowed")
    return 1


def _sax_error(exc: SAXParseException) -> str:
    message = exc.getMessage()
    message = _SAX_WORDS.get(message, message)
    # sax counts lines from 0; expat from 1.
    line, column = exc.getLineNumber() or 1, exc.getColumnNumber() or 0
    return f"{message}\nLine: {max(line - 1, 0)}\nColumn: {column}"


def parse(text: str, options: Mapping[str, Any] | None = None) -> Any:
    """The object xml2js's ``parseString(text, options)`` gives (``None`` for blank text).

    Raises :class:`XMLCodecError` for text that is not well-formed XML (sax's words
    where they are known, with line and column), for entity declarations, and past
    the bounds in the module docstring.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise XMLCodecError(f"XML input longer than {MAX_INPUT_CHARS} characters")
    if text.strip() == "":
        return None
    opts = dict(_PARSE_DEFAULTS)
    if options:
        opts.update({k: v for k, v in options.items() if k in _PARSE_DEFAULTS})
    for key in ("attrkey", "charkey", "childkey"):
        opts[key] = js_string(opts[key]) if opts[key] is not None else _PARSE_DEFAULTS[key]
    handler = _Builder(opts)
    parser = make_parser()  # defusedxml: forbid_entities, forbid_external; DTDs allowed
    parser.setContentHandler(handler)
    parser.setProperty(property_lexical_handler, handler)
    # An external DTD subset (<!DOCTYPE a SYSTEM "a.dtd">) is never fetched, as sax never
    # reads one: answering "done" without loading it lets the document parse. External
    # entities themselves cannot get here: their declarations are refused first.
    parser.defused_external_entity_ref_handler = _skip_external_subset
    try:
        parser.feed(_html_entities(text.removeprefix("\ufeff")))
        parser.close()
    except _RootClosed:
        return handler.result
    except SAXParseException as exc:
        raise XMLCodecError(_sax_error(exc)) from None
    except DefusedXmlException as exc:
        name = getattr(exc, "name", None)
        what = f" (entity {name!r})" if name else ""
        raise XMLCodecError(f"XML entity declarations and external references are not "
                            f"allowed{what}") from None
    except (RecursionError, MemoryError):
        raise XMLCodecError(f"XML nested more than {MAX_DEPTH} elements deep") from None
    # expat ends without the root element closing only on an error raised above.
    raise XMLCodecError("Unclosed root tag")


# ------------------------------------------------------------------------ building
# XML 1.0 (5th edition) Name, as xmlbuilder checks it.
_NAME_START = (":A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
               "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf"
               "\ufdf0-\ufffd\U00010000-\U000effff")
_NAME = re.compile(f"^[{_NAME_START}][{_NAME_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*$")


def _text(value: Any) -> str:
    """``String(value)`` as xmlbuilder writes a text or attribute value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return js_string(value)


def _escape_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#xD;"))


def _escape_attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def _needs_cdata(value: Any) -> bool:
    return isinstance(value, str) and any(c in value for c in "&<>")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>", 1) + "]]>"


class _Element:
    """An element being built: its name, attributes and children (elements or text)."""

    __slots__ = ("attrs", "children", "name")

    def __init__(self, name: Any) -> None:
        name = _text(name)
        if not _NAME.match(name):
            raise XMLCodecError("Invalid character in name")
        self.name = name
        self.attrs: list[tuple[str, str]] = []
        self.children: list[_Element | str] = []  # str: already escaped text or CDATA


class _Writer:
    def __init__(self, options: dict[str, Any]) -> None:
        self.attrkey = js_string(options.get("attrkey", "$"))
        self.charkey = js_string(options.get("charkey", "_"))
        self.cdata = bool(options.get("cdata", False))

    def text(self, element: _Element, value: Any) -> None:
        if value is None:
            raise XMLCodecError(f"Missing element text. parent: <{element.name}>")
        if isinstance(value, dict | list):  # xmlbuilder: an object is not a text
            raise XMLCodecError(f"Could not create any elements with: {js_string(value)}. "
                                f"node: <{element.name}>")
        if self.cdata and _needs_cdata(value):
            element.children.append(_cdata(value))
        else:
            element.children.append(_escape_text(_text(value)))

    def child(self, element: _Element, name: Any) -> _Element:
        node = _Element(name)
        element.children.append(node)
        return node

    def render(self, element: _Element, obj: Any, depth: int = 0) -> None:
        """xml2js's Builder.render: one object into one element."""
        if depth > MAX_DEPTH:
            raise XMLCodecError(f"object nested more than {MAX_DEPTH} levels deep")
        if not isinstance(obj, dict | list) and obj is not None:
            self.text(element, obj)
        elif isinstance(obj, list):
            for item in obj:
                if isinstance(item, dict):
                    for key, entry in item.items():
                        self.render(self.child(element, key), entry, depth + 1)
                elif isinstance(item, str):
                    # for..in over a string walks its indices: "ab" → <0>a</0><1>b</1>
                    for index, char in enumerate(item):
                        self.render(self.child(element, str(index)), char, depth + 1)
                elif isinstance(item, list):
                    for index, entry in enumerate(item):
                        self.render(self.child(element, str(index)), entry, depth + 1)
        elif obj is not None:
            for key, child in obj.items():
                if key == self.attrkey:
                    if isinstance(child, list) and child:
                        raise XMLCodecError("Invalid character in name")  # names "0", "1"...
                    if isinstance(child, dict):
                        for attr, value in child.items():
                            if value is not None:
                                _Element(attr)  # the name check
                                element.attrs.append((_text(attr), _text(value)))
                elif key == self.charkey:
                    self.text(element, child)
                elif isinstance(child, list):
                    for entry in child:
                        if isinstance(entry, str):
                            node = self.child(element, key)
                            if entry:
                                self.text(node, entry)
                        else:
                            self.render(self.child(element, key), entry, depth + 1)
                elif isinstance(child, dict):
                    self.render(self.child(element, key), child, depth + 1)
                elif child is None:
                    self.child(element, key)
                else:
                    node = self.child(element, key)
                    if not (isinstance(child, str) and child == ""):
                        self.text(node, child)  # ele(key, "") makes no text node


def _serialise(element: _Element, pretty: bool, indent: str, newline: str) -> str:
    """xmlbuilder's string writer: ``<a/>`` when empty, text-only elements on one line."""
    out: list[str] = []

    def open_tag(node: _Element) -> str:
        attrs = "".join(f' {name}="{_escape_attr(value)}"' for name, value in node.attrs)
        return f"<{node.name}{attrs}"

    def write(node: _Element, level: int) -> None:
        pad = indent * level if pretty else ""
        if all(child == "" for child in node.children):  # no children, or empty text
            out.append(f"{pad}{open_tag(node)}/>")
        elif (len(node.children) == 1 and isinstance(node.children[0], str)) or not pretty:
            out.append(f"{pad}{open_tag(node)}>")
            for child in node.children:
                if isinstance(child, str):
                    out.append(child)
                else:
                    write(child, level + 1)
            out.append(f"</{node.name}>")
        else:
            out.append(f"{pad}{open_tag(node)}>{newline}")
            for child in node.children:
                if isinstance(child, str):
                    out.append(f"{indent * (level + 1)}{child}{newline}")
                else:
                    write(child, level + 1)
                    out.append(newline)
            out.append(f"{pad}</{node.name}>")

    write(element, 0)
    return "".join(out)


def build(value: Any, options: Mapping[str, Any] | None = None) -> str:
    """The XML text xml2js's ``new Builder(options).buildObject(value)`` gives.

    Without ``options`` the output is pretty-printed as xml2js's defaults say; Node-RED's
    node passes ``{"renderOpts": {"pretty": False}}`` when a message has no options.
    Raises :class:`XMLCodecError` for a name that is not an XML name, a value that is
    not an object, or nesting past :data:`MAX_DEPTH`.
    """
    opts = dict(options or {})
    if value is None:
        raise XMLCodecError("Cannot convert undefined or null to object")
    root_name = opts.get("rootName", "root")
    if isinstance(value, dict) and len(value) == 1 and root_name == "root":
        root_name, value = next(iter(value.items()))
    elif isinstance(value, list) and len(value) == 1 and root_name == "root":
        root_name, value = "0", value[0]
    elif not isinstance(value, dict | list):
        raise XMLCodecError("Cannot convert a value that is not an object to XML")
    writer = _Writer(opts)
    root = _Element(root_name)
    writer.render(root, value)
    render = opts.get("renderOpts")
    render = render if isinstance(render, dict) else {}
    pretty = bool(render.get("pretty", True)) if options is not None else True
    indent = js_string(render.get("indent", "  "))
    newline = js_string(render.get("newline", "\n"))
    head = ""
    if not opts.get("headless", False):
        xmldec = opts.get("xmldec", {"version": "1.0", "encoding": "UTF-8", "standalone": True})
        xmldec = xmldec if isinstance(xmldec, dict) else {}
        head = f'<?xml version="{_escape_attr(_text(xmldec.get("version", "1.0")))}"'
        if xmldec.get("encoding"):
            head += f' encoding="{_escape_attr(_text(xmldec["encoding"]))}"'
        if xmldec.get("standalone") is not None:
            head += f' standalone="{"yes" if xmldec["standalone"] else "no"}"'
        head += "?>" + (newline if pretty else "")
    return head + _serialise(root, pretty, indent, newline)
