"""JavaScript regular expressions and ``String.replace`` patterns, in Python's ``re``.

Node-RED flows carry JavaScript regexes (switch ``regex`` rules, change ``re``
values): :func:`js_regex` compiles one (flags ``i``, ``m``, ``s``; ``(?<name>...)``
groups), and :func:`js_replacer` turns a JavaScript replacement string (``$1``,
``$&``, ``$<name>``...) into a ``re.sub`` replacement function.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


@lru_cache(maxsize=256)
def js_regex(pattern: str, flags: str = "") -> re.Pattern[str]:
    """Compile a JavaScript regular expression (``i``/``m``/``s`` flags, ``(?<name>...)``).

    Raises ``re.error`` for a pattern Python cannot compile.
    """
    py_flags = 0
    for flag in flags:
        py_flags |= _FLAGS.get(flag, 0)
    return re.compile(_NAMED_GROUP.sub("(?P<", pattern), py_flags)


_REPLACEMENT = re.compile(r"\$(\$|&|`|'|\d{1,2}|<[^>]*>)")


def js_replacer(template: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement function for a JavaScript replacement string.

    ``$1``..``$99``, ``$&``, ``$<name>``, ``` $` ```, ``$'`` and ``$$`` mean what they
    mean in JavaScript's ``String.replace``; everything else is literal.
    """
    if "$" not in template:
        return lambda match: template
    pieces = _REPLACEMENT.split(template)

    def replace(match: re.Match[str]) -> str:
        out = []
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                out.append(piece)
            elif piece == "$":
                out.append("$")
            elif piece == "&":
                out.append(match.group(0))
            elif piece == "`":
                out.append(match.string[: match.start()])
            elif piece == "'":
                out.append(match.string[match.end():])
            elif piece.startswith("<"):
                name = piece[1:-1]
                out.append(match.groupdict().get(name) or "" if match.re.groupindex
                           else f"$<{name}>")
            else:
                out.append(_group_text(match, piece))
        return "".join(out)

    return replace


def _group_text(match: re.Match[str], digits: str) -> str:
    count = match.re.groups
    if int(digits) <= count and int(digits) > 0:
        return match.group(int(digits)) or ""
    if len(digits) == 2 and 0 < int(digits[0]) <= count:
        return (match.group(int(digits[0])) or "") + digits[1]
    return "$" + digits
