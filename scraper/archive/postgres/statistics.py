"""Whole-archive reads of the PostgreSQL archive: full-text search, field fill rates and the
figures of `scraper stats`, with the SQLite archive's result fields
(scraper/archive/sqlite/reads.py).

Search ranks with `ts_rank` over the pages' `search` tsvector (the `simple` configuration,
title weighted above summary above text) and makes its snippet with `ts_headline`, matches
in [brackets]. The vector holds the title, the summary and the first SEARCH_TEXT_CHARS
characters of the text (schema.py says why), so words further down a long page are not
found, as they are by the SQLite archive's FTS5 index; the snippet is cut from the same part. `rank` is the negated ts_rank, so that lower is better as with SQLite's bm25.
The query's words must all match (plainto_tsquery), as the SQLite archive's quoted FTS terms.

A mixin over `self.core` (PostgresCore), as PostgresReads.
"""

from __future__ import annotations

from typing import Any

from scraper.archive.postgres.core import Connection, PostgresCore
from scraper.archive.postgres.schema import SEARCH_TEXT_CHARS, current_version
from scraper.archive.queries import FILL_EXPRESSIONS

# URLs in code point order, as SQLite sorts text.
URL_ORDER = 'p.url COLLATE "C"'
# ts_headline's options for a snippet like SQLite's snippet(..., '[', ']', '…', 12).
HEADLINE_OPTIONS = ("StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1,"
                    " FragmentDelimiter=…")


class PostgresStatistics:
    """search, field_fill_rates and stats of PostgresArchive."""

    core: PostgresCore

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over the current title, summary and text of every page, best
        first (see the module docstring for the ranking)."""
        if not query.strip():
            return []

        def op(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "WITH q AS (SELECT plainto_tsquery('simple', %(query)s) AS q),"
                " hits AS (SELECT p.id, ts_rank(p.search, q.q) AS score FROM pages p, q"
                f" WHERE p.search @@ q.q ORDER BY score DESC, {URL_ORDER} LIMIT %(limit)s)"
                " SELECT p.url, p.site, p.title, p.current_version,"
                " ts_headline('simple', concat_ws(' ', p.title, p.summary,"
                " left(p.text, %(indexed)s)), q.q, %(options)s), -h.score"
                f" FROM hits h JOIN pages p ON p.id = h.id, q ORDER BY h.score DESC, {URL_ORDER}",
                {"query": query, "limit": limit, "options": HEADLINE_OPTIONS,
                 "indexed": SEARCH_TEXT_CHARS}).fetchall()
            return [{"url": r[0], "site": r[1], "title": r[2], "version": r[3],
                     "snippet": r[4], "rank": float(r[5])} for r in rows]

        return self.core.run(op, doing="search")

    # -- the whole archive ---------------------------------------------------------------

    def field_fill_rates(self, site: str, *, run_id: int | None = None) -> dict[str, float]:
        """Share (0..1) of versions with a non-empty value per field: the latest version of each
        page of `site`, or with `run_id` the versions that run created. Empty when none."""
        return self.core.run(lambda conn: self._fill_rates(conn, site, run_id),
                             doing="field_fill_rates")

    @staticmethod
    def _fill_rates(conn: Connection, site: str, run_id: int | None) -> dict[str, float]:
        columns = ", ".join(f"avg(({expr})::int)" for expr in FILL_EXPRESSIONS.values())
        params: list[Any] = [site]
        if run_id is None:
            where = "p.site = %s AND s.version = p.current_version"
        else:
            where = "p.site = %s AND s.run_id = %s"
            params.append(run_id)
        row = conn.execute(
            f"SELECT count(*), {columns} FROM snapshots s JOIN pages p ON p.id = s.page_id"
            f" WHERE {where}", params).fetchone()
        if row is None or not row[0]:
            return {}
        return {name: round(float(value), 4) for name, value in zip(FILL_EXPRESSIONS, row[1:])}

    def site_counts(self) -> dict[str, dict[str, int]]:
        """Pages, versions and gone pages per site."""
        return self.core.run(_site_counts, doing="site_counts")

    def stats(self) -> dict[str, Any]:
        """Sizes and counts for `scraper stats` (the keys of the SQLite archive's); file_size
        is the database's size on the server."""
        def op(conn: Connection) -> dict[str, Any]:
            def one(sql: str, *args: Any) -> tuple[Any, ...]:
                row = conn.execute(sql, args).fetchone()
                assert row is not None
                return tuple(row)

            pages, gone = one("SELECT count(*), count(*) FILTER (WHERE gone) FROM pages")
            versions, raw = one("SELECT count(*), coalesce(sum(body_size), 0) FROM snapshots")
            blobs, stored, delta_blobs = one(
                "SELECT count(*), coalesce(sum(stored_size), 0),"
                " count(*) FILTER (WHERE base IS NOT NULL) FROM blobs WHERE kind = 'body'")
            fblobs, fstored, fraw = one(
                "SELECT count(*), coalesce(sum(stored_size), 0), coalesce(sum(size), 0)"
                " FROM blobs WHERE kind = 'fields'")
            sites: dict[str, Any] = {
                site: {**counts, "fill_rates": self._fill_rates(conn, site, None)}
                for site, counts in _site_counts(conn).items()}
            raw, stored = int(raw), int(stored)
            return {
                "path": self.core.path,
                "file_size": int(one("SELECT pg_database_size(current_database())")[0]),
                "schema_version": current_version(conn),
                "pages": pages, "gone_pages": gone, "versions": versions,
                "blobs": blobs, "delta_blobs": delta_blobs,
                "bytes_fetched": raw, "bytes_stored": stored,
                "ratio": round(raw / stored, 2) if stored else None,
                "fields_blobs": fblobs, "fields_bytes": int(fraw),
                "fields_bytes_stored": int(fstored),
                "runs": one("SELECT count(*) FROM runs")[0],
                "failures": one("SELECT count(*) FROM failures")[0],
                "skipped": one("SELECT count(*) FROM skips")[0],
                "frontier": one("SELECT count(*) FROM frontier")[0],
                "sites": sites,
            }

        return self.core.run(op, doing="stats")


def _site_counts(conn: Connection) -> dict[str, dict[str, int]]:
    versions: dict[str, int] = {str(site): int(n) for site, n in conn.execute(
        "SELECT p.site, count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id"
        " GROUP BY p.site")}
    return {site: {"pages": pages, "versions": versions.get(site, 0), "gone": gone}
            for site, pages, gone in conn.execute(
                "SELECT site, count(*), count(*) FILTER (WHERE gone) FROM pages"
                ' GROUP BY site ORDER BY site COLLATE "C"').fetchall()}
