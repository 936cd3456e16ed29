"""The two ends of an archive copy (scraper.archive.copy): table rows read and written in key
order on SQLite or PostgreSQL, in one canonical form.

Rows cross between the ends in canonical values: points in time as aware datetimes, flags as
bools, binary data as bytes. PostgreSQL's schema says which column is which (timestamptz,
boolean); the SQLite end converts its ISO text and 0/1 with that knowledge. Between two
SQLite archives no conversion is needed, and none is made.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from scraper.errors import ArchiveError
from scraper.timeutil import from_iso, iso

if TYPE_CHECKING:
    from scraper.archive.postgres.core import Connection, PostgresCore

# The archive's tables in an order their foreign keys allow (blobs before the snapshots that
# name them, pages before snapshots, links and the frontier).
# The watchers' outbox before its deliveries; its targets and deliveries keep the ids of the
# changes they name, so that what was sent stays sent and what waits still waits.
TABLES = ("runs", "blobs", "pages", "snapshots", "links", "failures", "skips", "frontier",
          "notify_outbox", "notify_targets", "notify_deliveries")
# Each table is copied in the order of its key (one column or several), so that a resumed
# copy starts after the largest key the destination holds.
KEYS: dict[str, tuple[str, ...]] = {table: ("id",) for table in TABLES} | {
    "frontier": ("url",), "notify_targets": ("site", "target"),
    "notify_deliveries": ("change_id", "target")}
# Text key columns: compared by code point on both ends (see _pg_column).
TEXT_KEYS = frozenset({"url", "site", "target"})
Key = tuple[Any, ...]
# Columns that describe a crawl in progress on a shared PostgreSQL archive (a worker's lease),
# not the archive's content: not copied, so a copy starts with no URL leased.
TRANSIENT_COLUMNS = {"frontier": frozenset({"leased_by", "lease_until"})}

Kind = Literal["time", "bool"]
Kinds = dict[str, dict[str, Kind]]
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Figures:
    """What a copy's two ends must agree on."""

    table_rows: tuple[tuple[str, int], ...]
    # (site, pages, versions), by site
    sites: tuple[tuple[str, int, int], ...]
    # sha256 over every (url, version, content_hash), in URL then version order
    versions_digest: str
    # sha256 over every blob's hash and stored bytes, in hash order
    blobs_digest: str


class CopyEnd(Protocol):
    display: str
    kinds: Kinds

    def columns(self, table: str) -> list[str]: ...
    def count(self, table: str, upto: Key | None = None) -> int: ...
    def max_key(self, table: str) -> Key | None: ...
    def read(self, table: str, columns: Sequence[str], after: Key | None,
             limit: int) -> list[Row]: ...
    def row_at(self, table: str, columns: Sequence[str], key: Key) -> Row | None: ...
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None: ...
    def finish(self) -> None: ...
    def figures(self) -> Figures: ...


