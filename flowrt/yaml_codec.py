"""YAML text ↔ values as Node-RED's ``yaml`` node reads and writes them (js-yaml 4, YAML 1.2).

Built on PyYAML's *safe* loader and dumper only (no Python tags, no object construction;
libyaml's parser when PyYAML has it), with js-yaml 4's default schema put back on top of
PyYAML's YAML 1.1 one:

- **Loading** resolves plain scalars by YAML 1.2's core schema, as js-yaml does: only
  ``true``/``false`` (any case variant js-yaml knows) are booleans, so ``yes``, ``on``
  and ``y`` stay strings; ``007`` is 7, ``0o17`` 15, ``0x1F`` 31, ``0b11`` 3, ``1e3``
  1000 (a float without a dot too); ``.inf``/``.nan``; no sexagesimal ``1:20``. An
  unquoted timestamp (``2001-12-14``, ``2001-12-14 21:59:43.1 -5``) becomes a
  timezone-aware :class:`datetime.datetime` in UTC (JavaScript's ``Date``; flowrt
  writes it as Node-RED writes a Date). Mapping keys become strings as JavaScript
  makes them (``1`` → ``"1"``, ``null`` → ``"null"``); a key repeated in one mapping is
  an error, as in js-yaml. ``!!set`` gives an object of nulls, ``!!pairs`` arrays,
  ``!!omap`` one-key objects, ``!!binary`` bytes (a Buffer). An empty document is
  :data:`~flowrt.jsvalue.MISSING` (js-yaml's ``undefined``) from :func:`load_document`,
  ``None`` from :func:`load`.
- **Dumping** writes js-yaml's block style: sequences indented under their key, a
  multi-line string as a literal block (``|-``), ``{}``/``[]`` for empty ones, strings
  that would read back as another type in single quotes (``'007'``, ``'1e3'``,
  ``'true'``, and the YAML 1.1 booleans ``'yes'``/``'on'``/``'y'`` that js-yaml quotes
  for older readers), numbers as JavaScript prints them (``5.0`` → ``5``, NaN →
  ``.nan``), a datetime as its ISO text, bytes as ``!!binary``, a value used twice as
  ``&ref_0``/``*ref_0``.

Bounds (untrusted input): at most :data:`MAX_INPUT_CHARS` characters, nesting at most
:data:`MAX_DEPTH` collections deep, and at most :data:`MAX_NODES` values once aliases
are expanded (a "billion laughs" of nested aliases is refused before anything walks
it); a recursive alias is refused. Every failure raises :class:`YAMLCodecError`.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import CollectionEndEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.representer import SafeRepresenter

from flowrt.jsvalue import MISSING, js_string

__all__ = ["MAX_DEPTH", "MAX_INPUT_CHARS", "MAX_NODES", "YAMLCodecError", "dump", "load",
           "load_document"]

MAX_INPUT_CHARS = 10_000_000
MAX_DEPTH = 256
MAX_NODES = 1_000_000


class YAMLCodecError(ValueError):
    """YAML that cannot be read, or a value that cannot be written as YAML."""


# ------------------------------------------------------------------ YAML 1.2 resolvers
# js-yaml 4's implicit types (lib/type/{null,bool,int,float,timestamp,merge}.js), as
# regular expressions. Node-RED's js-yaml takes no "_" in numbers: 1_000 is a string.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?0b[01]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+|[-+]?[0-9]+)$")
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9]+)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?
                        |\.[0-9]+(?:[eE][-+]?[0-9]+)?
                        |[-+]?\.(?:inf|Inf|INF)
                        |\.(?:nan|NaN|NAN))$""", re.X)
_TIMESTAMP = re.compile(r"""^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}
                            |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)
                             [0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
                             (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)$""", re.X)
_TIMESTAMP_PARTS = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})"
    r"(?:\.(\d*))?(?:[ \t]*(Z|([-+])(\d{1,2})(?::?(\d{2}))?))?)?$")
_MERGE = re.compile(r"^<<$")
# The YAML 1.1 booleans js-yaml 4 still quotes when it dumps, so that 1.1 readers agree.
_OLD_BOOLEANS = re.compile(r"^(?:y|Y|yes|Yes|YES|on|On|ON|n|N|no|No|NO|off|Off|OFF)$")
# Other plain texts js-yaml quotes (a YAML 1.1 sexagesimal number or "=" value, a
# leading "-", "?" or ":"): any tag but str makes PyYAML's emitter quote the text.
_QUOTED = re.compile(r"^(?:=|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-?:].*)$", re.S)

