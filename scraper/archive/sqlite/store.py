"""What a crawl writes into the SQLite archive for each fetch: versions, sightings, failures
and skips, with the frontier row of the URL in the same transaction."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scraper.archive.encode import EncodedPage, encode_page
from scraper.archive.records import SaveResult
from scraper.archive.sqlite.core import ArchiveCore, dumps, translated
from scraper.archive.sqlite.frontier_store import enqueue_rows
from scraper.archive.sqlite.links import settle_when_many, update_links
from scraper.models import FetchResult, FrontierItem, Page, RevisionMeta
from scraper.timeutil import iso

log = logging.getLogger(__name__)


class VersionStore(ArchiveCore):
    """Write methods of SQLiteArchive for fetch results."""

    @translated
    def save(self, run_id: int, site: str, fetch: FetchResult, page: Page, *,
             next_due: datetime, discovered: Sequence[FrontierItem] = (),
             revision: RevisionMeta | None = None, change_gist: str = "",
             encoded: EncodedPage | None = None) -> SaveResult:
        """Store one fetched and parsed page, in one transaction.

        A new version is made only when content_hash(page) differs from the current
        version's; otherwise the page is only marked seen. The frontier row of `fetch.url`
        is updated and the `discovered` URLs are enqueued in the same transaction.

        :param encoded: encode_page(page, fetch.body, ...) made ahead (a crawl makes it in
            its parse workers); made here when not given.
        """
        if encoded is None:
            encoded = encode_page(page, fetch.body, first_version=False)
        new_hash = encoded.content_hash
        stamp = iso(fetch.fetched_at)
        with self._write() as conn:
            current = conn.execute(
                "SELECT p.id, p.current_version, s.content_hash, s.body_hash, s.fields_hash"
                " FROM pages p JOIN snapshots s ON s.page_id = p.id"
                " AND s.version = p.current_version WHERE p.url = ?", (page.url,)).fetchone()
            if current is not None and current[2] == new_hash:
                page_id, version, body_hash = current[0], current[1], current[3]
                conn.execute(
                    "UPDATE pages SET last_fetched = ?, seen_count = seen_count + 1, gone = 0,"
                    " gone_at = NULL WHERE id = ?", (stamp, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = ?, seen_count = seen_count + 1"
                    " WHERE page_id = ? AND version = ?", (stamp, page_id, version))
                result = SaveResult(version, False, new_hash, body_hash, 0)
            else:
                result, page_id = self._new_version(
                    conn, run_id, site, fetch, page, encoded, current, revision, change_gist)
            self._fetched(conn, site, fetch.url, page_id, stamp, iso(next_due), fetch.status,
                          fetch.etag, fetch.last_modified)
            if discovered:
                enqueue_rows(conn, discovered, fetch.fetched_at)
        return result

    def _new_version(self, conn: sqlite3.Connection, run_id: int, site: str, fetch: FetchResult,
                     page: Page, encoded: EncodedPage, current: tuple[Any, ...] | None,
                     revision: RevisionMeta | None, change_gist: str) -> tuple[SaveResult, int]:
        stamp = iso(fetch.fetched_at)
        new_hash = encoded.content_hash
        prev_body = current[3] if current else None
        prev_fields = current[4] if current else None
        body_hash, body_added = self.blobs.put(fetch.body, "body", prev_body, stamp,
                                               ready=encoded.body_copy)
        fields_hash, fields_added = self.blobs.put(encoded.fields_json, "fields", prev_fields,
                                                   stamp, ready=encoded.fields_copy)
        if current is None:
            version = 1
            cursor = conn.execute(
                "INSERT INTO pages (url, site, kind, title, summary, text, first_seen,"
                " last_fetched, last_changed, current_version, seen_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
                (page.url, site, page.kind, page.title, page.summary, page.text, stamp, stamp,
                 stamp))
            page_id = int(cursor.lastrowid or 0)
        else:
            page_id, version = current[0], current[1] + 1
            conn.execute(
                "UPDATE pages SET site = ?, kind = ?, title = ?, summary = ?, text = ?,"
                " last_fetched = ?, last_changed = ?, current_version = ?,"
                " seen_count = seen_count + 1, gone = 0, gone_at = NULL WHERE id = ?",
                (site, page.kind, page.title, page.summary, page.text, stamp, stamp, version,
                 page_id))
        rev_id = revision.revision_id if revision else page.revision_id
        conn.execute(
            "INSERT INTO snapshots (page_id, version, run_id, fetched_at, last_seen, status,"
            " final_url, etag, last_modified, revision_id, revision_timestamp, revision_user,"
            " revision_comment, kind, title, summary, image, categories, infobox, text_length,"
            " link_count, entry_count, parser, parser_version, content_hash, body_hash,"
            " body_size, fields_hash, headers, change_gist, summary_truncated, related)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?)",
            (page_id, version, run_id, stamp, stamp, fetch.status, fetch.final_url, fetch.etag,
             fetch.last_modified, rev_id, revision.timestamp if revision else None,
             revision.user if revision else None, revision.comment if revision else None,
             page.kind, page.title, page.summary, page.image, encoded.row.categories,
             encoded.row.infobox, len(page.text), len(page.links),
             len(page.entries), page.parser, page.parser_version, new_hash, body_hash,
             len(fetch.body), fields_hash, dumps([list(h) for h in fetch.headers]),
             change_gist, int(page.summary_truncated), encoded.row.related))
        update_links(conn, page_id, version, encoded.row.links)
        # The outbox row for watchers (scraper/watch/), in this version's transaction: a
        # version is never written without it, nor it without the version.
        conn.execute("INSERT INTO notify_outbox (site, url, event, version, run_id, at)"
                     " VALUES (?, ?, 'version', ?, ?, ?)", (site, page.url, version, run_id, stamp))
        settle_when_many(conn)
        return SaveResult(version, True, new_hash, body_hash, body_added + fields_added), page_id

    @staticmethod
    def _fetched(conn: sqlite3.Connection, site: str, url: str, page_id: int | None, stamp: str,
                 next_due: str, status: int, etag: str | None, last_modified: str | None) -> None:
        """The frontier row after a completed fetch (made if the caller never enqueued it)."""
        conn.execute(
            "INSERT INTO frontier (url, site, added_at, next_due, fetch_count, last_fetched,"
            " last_status, etag, last_modified, page_id)"
            " VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0,"
            " fetch_count = fetch_count + 1, last_fetched = excluded.last_fetched,"
            " last_status = excluded.last_status,"
            " etag = coalesce(excluded.etag, CASE WHEN excluded.last_status = 304 THEN etag END),"
            " last_modified = coalesce(excluded.last_modified,"
            "   CASE WHEN excluded.last_status = 304 THEN last_modified END),"
            " page_id = coalesce(excluded.page_id, page_id), gone = 0",
            (url, site, stamp, next_due, stamp, status, etag, last_modified, page_id))

    @translated
    def record_not_modified(self, run_id: int, site: str, fetch: FetchResult, *,
                            next_due: datetime) -> None:
        """A 304 answer: the current version was seen again; no body is stored."""
        stamp = iso(fetch.fetched_at)
        with self._write() as conn:
            page_id = self._page_id(fetch.url)
            if page_id is not None:
                conn.execute(
                    "UPDATE pages SET last_fetched = ?, not_modified_count = not_modified_count"
                    " + 1, gone = 0, gone_at = NULL WHERE id = ?", (stamp, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = ? WHERE page_id = ? AND version ="
                    " (SELECT current_version FROM pages WHERE id = ?)",
                    (stamp, page_id, page_id))
            else:
                log.warning("%s: 304 Not Modified for a page with no stored version", fetch.url)
            self._fetched(conn, site, fetch.url, page_id, stamp, iso(next_due), fetch.status,
                          fetch.etag, fetch.last_modified)

    @translated
    def record_failure(self, run_id: int, site: str, url: str, *, reason: str, attempts: int,
                       status: int | None, now: datetime, next_due: datetime,
                       gone: bool = False, queue: bool = True) -> None:
        """A failed fetch: a `failures` row; the frontier row's failures-in-a-row count grows
        and it is due again at `next_due`. `gone` marks the page (and URL) gone. `queue=False`:
        the `failures` row only (a sitemap, which is no page)."""
        stamp = iso(now)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO failures (run_id, site, url, reason, attempts, status, gone, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, site, url, reason, attempts, status, int(gone), stamp))
            if not queue:
                return
            conn.execute(
                "INSERT INTO frontier (url, site, added_at, next_due, attempts, last_status, gone)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " attempts = attempts + 1, next_due = excluded.next_due,"
                " last_status = excluded.last_status, gone = max(gone, excluded.gone)",
                (url, site, stamp, iso(next_due), status, int(gone)))
            if gone:
                page_id = self._page_id(url)
                if page_id is not None and conn.execute(
                        "UPDATE pages SET gone = 1, gone_at = ? WHERE id = ? AND gone = 0",
                        (stamp, page_id)).rowcount:
                    conn.execute(
                        "INSERT INTO notify_outbox (site, url, event, version, run_id, at, detail)"
                        " SELECT site, url, 'gone', current_version, ?, ?, ? FROM pages"
                        " WHERE id = ?", (run_id, stamp, reason, page_id))

    @translated
    def record_skipped(self, run_id: int, site: str, url: str, *, reason: str, now: datetime,
                       next_due: datetime) -> None:
        """A URL deliberately not archived (non-HTML, robots.txt, blocked address)."""
        stamp = iso(now)
        with self._write() as conn:
            conn.execute("INSERT INTO skips (run_id, site, url, reason, at) VALUES (?, ?, ?, ?, ?)",
                         (run_id, site, url, reason, stamp))
            conn.execute(
                "INSERT INTO frontier (url, site, added_at, next_due) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0",
                (url, site, stamp, iso(next_due)))
