"""`source: mediawiki` crawls against a real MediaWiki 1.39 (the harness's sample wiki): the
first crawl, edits seen by the next run as one new version each, renames, deletions, and the
requests an incremental run makes (counted in the wiki's own request log)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from mediawiki_harness import DATA_DIR, MediaWikiServer
from test_source_support import (
    ALL_PAGES,
    MANIFEST,
    REDIRECTS,
    UA,
    api_kinds,
    is_page_view,
    run_crawl,
    viewed_titles,
    wiki_config,
    with_client,
)

from scraper.archive import Archive
from scraper.diff import diff_pages
from scraper.mediawiki import MediaWikiClient, TitleLookup
from scraper.timeutil import utcnow

pytestmark = pytest.mark.mediawiki

EVERY_PAGE = "{allpages_namespace: 0}"  # all main-namespace pages, redirects left out


def lookup(wiki: MediaWikiServer, titles: list[str], *, redirects: bool = True) -> TitleLookup:
    async def ask(client: MediaWikiClient) -> TitleLookup:
        return await client.page_info(titles, redirects=redirects)

    result: TitleLookup = with_client(wiki, ask)
    return result


def edit_text(title: str) -> str:
    return (DATA_DIR / "pages" / f"{title.replace(' ', '_')}.wiki").read_text(encoding="utf-8")


def test_first_crawl_archives_every_page_with_what_the_wiki_reports(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run_crawl(wiki_config(mediawiki, EVERY_PAGE), archive)
        assert result.status == "completed"
        assert result.stats.new_versions == len(ALL_PAGES)
        reported = lookup(mediawiki, ALL_PAGES)
        assert len(reported.pages) == len(ALL_PAGES)
        stored = {snap.url for _, snap, _ in archive.iter_versions(site="wiki")}
        assert stored == {mediawiki.page_url(t) for t in ALL_PAGES}
        for state in reported.pages:
            url = mediawiki.page_url(state.title)
            (snap,) = archive.history(url)
            rev = state.revision
            assert (snap.revision_id, snap.revision_timestamp, snap.revision_user,
                    snap.revision_comment) == (rev.revision_id, rev.timestamp, rev.user,
                                               rev.comment), url
            # The wiki's own database agrees with its API.
            assert snap.revision_id == mediawiki.latest_revision(state.title)
            page = archive.page(url)
            assert page.title == state.title
            assert page.revision_id == rev.revision_id
            assert page.parser == "mediawiki"
            # The body is the view of exactly that revision.
            assert snap.final_url == f"{url}?oldid={rev.revision_id}"
            assert f'"wgRevisionId":{rev.revision_id}'.encode() in archive.body(url)
    users = {p["title"]: (p["user"], p["summary"]) for p in MANIFEST["pages"]}
    with Archive.open(str(tmp_path / "a.db"), readonly=True) as archive:
        snap = archive.snapshot(mediawiki.page_url("Cold War"))
        assert (snap.revision_user, snap.revision_comment) == users["Cold War"]
        assert snap.revision_timestamp == "2024-01-12T08:15:00Z"


def test_selection_is_the_union_of_titles_categories_and_links_redirects_resolved(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    # The start URL is a redirect: its page is archived under the title it leads to.
    config = wiki_config(
        mediawiki, "{titles: [NATO, Cold War, No such page], categories: [NATO programmes],"
                   " follow_links: true}", start="Warsaw Treaty Organization")

    async def expected(client: MediaWikiClient) -> set[str]:
        titles = {"Warsaw Pact", "Cold War", REDIRECTS["NATO"]}
        titles |= {r.title for r in await client.category_members("NATO programmes")}
        titles |= {r.title for r in await client.linked_pages(["Warsaw Pact"])}
        return titles

    want = with_client(mediawiki, expected)
    assert len(want) > 5
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run_crawl(config, archive)
        assert result.status == "completed"
        stored = {snap.url for _, snap, _ in archive.iter_versions()}
        assert stored == {mediawiki.page_url(t) for t in want}
        assert result.stats.new_versions == len(want)  # each page once
        # The alias start URL is settled, not left waiting in the frontier.
        alias = archive.frontier_item(mediawiki.page_url("Warsaw Treaty Organization"))
        assert alias is not None and alias.next_due is not None and alias.next_due > utcnow()
        assert result.stats.queued == 0


def test_unchanged_wiki_costs_siteinfo_and_recentchanges_only(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, EVERY_PAGE)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        assert run_crawl(config, archive).status == "completed"
        mediawiki.reset_request_log()
        second = run_crawl(config, archive)
        requests = mediawiki.request_log()
        assert second.status == "completed"
        assert api_kinds(requests) == ["siteinfo", "recentchanges"]
        assert len(requests) == 2
        assert second.stats.new_versions == second.stats.fetched == 0
        assert all(len(archive.history(mediawiki.page_url(t))) == 1 for t in ALL_PAGES)
        assert all(r.user_agent == UA and r.params.get("maxlag") == "5" for r in requests)


def test_pages_due_are_confirmed_by_lookup_and_known_revisions_never_refetched(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, EVERY_PAGE, extra="recrawl_after: 1d\n")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        mediawiki.reset_request_log()
        # Two days on: every page is due by recrawl_after; one lookup confirms them all.
        later = run_crawl(config, archive, clock=lambda: utcnow() + timedelta(days=2))
        requests = mediawiki.request_log()
        assert later.status == "completed"
        assert api_kinds(requests) == ["siteinfo", "recentchanges", "info"]
        assert len(requests) == 3
        assert later.stats.not_modified == len(ALL_PAGES)
        assert later.stats.new_versions == later.stats.fetched == 0
        # Four days on (the clock of the run before was two days ahead, so recentchanges is
        # read from then): the due lookup alone finds the edit, and only that page is viewed.
        revid = mediawiki.edit("Cold War", edit_text("Cold War") + "\nA late addition.",
                               summary="late addition")
        mediawiki.reset_request_log()
        later = run_crawl(config, archive, clock=lambda: utcnow() + timedelta(days=4))
        requests = mediawiki.request_log()
        assert viewed_titles(requests) == ["Cold War"]
        assert later.stats.not_modified == len(ALL_PAGES) - 1
        assert archive.snapshot(mediawiki.page_url("Cold War")).revision_id == revid
        assert len(archive.history(mediawiki.page_url("Cold War"))) == 2


def test_edits_rename_and_delete_make_one_new_version_each(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, EVERY_PAGE)
    url = mediawiki.page_url
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        before = {t: archive.history(url(t)) for t in ALL_PAGES}

        cold = edit_text("Cold War").replace("in 1991.", "in December 1991.", 1)
        edits = {
            "Cold War": (cold, "Date the end precisely"),
            "North Atlantic Treaty Organization": (
                edit_text("North Atlantic Treaty Organization").replace(
                    "* [[Collective security]]\n",
                    "* [[Collective security]]\n* [[Helsinki Final Act]]\n", 1),
                "See also: the Helsinki Final Act"),
            "Warsaw Pact": (edit_text("Warsaw Pact").replace(
                "| membership = 8 states (at its founding)",
                "| membership = 8 states (at its founding), 7 from 1968", 1),
                "Membership after Albania left"),
        }
        revids = {title: mediawiki.edit(title, text, summary=summary, user="Editor Anna")
                  for title, (text, summary) in edits.items()}
        mediawiki.move("Treaty of Brussels", "Treaty of Brussels (1948)",
                       reason="Disambiguate from the 1954 protocol")
        mediawiki.delete("Partnership for Peace", reason="Merged elsewhere")
        mediawiki.reset_request_log()

        second = run_crawl(config, archive)
        requests = mediawiki.request_log()
        assert second.status == "completed"

        # Each edited page: exactly one new version, with the wiki's revision data.
        for title, (_, summary) in edits.items():
            history = archive.history(url(title))
            assert len(history) == 2, title
            latest = history[-1]
            assert (latest.revision_id, latest.revision_user, latest.revision_comment) == \
                (revids[title], "Editor Anna", summary)
        diffs = {title: diff_pages(archive.page(url(title), 1), archive.page(url(title), 2))
                 for title in edits}
        cold_diff = diffs["Cold War"]
        assert cold_diff.gist() == "summary edited"
        assert cold_diff.summary is not None
        assert [w for w in cold_diff.summary.words if w[0] != "equal"] == \
            [("insert", "December ")]
        nato = diffs["North Atlantic Treaty Organization"]
        assert nato.gist() == "1 see_also added"
        assert [(ln.kind, ln.url, ln.title) for ln in nato.links_added] == \
            [("see_also", url("Helsinki Final Act"), "Helsinki Final Act")]
        warsaw = diffs["Warsaw Pact"]
        assert warsaw.gist() == "infobox: Membership changed"
        assert [(c.key, c.old, c.new) for c in warsaw.infobox_changes] == [
            ("Membership", "8 states (at its founding)",
             "8 states (at its founding), 7 from 1968")]
        assert archive.snapshot(url("Cold War")).change_gist == "summary edited"

        # The renamed page keeps its history under its new title, plus the move's revision.
        new_url, old_url = url("Treaty of Brussels (1948)"), url("Treaty of Brussels")
        moved = lookup(mediawiki, ["Treaty of Brussels (1948)", "Treaty of Brussels"],
                       redirects=False)
        move_state = moved.get("Treaty of Brussels (1948)")
        redirect_state = moved.get("Treaty of Brussels")
        assert move_state is not None and redirect_state is not None and redirect_state.redirect
        new_history = archive.history(new_url)
        old_before = before["Treaty of Brussels"]
        assert [s.revision_id for s in new_history] == \
            [s.revision_id for s in old_before] + [move_state.revision_id]
        assert archive.page(new_url, 1) == dataclasses.replace(archive.page(old_url, 1),
                                                               url=new_url)
        assert archive.body(new_url, 1) == archive.body(old_url, 1)
        moved_diff = diff_pages(archive.page(new_url, 1), archive.page(new_url, 2))
        assert moved_diff.title is not None
        assert (moved_diff.title.old, moved_diff.title.new) == \
            ("Treaty of Brussels", "Treaty of Brussels (1948)")
        assert not moved_diff.text.changed
        # The page's link to its own title was a self-link; now it leads to the redirect.
        assert {ln.url for ln in moved_diff.links_added} <= {old_url}
        # ... and the old title points to it: its redirect page is its new version.
        old_history = archive.history(old_url)
        assert len(old_history) == 2
        assert old_history[-1].revision_id == redirect_state.revision_id
        redirect_page = archive.page(old_url)
        assert [ln.url for ln in redirect_page.links] == [new_url]

        # The deleted page is marked gone, its versions kept.
        gone = archive.page_info(url("Partnership for Peace"))
        assert gone["gone"] is True and gone["current_version"] == 1

        # Nothing else changed and nothing else was asked for.
        changed = set(edits) | {"Treaty of Brussels", "Partnership for Peace"}
        for title in ALL_PAGES:
            if title not in changed:
                assert archive.history(url(title)) == before[title], title
        views = viewed_titles(requests)
        assert sorted(views) == sorted([*edits, "Treaty of Brussels (1948)",
                                        "Treaty of Brussels"])
        assert sorted(api_kinds(requests)) == ["extracts", "info", "recentchanges", "siteinfo"]
        # At most 5 requests beyond one page view per new version.
        assert len(requests) <= 5 + len([r for r in requests if is_page_view(r)])

        # A third run: nothing new, nothing refetched.
        mediawiki.reset_request_log()
        third = run_crawl(config, archive)
        assert third.stats.new_versions == 0
        assert not viewed_titles(mediawiki.request_log())


def test_a_page_edited_twice_between_runs_gets_its_latest_revision(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, "{titles: [Cold War]}")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        mediawiki.edit("Cold War", edit_text("Cold War") + "\nOne.", summary="one")
        last = mediawiki.edit("Cold War", edit_text("Cold War") + "\nTwo.", summary="two")
        second = run_crawl(config, archive)
        history = archive.history(mediawiki.page_url("Cold War"))
        # Without backfill, only the revision the wiki shows now.
        assert [s.revision_comment for s in history][1:] == ["two"]
        assert history[-1].revision_id == last
        assert second.stats.new_versions == 1


def test_restored_page_comes_back(mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    config = wiki_config(mediawiki, "{titles: [Collective security]}")
    url = mediawiki.page_url("Collective security")
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        mediawiki.delete("Collective security", reason="test")
        run_crawl(config, archive)
        assert archive.page_info(url)["gone"] is True
        mediawiki.maintenance("undelete", "-u", "Harness", "Collective security")
        third = run_crawl(config, archive)
        assert third.status == "completed"
        info = archive.page_info(url)
        assert info["gone"] is False
        assert info["current_version"] == 1  # the same revision: no new version