_DIGITS = list("-+0123456789")
_RESOLVERS: list[tuple[str, re.Pattern[str], list[str] | None]] = [
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT, _DIGITS),
    ("tag:yaml.org,2002:float", _FLOAT, [*_DIGITS, "."]),
    ("tag:yaml.org,2002:timestamp", _TIMESTAMP, list("0123456789")),
    ("tag:yaml.org,2002:merge", _MERGE, ["<"]),
]


def _core_schema(cls: Any, extra: list[tuple[str, re.Pattern[str], list[str] | None]]) -> None:
    """Give ``cls`` its own implicit resolvers: YAML 1.2's (plus ``extra``), not 1.1's."""
    cls.yaml_implicit_resolvers = {}
    for tag, pattern, first in [*_RESOLVERS, *extra]:
        cls.add_implicit_resolver(tag, pattern, first)


# ------------------------------------------------------------------------- loading
_INDEX_KEY = re.compile(r"^(?:0|[1-9][0-9]*)$")


def _js_order(mapping: dict[str, Any]) -> dict[str, Any]:
    """The mapping with its keys in JavaScript's property order: array-index keys
    ("0", "7", "12") first, ascending, then the others as inserted."""
    indexes = [k for k in mapping if _INDEX_KEY.match(k) and int(k) < 2**32 - 1]
    if not indexes:
        return mapping
    indexes.sort(key=int)
    ordered = {k: mapping[k] for k in indexes}
    ordered.update((k, v) for k, v in mapping.items() if k not in ordered)
    return ordered


def _js_key(value: Any) -> str:
    """The property name JavaScript makes of a YAML key (``String(key)``)."""
    if isinstance(value, datetime):
        return _date_text(value)
    return js_string(value)


