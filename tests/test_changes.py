"""diff_versions, changes_report and the `diff` / `changes` commands over a real archive, on
each backend (SQLite and PostgreSQL: tests/archive_backends.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser

from scraper.archive import Archive, ArchiveBackend
from scraper.changes import changes_report, diff_versions, report_text, report_to_json
from scraper.cli import main
from scraper.errors import ArchiveError
from scraper.models import FetchResult, Link, Page

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=2)
T2 = T0 + timedelta(days=4)
SITE = "wiki"
BASE = "http://127.0.0.1:8000/wiki/"
PARIS = BASE + "Paris"

V1 = Page(url=PARIS, kind="article", title="Paris",
          summary="Paris is the capital of France.",
          text="History\n\nFounded long ago.\n\nGeography\n\nOn the Seine.",
          links=(Link(BASE + "Lyon", "Lyon", "see_also"),),
          infobox=(("population", "2,100,000"),), revision_id=11)
V2 = replace(V1, summary="Paris is the capital and largest city of France.", revision_id=12)
V3 = replace(V2, links=V2.links + (Link(BASE + "Nice", "Nice", "see_also"),), revision_id=13)


def fetch(url: str, when: datetime, body: bytes = b"<html></html>", status: int = 200
          ) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=status,
                       headers=(("content-type", "text/html"),), body=body, fetched_at=when,
                       elapsed_s=0.01)


def build(location: str) -> None:
    with Archive.open(location, create=True) as archive:
        run = archive.start_run([SITE], {"name": SITE}, T0)
        due = T0 + timedelta(days=30)
        archive.save(run, SITE, fetch(PARIS, T0, b"1"), V1, next_due=due)
        archive.save(run, SITE, fetch(PARIS, T1, b"2"), V2, next_due=due)  # gist computed
        archive.save(run, SITE, fetch(PARIS, T2, b"3"), V3, next_due=due,
                     change_gist="stored: 1 see_also added")
        lyon = Page(url=BASE + "Lyon", kind="article", title="Lyon", summary="A city.")
        archive.save(run, SITE, fetch(lyon.url, T1 + timedelta(hours=1)), lyon, next_due=due)
        nice = Page(url=BASE + "Nice", kind="article", title="Nice", summary="Sea.")
        archive.save(run, SITE, fetch(nice.url, T0), nice, next_due=due)
        archive.record_failure(run, SITE, nice.url, reason="HTTP 404", attempts=1, status=404,
                               now=T2, next_due=due, gone=True)
        other = Page(url="http://127.0.0.1:8001/x", title="Other site", summary="One.")
        archive.save(run, "other", fetch(other.url, T0), other, next_due=due)
        archive.save(run, "other", fetch(other.url, T1), replace(other, summary="Two."),
                     next_due=due)


@pytest.fixture()
def archive_path(any_archive_location: str) -> str:
    """The built archive's location: a file, or a PostgreSQL URL."""
    build(any_archive_location)
    return any_archive_location


@pytest.fixture()
def archive(archive_path: str) -> Iterator[ArchiveBackend]:
    with Archive.open(archive_path, create=False) as opened:
        yield opened


# -- library -----------------------------------------------------------------------------

def test_default_diff_is_the_last_two_versions(archive: ArchiveBackend) -> None:
    d = diff_versions(archive, PARIS)
    assert (d.old_version, d.new_version) == (2, 3)
    assert (d.old_revision_id, d.new_revision_id) == (12, 13)
    assert (d.old_fetched_at, d.new_fetched_at) == (T1, T2)
    assert [ln.title for ln in d.links_added] == ["Nice"]
    assert d.summary is None


def test_versions_by_number_and_by_date(archive: ArchiveBackend) -> None:
    d = diff_versions(archive, PARIS, 1, 3)
    assert (d.old_version, d.new_version) == (1, 3)
    assert d.summary is not None and len(d.links_added) == 1
    by_date = diff_versions(archive, PARIS, T0 + timedelta(hours=1), T1 + timedelta(hours=1))
    assert (by_date.old_version, by_date.new_version) == (1, 2)
    only_to = diff_versions(archive, PARIS, None, 2)
    assert (only_to.old_version, only_to.new_version) == (1, 2)


