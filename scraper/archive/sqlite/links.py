"""The links tables: each version's links as intervals of versions, written to links_recent
and moved into links_settled in one pass (see schema.V4_RECENT_LINKS)."""

from __future__ import annotations

import sqlite3

import orjson

from scraper.compact_json import compact_json

# A run moves its links to links_settled when it ends, and also whenever this many wait in
# links_recent (about 20,000 pages of 100 links): reads by target scan links_recent, and one
# move at the end of a very long run would hold the write lock for minutes.
RECENT_LINKS_MAX = 2_000_000


def update_links(conn: sqlite3.Connection, page_id: int, version: int,
                  links_json: str) -> None:
    """Close the intervals of links the new version dropped and open those it added.
    `links_json`: the new version's [target, kind, anchor], once each, in page order
    (VersionRow.links).

    Each goes in as one statement over json_each, not one per link: sqlite3 lets the GIL
    go and takes it back for every statement it steps, and the event loop of a crawl
    waits for the GIL each time this thread takes it.
    """
    current = {(r[1], r[2], r[3]): r[0] for r in conn.execute(
        "SELECT id, target, kind, anchor FROM links WHERE page_id = ? AND to_version IS NULL",
        (page_id,))}
    if current:
        links = [(url, kind, anchor) for url, kind, anchor in orjson.loads(links_json)]
        wanted = set(links)
        dropped = compact_json([link_id for key, link_id in current.items()
                                if key not in wanted]).decode("utf-8")
        # Ids are unique across both tables: the one that has the row updates it.
        for table in ("links_recent", "links_settled"):
            conn.execute(f"UPDATE {table} SET to_version = ?"
                         " WHERE id IN (SELECT value FROM json_each(?))", (version - 1, dropped))
        links_json = compact_json([link for link in links
                                   if link not in current]).decode("utf-8")
    # In page order, so that ids follow the page.
    conn.execute(
        "INSERT INTO links_recent (page_id, target, kind, anchor, from_version)"
        " SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
        " json_extract(value, '$[2]'), ? FROM json_each(?) ORDER BY key",
        (page_id, version, links_json))

def recent_links(conn: sqlite3.Connection) -> int:
    """About how many links wait in links_recent (ids are dense: one sequence)."""
    first, last = conn.execute("SELECT (SELECT min(id) FROM links_recent),"
                               " (SELECT max(id) FROM links_recent)").fetchone()
    return 0 if first is None else int(last - first + 1)

def settle_links(conn: sqlite3.Connection) -> None:
    """Move the links stored since the last move into links_settled, whose index by
    target then takes them in one pass (see schema.V4_RECENT_LINKS).

    When links_settled holds at most twice as many rows as are moved (a site's first
    crawl, say), its indexes are dropped and made again after the move, from their own
    stored definitions: sorting every row once is then cheaper than putting the new rows
    one by one at scattered places (on the crawl benchmark's 417,000 links, 1.6 s against
    2.4 s)."""
    moved = recent_links(conn)
    if not moved:
        return
    # Counted up to the bound only, so that a large archive is not scanned.
    settled = conn.execute("SELECT count(*) FROM (SELECT 1 FROM links_settled LIMIT ?)",
                           (2 * moved + 1,)).fetchone()[0]
    rebuild = settled <= 2 * moved
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        " AND tbl_name = 'links_settled' AND sql IS NOT NULL").fetchall() if rebuild else []
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute(
        "INSERT INTO links_settled (id, page_id, target, kind, anchor, from_version,"
        " to_version) SELECT id, page_id, target, kind, anchor, from_version, to_version"
        " FROM links_recent ORDER BY id")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("DELETE FROM links_recent")


def settle_when_many(conn: sqlite3.Connection) -> None:
    """Move the waiting links now when more than RECENT_LINKS_MAX wait."""
    if recent_links(conn) > RECENT_LINKS_MAX:
        settle_links(conn)
