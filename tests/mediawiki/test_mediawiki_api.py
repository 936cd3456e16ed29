"""The MediaWiki client against a real MediaWiki 1.39 (the harness's sample wiki).

Expected values come from the wiki's own database (read directly, not through the API) and
from the data the wiki was loaded with (tests/data/mediawiki/).
"""

from __future__ import annotations

import asyncio
import difflib
import itertools
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from mediawiki_harness import DATA_DIR, MediaWikiServer

from scraper.mediawiki import (
    MediaWikiClient,
    PageMissing,
    Unsupported,
    discover_api_url,
    first_paragraph,
)
from scraper.parse import parse_page

pytestmark = pytest.mark.mediawiki

UA = "scraper-tests/1.0 (mailto:tests@example.org)"
MANIFEST = json.loads((DATA_DIR / "pages.json").read_text(encoding="utf-8"))
ARTICLES = [p["title"] for p in MANIFEST["pages"] if "file" in p and ":" not in p["title"]]
NS = {"mw": "http://www.mediawiki.org/xml/export-0.11/"}


def history_xml() -> dict[str, list[dict[str, str]]]:
    """title -> revisions (timestamp, user, comment, text) of tests/data/mediawiki/history.xml."""
    root = ET.parse(DATA_DIR / "history.xml").getroot()
    out = {}
    for page in root.findall("mw:page", NS):
        out[page.findtext("mw:title", namespaces=NS) or ""] = [
            {"timestamp": r.findtext("mw:timestamp", namespaces=NS) or "",
             "user": r.findtext("mw:contributor/mw:username", namespaces=NS) or "",
             "comment": r.findtext("mw:comment", namespaces=NS) or "",
             "text": r.findtext("mw:text", namespaces=NS) or ""}
            for r in page.findall("mw:revision", NS)]
    return out


HISTORY = history_xml()


def with_client(wiki: MediaWikiServer, body: Callable[[MediaWikiClient], Awaitable[Any]],
                **kwargs: Any) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(timeout=30) as http:
            client = MediaWikiClient(http, wiki.api_url, user_agent=UA, **kwargs)
            return await body(client)

    return asyncio.run(main())


def db_titles(rows: list[tuple[Any, ...]]) -> set[str]:
    return {str(r[0]).replace("_", " ") for r in rows}


def db_category(wiki: MediaWikiServer, category: str, depth: int) -> set[str]:
    """Main-namespace pages in a category tree, read from categorylinks."""
    found: set[str] = set()
    queue = [(category.replace(" ", "_"), 0)]
    seen = {queue[0][0]}
    while queue:
        cat, level = queue.pop(0)
        rows = wiki.query_db("SELECT p.page_title, p.page_namespace FROM categorylinks cl "
                             "JOIN page p ON p.page_id = cl.cl_from WHERE cl.cl_to = ?", (cat,))
        for title, ns in rows:
            if ns == 14 and level < depth and title not in seen:
                seen.add(title)
                queue.append((title, level + 1))
            if ns == 0:
                found.add(str(title).replace("_", " "))
    return found


def api_log(wiki: MediaWikiServer) -> list[dict[str, str]]:
    return [r.params for r in wiki.request_log() if r.is_api]


# --- discovery and enumeration ----------------------------------------------------------------

