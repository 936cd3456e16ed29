"""Which encoding a page's bytes are in, decided as browsers and w3lib decide it.

In order: a byte-order mark; the HTTP Content-Type charset; a <meta charset> or
<meta http-equiv="Content-Type"> near the top; bytes that read cleanly as UTF-8 (or nearly:
a few damaged sequences); then a statistical detector (charset-normalizer) over at most
64 KiB; and windows-1252, the web's legacy default, when the detector is not sure or finds
Western European text. Pure: bytes and a header in, a decision out.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

# How the encoding was decided, for tests and for anyone who wonders why a page reads so.
Decided = Literal["bom", "content-type", "meta", "ascii", "utf-8", "utf-8-damaged",
                  "detector", "default"]

DEFAULT = "cp1252"  # what browsers fall back to for most locales (WHATWG: windows-1252)

# The byte-order marks the HTML standard honours (UTF-32 is not among them).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,400}?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
# WHATWG Encoding: a label names the decoder browsers use, which is often a superset of the
# codec Python gives the same name (a page labelled gb2312 uses GBK, one labelled euc-kr
# uses windows-949, one labelled latin-1 uses windows-1252), and a <meta> naming UTF-16
# means UTF-8 (the bytes could not have been read as ASCII-compatible otherwise).
_LABEL_ALIASES = {
    "latin1": "windows-1252", "latin-1": "windows-1252", "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252", "iso_8859-1": "windows-1252", "l1": "windows-1252",
    "cp819": "windows-1252", "ascii": "windows-1252", "us-ascii": "windows-1252",
    "x-user-defined": "windows-1252", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
    "iso-8859-9": "windows-1254", "iso8859-9": "windows-1254", "latin5": "windows-1254",
    "tis-620": "windows-874", "iso-8859-11": "windows-874",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "korean": "cp949",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932", "big5": "big5hkscs",
}
_PRESCAN_BYTES = 4096
# What the detector reads: enough text to be sure, little enough to cost a few milliseconds.
DETECT_BYTES = 64 * 1024
# The encodings the detector may answer: those of the WHATWG Encoding standard (what a
# browser could read a page in). Without this list it proposes EBCDIC and DOS code pages
# for a page of Latin text.
_CANDIDATES = [
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp874", "cp866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
    "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic",
    "gb18030", "big5", "euc_jp", "cp932", "shift_jis", "euc_kr", "cp949",
]
# Multi-byte encodings: text that decodes strictly in one of these is evidence on its own.
_MULTI_BYTE = frozenset(codecs.lookup(n).name for n in (
    "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "euc_jp", "euc_jis_2004", "cp932",
    "shift_jis", "shift_jis_2004", "euc_kr", "cp949", "johab"))
_DEFAULT_NAME = codecs.lookup(DEFAULT).name
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_HIGH_BYTES = bytes(range(128, 256))
_REPLACEMENT_UTF8 = "\ufffd".encode()
# Two detector answers this close in mess and language fit are the same answer.
_TIE = 0.01


@dataclass(frozen=True, slots=True)
class CharsetDecision:
    """The codec to read a body with (a Python codec name) and how it was chosen."""

    encoding: str
    decided_by: Decided


def codec_name(label: str | None, *, from_meta: bool = False) -> str | None:
    """The Python codec for an encoding label, or None when unknown or not a text codec."""
    if not label:
        return None
    name = label.strip().lower()
    name = _LABEL_ALIASES.get(name, name)
    if from_meta and name.startswith("utf-16"):
        return "utf-8"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # rot13, base64, zlib... are codecs, not charsets
    return info.name


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1) if match else None


def decide_encoding(body: bytes, content_type: str | None = None) -> CharsetDecision:
    """How to read `body`, served with the Content-Type header `content_type`."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return CharsetDecision(name, "bom")
    declared = codec_name(charset_from_content_type(content_type))
    if declared:
        return CharsetDecision(declared, "content-type")
    match = _META_CHARSET.search(body, 0, _PRESCAN_BYTES)
    if match:
        declared = codec_name(match.group(1).decode("ascii", "replace"), from_meta=True)
        if declared:
            return CharsetDecision(declared, "meta")
    first = _HIGH_BYTE.search(body)
    if first is None:
        return CharsetDecision("utf-8", "ascii")
    # Every check below reads from the first non-ASCII byte on (markup before it says
    # nothing), and at most DETECT_BYTES of it.
    start = first.start()
    if _utf8_window_clean(body, start):
        return CharsetDecision("utf-8", "utf-8")
    if _mostly_utf8(body):
        return CharsetDecision("utf-8", "utf-8-damaged")
    detected = detect(body[start:start + DETECT_BYTES], cut=start + DETECT_BYTES < len(body))
    if detected is None:
        return CharsetDecision(_DEFAULT_NAME, "default")
    return CharsetDecision(detected, "detector")


def detect(sample: bytes, *, cut: bool = False) -> str | None:
    """The codec charset-normalizer finds `sample` in; None when it finds none or the
    answer is no better than windows-1252 (then the caller's default stands).

    :param cut: `sample` was cut from a longer body: its last characters may be torn, so
        it is read up to its last "<" or newline (never part of a multi-byte character).
    """
    if cut:
        end = max(sample.rfind(b"<"), sample.rfind(b"\n"))
        if end > 0:
            sample = sample[:end]
    # Imported here: 20 ms that only pages without a declared charset need.
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample, cp_isolation=_CANDIDATES, preemptive_behaviour=False,
                              enable_fallback=False))
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        # Latin text reads the same in several code pages (German in windows-1250 and -1252
        # alike): the detector's first pick among equals is arbitrary, the web's is 1252.
        if DEFAULT in match.could_be_from_charset and match.chaos <= best.chaos + _TIE \
                and match.coherence >= best.coherence - _TIE:
            return None
    name = codecs.lookup(best.encoding).name
    if name not in _MULTI_BYTE and best.coherence <= 0:
        # Single-byte text decodes in any code page; without a language it fits, the
        # detector's answer is a guess, and windows-1252 is the better one.
        return None
    return name


_UTF8_SAMPLE = DETECT_BYTES


def _utf8_window_clean(body: bytes, start: int) -> bool:
    """Whether the UTF8_SAMPLE bytes from `start` decode as UTF-8 without an error (a
    character cut at the window's end is fine, unless it is the body's end)."""
    end = start + _UTF8_SAMPLE
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body[start:end], final=end >= len(body))
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(body: bytes) -> bool:
    """Whether the bytes are UTF-8 with a few damaged sequences: legacy 8-bit text fails
    on nearly every high byte, damaged UTF-8 on a few of them."""
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count(_REPLACEMENT_UTF8)
    if bad <= 0:
        return True
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    return bad * 3 < high
