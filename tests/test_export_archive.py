"""`scraper export` against real archives: round trips of every format, filters at their
boundaries, --as-of, existing files and --force, messages and exit codes; on each backend
(SQLite and PostgreSQL: tests/archive_backends.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from archive_backends import BACKENDS
from click.testing import CliRunner, Result
from warcio.archiveiterator import ArchiveIterator

from scraper.archive import Archive
from scraper.cli import main
from scraper.export import ExportOptions, columns_for, iter_records
from scraper.models import Entry, FetchResult, Link, Page, VersionSummary, page_to_dict
from scraper.timeutil import iso

T0 = datetime(2026, 2, 1, 8, 0, 0, 250000, tzinfo=UTC)
H = timedelta(hours=1)
US = timedelta(microseconds=1)
BASE = "http://127.0.0.1:8000"


def page(url: str, version_text: str, *, kind: str = "article",
         entries: tuple[Entry, ...] = ()) -> Page:
    return Page(
        url=url, kind=kind, title=f"Title of {url.rsplit('/', 1)[-1]}",
        summary=f"Summary {version_text} ...", summary_truncated=True,
        text=f"Text {version_text}.\n\nSecond paragraph, “quoted”.",
        links=(Link(f"{BASE}/related/{version_text}", "Related Items", "related"),
               Link(f"{BASE}/info/{version_text}", "More Info", "more_info"),
               Link("https://en.wikipedia.org/wiki/X", "Wikipedia", "search")),
        entries=entries, categories=("C1", version_text), infobox=(("k", version_text),),
    )


def body_for(url: str, version_text: str) -> bytes:
    # Bytes that are not valid UTF-8 and CRLFs: a WARC body must come back identical.
    return (f"<html><title>{url}</title><p>{version_text}</p>".encode()
            + b"\xff\xfe\x00\r\n\r\n</html>")


HEADERS = (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
           ("Transfer-Encoding", "chunked"), ("Server", "testsite"))


def save(archive: Archive, run: int, site: str, url: str, text: str, when: datetime, *,
         status: int = 200, final_url: str | None = None, kind: str = "article",
         entries: tuple[Entry, ...] = ()) -> None:
    fetch = FetchResult(url=url, final_url=final_url or url, status=status, headers=HEADERS,
                        body=body_for(url, text), fetched_at=when, elapsed_s=0.01)
    archive.save(run, site, fetch, page(url, text, kind=kind, entries=entries),
                 next_due=when + timedelta(days=1))


A, B, C = f"{BASE}/info/A", f"{BASE}/info/B", f"{BASE}/wiki/C"


@pytest.fixture(scope="module", params=BACKENDS)
def archive_path(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The location (a file, or a PostgreSQL URL) of an archive built once per backend.
    Three pages, two sites, versions at known times:
    A (s1): v1 T0, v2 T0+1h, v3 T0+2h; B (s1): v1 T0+30m, then an unchanged refetch at T0+4h;
    C (s2): v1 T0+1h (status 203, redirected), v2 T0+3h."""
    database = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.start()
        database = server.new_database()
        path = server.url(database)
    else:
        path = str(tmp_path_factory.mktemp("arch") / "archive.db")
    with Archive.open(path) as archive:
        run = archive.start_run(["s1", "s2"], {}, T0)
        save(archive, run, "s1", A, "a1", T0)
        save(archive, run, "s1", B, "b1", T0 + H / 2)
        save(archive, run, "s1", A, "a2", T0 + H)
        save(archive, run, "s2", C, "c1", T0 + H, status=203, final_url=C + "?from=redirect")
        save(archive, run, "s1", A, "a3", T0 + 2 * H)
        save(archive, run, "s2", C, "c2", T0 + 3 * H)
        save(archive, run, "s1", B, "b1", T0 + 4 * H)  # unchanged: no new version
    yield path
    if database is not None and server.running:
        server.drop_database(database)


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["export", *args], catch_exceptions=False)


def export_rows(archive_path: str, *args: str) -> list[dict[str, Any]]:
    result = run_cli("--archive", archive_path, "-o", "-", "--format", "jsonl", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout_bytes.splitlines()]


