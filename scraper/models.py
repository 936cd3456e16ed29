"""Frozen records passed between the pipeline stages, and their JSON forms."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from scraper.compact_json import compact_json

PageKind = Literal["listing", "article", "other"]
# related: a listing's Related Items; more_info: a listing's full-article link;
# see_also: a wiki's "See also"; internal/external: other links in the content;
# next / home: a listing's pagination and home links; search: outbound search links.
LinkKind = Literal["related", "more_info", "see_also", "internal", "external", "next", "home",
                   "search"]
LINK_KINDS: tuple[str, ...] = ("related", "more_info", "see_also", "internal", "external", "next",
                               "home", "search")
# The kinds a page's related items are: a listing's Related Items and a wiki's "See also".
RELATED_KINDS: tuple[str, ...] = ("related", "see_also")


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    title: str = ""
    kind: str = "internal"

    def __reduce__(self) -> tuple[type[Link], tuple[str, str, str]]:
        # Parse workers send pages of hundreds of links: through __init__ this is a third
        # of the time of the dataclass default (__setstate__ in Python, field by field).
        return (Link, (self.url, self.title, self.kind))


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of an encyclopedia listing page, as a reader sees it."""

    title: str
    summary: str = ""
    summary_truncated: bool = False
    image: str | None = None
    more_info: str | None = None
    related: str | None = None
    search_links: tuple[tuple[str, str], ...] = ()  # (name, url): Wikipedia, Google, Baidu

    def __reduce__(self) -> tuple[type[Entry], tuple[Any, ...]]:
        # As Link's: a listing page sends dozens from its parse worker.
        return (Entry, (self.title, self.summary, self.summary_truncated, self.image,
                        self.more_info, self.related, self.search_links))


@dataclass(frozen=True, slots=True)
class Page:
    """What a parser extracts from one fetched page."""

    url: str
    kind: str = "other"  # PageKind
    title: str = ""
    canonical_url: str | None = None
    summary: str = ""
    summary_truncated: bool = False
    text: str = ""  # main content as plain text, paragraphs separated by a blank line
    links: tuple[Link, ...] = ()
    entries: tuple[Entry, ...] = ()
    image: str | None = None
    categories: tuple[str, ...] = ()
    infobox: tuple[tuple[str, str], ...] = ()
    revision_id: int | None = None
    language: str | None = None
    parser: str = ""
    parser_version: str = ""
    # Selectors (from a `selectors:` config) that matched nothing on this page.
    missing_selectors: tuple[str, ...] = ()
    # URLs among `links` that are red links: pages the wiki has not written yet. They stay in
    # `links` (a link turning blue must change nothing), but a crawl does not ask for them.
    # Neither stored nor hashed nor compared: it describes the wiki, not the page's content.
    red_links: frozenset[str] = field(default=frozenset(), compare=False)

    def links_of(self, *kinds: str) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.kind in kinds)

    def related_items(self) -> tuple[tuple[str, str, str], ...]:
        """(url, title, kind) of the links of RELATED_KINDS, in page order."""
        return tuple((ln.url, ln.title, ln.kind) for ln in self.links
                     if ln.kind in RELATED_KINDS)


# The fields whose change makes a new version. Fetch metadata, the parser's name and
# version, and the URL itself are left out on purpose: a footer timestamp, a new parser
# release or a redirect must not create versions.
HASHED_FIELDS: tuple[str, ...] = ("kind", "title", "summary", "summary_truncated", "text",
                                  "links", "entries", "image", "categories", "infobox")


def page_to_dict(page: Page) -> dict[str, Any]:
    """A Page as plain JSON-ready data (lists and dicts only)."""
    return {
        "url": page.url,
        "kind": page.kind,
        "title": page.title,
        "canonical_url": page.canonical_url,
        "summary": page.summary,
        "summary_truncated": page.summary_truncated,
        "text": page.text,
        "links": [{"url": ln.url, "title": ln.title, "kind": ln.kind} for ln in page.links],
        "entries": [
            {
                "title": e.title,
                "summary": e.summary,
                "summary_truncated": e.summary_truncated,
                "image": e.image,
                "more_info": e.more_info,
                "related": e.related,
                "search_links": [{"name": n, "url": u} for n, u in e.search_links],
            }
            for e in page.entries
        ],
        "image": page.image,
        "categories": list(page.categories),
        "infobox": [{"key": k, "value": v} for k, v in page.infobox],
        "revision_id": page.revision_id,
        "language": page.language,
        "parser": page.parser,
        "parser_version": page.parser_version,
        "missing_selectors": list(page.missing_selectors),
    }


