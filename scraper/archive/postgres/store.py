"""What a crawl writes into the PostgreSQL archive for each fetch: versions (their blobs in
delta chains through BlobStore), page and link rows, sightings, failures and skips, with the
frontier row of the URL in the same transaction. The SQL mirrors the SQLite archive's
(scraper/archive/sqlite/store.py) statement by statement; see there for the why of each."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from scraper.archive.encode import EncodedPage, encode_page
from scraper.archive.postgres.core import Connection
from scraper.archive.postgres.frontier import enqueue_rows
from scraper.archive.postgres.writing import PostgresWrites, dumps
from scraper.archive.records import SaveResult
from scraper.models import FetchResult, FrontierItem, Page, RevisionMeta
from scraper.timeutil import iso

log = logging.getLogger(__name__)


def page_id_of(conn: Connection, url: str) -> int | None:
    """The page stored under `url`, or the page the frontier URL `url` last resolved to."""
    row = conn.execute("SELECT id FROM pages WHERE url = %s", (url,)).fetchone()
    if row is None:
        row = conn.execute("SELECT page_id FROM frontier WHERE url = %s AND page_id IS NOT NULL",
                           (url,)).fetchone()
    return None if row is None else int(row[0])


def update_links(conn: Connection, page_id: int, version: int, links_json: str) -> None:
    """Close the intervals of links the new version dropped and open those it added.
    `links_json`: the new version's [target, kind, anchor], once each, in page order."""
    links = [(str(url), str(kind), str(anchor)) for url, kind, anchor in orjson.loads(links_json)]
    # A first version has no links yet: not asked (a read waits for its answer).
    current = {} if version == 1 else {(r[1], r[2], r[3]): int(r[0]) for r in conn.execute(
        "SELECT id, target, kind, anchor FROM links WHERE page_id = %s AND to_version IS NULL",
        (page_id,))}
    if current:
        wanted = set(links)
        dropped = [link_id for key, link_id in current.items() if key not in wanted]
        if dropped:
            conn.execute("UPDATE links SET to_version = %s WHERE id = ANY(%s)",
                         (version - 1, dropped), prepare=False)  # planned each call: see core.py
        links = [link for link in links if link not in current]
    if not links:
        return
    targets, kinds, anchors = (list(column) for column in zip(*links, strict=True))
    # In page order, so that ids follow the page (as the SQLite archive's do).
    conn.execute(
        "INSERT INTO links (page_id, target, kind, anchor, from_version)"
        " SELECT %s, u.target, u.kind, u.anchor, %s FROM unnest(%s::text[], %s::text[],"
        " %s::text[]) WITH ORDINALITY AS u(target, kind, anchor, n) ORDER BY u.n",
        (page_id, version, targets, kinds, anchors))


# The frontier row after a completed fetch (made if the caller never enqueued it).
_FETCHED = (
    "INSERT INTO frontier AS f (url, site, added_at, next_due, fetch_count, last_fetched,"
    " last_status, etag, last_modified, page_id)"
    " VALUES (%s, %s, %s, %s, 1, %s, %s, %s, %s, %s)"
    " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0,"
    " fetch_count = f.fetch_count + 1, last_fetched = excluded.last_fetched,"
    " last_status = excluded.last_status,"
    " etag = coalesce(excluded.etag, CASE WHEN excluded.last_status = 304 THEN f.etag END),"
    " last_modified = coalesce(excluded.last_modified,"
    "   CASE WHEN excluded.last_status = 304 THEN f.last_modified END),"
    " page_id = coalesce(excluded.page_id, f.page_id), gone = false,"
    " leased_by = NULL, lease_until = NULL")

_SNAPSHOT_INSERT = (
    "INSERT INTO snapshots (page_id, version, run_id, fetched_at, last_seen, status,"
    " final_url, etag, last_modified, revision_id, revision_timestamp, revision_user,"
    " revision_comment, kind, title, summary, image, categories, infobox, text_length,"
    " link_count, entry_count, parser, parser_version, content_hash, body_hash,"
    " body_size, fields_hash, headers, change_gist, summary_truncated, related)"
    " VALUES (" + ", ".join(["%s"] * 32) + ")")


