"""csv: converts between CSV text and objects, both ways, as Node-RED 4's csv node.

Two parsers, as in Node-RED: the RFC 4180 parser (``spec: "rfc"``, what Node-RED 4's
editor writes into new nodes) and the legacy one (``spec`` absent or ``""``: flows saved
before 4.0, and Node-RED's own examples). Both are small character state machines
written here rather than Python's ``csv`` module, because the results depend on
Node-RED's exact rules, which ``csv`` does not follow: a zero-length cell is ``null``
but a quoted empty cell is ``""``; ``\\r``, ``\\n`` and ``\\r\\n`` all end a row, and
``\\n\\n`` counts as one break; a quote in the middle of an unquoted cell is kept; the
legacy parser toggles "inside quotes" on every quote character and carries state across
a template held by the node. ``csv`` gets each of these differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flowrt.jsvalue import (
    MISSING,
    is_nan,
    js_number,
    js_string,
    number_value,
    parse_float,
    parse_int,
    truthy,
)
from flowrt.messages import Message, clone_message
from flowrt.node import Node, NodeContext
from flowrt.payloads import serialize_payload
from flowrt.schema import boolean, enum, integer, string

MAX_INPUT_CHARS = 4 * 1024 * 1024
"""Longest CSV text (characters) or column list one message may carry: beyond it the
message is refused with an error. Parsing runs on the event loop at roughly 1 s per MiB
(measured on a 2 vCPU EPYC) and the objects take several times the text's memory, so
this bounds both; a larger file is read one line per message (a file or split node),
which the node handles as one sequence."""

BAD_TEMPLATE = "Malformed columns template."
CSV_JS = "This node only handles CSV strings or js objects."
OBJ_CSV = "No columns template specified for object -> CSV."
BAD_CSV = "Malformed CSV data - output probably corrupt."

# JavaScript's String.prototype.trim() white space.
_JS_WS = ("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
          "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
# The legacy parser's "is a number" test (ASCII digits, end of text only).
_LEGACY_NUMBER = re.compile(r"-?(?!E)(?!0\d)\d*\.?\d*(E-?\+?)?\d+", re.I | re.ASCII)
# The RFC parser converts with Number() unless the text starts like a signed or
# zero-padded value ("+5", "007", "-05"): those stay strings.
_RFC_KEEP_TEXT = re.compile(r" *(\+|-0[0-9]|0[0-9])")


_BREAK = re.compile(r"[\r\n]")


def _plain_run(sep: str, quote: str) -> re.Pattern[str]:
    """Characters with no meaning to the parsers (a separator of two characters never
    matches one character, as in Node-RED)."""
    special = ("\r\n" + quote + (sep if len(sep) == 1 else ""))
    return re.compile("[^" + re.escape(special) + "]+")


class CsvParseError(ValueError):
    """Malformed CSV where the RFC parser is strict (a column template, a header row).

    ``kind`` is the name Node-RED's parser gives the same error (``UnquotedQuoteError``,
    ``DataAfterCloseError``, ``ParseError``), ``cursor`` the character where it was found.
    """

    def __init__(self, message: str, cursor: int, kind: str = "ParseError") -> None:
        super().__init__(message)
        self.cursor = cursor
        self.kind = kind


def _trim(text: str) -> str:
    return text.strip(_JS_WS)


def _js_typeof_object(value: Any) -> bool:
    """``typeof value === "object"``: objects, arrays, null and Buffers."""
    return value is None or isinstance(value, dict | list | tuple | bytes | bytearray)


def _ensure_string(value: Any) -> str:
    """``RED.util.ensureString``: objects as JSON, Buffers as text, the rest String()."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple):
        try:
            return serialize_payload(value).decode("utf-8", "replace")
        except ValueError as exc:
            raise ValueError(f"a cell cannot be written as JSON: {exc}") from None
    if value is None:
        return "null"
    return js_string(value)


def _keys(value: Any) -> list[str]:
    """``Object.keys`` / ``for...in`` over a row."""
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list | tuple | str | bytes | bytearray):
        return [str(i) for i in range(len(value))]
    return []


