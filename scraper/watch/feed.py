"""An Atom 1.0 feed of new versions (pure: records in, XML bytes out).

Each entry is one new version of a page (or a page gone), its gist as the title and summary
and the record-aware diff as HTML content. Entry ids are `tag:` URIs (RFC 4151) built only
from what never changes once a version is stored: the page's host and URL, the site, the
version number, its content hash and the day it was fetched. The same version therefore has
the same id in every later feed, whichever backend or copy of the archive it is read from,
and a feed reader never shows it twice.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

ATOM_NS = "http://www.w3.org/2005/Atom"
_A = f"{{{ATOM_NS}}}"

# An RFC 4151 DNSname: labels of letters, digits and inner hyphens. Hosts that are not one
# (an IPv6 literal) tag under this reserved name instead.
_DNS_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
_FALLBACK_AUTHORITY = "scraper.invalid"

# Characters XML 1.0 cannot carry at all, even escaped: C0 controls but tab and newlines,
# lone surrogates, U+FFFE and U+FFFF. Scraped text may hold them; a feed with one is not XML.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Characters a terminal obeys or that reorder text on screen (C1 controls, bidi marks and
# overrides): legal in XML, so they stay, but written as character references, so that the
# feed printed by `scraper changes --format atom` is safe on a terminal and reads the same.
_AS_REFERENCE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_TITLE_CHARS = 200  # an entry title beyond this is cut with an ellipsis


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry: a new version of a page (kind "changed" or "new"), or a page gone."""

    kind: str  # "changed" | "new" | "gone"
    site: str
    url: str
    title: str  # the page's title ("" when it has none)
    version: int  # the new version; for "gone", the page's last version
    content_hash: str  # the version's; "" for "gone"
    at: datetime  # when the version was fetched, or the page found gone
    gist: str  # one line: what changed
    content_html: str  # an HTML fragment (the diff); escaped again inside the feed


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What the feed says about itself."""

    feed_id: str
    title: str
    updated: datetime  # used when there are no entries; else the newest entry's time
    self_url: str | None = None
    generator_version: str = ""


def entry_id(entry: FeedEntry) -> str:
    """The entry's stable `tag:` URI (see the module docstring)."""
    host = (urlsplit(entry.url).hostname or "").lower()
    authority = host if _DNS_NAME.match(host) else _FALLBACK_AUTHORITY
    day = entry.at.astimezone(UTC).strftime("%Y-%m-%d")
    which = f"v{entry.version}"
    if entry.kind == "gone":
        which = f"gone-after-v{entry.version}"
    elif entry.content_hash:
        which += f"-{entry.content_hash[:16]}"
    return f"tag:{authority},{day}:{quote(entry.site, safe='')}/{which}/{quote(entry.url, safe='')}"


def feed_id(self_url: str | None, archive: str, site: str | None) -> str:
    """The feed's id: its own URL when it is served at one, else a UUID named by the archive
    and the site filter (so that the same command on the same archive keeps its id)."""
    if self_url:
        return self_url
    name = f"scraper-feed\n{archive}\n{site or ''}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def entry_title(entry: FeedEntry) -> str:
    name = entry.title or entry.url
    if entry.kind == "new":
        text = f"New page: {name}"
    elif entry.kind == "gone":
        text = f"Gone: {name}"
    else:
        text = f"{name}: {entry.gist}"
    return text if len(text) <= _TITLE_CHARS else text[:_TITLE_CHARS - 1] + "…"


def build_atom(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    """The feed as UTF-8 XML, entries in the order given (newest first is what readers
    expect). Text that XML cannot hold is replaced by U+FFFD."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{_A}feed")
    _text(feed, "id", info.feed_id)
    _text(feed, "title", info.title)
    updated = max((e.at for e in entries), default=info.updated)
    _text(feed, "updated", rfc3339(updated))
    if info.self_url:
        ET.SubElement(feed, f"{_A}link", rel="self", type="application/atom+xml",
                      href=_xml_safe(info.self_url))
    author = ET.SubElement(feed, f"{_A}author")
    _text(author, "name", "scraper")
    generator = _text(feed, "generator", "scraper")
    if info.generator_version:
        generator.set("version", _xml_safe(info.generator_version))
    for entry in entries:
        _entry(feed, entry)
    ET.indent(feed, space="  ")
    xml: str = ET.tostring(feed, encoding="unicode")
    xml = _AS_REFERENCE.sub(lambda m: f"&#x{ord(m.group()):x};", xml)
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + xml.encode("utf-8") + b"\n"


def _entry(feed: ET.Element, entry: FeedEntry) -> None:
    node = ET.SubElement(feed, f"{_A}entry")
    _text(node, "id", entry_id(entry))
    _text(node, "title", entry_title(entry))
    _text(node, "updated", rfc3339(entry.at))
    _text(node, "published", rfc3339(entry.at))
    # Scraped URLs are data: only http(s) ones become links (no javascript: or data:).
    if entry.url.startswith(("http://", "https://")):
        ET.SubElement(node, f"{_A}link", rel="alternate", type="text/html",
                      href=_xml_safe(entry.url))
    ET.SubElement(node, f"{_A}category", term=_xml_safe(entry.site or "-"))
    _text(node, "summary", entry.gist)
    if entry.content_html:
        # type="html": the fragment travels as escaped text, which ElementTree does; the
        # reader unescapes it once and renders (and sanitises) the HTML.
        _text(node, "content", entry.content_html).set("type", "html")


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, f"{_A}{tag}")
    child.text = _xml_safe(text)
    return child


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def rfc3339(when: datetime) -> str:
    """An aware datetime as Atom's date-time, in UTC to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
