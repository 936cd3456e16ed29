"""URLs by hand, on both archive backends: `scraper add` queues URLs (due now, in scope or
refused), `scraper crawl --url` fetches exactly those (the site's request log shows it),
`scraper forget` drops frontier rows and never a version."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.archive import Archive, ArchiveBackend
from scraper.cli import main
from scraper.models import FrontierItem
from scraper.testsite import TestSite

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- the archive methods ---------------------------------------------------------------------

def _item(url: str, site: str = "s") -> FrontierItem:
    return FrontierItem(url=url, site=site, depth=2)


def test_enqueue_now_adds_new_urls_and_makes_known_ones_due(any_archive: ArchiveBackend) -> None:
    later = T0 + timedelta(days=3)
    any_archive.enqueue([FrontierItem(url="http://x.org/old", site="s", depth=1,
                                      next_due=later)], T0)
    assert any_archive.due("s", T0, 10) == []
    added = any_archive.enqueue_now([_item("http://x.org/old"), _item("http://x.org/new")], T0)
    assert added == 1
    due = {item.url: item for item in any_archive.due("s", T0, 10)}
    assert set(due) == {"http://x.org/old", "http://x.org/new"}
    assert due["http://x.org/old"].depth == 1  # the known row kept its depth


def test_due_with_only_returns_none_but_those(any_archive: ArchiveBackend) -> None:
    any_archive.enqueue([_item(f"http://x.org/{i}") for i in range(5)], T0)
    only = {"http://x.org/1", "http://x.org/3", "http://x.org/unknown"}
    assert {i.url for i in any_archive.due("s", T0, 10, only=only)} == {
        "http://x.org/1", "http://x.org/3"}
    assert [i.url for i in any_archive.due("s", T0, 10, exclude={"http://x.org/1"},
                                           only=only)] == ["http://x.org/3"]
    assert any_archive.due("s", T0, 10, only=set()) == []
    assert any_archive.due("other", T0, 10, only=only) == []


def test_a_workers_claim_with_only_takes_none_but_those(any_archive: ArchiveBackend) -> None:
    any_archive.enqueue([_item(f"http://x.org/{i}") for i in range(5)], T0)
    worker = any_archive.join_crawl()
    try:
        claimed = worker.claim("s", T0, 10, only={"http://x.org/2", "http://x.org/4"})
        assert sorted(i.url for i in claimed) == ["http://x.org/2", "http://x.org/4"]
    finally:
        worker.leave()


def test_forget_drops_matching_rows_of_the_site_only(any_archive: ArchiveBackend) -> None:
    any_archive.enqueue([_item("http://x.org/a?utm_source=1"), _item("http://x.org/b"),
                         _item("http://x.org/c?fbclid=2"),
                         _item("http://x.org/d?utm_source=3", site="other")], T0)
    pattern = re.compile("utm_|fbclid=")
    listed = any_archive.forget("s", pattern, dry_run=True)
    assert listed == ["http://x.org/a?utm_source=1", "http://x.org/c?fbclid=2"]
    assert any_archive.frontier_count("s") == 3  # a dry run drops nothing
    assert any_archive.forget("s", pattern) == listed
    assert any_archive.frontier_count("s") == 1
    assert any_archive.frontier_count("other") == 1
    assert any_archive.forget("s", pattern) == []


def test_forget_leaves_a_url_a_live_worker_holds_on_a_server(
        any_archive: ArchiveBackend, archive_backend: str) -> None:
    any_archive.enqueue([_item("http://x.org/a"), _item("http://x.org/b")], T0)
    worker = any_archive.join_crawl()
    try:
        assert [i.url for i in worker.claim("s", T0, 1, only={"http://x.org/a"})] == [
            "http://x.org/a"]
        dropped = any_archive.forget("s", re.compile("x\\.org"))
    finally:
        worker.leave()
    # PostgreSQL leases the claimed URL to its worker; SQLite has one process, no leases.
    held = archive_backend == "postgresql"
    assert dropped == (["http://x.org/b"] if held else ["http://x.org/a", "http://x.org/b"])


# --- the commands over a real crawl ----------------------------------------------------------

def _config(tmp_path: Path, site: TestSite, **extra: str) -> Path:
    config = tmp_path / "site.yaml"
    more = "".join(f"{key}: {value}\n" for key, value in extra.items())
    config.write_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{site.url('/related/NATO')}"]
        scope:
          include: ["^/related/", "^/info/"]
        follow: [related, more_info]
        recrawl_after: 30d
        network: {{allow_loopback: true}}
        politeness: {{delay: 0, robots_txt: false}}
        """) + more)
    return config


def _run(*args: str, code: int = 0, stdout: bool = False) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.stdout if stdout else result.output


@pytest.fixture
def archive_location(any_archive_location: str) -> str:
    return any_archive_location


