"""The schema documentation (docs/archive.md) and Datasette metadata cover the real schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scraper.archive import Archive
from scraper.models import FetchResult, Link, Page

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "archive.md").read_text(encoding="utf-8")
METADATA = json.loads((ROOT / "datasette" / "metadata.json").read_text(encoding="utf-8"))
DATABASE = METADATA["databases"]["archive"]


def schema() -> dict[str, list[str]]:
    archive = Archive.memory()
    names = [r[0] for r in archive.conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'pages_fts%' ORDER BY name")]
    return {name: [r[1] for r in archive.conn.execute(f'PRAGMA table_info("{name}")')]
            for name in names}


SCHEMA = schema()
TABLES = [name for name in SCHEMA if name not in ("page_versions", "current_links",
                                                   "snapshot_links")]


@pytest.mark.parametrize("table", sorted(SCHEMA))
def test_every_table_and_view_is_documented(table: str) -> None:
    assert f"`{table}`" in DOC or f"`{table}(" in DOC
    assert DATABASE["tables"][table]["description"]


@pytest.mark.parametrize("table", TABLES)
def test_every_column_is_documented_and_labelled(table: str) -> None:
    documented = DATABASE["tables"][table]["columns"]
    for column in SCHEMA[table]:
        assert column in documented, f"{table}.{column} missing from datasette/metadata.json"
        assert re.search(rf"`{column}`", DOC), f"{table}.{column} missing from docs/archive.md"
    assert set(documented) <= set(SCHEMA[table]), f"{table}: metadata names unknown columns"


def test_the_canned_queries_run() -> None:
    archive = Archive.memory()
    run = archive.start_run(["s"], {}, datetime(2026, 3, 1, tzinfo=UTC))
    url = "http://t/a"
    archive.save(run, "s", FetchResult(url, url, 200, (), b"x", datetime(2026, 3, 1, tzinfo=UTC),
                                       0.1),
                 Page(url, title="A", links=(Link("http://t/b", "B", "related"),)),
                 next_due=datetime(2026, 3, 2, tzinfo=UTC))
    params = {"url": url, "since": "2026-01-01", "q": "A"}
    for query in DATABASE["queries"].values():
        needed = {key: params[key] for key in re.findall(r":(\w+)", query["sql"])}
        archive.conn.execute(query["sql"], needed).fetchall()  # raises on a schema mismatch
    rows = archive.conn.execute(DATABASE["queries"]["who_links_here"]["sql"],
                                {"url": "http://t/b"}).fetchall()
    assert rows == [(url, "s", "related", "B", 1)]
