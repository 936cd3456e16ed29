"""Queries over the PostgreSQL archive: versions, bodies, links and changes. The same
answers, in the same order and shapes, as the SQLite archive's
(scraper/archive/sqlite/reads.py), whose SQL this mirrors.

`PostgresReads` is a mixin; the archive that composes it (PostgresArchive) sets:

- `core`: the PostgresCore every query goes through (`core.run`, retried after a dropped
  connection; the streaming iterators use `core.transaction` and a server-side cursor);
- `blob_rows`: the PostgresBlobRows under `blobs`, bound here to the query's connection
  while bodies and fields are read;
- `blobs`: the BlobStore over `blob_rows` (zstd delta chains, shared with SQLite).

Differences from SQLite that the backend cannot help:

- URLs sort by code point (`COLLATE "C"`, as SQLite compares text), whatever the
  database's own collation, so listings and exports come in the same order;
- times in page rows come back as the archive's ISO text (`timeutil.iso`), as SQLite's do;
- search (in statistics.py, with fill rates and stats) ranks with `ts_rank`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from scraper.archive.blobs import BlobStore
from scraper.archive.postgres.blobs import PostgresBlobRows
from scraper.archive.postgres.core import Connection, PostgresCore, archive_error
from scraper.archive.postgres.statistics import URL_ORDER, PostgresStatistics
from scraper.archive.queries import SNAPSHOT_COLUMNS, version_filter, versions_query
from scraper.archive.queries import snapshot_from_row as read_snapshot
from scraper.archive.suggest import not_found_message
from scraper.errors import ArchiveError
from scraper.models import Page, Snapshot, VersionSummary, page_from_dict
from scraper.timeutil import iso

# Rows a streaming cursor fetches from the server at a time.
STREAM_ROWS = 500
PAGE_COLUMNS = ("url", "site", "kind", "title", "first_seen", "last_fetched", "last_changed",
                "current_version", "seen_count", "not_modified_count", "gone", "gone_at")
_TIME_COLUMNS = frozenset({"first_seen", "last_fetched", "last_changed", "gone_at"})
_cursor_names = itertools.count(1)


def utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def snapshot_from_row(row: tuple[Any, ...]) -> Snapshot:
    """A Snapshot from a row selected with SNAPSHOT_COLUMNS (fetched_at a timestamptz)."""
    return read_snapshot(row, utc)


def as_param(when: datetime) -> datetime:
    """A time as a query parameter: naive times are local, as timeutil.iso reads them."""
    return when.astimezone(UTC)


def page_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A `pages` row as SQLite's reads give it: times as ISO text, gone a bool."""
    record = dict(zip(PAGE_COLUMNS, row, strict=True))
    for name in _TIME_COLUMNS:
        if record[name] is not None:
            record[name] = iso(record[name])
    record["gone"] = bool(record["gone"])
    return record


