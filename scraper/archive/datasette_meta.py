"""What Datasette shows of an archive: table and column labels, table options, canned queries.

Pure data and functions: `scraper datasette` writes them to files for Datasette, and
datasette/metadata.json is `datasette_metadata("archive")` (tests/test_datasette.py keeps it so).
Datasette keys metadata by database name, the file's stem: wiki-2026.db is "wiki-2026", so
metadata keyed "archive" applies to archive.db only.
"""

from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any

# Datasette shows at most this many characters of a cell in table and query views (its default,
# 2048, makes a page of 100 articles' text several screens per row); the row page shows all.
TRUNCATE_CELLS_HTML = 200
SETTINGS: dict[str, Any] = {"truncate_cells_html": TRUNCATE_CELLS_HTML}

TITLE = "scraper archive"
DESCRIPTION = ("Versioned snapshots of crawled encyclopedia pages. Schema: docs/archive.md. "
               "Serve with: scraper datasette ARCHIVE")
DATABASE_DESCRIPTION = "One SQLite archive written by `scraper crawl`."

_LINK_COLUMNS = {
    "id": "Integer key",
    "page_id": "The page the link is on (pages.id)",
    "target": "URL it points to",
    "kind": "related, more_info, see_also, internal, external, next, home or search",
    "anchor": "Link text",
    "from_version": "First version of the page with this link",
    "to_version": "Last version with it; empty while the current version has it",
}

