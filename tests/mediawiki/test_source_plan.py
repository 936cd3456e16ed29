"""The pure parts of the `source: mediawiki` crawl: titles and URLs, the reading of
recentchanges, the choice of past revisions to import (no server needed)."""

from __future__ import annotations

import pytest

from scraper.config import MediaWikiSource
from scraper.mediawiki.history import revisions_to_import
from scraper.mediawiki.plan import (
    Move,
    Revised,
    article_url,
    plan_changes,
    rc_namespaces,
    selection_changed,
    statically_selected,
    summary_from_extract,
    title_from_url,
    title_key,
    view_url,
)
from scraper.mediawiki.records import RecentChange, SiteInfo
from scraper.models import RevisionMeta

SITE = SiteInfo(api_url="https://wiki.example/w/api.php", sitename="Example",
                generator="MediaWiki 1.39.17", server="https://wiki.example",
                article_path="/wiki/$1", script="/w/index.php", main_page="Main Page")
QUERY_SITE = SiteInfo(api_url="http://old.example/api.php", sitename="Old",
                      generator="MediaWiki 1.19", server="http://old.example",
                      article_path="/index.php?title=$1", script="/index.php",
                      main_page="Main Page")


@pytest.mark.parametrize(("url", "title"), [
    ("https://wiki.example/wiki/Cold_War", "Cold War"),
    ("https://wiki.example/wiki/NATO%E2%80%93Russia_Council", "NATO–Russia Council"),
    ("https://wiki.example/wiki/Category:Treaties", "Category:Treaties"),
    ("https://wiki.example/w/index.php?title=Warsaw_Pact&oldid=7", "Warsaw Pact"),
    ("https://wiki.example/wiki/Treaty_of_Brussels_(1948)", "Treaty of Brussels (1948)"),
    ("https://wiki.example/", None),
    ("https://wiki.example/wiki/", None),
    ("https://other.example/wiki/Cold_War", None),
    ("https://wiki.example:8443/wiki/Cold_War", None),
])
def test_title_from_url(url: str, title: str | None) -> None:
    assert title_from_url(SITE, url) == title


def test_title_from_url_with_a_query_article_path() -> None:
    assert title_from_url(QUERY_SITE, "http://old.example/index.php?title=Cold_War") == \
        "Cold War"


def test_article_and_view_urls_round_trip() -> None:
    for title in ("Cold War", "NATO–Russia Council", "Treaty of Brussels (1948)", "Rock 'n' roll"):
        url = article_url(SITE, title)
        assert title_from_url(SITE, url) == title
        view = view_url(SITE, title, 42)
        assert view == SITE.page_url(title) + "?oldid=42"
        assert title_from_url(SITE, view) == title
    assert view_url(SITE, "NATO", 16, redirect=True).endswith("/wiki/NATO?oldid=16&redirect=no")
    assert view_url(QUERY_SITE, "Cold War", 8) == \
        "http://old.example/index.php?title=Cold_War&oldid=8"


def test_title_key_folds_like_a_first_letter_wiki() -> None:
    assert title_key("cold_war") == "Cold war"
    assert title_key("  Cold   War ") == "Cold War"


def test_summary_from_extract_writes_paragraph_breaks_as_the_parsers_do() -> None:
    assert summary_from_extract("First.\nSecond.\n\n") == "First.\n\nSecond."
    assert summary_from_extract("") == ""


def test_rc_namespaces() -> None:
    assert rc_namespaces(MediaWikiSource(titles=("Cold War",)), ["Main Page"]) == (0,)
    assert rc_namespaces(MediaWikiSource(titles=("Category:Treaties",)), []) is None
    assert rc_namespaces(MediaWikiSource(allpages_namespace=14), []) is None
    assert rc_namespaces(MediaWikiSource(allpages_namespace=0), []) == (0,)


def test_statically_selected() -> None:
    opts = MediaWikiSource(titles=("cold_war",), allpages_prefix="North")
    assert statically_selected("Cold war", 0, opts, [])
    assert statically_selected("Main Page", 0, opts, ["Main_Page"])
    assert statically_selected("North Atlantic Treaty", 0, opts, [])
    assert not statically_selected("Warsaw Pact", 0, opts, [])
    assert not statically_selected("Category:North", 14, opts, [])
    cats = MediaWikiSource(allpages_namespace=14)
    assert statically_selected("Category:Treaties", 14, cats, [])
    assert not statically_selected("Treaties", 0, cats, [])
    assert not statically_selected("Warsaw Pact", 0, MediaWikiSource(categories=("X",)), [])