def test_add_queues_in_scope_urls_and_refuses_out_of_scope_ones(
        tmp_path: Path, archive_location: str) -> None:
    with TestSite(pages=10) as site:
        config = _config(tmp_path, site)
        slug = site.model.slugs[3]
        plain = site.url(f"/info/{slug}")
        given = plain + "?utm_source=mail&fbclid=x"
        out = _run("add", str(config), given, "--archive", archive_location)
        assert f"/info/{slug}\n" in out and "queued 1 URL of site wiki" in out
        refused = _run("add", str(config), site.url(f"/info/{site.model.slugs[4]}"),
                       site.url("/private/secret"), "--archive", archive_location, code=2)
        assert "/private/secret" in refused and "outside the scope" in refused
    with Archive.open(archive_location) as archive:
        # Normalised, due now; the refused command queued nothing, not even its good URL.
        item = archive.frontier_item(plain)
        assert item is not None and item.site == "wiki"
        assert archive.due("wiki", datetime.now(UTC), 10) == [item]
        assert archive.frontier_count() == 1


def test_crawl_url_fetches_exactly_those_urls_due_or_not(tmp_path: Path,
                                                         archive_location: str) -> None:
    with TestSite(pages=12) as site:
        config = _config(tmp_path, site, max_pages="6")
        _run("crawl", str(config), "--archive", archive_location, "-q")
        with Archive.open(archive_location) as archive:
            fetched = [item.url for item in archive.due("wiki", T0 + timedelta(days=3650), 100)
                       if item.fetch_count]
            waiting = [item.url for item in archive.due("wiki", datetime.now(UTC), 100)]
        assert len(fetched) == 6 and waiting  # some fetched (not due), some due
        chosen = [fetched[2], waiting[0]]
        site.reset_stats()
        out = _run("crawl", str(config), "--archive", archive_location, "--format", "json",
                   *(arg for url in chosen for arg in ("--url", url + "?utm_medium=x")),
                   stdout=True)
        targets = sorted(site.url(r.target) for r in site.stats().log)
        assert targets == sorted(chosen)
        summary = json.loads(out)
        runs = summary["runs"] if isinstance(summary, dict) and "runs" in summary else summary
        # The page fetched before answers 304 to its conditional GET: counted as such.
        assert sum(run["fetched"] + run["not_modified"] for run in runs) == 2, out
        with Archive.open(archive_location) as archive:
            # The links found on them were queued (later) as usual; no other URL was fetched.
            assert archive.frontier_item(waiting[0]) is not None
            assert archive.frontier_item(waiting[0]).fetch_count == 1  # type: ignore[union-attr]
            assert archive.frontier_item(waiting[1]).fetch_count == 0  # type: ignore[union-attr]
        refused = _run("crawl", str(config), "--archive", archive_location,
                       "--url", "http://elsewhere.invalid/info/X", code=2)
        assert "elsewhere.invalid" in refused and "outside the scope" in refused


def test_forget_drops_queued_urls_and_keeps_versions(tmp_path: Path,
                                                     archive_location: str) -> None:
    with TestSite(pages=10) as site:
        config = _config(tmp_path, site, max_pages="4")
        _run("crawl", str(config), "--archive", archive_location, "-q")
        info = re.escape(site.url("/info/"))
        with Archive.open(archive_location) as archive:
            versions = sum(1 for _ in archive.iter_summaries(all_versions=True))
            pages_before = archive.stats()["pages"]
            queued = archive.frontier_count("wiki")
            infos = [i.url for i in archive.due("wiki", T0 + timedelta(days=3650), 1000)
                     if i.url.startswith(site.url("/info/"))]
        assert infos and versions
        dry = _run("forget", str(config), f"^{info}", "--dry-run", "--archive",
                   archive_location)
        assert f"would drop {len(infos)} queued URL" in dry
        out = _run("forget", str(config), f"^{info}", "--archive", archive_location,
                   "--format", "json", stdout=True)
        assert sorted(json.loads(out)["urls"]) == sorted(infos)
        with Archive.open(archive_location) as archive:
            assert archive.frontier_count("wiki") == queued - len(infos)
            assert sum(1 for _ in archive.iter_summaries(all_versions=True)) == versions
            assert archive.stats()["pages"] == pages_before
        bad = _run("forget", str(config), "(a+)+$", "--archive", archive_location, code=2)
        assert "URL-PATTERN" in bad


def test_given_urls_go_to_the_config_whose_scope_takes_them() -> None:
    from scraper.config import CrawlConfig, load_config_text
    from scraper.crawl.frontier import given_urls, hand_urls
    from scraper.errors import ConfigError

    def config(name: str, host: str, source: str = "html") -> CrawlConfig:
        return load_config_text(f"name: {name}\nstart_urls: ['http://{host}/wiki/A']\n"
                                f"source: {source}\n", f"{name}.yaml")

    a, b = config("a", "a.example.org"), config("b", "b.example.org")
    assert hand_urls([a, b], ["http://B.example.org/wiki/X?fbclid=1"]) == (
        "http://b.example.org/wiki/X",)
    with pytest.raises(ConfigError, match="c.example.org"):
        hand_urls([a, b], ["http://c.example.org/wiki/X"])
    items, only = given_urls(b, ("http://a.example.org/wiki/X", "http://b.example.org/wiki/Y"))
    assert only == frozenset({"http://b.example.org/wiki/Y"}) and [i.site for i in items or ()] == ["b"]
    assert given_urls(a, ()) == (None, None)
    wiki = config("w", "w.example.org", source="mediawiki")
    with pytest.raises(ConfigError, match="source: mediawiki"):
        given_urls(wiki, ("http://w.example.org/wiki/X",))
