"""Text encodings by Node-RED's names (iconv-lite), for the ``file`` and ``file in`` nodes.

:func:`encode_text` and :func:`decode_bytes` take the names Node-RED's file nodes
offer (``"utf8"``, ``"Shift_JIS"``, ``"cp1252"``, ``"base64"``...) and behave as
iconv-lite does: a character the encoding lacks is written as ``?``, bytes that do
not decode become U+FFFD, and decoding drops a leading byte-order mark. ``"none"``
is UTF-8 without those extras (Node's ``Buffer.from(text)`` / ``buffer.toString()``).

Python has no codec for some of iconv-lite's single-byte encodings:
:data:`UNAVAILABLE` lists them, and :func:`check_encoding` says so by name.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Callable

Decoder = Callable[[bytes, bool], str]
"""``decode(chunk, final)`` → the text of ``chunk`` (a partial character waits for more)."""

# iconv-lite's name (lowercased, non-alphanumerics removed) → Python's codec.
_CODECS: dict[str, str] = {
    "utf8": "utf-8", "ucs2": "utf-16-le", "utf16le": "utf-16-le", "utf16be": "utf-16-be",
    "shiftjis": "shift_jis", "windows31j": "cp932", "windows932": "cp932",
    "eucjp": "euc_jp",
    # iconv-lite decodes GB2312, EUC-CN and Windows936 as cp936 (= GBK).
    "gb2312": "gbk", "gbk": "gbk", "windows936": "gbk", "euccn": "gbk", "gb18030": "gb18030",
    # ... and KS_C_5601, EUC-KR as cp949; Big5 as Big5-HKSCS.
    "ksc5601": "cp949", "windows949": "cp949", "euckr": "cp949",
    "big5": "big5hkscs", "big5hkscs": "big5hkscs", "windows950": "cp950",
    "maccroatian": "mac_croatian", "maccyrillic": "mac_cyrillic", "macgreek": "mac_greek",
    "maciceland": "mac_iceland", "macroman": "mac_roman", "macromania": "mac_romanian",
    "macturkish": "mac_turkish", "maccenteuro": "mac_latin2", "macintosh": "mac_roman",
    "koi8r": "koi8_r", "koi8u": "koi8_u", "koi8t": "koi8_t",
    "rk1048": "kz1048", "pt154": "ptcp154", "tis620": "tis_620",
}
for _n in (874, *range(1250, 1259), 437, 737, 775, 850, 852, 855, 856, 857, 858, 860, 861,
           866, 869, 1125):
    _CODECS[f"cp{_n}"] = f"cp{_n}"
for _n in (*range(1, 12), 13, 14, 15, 16):
    _CODECS[f"iso8859{_n}"] = f"iso8859_{_n}"

UNAVAILABLE = frozenset({
    "cp808", "cp922", "cp1046", "cp1124", "cp1129", "cp1133", "cp1161", "cp1162", "cp1163",
    "macthai", "macukraine", "koi8-ru", "armscii8", "tcvn", "georgianacademy", "georgianps",
    "viscii", "iso646cn", "iso646jp", "hproman8", "ISO-8859-12",
})
"""Node-RED's encodings (as its editor spells them) that Python has no codec for."""

_NODE_BUFFER = frozenset({"binary", "latin1", "ascii", "base64", "hex"})


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def check_encoding(name: str) -> None:
    """Raise ValueError naming ``name`` when it is not an encoding flowrt can use."""
    key = _normal(name)
    if name == "none" or key in _NODE_BUFFER or key in _CODECS:
        return
    if key in {_normal(n) for n in UNAVAILABLE}:
        raise ValueError(f"encoding {name!r} is not available in flowrt "
                         "(Python has no codec for it)")
    raise ValueError(f"unknown encoding {name!r}")


def encode_text(text: str, name: str) -> bytes:
    """``text`` as bytes in encoding ``name`` (iconv-lite's ``encode``)."""
    if name == "none":
        return text.encode("utf-8", "surrogatepass")
    key = _normal(name)
    if key in ("binary", "latin1", "ascii"):
        # Node keeps the low byte of each UTF-16 unit.
        return bytes(ord(c) & 0xFF for c in text) if not text.isascii() else text.encode()
    if key == "base64":
        return _base64_bytes(text)
    if key == "hex":
        return _hex_bytes(text)
    check_encoding(name)
    return text.encode(_CODECS[key], "replace")


def decode_bytes(data: bytes, name: str, final: bool = True) -> str:
    """``data`` as text in encoding ``name`` (iconv-lite's ``decode``)."""
    return new_decoder(name)(data, final)


def new_decoder(name: str) -> Decoder:
    """An incremental decoder (``decode(chunk, final)``) for a file read in pieces."""
    if name == "none":
        return codecs.getincrementaldecoder("utf-8")("replace").decode
    key = _normal(name)
    if key in _NODE_BUFFER:
        return _Decode(key)
    check_encoding(name)
    inner = codecs.getincrementaldecoder(_CODECS[key])("replace").decode
    return _StripBom(inner)


class _StripBom:
    """Drops a byte-order mark at the very start, as iconv-lite's decoders do."""

    def __init__(self, inner: Decoder) -> None:
        self._inner = inner
        self._start = True

    def __call__(self, data: bytes, final: bool = False) -> str:
        text: str = self._inner(data, final)
        if self._start and text:
            self._start = False
            if text[0] == "\ufeff":
                text = text[1:]
        return text


class _Decode:
    """Node's own Buffer encodings, which need no state between chunks except base64."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._rest = b""

    def __call__(self, data: bytes, final: bool = False) -> str:
        key = self._key
        if key in ("binary", "latin1"):
            return data.decode("latin-1")
        if key == "ascii":
            return bytes(b & 0x7F for b in data).decode("ascii")
        if key == "hex":
            return data.hex()
        data, self._rest = self._rest + data, b""
        if not final:
            cut = len(data) - len(data) % 3
            data, self._rest = data[:cut], data[cut:]
        return base64.b64encode(data).decode("ascii")


def _base64_bytes(text: str) -> bytes:
    """Node's lenient base64 (and base64url) decoding: other characters are skipped,
    text ends at the first ``=``."""
    text = text.split("=", 1)[0].replace("-", "+").replace("_", "/")
    text = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(text) % 4 == 1:
        text = text[:-1]
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _hex_bytes(text: str) -> bytes:
    """Node's hex decoding: pairs of hex digits up to the first that is not one."""
    match = re.match(r"(?:[0-9a-fA-F]{2})*", text)
    try:
        return binascii.unhexlify(match.group(0) if match else "")
    except binascii.Error:  # pragma: no cover - the pattern allows only pairs
        return b""
