"""Helpers shared by the parsers: decoding bodies, normalising text, reading the <head>."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser, LexborNode

from scraper.parse.bounds import check_markup_bounds

# The byte-order marks the HTML standard honours (UTF-32 is not among them).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,400}?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
# WHATWG Encoding: these labels mean windows-1252, and a <meta> naming UTF-16 means UTF-8
# (the bytes could not have been read as ASCII-compatible otherwise).
_LABEL_ALIASES = {
    "latin1": "windows-1252", "latin-1": "windows-1252", "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252", "iso_8859-1": "windows-1252", "l1": "windows-1252",
    "cp819": "windows-1252", "ascii": "windows-1252", "us-ascii": "windows-1252",
    "x-user-defined": "windows-1252", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}
_PRESCAN_BYTES = 4096
_HIGH_BYTES = bytes(range(128, 256))
_REPLACEMENT_UTF8 = "\ufffd".encode()

HtmlInput = str | bytes


def _codec(label: str | None, *, from_meta: bool = False) -> str | None:
    """The Python codec name for an encoding label, or None when unknown or not a text codec."""
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


def sniff_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec to read `body` with: BOM, HTTP charset, <meta> charset, then a guess."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    declared = _codec(charset_from_content_type(content_type))
    if declared:
        return declared
    match = _META_CHARSET.search(body, 0, _PRESCAN_BYTES)
    if match:
        declared = _codec(match.group(1).decode("ascii", "replace"), from_meta=True)
        if declared:
            return declared
    if body.isascii():
        return "utf-8"
    return "utf-8" if _mostly_utf8(body) else "cp1252"


_UTF8_SAMPLE = 65536
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _mostly_utf8(body: bytes) -> bool:
    """False when the bytes fail as UTF-8 badly: most high bytes are not part of a sequence."""
    first = _HIGH_BYTE.search(body)
    if first is None:
        return True
    # 64 KiB from the first non-ASCII byte that decode cleanly settle it without reading
    # the whole page (a character cut at the window's end is fine, unless it is the end).
    end = first.start() + _UTF8_SAMPLE
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body[first.start(): end],
                                                       final=end >= len(body))
    except UnicodeDecodeError:
        pass
    else:
        return True
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count(_REPLACEMENT_UTF8)
    if bad <= 0:
        return True
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    # Latin-1 text fails on nearly every high byte; damaged UTF-8 on a few of them.
    return bad * 3 < high


def decode_body(body: bytes, content_type: str | None = None) -> tuple[HtmlInput, str]:
    """The body ready for Lexbor, and the codec chosen.

    UTF-8 bytes are handed over as they are (Lexbor reads them as UTF-8 and replaces bad
    sequences with U+FFFD, as errors="replace" would), which saves decoding large pages
    twice; anything else is decoded here with errors="replace".
    """
    encoding = sniff_encoding(body, content_type)
    if encoding == "utf-8":
        return (body[3:] if body.startswith(b"\xef\xbb\xbf") else body), encoding
    try:
        text = body.decode(encoding, "replace")
    except Exception:  # noqa: BLE001 (a codec that misbehaves on odd input stays inside)
        return body, "utf-8"
    text = text.removeprefix("\ufeff")
    return text, encoding


def make_tree(body: bytes, content_type: str | None = None, *,
              url: str = "") -> LexborHTMLParser:
    """The page's tree. Raises ParseError for markup whose tree would take unbounded time
    to build (scraper.parse.bounds)."""
    data, _ = decode_body(body, content_type)
    check_markup_bounds(data, url)
    # scripting=True: a <noscript> in <head> stays one text node instead of closing <head>.
    # WO_EVENTS: no DOM mutation callbacks while the tree is built (4% of the parse); they
    # only copy a selected <option> into a <selectedcontent>, which no parser reads.
    return LexborHTMLParser(data, scripting=True, options=LexborDocumentOptions.WO_EVENTS)


# ---------------------------------------------------------------- text

_WORD = re.compile(r"\w")


def has_words(*texts: str) -> bool:
    """True when any text holds a letter or digit: punctuation alone is not content."""
    return any(_WORD.search(text[:4000]) for text in texts if text)


def norm(text: str | None) -> str:
    """Whitespace collapsed to single spaces, trimmed."""
    if not text:
        return ""
    # Most text needs only trimming (a paragraph's text often ends with a line break),
    # and a few scans cost a fraction of splitting a long paragraph into words. ASCII
    # white space but " " is \t\n\v\f\r and \x1c-\x1f: looking for each (memchr) costs
    # less than isprintable() on a long text; elsewhere, all white space but " " is
    # unprintable.
    text = text.strip()
    if len(text) > 48 and text.isascii():
        if "\n" in text or "  " in text or "\t" in text or "\r" in text or "\x0c" in text \
                or "\x0b" in text or "\x1c" in text or "\x1d" in text or "\x1e" in text \
                or "\x1f" in text:
            return " ".join(text.split())
        return text
    if text.isprintable() and "  " not in text:
        return text
    return " ".join(text.split())


def node_text(node: LexborNode | None) -> str:
    return norm(node.text()) if node is not None else ""


def attr(node: LexborNode | None, name: str) -> str:
    """An attribute's value, "" when absent (or when the node is not an element)."""
    if node is None:
        return ""
    value = node.attributes.get(name)  # ({} for a node that is no element)
    return value if value else ""