def versions_of(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["url"].rsplit("/", 1)[-1], r["version"]) for r in rows]


# -- filters at their boundaries --------------------------------------------------------------

def test_latest_versions_by_default(archive_path: str) -> None:
    assert versions_of(export_rows(archive_path)) == [("A", 3), ("B", 1), ("C", 2)]


def test_all_versions_in_url_then_version_order(archive_path: str) -> None:
    rows = export_rows(archive_path, "--all-versions")
    assert versions_of(rows) == [("A", 1), ("A", 2), ("A", 3), ("B", 1), ("C", 1), ("C", 2)]
    # The unchanged refetch of B did not move its version's time.
    assert rows[3]["fetched_at"] == iso(T0 + H / 2)


def test_site_filter(archive_path: str) -> None:
    assert versions_of(export_rows(archive_path, "--site", "s2", "--all-versions")) == [
        ("C", 1), ("C", 2)]
    assert export_rows(archive_path, "--site", "nope") == []


def test_since_is_inclusive(archive_path: str) -> None:
    at = iso(T0 + H)  # exactly when A v2 and C v1 were fetched
    assert versions_of(export_rows(archive_path, "--all-versions", "--since", at)) == [
        ("A", 2), ("A", 3), ("C", 1), ("C", 2)]
    just_after = iso(T0 + H + US)
    assert versions_of(export_rows(archive_path, "--all-versions", "--since", just_after)) == [
        ("A", 3), ("C", 2)]


def test_until_is_exclusive(archive_path: str) -> None:
    at = iso(T0 + H)
    assert versions_of(export_rows(archive_path, "--all-versions", "--until", at)) == [
        ("A", 1), ("B", 1)]
    assert versions_of(export_rows(archive_path, "--all-versions", "--until",
                                   iso(T0 + H + US))) == [("A", 1), ("A", 2), ("B", 1), ("C", 1)]


def test_since_and_until_on_latest_versions(archive_path: str) -> None:
    # Without --all-versions the window applies to each page's latest version.
    assert versions_of(export_rows(archive_path, "--since", iso(T0 + 2 * H))) == [
        ("A", 3), ("C", 2)]
    assert versions_of(export_rows(archive_path, "--since", iso(T0), "--until",
                                   iso(T0 + 3 * H))) == [("A", 3), ("B", 1)]


def test_as_of_exactly_at_a_version_gives_that_version(archive_path: str) -> None:
    assert versions_of(export_rows(archive_path, "--as-of", iso(T0 + H))) == [
        ("A", 2), ("B", 1), ("C", 1)]
    assert versions_of(export_rows(archive_path, "--as-of", iso(T0 + H - US))) == [
        ("A", 1), ("B", 1)]
    assert export_rows(archive_path, "--as-of", iso(T0 - US)) == []
    assert versions_of(export_rows(archive_path, "--as-of", iso(T0 + 10 * H))) == [
        ("A", 3), ("B", 1), ("C", 2)]


def test_as_of_accepts_a_date_and_an_age(archive_path: str) -> None:
    assert export_rows(archive_path, "--as-of", "2026-02-01") == []  # midnight: before T0
    assert versions_of(export_rows(archive_path, "--as-of", "2026-02-02")) == [
        ("A", 3), ("B", 1), ("C", 2)]
    assert len(export_rows(archive_path, "--as-of", "0s")) == 3  # now


def test_as_of_with_site(archive_path: str) -> None:
    assert versions_of(export_rows(archive_path, "--as-of", iso(T0 + 2 * H), "--site",
                                   "s2")) == [("C", 1)]


# -- round trips against the archive's own reads ----------------------------------------------

def archive_versions(path: str, **kwargs: Any) -> list[tuple[str, Any, Page]]:
    with Archive.open(path, create=False) as archive:
        return list(archive.iter_versions(**kwargs))