# Descriptions and column labels: metadata in every Datasette version.
TABLE_DOCS: dict[str, dict[str, Any]] = {
    "pages": {
        "description": "One row per page (canonical URL): its latest title, summary and text, "
                       "and when it was seen and changed. The search box filters pages, latest "
                       "change first; the `search` query lists them by relevance.",
        "columns": {
            "id": "Integer key (snapshots.page_id, links.page_id)",
            "url": "The page's URL, as queued by the crawl",
            "site": "The crawl config's name",
            "kind": "listing, article or other",
            "title": "Title of the latest version",
            "summary": "Summary of the latest version (plain text)",
            "text": "Main text of the latest version (plain text; whole on the row's page)",
            "first_seen": "When its first version was stored (UTC)",
            "last_fetched": "Last completed fetch: new version, unchanged or 304 (UTC)",
            "last_changed": "When the current version was stored (UTC)",
            "current_version": "Latest version number",
            "seen_count": "Fetches with a body, including those that made versions",
            "not_modified_count": "304 Not Modified answers",
            "gone": "1: removed from the site (404/410 repeatedly)",
            "gone_at": "When it was marked gone (UTC)",
        },
    },
    "snapshots": {
        "description": "One row per version of a page. A fetch makes a version only when the "
                       "extracted content changed. The `history` query lists a page's versions.",
        "columns": {
            "id": "Integer key",
            "page_id": "The page (pages.id)",
            "version": "1, 2, 3... per page",
            "run_id": "The crawl run that stored it (runs.id)",
            "fetched_at": "When the fetch that made this version completed (UTC)",
            "last_seen": "Last fetch that still showed this content (UTC)",
            "seen_count": "Fetches that showed this content",
            "status": "HTTP status",
            "final_url": "URL after redirects",
            "etag": "ETag response header",
            "last_modified": "Last-Modified response header",
            "revision_id": "The wiki's revision id (wgRevisionId)",
            "revision_timestamp": "When the wiki revision was made (MediaWiki API)",
            "revision_user": "Who made the wiki revision (MediaWiki API)",
            "revision_comment": "The wiki revision's edit summary (MediaWiki API)",
            "kind": "listing, article or other",
            "title": "Extracted title",
            "summary": "Extracted summary",
            "image": "Main image URL",
            "categories": "JSON list of categories",
            "infobox": "JSON list of [key, value] pairs",
            "text_length": "Characters of main text",
            "link_count": "Links extracted",
            "entry_count": "Entries of a listing page",
            "parser": "Parser used",
            "parser_version": "Parser version",
            "content_hash": "SHA-256 of the extracted content; a new value makes a new version",
            "body_hash": "The raw body (blobs.hash)",
            "body_size": "Raw body size in bytes",
            "fields_hash": "All extracted fields as JSON (blobs.hash)",
            "headers": "JSON list of [name, value] response headers",
            "change_gist": "What changed from the version before, in one line",
            "summary_truncated": "1 when the summary was cut off with ' ...' "
                                 "(NULL: stored before schema 3)",
            "related": "JSON list of [url, title, kind] related items and See also links "
                       "(NULL: stored before schema 3)",
        },
    },
    "links": {
        "description": "The link graph as intervals of versions: one row per link while it "
                       "stays on the page. A view over links_settled and links_recent.",
        "columns": _LINK_COLUMNS,
    },
    "links_settled": {
        "description": "Links stored before the end of the last run, indexed by target "
                       "(part of the links view).",
        "columns": _LINK_COLUMNS,
    },
    "links_recent": {
        "description": "Links stored since the end of the last run, moved to links_settled "
                       "when a run ends (part of the links view).",
        "columns": _LINK_COLUMNS,
    },
    "blobs": {
        "description": "Raw bodies and extracted fields, content-addressed and "
                       "zstd-compressed, as full copies or deltas.",
        "columns": {
            "id": "Integer key",
            "hash": "SHA-256 of the uncompressed bytes",
            "kind": "body (bytes fetched) or fields (extracted fields as JSON)",
            "size": "Bytes uncompressed",
            "stored_size": "Bytes stored",
            "base": "Empty: a full copy; else the blob used as zstd dictionary (a delta)",
            "depth": "Decompressions needed to read it",
            "keyframe": "1: full copy or delta against another keyframe",
            "created_at": "When it was stored (UTC)",
            "data": "zstd frame",
        },
    },
    "runs": {
        "description": "One row per crawl run: its config, times, counts and how it ended.",
        "columns": {
            "id": "Integer key",
            "started_at": "Start (UTC)",
            "ended_at": "End (UTC)",
            "status": "running, completed, max_pages, max_time, interrupted or failed",
            "sites": "JSON list of site names",
            "config": "The merged crawl config (JSON)",
            "fetched": "Answers with a body",
            "new_versions": "Versions stored",
            "unchanged": "Fetches with unchanged content",
            "not_modified": "304 answers",
            "failed": "Failed URLs",
            "skipped": "URLs skipped (not HTML, robots.txt...)",
            "retried": "Extra attempts made",
            "queued": "URLs still due at the end",
            "elapsed_s": "Duration in seconds",
            "alerts": "JSON list of alerts (parser breakage...)",
            "extra": "Other figures (JSON)",
        },
    },
    "failures": {
        "description": "One row per failed fetch.",
        "columns": {
            "id": "Integer key",
            "run_id": "The run (runs.id)",
            "site": "Site name",
            "url": "URL",
            "reason": "What went wrong",
            "attempts": "HTTP attempts made",
            "status": "HTTP status, if any",
            "gone": "1: this failure marked the page gone",
            "at": "When (UTC)",
        },
    },
    "skips": {
        "description": "One row per URL deliberately not archived.",
        "columns": {
            "id": "Integer key",
            "run_id": "The run (runs.id)",
            "site": "Site name",
            "url": "URL",
            "reason": "Why (not HTML, robots.txt, blocked address...)",
            "at": "When (UTC)",
        },
    },
    "notify_outbox": {
        "description": "Changes to tell watchers of (notify:), queued with the write that made "
                       "them.",
        "columns": {
            "id": "Integer key, in the order queued",
            "site": "Site name",
            "url": "The page (for breakage: an example page)",
            "event": "version, gone or breakage",
            "version": "The new version; for gone, the version current then",
            "run_id": "The run (runs.id)",
            "at": "When (UTC)",
            "detail": "A gone page's reason; a breakage alert's message",
        },
    },
    "notify_targets": {
        "description": "Notification targets seen, per site, and where their changes start.",
        "columns": {
            "site": "Site name",
            "target": "Key from the target's kind and URL as written",
            "label": "The target, without credentials",
            "since_id": "It gets the changes after this notify_outbox.id",
            "added_at": "When first seen (UTC)",
        },
    },
    "notify_deliveries": {
        "description": "One row per target and change: sent, skipped or pending a retry.",
        "columns": {
            "target": "notify_targets.target",
            "change_id": "notify_outbox.id",
            "status": "sent, skipped (the target's filter) or pending",
            "attempts": "Failed sends",
            "next_attempt": "Retried from (UTC)",
            "last_error": "The last failure",
            "sent_at": "When sent or skipped (UTC)",
        },
    },
    "frontier": {
        "description": "Every known URL: the persisted crawl queue with due times and back-off.",
        "columns": {
            "url": "URL (key)",
            "site": "Site name",
            "depth": "Links from a start URL",
            "discovered_from": "Page it was found on",
            "link_kind": "Kind of link it was found as",
            "added_at": "When it was queued (UTC)",
            "next_due": "When it should be fetched (again) (UTC)",
            "attempts": "Failed fetches in a row",
            "fetch_count": "Completed fetches",
            "last_fetched": "Last completed fetch (UTC)",
            "last_status": "Last HTTP status",
            "etag": "ETag sent on the next request",
            "last_modified": "Last-Modified sent on the next request",
            "page_id": "The page it was stored as (pages.id)",
            "gone": "1: removed from the site",
        },
    },
    "schema_migrations": {
        "description": "Schema steps applied to this archive (PRAGMA user_version is the latest).",
        "columns": {
            "version": "Schema version",
            "name": "Step name",
            "applied_at": "When (UTC)",
        },
    },
    "page_versions": {
        "description": "Every version with its page's URL and site.",
    },
    "current_links": {
        "description": "Links of each page's latest version.",
        "columns": {
            "source": "Page URL",
            "since_version": "First version that had the link",
        },
    },
    "snapshot_links": {
        "description": "One row per link per version.",
        "columns": {
            "snapshot_id": "snapshots.id",
            "source": "Page URL",
        },
    },
}