# libyaml's parser (PyYAML's C binding) when PyYAML was built with it: ten times faster
# than the pure-Python one; the constructor (the safe one, below) is Python either way.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_depth(text: str) -> None:
    """Refuse nesting past MAX_DEPTH from the event stream, before anything recurses
    (the composer and the constructor recurse once per level, the C one unchecked)."""
    depth = 0
    for event in yaml.parse(text, Loader=_SafeBase):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YAMLCodecError(f"YAML nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


class _Loader(_SafeBase):  # type: ignore[misc]
    """PyYAML's safe loader with js-yaml 4's schema."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping node, but found {node.id}",
                                   node.start_mark)
        self.flatten_mapping(node)
        merged = getattr(node, "_merged_count", 0)
        mapping: dict[str, Any] = {}
        written: set[str] = set()
        for position, (key_node, value_node) in enumerate(node.value):
            key = _js_key(self.construct_object(key_node, deep=True))
            # Keys a "<<" brings in may be overridden; a key written twice may not.
            if position >= merged:
                if key in written:
                    raise ConstructorError(None, None, "duplicated mapping key",
                                           key_node.start_mark)
                written.add(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return _js_order(mapping)

    def flatten_mapping(self, node: MappingNode) -> None:
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        super().flatten_mapping(node)
        # SafeConstructor puts the pairs a "<<" brings in first: remember how many.
        node._merged_count = len(node.value) - own  # type: ignore[attr-defined]

    def construct_yaml_map(self, node: MappingNode) -> Any:
        data: dict[str, Any] = {}
        yield data
        data.update(self.construct_mapping(node))

    def construct_yaml_int(self, node: ScalarNode) -> int | float:
        text = str(self.construct_scalar(node))
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        if text.startswith("0b"):
            value = int(text[2:], 2)
        elif text.startswith("0o"):
            value = int(text[2:], 8)
        elif text.startswith("0x"):
            value = int(text[2:], 16)
        else:
            value = int(text)
        value *= sign
        # JavaScript numbers are doubles: beyond 2**53 an integer loses digits.
        return value if abs(value) <= 2**53 else float(value)

    def construct_yaml_float(self, node: ScalarNode) -> int | float:
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        if text == ".nan":
            return math.nan
        number = float(text)
        # JavaScript has one number type: 1e3 is the 1000 flowrt holds as an int.
        return int(number) if number.is_integer() and abs(number) < 2**53 and not (
            number == 0 and math.copysign(1, number) < 0) else number

    def construct_yaml_timestamp(self, node: ScalarNode) -> datetime:
        match = _TIMESTAMP_PARTS.match(str(self.construct_scalar(node)))
        if match is None:  # unreachable: the resolver matched the same text
            raise ConstructorError(None, None, "bad timestamp", node.start_mark)
        year, month, day, hour, minute, second, fraction, zone, sign, tz_h, tz_m = (
            match.groups())
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        offset = timedelta(0)
        if zone and zone != "Z":
            offset = timedelta(hours=int(tz_h), minutes=int(tz_m or 0))
            if sign == "-":
                offset = -offset
        try:
            when = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                            int(second or 0), micro, tzinfo=timezone(offset))
        except ValueError as exc:
            raise ConstructorError(None, None, f"invalid timestamp: {exc}",
                                   node.start_mark) from None
        return when.astimezone(UTC)

    def construct_yaml_set(self, node: MappingNode) -> Any:
        data: dict[str, Any] = {}
        yield data
        data.update(dict.fromkeys(self.construct_mapping(node)))

    def construct_yaml_pairs(self, node: SequenceNode) -> Any:
        data: list[Any] = []
        yield data
        data.extend([key, value] for key, value in self._pairs(node))

    def construct_yaml_omap(self, node: SequenceNode) -> Any:
        data: list[Any] = []
        yield data
        data.extend({key: value} for key, value in self._pairs(node))

    def _pairs(self, node: SequenceNode) -> list[tuple[str, Any]]:
        if not isinstance(node, SequenceNode):
            raise ConstructorError(None, None, "expected a sequence of one-key mappings",
                                   node.start_mark)
        pairs = []
        for item in node.value:
            if not isinstance(item, MappingNode) or len(item.value) != 1:
                raise ConstructorError(None, None, "expected a sequence of one-key mappings",
                                       item.start_mark)
            key_node, value_node = item.value[0]
            pairs.append((_js_key(self.construct_object(key_node, deep=True)),
                          self.construct_object(value_node, deep=True)))
        return pairs


_core_schema(_Loader, [])
_Loader.yaml_constructors = dict(SafeConstructor.yaml_constructors)
for _tag, _method in [("map", _Loader.construct_yaml_map), ("int", _Loader.construct_yaml_int),
                      ("float", _Loader.construct_yaml_float),
                      ("timestamp", _Loader.construct_yaml_timestamp),
                      ("set", _Loader.construct_yaml_set), ("pairs", _Loader.construct_yaml_pairs),
                      ("omap", _Loader.construct_yaml_omap)]:
    _Loader.yaml_constructors[f"tag:yaml.org,2002:{_tag}"] = _method


def _check_size(value: Any) -> None:
    """Refuse a value whose alias-expanded size passes MAX_NODES, or that contains itself.

    Aliases share one object, so loading stays cheap; but everything downstream (cloning
    on fan-out, JSON, the debug sidebar) walks the tree expanded, so bound that size.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, done = stack.pop()
        if not isinstance(item, dict | list):
            continue
        key = id(item)
        children = list(item.values()) if isinstance(item, dict) else item
        if done:
            in_progress.discard(key)
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > MAX_NODES:
                raise YAMLCodecError(f"YAML expands to more than {MAX_NODES} values "
                                     "(aliases nested too deeply)")
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise YAMLCodecError("YAML alias refers to a node that contains it")
        in_progress.add(key)
        stack.append((item, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list))


def _error_text(exc: yaml.YAMLError) -> str:
    """js-yaml's form of a parse error: ``reason (line:column)``, both counted from 1."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return str(exc)
    if exc.context == "expected a single document in the stream":
        return "expected a single document in the stream, but found more"
    reason = exc.problem or exc.context or "invalid YAML"
    if reason.startswith("expected '<document start>'"):
        reason = "end of the stream or a document separator is expected"  # js-yaml's words
    mark = exc.problem_mark or exc.context_mark
    return f"{reason} ({mark.line + 1}:{mark.column + 1})" if mark else reason


def load_document(text: str) -> Any:
    """The value of one YAML document; :data:`~flowrt.jsvalue.MISSING` when it is empty.

    Raises :class:`YAMLCodecError` with the parser's message (and where) on bad YAML,
    more than one document, or input past the bounds in the module docstring.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise YAMLCodecError(f"YAML input longer than {MAX_INPUT_CHARS} characters")
    try:
        _check_depth(text)
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise YAMLCodecError(_error_text(exc)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return MISSING
        value = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise YAMLCodecError(_error_text(exc)) from None
    except RecursionError:
        raise YAMLCodecError(f"YAML nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    _check_size(value)
    return value


def load(text: str) -> Any:
    """The value of a YAML document (``None`` for an empty one); see :func:`load_document`."""
    value = load_document(text)
    return None if value is MISSING else value


# ------------------------------------------------------------------------- dumping
def _date_text(value: datetime) -> str:
    """``Date.prototype.toISOString()``: UTC, milliseconds, ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z")


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper writing js-yaml 4's style."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # js-yaml indents a sequence under its mapping key; PyYAML would not.
        super().increase_indent(flow, False)

    def check_simple_key(self) -> bool:
        # js-yaml writes an empty key as '': ...; PyYAML would use the "? ''" form.
        if isinstance(self.event, ScalarEvent) and self.event.value == "":
            return True
        return bool(super().check_simple_key())

    def determine_block_hints(self, text: str) -> str:
        # An indentation indicator only for a leading space, as js-yaml writes it
        # (PyYAML adds one for a leading line break too, where none is needed).
        hints = str(super().determine_block_hints(text))
        if text and text[0] != " ":
            hints = hints.lstrip("0123456789")
        return hints

    def generate_anchor(self, node: Node) -> str:
        # js-yaml names shared values ref_0, ref_1...
        self._anchor_count = getattr(self, "_anchor_count", -1) + 1
        return f"ref_{self._anchor_count}"


# Strings that read back as something else are quoted: js-yaml's own types plus the
# YAML 1.1 booleans it quotes for older readers.
_core_schema(_Dumper, [("tag:yaml.org,2002:bool", _OLD_BOOLEANS, list("yYnNoO")),
                       ("tag:yaml.org,2002:value", _QUOTED, [*_DIGITS, "=", ":", "?"])])


_LINE_WIDTH = 80


def _represent_str(dumper: _Dumper, value: str) -> Node:
    printable = not any(c in value for c in "\r\x85\u2028\u2029")
    if not printable:
        # PyYAML would write these line breaks raw in single quotes, where they read
        # back as spaces: escape them in double quotes (js-yaml does the same).
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value and printable and value.strip():
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if len(value) > _LINE_WIDTH - 2 * len(dumper.indents) and " " in value.strip() and printable:
        # js-yaml folds a line past the width at its spaces (">-").
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_float(dumper: _Dumper, value: float) -> Node:
    if value != value:
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    elif value == 0 and math.copysign(1, value) < 0:
        text = "-0.0"
    else:
        text = js_string(value)
    tag = "tag:yaml.org,2002:int" if _INT.match(text) else "tag:yaml.org,2002:float"
    return dumper.represent_scalar(tag, text)


def _represent_bytes(dumper: _Dumper, value: bytes) -> Node:
    text = base64.encodebytes(bytes(value)).decode("ascii")
    return dumper.represent_scalar("tag:yaml.org,2002:binary", text, style="|")


def _represent_datetime(dumper: _Dumper, value: datetime) -> Node:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", _date_text(value))


def _represent_dict(dumper: _Dumper, value: dict[Any, Any]) -> Node:
    if not all(type(k) is str for k in value):
        value = {js_string(k): v for k, v in value.items()}
    return dumper.represent_mapping("tag:yaml.org,2002:map", _js_order(value))


def _represent_undefined(dumper: _Dumper, value: Any) -> Node:
    raise yaml.representer.RepresenterError(f"cannot represent {type(value).__name__}")


_Dumper.yaml_representers = dict(SafeRepresenter.yaml_representers)
_Dumper.yaml_multi_representers = {}
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(bytes, _represent_bytes)
_Dumper.add_representer(bytearray, _represent_bytes)
_Dumper.add_representer(datetime, _represent_datetime)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(tuple, SafeRepresenter.represent_list)
_Dumper.add_representer(None, _represent_undefined)  # type: ignore[arg-type]


def dump(value: Any) -> str:
    """``yaml.dump(value)`` as js-yaml 4 writes it (block style, indent 2, key order kept).

    Raises :class:`YAMLCodecError` for a value YAML cannot hold (``set``, an object).
    """
    try:
        text = yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                         allow_unicode=True, indent=2, width=80)
    except (yaml.YAMLError, RecursionError, TypeError) as exc:
        raise YAMLCodecError(f"cannot write as YAML: {exc}") from None
    # PyYAML ends a lone plain scalar with a document-end marker; js-yaml does not.
    return text.removesuffix("\n...\n") + "\n" if text.endswith("\n...\n") else text