def test_unknown_url_and_versions_are_named(archive: ArchiveBackend) -> None:
    with pytest.raises(ArchiveError, match="no page http://127.0.0.1:8000/wiki/Rome"):
        diff_versions(archive, BASE + "Rome")
    with pytest.raises(ArchiveError, match=r"Paris has no version 9 \(versions 1 to 3\)"):
        diff_versions(archive, PARIS, 9)
    with pytest.raises(ArchiveError, match="had no version yet at 2026-10-01"):
        diff_versions(archive, PARIS, datetime(2026, 10, 1, tzinfo=UTC))
    with pytest.raises(ArchiveError, match="Lyon has no version before version 1"):
        diff_versions(archive, BASE + "Lyon")


def test_changes_report_lists_changed_new_and_gone_apart(archive: ArchiveBackend) -> None:
    report = changes_report(archive, T1 - timedelta(hours=1))
    assert [p.url for p in report.changed] == [PARIS, "http://127.0.0.1:8001/x"]
    paris = report.changed[0]
    assert paris.count == 2 and paris.title == "Paris" and paris.site == SITE
    assert [(v.version, v.gist) for v in paris.versions] == [
        (2, "summary edited"), (3, "stored: 1 see_also added")]
    assert paris.gist == "summary edited, 1 see_also added"  # net change over the period
    assert [e.url for e in report.new] == [BASE + "Lyon"]
    assert [(e.url, e.at) for e in report.gone] == [(BASE + "Nice", T2)]


def test_changes_report_window_and_site(archive: ArchiveBackend) -> None:
    report = changes_report(archive, T1 - timedelta(hours=1), T2 - timedelta(hours=1), SITE)
    assert [(p.url, p.count, p.gist) for p in report.changed] == [(PARIS, 1, "summary edited")]
    assert [e.url for e in report.new] == [BASE + "Lyon"]
    assert report.gone == ()
    later = changes_report(archive, T2 + timedelta(hours=1))
    assert later.changed == () and later.new == () and later.gone == ()


def test_report_renderings(archive: ArchiveBackend) -> None:
    report = changes_report(archive, T1 - timedelta(hours=1), site=SITE)
    data = json.loads(json.dumps(report_to_json(report)))
    assert data["changed"][0]["new_versions"] == 2
    assert data["changed"][0]["versions"][1] == {
        "version": 3, "fetched_at": "2026-11-05T08:00:00.000000+00:00", "revision_id": 13,
        "gist": "stored: 1 see_also added"}
    assert data["gone"] == [{"url": BASE + "Nice", "site": SITE, "title": "Nice",
                             "at": "2026-11-05T08:00:00.000000+00:00", "version": 1}]
    text = report_text(report)
    assert "Changed pages: 1\n" in text and "New pages: 1\n" in text
    assert "Gone pages: 1\n" in text
    assert "2 new versions, last 2026-11-05 08:00: summary edited, 1 see_also added" in text


# -- commands ----------------------------------------------------------------------------

def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_diff_command_text_and_json(archive_path: str) -> None:
    code, out, _ = run("diff", PARIS, "--archive", archive_path, "--from", "1")
    assert code == 0
    assert "---  version 1  revision 11  fetched 2026-11-01T08:00:00" in out
    assert "+++  version 3  revision 13  fetched 2026-11-05T08:00:00" in out
    assert "capital {+and largest city +}of France." in out  # plain: not a terminal
    assert "\x1b[" not in out
    code, out, _ = run("diff", PARIS, "--archive", archive_path, "--color", "always")
    assert code == 0 and "\x1b[" in out
    code, out, _ = run("diff", PARIS, "--archive", archive_path, "--format", "json",
                       "--from", "2026-11-02", "--to", "v2")
    data = json.loads(out)
    assert code == 0 and data["version"] == 1
    assert (data["old"]["version"], data["new"]["version"]) == (1, 2)
    assert data["summary"]["words"][1] == ["insert", "and largest city "]


