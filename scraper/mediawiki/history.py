"""Page history in the `source: mediawiki` crawl: backfilled past revisions, and a renamed
page's archived versions carried to its new title.

Ordering: the archive numbers a page's versions in the order they are stored and cannot put
a version before one it holds. So past revisions are imported oldest first and always before
the revision the wiki shows now, and only revisions newer than the newest one archived for the
page: version order is revision order. Raising `backfill` later does not reach back before a
page's first archived version.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from scraper.archive import ArchiveBackend
from scraper.errors import ArchiveError
from scraper.mediawiki.errors import PageMissing
from scraper.mediawiki.plan import article_url
from scraper.mediawiki.records import PageState
from scraper.models import FetchResult, Page, RevisionMeta

if TYPE_CHECKING:
    from scraper.mediawiki.source import WikiRun

log = logging.getLogger(__name__)

__all__ = ["backfill_page", "copy_history", "revisions_to_import", "stored_revision_ids"]


def stored_revision_ids(archive: ArchiveBackend, url: str) -> list[int]:
    """The wiki revision ids of the archived versions of `url`, in version order."""
    try:
        history = archive.history(url)
    except ArchiveError:
        return []
    return [snap.revision_id for snap in history if snap.revision_id is not None]


def revisions_to_import(history: Sequence[RevisionMeta], stored: Collection[int],
                        current: int, limit: int) -> list[RevisionMeta]:
    """Which past revisions to import before `current`: from a page's history (oldest
    first), those before `current` and after the newest archived one, at most `limit` (the
    most recent)."""
    ids = [rev.revision_id for rev in history]
    end = ids.index(current) if current in ids else \
        sum(1 for rev in history if rev.revision_id < current)
    newest_stored = max((i for i, rev in enumerate(history) if rev.revision_id in stored),
                        default=-1)
    if newest_stored >= end or limit <= 0:
        return []  # nothing can go before a version already archived
    return list(history[newest_stored + 1:end])[-limit:]


async def backfill_page(run: WikiRun, state: PageState, url: str) -> None:
    """Store up to `mediawiki.backfill` past revisions of a page before its current one."""
    limit = run.options.backfill
    stored = run.db.call(stored_revision_ids, run.archive, url)
    try:
        history = await run.wiki.history(state.title, limit=limit + 1)
    except PageMissing:
        log.info("%s: no history (the page went away meanwhile)", url)
        return
    for revision in revisions_to_import(history, stored, state.revision_id, limit):
        if not run.db.call(run.archive.has_revision, url, revision.revision_id):
            await run.store(url, state.title, revision, None)


def copy_history(run: WikiRun, old_title: str, new_title: str) -> int:
    """A page moved from `old_title` to `new_title` keeps its history under its new URL: the
    archived versions of the old URL are stored again, in order, under the new one (no
    request is made: bodies, fields and revision data come from the archive). Returns how
    many versions were copied; none when the old URL was not archived or the new one already
    has versions of its own."""
    old_url = article_url(run.site, old_title)
    new_url = article_url(run.site, new_title)
    if old_url == new_url or not run.known(old_url):
        return 0
    if run.db.call(_has_versions, run.archive, new_url):
        log.info("%s: renamed to %s, which has versions of its own: history not copied",
                 old_url, new_url)
        return 0
    try:
        snapshots = run.db.call(run.archive.history, old_url)
    except ArchiveError:
        return 0
    ctx, cfg = run.ctx, run.cfg
    copied = 0
    for snap in snapshots:
        page, body, headers = run.db.call(_version, run.archive, old_url, snap.version)
        result = FetchResult(url=new_url, final_url=snap.final_url or old_url,
                             status=snap.status, headers=headers, body=body,
                             fetched_at=snap.fetched_at, elapsed_s=0.0)
        revision = None
        if snap.revision_id is not None:
            revision = RevisionMeta(snap.revision_id, snap.revision_timestamp,
                                    snap.revision_user, snap.revision_comment)
        now = ctx.clock()
        saved = run.db.call(run.archive.save, run.run_id, cfg.name, result,
                            dataclasses.replace(page, url=new_url), revision=revision,
                            next_due=ctx.recrawl_due(new_url, now),
                            change_gist=snap.change_gist)
        if saved.created:
            copied += 1
            ctx.counts.new_versions += 1
            ctx.emit("new_version", new_url, status=snap.status, version=saved.version,
                     detail=f"version {snap.version} of {old_url} (renamed)")
    log.info("%s: renamed to %s: %d archived version(s) carried over", old_url, new_url,
             copied)
    return copied


def _version(archive: ArchiveBackend, url: str, version: int
             ) -> tuple[Page, bytes, tuple[tuple[str, str], ...]]:
    """One archived version's fields, body and response headers."""
    return (archive.page(url, version), archive.body(url, version),
            tuple(archive.response_headers(url, version)))


def _has_versions(archive: ArchiveBackend, url: str) -> bool:
    try:
        archive.snapshot(url)
    except ArchiveError:
        return False
    return True