def test_selection_changed_names_the_keys() -> None:
    before = {"start_urls": ["a"], "mediawiki": {"titles": ["A"], "backfill": 0, "maxlag": 5}}
    assert selection_changed(before, before) == []
    after = {"start_urls": ["a"], "mediawiki": {"titles": ["A", "B"], "backfill": 3,
                                                 "maxlag": 1}}
    assert selection_changed(before, after) == ["mediawiki.titles"]
    assert selection_changed(before, {**before, "start_urls": ["b"]}) == ["start_urls"]


def change(rcid: int, type_: str, title: str, **kw: object) -> RecentChange:
    return RecentChange(rcid=rcid, type=type_, title=title, ns=0,
                        timestamp=f"2024-05-01T10:00:{rcid:02d}Z", **kw)  # type: ignore[arg-type]


def test_plan_keeps_the_latest_revision_under_the_final_title() -> None:
    plan = plan_changes([
        change(1, "edit", "Cold War", page_id=8, revid=40, old_revid=8),
        change(2, "edit", "Cold War", page_id=8, revid=41, old_revid=40),
        change(3, "new", "Détente", page_id=50, revid=42),
        change(4, "log", "Cold War", page_id=8, revid=43, log_type="move", log_action="move",
               move_target="Cold War (1947–1991)", move_left_redirect=True),
        change(5, "log", "Warsaw Pact", page_id=3, log_type="move", log_action="move",
               move_target="Warsaw Treaty", move_left_redirect=False),
        change(6, "log", "Treaty of Brussels", page_id=9, log_type="delete",
               log_action="delete", comment="spam"),
        change(7, "log", "Treaty of Brussels", page_id=9, log_type="delete",
               log_action="restore"),
        change(8, "log", "Cold War", page_id=8, log_type="protect", log_action="protect"),
    ])
    assert plan.revised == (Revised("Cold War (1947–1991)", 0, 41, 8, "2024-05-01T10:00:02Z"),
                            Revised("Détente", 0, 42, 50, "2024-05-01T10:00:03Z"))
    assert plan.moves == (Move("Cold War", "Cold War (1947–1991)", 8, True, "", 43),
                          Move("Warsaw Pact", "Warsaw Treaty", 3, False, "", None))
    assert plan.deleted == (("Treaty of Brussels", "spam"),)
    assert plan.restored == ("Treaty of Brussels",)
    assert plan.titles() == ["Cold War (1947–1991)", "Détente", "Cold War", "Warsaw Pact",
                             "Warsaw Treaty", "Treaty of Brussels"]
    assert not plan.empty
    assert plan_changes([]).empty


def revs(*ids: int) -> list[RevisionMeta]:
    return [RevisionMeta(i, f"2020-01-{i:02d}T00:00:00Z") for i in ids]


@pytest.mark.parametrize(("history", "stored", "current", "limit", "expected"), [
    ((1, 2, 3, 4), (), 4, 10, (1, 2, 3)),  # first run: all past revisions, oldest first
    ((1, 2, 3, 4), (), 4, 2, (2, 3)),  # at most `limit`, the most recent
    ((1, 2, 3, 4), (2,), 4, 10, (3,)),  # only after the newest archived one
    ((1, 2, 3, 4), (4,), 4, 10, ()),
    ((1, 2, 3, 4, 5), (), 4, 10, (1, 2, 3)),  # an edit after the lookup is not imported
    ((5, 6, 7), (2,), 7, 2, (5, 6)),  # archived revision older than the window
    ((1, 2, 3), (), 3, 0, ()),
])
def test_revisions_to_import(history: tuple[int, ...], stored: tuple[int, ...], current: int,
                             limit: int, expected: tuple[int, ...]) -> None:
    chosen = revisions_to_import(revs(*history), stored, current, limit)
    assert tuple(r.revision_id for r in chosen) == expected