class PostgresReads(PostgresStatistics):
    """Read methods of PostgresArchive. Unknown URLs and versions raise ArchiveError naming
    them (and the versions there are)."""

    core: PostgresCore
    blob_rows: PostgresBlobRows
    blobs: BlobStore

    # -- helpers -----------------------------------------------------------------------

    def _page_id(self, conn: Connection, url: str) -> int | None:
        """The page stored under `url`, or the page the frontier URL `url` last resolved to."""
        row = conn.execute("SELECT id FROM pages WHERE url = %s", (url,)).fetchone()
        if row is None:
            row = conn.execute("SELECT page_id FROM frontier WHERE url = %s"
                               " AND page_id IS NOT NULL", (url,)).fetchone()
        return None if row is None else int(row[0])

    def _require_page(self, conn: Connection, url: str) -> int:
        page_id = self._page_id(conn, url)
        if page_id is None:
            raise ArchiveError(self.core.path, f"no page {url} in the archive")
        return page_id

    def _version_row(self, conn: Connection, url: str, version: int | None,
                     columns: str) -> tuple[Any, ...]:
        """Columns of one snapshot (s: snapshots, p: pages); the latest when version is None."""
        page_id = self._require_page(conn, url)
        base = (f"SELECT {columns} FROM snapshots s JOIN pages p ON p.id = s.page_id"
                " WHERE s.page_id = %s AND s.version = ")
        if version is None:
            row = conn.execute(base + "p.current_version", (page_id,)).fetchone()
        else:
            row = conn.execute(base + "%s", (page_id, version)).fetchone()
        if row is None:
            latest = conn.execute("SELECT current_version FROM pages WHERE id = %s",
                                  (page_id,)).fetchone()
            last = latest[0] if latest is not None else "?"
            raise ArchiveError(self.core.path,
                               f"{url} has no version {version} (versions 1 to {last})")
        return tuple(row)

    def _blob(self, conn: Connection, blob_hash: str, url: str) -> bytes:
        try:
            with self.blob_rows.bound(conn):
                return self.blobs.get(blob_hash)
        except (LookupError, ValueError) as exc:
            raise ArchiveError(self.core.path, f"{url}: stored body unreadable: {exc}") from exc

    def _stream(self, sql: str, params: list[Any],
                doing: str) -> Iterator[tuple[Connection, tuple[Any, ...]]]:
        """(connection, row) for each row of `sql`, from a server-side cursor in constant
        memory, inside one transaction (one consistent view, as SQLite's single statement
        gives). The caller's loop reads blobs on that connection while the generator waits
        inside the block; the core's lock is held meanwhile, so the whole loop must run on
        one thread. Not retried after a dropped connection: rows already given cannot be
        taken back."""
        try:
            with self.core.transaction() as conn, conn.cursor(
                    name=f"scraper_stream_{next(_cursor_names)}") as cursor:
                cursor.itersize = STREAM_ROWS
                cursor.execute(sql, params)
                for row in cursor:
                    yield conn, row
        except psycopg.Error as exc:
            raise archive_error(self.core.location, doing, exc) from None

    # -- one page ------------------------------------------------------------------------

    def find_page_url(self, text: str) -> str:
        """The URL under which the archive stores the page that `text`, a URL as a person
        pastes it, names. Raises ArchiveError naming the URL and the closest stored URLs."""
        # Imported here, as in the SQLite reads: the read commands otherwise never load it.
        from scraper.urls import pasted_url_forms

        given = text.strip()

        def op(conn: Connection) -> str:
            try:
                forms = pasted_url_forms(given)
            except ValueError as exc:
                # Kept as given: an archive may hold a URL the crawler would not make.
                if (page_id := self._page_id(conn, given)) is not None:
                    return self._url_of(conn, page_id)
                raise ArchiveError(self.core.path,
                                   f"{given!r} is not a page URL: {exc}") from None
            for url in ([given] if given not in forms else []) + forms:
                if (page_id := self._page_id(conn, url)) is not None:
                    return self._url_of(conn, page_id)
            has_pages = conn.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is not None
            raise ArchiveError(self.core.path, not_found_message(
                forms, has_pages, lambda url, n: self._urls_beside(conn, url, n)))

        return self.core.run(op, doing="find_page_url")

    @staticmethod
    def _url_of(conn: Connection, page_id: int) -> str:
        row = conn.execute("SELECT url FROM pages WHERE id = %s", (page_id,)).fetchone()
        assert row is not None
        return str(row[0])

    @staticmethod
    def _urls_beside(conn: Connection, url: str, per_side: int) -> list[str]:
        """Up to `per_side` stored URLs sorting before `url` and as many from it on."""
        before = conn.execute(
            'SELECT url FROM pages WHERE url COLLATE "C" < %s ORDER BY url COLLATE "C" DESC'
            " LIMIT %s", (url, per_side)).fetchall()
        after = conn.execute(
            'SELECT url FROM pages WHERE url COLLATE "C" >= %s ORDER BY url COLLATE "C"'
            " LIMIT %s", (url, per_side)).fetchall()
        return [str(row[0]) for row in [*before, *after]]

    def has_revision(self, url: str, revision_id: int) -> bool:
        """Whether some stored version of `url` shows the wiki revision `revision_id`."""
        def op(conn: Connection) -> bool:
            page_id = self._page_id(conn, url)
            if page_id is None:
                return False
            return conn.execute(
                "SELECT 1 FROM snapshots WHERE page_id = %s AND revision_id = %s LIMIT 1",
                (page_id, revision_id)).fetchone() is not None

        return self.core.run(op, doing="has_revision")

    def current_hash(self, url: str) -> str | None:
        """The content hash of the latest version of `url` (None: nothing stored yet)."""
        # The crawl asks before each save, on the archive's thread, which waits for every
        # answer: one statement (_page_id's two lookups inside it) outside a transaction,
        # one round trip (BEGIN and COMMIT around it made three).
        def op(conn: Connection) -> str | None:
            row = conn.execute(
                "SELECT s.content_hash FROM pages p JOIN snapshots s ON s.page_id = p.id"
                " AND s.version = p.current_version WHERE p.id = coalesce("
                "(SELECT id FROM pages WHERE url = %(url)s), (SELECT page_id FROM frontier"
                " WHERE url = %(url)s AND page_id IS NOT NULL))", {"url": url}).fetchone()
            return None if row is None else str(row[0])

        return self.core.run(op, doing="current_hash", transaction=False)

    def history(self, url: str) -> list[Snapshot]:
        """Every version of `url`, oldest first."""
        def op(conn: Connection) -> list[Snapshot]:
            page_id = self._require_page(conn, url)
            rows = conn.execute(
                f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots s JOIN pages p ON p.id = s.page_id"
                " WHERE s.page_id = %s ORDER BY s.version", (page_id,)).fetchall()
            return [snapshot_from_row(row) for row in rows]

        return self.core.run(op, doing="history")

    def snapshot(self, url: str, version: int | None = None) -> Snapshot:
        """One version's metadata (None: the latest)."""
        return self.core.run(lambda conn: snapshot_from_row(
            self._version_row(conn, url, version, SNAPSHOT_COLUMNS)), doing="snapshot")

    def page(self, url: str, version: int | None = None) -> Page:
        """The extracted fields of one version, as the parser produced them."""
        def op(conn: Connection) -> Page:
            (fields_hash,) = self._version_row(conn, url, version, "s.fields_hash")
            return page_from_dict(json.loads(self._blob(conn, fields_hash, url)))

        return self.core.run(op, doing="page")

    def body(self, url: str, version: int | None = None) -> bytes:
        """The exact bytes fetched for one version."""
        def op(conn: Connection) -> bytes:
            (body_hash,) = self._version_row(conn, url, version, "s.body_hash")
            return self._blob(conn, body_hash, url)

        return self.core.run(op, doing="body")

    def response_headers(self, url: str, version: int | None = None) -> list[tuple[str, str]]:
        def op(conn: Connection) -> list[tuple[str, str]]:
            (headers,) = self._version_row(conn, url, version, "s.headers")
            return [(str(k), str(v)) for k, v in json.loads(headers)]

        return self.core.run(op, doing="response_headers")

    def version_at(self, url: str, when: datetime) -> int | None:
        """The version of `url` current at `when` (None: not yet archived then)."""
        def op(conn: Connection) -> int | None:
            page_id = self._require_page(conn, url)
            row = conn.execute(
                "SELECT max(version) FROM snapshots WHERE page_id = %s AND fetched_at <= %s",
                (page_id, as_param(when))).fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return self.core.run(op, doing="version_at")

    def page_info(self, url: str) -> dict[str, Any]:
        """The `pages` row of `url` (site, kind, title, first_seen, ..., gone)."""
        def op(conn: Connection) -> dict[str, Any]:
            page_id = self._require_page(conn, url)
            return self._page_rows(conn, "id = %s", [page_id], None, "id")[0]

        return self.core.run(op, doing="page_info")

    def linking_to(self, url: str) -> list[dict[str, Any]]:
        """Pages whose latest version links to `url`: source, title, site, kind, anchor, version."""
        def op(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT p.url, p.title, p.site, l.kind, l.anchor, p.current_version,"
                " l.from_version FROM links l JOIN pages p ON p.id = l.page_id"
                f' WHERE l.target = %s AND l.to_version IS NULL ORDER BY {URL_ORDER},'
                ' l.kind COLLATE "C"', (url,)).fetchall()
            return [{"source": r[0], "title": r[1], "site": r[2], "kind": r[3],
                     "anchor": r[4], "version": r[5], "since_version": r[6]} for r in rows]

        return self.core.run(op, doing="linking_to")

    def links_changes(self, url: str, from_version: int,
                      to_version: int) -> dict[str, list[dict[str, Any]]]:
        """Links of `url` added and removed between two versions (kind, target, anchor)."""
        def op(conn: Connection) -> dict[str, list[dict[str, Any]]]:
            page_id = self._require_page(conn, url)

            def at(version: int) -> set[tuple[str, str, str]]:
                return {(r[0], r[1], r[2]) for r in conn.execute(
                    "SELECT kind, target, anchor FROM links WHERE page_id = %s"
                    " AND from_version <= %s AND (to_version IS NULL OR to_version >= %s)",
                    (page_id, version, version))}

            old, new = at(from_version), at(to_version)
            return {"added": [{"kind": k, "target": t, "anchor": a}
                              for k, t, a in sorted(new - old)],
                    "removed": [{"kind": k, "target": t, "anchor": a}
                                for k, t, a in sorted(old - new)]}

        return self.core.run(op, doing="links_changes")

    # -- many pages ----------------------------------------------------------------------

    def iter_versions(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[tuple[str, Snapshot, Page]]:
        """Stream (site, snapshot, page) ordered by URL then version, in constant memory.

        Latest version of each page unless `all_versions`; with `as_of`, the version each
        page had at that time. `since`/`until` keep versions made in [since, until).
        """
        where, params = version_filter(site, since, until, all_versions, as_of, mark="%s",
                                       time_param=as_param)
        sql = (f"SELECT p.site, {SNAPSHOT_COLUMNS}, s.fields_hash FROM pages p"
               f" JOIN snapshots s ON s.page_id = p.id WHERE {where}"
               f" ORDER BY {URL_ORDER}, s.version")
        for conn, row in self._stream(sql, params, "iter_versions"):
            snap = snapshot_from_row(row[1:])
            fields = self._blob(conn, row[-1], snap.url)
            yield row[0], snap, page_from_dict(json.loads(fields))

    def iter_summaries(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[VersionSummary]:
        """The versions iter_versions would give, as VersionSummary records read from the
        snapshot's columns (the fields blob only for versions that lack them)."""
        where, params = version_filter(site, since, until, all_versions, as_of, mark="%s",
                                       time_param=as_param)
        sql = ("SELECT p.site, p.url, s.version, s.fetched_at, s.content_hash, s.revision_id,"
               " s.kind, s.title, s.summary, s.summary_truncated, s.related, s.categories,"
               " s.infobox, s.fields_hash FROM pages p JOIN snapshots s ON s.page_id = p.id"
               f" WHERE {where} ORDER BY {URL_ORDER}, s.version")
        loads = orjson.loads
        for conn, row in self._stream(sql, params, "iter_summaries"):
            (site_name, url, version, fetched_at, chash, revision_id, kind, title, summary,
             truncated, related, categories, infobox, fields_hash) = row
            if truncated is None or related is None:
                # A copy of a version stored before SQLite's schema 3: from the fields blob.
                page = page_from_dict(loads(self._blob(conn, fields_hash, url)))
                truncated, items = page.summary_truncated, page.related_items()
            else:
                items = tuple(map(tuple, loads(related)))
            yield VersionSummary(
                site_name, url, version, utc(fetched_at), chash, revision_id, kind, title,
                summary, bool(truncated), items, tuple(loads(categories)),
                tuple(map(tuple, loads(infobox))))

    def iter_links(self, *, site: str | None = None,
                   all_versions: bool = False) -> Iterator[dict[str, Any]]:
        """Stream the link graph: source, target, kind, anchor, version (latest versions only
        unless `all_versions`, which gives one row per link per version that has it)."""
        params: list[Any] = []
        site_clause = ""
        if site is not None:
            site_clause = " AND p.site = %s"
            params.append(site)
        if all_versions:
            sql = ("SELECT p.url, l.target, l.kind, l.anchor, s.version, p.site FROM links l"
                   " JOIN pages p ON p.id = l.page_id"
                   " JOIN snapshots s ON s.page_id = l.page_id AND s.version >= l.from_version"
                   " AND (l.to_version IS NULL OR s.version <= l.to_version)"
                   f" WHERE true{site_clause} ORDER BY {URL_ORDER}, s.version, l.id")
        else:
            sql = ("SELECT p.url, l.target, l.kind, l.anchor, p.current_version, p.site"
                   " FROM links l JOIN pages p ON p.id = l.page_id"
                   f" WHERE l.to_version IS NULL{site_clause} ORDER BY {URL_ORDER}, l.id")
        for _, row in self._stream(sql, params, "iter_links"):
            yield {"source": row[0], "target": row[1], "kind": row[2], "anchor": row[3],
                   "version": row[4], "site": row[5]}

    def versions_between(self, since: datetime, until: datetime | None = None,
                         site: str | None = None) -> Iterator[tuple[str, Snapshot]]:
        """(site, snapshot) of every version made in [since, until), by URL then version."""
        sql, params = versions_query(site, since, until, mark="%s", time_param=as_param)
        for _, row in self._stream(sql + f" ORDER BY {URL_ORDER}, s.version", params,
                                   "versions_between"):
            yield row[0], snapshot_from_row(row[1:])

    def latest_versions(self, limit: int, since: datetime | None = None,
                        until: datetime | None = None,
                        site: str | None = None) -> list[tuple[str, Snapshot]]:
        """The `limit` newest versions made in [since, until), newest first."""
        sql, params = versions_query(site, since, until, mark="%s", time_param=as_param)
        sql += f" ORDER BY s.fetched_at DESC, {URL_ORDER} DESC, s.version DESC LIMIT %s"
        return self.core.run(lambda conn: [
            (row[0], snapshot_from_row(row[1:]))
            for row in conn.execute(sql, [*params, max(0, limit)])], doing="latest_versions")

    def gone_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages marked gone at or after `since`."""
        return self.core.run(lambda conn: self._page_rows(
            conn, "gone AND gone_at >= %s", [as_param(since)], site, "gone_at"),
            doing="gone_pages")

    def new_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages first archived at or after `since`."""
        return self.core.run(lambda conn: self._page_rows(
            conn, "first_seen >= %s", [as_param(since)], site, "first_seen"),
            doing="new_pages")

    @staticmethod
    def _page_rows(conn: Connection, where: str, params: list[Any], site: str | None,
                   order: str) -> list[dict[str, Any]]:
        if site is not None:
            where += " AND site = %s"
            params.append(site)
        rows = conn.execute(
            f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages p WHERE {where}"
            f" ORDER BY {order}, {URL_ORDER}", params).fetchall()
        return [page_row(row) for row in rows]