def quote_cell(cell: str, sep: str, quote: str = '"',
               quoteables: tuple[str, ...] | None = None) -> str:
    """A cell as the RFC writer puts it: quoted when it holds any of ``quoteables``
    (default: the quote, the separator, CR, LF), inner quotes doubled."""
    chars = quoteables if quoteables is not None else (quote, sep, "\r", "\n")
    if quote in cell:
        cell = cell.replace('"', '""')
        return quote + cell + quote
    if any(c and c in cell for c in chars):
        return quote + cell + quote
    return cell


@dataclass
class RfcResult:
    """What :func:`rfc_parse` found: the header names, the rows and where it stopped."""

    headers: list[Any]
    data: list[Any] = field(default_factory=list)
    cursor: int = 0

    @property
    def header(self) -> str:
        """The non-empty header names, quoted where needed, joined by commas."""
        return ",".join(quote_cell(h, ",") for h in self.headers if h)


def rfc_parse(text: str, *, cursor: int = 0, sep: str = ",", quote: str = '"',
              headers: list[Any] | None = None, has_header_row: bool = True,
              headers_only: bool = False, as_arrays: bool = False,
              include_null: bool = False, include_empty: bool = True,
              parse_numbers: bool = False, strict: bool = False) -> RfcResult:
    """Node-RED 4's RFC 4180 parser (``lib/csv``), same results, same errors.

    A zero-length cell is ``None``, a quoted empty one ``""``; a row of nothing is no
    row. Not strict, a stray quote is kept as text; strict, it raises
    :class:`CsvParseError` (as does an unclosed quoted cell).
    """
    header_names: list[Any] = list(headers) if headers else []
    supplied = bool(header_names)
    end = len(text)
    cell: list[str] = []
    row: list[Any] = []
    rows: list[list[Any]] = []
    new_cell, in_quote, closed = True, False, False
    plain = _plain_run(sep, quote)

    def finish_cell() -> None:
        value = "".join(cell)
        cell.clear()
        row.append(value or (None if new_cell else ""))

    def finish_row() -> None:
        nonlocal row
        if cell:
            finish_cell()
        if row:
            rows.append(row)
            row = []

    while cursor < end:
        char = text[cursor]
        if in_quote:
            if char == quote and cursor + 1 < end and text[cursor + 1] == quote:
                cell.append(quote)
                cursor += 2
                new_cell = closed = False
            elif char == quote:
                in_quote, new_cell, closed = False, False, True
                cursor += 1
            else:
                # Take the run up to the next quote at once (the same cells, fewer steps).
                stop = text.find(quote, cursor)
                stop = end if stop < 0 else stop
                cell.append(text[cursor:stop])
                new_cell = closed = False
                cursor = stop
        elif char == sep:
            finish_cell()
            cursor += 1
            new_cell, closed = True, False
        elif char == quote:
            if new_cell:
                in_quote, new_cell, closed = True, False, False
                cursor += 1
            elif strict:
                raise CsvParseError("Quote found in the middle of an unquoted field", cursor,
                                    "UnquotedQuoteError")
            else:
                # Kept unless the next character ends the cell; a doubled quote counts once.
                cursor += 1
                if cursor < end and text[cursor] not in ("\n", "\r", sep):
                    cell.append(char)
                    if text[cursor] == quote:
                        cursor += 1
        elif char in ("\n", "\r"):
            finish_row()
            cursor += 2 if cursor + 1 < end and text[cursor + 1] == "\n" else 1
            new_cell, closed = True, False
            if headers_only:
                break
        elif closed:
            if strict:
                raise CsvParseError("Data found after closing quote", cursor,
                                    "DataAfterCloseError")
            # Step back onto the closing quote: it is then read as a stray quote.
            cursor -= 1
            closed = False
        else:
            # A run of ordinary characters at once (the same cells, fewer steps).
            run = plain.match(text, cursor)
            stop = run.end() if run else cursor + 1
            cell.append(text[cursor:stop])
            new_cell = False
            cursor = stop
    if strict and in_quote:
        raise CsvParseError("Missing quote, unclosed cell", cursor)
    finish_row()

    first_is_header = False
    if rows and not supplied:
        if has_header_row:
            header_names.extend(rows[0])
            first_is_header = True
        else:
            header_names.extend(f"col{i + 1}" for i in range(len(rows[0])))
    result = RfcResult(header_names, cursor=cursor)
    if as_arrays or headers_only:
        if headers_only:
            return result
        if not first_is_header and header_names:
            rows.insert(0, header_names)
        result.data = rows
        return result
    start = 1 if first_is_header else 0
    named = [(j, name) for j, name in enumerate(header_names) if name]
    for values in rows[start:]:
        obj: dict[str, Any] = {}
        width = len(values)
        for j, name in named:
            v = values[j] if j < width else None
            if v is None:
                if not include_null:
                    continue
            elif v == "":
                if not include_empty:
                    continue
            elif parse_numbers and not _RFC_KEEP_TEXT.match(v):
                # Plain digits are the common case: int() gives Number()'s result for them.
                if v.isdigit() and v.isascii():
                    v = int(v) if len(v) < 16 else number_value(float(v))
                else:
                    number = js_number(v)
                    if not is_nan(number):
                        v = number
            obj[name] = v
        if obj:
            result.data.append(obj)
    return result