def class_tokens(node: LexborNode) -> list[str]:
    return attr(node, "class").split()


# ---------------------------------------------------------------- <head>

@dataclass(slots=True)
class Head:
    """What a page's <head> declares: title, metas (by name/property), links (by rel), base."""

    title: str = ""
    meta: dict[str, list[str]] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    base_href: str | None = None
    og_images: list[tuple[str, int | None]] = field(default_factory=list)  # (url, width)
    scripts: list[str] = field(default_factory=list)  # inline script texts

    def first(self, *keys: str) -> str:
        for key in keys:
            values = self.meta.get(key)
            if values:
                for value in values:
                    if value.strip():
                        return value.strip()
        return ""

    def link(self, rel: str) -> str:
        hrefs = self.links.get(rel)
        return hrefs[0] if hrefs else ""


def read_head(tree: LexborHTMLParser, *, scripts: bool = False) -> Head:
    """One pass over the <head>'s children (metas, links, title, base, inline scripts)."""
    head = Head()
    node = tree.head
    if node is None:
        return head
    for child in node.iter():
        tag = child.tag
        if tag == "meta":
            attrs = child.attributes
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") \
                or attrs.get("http-equiv")
            content = attrs.get("content")
            if key and content is not None:
                key = key.strip().lower()
                head.meta.setdefault(key, []).append(content)
                if key in ("og:image", "og:image:url", "og:image:secure_url") and content.strip():
                    head.og_images.append((content.strip(), None))
                elif key == "og:image:width" and head.og_images:
                    url, _ = head.og_images[-1]
                    width = content.strip()
                    head.og_images[-1] = (url, int(width) if width.isdigit() else None)
        elif tag == "link":
            attrs = child.attributes  # (a dict: attrs.get() raises inside when missing)
            rel = attrs.get("rel")
            href = attrs.get("href")
            if rel and href:
                for token in rel.lower().split():
                    head.links.setdefault(token, []).append(href.strip())
        elif tag == "title":
            if not head.title:
                head.title = norm(child.text())
        elif tag == "base":
            if head.base_href is None and child.attributes.get("href"):
                head.base_href = (child.attributes.get("href") or "").strip()
        elif tag == "script" and scripts and not child.attributes.get("src"):
            head.scripts.append(child.text())
    if not head.title:
        title = tree.css_first("title")
        if title is not None:
            head.title = norm(title.text())
    return head
