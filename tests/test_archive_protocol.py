"""The archive as a seam: ArchiveBackend is what callers get, the SQLite backend implements
all of it, and nothing above the archive reaches past it to the database."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from scraper.archive import Archive, ArchiveBackend
from scraper.archive.location import parse_archive_location
from scraper.archive.sqlite import SQLiteArchive
from scraper.crawl.archive_gate import ArchiveGate
from scraper.errors import ArchiveError, ConfigError

SCRAPER = Path(__file__).resolve().parents[1] / "scraper"
# What the protocol's docstring promises for every member, and the two dunders.
MEMBERS = sorted({name for name in vars(ArchiveBackend)
                  if not name.startswith("_")} | {"__enter__", "__exit__"})


def _signature(func: object) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults (types are mypy's to check: it holds every caller to them)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def test_the_protocol_covers_what_callers_use() -> None:
    for name in ("save", "batch", "start_run", "due", "iter_versions", "history", "stats",
                 "find_page_url", "prepare_bulk_writes", "path"):
        assert name in MEMBERS
    for leak in ("conn", "db", "blobs", "memory", "open"):
        assert leak not in MEMBERS


@pytest.mark.parametrize("name", MEMBERS)
def test_every_member_has_a_contract(name: str) -> None:
    if name == "__enter__":
        return
    member = vars(ArchiveBackend)[name]
    doc = (member.fget if isinstance(member, property) else member).__doc__
    assert doc and doc.strip(), f"ArchiveBackend.{name} has no docstring"


@pytest.mark.parametrize("name", MEMBERS)
def test_the_sqlite_backend_implements_every_member(name: str) -> None:
    with Archive.memory() as archive:
        implementation = type(archive)
        assert hasattr(archive, name)
        wanted = vars(ArchiveBackend)[name]
        if isinstance(wanted, property):
            expected = inspect.signature(wanted.fget).return_annotation
            assert type(getattr(archive, name)).__name__ == expected
            return
        assert _signature(getattr(implementation, name)) == _signature(wanted), name


@pytest.mark.parametrize("name", MEMBERS)
def test_the_postgresql_backend_implements_every_member(name: str) -> None:
    from scraper.archive.postgres.archive import PostgresArchive

    assert hasattr(PostgresArchive, name), name
    wanted = vars(ArchiveBackend)[name]
    if isinstance(wanted, property):
        got = inspect.getattr_static(PostgresArchive, name)
        if isinstance(got, property):
            expected = inspect.signature(wanted.fget).return_annotation
            assert inspect.signature(got.fget).return_annotation == expected, name
        return
    assert _signature(getattr(PostgresArchive, name)) == _signature(wanted), name


# Modules above the archive that may name the SQLite backend, and why: Datasette serves
# SQLite files only, and the crawl lock's descriptor must outlive SQLite's on the same file.
SQLITE_ONLY = {"scraper/cli/datasette_cmd.py", "scraper/lock.py"}


def _leaks(path: Path) -> list[str]:
    """sqlite3 / sqlite-utils / SQLite backend imports and `.conn` / `.blobs` reads in one
    module."""
    where = str(path.relative_to(SCRAPER.parent))
    backends = ("scraper.archive.sqlite",) if where not in SQLITE_ONLY else ()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Attribute) and node.attr in ("conn", "blobs"):
            found.append(f"{where}:{node.lineno}: .{node.attr}")
            continue
        else:
            continue
        found += [f"{where}:{node.lineno}: imports {name}" for name in names
                  if name.split(".")[0] in ("sqlite3", "sqlite_utils")
                  or name.startswith(backends)]
    return found


def test_nothing_above_the_archive_touches_its_database() -> None:
    leaks = [leak for path in sorted(SCRAPER.rglob("*.py"))
             if "archive" not in path.relative_to(SCRAPER).parts[:1]
             for leak in _leaks(path)]
    assert leaks == []


def test_the_crawl_gate_prepares_the_archive_for_bulk_writes(tmp_path: Path) -> None:
    with Archive.open(str(tmp_path / "a.db")) as archive:
        default = archive.conn.execute("PRAGMA cache_size").fetchone()[0]
        gate = ArchiveGate(archive)
        try:
            tuned = gate.call(lambda: archive.conn.execute("PRAGMA cache_size").fetchone()[0])
        finally:
            gate.close()
    # Negative: KiB. A crawl's transactions need far more than SQLite's default 2 MB.
    assert default == -2000
    assert tuned <= -64 * 1024


@pytest.mark.parametrize("url", ["postgresql://crawler:s3cret@127.0.0.1:5432/wiki",
                                 "postgres://crawler:s3cret@127.0.0.1/wiki"])
def test_an_unreachable_postgresql_archive_is_named_without_its_password(url: str) -> None:
    # Port 1 on loopback: nothing listens there, so nothing but this refusal is reached.
    url = url.replace(":5432", "").replace("127.0.0.1", "127.0.0.1:1")
    with pytest.raises(ArchiveError, match="cannot connect to the archive database") as caught:
        Archive.open(url)
    assert "s3cret" not in str(caught.value) and "crawler:***@127.0.0.1:1" in str(caught.value)


def test_a_path_or_a_read_location_opens_the_sqlite_backend(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive.open(path) as archive:  # a Path, as tests and scripts pass
        assert isinstance(archive, SQLiteArchive) and archive.path == str(path)
    with Archive.open(parse_archive_location(str(path)), create=False) as archive:
        assert isinstance(archive, SQLiteArchive) and archive.schema_version > 0


def test_a_postgresql_url_opens_the_postgresql_backend(postgres_url: str) -> None:
    from scraper.archive.postgres.archive import PostgresArchive

    with Archive.open(postgres_url) as archive:
        assert isinstance(archive, PostgresArchive) and archive.schema_version > 0
    with Archive.open(parse_archive_location(postgres_url), readonly=True) as archive:
        assert isinstance(archive, PostgresArchive) and archive.frontier_count() == 0


def test_a_location_that_is_no_archive_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"archive: 'ftp://host/a.db': unsupported URL scheme"):
        Archive.open("ftp://host/a.db")


def test_crawl_with_a_server_url_writes_no_file_and_prints_no_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLite process lock is a file named after the archive: a URL must never become
    one (it may hold a password), and no message may show the password."""
    from click.testing import CliRunner

    from scraper.cli import main

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "site.yaml"
    config.write_text("name: site\nstart_urls: [https://wiki.example.org/]\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(main, ["crawl", str(config), "--archive",
                                       "postgresql://crawler:s3cret@127.0.0.1:1/db"])
    assert result.exit_code != 0
    assert "s3cret" not in result.output
    assert "postgresql://crawler:***@127.0.0.1:1/db" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