class Csv(Node):
    """Converts between CSV text and objects, in either direction.

    **CSV text → objects.** A string `msg.payload` is parsed; each row becomes an
    object whose keys come from *Columns* (a comma-separated list, e.g. `a,b,,d`: an
    empty name drops that column), from the first row (*first row contains column
    names*), or are `col1`, `col2`... The node sends one message per row, with
    `msg.parts` so a `join` node can rebuild the list, or one message whose payload is
    the array of rows. `msg.columns` carries the column names. *Skip first n lines*
    drops lines at the start; *parse numerical values* turns numeric cells into
    numbers; empty cells are left out unless *include empty strings* (`""`, for a
    quoted empty cell) or *include null values* (`null`, for a cell with nothing in
    it) is set. Input that arrives as a sequence (lines from a `split` or file node,
    with `msg.parts`) is handled as one file: the header comes from the first part.

    **Objects → CSV text.** An object, an array of objects, an array of values (one
    row) or an array of arrays becomes CSV text ending with the chosen newline. The
    columns (and their order) come from *Columns*, else from `msg.columns`, else from
    the first object's keys. Column names can be sent as a first row never, always,
    or once (until a message with `msg.reset` arrives). *Columns* and `msg.columns`
    are always comma-separated, whatever the data's separator.

    **Parser.** *RFC 4180* (Node-RED 4's default for new nodes) follows the standard:
    `"007"` and `"true"` stay strings, `"0x1F"` becomes 31, a malformed column
    template or header row is an error, and a non-string, non-object payload is an
    error catch nodes receive. *Legacy* (flows saved before Node-RED 4, which have no
    `spec` key) keeps Node-RED 3's rules, including its quirks.

    **Differences from Node-RED.** A Buffer (bytes) payload is decoded as UTF-8 and
    parsed as CSV (Node-RED would write its byte values out as a CSV row). A message
    longer than 4 MiB characters is refused with an error (read a larger file one line
    per message: the node handles the sequence as one file). A malformed RFC column
    template makes the node fail to start (reported in the editor) where Node-RED
    leaves it deployed but deaf. Where an input sequence has no `parts.count`, the rows
    sent keep it absent (Node-RED writes `NaN`). `multi` and `hdrout` take the values
    Node-RED's editor writes (`hdrout` also `true`/`false` and `""`, from older flows).
    """

    type = "csv"
    category = "parser"
    color = "#DEBD5C"
    icon = "parser-csv"
    editor: ClassVar = {"label": "name", "order": [
        "temp", "sep", "spec", "name", "skip", "hdrin", "strings", "include_empty_strings",
        "include_null_values", "multi", "hdrout", "ret"]}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string("", title="Name"),
        "spec": enum(["rfc", ""], "rfc", title="Parser",
                     labels={"rfc": "RFC 4180", "": "legacy (Node-RED 3)"},
                     description='"rfc": RFC 4180; "": legacy (Node-RED 3)'),
        "sep": string(",", title="Separator", pattern=r"^(.|\\t){0,2}$",
                      description=r"one character, or \t for a tab"),
        "hdrin": boolean("", title="First row contains column names"),
        "hdrout": enum(["none", "all", "once", True, False, ""], "none",
                       title="Send column names", labels={
                           "none": "never send column headers",
                           "all": "always send column headers",
                           "once": "send headers once, until msg.reset",
                           True: "always (older flows)", False: "never (older flows)",
                           "": "never (older flows)"}),
        "multi": enum(["one", "mult"], "one", title="Output (CSV to objects)",
                      labels={"one": "a message per row", "mult": "a single message [array]"},
                      description='"one": a message per row; "mult": one message, an array'),
        "ret": enum(["\\r\\n", "\\n", "\\r", ""], "\\r\\n", title="Newline", labels={
            "\\r\\n": "Windows (\\r\\n)", "\\n": "Linux (\\n)", "\\r": "Mac (\\r)",
            "": "Windows for RFC 4180, else Linux (older flows)"}),
        "temp": string("", title="Columns"),
        "skip": integer("0", minimum=0, title="Skip first lines"),
        "strings": boolean(True, title="Parse numerical values"),
        "include_empty_strings": boolean("", title="Include empty strings"),
        "include_null_values": boolean("", title="Include null values"),
    }}
    # Flows saved before Node-RED 4 have no spec (legacy parser) and no ret (whose
    # default is then the mode's own: \n legacy, \r\n RFC).
    config_when_absent: ClassVar = {"spec": "", "ret": ""}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        c = config
        self.rfc = c.get("spec") == "rfc"
        self.sep = (_text(c.get("sep")) or ",").replace("\\t", "\t").replace(
            "\\n", "\n").replace("\\r", "\r")
        self.quo = '"'
        self.ret = (_text(c.get("ret")) or ("\r\n" if self.rfc else "\n")).replace(
            "\\n", "\n").replace("\\r", "\r")
        self.multi = c.get("multi") or "one"
        self.hdrin = c.get("hdrin") or False
        hdrout = c.get("hdrout") or "none"
        self.hdrout = {False: "none", True: "all"}.get(hdrout, hdrout) \
            if isinstance(hdrout, bool) else hdrout
        skip = parse_int(c.get("skip") or 0)
        self.skip = 0 if is_nan(skip) else int(skip)
        strings = c.get("strings", True)
        self.parse_numbers = strings is True or strings is None
        self.include_empty = truthy(c.get("include_empty_strings") or False)
        self.include_null = truthy(c.get("include_null_values") or False)
        self.store: list[Any] = []
        self.hdr_sent = False
        self.warn_template = True
        self.template_text = _text(c.get("temp"))
        if self.rfc:
            try:
                self.template: list[Any] = self._rfc_columns(self.template_text) or [""]
            except CsvParseError:
                raise ValueError(f"csv: {BAD_TEMPLATE} (columns {self.template_text!r})"
                                 ) from None
        else:
            # The legacy column splitter keeps the separator it was last built with
            # (Node-RED's node keeps one regular expression and rebuilds it on demand).
            self._split_sep = self.sep
            self.good_template = True
            self.template = self._legacy_clean(self.template_text, ",")
        self.no_template = not self._has_template(self.template)

    # ------------------------------------------------------------------ messages
    def on_input(self, msg: Message) -> None:
        if self.rfc:
            self.status({})
        if "reset" in msg:
            self.hdr_sent = False
        if "payload" not in msg:
            if "reset" not in msg:
                self.send(msg)
            return
        payload = msg["payload"]
        if isinstance(payload, bytes | bytearray):
            payload = bytes(payload).decode("utf-8", "replace")
        if isinstance(payload, str):
            if len(payload) > MAX_INPUT_CHARS:
                self.error(f"csv: the input ({len(payload)} characters) is longer than the "
                           f"limit of {MAX_INPUT_CHARS} characters for one message", msg)
                return
            if self.rfc:
                self._rfc_to_objects(msg, payload)
            else:
                self._legacy_to_objects(msg, payload)
        elif _js_typeof_object(payload):
            if isinstance(msg.get("columns"), str) and len(msg["columns"]) > MAX_INPUT_CHARS:
                self.error(f"csv: msg.columns is longer than the limit of {MAX_INPUT_CHARS} "
                           "characters", msg)
                return
            if self.rfc:
                self._rfc_to_csv(msg, payload)
            else:
                self._legacy_to_csv(msg, payload)
        elif self.rfc:
            # Node-RED's catch nodes read an Error's String(): "Error: <text>".
            self.status(fill="red", shape="dot", text=CSV_JS)
            self.error(f"Error: {CSV_JS}", msg)
        else:
            self.warn(CSV_JS)

    # ------------------------------------------------------------ RFC 4180 mode
    @staticmethod
    def _has_template(template: list[Any] | None) -> bool:
        return template is not None and len(template) > 0 and not (
            len(template) == 1 and template[0] == "")

    def _rfc_columns(self, text: str, sep: str = ",") -> list[Any] | None:
        """A column list parsed strictly; None unless it is exactly one row."""
        parsed = rfc_parse(text, sep=sep, quote=self.quo, as_arrays=True, strict=True)
        return list(parsed.data[0]) if len(parsed.data) == 1 else None

    def _column_string(self, template: list[Any], keep_empty: bool = False,
                       sep: str = ",", quoteables: tuple[str, ...] | None = None) -> str:
        if keep_empty:
            chars = quoteables or (",", '"', "\n", "\r")
            return sep.join(quote_cell(h or "", sep, self.quo, chars) for h in template)
        return RfcResult(list(template)).header

    def _rfc_to_csv(self, msg: Message, data: Any) -> None:
        rows: list[Any]
        arrays = False
        if isinstance(data, list | tuple):
            rows = list(data)
            if rows and not _js_typeof_object(rows[0]):
                rows, arrays = [rows], True
            else:
                arrays = bool(rows) and isinstance(rows[0], list | tuple)
        else:
            rows = [data]
        parts = msg.get("parts")
        if not (self.no_template and isinstance(parts, dict)
                and _gt0(parts.get("index"))):
            self.template = self._rfc_columns(self.template_text) or [""]
        out: list[str] = []
        quoteables = (self.sep, self.quo, "\n", "\r")
        send_headers = self.hdrout in ("once", "all")
        if send_headers and not self.hdr_sent:
            if not self._has_template(self.template):
                if "columns" in msg:
                    self.template = self._columns_from_msg(msg) or [""]
                else:
                    self.template = _keys_or_fail(rows[0] if rows else MISSING)
            out.append(self._column_string(self.template, True, self.sep, quoteables))
            if self.hdrout == "once":
                self.hdr_sent = True
        for row in rows:
            if arrays:
                has = self._has_template(self.template)
                width = len(self.template) if has else _length(row)
                line: list[str] = []
                for t in range(width):
                    cell = _cell_at(row, t)
                    cell = "" if cell is MISSING else cell
                    if has and not self.template[t]:
                        line.append("")  # Node-RED leaves a hole; join() writes ""
                    else:
                        line.append(quote_cell(_ensure_string(cell), self.sep, self.quo,
                                               quoteables))
                out.append(self.sep.join(line))
                continue
            if not self._has_template(self.template) and "columns" in msg:
                self.template = self._columns_from_msg(msg) or [""]
            if not self._has_template(self.template):
                if self.warn_template:
                    self.warn(OBJ_CSV)
                    self.warn_template = False
                self.template = _keys_or_fail(row)
                first = rows[0]
                line = []
                for key in _keys(first):
                    if isinstance(row, dict) and key in row:
                        cell = row[key]
                        if not _js_typeof_object(cell):
                            text = "" if cell is MISSING else js_string(cell)
                            line.append(quote_cell(text, self.sep, self.quo, quoteables))
                out.append(self.sep.join(line))
            else:
                line = []
                for name in self.template:
                    if not name:
                        line.append("")
                        continue
                    value = _row_value(row, name)
                    text = "" if value is MISSING else _ensure_string(value)
                    line.append(quote_cell(text, self.sep, self.quo, quoteables))
                out.append(self.sep.join(line))
        msg["payload"] = self.ret.join(out) + self.ret
        msg["columns"] = self._column_string(self.template)
        if msg["payload"] != "":
            self.send(msg)

    def _columns_from_msg(self, msg: Message) -> list[Any] | None:
        columns = msg.get("columns") or ""
        text = columns if isinstance(columns, str) else js_string(columns)
        return self._rfc_columns(text)

    def _place_in_sequence(self, msg: Message) -> tuple[bool, bool, int]:
        """Where a message's text sits in a sequence of parts (one file, one line a
        message): (whether its first line may be the header, whether it is the last
        part, how many lines came before it)."""
        parts = msg.get("parts")
        if not isinstance(parts, dict):
            return True, False, 0
        index = parts.get("index")
        last = "count" in parts and _at_least_last(parts.get("index", MISSING),
                                                   parts.get("count", MISSING))
        return (not _greater(index, self.skip), bool(last),
                index if isinstance(index, int) else 0)

    def _rfc_to_objects(self, msg: Message, text: str) -> None:
        has_parts = "parts" in msg
        first_line, last, linecount = self._place_in_sequence(msg)
        cursor = 0
        if self.skip > 0 and linecount < self.skip:
            end = len(text)
            while cursor < end and first_line and linecount < self.skip:
                # Every CR and every LF counts as a line here (so CRLF counts twice).
                found = _BREAK.search(text, cursor)
                if found is None:
                    cursor = end
                else:
                    linecount += 1
                    cursor = found.start() + 1
            if cursor >= end:
                return  # all of it skipped
        breaks = _count_breaks(text, cursor)
        if has_parts and self.multi == "mult" and breaks > 1:
            first_line = True
        if first_line and self.hdrin is True:
            try:
                head = rfc_parse(text, cursor=cursor, sep=self.sep, quote=self.quo,
                                 headers_only=True, as_arrays=True, strict=True)
            except CsvParseError as exc:
                # Node-RED's text (its error's name and message), and where it was found.
                self.status(fill="red", shape="dot", text=BAD_TEMPLATE)
                self.error(f"{exc.kind}: {exc} (header row, character {exc.cursor})", msg)
                return
            self.template = head.headers
            cursor = head.cursor
        result = rfc_parse(
            text, cursor=cursor, sep=self.sep, quote=self.quo, has_header_row=False,
            headers=self.template if self._has_template(self.template) else None,
            include_null=self.include_null, include_empty=self.include_empty,
            parse_numbers=self.parse_numbers)
        self._emit_rows(msg, result.data, result.header, has_parts, breaks, last)

    def _emit_rows(self, msg: Message, data: list[Any], columns: str, has_parts: bool,
                   breaks: int, last: bool) -> None:
        """Send parsed rows as Node-RED does (both parsers share this part)."""
        parts = msg.get("parts")
        if self.multi != "one":
            if has_parts and breaks <= 1:
                self.store.extend(data)
                if isinstance(parts, dict) and _is_last(parts):
                    msg["payload"] = self.store
                    msg["columns"] = columns
                    del msg["parts"]
                    self.send(msg)
                    self.store = []
            else:
                msg["columns"] = columns
                msg["payload"] = data
                self.send(msg)
            return
        out: list[Message] = []
        for i, row in enumerate(data):
            new = clone_message(msg) if i < len(data) - 1 else msg
            new["columns"] = columns
            new["payload"] = row
            if not has_parts:
                new["parts"] = {"id": msg.get("_msgid"), "index": i, "count": len(data)}
            elif isinstance(new["parts"], dict):
                shift = self.skip + (1 if self.hdrin else 0)
                for key in ("index", "count"):
                    if isinstance(new["parts"].get(key), int | float):
                        new["parts"][key] -= shift
            if last:
                new["complete"] = True
            out.append(new)
        # The last row reuses msg itself: clone the others before it is changed.
        if out:
            self.send([out])
        if has_parts and last and not data:
            self.send({"complete": True})

    # ------------------------------------------------------------ legacy mode
    def _legacy_clean(self, text: str, sep: str | None = None) -> list[str]:
        """Split a column list on the separator outside quotes, trim, drop quotes."""
        if sep is not None:
            self._split_sep = sep
        pieces = _split_outside_quotes(_trim(text), self._split_sep)
        cols = [_trim(c.replace('"', "")) for c in pieces]
        self.good_template = not (len(cols) == 1 and cols[0] == "")
        return cols

    def _legacy_to_csv(self, msg: Message, data: Any) -> None:
        parts = msg.get("parts")
        if not (self.no_template and isinstance(parts, dict) and _gt0(parts.get("index"))):
            self.template = self._legacy_clean(self.template_text)
        rows: list[Any] = list(data) if isinstance(data, list | tuple) else [data]
        out: list[str] = []
        sep, quo = self.sep, self.quo
        if self.hdrout != "none" and not self.hdr_sent:
            if self.template == [""]:
                if "columns" in msg:
                    self.template = self._legacy_clean(_text(msg.get("columns")), ",")
                else:
                    self.template = _keys_or_fail(rows[0] if rows else MISSING)
            out.append(sep.join(f'"{v}"' if sep in v else v for v in self.template))
            if self.hdrout == "once":
                self.hdr_sent = True
        s = 0
        while s < len(rows):
            row = rows[s]
            if isinstance(row, list | tuple) or not _js_typeof_object(row):
                if not _js_typeof_object(row):
                    # Node-RED wraps the whole payload as one row here.
                    rows = [rows]
                    if s >= len(rows):
                        raise TypeError("Cannot read properties of undefined (reading 'length')")
                    row = rows[s]
                line: list[str] = []
                for cell in row:
                    if cell is MISSING:
                        cell = ""
                    if cell is None:
                        raise TypeError("Cannot read properties of null (reading 'toString')")
                    text = js_string(cell)
                    if quo in text:
                        text = quo + text.replace('"', '""') + quo
                    elif sep in text or "\n" in text:
                        text = quo + text + quo
                    line.append(text)
                out.append(sep.join(line))
            else:
                if self.template == [""] and "columns" in msg:
                    self.template = self._legacy_clean(_text(msg.get("columns")), ",")
                if self.template == [""]:
                    if self.warn_template:
                        self.warn(OBJ_CSV)
                        self.warn_template = False
                    line = []
                    for key in _keys(rows[0]):
                        if isinstance(row, dict) and key in row and not _js_typeof_object(
                                row[key]):
                            value = row[key]
                            text = "" if value is MISSING else js_string(value)
                            if quo in text:
                                line.append(quo + text.replace('"', '""') + quo)
                            elif sep in text or "\n" in key:  # sic: Node-RED tests the key
                                line.append(quo + text + quo)
                            else:
                                line.append(text)
                    out.append(sep.join(line))
                else:
                    line = []
                    for name in self.template:
                        if name == "":
                            line.append("")
                            continue
                        value = _row_value(row, name)
                        text = "" if value is MISSING else _ensure_string(value)
                        if quo in text:
                            line.append(quo + text.replace('"', '""') + quo)
                        elif sep in text or "\n" in text:
                            line.append(quo + text + quo)
                        else:
                            line.append(text)
                    out.append(sep.join(line))
            s += 1
        msg["payload"] = self.ret.join(out) + self.ret
        msg["columns"] = ",".join(f'"{v}"' if "," in v else v for v in self.template)
        if msg["payload"] != "":
            self.send(msg)

    def _legacy_to_objects(self, msg: Message, line: str) -> None:
        sep, quo = self.sep, self.quo
        outside = True  # outside a pair of quotes
        j = 0
        cells: list[Any] = [""]
        obj: dict[str, Any] = {}
        rows: list[dict[str, Any]] = []
        header = ""
        has_parts = "parts" in msg
        first, last, linecount = self._place_in_sequence(msg)
        breaks = _count_breaks(line, 0)
        if has_parts and self.multi == "mult" and breaks > 1:
            header, first = "", True
        template = self.template
        end = len(line)
        plain = _plain_run(sep, quo)

        def store_cell(at_break: bool, i: int) -> None:
            if not self.good_template:
                _set_at(template, j, f"col{j + 1}")
            name = template[j] if j < len(template) else None
            if not name:
                return
            if i >= 0:
                before = line[i - 1] if i > 0 else None
                if before == sep:
                    cells[j] = None
                elif not at_break and (before is None):
                    raise TypeError("Cannot read properties of undefined (reading 'includes')")
                elif not at_break and before == "\n":
                    cells[j] = None
            value = cells[j]
            if value is not None and self.parse_numbers and _LEGACY_NUMBER.fullmatch(
                    _trim(value)):
                value = cells[j] = number_value(parse_float(_trim(value)))
            if (self.include_null and value is None) or (self.include_empty and value == "") \
                    or (value is not None and value != ""):
                obj[name] = value

        i = 0
        while i < end:
            ch = line[i]
            if first and linecount < self.skip:
                # Skipped lines end at LF only (a CR is part of the line here).
                newline = line.find("\n", i)
                if newline < 0:
                    i = end
                else:
                    linecount += 1
                    i = newline + 1
                continue
            if self.hdrin is True and first:
                found = _BREAK.search(line, i)
                stop = found.start() if found else end
                header += line[i:stop]
                template = self.template = self._legacy_clean(header, sep)
                first = False
                i = stop + 1
                continue
            if ch == quo:
                outside = not outside
                if i > 0 and line[i - 1] == quo and not outside:
                    cells[j] += '"'
            elif ch == sep and outside:
                store_cell(False, i)
                j += 1
                _set_at(cells, j, None if end - 1 == i else "")
            elif ch in ("\n", "\r") and outside:
                store_cell(True, i)
                if obj:
                    rows.append(obj)
                j, cells, obj, outside = 0, [""], {}, True
            else:
                # A run of ordinary characters at once (the same cells, fewer steps).
                run = plain.match(line, i)
                stop = run.end() if run else i + 1
                cells[j] += line[i:stop]
                i = stop
                continue
            i += 1
        if not outside:
            self.warn(BAD_CSV)
        store_cell(True, -1)
        if obj:
            rows.append(obj)
        columns = ",".join(f'"{v}"' if "," in v else v for v in template if v)
        if self.multi != "one" and has_parts and breaks <= 1:
            # Node-RED keeps only the last row of each part here.
            self._emit_rows(msg, [obj] if obj else [], columns, has_parts, breaks, last)
        else:
            self._emit_rows(msg, rows, columns, has_parts, breaks, last)


