"""The entries of a feed of changes, read from an archive (any backend)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from html import escape
from typing import Any

from scraper.archive import ArchiveBackend
from scraper.diff import diff_pages
from scraper.diff.html import render_html_fragment
from scraper.models import Snapshot
from scraper.timeutil import from_iso
from scraper.watch.feed import FeedEntry

DEFAULT_LIMIT = 200  # entries in a feed unless told: a week of a big crawl stays readable
# An entry's diff beyond this many characters (a rewritten 400 KB article) is left out for a
# note: readers fetch the whole feed every time, and 200 such entries would make it 100 MB.
MAX_CONTENT_CHARS = 100_000


# A candidate entry: (time, URL, version or 0, site, the version, or the gone page's row).
_Found = tuple[datetime, str, int, str, Snapshot | None, dict[str, Any] | None]


def feed_entries(archive: ArchiveBackend, since: datetime, until: datetime | None = None,
                 site: str | None = None, limit: int = DEFAULT_LIMIT) -> list[FeedEntry]:
    """One entry per version made in [since, until) and per page gone then, newest first,
    at most `limit`. Only the newest `limit` versions are read (through the index on their
    times: the cost does not grow with the period or the archive), and only those kept are
    read whole and diffed, two page reads each."""
    # Newest first; one time's entries in a fixed order so that the feed is reproducible.
    kept = heapq.nlargest(limit, _candidates(archive, since, until, site, limit),
                          key=lambda found: found[:3])
    entries = []
    for at, url, _, page_site, snap, gone in kept:
        if snap is not None:
            entries.append(_version_entry(archive, page_site, snap))
        elif gone is not None:
            entries.append(_gone_entry(page_site, url, at, gone))
    return entries


def _candidates(archive: ArchiveBackend, since: datetime, until: datetime | None,
                site: str | None, limit: int) -> Iterator[_Found]:
    # The newest `limit` versions hold every version among the feed's newest `limit` entries.
    for version_site, version in archive.latest_versions(limit, since, until, site):
        yield version.fetched_at, version.url, version.version, version_site, version, None
    for row in archive.gone_pages(since, site):
        gone_at = row.get("gone_at")
        if isinstance(gone_at, datetime):
            at = gone_at
        elif isinstance(gone_at, str) and gone_at:
            at = from_iso(gone_at)
        else:
            continue
        if until is None or at < until:
            yield at, str(row["url"]), 0, str(row.get("site") or ""), None, row


def _version_entry(archive: ArchiveBackend, site: str, snap: Snapshot) -> FeedEntry:
    new = archive.page(snap.url, snap.version)
    if snap.version <= 1:
        content = (f"<p>First version of {escape(new.title or snap.url)}.</p>\n"
                   + (f"<p>{escape(new.summary)}</p>\n" if new.summary else ""))
        return FeedEntry("new", site, snap.url, new.title, snap.version, snap.content_hash,
                         snap.fetched_at, "first version", content)
    old_meta = archive.snapshot(snap.url, snap.version - 1)
    d = diff_pages(archive.page(snap.url, snap.version - 1), new, old_meta=old_meta,
                   new_meta=snap)
    # The gist the crawl stored is the one `changes` and notifications show: keep them alike.
    gist = snap.change_gist or ("no change in the extracted fields" if d.is_empty
                                else d.gist())
    content = render_html_fragment(d)
    if len(content) > MAX_CONTENT_CHARS:
        content = (f'<p class="gist">{escape(gist)}</p>\n<p>The diff is too long for the feed '
                   f"({len(content):,} characters of HTML): <code>scraper diff "
                   f"{escape(snap.url)} --from {snap.version - 1} --to {snap.version} "
                   "--format html</code> shows it.</p>\n")
    return FeedEntry("changed", site, snap.url, new.title, snap.version, snap.content_hash,
                     snap.fetched_at, gist, content)


def _gone_entry(site: str, url: str, at: datetime, row: dict[str, Any]) -> FeedEntry:
    title = str(row.get("title") or "")
    version = row.get("current_version")
    last = version if isinstance(version, int) else 0
    content = (f"<p>{escape(title or url)} is gone: the site answered not found after it "
               f"had existed (last stored version {last}).</p>\n")
    return FeedEntry("gone", site, url, title, last, "", at, "page gone", content)
