"""What Archive.save computes from a page before it touches the database: pure, so that a
crawl can do it in its parse workers, off the process that writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scraper.archive.blobs import DEFAULT_LEVEL, FIRST_COPY_LEVEL, FullCopy, full_copy
from scraper.compact_json import compact_json
from scraper.models import Page, content_hash_of, page_to_dict


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page and its body as the archive stores them.

    The full copies are made ahead only for a URL never stored before, whose first version
    has nothing to be a delta of; Archive.save uses them when they fit what it would make,
    and otherwise compresses as usual.
    """

    content_hash: str
    fields_json: bytes
    row: VersionRow
    body_copy: FullCopy | None = None
    fields_copy: FullCopy | None = None


@dataclass(frozen=True, slots=True)
class VersionRow:
    """What a new version's snapshot and links rows take of the page beyond plain columns."""

    categories: str  # JSON list
    infobox: str  # JSON list of [key, value]
    related: str  # JSON list of [url, title, kind]
    # JSON list of [url, kind, title], once each, in page order: the links table takes them
    # in one statement (json_each), not one per link.
    links: str


def version_row(page: Page) -> VersionRow:
    return VersionRow(
        compact_json(list(page.categories)).decode("utf-8"),
        compact_json([[k, v] for k, v in page.infobox]).decode("utf-8"),
        compact_json(page.related_items()).decode("utf-8"),
        compact_json(list(dict.fromkeys((link.url, link.kind, link.title)
                                        for link in page.links))).decode("utf-8"))


def fields_json(fields: dict[str, Any]) -> bytes:
    """The stored form of page_to_dict(page): compact UTF-8 JSON."""
    return compact_json(fields)


def encode_page(page: Page, body: bytes, *, first_version: bool,
                level: int = DEFAULT_LEVEL) -> EncodedPage:
    """The content hash and stored fields of `page`; with `first_version`, also the full
    copies of `body` and the fields at the level a page's first copy gets."""
    fields = page_to_dict(page)
    stored = fields_json(fields)
    content = content_hash_of(fields)
    if not first_version:
        return EncodedPage(content, stored, version_row(page))
    first_level = min(level, FIRST_COPY_LEVEL)
    return EncodedPage(content, stored, version_row(page), full_copy(body, first_level),
                       full_copy(stored, first_level))