def _canonical(value: Any, kind: Kind | None) -> Any:
    if value is None:
        return None
    if kind == "time" and isinstance(value, str):
        return from_iso(value)
    if kind == "bool":
        return bool(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _sqlite_value(value: Any, kind: Kind | None) -> Any:
    if value is None:
        return None
    if kind == "time":
        return iso(value)
    if kind == "bool":
        return int(value)
    return value


VERSIONS_SQL = ("SELECT p.url, s.version, s.content_hash FROM snapshots s"
                " JOIN pages p ON p.id = s.page_id ORDER BY p.url{c}, s.version")
BLOBS_SQL = "SELECT hash, data FROM blobs ORDER BY hash{c}"
SITES_SQL = ("SELECT p.site, count(*), coalesce(sum(v.n), 0) FROM pages p LEFT JOIN"
             " (SELECT page_id, count(*) AS n FROM snapshots GROUP BY page_id) v"
             " ON v.page_id = p.id GROUP BY p.site ORDER BY p.site{c}")


def key_text(table: str, key: Key) -> str:
    """A row's key as messages show it: `id=42`, `site='w', target='t'`."""
    return ", ".join(f"{column}={value!r}" for column, value in zip(KEYS[table], key,
                                                                      strict=True))


def _key_sql(table: str, column: Callable[[str], str], mark: str) -> tuple[str, str, str]:
    """The key as a row value, its order and its equality test: `(a, b)`, `a, b` and
    `a = ? AND b = ?` (row values compare column by column, as ORDER BY sorts)."""
    columns = [column(name) for name in KEYS[table]]
    return (f"({', '.join(columns)})", ", ".join(columns),
            " AND ".join(f"{name} = {mark}" for name in KEYS[table]))


def _digest(rows: Iterator[Row]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        for value in row:
            data = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
            # Length-prefixed, so that no two different rows hash alike.
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


class SQLiteEnd:
    """An SQLite archive's connection (SQLiteArchive.conn), opened and migrated by its
    backend. Links are read from the `links` view and written to links_settled."""

    def __init__(self, conn: sqlite3.Connection, display: str) -> None:
        self.conn = conn
        self.display = display
        self.kinds: Kinds = {}

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise ArchiveError(self.display, f"copying: {exc}") from exc

    def columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self._execute(f"PRAGMA table_info({_write_table(table)})")]

    def _key(self, table: str) -> tuple[str, str, str]:
        return _key_sql(table, str, "?")

    def count(self, table: str, upto: Key | None = None) -> int:
        key, _, _ = self._key(table)
        where = "" if upto is None else f" WHERE {key} <= ({', '.join('?' * len(upto))})"
        row = self._execute(f"SELECT count(*) FROM {table}{where}", upto or ()).fetchone()
        return int(row[0])

    def max_key(self, table: str) -> Key | None:
        _, order, _ = self._key(table)
        descending = ", ".join(f"{name} DESC" for name in order.split(", "))
        row = self._execute(f"SELECT {order} FROM {table} ORDER BY {descending} LIMIT 1"
                            ).fetchone()
        return None if row is None else tuple(row)

    def _convert(self, table: str, columns: Sequence[str], rows: list[Row]) -> list[Row]:
        kinds = self.kinds.get(table, {})
        return [tuple(_canonical(v, kinds.get(c)) for c, v in zip(columns, row, strict=True))
                for row in rows]

    def read(self, table: str, columns: Sequence[str], after: Key | None,
             limit: int) -> list[Row]:
        key, order, _ = self._key(table)
        where, params = ("", [limit]) if after is None else (
            f" WHERE {key} > ({', '.join('?' * len(after))})", [*after, limit])
        rows = self._execute(f"SELECT {', '.join(columns)} FROM {table}{where}"
                             f" ORDER BY {order} LIMIT ?", params).fetchall()
        return self._convert(table, columns, rows)

    def row_at(self, table: str, columns: Sequence[str], key: Key) -> Row | None:
        _, _, equal = self._key(table)
        rows = self._execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {equal}",
                             key).fetchall()
        return self._convert(table, columns, rows)[0] if rows else None

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        kinds = self.kinds.get(table, {})
        values = [tuple(_sqlite_value(v, kinds.get(c)) for c, v in zip(columns, row, strict=True))
                  for row in rows]
        sql = (f"INSERT INTO {_write_table(table)} ({', '.join(columns)})"
               f" VALUES ({', '.join('?' * len(columns))})")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(sql, values)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ArchiveError(self.display, f"copying into {table}: {exc}") from exc

    def finish(self) -> None:
        # New links take ids from links_recent's AUTOINCREMENT sequence (schema version 4):
        # it must start past the copied ones.
        top = (self.max_key("links") or (0,))[0]
        self._execute("BEGIN IMMEDIATE")
        updated = self._execute("UPDATE sqlite_sequence SET seq = max(seq, ?)"
                                " WHERE name = 'links_recent'", (top,)).rowcount
        if not updated:
            self._execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('links_recent', ?)",
                          (top,))
        self._execute("COMMIT")

    def figures(self) -> Figures:
        return Figures(
            tuple((t, self.count(t)) for t in TABLES),
            tuple((str(s), int(p), int(v)) for s, p, v in self._execute(SITES_SQL.format(c=""))),
            _digest(iter(self._execute(VERSIONS_SQL.format(c="")))),
            _digest(iter(self._execute(BLOBS_SQL.format(c="")))))


def _write_table(table: str) -> str:
    return "links_settled" if table == "links" else table


# Text keys (frontier URLs, sites, targets) compare by code point on both ends: SQLite's
# BINARY collation does, PostgreSQL's "C" does (UTF-8 bytes), the database's default may not.
def _pg_column(name: str) -> str:
    return f'{name} COLLATE "C"' if name in TEXT_KEYS else name


