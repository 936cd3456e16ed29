"""The built-in site's small pages (home, robots.txt, categories, 404) and the listing renderer."""

from __future__ import annotations

import struct
from html import escape

from scraper.testsite.content import MARKUPS, SITE_NAME, SiteModel, info_path, related_path
from scraper.testsite.markups import RENDERERS

ROBOTS_TXT = (
    b"# robots.txt of the built-in encyclopedia site\n"
    b"User-agent: *\n"
    b"Disallow: /private/\n"
    b"Disallow: /w/\n"
    b"Disallow: /_control/\n"
)


def render_listing(model: SiteModel, slug: str, page: int = 1, markup: str = "divs",
                   footer_note: str = "") -> bytes:
    """A listing page (/related/<slug>?page=N) in one of the MARKUPS, as UTF-8 bytes.

    All markups show the same text and links (see markups.py). KeyError for an unknown
    topic or page number, ValueError for an unknown markup.
    """
    if markup not in RENDERERS:
        raise ValueError(f"unknown markup {markup!r}: expected one of {', '.join(MARKUPS)}")
    view = model.listing(model.find(slug), page)
    return RENDERERS[markup](view, footer_note).encode("utf-8")


def _simple(title: str, body_html: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
            f"{body_html}\n</body>\n</html>\n").encode()


def render_home(model: SiteModel) -> bytes:
    first = model.slugs[0]
    return _simple(
        f"{SITE_NAME} mirror",
        f"<p>A mirror of {model.pages} encyclopedia topics. Start with "
        f'<a href="{related_path(first)}">{escape(model.titles[0])} (related items)</a> or '
        f'read the article <a href="{info_path(first)}">{escape(model.titles[0])}</a>.</p>')


def render_category(model: SiteModel, name: str) -> bytes:
    """A category page listing its topics' articles (every topic is generated to find them)."""
    members = model.category_members(name)
    if not members:
        raise KeyError(f"no category {name!r}")
    items = "".join(f'<li><a href="{info_path(s)}">{escape(model.titles[model.index[s]])}</a></li>'
                    for s in members)
    return _simple(f"Category:{name}", f"<ul>{items}</ul>")


def render_plain(title: str, text: str) -> bytes:
    """A small page for paths outside the encyclopedia (/private/, /offsite/, /w/)."""
    return _simple(title, f'<p>{escape(text)}</p>\n<p><a href="/">Main page</a></p>')


def render_not_found(path: str, hint: str = "") -> bytes:
    more = f"\n<p>{escape(hint)}</p>" if hint else ""
    return _simple("Not Found", f"<p>There is no page at {escape(path)}.</p>{more}")


def tiny_jpeg() -> bytes:
    """A valid 1x1 grey baseline JPEG (all its Huffman tables have a single one-bit code)."""
    def seg(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"
    return (b"\xff\xd8"
            + seg(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + seg(0xFFDB, b"\x00" + b"\x01" * 64)
            + seg(0xFFC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
            + seg(0xFFC4, b"\x00" + one_code) + seg(0xFFC4, b"\x10" + one_code)
            + seg(0xFFDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x3f\xff\xd9")  # DC "0" (no change), AC "0" (end of block), padded with ones


TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")
