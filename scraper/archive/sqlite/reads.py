"""Queries over the SQLite archive: versions, bodies, links, changes, statistics and search."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from scraper.archive.queries import (
    FILL_EXPRESSIONS,
    SNAPSHOT_COLUMNS,
    version_filter,
    versions_query,
)
from scraper.archive.sqlite.core import (
    ArchiveCore,
    describe_sqlite_error,
    snapshot_from_row,
    translated,
)
from scraper.archive.suggest import not_found_message
from scraper.errors import ArchiveError
from scraper.models import Page, Snapshot, VersionSummary, page_from_dict
from scraper.timeutil import from_iso, iso


# Share of versions with a non-empty value, per field, as SQL over a snapshots row `s`.
class ArchiveReads(ArchiveCore):
    """Read methods of SQLiteArchive. Unknown URLs and versions raise ArchiveError naming them."""

    @translated
    def find_page_url(self, text: str) -> str:
        """The URL under which the archive stores the page that `text`, a URL as a person
        pastes it, names: any case of scheme and host, with a fragment, with or without a
        trailing slash, http or https, or no scheme at all (en.wikipedia.org/wiki/Foo).

        Raises ArchiveError naming the URL looked up and the closest stored URLs.
        """
        # Imported here: the frontier module brings the config's (YAML) with it, which the
        # read commands otherwise never load.
        from scraper.urls import pasted_url_forms

        given = text.strip()
        try:
            forms = pasted_url_forms(given)
        except ValueError as exc:
            # Kept as given: an archive may hold a URL the crawler would not make.
            if (page_id := self._page_id(given)) is not None:
                return self._url_of(page_id)
            raise ArchiveError(self.path, f"{given!r} is not a page URL: {exc}") from None
        # The text as given first: an archive may hold a URL the crawler would not make.
        for url in ([given] if given not in forms else []) + forms:
            if (page_id := self._page_id(url)) is not None:
                return self._url_of(page_id)
        has_pages = self.conn.execute("SELECT 1 FROM pages LIMIT 1").fetchone() is not None
        raise ArchiveError(self.path, not_found_message(forms, has_pages, self._urls_beside))

    def _url_of(self, page_id: int) -> str:
        return str(self.conn.execute("SELECT url FROM pages WHERE id = ?",
                                     (page_id,)).fetchone()[0])

    def _urls_beside(self, url: str, per_side: int) -> list[str]:
        """Up to `per_side` stored URLs sorting before `url` and as many from it on, read
        from the URL index (pages.url is UNIQUE)."""
        before = self.conn.execute(
            "SELECT url FROM pages WHERE url < ? ORDER BY url DESC LIMIT ?", (url, per_side))
        after = self.conn.execute(
            "SELECT url FROM pages WHERE url >= ? ORDER BY url LIMIT ?", (url, per_side))
        return [str(row[0]) for row in [*before, *after]]

    @translated
    def has_revision(self, url: str, revision_id: int) -> bool:
        """Whether some stored version of `url` shows the wiki revision `revision_id`."""
        page_id = self._page_id(url)
        if page_id is None:
            return False
        row = self.conn.execute(
            "SELECT 1 FROM snapshots WHERE page_id = ? AND revision_id = ? LIMIT 1",
            (page_id, revision_id)).fetchone()
        return row is not None

    @translated
    def current_hash(self, url: str) -> str | None:
        """The content hash of the latest version of `url` (None: nothing stored yet)."""
        page_id = self._page_id(url)
        if page_id is None:
            return None
        row = self.conn.execute(
            "SELECT s.content_hash FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " WHERE s.page_id = ? AND s.version = p.current_version", (page_id,)).fetchone()
        return None if row is None else str(row[0])

    @translated
    def history(self, url: str) -> list[Snapshot]:
        """Every version of `url`, oldest first."""
        page_id = self._require_page(url)
        rows = self.conn.execute(
            f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " WHERE s.page_id = ? ORDER BY s.version", (page_id,)).fetchall()
        return [snapshot_from_row(row) for row in rows]

    @translated
    def snapshot(self, url: str, version: int | None = None) -> Snapshot:
        """One version's metadata (None: the latest)."""
        return snapshot_from_row(self._version_row(url, version, SNAPSHOT_COLUMNS))

    @translated
    def page(self, url: str, version: int | None = None) -> Page:
        """The extracted fields of one version, as the parser produced them."""
        (fields_hash,) = self._version_row(url, version, "s.fields_hash")
        return page_from_dict(json.loads(self._blob(fields_hash, url)))

    @translated
    def body(self, url: str, version: int | None = None) -> bytes:
        """The exact bytes fetched for one version."""
        (body_hash,) = self._version_row(url, version, "s.body_hash")
        return self._blob(body_hash, url)

    @translated
    def response_headers(self, url: str, version: int | None = None) -> list[tuple[str, str]]:
        (headers,) = self._version_row(url, version, "s.headers")
        return [(str(k), str(v)) for k, v in json.loads(headers)]

    @translated
    def version_at(self, url: str, when: datetime) -> int | None:
        """The version of `url` current at `when` (None: not yet archived then)."""
        page_id = self._require_page(url)
        row = self.conn.execute(
            "SELECT max(version) FROM snapshots WHERE page_id = ? AND fetched_at <= ?",
            (page_id, iso(when))).fetchone()
        return None if row[0] is None else int(row[0])

    def iter_versions(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[tuple[str, Snapshot, Page]]:
        """Stream (site, snapshot, page) ordered by URL then version, in constant memory.

        Latest version of each page unless `all_versions`; with `as_of`, the version each
        page had at that time. `since`/`until` keep versions made in [since, until).
        """
        where, params = version_filter(site, since, until, all_versions, as_of, mark="?",
                                       time_param=iso)
        # pages first: the planner walks pages in URL order, so rows stream without a full sort.
        sql = (f"SELECT p.site, {SNAPSHOT_COLUMNS}, s.fields_hash FROM pages p"
               f" JOIN snapshots s ON s.page_id = p.id WHERE {where} ORDER BY p.url, s.version")
        try:
            cursor = self.conn.execute(sql, params)
            for row in cursor:
                snap = snapshot_from_row(row[1:])
                page = page_from_dict(json.loads(self._blob(row[-1], snap.url)))
                yield row[0], snap, page
        except sqlite3.Error as exc:
            raise ArchiveError(self.path, f"iter_versions: {describe_sqlite_error(exc)}") from exc

    def iter_summaries(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[VersionSummary]:
        """The versions iter_versions would give, as VersionSummary records read from the
        snapshot's columns: an order of magnitude cheaper than decompressing and decoding the
        fields blob (which only versions stored before schema version 3 need)."""
        where, params = version_filter(site, since, until, all_versions, as_of, mark="?",
                                       time_param=iso)
        sql = ("SELECT p.site, p.url, s.version, s.fetched_at, s.content_hash, s.revision_id,"
               " s.kind, s.title, s.summary, s.summary_truncated, s.related, s.categories,"
               f" s.infobox, s.fields_hash FROM pages p JOIN snapshots s ON s.page_id = p.id"
               f" WHERE {where} ORDER BY p.url, s.version")
        loads = orjson.loads
        try:
            cursor = self.conn.execute(sql, params)
            for (site_name, url, version, fetched_at, chash, revision_id, kind, title, summary,
                 truncated, related, categories, infobox, fields_hash) in cursor:
                if truncated is None or related is None:
                    # Stored before schema 3: these two come from the fields blob.
                    page = page_from_dict(loads(self._blob(fields_hash, url)))
                    truncated, items = page.summary_truncated, page.related_items()
                else:
                    items = tuple(map(tuple, loads(related)))
                yield VersionSummary(
                    site_name, url, version, from_iso(fetched_at), chash, revision_id, kind,
                    title, summary, bool(truncated), items, tuple(loads(categories)),
                    tuple(map(tuple, loads(infobox))))
        except sqlite3.Error as exc:
            raise ArchiveError(self.path, f"iter_summaries: {describe_sqlite_error(exc)}") from exc

    def iter_links(self, *, site: str | None = None,
                   all_versions: bool = False) -> Iterator[dict[str, Any]]:
        """Stream the link graph: source, target, kind, anchor, version (latest versions only
        unless `all_versions`, which gives one row per link per version that has it)."""
        params: list[Any] = []
        site_clause = ""
        if site is not None:
            site_clause = " AND p.site = ?"
            params.append(site)
        if all_versions:
            sql = ("SELECT p.url, l.target, l.kind, l.anchor, s.version, p.site FROM links l"
                   " JOIN pages p ON p.id = l.page_id"
                   " JOIN snapshots s ON s.page_id = l.page_id AND s.version >= l.from_version"
                   " AND (l.to_version IS NULL OR s.version <= l.to_version)"
                   f" WHERE 1{site_clause} ORDER BY p.url, s.version, l.id")
        else:
            sql = ("SELECT p.url, l.target, l.kind, l.anchor, p.current_version, p.site"
                   " FROM links l JOIN pages p ON p.id = l.page_id"
                   f" WHERE l.to_version IS NULL{site_clause} ORDER BY p.url, l.id")
        try:
            for row in self.conn.execute(sql, params):
                yield {"source": row[0], "target": row[1], "kind": row[2], "anchor": row[3],
                       "version": row[4], "site": row[5]}
        except sqlite3.Error as exc:
            raise ArchiveError(self.path, f"iter_links: {describe_sqlite_error(exc)}") from exc

    @translated
    def linking_to(self, url: str) -> list[dict[str, Any]]:
        """Pages whose latest version links to `url`: source, title, site, kind, anchor, version."""
        rows = self.conn.execute(
            "SELECT p.url, p.title, p.site, l.kind, l.anchor, p.current_version, l.from_version"
            " FROM links l JOIN pages p ON p.id = l.page_id"
            " WHERE l.target = ? AND l.to_version IS NULL ORDER BY p.url, l.kind", (url,))
        return [{"source": r[0], "title": r[1], "site": r[2], "kind": r[3], "anchor": r[4],
                 "version": r[5], "since_version": r[6]} for r in rows]

    @translated
    def links_changes(self, url: str, from_version: int, to_version: int) -> dict[str, list[dict[str, Any]]]:
        """Links of `url` added and removed between two versions (kind, target, anchor)."""
        page_id = self._require_page(url)

        def at(version: int) -> set[tuple[str, str, str]]:
            return {(r[0], r[1], r[2]) for r in self.conn.execute(
                "SELECT kind, target, anchor FROM links WHERE page_id = ? AND from_version <= ?"
                " AND (to_version IS NULL OR to_version >= ?)", (page_id, version, version))}

        old, new = at(from_version), at(to_version)
        return {"added": [{"kind": k, "target": t, "anchor": a} for k, t, a in sorted(new - old)],
                "removed": [{"kind": k, "target": t, "anchor": a}
                            for k, t, a in sorted(old - new)]}

    def versions_between(self, since: datetime, until: datetime | None = None,
                         site: str | None = None) -> Iterator[tuple[str, Snapshot]]:
        """(site, snapshot) of every version made in [since, until), by URL then version."""
        sql, params = versions_query(site, since, until, mark="?", time_param=iso)
        try:
            for row in self.conn.execute(sql + " ORDER BY p.url, s.version", params):
                yield row[0], snapshot_from_row(row[1:])
        except sqlite3.Error as exc:
            raise ArchiveError(self.path, f"versions_between: {describe_sqlite_error(exc)}") from exc

    @translated
    def latest_versions(self, limit: int, since: datetime | None = None,
                        until: datetime | None = None,
                        site: str | None = None) -> list[tuple[str, Snapshot]]:
        """The `limit` newest versions made in [since, until), newest first."""
        sql, params = versions_query(site, since, until, mark="?", time_param=iso)
        rows = self.conn.execute(
            sql + " ORDER BY s.fetched_at DESC, p.url DESC, s.version DESC LIMIT ?",
            [*params, max(0, limit)]).fetchall()
        return [(row[0], snapshot_from_row(row[1:])) for row in rows]

    @translated
    def gone_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages marked gone at or after `since`."""
        return self._page_rows("gone = 1 AND gone_at >= ?", [iso(since)], site, "gone_at")

    @translated
    def new_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages first archived at or after `since`."""
        return self._page_rows("first_seen >= ?", [iso(since)], site, "first_seen")

    def _page_rows(self, where: str, params: list[Any], site: str | None,
                   order: str) -> list[dict[str, Any]]:
        if site is not None:
            where += " AND site = ?"
            params.append(site)
        rows = self.conn.execute(
            "SELECT url, site, kind, title, first_seen, last_fetched, last_changed,"
            " current_version, seen_count, not_modified_count, gone, gone_at FROM pages"
            f" WHERE {where} ORDER BY {order}, url", params)
        names = ("url", "site", "kind", "title", "first_seen", "last_fetched", "last_changed",
                 "current_version", "seen_count", "not_modified_count", "gone", "gone_at")
        return [dict(zip(names, row)) | {"gone": bool(row[10])} for row in rows]

    @translated
    def page_info(self, url: str) -> dict[str, Any]:
        """The `pages` row of `url` (site, kind, title, first_seen, ..., gone)."""
        page_id = self._require_page(url)
        rows = self._page_rows("id = ?", [page_id], None, "id")
        return rows[0]

    @translated
    def field_fill_rates(self, site: str, *, run_id: int | None = None) -> dict[str, float]:
        """Share (0..1) of versions with a non-empty value per field: the latest version of each
        page of `site`, or with `run_id` the versions that run created. Empty when none."""
        columns = ", ".join(f"avg({expr})" for expr in FILL_EXPRESSIONS.values())
        params: list[Any] = [site]
        if run_id is None:
            where = "p.site = ? AND s.version = p.current_version"
        else:
            where = "p.site = ? AND s.run_id = ?"
            params.append(run_id)
        row = self.conn.execute(
            f"SELECT count(*), {columns} FROM snapshots s JOIN pages p ON p.id = s.page_id"
            f" WHERE {where}", params).fetchone()
        if not row[0]:
            return {}
        return {name: round(float(value), 4) for name, value in zip(FILL_EXPRESSIONS, row[1:])}

    @translated
    def site_counts(self) -> dict[str, dict[str, int]]:
        """Pages, versions and gone pages per site."""
        versions = dict(self.conn.execute(
            "SELECT p.site, count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " GROUP BY p.site").fetchall())
        return {site: {"pages": pages, "versions": int(versions.get(site, 0)), "gone": gone}
                for site, pages, gone in self.conn.execute(
                    "SELECT site, count(*), sum(gone) FROM pages GROUP BY site ORDER BY site")}

    @translated
    def stats(self) -> dict[str, Any]:
        """Sizes and counts for `scraper stats`; bytes_fetched is the raw size of every stored
        version's body, bytes_stored what their blobs take compressed."""
        pages, gone = self._one("SELECT count(*), coalesce(sum(gone), 0) FROM pages")
        versions, raw = self._one("SELECT count(*), coalesce(sum(body_size), 0) FROM snapshots")
        blobs, stored, delta_blobs = self._one(
            "SELECT count(*), coalesce(sum(stored_size), 0), coalesce(sum(base IS NOT NULL), 0)"
            " FROM blobs WHERE kind = 'body'")
        fblobs, fstored, fraw = self._one(
            "SELECT count(*), coalesce(sum(stored_size), 0), coalesce(sum(size), 0)"
            " FROM blobs WHERE kind = 'fields'")
        runs = self._one("SELECT count(*) FROM runs")[0]
        failures = self._one("SELECT count(*) FROM failures")[0]
        skipped = self._one("SELECT count(*) FROM skips")[0]
        queued = self._one("SELECT count(*) FROM frontier")[0]
        sites: dict[str, Any] = {site: {**counts, "fill_rates": self.field_fill_rates(site)}
                                 for site, counts in self.site_counts().items()}
        return {
            "path": self.path,
            "file_size": self._file_size(),
            "schema_version": int(self._one("PRAGMA user_version")[0]),
            "pages": pages, "gone_pages": gone, "versions": versions,
            "blobs": blobs, "delta_blobs": delta_blobs,
            "bytes_fetched": raw, "bytes_stored": stored,
            "ratio": round(raw / stored, 2) if stored else None,
            "fields_blobs": fblobs, "fields_bytes": fraw, "fields_bytes_stored": fstored,
            "runs": runs, "failures": failures, "skipped": skipped, "frontier": queued,
            "sites": sites,
        }

    def _one(self, sql: str, *args: Any) -> tuple[Any, ...]:
        return tuple(self.conn.execute(sql, args).fetchone())

    def _file_size(self) -> int:
        if self.path == ":memory:":
            count = self.conn.execute("PRAGMA page_count").fetchone()[0]
            size = self.conn.execute("PRAGMA page_size").fetchone()[0]
            return int(count) * int(size)
        return sum(os.path.getsize(self.path + suffix) for suffix in ("", "-wal")
                   if os.path.exists(self.path + suffix))

    @translated
    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over the current title, summary and text of every page, best first."""
        if not query.strip():
            return []
        rows = self.conn.execute(
            "SELECT p.url, p.site, p.title, p.current_version,"
            " snippet(pages_fts, -1, '[', ']', '…', 12), bm25(pages_fts)"
            " FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid"
            " WHERE pages_fts MATCH ? ORDER BY bm25(pages_fts) LIMIT ?",
            (self.db.quote_fts(query), limit))
        return [{"url": r[0], "site": r[1], "title": r[2], "version": r[3], "snippet": r[4],
                 "rank": r[5]} for r in rows]
