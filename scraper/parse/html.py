"""Helpers shared by the parsers: decoding bodies, normalising text, reading the <head>."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser, LexborNode

from scraper.parse.bounds import check_markup_bounds
from scraper.parse.charset import decide_encoding

HtmlInput = str | bytes


def sniff_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec to read `body` with (see scraper.parse.charset for how it is decided)."""
    return decide_encoding(body, content_type).encoding


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