class PostgresEnd:
    """A PostgreSQL archive's PostgresCore, opened and migrated by its backend. Each batch is
    one transaction; identity columns are written as given (OVERRIDING SYSTEM VALUE)."""

    def __init__(self, core: PostgresCore, display: str) -> None:
        self.core = core
        self.display = display
        self.kinds = self._kinds()

    def _run(self, op: Callable[[Connection], Any], doing: str) -> Any:
        return self.core.run(op, doing=doing)

    def _kinds(self) -> Kinds:
        def read(conn: Connection) -> list[Row]:
            return conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND data_type IN"
                " ('timestamp with time zone', 'boolean')").fetchall()

        kinds: Kinds = {}
        for table, column, data_type in self._run(read, "reading the archive's columns"):
            kinds.setdefault(str(table), {})[str(column)] = (
                "bool" if data_type == "boolean" else "time")
        return kinds

    def columns(self, table: str) -> list[str]:
        def read(conn: Connection) -> list[Row]:
            return conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = %s AND is_generated = 'NEVER'"
                " ORDER BY ordinal_position", (table,)).fetchall()

        return [str(r[0]) for r in self._run(read, f"reading the columns of {table}")]

    def _key(self, table: str) -> tuple[str, str, str]:
        return _key_sql(table, _pg_column, "%s")

    def count(self, table: str, upto: Key | None = None) -> int:
        key, _, _ = self._key(table)
        where = "" if upto is None else f" WHERE {key} <= ({', '.join(['%s'] * len(upto))})"
        row = self._run(lambda c: c.execute(f"SELECT count(*) FROM {table}{where}",
                                            upto or ()).fetchone(), f"counting {table}")
        return int(row[0])

    def max_key(self, table: str) -> Key | None:
        _, order, _ = self._key(table)
        descending = ", ".join(f"{name} DESC" for name in order.split(", "))
        row = self._run(lambda c: c.execute(f"SELECT {', '.join(KEYS[table])} FROM {table}"
                                            f" ORDER BY {descending} LIMIT 1").fetchone(),
                        f"reading {table}")
        return None if row is None else tuple(row)

    def read(self, table: str, columns: Sequence[str], after: Key | None,
             limit: int) -> list[Row]:
        key, order, _ = self._key(table)
        where, params = ("", [limit]) if after is None else (
            f" WHERE {key} > ({', '.join(['%s'] * len(after))})", [*after, limit])
        rows: list[Row] = self._run(
            lambda c: c.execute(f"SELECT {', '.join(columns)} FROM {table}{where}"
                                f" ORDER BY {order} LIMIT %s", params).fetchall(),
            f"reading {table}")
        return [tuple(_canonical(v, None) for v in row) for row in rows]

    def row_at(self, table: str, columns: Sequence[str], key: Key) -> Row | None:
        _, _, equal = self._key(table)
        row = self._run(lambda c: c.execute(f"SELECT {', '.join(columns)} FROM {table}"
                                            f" WHERE {equal}", key).fetchone(),
                        f"reading {table}")
        return None if row is None else tuple(_canonical(v, None) for v in row)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) OVERRIDING SYSTEM VALUE"
               f" VALUES ({', '.join(['%s'] * len(columns))})")

        def write(conn: Connection) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(sql, rows)

        self._run(write, f"copying into {table}")

    def finish(self) -> None:
        def advance(conn: Connection) -> None:
            for table in TABLES:
                if KEYS[table] == ("id",):
                    # The next id a backend write takes is past every copied one.
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                 f" coalesce(max(id), 0) + 1, false) FROM {table}")

        self._run(advance, "advancing the id sequences")

    def _digest(self, sql: str) -> str:
        def read(conn: Connection) -> str:
            # A server-side cursor: the archive's blobs are streamed, never all in memory.
            with conn.cursor(name="scraper_copy_verify") as cursor:
                cursor.itersize = 200
                cursor.execute(sql)
                return _digest(iter(cursor))

        return str(self._run(read, "verifying the copy"))

    def figures(self) -> Figures:
        sites = self._run(lambda c: c.execute(SITES_SQL.format(c=' COLLATE "C"')).fetchall(),
                          "verifying the copy")
        return Figures(
            tuple((t, self.count(t)) for t in TABLES),
            tuple((str(s), int(p), int(v)) for s, p, v in sites),
            self._digest(VERSIONS_SQL.format(c=' COLLATE "C"')),
            self._digest(BLOBS_SQL.format(c=' COLLATE "C"')))