def test_jsonl_pages_round_trip(archive_path: str) -> None:
    rows = export_rows(archive_path, "--all-versions", "--with-text")
    versions = archive_versions(archive_path, all_versions=True)
    assert len(rows) == len(versions) == 6
    for row, (site, snap, pg) in zip(rows, versions, strict=True):
        assert list(row) == [c.name for c in columns_for("pages", with_text=True)]
        assert row == {
            "url": snap.url, "site": site, "kind": pg.kind, "title": pg.title,
            "summary": pg.summary, "summary_truncated": True,
            "related": [{"url": ln.url, "title": ln.title, "kind": ln.kind}
                        for ln in pg.links if ln.kind == "related"],
            "categories": list(pg.categories), "infobox": [{"key": "k", "value": pg.infobox[0][1]}],
            "revision_id": None, "version": snap.version, "fetched_at": iso(snap.fetched_at),
            "content_hash": snap.content_hash, "text": pg.text,
        }


def test_pages_without_text_come_from_the_summary_columns_and_match(archive_path: str) -> None:
    # Without --with-text the rows are read from the snapshot columns, not the fields blob:
    # the same rows either way.
    with_text = export_rows(archive_path, "--all-versions", "--with-text")
    without = export_rows(archive_path, "--all-versions")
    assert without == [{k: v for k, v in row.items() if k != "text"} for row in with_text]


@pytest.mark.parametrize("kwargs", [
    {"all_versions": True}, {}, {"site": "s2", "all_versions": True},
    {"as_of": T0 + H}, {"since": T0 + H, "until": T0 + 3 * H, "all_versions": True},
])
def test_iter_summaries_agrees_with_the_stored_pages(archive_path: str,
                                                     kwargs: dict[str, Any]) -> None:
    with Archive.open(archive_path, create=False) as archive:
        summaries = list(archive.iter_summaries(**kwargs))
        versions = list(archive.iter_versions(**kwargs))
    assert summaries
    assert summaries == [VersionSummary.of(site, snap, pg) for site, snap, pg in versions]


def test_versions_stored_before_the_summary_columns_read_from_their_blobs(
        tmp_path: Path) -> None:
    path = str(tmp_path / "archive.db")
    with Archive.open(path) as archive:
        run = archive.start_run(["s1"], {}, T0)
        save(archive, run, "s1", A, "a1", T0)
        save(archive, run, "s1", B, "b1", T0)
        # As a release before schema 3 left them: no summary columns filled.
        archive.conn.execute("UPDATE snapshots SET summary_truncated = NULL, related = NULL"
                             " WHERE page_id = 1")
        save(archive, run, "s1", A, "a2", T0 + H)
        summaries = list(archive.iter_summaries(all_versions=True))
        versions = list(archive.iter_versions(all_versions=True))
    assert len(summaries) == 3
    assert summaries == [VersionSummary.of(site, snap, pg) for site, snap, pg in versions]
    assert summaries[0].related == ((f"{BASE}/related/a1", "Related Items", "related"),)


def test_links_round_trip(archive_path: str) -> None:
    rows = export_rows(archive_path, "--records", "links", "--all-versions")
    expected = [(snap.url, ln.url, ln.kind, ln.title, snap.version)
                for _, snap, pg in archive_versions(archive_path, all_versions=True)
                for ln in pg.links]
    assert [(r["source"], r["target"], r["kind"], r["anchor"], r["version"])
            for r in rows] == expected
    assert len(rows) == 18
    # The archive's own link table agrees for the latest versions.
    latest = export_rows(archive_path, "--records", "links")
    with Archive.open(archive_path, create=False) as archive:
        graph = sorted((d["source"], d["target"], d["kind"], d["anchor"], d["version"])
                       for d in archive.iter_links())
    assert sorted((r["source"], r["target"], r["kind"], r["anchor"], r["version"])
                  for r in latest) == graph


