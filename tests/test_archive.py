"""The archive's behaviour: versions, links, frontier, runs, reads, search and statistics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.archive import Archive, ArchiveBackend, SaveResult
from scraper.archive.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from scraper.archive.sqlite import SCHEMA_VERSION
from scraper.archive.sqlite import links as sqlite_links
from scraper.errors import ArchiveError
from scraper.models import (
    CrawlStats,
    Entry,
    FetchResult,
    FrontierItem,
    Link,
    Page,
    RevisionMeta,
    content_hash,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
URL = "http://wiki.test/wiki/Mozilla"


def fetch(url: str = URL, body: bytes = b"<html>v1</html>", at: datetime = T0, *,
          status: int = 200, etag: str | None = None) -> FetchResult:
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    if etag:
        headers += (("ETag", etag),)
    return FetchResult(url, url + "?redirected", status, headers, body, at, 0.05)


def article(url: str = URL, **changes: object) -> Page:
    fields: dict[str, object] = {
        "kind": "article", "title": "Mozilla", "summary": "Mozilla is a free software community.",
        "text": "Mozilla is a free software community.\n\nIt was founded in 1998.",
        "links": (Link("http://wiki.test/wiki/Firefox", "Firefox", "see_also"),
                  Link("http://wiki.test/wiki/Netscape", "Netscape", "internal")),
        "categories": ("Free software",), "infobox": (("Founded", "1998"),),
        "image": "http://wiki.test/logo.png", "revision_id": 100, "parser": "mediawiki",
    }
    fields.update(changes)
    return Page(url, **fields)  # type: ignore[arg-type]


@pytest.fixture
def archive(any_archive: ArchiveBackend) -> ArchiveBackend:
    """Each test that takes it runs on every backend (tests/archive_backends.py)."""
    return any_archive


@pytest.fixture
def sqlite_archive() -> Archive:
    """For what only the SQLite backend has (its links_recent/links_settled split)."""
    return Archive.memory()


def sql_rows(archive: ArchiveBackend, sql: str) -> list[tuple[object, ...]]:
    """Rows of a plain SQL query (no parameters) on either backend's database."""
    from scraper.archive.postgres.archive import PostgresArchive

    if isinstance(archive, PostgresArchive):
        return archive.core.run(lambda conn: conn.execute(sql).fetchall())
    return [tuple(row) for row in archive.conn.execute(sql).fetchall()]  # type: ignore[attr-defined]


def save(archive: Archive, page: Page, body: bytes, at: datetime, run: int = 0,
         **kwargs: object) -> SaveResult:
    run = run or archive.start_run(["wiki"], {}, at)
    return archive.save(run, "wiki", fetch(page.url, body, at), page,
                        next_due=at + timedelta(days=1), **kwargs)  # type: ignore[arg-type]


# Versions


def test_unchanged_content_makes_no_new_version_and_counts_the_sighting(archive: Archive) -> None:
    first = save(archive, article(), b"<html>A</html>", T0)
    again = save(archive, article(), b"<html>A</html>", T0 + timedelta(days=1))
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created, again.stored_bytes) == (1, False, 0)
    assert [s.version for s in archive.history(URL)] == [1]
    info = archive.page_info(URL)
    assert info["seen_count"] == 2
    assert info["last_fetched"].startswith("2026-03-02")
    assert info["last_changed"].startswith("2026-03-01")


def test_a_footer_timestamp_alone_makes_no_new_version(archive: Archive) -> None:
    save(archive, article(), b"<html><p>text</p><footer>generated 10:00</footer></html>", T0)
    result = save(archive, article(), b"<html><p>text</p><footer>generated 11:00</footer></html>",
                  T0 + timedelta(hours=1))
    assert not result.created
    assert len(archive.history(URL)) == 1
    # The stored body stays the one of the version, not the later fetch.
    assert archive.body(URL).endswith(b"10:00</footer></html>")


def test_a_changed_summary_makes_exactly_one_new_version(archive: Archive) -> None:
    save(archive, article(), b"<html>1</html>", T0)
    changed = article(summary="Mozilla is a global community.")
    second = save(archive, changed, b"<html>2</html>", T0 + timedelta(hours=1))
    third = save(archive, changed, b"<html>2</html>", T0 + timedelta(hours=2))
    assert (second.version, second.created) == (2, True)
    assert (third.version, third.created) == (2, False)
    assert [s.version for s in archive.history(URL)] == [1, 2]
    assert archive.page(URL).summary == "Mozilla is a global community."
    assert archive.page(URL, 1).summary == "Mozilla is a free software community."
    assert archive.body(URL, 1) == b"<html>1</html>"


