"""Fixtures that run a test on every archive backend (registered in tests/conftest.py).

- `archive_backend` (function, parametrized "sqlite" / "postgresql"): the backend's name.
  The PostgreSQL case asks for `postgres_url` (tests/postgres_harness.py) only when it runs,
  so SQLite-only sessions never start a server.
- `any_archive_location`: where a fresh, not yet made archive of that backend goes: a file
  path in the test's tmp_path, or the URL of a fresh empty database.
- `any_archive`: a fresh archive of that backend, opened for writing (an SQLite one in
  memory), closed after the test.

Tests of what one backend alone has (SQLite's file damage, locks, PRAGMAs, upgrades from old
SQLite schemas) keep their own fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scraper.archive import Archive, ArchiveBackend

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def archive_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_archive_location(archive_backend: str, request: pytest.FixtureRequest,
                         tmp_path: Path) -> str:
    if archive_backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "archive.db")


@pytest.fixture
def any_archive(archive_backend: str, request: pytest.FixtureRequest
                ) -> Iterator[ArchiveBackend]:
    if archive_backend == "postgresql":
        archive = Archive.open(str(request.getfixturevalue("postgres_url")))
    else:
        archive = Archive.memory()
    try:
        yield archive
    finally:
        archive.close()
