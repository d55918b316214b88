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
them from context. :func:`load_yaml` is the YAML reading of the template node's
``yaml`` output (YAML 1.2 core schema plus timestamps, as js-yaml's ``load``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import yaml
from pystache.parsed import ParsedTemplate
from pystache.parser import ParsingError, _PartialNode, parse
from pystache.renderengine import RenderEngine

from flowrt.jsvalue import MISSING, js_string, truthy

__all__ = ["MustacheError", "MustacheTemplate", "YAMLError", "escape_html", "load_yaml"]

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


# -------------------------------------------------------------------------- YAML
class YAMLError(ValueError):
    """Text that is not YAML (the message says where)."""


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with js-yaml's implicit types (YAML 1.2 core schema).

    YAML 1.1's extras are not types here: ``yes``/``on`` stay strings, ``012`` is 12,
    ``1:20`` is a string. Timestamps become ``datetime`` (js-yaml gives a Date). Keys
    are strings, as in a JavaScript object (``1: a`` gives ``{"1": "a"}``); a key given
    twice is an error ("duplicated mapping key"); ``!!set`` gives an object of nulls,
    ``!!omap`` a list of one-key objects and ``!!pairs`` a list of pairs, as js-yaml.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            return dict(super().construct_mapping(node, deep=deep))
        own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)
        merged = len(node.value) - own  # merged pairs come first; own keys may override
        mapping: dict[str, Any] = {}
        seen: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = js_string(self.construct_object(key_node, deep=True))
            if index >= merged:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, "duplicated mapping key", key_node.start_mark)
                seen.add(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_set(self, node: yaml.Node) -> Any:
        found: dict[str, Any] = {}
        yield found
        found.update(dict.fromkeys(self.construct_mapping(node)))

    def construct_yaml_omap(self, node: yaml.Node) -> Any:
        found: list[Any] = []
        yield found
        for key, value in self._pairs(node):
            found.append({js_string(key): value})

    def construct_yaml_pairs(self, node: yaml.Node) -> Any:
        found: list[Any] = []
        yield found
        found.extend([js_string(key), value] for key, value in self._pairs(node))

    def _pairs(self, node: yaml.Node) -> list[tuple[Any, Any]]:
        if not isinstance(node, yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a sequence, but found {node.id}", node.start_mark)
        pairs = []
        for item in node.value:
            if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                raise yaml.constructor.ConstructorError(
                    None, None, "expected a mapping of length 1", item.start_mark)
            key_node, value_node = item.value[0]
            pairs.append((self.construct_object(key_node, deep=True),
                          self.construct_object(value_node, deep=True)))
        return pairs


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int",
     r"^(?:[-+]?0b[0-1]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+|[-+]?[0-9]+)$",
     "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:timestamp",
     r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)"
     r"[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$",
     "0123456789"),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: _Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


def _construct_timestamp(loader: _Yaml12Loader, node: yaml.ScalarNode) -> datetime:
    value = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    if isinstance(value, datetime):
        # A Date is an instant: a time without a zone is UTC in js-yaml.
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    assert isinstance(value, date)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:set", _Yaml12Loader.construct_yaml_set)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:omap", _Yaml12Loader.construct_yaml_omap)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:pairs", _Yaml12Loader.construct_yaml_pairs)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

# Bounds on untrusted YAML: aliases share nodes, so a small document can stand for a
# huge value ("billion laughs") that explodes when the message is cloned or serialised.
_MAX_EXPANDED_NODES = 1_000_000


class _BoundedLoader(_Yaml12Loader):
    """Refuses documents whose value, aliases expanded, would exceed the bound."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {})
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once (it stays a reference)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    if size > _MAX_EXPANDED_NODES:
        raise YAMLError(f"document too large once its aliases are expanded "
                        f"(more than {_MAX_EXPANDED_NODES} values)")
    sizes[id(node)] = size
    return size


def load_yaml(text: str) -> Any:
    """One YAML document as a value, read safely (no Python objects, bounded aliases).

    Raises :class:`YAMLError` with the parser's message and position.
    """
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except yaml.MarkedYAMLError as exc:
        # As js-yaml words it: what is wrong, then (line:column), both counted from 1.
        mark = exc.problem_mark
        where = f" ({mark.line + 1}:{mark.column + 1})" if mark is not None else ""
        problem = exc.problem or str(exc)
        raise YAMLError(f"{exc.context}: {problem}{where}" if exc.context
                        else f"{problem}{where}") from None
    except yaml.YAMLError as exc:
        raise YAMLError(str(exc)) from None
    except RecursionError:
        raise YAMLError("YAML nesting too deep") from None