def test_snapshot_keeps_the_fetch_metadata(archive: Archive) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    result = archive.save(
        run, "wiki", fetch(body=b"<p>x</p>", etag='"abc"'), article(), next_due=T0,
        revision=RevisionMeta(123, "2026-02-28T10:00:00Z", "Editor", "typo"),
        change_gist="summary changed")
    snap = archive.snapshot(URL)
    assert snap.version == result.version == 1
    assert snap.run_id == run
    assert snap.fetched_at == T0
    assert snap.status == 200
    assert snap.final_url == URL + "?redirected"
    assert snap.etag == '"abc"'
    assert (snap.revision_id, snap.revision_timestamp, snap.revision_user,
            snap.revision_comment) == (123, "2026-02-28T10:00:00Z", "Editor", "typo")
    assert snap.content_hash == content_hash(article()) == result.content_hash
    assert snap.body_size == len(b"<p>x</p>")
    assert snap.change_gist == "summary changed"
    assert archive.response_headers(URL) == [("Content-Type", "text/html; charset=utf-8"),
                                             ("ETag", '"abc"')]
    assert archive.has_revision(URL, 123)
    assert not archive.has_revision(URL, 124)
    assert not archive.has_revision("http://unknown/", 123)
    assert archive.validators(URL) == ('"abc"', None)


def test_version_at_and_history_order(archive: Archive) -> None:
    for day in range(3):
        save(archive, article(summary=f"day {day}"), b"x", T0 + timedelta(days=day))
    assert archive.version_at(URL, T0 - timedelta(seconds=1)) is None
    assert archive.version_at(URL, T0) == 1
    assert archive.version_at(URL, T0 + timedelta(days=1, hours=5)) == 2
    assert archive.version_at(URL, T0 + timedelta(days=30)) == 3
    assert [s.fetched_at for s in archive.history(URL)] == [T0 + timedelta(days=d)
                                                             for d in range(3)]


@pytest.mark.parametrize("read", [
    lambda a: a.stats(), lambda a: a.site_counts(), lambda a: a.latest_versions(5),
    lambda a: a.gone_pages(T0), lambda a: a.new_pages(T0), lambda a: a.notify_backlog(),
    lambda a: a.prune_outbox("wiki"), lambda a: a.search("x")])
def test_a_failing_sqlite_read_is_an_archive_error_naming_the_file(
        sqlite_archive: Archive, read: Any) -> None:
    """Each of these reads turns sqlite3's errors into ArchiveError (its @translated)."""
    build_site(sqlite_archive)
    sqlite_archive.conn.close()  # type: ignore[attr-defined]
    with pytest.raises(ArchiveError, match=re.escape(sqlite_archive.path)):
        read(sqlite_archive)


def test_unknown_urls_and_versions_raise_archive_error_naming_them(archive: Archive) -> None:
    with pytest.raises(ArchiveError, match="no page http://nowhere/x"):
        archive.history("http://nowhere/x")
    save(archive, article(), b"x", T0)
    with pytest.raises(ArchiveError, match=r"has no version 5 \(versions 1 to 1\)"):
        archive.page(URL, 5)
    with pytest.raises(ArchiveError, match="no page"):
        archive.body("http://nowhere/x")


def test_frontier_url_resolves_to_the_page_it_was_stored_as(archive: Archive) -> None:
    # The crawler may store a page under another URL than the one it fetched.
    run = archive.start_run(["wiki"], {}, T0)
    archive.save(run, "wiki", fetch("http://wiki.test/w?title=Mozilla"), article(),
                 next_due=T0)
    assert archive.history("http://wiki.test/w?title=Mozilla")[0].url == URL


# Links