def page_from_dict(data: dict[str, Any]) -> Page:
    """The inverse of page_to_dict; unknown keys are ignored so old archives stay readable."""
    return Page(
        url=data["url"],
        kind=data.get("kind", "other"),
        title=data.get("title", ""),
        canonical_url=data.get("canonical_url"),
        summary=data.get("summary", ""),
        summary_truncated=bool(data.get("summary_truncated", False)),
        text=data.get("text", ""),
        links=tuple(Link(d["url"], d.get("title", ""), d.get("kind", "internal"))
                    for d in data.get("links", ())),
        entries=tuple(
            Entry(
                title=e.get("title", ""),
                summary=e.get("summary", ""),
                summary_truncated=bool(e.get("summary_truncated", False)),
                image=e.get("image"),
                more_info=e.get("more_info"),
                related=e.get("related"),
                search_links=tuple((s["name"], s["url"]) for s in e.get("search_links", ())),
            )
            for e in data.get("entries", ())
        ),
        image=data.get("image"),
        categories=tuple(data.get("categories", ())),
        infobox=tuple((d["key"], d["value"]) for d in data.get("infobox", ())),
        revision_id=data.get("revision_id"),
        language=data.get("language"),
        parser=data.get("parser", ""),
        parser_version=data.get("parser_version", ""),
        missing_selectors=tuple(data.get("missing_selectors", ())),
    )


def content_hash(page: Page) -> str:
    """A stable sha256 over the normalised fields that make a version (HASHED_FIELDS)."""
    return content_hash_of(page_to_dict(page))


def content_hash_of(data: dict[str, Any]) -> str:
    """content_hash from the page_to_dict of the page, when that is made already."""
    hashed = {name: data[name] for name in HASHED_FIELDS}
    return hashlib.sha256(compact_json(hashed, sort_keys=True)).hexdigest()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One completed HTTP exchange (after redirects). A 304 has an empty body."""

    url: str  # the URL asked for (normalised)
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: datetime
    elapsed_s: float
    http_version: str = "HTTP/1.1"
    attempts: int = 1

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return self.header("etag")

    @property
    def last_modified(self) -> str | None:
        return self.header("last-modified")

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The metadata of one stored version of a page."""

    url: str
    version: int
    content_hash: str
    fetched_at: datetime
    status: int
    run_id: int | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    revision_id: int | None = None
    revision_timestamp: str | None = None  # MediaWiki: when the revision was made
    revision_user: str | None = None
    revision_comment: str | None = None
    body_hash: str | None = None
    body_size: int = 0
    change_gist: str = ""  # one line: what changed from the version before


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """One stored version as a listing or an export of pages sees it: which version it is, and
    the fields of its Page that the archive keeps in columns beside it (all but the text, the
    entries and the links that are not related items), so that they are read without
    decompressing the whole record."""

    site: str
    url: str  # the archive's key for the page
    version: int
    fetched_at: datetime
    content_hash: str
    revision_id: int | None  # the snapshot's; the parsed one when the snapshot has none
    kind: str
    title: str
    summary: str
    summary_truncated: bool
    # The links of RELATED_KINDS in page order, as (url, title, kind): plain tuples because
    # exports read millions of them and a Link costs a microsecond to make.
    related: tuple[tuple[str, str, str], ...]
    categories: tuple[str, ...]
    infobox: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, site: str, snap: Snapshot, page: Page) -> VersionSummary:
        revision_id = snap.revision_id if snap.revision_id is not None else page.revision_id
        return cls(site, snap.url, snap.version, snap.fetched_at, snap.content_hash,
                   revision_id, page.kind, page.title, page.summary, page.summary_truncated,
                   page.related_items(), page.categories, page.infobox)


@dataclass(frozen=True, slots=True)
class CrawlStats:
    fetched: int = 0  # answers with a body that was parsed (new or unchanged)
    new_versions: int = 0
    unchanged: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0  # non-HTML, robots.txt, out of scope after a redirect
    retried: int = 0  # extra attempts made
    queued: int = 0  # still in the frontier at the end
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrontierItem:
    """A URL waiting in the frontier (persisted in the archive)."""

    url: str  # normalised
    site: str
    depth: int = 0
    discovered_from: str | None = None
    link_kind: str | None = None  # the kind of link it was found as (related, more_info, ...)
    attempts: int = 0  # failed fetches in a row
    fetch_count: int = 0  # completed fetches so far
    next_due: datetime | None = None
    last_fetched: datetime | None = None
    gone: bool = False

    def __reduce__(self) -> tuple[type[FrontierItem], tuple[Any, ...]]:
        # As Link's: a parse worker sends the links to follow of each page as these.
        return (FrontierItem, (self.url, self.site, self.depth, self.discovered_from,
                               self.link_kind, self.attempts, self.fetch_count, self.next_due,
                               self.last_fetched, self.gone))


@dataclass(frozen=True, slots=True)
class RevisionMeta:
    """What a wiki reports about the revision a fetch shows (MediaWiki source mode)."""

    revision_id: int
    timestamp: str | None = None  # as the wiki gives it, ISO 8601
    user: str | None = None
    comment: str | None = None
    page_id: int | None = None
    parent_id: int | None = None
