"""The archive as a seam: ArchiveBackend is what callers get, the SQLite backend implements
all of it, and nothing above the archive reaches past it to the database."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from scraper.archive import Archive, ArchiveBackend
from scraper.archive_gate import ArchiveGate

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


def _leaks(path: Path) -> list[str]:
    """sqlite3 / sqlite-utils imports and `.conn` / `.blobs` reads in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Attribute) and node.attr in ("conn", "blobs"):
            found.append(f"{path.relative_to(SCRAPER.parent)}:{node.lineno}: .{node.attr}")
            continue
        else:
            continue
        found += [f"{path.relative_to(SCRAPER.parent)}:{node.lineno}: imports {name}"
                  for name in names if name.split(".")[0] in ("sqlite3", "sqlite_utils")]
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