# A save's first statement. `claimed`: the frontier URL the worker claimed; `url`: the page's
# own (a redirect's target). Columns: the claim's holder, which of the blobs `body` and
# `fields` are stored, the current version's page id, version, content, body and fields
# hashes, and for a page not stored yet the id it will take (a gap in the ids when the save
# fails: harmless). The sequence is named, not looked up (pg_get_serial_sequence reads the
# catalog on each call).
# The blobs are asked one equality each, not `hash = ANY(array)`, so that the statement's
# prepared plan stays an index probe (see core.py): with an array, a new archive's plan was a
# sequential scan of `blobs`, 0.8 ms a save at 6,000 blobs and growing with the archive.
_SAVE_START_QUERY = (
    "WITH {claim}"
    " current AS (SELECT p.id, p.current_version, s.content_hash, s.body_hash, s.fields_hash"
    "   FROM pages p JOIN snapshots s ON s.page_id = p.id AND s.version = p.current_version"
    "   WHERE p.url = %(url)s FOR UPDATE OF p)"
    " SELECT {holder}, array_remove(ARRAY[(SELECT hash FROM blobs WHERE hash = %(body)s),"
    "   (SELECT hash FROM blobs WHERE hash = %(fields)s)], NULL),"
    " c.id, c.current_version, c.content_hash, c.body_hash, c.fields_hash,"
    " CASE WHEN c.id IS NULL THEN nextval('pages_id_seq') END"
    " FROM (VALUES (1)) AS one LEFT JOIN current c ON true")
_SAVE_START = _SAVE_START_QUERY.format(
    claim="claim AS (SELECT leased_by FROM frontier WHERE url = %(claimed)s FOR UPDATE),",
    holder="(SELECT leased_by FROM claim)")
# Outside a shared crawl there is no claim to check (nor lock: see _hold_claim).
_SAVE_START_UNCLAIMED = _SAVE_START_QUERY.format(claim="", holder="NULL::bigint")


def _fetched(conn: Connection, site: str, fetch: FetchResult, page_id: int | None,
             next_due: datetime) -> None:
    conn.execute(_FETCHED, (fetch.url, site, fetch.fetched_at, next_due, fetch.fetched_at,
                            fetch.status, fetch.etag, fetch.last_modified, page_id))


