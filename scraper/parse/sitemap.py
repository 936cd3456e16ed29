"""Sitemap documents (sitemaps.org): bytes + URL -> the URLs or child sitemaps they list (pure).

A urlset or a sitemap index, plain or gzip (known by its first bytes, whatever the name or
the Content-Type say), is read as a stream: the gzip is inflated a slice at a time into
lxml's pull parser, and each <url> or <sitemap> element is dropped once read, so neither a
compression bomb nor a 50,000-entry file is ever held whole beyond its body. The caps are
the protocol's: 50,000 entries and 50 MB uncompressed per file.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from scraper.errors import ParseError

__all__ = ["MAX_SITEMAP_BYTES", "MAX_SITEMAP_ENTRIES", "Sitemap", "SitemapEntry",
           "parse_sitemap", "parse_w3c_datetime"]

MAX_SITEMAP_ENTRIES = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_SLICE = 256 * 1024  # bytes inflated, and fed to the parser, per step
_KINDS = {"urlset": ("urlset", "url"), "sitemapindex": ("index", "sitemap")}


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    url: str  # the <loc> as written (whitespace stripped), not normalised
    lastmod: datetime | None = None  # UTC; None when absent or unreadable


@dataclass(frozen=True, slots=True)
class Sitemap:
    """One sitemap file: `kind` "urlset" (pages) or "index" (child sitemaps)."""

    url: str
    kind: str
    entries: tuple[SitemapEntry, ...]
    truncated: bool = False  # more than max_entries: those past the cap were not read
    bad_lastmods: int = 0  # entries kept without their lastmod, which was not a W3C datetime
    bad_locs: int = 0  # entries dropped: no <loc>, or not an absolute http(s) URL


def parse_sitemap(body: bytes, url: str, *, max_entries: int = MAX_SITEMAP_ENTRIES,
                  max_bytes: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """The entries of one sitemap file. Raises ParseError (naming `url`) for a body that is
    not a sitemap: not XML, another root element, a broken gzip, over `max_bytes` once
    inflated. Past `max_entries` the rest is ignored and the result says `truncated`."""
    if not body.strip():
        raise ParseError(url, "not a sitemap: the body is empty")
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False,
                                 no_network=True, huge_tree=False, remove_comments=True,
                                 remove_pis=True)
    root: etree._Element | None = None
    kind = entry_tag = ""
    entries: list[SitemapEntry] = []
    bad_lastmods = bad_locs = 0
    try:
        for chunk in _xml_bytes(body, url, max_bytes):
            parser.feed(chunk)
            for event, found in parser.read_events():
                if not isinstance(found, etree._Element):
                    continue  # only start and end events were asked for
                elem = found
                if root is None:
                    root = elem
                    kind, entry_tag = _kind_of(elem, url)
                    continue
                if event != "end" or elem.getparent() is not root:
                    continue
                if _local(elem.tag) == entry_tag:
                    if len(entries) >= max_entries:
                        return Sitemap(url, kind, tuple(entries), True, bad_lastmods, bad_locs)
                    entry, bad_lastmod = _entry(elem)
                    bad_lastmods += bad_lastmod
                    if entry is None:
                        bad_locs += 1
                    else:
                        entries.append(entry)
                # Read: drop it and what came before, so memory stays flat.
                elem.clear()
                while elem.getprevious() is not None:
                    del root[0]
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise ParseError(url, f"not a well-formed sitemap: {_syntax_reason(exc)}") from None
    if root is None:
        raise ParseError(url, "not a sitemap: the body is empty")
    return Sitemap(url, kind, tuple(entries), False, bad_lastmods, bad_locs)


def _xml_bytes(body: bytes, url: str, max_bytes: int) -> Iterator[bytes]:
    """The document's bytes in slices: inflated when `body` is gzip, never more than
    `max_bytes` in all."""
    if not body.startswith(GZIP_MAGIC):
        if len(body) > max_bytes:
            raise ParseError(url, f"sitemap is {len(body):,} bytes, over the sitemaps "
                                  f"protocol's cap of {max_bytes:,}")
        for start in range(0, len(body), _SLICE):
            yield body[start:start + _SLICE]
        return
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    produced = 0
    try:
        for start in range(0, len(body), _SLICE):
            data = body[start:start + _SLICE]
            while True:
                room = min(_SLICE, max_bytes - produced + 1)
                piece = inflater.decompress(data, room)
                produced += len(piece)
                if produced > max_bytes:
                    raise ParseError(url, f"gzip sitemap inflates to more than {max_bytes:,}"
                                          " bytes, the sitemaps protocol's cap (a compression"
                                          " bomb?); not read")
                if piece:
                    yield piece
                data = inflater.unconsumed_tail
                if not data and len(piece) < room:
                    break
            if inflater.eof:
                break
    except zlib.error as exc:
        raise ParseError(url, f"gzip sitemap does not inflate: {exc}") from None
    if not inflater.eof:
        raise ParseError(url, "gzip sitemap is cut short (the compressed stream does not end)")


def _kind_of(root: etree._Element, url: str) -> tuple[str, str]:
    name = _local(root.tag)
    found = _KINDS.get(name)
    if found is None:
        raise ParseError(url, f"not a sitemap: the root element is <{name}>, expected "
                              "<urlset> or <sitemapindex>")
    return found


def _entry(elem: etree._Element) -> tuple[SitemapEntry | None, int]:
    """The entry of one <url> or <sitemap> element (None without a usable <loc>), and 1 when
    its lastmod was given but unreadable."""
    loc = lastmod_text = None
    for child in elem:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        if name == "loc":
            loc = (child.text or "").strip()
        elif name == "lastmod":
            lastmod_text = (child.text or "").strip()
    lastmod = parse_w3c_datetime(lastmod_text) if lastmod_text else None
    bad_lastmod = int(bool(lastmod_text) and lastmod is None)
    if not loc or not re.match(r"(?i)https?://[^/?#\s]", loc):
        return None, bad_lastmod
    return SitemapEntry(loc, lastmod), bad_lastmod


def _local(tag: str) -> str:
    # Any namespace: sitemaps in the wild use the 0.9 one, Google's old 0.84 one, or none.
    return tag.rpartition("}")[2]


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    text = str(exc.msg or exc).strip()
    if len(text) > 200:
        text = text[:200] + "..."
    line = f" (line {exc.lineno})" if exc.lineno and "line" not in text else ""
    return f"{text}{line}"


# W3C Date and Time Formats (the sitemaps protocol's lastmod): YYYY, YYYY-MM, YYYY-MM-DD,
# then hh:mm, hh:mm:ss or hh:mm:ss.s with a zone (Z or +hh:mm). Sites also write a space for
# the T, +hhmm, or no zone (read as UTC): taken too.
_W3C = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?")


def parse_w3c_datetime(text: str) -> datetime | None:
    """A lastmod as an aware UTC datetime (a year or a date means its first instant), or
    None when it is not a W3C datetime or names no real instant."""
    match = _W3C.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = UTC
        if zone and zone != "Z":
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            tz = timezone(-offset if zone[0] == "-" else offset)
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        when = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                        int(minute or 0), int(second or 0), micro, tzinfo=tz)
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