def test_links_are_kept_per_version_and_answer_who_links_here(archive: Archive) -> None:
    save(archive, article(), b"1", T0)
    firefox = Link("http://wiki.test/wiki/Firefox", "Firefox", "see_also")
    thunderbird = Link("http://wiki.test/wiki/Thunderbird", "Thunderbird", "see_also")
    save(archive, article(links=(firefox, thunderbird)), b"2", T0 + timedelta(days=1))
    latest = list(archive.iter_links())
    assert {(r["target"], r["version"]) for r in latest} == {
        ("http://wiki.test/wiki/Firefox", 2), ("http://wiki.test/wiki/Thunderbird", 2)}
    every = [(r["version"], r["target"].rsplit("/", 1)[1]) for r in
             archive.iter_links(all_versions=True)]
    assert every == [(1, "Firefox"), (1, "Netscape"), (2, "Firefox"), (2, "Thunderbird")]
    assert [r["source"] for r in archive.linking_to("http://wiki.test/wiki/Firefox")] == [URL]
    assert archive.linking_to("http://wiki.test/wiki/Netscape") == []
    changes = archive.links_changes(URL, 1, 2)
    assert [c["target"] for c in changes["added"]] == ["http://wiki.test/wiki/Thunderbird"]
    assert [c["target"] for c in changes["removed"]] == ["http://wiki.test/wiki/Netscape"]
    # The documented view gives the same per-version graph to SQL users.
    rows = sql_rows(archive, "SELECT version, target FROM snapshot_links ORDER BY version, target")
    assert len(rows) == 4


