"""Pure record building: (site, Snapshot, Page) into rows of the pages, entries, links datasets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scraper.models import Entry, Page, Snapshot, VersionSummary

RECORD_KINDS: tuple[str, ...] = ("pages", "entries", "links")

# A page's `related` column lists the links of RELATED_KINDS (scraper.models); the other kinds
# (more_info, internal, search, ...) are in the links dataset.


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a dataset. `type` is one of COLUMN_TYPES; writers map it to their own types."""

    name: str
    type: str


# string, bool, int and timestamp are scalars (None allowed); the rest are lists:
# strings: list of str; links: list of {url, title, kind}; pairs: list of {key, value};
# search_links: list of {name, url}.
COLUMN_TYPES: tuple[str, ...] = ("string", "bool", "int", "timestamp", "strings", "links",
                                 "pairs", "search_links")
NESTED_TYPES: frozenset[str] = frozenset({"strings", "links", "pairs", "search_links"})

PAGE_COLUMNS: tuple[Column, ...] = (
    Column("url", "string"),
    Column("site", "string"),
    Column("kind", "string"),
    Column("title", "string"),
    Column("summary", "string"),
    Column("summary_truncated", "bool"),
    Column("related", "links"),
    Column("categories", "strings"),
    Column("infobox", "pairs"),
    Column("revision_id", "int"),
    Column("version", "int"),
    Column("fetched_at", "timestamp"),
    Column("content_hash", "string"),
)
TEXT_COLUMN = Column("text", "string")

ENTRY_COLUMNS: tuple[Column, ...] = (
    Column("site", "string"),
    Column("more_info", "string"),
    Column("title", "string"),
    Column("summary", "string"),
    Column("summary_truncated", "bool"),
    Column("image", "string"),
    Column("related", "string"),
    Column("search_links", "search_links"),
    Column("listing_pages", "strings"),
)

LINK_COLUMNS: tuple[Column, ...] = (
    Column("site", "string"),
    Column("source", "string"),
    Column("target", "string"),
    Column("kind", "string"),
    Column("anchor", "string"),
    Column("version", "int"),
    Column("fetched_at", "timestamp"),
)


def columns_for(records: str, *, with_text: bool = False) -> tuple[Column, ...]:
    """The columns of a dataset, in output order."""
    if records == "pages":
        return PAGE_COLUMNS + ((TEXT_COLUMN,) if with_text else ())
    if records == "entries":
        return ENTRY_COLUMNS
    if records == "links":
        return LINK_COLUMNS
    raise ValueError(f"unknown record kind {records!r}; expected one of {', '.join(RECORD_KINDS)}")


def summary_record(version: VersionSummary) -> dict[str, Any]:
    """One row of the pages dataset, without the text."""
    return {
        "url": version.url,
        "site": version.site,
        "kind": version.kind,
        "title": version.title,
        "summary": version.summary,
        "summary_truncated": version.summary_truncated,
        "related": [{"url": u, "title": t, "kind": k} for u, t, k in version.related],
        "categories": list(version.categories),
        "infobox": [{"key": k, "value": v} for k, v in version.infobox],
        "revision_id": version.revision_id,
        "version": version.version,
        "fetched_at": version.fetched_at,
        "content_hash": version.content_hash,
    }


def page_record(site: str, snap: Snapshot, page: Page, *, with_text: bool = False
                ) -> dict[str, Any]:
    """One row of the pages dataset; `url` is the archive's key for the page (the snapshot's),
    and the snapshot's revision id wins over the parsed one."""
    record = summary_record(VersionSummary.of(site, snap, page))
    if with_text:
        record["text"] = page.text
    return record


def link_records(site: str, snap: Snapshot, page: Page) -> Iterator[dict[str, Any]]:
    """The rows of the links dataset for one version: every link the parser found, in page order."""
    for link in page.links:
        yield {
            "site": site,
            "source": snap.url,
            "target": link.url,
            "kind": link.kind,
            "anchor": link.title,
            "version": snap.version,
            "fetched_at": snap.fetched_at,
        }


def entry_key(entry: Entry) -> str:
    """What makes two entries the same: More Info URL, else Related Items URL, else the title."""
    if entry.more_info:
        return entry.more_info
    if entry.related:
        return "related:" + entry.related
    return "title:" + entry.title


@dataclass(frozen=True, slots=True)
class EntryGroup:
    """All that is known so far about one entry: the occurrence chosen to speak for it and where
    it was seen. `seq` orders occurrences (the order they came out of the archive) so that the
    choice does not depend on how the work was split."""

    site: str
    key: str
    seq: int
    fields: dict[str, Any]
    listing_pages: tuple[str, ...]


def entry_fields(entry: Entry) -> dict[str, Any]:
    return {
        "more_info": entry.more_info,
        "title": entry.title,
        "summary": entry.summary,
        "summary_truncated": entry.summary_truncated,
        "image": entry.image,
        "related": entry.related,
        "search_links": [{"name": n, "url": u} for n, u in entry.search_links],
    }


def _better(a: EntryGroup, b: EntryGroup) -> EntryGroup:
    """The occurrence that speaks for an entry: the longest summary (the least cut off), then the
    first seen. Never a mix of two occurrences, so no text is invented."""
    la, lb = len(a.fields["summary"]), len(b.fields["summary"])
    if la != lb:
        return a if la > lb else b
    return a if a.seq <= b.seq else b


def merge_groups(a: EntryGroup, b: EntryGroup) -> EntryGroup:
    """Two partial views of the same entry as one. Associative and commutative."""
    best = _better(a, b)
    pages = tuple(sorted(set(a.listing_pages) | set(b.listing_pages)))
    return EntryGroup(a.site, a.key, best.seq, best.fields, pages)


def entry_group(site: str, listing_url: str, entry: Entry, seq: int) -> EntryGroup:
    return EntryGroup(site, entry_key(entry), seq, entry_fields(entry), (listing_url,))


def entry_record(group: EntryGroup) -> dict[str, Any]:
    """One row of the entries dataset."""
    return {"site": group.site, **group.fields, "listing_pages": list(group.listing_pages)}


def group_to_json(group: EntryGroup) -> list[Any]:
    return [group.site, group.key, group.seq, group.fields, list(group.listing_pages)]


def group_from_json(data: list[Any]) -> EntryGroup:
    site, key, seq, fields, pages = data
    return EntryGroup(site, key, int(seq), fields, tuple(pages))


def sort_key(group: EntryGroup) -> tuple[str, str]:
    return (group.site, group.key)


def merge_sorted(groups: Iterable[EntryGroup]) -> Iterator[EntryGroup]:
    """Adjacent groups with the same (site, key) merged: the input must be sorted by sort_key."""
    current: EntryGroup | None = None
    for group in groups:
        if current is not None and sort_key(current) == sort_key(group):
            current = merge_groups(current, group)
            continue
        if current is not None:
            yield current
        current = group
    if current is not None:
        yield current
