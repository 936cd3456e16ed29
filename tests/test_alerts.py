"""Parser-breakage alerts compare each page with its own previous version."""

from __future__ import annotations

from scraper.crawl.alerts import BreakageMonitor
from scraper.models import Entry, Page


def _listing(i: int, *, broken: bool = False, summary: str = "s") -> Page:
    url = f"http://x.org/related/{i}"
    if broken:
        return Page(url=url, kind="other", title=f"T{i}")
    return Page(url=url, kind="listing", title=f"T{i}", summary=summary,
                entries=(Entry(title=f"T{i}", summary=summary),))


def test_alert_when_most_pages_lose_a_field() -> None:
    monitor = BreakageMonitor("site")
    for i in range(10):
        monitor.observe(_listing(i), _listing(i, broken=i < 8))
    alerts = {a["field"]: a for a in monitor.alerts()}
    assert set(alerts) == {"entries", "summary"}
    assert alerts["entries"]["pages_emptied"] == 8
    assert alerts["entries"]["examples"][0] == "http://x.org/related/0"
    assert "site" in alerts["entries"]["message"]


def test_no_alert_on_ordinary_edits() -> None:
    monitor = BreakageMonitor("site")
    for i in range(10):
        monitor.observe(_listing(i), _listing(i, summary="edited"))
    assert monitor.alerts() == []


def test_unchanged_pages_dilute_and_few_pages_never_alert() -> None:
    monitor = BreakageMonitor("site")
    for i in range(3):
        monitor.observe(_listing(i), _listing(i, broken=True))
    assert monitor.alerts() == []  # 3 pages < min_pages
    for i in range(3, 20):
        monitor.observe_unchanged(_listing(i))
    assert monitor.alerts() == []  # 3 of 20 is no breakage