def test_a_run_end_moves_its_links_to_the_settled_table_and_reads_see_both(
        sqlite_archive: Archive) -> None:
    archive = sqlite_archive
    def finish(run: int) -> None:
        archive.finish_run(run, CrawlStats(), status="completed", ended_at=T0)

    def table(name: str) -> list[tuple[int, str, int | None]]:
        return archive.conn.execute(
            f"SELECT id, substr(target, 23), to_version FROM {name} ORDER BY id").fetchall()

    first = archive.start_run(["wiki"], {}, T0)
    save(archive, article(), b"1", T0, first)
    # Before its run ends, a link is in links_recent, and every read finds it there.
    assert table("links_recent") == [(1, "Firefox", None), (2, "Netscape", None)]
    assert [r["source"] for r in archive.linking_to("http://wiki.test/wiki/Netscape")] == [URL]
    finish(first)
    assert table("links_recent") == []
    assert table("links_settled") == [(1, "Firefox", None), (2, "Netscape", None)]
    plan = " ".join(str(r) for r in archive.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM links WHERE target = ? AND to_version IS NULL", ("x",)))
    assert "USING INDEX links_target" in plan

    # A later version closes a settled link and opens a recent one, whose id comes after
    # every id used before, even though links_recent was emptied.
    second = archive.start_run(["wiki"], {}, T0)
    thunderbird = Link("http://wiki.test/wiki/Thunderbird", "Thunderbird", "see_also")
    save(archive, article(links=(article().links[0], thunderbird)), b"2",
         T0 + timedelta(days=1), second)
    assert table("links_settled") == [(1, "Firefox", None), (2, "Netscape", 1)]
    assert table("links_recent") == [(3, "Thunderbird", None)]
    assert archive.linking_to("http://wiki.test/wiki/Netscape") == []
    every = [(r["version"], r["target"].rsplit("/", 1)[1]) for r in
             archive.iter_links(all_versions=True)]
    assert every == [(1, "Firefox"), (1, "Netscape"), (2, "Firefox"), (2, "Thunderbird")]
    finish(second)
    assert table("links_settled") == [(1, "Firefox", None), (2, "Netscape", 1),
                                      (3, "Thunderbird", None)]
    assert archive.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_large_move_makes_the_settled_indexes_again_and_a_small_one_keeps_them(
        sqlite_archive: Archive) -> None:
    archive = sqlite_archive
    def indexes() -> list[tuple[str, str]]:
        return archive.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'links_settled' AND sql IS NOT NULL ORDER BY name").fetchall()

    def crawl(url: str, targets: list[str]) -> list[str]:
        """The index statements the run's end ran."""
        run = archive.start_run(["wiki"], {}, T0)
        links = tuple(Link(f"http://wiki.test/wiki/{t}", t, "internal") for t in targets)
        save(archive, article(url, links=links), url.encode(), T0, run)
        statements: list[str] = []
        archive.conn.set_trace_callback(statements.append)
        try:
            archive.finish_run(run, CrawlStats(), status="completed", ended_at=T0)
        finally:
            archive.conn.set_trace_callback(None)
        return [s.split(" ON ")[0] for s in statements if "INDEX" in s]

    before = indexes()
    assert [name for name, _ in before] == ["links_page", "links_target"]
    # A first crawl: every link is new, and the indexes are made again, as they were.
    assert sorted(crawl(URL, [f"T{i}" for i in range(30)])) == [
        'CREATE INDEX links_page', 'CREATE INDEX links_target',
        'DROP INDEX "links_page"', 'DROP INDEX "links_target"']
    assert indexes() == before
    # A few links beside many settled ones go into the indexes as they are.
    assert crawl("http://wiki.test/wiki/Other", ["T1", "New"]) == []
    assert indexes() == before
    assert {r["source"] for r in archive.linking_to("http://wiki.test/wiki/T1")} == {
        URL, "http://wiki.test/wiki/Other"}
    assert archive.conn.execute("SELECT count(*) FROM links_settled").fetchone() == (32,)
    plan = " ".join(str(r) for r in archive.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM links WHERE target = ? AND to_version IS NULL", ("x",)))
    assert "USING INDEX links_target" in plan
    assert archive.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_links_are_moved_during_a_run_once_enough_wait(sqlite_archive: Archive,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    archive = sqlite_archive
    monkeypatch.setattr(sqlite_links, "RECENT_LINKS_MAX", 3)
    run = archive.start_run(["wiki"], {}, T0)

    def page(name: str, targets: list[str]) -> None:
        links = tuple(Link(f"http://wiki.test/wiki/{t}", t, "internal") for t in targets)
        save(archive, article(f"http://wiki.test/wiki/{name}", links=links), name.encode(), T0,
             run)

    def counts() -> tuple[int, int]:
        return (archive.conn.execute("SELECT count(*) FROM links_recent").fetchone()[0],
                archive.conn.execute("SELECT count(*) FROM links_settled").fetchone()[0])

    page("A", ["X", "Y"])
    assert counts() == (2, 0)
    page("B", ["X", "Z"])  # four wait: more than three, so they move at once
    assert counts() == (0, 4)
    page("C", ["X"])
    assert counts() == (1, 4)
    assert sorted(r["source"].rsplit("/", 1)[1]
                  for r in archive.linking_to("http://wiki.test/wiki/X")) == ["A", "B", "C"]
    archive.finish_run(run, CrawlStats(), status="completed", ended_at=T0)
    assert counts() == (0, 5)
    assert [r[0] for r in archive.conn.execute("SELECT id FROM links_settled ORDER BY id")] == [
        1, 2, 3, 4, 5]
    assert archive.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# Round trip


texts = st.text(max_size=40)
links = st.builds(Link, st.text(min_size=1, max_size=30), texts,
                  st.sampled_from(["related", "more_info", "see_also", "internal", "external"]))
entries = st.builds(Entry, texts, texts, st.booleans(), st.none() | texts, st.none() | texts,
                    st.none() | texts, st.lists(st.tuples(texts, texts), max_size=3).map(tuple))
pages = st.builds(
    Page, url=st.just("http://t/page"), kind=st.sampled_from(["listing", "article", "other"]),
    title=texts, canonical_url=st.none() | texts, summary=st.text(max_size=200),
    summary_truncated=st.booleans(), text=st.text(max_size=500),
    links=st.lists(links, max_size=6).map(tuple), entries=st.lists(entries, max_size=3).map(tuple),
    image=st.none() | texts, categories=st.lists(texts, max_size=4).map(tuple),
    infobox=st.lists(st.tuples(texts, texts), max_size=4).map(tuple),
    revision_id=st.none() | st.integers(0, 2**53), language=st.none() | texts,
    parser=texts, parser_version=texts, missing_selectors=st.lists(texts, max_size=2).map(tuple),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=pages, second=pages, body=st.binary(max_size=500))
def test_the_archive_round_trips_page_fields_and_saving_twice_gives_one_version(
    first: Page, second: Page, body: bytes,
) -> None:
    archive = Archive.memory()
    run = archive.start_run(["s"], {}, T0)
    archive.save(run, "s", fetch(first.url, body, T0), first, next_due=T0)
    again = archive.save(run, "s", fetch(first.url, body + b"!", T0), first, next_due=T0)
    assert not again.created
    assert archive.page(first.url) == first
    assert archive.body(first.url) == body
    later = archive.save(run, "s", fetch(second.url, body, T0 + timedelta(1)), second,
                         next_due=T0)
    assert later.created == (content_hash(second) != content_hash(first))
    assert archive.page(first.url, 1) == first
    assert archive.page(first.url) == (second if later.created else first)


# Frontier


def test_enqueue_counts_new_urls_and_keeps_the_smallest_depth(archive: Archive) -> None:
    assert archive.enqueue([FrontierItem("http://t/a", "s"),
                            FrontierItem("http://t/b", "s", depth=3)], T0) == 2
    assert archive.enqueue([FrontierItem("http://t/b", "s", depth=1, discovered_from="http://t/a",
                                         link_kind="related"),
                            FrontierItem("http://t/b", "s", depth=5)], T0) == 0
    item = archive.frontier_item("http://t/b")
    assert item is not None
    assert (item.depth, item.discovered_from, item.link_kind) == (1, "http://t/a", "related")
    assert archive.frontier_item("http://t/none") is None


def test_due_orders_never_fetched_first_then_most_overdue(archive: Archive) -> None:
    archive.enqueue([FrontierItem(f"http://t/{n}", "s") for n in "abcd"], T0)
    archive.enqueue([FrontierItem("http://t/other-site", "o")], T0)
    run = archive.start_run(["s"], {}, T0)
    # a fetched long ago and overdue, b fetched and overdue by less, c fetched and not due yet
    for url, due in (("a", T0 + timedelta(hours=1)), ("b", T0 + timedelta(hours=2)),
                     ("c", T0 + timedelta(days=9))):
        archive.save(run, "s", fetch(f"http://t/{url}"), Page(f"http://t/{url}"), next_due=due)
    now = T0 + timedelta(hours=3)
    order = [i.url.rsplit("/", 1)[1] for i in archive.due("s", now, 10)]
    assert order == ["d", "a", "b"]
    assert [i.url for i in archive.due("s", now, 2, exclude={"http://t/d"})] == [
        "http://t/a", "http://t/b"]
    assert archive.due("s", now, 0) == []
    assert archive.pending_count("s", now) == 3
    assert archive.pending_count("s", T0 + timedelta(days=10)) == 4
    item = archive.frontier_item("http://t/a")
    assert item is not None and item.fetch_count == 1 and item.last_fetched == T0


def test_save_enqueues_discovered_urls_in_the_same_transaction(archive: Archive) -> None:
    save(archive, article(), b"x", T0,
         discovered=[FrontierItem("http://wiki.test/wiki/Firefox", "wiki", depth=1,
                                  discovered_from=URL, link_kind="see_also")])
    due = archive.due("wiki", T0, 10)
    assert [i.url for i in due] == ["http://wiki.test/wiki/Firefox"]


def test_a_failing_save_leaves_nothing_behind(archive: Archive) -> None:
    bad = FrontierItem("http://t/x", "wiki", depth=1)
    run = archive.start_run(["wiki"], {}, T0)
    with pytest.raises(ArchiveError):
        # run 999 does not exist: the foreign key fails after the blob and page rows were written
        archive.save(999, "wiki", fetch(), article(), next_due=T0, discovered=[bad])
    assert archive.stats()["versions"] == 0
    assert sql_rows(archive, "SELECT count(*) FROM blobs") == [(0,)]
    assert archive.frontier_item("http://t/x") is None
    assert archive.save(run, "wiki", fetch(), article(), next_due=T0).version == 1


def test_not_modified_failures_gone_and_skips(archive: Archive) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    archive.save(run, "wiki", fetch(etag='"v1"'), article(), next_due=T0)
    later = T0 + timedelta(days=1)
    archive.record_not_modified(run, "wiki", fetch(body=b"", at=later, status=304),
                                next_due=later + timedelta(days=1))
    info = archive.page_info(URL)
    assert info["not_modified_count"] == 1 and info["last_fetched"] == later.isoformat(
        timespec="microseconds")
    assert archive.validators(URL) == ('"v1"', None)  # a 304 without ETag keeps the old one
    archive.record_failure(run, "wiki", URL, reason="HTTP 404", attempts=1, status=404,
                           now=later, next_due=later + timedelta(hours=1))
    item = archive.frontier_item(URL)
    assert item is not None and item.attempts == 1 and not item.gone
    archive.record_failure(run, "wiki", URL, reason="HTTP 404", attempts=1, status=404,
                           now=later, next_due=later + timedelta(days=7), gone=True)
    item = archive.frontier_item(URL)
    assert item is not None and item.attempts == 2 and item.gone
    assert [p["url"] for p in archive.gone_pages(T0)] == [URL]
    assert archive.gone_pages(later + timedelta(seconds=1)) == []
    archive.record_skipped(run, "wiki", "http://wiki.test/file.pdf", reason="not HTML",
                           now=later, next_due=later + timedelta(days=30))
    stats = archive.stats()
    assert (stats["failures"], stats["skipped"]) == (2, 1)
    # Coming back clears gone and the failure count.
    archive.save(run, "wiki", fetch(at=later + timedelta(days=8)), article(), next_due=T0)
    item = archive.frontier_item(URL)
    assert item is not None and item.attempts == 0 and not item.gone
    assert archive.page_info(URL)["gone"] is False


# Runs


def test_runs_record_config_counts_status_and_alerts(archive: Archive) -> None:
    assert archive.last_run() is None
    first = archive.start_run(["wiki"], {"max_pages": 5}, T0)
    second = archive.start_run(["other"], {}, T0 + timedelta(hours=1))
    archive.finish_run(first, CrawlStats(fetched=4, new_versions=3, unchanged=1, failed=2),
                       status="max_pages", ended_at=T0 + timedelta(minutes=5),
                       alerts=[{"field": "summary", "message": "summary fill rate fell"}])
    run = archive.last_run("wiki")
    assert run is not None
    assert (run["id"], run["status"], run["fetched"], run["new_versions"], run["failed"]) == (
        first, "max_pages", 4, 3, 2)
    assert run["config"] == {"max_pages": 5}
    assert run["alerts"][0]["field"] == "summary"
    last = archive.last_run()
    assert last is not None and (last["id"], last["status"]) == (second, "running")
    with pytest.raises(ArchiveError, match="unknown status 'done'"):
        archive.finish_run(second, CrawlStats(), status="done", ended_at=T0)


# Iteration, changes, search and statistics


def build_site(archive: Archive) -> None:
    run = archive.start_run(["wiki", "list"], {}, T0)
    for day in range(3):
        at = T0 + timedelta(days=day)
        archive.save(run, "wiki", fetch(URL, b"<a>%d</a>" % day, at),
                     article(summary=f"summary {day}"), next_due=at)
    archive.save(run, "wiki", fetch("http://wiki.test/wiki/Firefox", b"<ff/>", T0),
                 article("http://wiki.test/wiki/Firefox", title="Firefox", summary="A browser.",
                         text="Firefox is a web browser made by Mozilla."), next_due=T0)
    archive.save(run, "list", fetch("http://list.test/related/NATO", b"<l/>",
                                    T0 + timedelta(days=2)),
                 Page("http://list.test/related/NATO", kind="listing", title="NATO",
                      entries=(Entry("NATO", "An alliance ..."),)), next_due=T0)


def test_iter_versions_latest_all_and_as_of(archive: Archive) -> None:
    build_site(archive)
    latest = [(site, s.url, s.version) for site, s, _ in archive.iter_versions()]
    assert latest == [("list", "http://list.test/related/NATO", 1),
                      ("wiki", "http://wiki.test/wiki/Firefox", 1), ("wiki", URL, 3)]
    every = [(s.url, s.version, p.summary) for _, s, p in
             archive.iter_versions(site="wiki", all_versions=True)]
    assert every[1:] == [(URL, 1, "summary 0"), (URL, 2, "summary 1"), (URL, 3, "summary 2")]
    as_of = [(s.url, s.version) for _, s, _ in
             archive.iter_versions(as_of=T0 + timedelta(days=1, hours=1))]
    assert as_of == [("http://wiki.test/wiki/Firefox", 1), (URL, 2)]
    window = [(s.url, s.version) for _, s, _ in archive.iter_versions(
        all_versions=True, since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))]
    assert window == [(URL, 2)]
    changed = [(site, s.version) for site, s in archive.versions_between(
        T0 + timedelta(days=1), site="wiki")]
    assert changed == [("wiki", 2), ("wiki", 3)]
    assert [p["url"] for p in archive.new_pages(T0 + timedelta(days=1))] == [
        "http://list.test/related/NATO"]


def test_latest_versions_are_the_newest_of_the_period_newest_first(archive: Archive) -> None:
    build_site(archive)
    # Two versions made at one time: by URL, descending.
    run = archive.start_run(["wiki"], {}, T0)
    same = T0 + timedelta(days=2)
    archive.save(run, "wiki", fetch("http://wiki.test/wiki/Zebra", b"<z/>", same),
                 article("http://wiki.test/wiki/Zebra", title="Zebra"), next_due=same)

    def latest(limit: int, **kwargs: Any) -> list[tuple[str, str, int]]:
        return [(site, s.url, s.version)
                for site, s in archive.latest_versions(limit, **kwargs)]

    assert latest(10) == [
        ("wiki", "http://wiki.test/wiki/Zebra", 1), ("wiki", URL, 3),
        ("list", "http://list.test/related/NATO", 1), ("wiki", URL, 2), ("wiki", URL, 1),
        ("wiki", "http://wiki.test/wiki/Firefox", 1)]
    assert latest(2) == latest(10)[:2]
    assert latest(0) == []
    assert latest(10, site="wiki", since=T0 + timedelta(days=1),
                  until=T0 + timedelta(days=2)) == [("wiki", URL, 2)]
    # The same versions, in the same order, as sorting everything the period holds.
    every = sorted(archive.versions_between(T0), reverse=True,
                   key=lambda pair: (pair[1].fetched_at, pair[1].url, pair[1].version))
    assert archive.latest_versions(10, since=T0) == every


def test_site_counts_are_what_stats_says_per_site(archive: Archive) -> None:
    build_site(archive)
    gone_at = T0 + timedelta(days=3)
    archive.record_failure(archive.start_run(["wiki"], {}, gone_at), "wiki",
                           "http://wiki.test/wiki/Firefox", reason="HTTP 404", attempts=1,
                           status=404, now=gone_at, next_due=gone_at, gone=True)
    counts = archive.site_counts()
    assert counts == {"list": {"pages": 1, "versions": 1, "gone": 0},
                      "wiki": {"pages": 2, "versions": 4, "gone": 1}}
    assert list(counts) == ["list", "wiki"]
    stats = archive.stats()
    assert counts == {site: {key: row[key] for key in ("pages", "versions", "gone")}
                      for site, row in stats["sites"].items()}


def test_search_finds_titles_summaries_and_text(archive: Archive) -> None:
    build_site(archive)
    hits = archive.search("browser")
    assert [h["url"] for h in hits] == ["http://wiki.test/wiki/Firefox"]
    assert "[browser]" in hits[0]["snippet"]
    assert [h["url"] for h in archive.search("NATO")] == ["http://list.test/related/NATO"]
    # Old text leaves the index when a page changes; FTS syntax in a query is harmless.
    assert archive.search("summary 0") == []
    assert [h["url"] for h in archive.search("summary 2")] == [URL]
    assert archive.search('" OR NOT (') == []
    assert archive.search("  ") == []


def test_fill_rates_and_stats(archive: Archive, archive_backend: str) -> None:
    build_site(archive)
    rates = archive.field_fill_rates("wiki")
    assert rates["title"] == 1.0 and rates["infobox"] == 1.0 and rates["entries"] == 0.0
    assert archive.field_fill_rates("list") == {
        "title": 1.0, "summary": 0.0, "text": 0.0, "links": 0.0, "categories": 0.0,
        "infobox": 0.0, "image": 0.0, "entries": 1.0}
    assert archive.field_fill_rates("nothing") == {}
    run = archive.start_run(["wiki"], {}, T0 + timedelta(days=5))
    archive.save(run, "wiki", fetch(URL, b"broken", T0 + timedelta(days=5)),
                 article(summary="", infobox=()), next_due=T0)
    assert archive.field_fill_rates("wiki", run_id=run)["summary"] == 0.0
    assert archive.field_fill_rates("wiki")["summary"] == 0.5
    stats = archive.stats()
    assert (stats["pages"], stats["versions"], stats["runs"]) == (3, 6, 2)
    assert stats["sites"]["wiki"]["versions"] == 5
    assert stats["bytes_fetched"] == sum(len(b) for b in (
        b"<a>0</a>", b"<a>1</a>", b"<a>2</a>", b"<ff/>", b"<l/>", b"broken"))
    assert stats["bytes_stored"] > 0 and stats["schema_version"] == {
        "sqlite": SCHEMA_VERSION, "postgresql": POSTGRES_SCHEMA_VERSION}[archive_backend]