def test_discover_api_and_siteinfo(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared

    async def body(client: MediaWikiClient) -> Any:
        api = await discover_api_url(client.http, wiki.page_url("Cold War"), user_agent=UA)
        return api, await client.siteinfo(), await client.supports_extracts()

    api, site, extracts = with_client(wiki, body)
    assert api == wiki.api_url
    assert site.generator.startswith("MediaWiki 1.39")
    assert site.server == wiki.base_url and site.sitename == "Scraper Test Wiki"
    assert extracts is True
    assert site.page_url("NATO–Russia Council") == wiki.page_url("NATO–Russia Council")
    assert site.rest_url == wiki.rest_url


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_category_members_with_depth(mediawiki_shared: MediaWikiServer, depth: int) -> None:
    wiki = mediawiki_shared
    wiki.reset_request_log()
    refs = with_client(wiki, lambda c: c.category_members("International security",
                                                          depth=depth), page_size=2)
    titles = [r.title for r in refs]
    assert len(titles) == len(set(titles))  # each page once
    assert set(titles) == db_category(wiki, "International security", depth)
    assert all(r.ns == 0 and r.page_id for r in refs)
    if depth >= 2:
        assert any("cmcontinue" in p for p in api_log(wiki))  # continuation was followed


def test_category_members_can_list_subcategories(mediawiki_shared: MediaWikiServer) -> None:
    refs = with_client(mediawiki_shared, lambda c: c.category_members(
        "Category:Military alliances", depth=1, namespaces=(0, 14)))
    titles = {r.title for r in refs}
    assert "Category:North Atlantic Treaty Organization" in titles
    assert "Warsaw Pact" in titles and "North Atlantic Treaty" in titles


def test_all_pages_with_prefix_namespace_and_continuation(
        mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    wiki.reset_request_log()

    async def body(client: MediaWikiClient) -> Any:
        return (await client.all_pages(prefix="N"), await client.all_pages(namespace=14),
                await client.all_pages(redirects=True))

    prefixed, categories, everything = with_client(wiki, body, page_size=2)
    expected = db_titles(wiki.query_db(
        "SELECT page_title FROM page WHERE page_namespace = 0 AND page_is_redirect = 0 "
        "AND page_title LIKE 'N%'"))
    assert [r.title for r in prefixed] == sorted(expected)
    assert {r.title for r in categories} == {
        "Category:" + t for t in db_titles(wiki.query_db(
            "SELECT page_title FROM page WHERE page_namespace = 14"))}
    all_main = db_titles(wiki.query_db("SELECT page_title FROM page WHERE page_namespace = 0"))
    assert {r.title for r in everything} == all_main and "NATO" in all_main
    assert sum("apcontinue" in p for p in api_log(wiki)) >= len(all_main) // 2 - 1


def test_linked_pages_resolve_redirects_and_skip_red_links(
        mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    wiki.reset_request_log()
    sources = ["Main Page", "North Atlantic Treaty Organization"]
    refs = with_client(wiki, lambda c: c.linked_pages(sources), page_size=3)
    expected = set()
    for source in ("Main_Page", "North_Atlantic_Treaty_Organization"):
        for (target,) in wiki.query_db(
                "SELECT pl.pl_title FROM pagelinks pl JOIN page s ON s.page_id = pl.pl_from "
                "WHERE s.page_title = ? AND s.page_namespace = 0 AND pl.pl_namespace = 0",
                (source,)):
            rows = wiki.query_db("SELECT page_id, page_is_redirect FROM page WHERE "
                                 "page_namespace = 0 AND page_title = ?", (target,))
            if not rows:
                continue  # a red link
            if rows[0][1]:
                (target,) = wiki.query_db("SELECT rd_title FROM redirect WHERE rd_from = ?",
                                          (rows[0][0],))[0]
            expected.add(str(target).replace("_", " "))
    titles = [r.title for r in refs]
    assert len(titles) == len(set(titles))
    assert set(titles) == expected
    assert "Brussels" not in titles  # red link
    assert any("gplcontinue" in p for p in api_log(wiki))


# --- revisions --------------------------------------------------------------------------------

def test_page_info_reports_what_the_wiki_has(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    asked = [*ARTICLES, *HISTORY, "NATO", "Warsaw Treaty Organization", "cold War",
             "No such article", "Bad[title", "Main_Page"]
    lookup = with_client(wiki, lambda c: c.page_info(asked))
    loaded = {p["title"]: p for p in MANIFEST["pages"]}
    for title in ARTICLES:
        state = lookup.get(title)
        assert state is not None, title
        assert state.revision_id == wiki.latest_revision(title)
        assert state.url == wiki.page_url(title)
        meta = loaded[title]
        assert (state.revision.timestamp, state.revision.user, state.revision.comment) == \
            (meta["timestamp"], meta["user"], meta["summary"])
    for title, revisions in HISTORY.items():
        state = lookup.get(title)
        assert state is not None and state.revision_id == wiki.latest_revision(title)
        assert state.revision.timestamp == revisions[-1]["timestamp"]
        assert state.revision.user == revisions[-1]["user"]
    assert lookup.resolve("NATO") == "North Atlantic Treaty Organization"
    assert lookup.resolve("Warsaw Treaty Organization") == "Warsaw Pact"
    assert lookup.resolve("cold War") == "Cold War"
    assert lookup.resolve("Main_Page") == "Main Page"
    assert lookup.missing == ("No such article",)
    assert [t for t, _ in lookup.invalid] == ["Bad[title"]


def test_history_comes_oldest_first_with_original_timestamps(
        mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared

    async def body(client: MediaWikiClient) -> Any:
        out = {}
        for title in HISTORY:
            out[title] = await client.history(title, limit=50)
        recent = await client.history("Helsinki Final Act", limit=3)
        newest = await client.history("Helsinki Final Act", limit=2, oldest_first=False)
        before = await client.history("Helsinki Final Act", limit=10,
                                      start_id=recent[0].revision_id)
        return out, recent, newest, before

    full, recent, newest, before = with_client(wiki, body, page_size=2)
    for title, expected in HISTORY.items():
        got = full[title]
        assert [(r.timestamp, r.user, r.comment) for r in got] == \
            [(e["timestamp"], e["user"], e["comment"]) for e in expected]
        assert got[-1].revision_id == wiki.latest_revision(title)
        assert [r.parent_id for r in got[1:]] == [r.revision_id for r in got[:-1]]
    helsinki = full["Helsinki Final Act"]
    assert recent == helsinki[-3:]
    assert newest == tuple(reversed(helsinki[-2:]))
    assert before == helsinki[:2]  # from start_id backwards, oldest first


def test_history_and_view_of_a_missing_page(mediawiki_shared: MediaWikiServer) -> None:
    with pytest.raises(PageMissing, match="No such article"):
        with_client(mediawiki_shared, lambda c: c.history("No such article"))
    with pytest.raises(PageMissing, match="No_such_article"):
        with_client(mediawiki_shared, lambda c: c.revision_page("No such article"))


def test_recentchanges_after_an_edit_a_move_and_a_delete(mediawiki: MediaWikiServer) -> None:
    wiki = mediawiki
    since = datetime.now(UTC) - timedelta(seconds=1)
    old_rev = wiki.latest_revision("Cold War")
    text = (DATA_DIR / "pages" / "Cold_War.wiki").read_text(encoding="utf-8")
    new_rev = wiki.edit("Cold War", text.replace("* [[Helsinki Final Act]]",
                                                 "* [[Helsinki Final Act]]\n* [[Collective security]]"),
                        summary="See also: collective security", user="Editor Anna")

    first = with_client(wiki, lambda c: c.recent_changes(since))
    assert len(first) == 1
    (edit,) = first
    assert (edit.type, edit.title, edit.revid, edit.old_revid) == \
        ("edit", "Cold War", new_rev, old_rev)
    assert (edit.user, edit.comment) == ("Editor Anna", "See also: collective security")
    assert edit.is_revision and not edit.is_move

    moved_id = wiki.query_db("SELECT page_id FROM page WHERE page_namespace = 0 AND "
                             "page_title = 'Partnership_for_Peace'")[0][0]
    wiki.move("Partnership for Peace", "Partnership for Peace programme", reason="Full name",
              user="Archivist")
    wiki.delete("Treaty of Brussels", reason="Merged elsewhere", user="Archivist")

    async def body(client: MediaWikiClient) -> Any:
        return (await client.recent_changes(since), await client.recent_changes(
            since, types=("log",)), await client.page_info(page_ids=[moved_id]))

    changes, logs, by_id = with_client(wiki, body, page_size=2)
    assert [c.type for c in changes] == ["edit", "log", "log"]
    assert changes[0] == edit
    move, delete = changes[1], changes[2]
    assert move.is_move and move.title == "Partnership for Peace"
    assert move.move_target == "Partnership for Peace programme" and move.move_left_redirect
    assert (move.user, move.comment) == ("Archivist", "Full name")
    assert delete.is_delete and delete.title == "Treaty of Brussels" and delete.revid is None
    assert logs == (move, delete)
    assert [c.timestamp for c in changes] == sorted(c.timestamp for c in changes)
    # The moved page kept its id (and history) under the new title.
    (state,) = by_id.pages
    assert state.page_id == moved_id and state.title == "Partnership for Peace programme"


def test_recentchanges_hold_the_back_dated_imports(mediawiki_shared: MediaWikiServer) -> None:
    changes = with_client(mediawiki_shared, lambda c: c.recent_changes(
        "2018-01-01T00:00:00Z", until="2023-12-31T23:59:59Z"))
    expected = sorted((r["timestamp"], t) for t, revs in HISTORY.items() for r in revs)
    assert [(c.timestamp, c.title) for c in changes] == expected


# --- content ----------------------------------------------------------------------------------

def test_textextracts_lead_matches_the_parsed_page(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared

    async def body(client: MediaWikiClient) -> Any:
        texts = await client.extracts([*ARTICLES, "NATO", "No such article"])
        pages = {t: await client.revision_page(t) for t in ARTICLES}
        return texts, pages

    texts, pages = with_client(wiki, body)
    assert set(texts) == {*ARTICLES, "NATO"}
    assert texts["NATO"] == texts["North Atlantic Treaty Organization"]
    for title, text in texts.items():
        assert "[1]" not in text and "{{" not in text and "32 member states" not in text
        assert text.startswith(("The ", "Relations ", "Collective ")), title
    for title, html in pages.items():
        # The HTML parser's lead is the same text, paragraphs joined by a blank line where
        # TextExtracts puts one newline.
        page = parse_page(html.body, html.url, parser="mediawiki")
        paragraphs = [p for p in texts[title].split("\n") if p.strip()]
        assert "\n\n".join(paragraphs) == page.summary, title
        assert first_paragraph(texts[title]) == paragraphs[0]


def test_textextracts_absent_is_reported(mediawiki: MediaWikiServer) -> None:
    mediawiki.stop()
    settings = mediawiki.config_file.read_text(encoding="utf-8")
    mediawiki.config_file.write_text(settings.replace("wfLoadExtension( 'TextExtracts' );", ""),
                                     encoding="utf-8")
    mediawiki.start()

    async def body(client: MediaWikiClient) -> Any:
        supported = await client.supports_extracts()
        with pytest.raises(Unsupported, match="TextExtracts"):
            await client.extracts(["Cold War"])
        return supported

    assert with_client(mediawiki, body) is False


def _changed_lines(old: str, new: str) -> tuple[set[str], set[str]]:
    a, b = old.splitlines(), new.splitlines()
    removed, added = set(), set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed.update(x for x in a[i1:i2] if x.strip())
        if tag in ("replace", "insert"):
            added.update(x for x in b[j1:j2] if x.strip())
    return removed, added


def test_compare_reports_the_changed_wikitext_lines(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared

    async def body(client: MediaWikiClient) -> Any:
        out = []
        for title in HISTORY:
            revs = await client.history(title)
            for older, newer in itertools.pairwise(revs):
                out.append((title, older, newer,
                            await client.compare(older.revision_id, newer.revision_id)))
        return out

    for title, older, newer, comp in with_client(wiki, body):
        index = [r["timestamp"] for r in HISTORY[title]].index(newer.timestamp)
        removed, added = _changed_lines(HISTORY[title][index - 1]["text"],
                                        HISTORY[title][index]["text"])
        assert (comp.from_revid, comp.to_revid) == (older.revision_id, newer.revision_id)
        assert comp.to_title == title and comp.to_user == newer.user
        assert {ln.old for ln in comp.lines if ln.old and ln.old.strip()} == removed
        assert {ln.new for ln in comp.lines if ln.new and ln.new.strip()} == added


def test_old_revision_parse_page_view_wikitext_and_rest(
        mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    expected = HISTORY["Helsinki Final Act"][1]  # the revision with "signatories = 33"

    async def body(client: MediaWikiClient) -> Any:
        revs = await client.history("Helsinki Final Act")
        revid = revs[1].revision_id
        return (revid, await client.parse_revision(revid),
                await client.revision_page("Helsinki Final Act", revid),
                await client.wikitext(revid), await client.rest_page("Helsinki Final Act"),
                await client.rest_revision_html(revid))

    revid, parsed, view, wikitext, rest, parsoid = with_client(wiki, body)
    assert wikitext == expected["text"]
    assert parsed.revid == revid and parsed.title == "Helsinki Final Act"
    assert parsed.categories == ("Treaties",)
    assert "<th scope=\"row\" class=\"infobox-label\">Signatories</th>" \
           "<td class=\"infobox-data\">33</td>" in parsed.html
    assert view.url == f"{wiki.index_url}?title=Helsinki_Final_Act&oldid={revid}"
    assert f'"wgRevisionId":{revid}'.encode() in view.body
    page = parse_page(view.body, view.url, parser="mediawiki")
    assert page.revision_id == revid and page.title == "Helsinki Final Act"
    assert dict(page.infobox).get("Signatories") == "33"
    assert rest.latest_revid == wiki.latest_revision("Helsinki Final Act")
    assert rest.latest_timestamp == HISTORY["Helsinki Final Act"][-1]["timestamp"]
    assert rest.etag
    assert f"revision/{revid}".encode() in parsoid.body


def test_requests_carry_user_agent_and_maxlag(mediawiki: MediaWikiServer) -> None:
    started = time.monotonic()

    async def body(client: MediaWikiClient) -> Any:
        await client.all_pages()
        await client.page_info(ARTICLES)
        await client.history("Cold War")
        return client.requests

    made = with_client(mediawiki, body, maxlag=3)
    log = mediawiki.request_log()
    assert len(log) == made == 3
    assert all(r.user_agent == UA and r.params["maxlag"] == "3" for r in log)
    assert all(r.params["format"] == "json" for r in log)
    assert time.monotonic() - started < 30  # a generous bound against blow-ups


def test_page_urls_are_written_as_mediawiki_writes_them(mediawiki: MediaWikiServer) -> None:
    title = "Rock 'n' Roll; A@B$C~D (x), y! z* &q?=1+2 – é"
    mediawiki.edit(title, "Text.", summary="tricky title")

    async def body(client: MediaWikiClient) -> Any:
        return await client.siteinfo(), await client.page_info([title])

    site, lookup = with_client(mediawiki, body)
    state = lookup.get(title)
    assert state is not None and state.url is not None
    assert site.page_url(title) == state.url == mediawiki.page_url(title)


def test_oldid_view_extracts_the_same_page_as_the_article_view(
        mediawiki_shared: MediaWikiServer) -> None:
    from scraper.models import content_hash

    wiki = mediawiki_shared

    async def body(client: MediaWikiClient) -> Any:
        out = []
        for title in ("North Atlantic Treaty Organization", "Helsinki Final Act"):
            revid = wiki.latest_revision(title)
            out.append((revid, await client.revision_page(title),
                        await client.revision_page(title, revid)))
        return out

    for revid, current, by_oldid in with_client(wiki, body):
        a = parse_page(current.body, current.url, parser="mediawiki")
        b = parse_page(by_oldid.body, by_oldid.url, parser="mediawiki")
        assert a.revision_id == b.revision_id == revid
        assert a.canonical_url == b.canonical_url == current.url
        assert a.links_of("see_also") and a.infobox
        assert content_hash(a) == content_hash(b)