# How tables are shown and searched: metadata in Datasette 0.x, configuration in 1.x.
# Table search (?_search=) filters with `id in (select rowid from pages_fts where ... match)` and
# keeps the table's sort (datasette/filters.py, 0.65), so it is not ordered by relevance: the
# `search` query below is.
TABLE_OPTIONS: dict[str, dict[str, Any]] = {
    "pages": {"label_column": "title", "sort_desc": "last_changed",
              "fts_table": "pages_fts", "fts_pk": "id", "searchmode": "escaped"},
    "snapshots": {"label_column": "title", "sort_desc": "fetched_at"},
    "runs": {"sort_desc": "started_at"},
    "failures": {"sort_desc": "at"},
}

# Each word of :q quoted, as Datasette's escape_fts does, but in plain SQL so the query also
# runs in sqlite3 or Python: FTS5 reads `"cold" "war"` as both words, and an unquoted
# `Russia-NATO`, `C++` or a stray quote would be a syntax error instead of a search. Empty
# phrases (from repeated spaces) match nothing and are ignored by FTS5.
_ESCAPED_Q = "'\"' || replace(replace(trim(:q), '\"', '\"\"'), ' ', '\" \"') || '\"'"

QUERIES: dict[str, dict[str, Any]] = {
    "search": {
        "title": "Search pages by relevance",
        "description": "q: words that must all occur in the title, summary or text. Best "
                       "first: SQLite's bm25, a title match counting 10 times a text match "
                       "and a summary match 3 times.",
        "sql": "select pages.url, pages.title, "
               "snippet(pages_fts, -1, '[', ']', '…', 12) as hit, pages.site, pages.kind, "
               "pages.last_changed, pages.current_version, "
               "bm25(pages_fts, 10.0, 3.0, 1.0) as score "
               "from pages_fts join pages on pages.id = pages_fts.rowid "
               f"where pages_fts match {_ESCAPED_Q} "
               "order by score, pages.id limit 100",
    },
    "history": {
        "title": "Versions of a page",
        "description": "url: the page's URL as stored (pages.url). One row per version, "
                       "oldest first.",
        "sql": "select version, fetched_at, last_seen, run_id, status, revision_id, "
               "content_hash, title, summary, change_gist "
               "from page_versions where url = :url order by version",
    },
    "recent_changes": {
        "title": "Pages changed since a date",
        "description": "since: an ISO date such as 2026-03-01",
        "sql": "select p.url, p.title, count(*) as new_versions, max(s.fetched_at) as "
               "last_change from snapshots s join pages p on p.id = s.page_id where "
               "s.version > 1 and s.fetched_at >= :since group by p.id order by last_change desc",
    },
    "who_links_here": {
        "title": "Which pages link to a URL",
        "sql": "select source, site, kind, anchor, since_version from current_links "
               "where target = :url order by source",
    },
    "related_changes": {
        "title": "How a page's links changed",
        "sql": "select kind, target, anchor, from_version, to_version from links where "
               "page_id = (select id from pages where url = :url) order by from_version, kind",
    },
    "last_run_failures": {
        "title": "Failures of the last run",
        "sql": "select url, reason, status, attempts, at from failures "
               "where run_id = (select max(id) from runs) order by at",
    },
}


def database_name(path: str) -> str:
    """The name Datasette gives the database at `path`: the file name without its suffix."""
    return PurePath(path).stem


def datasette_metadata(database: str, *, with_options: bool = True) -> dict[str, Any]:
    """Datasette metadata for an archive served as `database` (see database_name).

    With `with_options` (Datasette 0.x, one file) it holds the table options and canned
    queries too; without, only titles and descriptions (Datasette 1.x takes the rest as
    configuration: datasette_config).
    """
    tables: dict[str, dict[str, Any]] = copy.deepcopy(TABLE_DOCS)
    db: dict[str, Any] = {"description": DATABASE_DESCRIPTION, "tables": tables}
    if with_options:
        for table, options in TABLE_OPTIONS.items():
            tables[table].update(copy.deepcopy(options))
        db["queries"] = copy.deepcopy(QUERIES)
    return {"title": TITLE, "description": DESCRIPTION, "databases": {database: db}}


def datasette_config(database: str) -> dict[str, Any]:
    """Datasette 1.x configuration (`datasette -c FILE`): settings, table options, queries."""
    return {
        "settings": dict(SETTINGS),
        "databases": {database: {"tables": copy.deepcopy(TABLE_OPTIONS),
                                 "queries": copy.deepcopy(QUERIES)}},
    }
