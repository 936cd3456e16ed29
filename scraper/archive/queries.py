"""What both archive backends select and how their rows become records.

The backends differ in placeholders (`?`, `%s`) and in how times travel (ISO text in
SQLite, timestamptz in PostgreSQL); the columns read, the filters of the exports and the
records made of rows are one, here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from scraper.models import Snapshot

SNAPSHOT_COLUMNS = (
    "p.url, s.version, s.content_hash, s.fetched_at, s.status, s.run_id, s.final_url, s.etag,"
    " s.last_modified, s.revision_id, s.revision_timestamp, s.revision_user,"
    " s.revision_comment, s.body_hash, s.body_size, s.change_gist"
)

# stats' field fill rates: when a version's field counts as filled (one SQL test per field).
FILL_EXPRESSIONS: dict[str, str] = {
    "title": "s.title != ''",
    "summary": "s.summary != ''",
    "text": "s.text_length > 0",
    "links": "s.link_count > 0",
    "categories": "s.categories != '[]'",
    "infobox": "s.infobox != '[]'",
    "image": "coalesce(s.image, '') != ''",
    "entries": "s.entry_count > 0",
}


def snapshot_from_row(row: Sequence[Any], read_time: Callable[[Any], datetime]) -> Snapshot:
    """A Snapshot from the first 16 columns selected with SNAPSHOT_COLUMNS; `read_time` turns
    the backend's fetched_at into a UTC datetime."""
    return Snapshot(
        url=row[0], version=row[1], content_hash=row[2], fetched_at=read_time(row[3]),
        status=row[4], run_id=row[5], final_url=row[6], etag=row[7], last_modified=row[8],
        revision_id=row[9], revision_timestamp=row[10], revision_user=row[11],
        revision_comment=row[12], body_hash=row[13], body_size=row[14], change_gist=row[15],
    )


def version_filter(site: str | None, since: datetime | None, until: datetime | None,
                   all_versions: bool, as_of: datetime | None, *, mark: str,
                   time_param: Callable[[datetime], Any]) -> tuple[str, list[Any]]:
    """The WHERE clause (over `pages p` and `snapshots s`) and parameters choosing the versions
    an export reads: the latest (or those current at `as_of`, or all), of `site`, fetched in
    [since, until). `mark` is the backend's placeholder, `time_param` its time parameter."""
    clauses: list[str] = []
    params: list[Any] = []
    if as_of is not None:
        clauses.append("s.version = (SELECT max(version) FROM snapshots x"
                       f" WHERE x.page_id = s.page_id AND x.fetched_at <= {mark})")
        params.append(time_param(as_of))
    elif not all_versions:
        clauses.append("s.version = p.current_version")
    if site is not None:
        clauses.append(f"p.site = {mark}")
        params.append(site)
    if since is not None:
        clauses.append(f"s.fetched_at >= {mark}")
        params.append(time_param(since))
    if until is not None:
        clauses.append(f"s.fetched_at < {mark}")
        params.append(time_param(until))
    return " AND ".join(clauses) or "1 = 1", params


def versions_query(site: str | None, since: datetime | None, until: datetime | None, *,
                   mark: str, time_param: Callable[[datetime], Any]) -> tuple[str, list[Any]]:
    """The SELECT of (site, SNAPSHOT_COLUMNS...) of every version of `site` made in
    [since, until), and its parameters; each read adds its ORDER BY (and LIMIT)."""
    where, params = version_filter(site, since, until, True, None, mark=mark,
                                   time_param=time_param)
    sql = (f"SELECT p.site, {SNAPSHOT_COLUMNS} FROM pages p"
           f" JOIN snapshots s ON s.page_id = p.id WHERE {where}")
    return sql, params


def prune_outbox_sql(mark: str) -> str:
    """The DELETE of ArchiveBackend.prune_outbox (parameters: the site, twice): the changes
    of a site up to its earliest target's start, or all of them when it has no target. No
    delivery row names those: a target's deliveries are of changes after its start."""
    return (f"DELETE FROM notify_outbox WHERE site = {mark} AND id <= coalesce("
            f"(SELECT min(since_id) FROM notify_targets WHERE site = {mark}),"
            " (SELECT max(id) FROM notify_outbox))")
