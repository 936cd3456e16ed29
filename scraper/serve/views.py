"""What each page of the web view shows, read from an archive: frozen records the templates
render. Each function makes blocking archive calls (run them in a worker thread)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scraper.archive import ArchiveBackend
from scraper.diff import diff_pages
from scraper.diff.html import render_html_fragment
from scraper.errors import NotArchived
from scraper.models import Page, Snapshot

RECENT_LIMIT = 50  # versions listed under "recent changes"
SEARCH_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SiteRow:
    name: str
    pages: int
    versions: int
    gone: int


@dataclass(frozen=True, slots=True)
class RecentChange:
    site: str
    url: str
    title: str
    version: int
    fetched_at: datetime
    gist: str


@dataclass(frozen=True, slots=True)
class HomeView:
    sites: tuple[SiteRow, ...]
    pages: int
    versions: int
    since: datetime
    recent: tuple[RecentChange, ...]  # newest first


@dataclass(frozen=True, slots=True)
class TimelineView:
    url: str
    info: dict[str, Any]  # page_info's fields
    versions: tuple[Snapshot, ...]  # newest first


@dataclass(frozen=True, slots=True)
class VersionView:
    url: str
    snapshot: Snapshot
    page: Page
    first: int
    last: int
    previous: int | None
    next: int | None


@dataclass(frozen=True, slots=True)
class DiffView:
    url: str
    title: str
    old: int
    new: int
    first: int
    last: int
    previous: tuple[int, int] | None  # the pair one version earlier
    next: tuple[int, int] | None
    gist: str
    table_html: str  # render_html_fragment's markup: every scraped string in it escaped


def gist_of(snap: Snapshot) -> str:
    """The stored one-line gist (a crawl stores one with each version)."""
    return snap.change_gist or ("first version" if snap.version == 1 else "")


def home(archive: ArchiveBackend, now: datetime, days: int = 7) -> HomeView:
    """The sites with their counts, and the newest versions made in the last `days`."""
    # Not stats(): its sizes read every version (0.15 s at 100,000), on every visit.
    sites = tuple(SiteRow(name, row["pages"], row["versions"], row["gone"])
                  for name, row in sorted(archive.site_counts().items()))
    since = now - timedelta(days=days)
    newest = archive.latest_versions(RECENT_LIMIT, since)
    titles: dict[str, str] = {}
    recent = []
    for site, snap in newest:
        if snap.url not in titles:
            titles[snap.url] = str(archive.page_info(snap.url).get("title") or "")
        recent.append(RecentChange(site, snap.url, titles[snap.url], snap.version,
                                   snap.fetched_at, gist_of(snap)))
    return HomeView(sites, sum(site.pages for site in sites),
                    sum(site.versions for site in sites), since, tuple(recent))


def search(archive: ArchiveBackend, query: str) -> list[dict[str, Any]]:
    """The archive's full-text search, best first (empty for a blank query)."""
    return archive.search(query, limit=SEARCH_LIMIT) if query.strip() else []


def _history(archive: ArchiveBackend, url: str) -> list[Snapshot]:
    # current_hash is None for a URL never stored: a 404, told apart from a storage error
    # (both of which are ArchiveError from history()).
    if archive.current_hash(url) is None:
        raise NotArchived(archive.path, url, "not in the archive")
    history = archive.history(url)
    if not history:
        raise NotArchived(archive.path, url, "no stored version")
    return history


def _require(archive: ArchiveBackend, url: str, history: list[Snapshot], version: int) -> int:
    """The index of `version` in `history`."""
    for index, snap in enumerate(history):
        if snap.version == version:
            return index
    raise NotArchived(archive.path, url, f"no version {version} (versions "
                                         f"{history[0].version} to {history[-1].version})")


def timeline(archive: ArchiveBackend, url: str) -> TimelineView:
    """A page's versions, newest first, with what each changed."""
    history = _history(archive, url)
    return TimelineView(url, archive.page_info(url), tuple(reversed(history)))


def version(archive: ArchiveBackend, url: str, number: int | None) -> VersionView:
    """One version's metadata and extracted fields (None: the latest)."""
    history = _history(archive, url)
    index = len(history) - 1 if number is None else _require(archive, url, history, number)
    snap = history[index]
    return VersionView(
        url, snap, archive.page(url, snap.version), history[0].version, history[-1].version,
        history[index - 1].version if index > 0 else None,
        history[index + 1].version if index + 1 < len(history) else None)


def body(archive: ArchiveBackend, url: str,
         number: int | None) -> tuple[bytes, list[tuple[str, str]]]:
    """One version's stored body and its response headers."""
    history = _history(archive, url)
    snap = history[-1] if number is None else history[_require(archive, url, history, number)]
    return archive.body(url, snap.version), archive.response_headers(url, snap.version)


class DiffCache:
    """Rendered diffs by (archive, URL, old, new). A stored version never changes, so a
    diff of two is rendered once: the diff of two long versions takes far longer than
    reading the archive (hundreds of ms for 400 KB pages)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int, int], DiffView] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, int, int]) -> DiffView | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, int, int], view: DiffView) -> None:
        with self._lock:
            self._items[key] = view
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def diff(archive: ArchiveBackend, url: str, old: int | None, new: int | None,
         cache: DiffCache | None = None) -> DiffView:
    """The side-by-side diff of two versions (default: the latest and the one before), with
    the pairs one version earlier and later for previous/next navigation."""
    history = _history(archive, url)
    new_index = len(history) - 1 if new is None else _require(archive, url, history, new)
    if old is None:
        if new_index == 0:
            raise NotArchived(archive.path, url, f"version {history[0].version} is the first:"
                                                 " there is none before it to compare with")
        old_index = new_index - 1
    else:
        old_index = _require(archive, url, history, old)
    a, b = history[old_index].version, history[new_index].version
    key = (archive.path, url, a, b)
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        return cached
    # The history is read already: the diff is made from it, not from a second read.
    d = diff_pages(archive.page(url, a), archive.page(url, b), old_meta=history[old_index],
                   new_meta=history[new_index])
    earlier = (history[old_index - 1].version, history[new_index - 1].version) if min(
        old_index, new_index) > 0 else None
    later = (history[old_index + 1].version, history[new_index + 1].version) if max(
        old_index, new_index) + 1 < len(history) else None
    view = DiffView(url, d.new_title or d.old_title or url, a, b, history[0].version,
                    history[-1].version, earlier, later,
                    "no change" if d.is_empty else d.gist(), render_html_fragment(d))
    if cache is not None:
        cache.put(key, view)
    return view