class PostgresVersionStore(PostgresWrites):
    """Write methods of PostgresArchive for fetch results."""

    def save(self, run_id: int, site: str, fetch: FetchResult, page: Page, *,
             next_due: datetime, discovered: Sequence[FrontierItem] = (),
             revision: RevisionMeta | None = None, change_gist: str = "",
             encoded: EncodedPage | None = None) -> SaveResult:
        """Store one fetched and parsed page, in one transaction (see ArchiveBackend.save).

        The page row is locked first (FOR UPDATE), so that two writers of one page take
        turns and its versions and delta chain stay one line."""
        if encoded is None:
            encoded = encode_page(page, fetch.body, first_version=False)
        ready = encoded

        def op(conn: Connection) -> SaveResult:
            # One statement answers all a save must know before it writes (each read waits
            # for its answer; there were four): this worker's claim on the URL, the page's
            # current version (both rows locked), whether the two blobs are stored, and the
            # id a new page will take.
            # A first version's copies carry their hashes; a recrawl's blobs are looked up
            # by put (most recrawls store none: hashing them here would be for nothing).
            body = ready.body_copy.hash if ready.body_copy is not None else None
            fields = ready.fields_copy.hash if ready.fields_copy is not None else None
            hashes = [blob_hash for blob_hash in (body, fields) if blob_hash is not None]
            row = conn.execute(
                _SAVE_START if self.worker_id is not None else _SAVE_START_UNCLAIMED,
                {"claimed": fetch.url, "url": page.url, "body": body,
                 "fields": fields}).fetchone()
            assert row is not None
            self._check_claim(fetch.url, row[0])
            self.blob_rows.know(hashes, row[1] or ())
            current = None if row[2] is None else row[2:7]
            new_page_id = row[7]
            if current is not None and current[2] == ready.content_hash:
                page_id, version = int(current[0]), int(current[1])
                conn.execute(
                    "UPDATE pages SET last_fetched = %s, seen_count = seen_count + 1,"
                    " gone = false, gone_at = NULL WHERE id = %s", (fetch.fetched_at, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = %s, seen_count = seen_count + 1"
                    " WHERE page_id = %s AND version = %s", (fetch.fetched_at, page_id, version))
                result = SaveResult(version, False, ready.content_hash, current[3], 0)
            else:
                result, page_id = self._new_version(conn, run_id, site, fetch, page, ready,
                                                    current, new_page_id, revision,
                                                    change_gist)
            # The URLs it links to first, this URL's own row last: a row updated here is
            # waited on by every other save inserting that URL until this one commits, so
            # updating it just before the commit leaves no time for this save to wait on
            # theirs in turn (two pages linking to each other, saved at once, deadlocked
            # and stalled both writers a second). A link to itself is its own row's
            # business (a self-link never lowers the depth).
            others = [item for item in discovered if item.url != fetch.url]
            if others:
                enqueue_rows(conn, others, fetch.fetched_at)
            _fetched(conn, site, fetch, page_id, next_due)
            return result

        return self._write(op, doing=f"saving {page.url}", pipelined=True)

    def _new_version(self, conn: Connection, run_id: int, site: str, fetch: FetchResult,
                     page: Page, encoded: EncodedPage, current: tuple[Any, ...] | None,
                     new_page_id: int | None, revision: RevisionMeta | None,
                     change_gist: str) -> tuple[SaveResult, int]:
        stamp = iso(fetch.fetched_at)
        new_hash = encoded.content_hash
        body_hash, body_added = self.blobs.put(fetch.body, "body", current[3] if current else None,
                                               stamp, ready=encoded.body_copy)
        fields_hash, fields_added = self.blobs.put(
            encoded.fields_json, "fields", current[4] if current else None, stamp,
            ready=encoded.fields_copy)
        when = fetch.fetched_at
        if current is None:
            assert new_page_id is not None
            version, page_id = 1, int(new_page_id)
            # The id was taken from the sequence by the save's first statement, so nothing
            # here waits for an answer.
            conn.execute(
                "INSERT INTO pages (id, url, site, kind, title, summary, text, first_seen,"
                " last_fetched, last_changed, current_version, seen_count)"
                " OVERRIDING SYSTEM VALUE"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, 1)",
                (page_id, page.url, site, page.kind, page.title, page.summary, page.text, when,
                 when, when))
        else:
            page_id, version = int(current[0]), int(current[1]) + 1
            conn.execute(
                "UPDATE pages SET site = %s, kind = %s, title = %s, summary = %s, text = %s,"
                " last_fetched = %s, last_changed = %s, current_version = %s,"
                " seen_count = seen_count + 1, gone = false, gone_at = NULL WHERE id = %s",
                (site, page.kind, page.title, page.summary, page.text, when, when, version,
                 page_id))
        rev_id = revision.revision_id if revision else page.revision_id
        conn.execute(_SNAPSHOT_INSERT, (
            page_id, version, run_id, when, when, fetch.status, fetch.final_url, fetch.etag,
            fetch.last_modified, rev_id, revision.timestamp if revision else None,
            revision.user if revision else None, revision.comment if revision else None,
            page.kind, page.title, page.summary, page.image, encoded.row.categories,
            encoded.row.infobox, len(page.text), len(page.links), len(page.entries),
            page.parser, page.parser_version, new_hash, body_hash, len(fetch.body),
            fields_hash, dumps([list(h) for h in fetch.headers]), change_gist,
            page.summary_truncated, encoded.row.related))
        update_links(conn, page_id, version, encoded.row.links)
        # The outbox row for watchers (scraper/watch/), in this version's transaction.
        conn.execute("INSERT INTO notify_outbox (site, url, event, version, run_id, at)"
                     " VALUES (%s, %s, 'version', %s, %s, %s)",
                     (site, page.url, version, run_id, when))
        return SaveResult(version, True, new_hash, body_hash, body_added + fields_added), page_id

    def record_not_modified(self, run_id: int, site: str, fetch: FetchResult, *,
                            next_due: datetime) -> None:
        """A 304 answer: the current version was seen again; no body is stored."""

        def op(conn: Connection) -> None:
            self._hold_claim(conn, fetch.url)
            page_id = page_id_of(conn, fetch.url)
            if page_id is not None:
                conn.execute(
                    "UPDATE pages SET last_fetched = %s, not_modified_count ="
                    " not_modified_count + 1, gone = false, gone_at = NULL WHERE id = %s",
                    (fetch.fetched_at, page_id))
                conn.execute(
                    "UPDATE snapshots SET last_seen = %s WHERE page_id = %s AND version ="
                    " (SELECT current_version FROM pages WHERE id = %s)",
                    (fetch.fetched_at, page_id, page_id))
            else:
                log.warning("%s: 304 Not Modified for a page with no stored version", fetch.url)
            _fetched(conn, site, fetch, page_id, next_due)

        self._write(op, doing=f"recording 304 Not Modified for {fetch.url}")

    def record_failure(self, run_id: int, site: str, url: str, *, reason: str, attempts: int,
                       status: int | None, now: datetime, next_due: datetime,
                       gone: bool = False, queue: bool = True) -> None:
        """A failed fetch: a `failures` row; the frontier row's failures-in-a-row count grows
        and it is due again at `next_due`. `gone` marks the page (and URL) gone. `queue=False`:
        the `failures` row only (a sitemap, which is no page)."""

        def op(conn: Connection) -> None:
            if queue:
                self._hold_claim(conn, url)
            conn.execute(
                "INSERT INTO failures (run_id, site, url, reason, attempts, status, gone, at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (run_id, site, url, reason, attempts, status, gone, now))
            if not queue:
                return
            conn.execute(
                "INSERT INTO frontier AS f (url, site, added_at, next_due, attempts,"
                " last_status, gone) VALUES (%s, %s, %s, %s, 1, %s, %s) ON CONFLICT (url)"
                " DO UPDATE SET attempts = f.attempts + 1, next_due = excluded.next_due,"
                " last_status = excluded.last_status, gone = f.gone OR excluded.gone,"
                " leased_by = NULL, lease_until = NULL",
                (url, site, now, next_due, status, gone))
            if gone:
                page_id = page_id_of(conn, url)
                if page_id is not None:
                    # Marked gone now (not already): its outbox row in the same statement.
                    conn.execute(
                        "WITH went AS (UPDATE pages SET gone = true, gone_at = %s"
                        " WHERE id = %s AND NOT gone RETURNING site, url, current_version)"
                        " INSERT INTO notify_outbox (site, url, event, version, run_id, at,"
                        " detail) SELECT site, url, 'gone', current_version, %s, %s, %s"
                        " FROM went", (now, page_id, run_id, now, reason))

        self._write(op, doing=f"recording the failure of {url}")

    def record_skipped(self, run_id: int, site: str, url: str, *, reason: str, now: datetime,
                       next_due: datetime) -> None:
        """A URL deliberately not archived (non-HTML, robots.txt, blocked address)."""

        def op(conn: Connection) -> None:
            self._hold_claim(conn, url)
            conn.execute("INSERT INTO skips (run_id, site, url, reason, at)"
                         " VALUES (%s, %s, %s, %s, %s)", (run_id, site, url, reason, now))
            conn.execute(
                "INSERT INTO frontier (url, site, added_at, next_due) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (url) DO UPDATE SET next_due = excluded.next_due, attempts = 0,"
                " leased_by = NULL, lease_until = NULL",
                (url, site, now, next_due))

        self._write(op, doing=f"recording the skip of {url}")

