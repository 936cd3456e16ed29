"""The PostgreSQL archive's schema: created and migrated once, however many workers open a
fresh database at the same moment; versioned; mirroring the SQLite archive's tables."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from scraper.archive.location import parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.sqlite.schema import EXPECTED_TABLES
from scraper.errors import ArchiveError, SchemaVersionError


def open_core(url: str) -> PostgresCore:
    return PostgresCore(parse_archive_location(url), retry_for=10)


def columns(core: PostgresCore) -> dict[str, set[str]]:
    with core.transaction() as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema()").fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def test_four_workers_opening_a_fresh_database_at_once_migrate_it_once(
        postgres_url: str) -> None:
    cores = [open_core(postgres_url) for _ in range(4)]
    start = threading.Barrier(4)
    steps_run: list[tuple[int, str]] = []
    results: list[list[str]] = [[] for _ in cores]
    errors: list[BaseException] = []

    def open_and_migrate(i: int) -> None:
        try:
            start.wait()
            results[i] = schema.migrate(
                cores[i], on_step=lambda step: steps_run.append((i, step.name)))
        except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=open_and_migrate, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    # One worker ran every step; the others found the schema done.
    assert sorted(name for _, name in steps_run) == sorted(m.name for m in schema.MIGRATIONS)
    assert len({worker for worker, _ in steps_run}) == 1
    every_step = [f"{m.version:03d}_{m.name}" for m in schema.MIGRATIONS]
    assert sorted(results, key=len) == [[], [], [], every_step]
    assert schema.applied_steps(cores[0]) == [(m.version, m.name) for m in schema.MIGRATIONS]
    for core in cores:
        core.close()


def test_the_tables_mirror_the_sqlite_archives_plus_the_shared_crawl_ones(
        postgres_url: str) -> None:
    core = open_core(postgres_url)
    schema.migrate(core)
    have = columns(core)
    for table, expected in EXPECTED_TABLES.items():
        # SQLite splits links in two for its index costs; here they are one table.
        name = "links" if table in ("links_settled", "links_recent") else table
        name = "schema_version" if name == "schema_migrations" else name
        assert set(expected) <= have[name], (table, set(expected) - have[name])
    assert {"leased_by", "lease_until"} <= have["frontier"]
    assert {"id", "host", "pid", "started_at", "last_heartbeat"} <= have["workers"]
    assert {"host", "next_allowed_at", "in_flight", "robots_txt",
            "robots_fetched_at"} <= have["hosts"]
    with core.transaction() as conn:
        views = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views"
            " WHERE table_schema = current_schema()")}
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'blobs'").fetchall())
    assert views == {"page_versions", "current_links", "snapshot_links"}
    assert types["data"] == "bytea" and types["created_at"] == "timestamp with time zone"
    core.close()


def test_full_text_search_finds_a_page_by_its_words(postgres_url: str) -> None:
    core = open_core(postgres_url)
    schema.migrate(core)
    now = datetime(2024, 5, 1, tzinfo=UTC)
    with core.transaction() as conn:
        conn.execute(
            "INSERT INTO pages (url, site, title, summary, text, first_seen, last_fetched,"
            " last_changed, current_version) VALUES (%s, 'w', 'Basalt columns',"
            " 'Volcanic rock', 'Hexagonal jointing forms as lava cools', %s, %s, %s, 1)",
            ("https://w.example/Basalt", now, now, now))
        found = conn.execute(
            "SELECT url FROM pages WHERE search @@ plainto_tsquery('simple', 'jointing lava')"
        ).fetchall()
        missing = conn.execute(
            "SELECT url FROM pages WHERE search @@ plainto_tsquery('simple', 'granite')"
        ).fetchall()
    assert found == [("https://w.example/Basalt",)] and missing == []
    core.close()


def test_an_older_schema_is_upgraded_step_by_step(postgres_url: str) -> None:
    core = open_core(postgres_url)
    assert schema.migrate(core, target=1) == ["001_tables"]
    assert "workers" not in columns(core)
    assert schema.migrate(core) == [f"{m.version:03d}_{m.name}" for m in schema.MIGRATIONS[1:]]
    assert schema.migrate(core) == []
    assert [v for v, _ in schema.applied_steps(core)] == [m.version for m in schema.MIGRATIONS]
    core.close()


def test_a_newer_schema_is_refused_naming_the_database(postgres_url: str) -> None:
    core = open_core(postgres_url.replace("postgres@", "postgres:sekrit@"))
    schema.migrate(core)
    with core.transaction() as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (99, 'future')")
    with pytest.raises(SchemaVersionError, match="newer than this release") as caught:
        schema.migrate(core)
    assert "sekrit" not in str(caught.value) and "***" in str(caught.value)
    core.close()


def test_a_database_holding_other_tables_is_not_taken_for_an_archive(
        postgres_url: str) -> None:
    core = open_core(postgres_url)
    with core.transaction() as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(ArchiveError, match=r"tables: invoices\).*not a scraper archive"):
        schema.migrate(core)
    assert "pages" not in columns(core)  # nothing was created
    core.close()