def test_diff_command_unified_and_html_to_files(archive_path: str, tmp_path: Path) -> None:
    code, out, _ = run("diff", PARIS, "--archive", archive_path, "--from", "1", "--to",
                       "2", "--format", "unified", "--context", "1")
    assert code == 0
    assert out.splitlines()[:3] == [
        f"--- {PARIS}@1\t2026-11-01T08:00:00.000000+00:00",
        f"+++ {PARIS}@2\t2026-11-03T08:00:00.000000+00:00", "@@ -2,3 +2,3 @@"]
    target = tmp_path / "out" / "paris.html"
    target.parent.mkdir()
    code, out, err = run("diff", PARIS, "--archive", archive_path, "--format", "html",
                         "-o", str(target))
    assert code == 0 and out == "" and f"wrote {target}" in err
    tree = LexborHTMLParser(target.read_text(encoding="utf-8"))
    assert [n.text() for n in tree.css("td.new ins")].count("Nice http://127.0.0.1:8000/wiki/Nice") == 1


def test_diff_command_errors(archive_path: str, tmp_path: Path) -> None:
    code, _, err = run("diff", BASE + "Rome", "--archive", archive_path)
    assert code == 1 and "no page http://127.0.0.1:8000/wiki/Rome" in err
    code, _, err = run("diff", PARIS, "--archive", archive_path, "--from", "7")
    assert code == 1 and "has no version 7 (versions 1 to 3)" in err
    code, _, err = run("diff", PARIS, "--archive", archive_path, "--from", "yesterday-ish")
    assert code == 2 and "expected a version number" in err
    code, _, err = run("diff", PARIS, "--archive", str(tmp_path / "missing.db"))
    assert code == 1 and "missing.db" in err and not (tmp_path / "missing.db").exists()


def test_changes_command(archive_path: str) -> None:
    code, out, _ = run("changes", "--archive", archive_path, "--since", "2026-11-03T07:00",
                       "--site", SITE)
    assert code == 0
    assert out.splitlines()[0] == "Changes since 2026-11-03 07:00 UTC, site wiki"
    assert f"  {PARIS}  (Paris)" in out and "Gone pages: 1" in out
    code, out, _ = run("changes", "--archive", archive_path, "--since", "2026-11-03T07:00",
                       "--until", "2026-11-05", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["until"] == "2026-11-05T00:00:00.000000+00:00"
    assert [p["url"] for p in data["changed"]] == [PARIS, "http://127.0.0.1:8001/x"]
    code, _, err = run("changes", "--archive", archive_path, "--since", "2026-11-05",
                       "--until", "2026-11-01")
    assert code == 2 and "--until" in err
    code, out, _ = run("changes", "--archive", archive_path)  # last 7 days from now
    assert code == 0 and "Changed pages:" in out


# -- end to end: crawl the built-in site, edit it, crawl again --------------------------

def test_crawl_edit_recrawl_then_diff_and_changes(any_archive_location: str) -> None:
    import asyncio
    import textwrap

    from scraper.config import load_config_text
    from scraper.crawl import crawl
    from scraper.testsite import TestSite

    with TestSite(pages=30) as site:
        config = load_config_text(textwrap.dedent(f"""\
            name: e2e
            start_urls: ["{site.url('/related/NATO')}"]
            network: {{allow_loopback: true}}
            follow: [related, more_info]
            scope: {{include: ["^/related/NATO", "^/info/NATO$"]}}
            max_depth: 1
            recrawl_after: 0s
            politeness: {{concurrency: 2, delay: 0}}
            """), "e2e.yaml")
        db = any_archive_location
        with Archive.open(db) as archive:
            asyncio.run(crawl([config], archive))
            site.edit("NATO", infobox={"Type": "Defence alliance"}, reorder_sections=True)
            asyncio.run(crawl([config], archive))
        article = site.url("/info/NATO")
    code, out, _ = run("diff", article, "--archive", db, "--format", "json")
    data = json.loads(out)
    assert code == 0 and (data["old"]["version"], data["new"]["version"]) == (1, 2)
    assert data["infobox"] == [{"key": "Type", "change": "changed", "old": "Military alliance",
                                "new": "Defence alliance"}]
    assert data["text"]["counts"]["moved"] > 0
    assert {op["op"] for op in data["text"]["ops"]} == {"equal", "move"}
    code, out, _ = run("changes", "--archive", db, "--since", "1h", "--format", "json")
    report = json.loads(out)
    changed = {p["url"]: p for p in report["changed"]}
    assert code == 0 and article in changed
    assert changed[article]["gist"] == data["gist"]  # the gist the crawl stored
    assert "infobox: Type changed" in changed[article]["gist"]
