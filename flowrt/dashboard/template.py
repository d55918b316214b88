"""The template language of dashboard widgets: a small, safe subset of Angular's / Vue's.

What ``ui_text``'s ``format``, ``ui_gauge``'s ``format`` and ``ui_template``'s HTML may
contain:

- ``{{ msg.payload }}``, ``{{ msg.payload.temperature }}``, ``{{ msg.topic }}``,
  ``{{ value }}`` (a gauge's or numeric's value): the value as text, HTML-escaped. An
  object is shown as JSON; a missing value as nothing.
- filters after ``|``: ``number:N`` (N decimals), ``uppercase``, ``lowercase``, ``json``.
- ``ng-bind="msg.x"`` / ``v-text="msg.x"`` on an element: its content is the value as
  text; ``ng-bind-html="msg.x"`` / ``v-html="msg.x"``: the value as HTML, itself cleaned
  by the rules below.

Everything else is plain HTML, cleaned by an allow-list before it reaches a page: only
common layout, text, table, list, form-display, image and SVG elements; only their
presentational attributes (never ``on*`` handlers); links and images only to ``http:``,
``https:``, relative or ``data:image/`` addresses. ``<script>``, ``<style>``,
``<iframe>``, ``<object>``, ``<embed>`` and their content are removed, so a template's
script never runs. No Angular or Vue logic (``ng-repeat``, ``v-if``, ``ng-click``...):
those attributes are dropped.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import orjson

from flowrt.jsvalue import js_string
from flowrt.messages import get_property

_BINDING = re.compile(r"{{(.*?)}}", re.DOTALL)
_PATH = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\]|\[(['\"])[^'\"]*\1\])*$")

ALLOWED_TAGS = frozenset("""
a abbr b blockquote br caption code col colgroup dd del div dl dt em figcaption figure
h1 h2 h3 h4 h5 h6 hr i img ins kbd label li mark ol p pre progress meter q s small span
strong sub sup table tbody td tfoot th thead tr u ul svg g path circle ellipse line
polyline polygon rect text tspan
""".split())  # noqa: SIM905
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed",
                                  "template", "noscript", "frame", "frameset", "applet"})
ALLOWED_ATTRIBUTES = frozenset("""
class title alt width height colspan rowspan align valign style href src value max min
low high optimum dir lang role aria-label d cx cy r rx ry x y x1 y1 x2 y2 points fill
stroke stroke-width viewbox transform text-anchor font-size opacity
""".split())  # noqa: SIM905
VOID_TAGS = frozenset({"br", "hr", "img", "col"})
_BIND_TEXT = frozenset({"ng-bind", "v-text"})
_BIND_HTML = frozenset({"ng-bind-html", "v-html"})
_SAFE_URL = re.compile(r"^(https?:|data:image/(png|gif|jpe?g|webp);|[^:]*$)", re.IGNORECASE)
_UNSAFE_STYLE = re.compile(r"url\s*\(|expression\s*\(|javascript:|@import", re.IGNORECASE)


def value_text(value: Any) -> str:
    """A value as a template shows it: text as is, objects as JSON, missing as nothing."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return js_string(value)


def evaluate(expression: str, scope: dict[str, Any]) -> Any:
    """The value of one binding (``msg.payload | number:1``) in ``scope``."""
    expr, *filters = (part.strip() for part in expression.split("|"))
    value = _lookup(expr, scope)
    for spec in filters:
        name, _, arg = spec.partition(":")
        value = _filter(name.strip(), arg.strip().strip("'\""), value)
    return value


def render_text(fmt: str, scope: dict[str, Any]) -> str:
    """``fmt`` with its bindings replaced by their values as plain text (no HTML)."""
    return _BINDING.sub(lambda m: value_text(evaluate(m.group(1), scope)), fmt)


def render_html(template: str, scope: dict[str, Any]) -> str:
    """``template`` with its bindings filled in (escaped) and cleaned (module docstring)."""
    filled = _BINDING.sub(lambda m: html.escape(value_text(evaluate(m.group(1), scope))),
                          template)
    cleaner = _Cleaner(scope)
    cleaner.feed(filled)
    cleaner.close()
    return cleaner.result()


def clean_html(fragment: str) -> str:
    """``fragment`` cleaned by the allow-list (no bindings evaluated)."""
    cleaner = _Cleaner(None)
    cleaner.feed(fragment)
    cleaner.close()
    return cleaner.result()


def _lookup(expr: str, scope: dict[str, Any]) -> Any:
    if expr[:1] in "'\"" and expr[-1:] == expr[:1] and len(expr) >= 2:
        return expr[1:-1]
    if not _PATH.match(expr):
        return None
    head = re.split(r"[.\[]", expr, maxsplit=1)[0]
    if head not in scope:
        return None
    rest = expr[len(head):].lstrip(".")
    return scope[head] if not rest else get_property(scope[head], rest)


def _filter(name: str, arg: str, value: Any) -> Any:
    if name == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        digits = int(arg) if arg.isdigit() else 3
        return f"{number:,.{digits}f}"
    if name == "uppercase":
        return value_text(value).upper()
    if name == "lowercase":
        return value_text(value).lower()
    if name == "json":
        return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2).decode()
    return value


class _Cleaner(HTMLParser):
    """Re-emits allowed HTML only (see the module docstring)."""

    def __init__(self, scope: dict[str, Any] | None) -> None:
        super().__init__(convert_charrefs=True)
        self.scope = scope
        self.out: list[str] = []
        self.skip_depth = 0
        self.open: list[str] = []
        self.replaced: list[tuple[str, int]] = []
        """Elements whose content a binding replaced: (tag, depth in ``open``)."""

    def result(self) -> str:
        """The cleaned HTML, every element still open closed."""
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_depth or self.replaced:
            if tag in DROPPED_WITH_CONTENT and self.skip_depth:
                self.skip_depth += 1
            elif self.replaced and tag not in VOID_TAGS:
                self.open.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self.skip_depth = 1
            return
        binding = None
        kept = []
        for name, value in attrs:
            if name in _BIND_TEXT | _BIND_HTML and self.scope is not None:
                binding = (name, value or "")
            elif name in ALLOWED_ATTRIBUTES and _safe_attribute(name, value or ""):
                kept.append(f' {name}="{html.escape(value or "")}"')
        if tag not in ALLOWED_TAGS:
            return
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag in VOID_TAGS:
            return
        self.open.append(tag)
        if binding is not None and self.scope is not None:
            value = evaluate(binding[1], self.scope)
            self.out.append(clean_html(value_text(value)) if binding[0] in _BIND_HTML
                            else html.escape(value_text(value)))
            self.replaced.append((tag, len(self.open)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.open and self.open[-1] == tag and \
                not self.skip_depth and not (self.replaced and
                                             self.replaced[-1][1] < len(self.open)):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag in DROPPED_WITH_CONTENT:
                self.skip_depth -= 1
            return
        if tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            depth = len(self.open) + 1
            if self.replaced and self.replaced[-1][1] == depth:
                self.replaced.pop()
                self.out.append(f"</{top}>")
            elif not self.replaced and top in ALLOWED_TAGS:
                self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skip_depth and not self.replaced:
            self.out.append(html.escape(data, quote=False))


def _safe_attribute(name: str, value: str) -> bool:
    if name in ("href", "src"):
        return bool(_SAFE_URL.match(value.strip()))
    if name == "style":
        return not _UNSAFE_STYLE.search(value)
    return True