# ------------------------------------------------------------------ helpers
def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    return value if isinstance(value, str) else js_string(value)


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    """``text.split(/sep(?=(?:(?:[^"]*"){2})*[^"]*$)/)``: split at each separator
    followed by an even number of quotes, in linear time (the regular expression is
    quadratic, and a header row or ``msg.columns`` comes from outside)."""
    total = text.count('"')
    pieces: list[str] = []
    start = pos = seen = 0  # seen: quotes in text[:pos]
    width = len(sep)
    while True:
        hit = text.find(sep, pos)
        if hit < 0:
            break
        seen += text.count('"', pos, hit)
        inside = text.count('"', hit, hit + width)
        if (total - seen - inside) % 2 == 0:
            pieces.append(text[start:hit])
            start = pos = hit + width
            seen += inside
        else:
            seen += text[hit] == '"'
            pos = hit + 1
    pieces.append(text[start:])
    return pieces


def _set_at(items: list[Any], index: int, value: Any) -> None:
    """``items[index] = value`` with JavaScript's growing arrays."""
    while len(items) <= index:
        items.append(MISSING)
    items[index] = value


def _count_breaks(text: str, start: int) -> int:
    return text.count("\n", start) + text.count("\r", start)


def _gt0(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _greater(value: Any, than: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > than


def _at_least_last(index: Any, count: Any) -> bool:
    return bool(js_number(index) + 1 >= js_number(count))


def _is_last(parts: dict[str, Any]) -> bool:
    index, count = parts.get("index"), parts.get("count")
    return isinstance(index, int | float) and isinstance(count, int | float) \
        and index + 1 == count


def _row_value(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name, MISSING)
    if row is None:
        raise TypeError(f"Cannot read properties of null (reading '{name}')")
    if isinstance(row, list | tuple | bytes | bytearray):
        try:
            return row[int(name)] if name.isdigit() else MISSING
        except IndexError:
            return MISSING
    return MISSING


def _length(row: Any) -> int:
    """``row.length`` (0 where JavaScript has none); throws for null and undefined."""
    if row is None or row is MISSING:
        raise TypeError("Cannot read properties of null (reading 'length')")
    return len(row) if isinstance(row, list | tuple | str | bytes | bytearray) else 0


def _cell_at(row: Any, index: int) -> Any:
    """``row[index]`` for a row of the array-of-arrays form, whatever it holds."""
    if row is None or row is MISSING:
        raise TypeError(f"Cannot read properties of null (reading '{index}')")
    if isinstance(row, list | tuple | str | bytes | bytearray):
        return row[index] if index < len(row) else MISSING
    if isinstance(row, dict):
        return row.get(str(index), MISSING)
    return MISSING


def _keys_or_fail(row: Any) -> list[Any]:
    """``Object.keys(row)``, which throws for null and undefined."""
    if row is None or row is MISSING:
        raise TypeError("Cannot convert undefined or null to object")
    return _keys(row)
