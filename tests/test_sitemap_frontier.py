"""What a sitemap asks of the archive, on both backends: URLs whose lastmod moved past their
last fetch become due now (and no others), and a sitemap's failure is recorded without
entering the frontier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scraper.archive import ArchiveBackend
from scraper.models import FrontierItem

SITE = "s"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
LATER = T0 + timedelta(days=30)


def _fetched(url: str, *, site: str = SITE, due: datetime = LATER,
             attempts: int = 0) -> FrontierItem:
    return FrontierItem(url=url, site=site, fetch_count=1, last_fetched=T0, next_due=due,
                        attempts=attempts)


def test_only_urls_whose_lastmod_moved_past_their_fetch_become_due(
        any_archive: ArchiveBackend) -> None:
    a = any_archive
    a.enqueue([
        _fetched("http://h/moved"),
        _fetched("http://h/same"),
        _fetched("http://h/moved-twice"),
        FrontierItem(url="http://h/never", site=SITE),  # due already: never fetched
        _fetched("http://h/failing", attempts=2, due=T0 + timedelta(days=1)),
        _fetched("http://h/other-site", site="other"),
        _fetched("http://h/due-already", due=T0 - timedelta(hours=1)),
    ], T0)
    moved = T0 + timedelta(minutes=30)
    count = a.requeue_modified(SITE, [
        ("http://h/moved", moved),
        ("http://h/same", T0 - timedelta(days=3)),
        ("http://h/same", T0),  # not later than the fetch: not due
        ("http://h/moved-twice", T0 - timedelta(days=1)),
        ("http://h/moved-twice", moved),  # listed twice: the later lastmod counts
        ("http://h/never", moved),
        ("http://h/failing", moved),
        ("http://h/other-site", moved),
        ("http://h/due-already", moved),
        ("http://h/not-queued", moved),
    ], NOW)
    assert count == 2

    def due_at(url: str) -> datetime | None:
        item = a.frontier_item(url)
        assert item is not None, url
        return item.next_due

    assert due_at("http://h/moved") == NOW
    assert due_at("http://h/moved-twice") == NOW
    assert due_at("http://h/same") == LATER
    assert due_at("http://h/failing") == T0 + timedelta(days=1)  # its back-off holds
    assert due_at("http://h/other-site") == LATER
    assert due_at("http://h/due-already") == T0 - timedelta(hours=1)
    assert a.frontier_item("http://h/not-queued") is None
    assert {i.url for i in a.due(SITE, NOW, 10)} == {
        "http://h/moved", "http://h/moved-twice", "http://h/never", "http://h/due-already"}
    assert a.requeue_modified(SITE, [], NOW) == 0


def test_a_sitemap_failure_is_recorded_without_queueing_the_sitemap(
        any_archive: ArchiveBackend) -> None:
    a = any_archive
    run = a.start_run([SITE], {"name": SITE}, T0)
    before = a.stats()["failures"]
    a.record_failure(run, SITE, "http://h/sitemap.xml", reason="not a sitemap", attempts=1,
                     status=None, now=T0, next_due=T0, queue=False)
    assert a.stats()["failures"] == before + 1
    assert a.frontier_item("http://h/sitemap.xml") is None
    assert a.frontier_count(SITE) == 0