def test_csv_round_trip(archive_path: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.csv"
    result = run_cli("--archive", archive_path, "-o", str(target), "--all-versions")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"), newline="")))
    expected = list(_expected_records(archive_path, all_versions=True))
    assert len(rows) == len(expected) == 6
    for row, exp in zip(rows, expected, strict=True):
        assert row["url"] == exp["url"] and row["title"] == exp["title"]
        assert json.loads(row["related"]) == exp["related"]
        assert json.loads(row["infobox"]) == exp["infobox"]
        assert row["fetched_at"] == iso(exp["fetched_at"])
        assert row["revision_id"] == ""


def _expected_records(path: str, **options: Any) -> list[dict[str, Any]]:
    with Archive.open(path, create=False) as archive:
        return list(iter_records(archive, ExportOptions(**options)))


@pytest.mark.parametrize("records", ["pages", "links"])
def test_parquet_round_trip(archive_path: str, tmp_path: Path, records: str) -> None:
    target = tmp_path / "out.parquet"
    assert run_cli("--archive", archive_path, "-o", str(target), "--records", records,
                   "--all-versions").exit_code == 0
    table = pq.read_table(target)
    assert table.to_pylist() == _expected_records(archive_path, records=records,
                                                  all_versions=True)
    assert len(table) > 0


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_warc_round_trip_bodies_are_the_archives(archive_path: str, tmp_path: Path,
                                                 name: str) -> None:
    target = tmp_path / name
    result = run_cli("--archive", archive_path, "-o", str(target), "--all-versions")
    assert result.exit_code == 0, result.output
    assert "exported 6 versions as warc" in result.stderr
    with target.open("rb") as fh:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    assert records[0][0] == "warcinfo"
    versions = archive_versions(archive_path, all_versions=True)
    with Archive.open(archive_path, create=False) as archive:
        for (site, snap, pg), resp, meta in zip(versions, records[1::2], records[2::2],
                                                strict=True):
            assert resp[0] == "response" and meta[0] == "metadata"
            assert resp[3] == archive.body(snap.url, snap.version)  # byte-identical
            assert resp[1].get_header("WARC-Target-URI") == (snap.final_url or snap.url)
            assert resp[1].get_header("WARC-Date") == snap.fetched_at.strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ")
            assert resp[2].get_statuscode() == str(snap.status)
            stored = dict(archive.response_headers(snap.url, snap.version))
            assert resp[2].get_header("Content-Type") == stored["Content-Type"]
            assert resp[2].get_header("X-Archive-Orig-Content-Encoding") == "gzip"
            assert resp[2].get_header("Transfer-Encoding") is None
            assert meta[1].get_header("WARC-Concurrent-To") == resp[1].get_header(
                "WARC-Record-ID")
            fields = json.loads(meta[3])
            assert fields["page"] == page_to_dict(pg) and fields["site"] == site
    assert [r[2].get_statuscode() for r in records[1::2]] == ["200"] * 4 + ["203", "200"]
    assert records[9][1].get_header("WARC-Target-URI") == C + "?from=redirect"


# -- files, messages and exit codes -----------------------------------------------------------

def test_existing_file_is_refused_and_kept(archive_path: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    target.write_bytes(b"keep me\n")
    result = run_cli("--archive", archive_path, "-o", str(target))
    assert result.exit_code == 1
    assert str(target) in result.stderr and "--force" in result.stderr
    assert target.read_bytes() == b"keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.jsonl"]


def test_force_overwrites_and_summary_names_the_path(archive_path: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    target.write_bytes(b"old\n")
    result = run_cli("--archive", archive_path, "-o", str(target), "--force")
    assert result.exit_code == 0
    assert result.stderr.strip() == f"exported 3 pages records as jsonl to {target}"
    assert result.stdout == ""
    lines = target.read_bytes().splitlines()
    assert [json.loads(x)["url"] for x in lines] == [A, B, C]


def test_format_is_taken_from_the_suffix(archive_path: str, tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    assert run_cli("--archive", archive_path, "-o", str(target)).exit_code == 0
    assert pq.read_table(target).num_rows == 3


@pytest.mark.parametrize("args,message", [
    (["--records", "links", "--format", "warc", "-o", "x.warc"], "--records pages"),
    (["--as-of", "1d", "--all-versions"], "--as-of"),
    (["--since", "2026-02-02", "--until", "2026-02-01"], "--since must be earlier"),
    (["--since", "yesterday"], "expected a date"),
])
def test_usage_errors_exit_2(archive_path: str, args: list[str], message: str) -> None:
    result = run_cli("--archive", archive_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_archive_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = run_cli("--archive", str(missing), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1
    assert str(missing) in result.stderr
    assert list(tmp_path.iterdir()) == []
