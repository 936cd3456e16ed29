"""Readers of MediaWiki API answers: corpus goldens (REST summary, mobileview) and saved
answers of a real MediaWiki 1.39 (tests/data/mediawiki/api/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scraper.errors import ParseError
from scraper.mediawiki.errors import BadAnswer
from scraper.mediawiki.readers import (
    find_api_url,
    first_paragraph,
    read_compare,
    read_diff_rows,
    read_mobileview,
    read_page_refs,
    read_parse,
    read_recent_changes,
    read_rest_summary,
    read_revision,
    read_siteinfo,
    read_title_lookup,
    strip_tags,
)
from tests.paths import CORPUS

API = Path(__file__).parent / "data" / "mediawiki" / "api"
JSON_GOLDENS = sorted(p for p in CORPUS.glob("*.json")
                      if not p.name.endswith(".expected.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_golden(path: Path, url: str | None) -> Any:
    data = load(path)
    if "mobileview" in data:
        return read_mobileview(data, url)
    return read_rest_summary(data, url)


def test_corpus_has_the_json_goldens() -> None:
    names = {p.name for p in JSON_GOLDENS}
    assert "wikipedia-en-tokyo-rest-summary.json" in names
    assert "wikipedia-en-marquez-action-mobileview.json" in names


@pytest.mark.parametrize("path", JSON_GOLDENS, ids=lambda p: p.stem)
def test_json_golden(path: Path) -> None:
    expected = load(path.with_name(path.stem + ".expected.json"))
    page = read_golden(path, expected["url"])
    assert page.kind == "article"
    assert page.url == expected["url"]
    assert page.title == expected["title"]
    assert page.summary.startswith(expected["summary_starts_with"])
    assert "[1]" not in page.summary and "[2]" not in page.summary
    # The REST summary gives the revision as a string, mobileview as a number: both an int.
    assert page.revision_id == expected["revision_id"]
    assert isinstance(page.revision_id, int)
    assert page.image == expected["image"]
    assert list(page.categories) == expected["categories"]
    titles = [link.title for link in page.links]
    for title in expected["some_related"]:
        assert title in titles


def test_rest_summary_fields() -> None:
    data = load(CORPUS / "wikipedia-en-tokyo-rest-summary.json")
    page = read_rest_summary(data)
    assert page.url == data["content_urls"]["desktop"]["page"]
    assert page.canonical_url == page.url
    assert page.summary == data["extract"].strip()
    assert page.revision_id == int(data["revision"])
    assert page.language == "en"
    assert page.links == () and page.text == ""
    assert page.parser == "mediawiki-rest-summary"


def test_rest_summary_prefers_normalized_title_over_db_key() -> None:
    page = read_rest_summary({"title": "Juan_Manuel_Márquez", "extract": "x",
                              "titles": {"normalized": "Juan Manuel Márquez"}})
    assert page.title == "Juan Manuel Márquez"
    assert page.url == "/wiki/Juan_Manuel_M%C3%A1rquez"
    assert page.revision_id is None and page.image is None


def test_rest_summary_without_title_is_refused_naming_the_url() -> None:
    with pytest.raises(ParseError, match="http://x/summary"):
        read_rest_summary({"extract": "text"}, "http://x/summary")


def test_mobileview_lead_and_infobox() -> None:
    data = load(CORPUS / "wikipedia-en-marquez-action-mobileview.json")
    page = read_mobileview(data, "https://en.wikipedia.org/wiki/Juan_Manuel_M%C3%A1rquez")
    # The hatnote and the infobox come before the lead paragraph in section 0.
    assert not page.summary.startswith("This name uses")
    assert "Dinamita" not in page.summary
    assert "[1]" not in page.summary
    assert dict(page.infobox).get("Stance") == "Orthodox"
    assert page.parser == "mediawiki-mobileview"
    for link in page.links:
        assert link.url.startswith("https://en.wikipedia.org/")


def test_mobileview_without_url_keeps_root_relative_links() -> None:
    data = load(CORPUS / "wikipedia-en-marquez-action-mobileview.json")
    page = read_mobileview(data)
    assert page.url == "/wiki/Juan_Manuel_M%C3%A1rquez"
    assert page.canonical_url is None
    assert "/wiki/Manny_Pacquiao" in [link.url for link in page.links]
    assert not any("invalid" in link.url for link in page.links)


def test_mobileview_sections_become_headings() -> None:
    data = {"mobileview": {"normalizedtitle": "T", "revision": 5, "sections": [
        {"id": 0, "text": "<p>Lead text.</p>"},
        {"id": 1, "toclevel": 1, "line": "See also", "anchor": "See_also",
         "text": '<ul><li><a href="/wiki/Other" title="Other">Other</a></li></ul>'}]}}
    page = read_mobileview(data, "https://w.example/wiki/T")
    assert page.summary == "Lead text."
    assert [(ln.title, ln.kind) for ln in page.links_of("see_also")] == [("Other", "see_also")]


def test_mobileview_without_title_is_refused() -> None:
    with pytest.raises(ParseError, match="without a title"):
        read_mobileview({"mobileview": {"sections": []}}, "http://x/mv")


# --- discovery --------------------------------------------------------------------------------

@pytest.mark.parametrize(("html", "base", "expected"), [
    (('<link rel="EditURI" type="application/rsd+xml" '
      'href="http://127.0.0.1:8931/api.php?action=rsd"/>'), "http://127.0.0.1:8931/wiki/X",
     "http://127.0.0.1:8931/api.php"),
    (('<link rel="EditURI" type="application/rsd+xml" '
      'href="//en.wikipedia.org/w/api.php?action=rsd"/>'), "https://en.wikipedia.org/wiki/Dog",
     "https://en.wikipedia.org/w/api.php"),
    ('<link rel="edituri" href="/w/api.php?action=rsd">', "https://wiki.example/wiki/A",
     "https://wiki.example/w/api.php"),
    (('<link rel="alternate" type="application/x-wiki" title="Edit" '
      'href="/mw/index.php?title=A&amp;action=edit"/>'), "https://wiki.example/wiki/A",
     "https://wiki.example/mw/api.php"),
    ('<link rel="canonical" href="https://wiki.example/wiki/A">', "https://wiki.example/wiki/A",
     None),
])
def test_find_api_url(html: str, base: str, expected: str | None) -> None:
    assert find_api_url(f"<html><head>{html}</head><body></body></html>", base) == expected


def test_find_api_url_in_a_real_wikipedia_page() -> None:
    body = (CORPUS / "wikipedia-en-new-zealand-vector-2019.html").read_bytes()
    assert find_api_url(body, "https://en.wikipedia.org/wiki/New_Zealand") == \
        "https://en.wikipedia.org/w/api.php"


# --- saved answers of the harness wiki --------------------------------------------------------

def test_siteinfo() -> None:
    data = load(API / "siteinfo.json")
    server = data["query"]["general"]["server"]
    site = read_siteinfo(data, server + "/api.php")
    assert site.version[:2] == (1, 39)
    assert site.generator.startswith("MediaWiki 1.39")
    assert site.has_extension("TextExtracts") and site.has_extension("textextracts")
    assert not site.has_extension("Wikibase")
    assert site.page_url("NATO–Russia Council") == f"{server}/wiki/NATO%E2%80%93Russia_Council"
    assert site.revision_url("Cold War", 8) == f"{server}/index.php?title=Cold_War&oldid=8"
    assert site.rest_url == f"{server}/rest.php/v1"
    assert site.main_page == "Main Page"


def test_siteinfo_protocol_relative_server() -> None:
    data = {"query": {"general": {"server": "//en.wikipedia.org", "articlepath": "/wiki/$1",
                                  "script": "/w/index.php", "scriptpath": "/w",
                                  "generator": "MediaWiki 1.42.0-wmf.21"}}}
    site = read_siteinfo(data, "https://en.wikipedia.org/w/api.php")
    assert site.server == "https://en.wikipedia.org"
    assert site.version == (1, 42, 0)
    assert site.index_url == "https://en.wikipedia.org/w/index.php"
    assert site.rest_url == "https://en.wikipedia.org/w/rest.php/v1"


def test_siteinfo_without_general_is_a_bad_answer() -> None:
    with pytest.raises(BadAnswer, match="http://w/api.php"):
        read_siteinfo({"query": {}}, "http://w/api.php")


def test_title_lookup() -> None:
    data = load(API / "page-info.json")
    lookup = read_title_lookup(data["query"])
    raw = {p["title"]: p for p in data["query"]["pages"]}
    assert lookup.resolve("NATO") == "North Atlantic Treaty Organization"
    assert lookup.resolve("north_Atlantic Treaty") == "North Atlantic Treaty"
    assert lookup.resolve("Helsinki_Final_Act") == "Helsinki Final Act"
    assert lookup.missing == ("No such page",)
    assert [t for t, _ in lookup.invalid] == ["Special:Version", "Bad[title"]
    assert lookup.get("No such page") is None
    nato = lookup.get("NATO")
    assert nato is not None
    rev = raw["North Atlantic Treaty Organization"]["revisions"][0]
    assert nato.revision_id == rev["revid"] == raw["North Atlantic Treaty Organization"]["lastrevid"]
    assert (nato.revision.timestamp, nato.revision.user, nato.revision.comment) == \
        (rev["timestamp"], rev["user"], rev["comment"])
    assert nato.revision.page_id == nato.page_id == raw["North Atlantic Treaty Organization"]["pageid"]
    assert nato.sha1 == rev["sha1"]
    helsinki = lookup.get("Helsinki Final Act")
    assert helsinki is not None and helsinki.revision.parent_id is not None


def test_title_lookup_resolve_follows_chains_and_stops_on_loops() -> None:
    lookup = read_title_lookup({"normalized": [{"from": "a", "to": "A"}],
                                "redirects": [{"from": "A", "to": "B"}, {"from": "B", "to": "C"},
                                              {"from": "X", "to": "Y"}, {"from": "Y", "to": "X"}]})
    assert lookup.resolve("a") == "C"
    assert lookup.resolve("X") in ("X", "Y")
    assert lookup.resolve("unrelated") == "unrelated"


def test_title_lookup_missing_page_id() -> None:
    lookup = read_title_lookup({"pages": [{"pageid": 999, "missing": True}]})
    assert lookup.missing_ids == (999,) and lookup.pages == ()


def test_title_lookup_needs_revisions() -> None:
    with pytest.raises(BadAnswer, match="no revision"):
        read_title_lookup({"pages": [{"pageid": 1, "ns": 0, "title": "A"}]}, "http://w/api.php")


def test_history_revisions() -> None:
    data = load(API / "history-helsinki.json")
    page = data["query"]["pages"][0]
    revs = [read_revision(r, page["pageid"]) for r in page["revisions"]]
    assert [r.revision_id for r in revs] == [r["revid"] for r in page["revisions"]]
    assert revs[0].parent_id == revs[1].revision_id  # newest first, each on its parent
    assert all(r.page_id == page["pageid"] for r in revs)


def test_revision_with_hidden_user_and_comment() -> None:
    rev = read_revision({"revid": 5, "parentid": 4, "userhidden": True, "commenthidden": True,
                         "timestamp": "2020-01-01T00:00:00Z"})
    assert rev.user is None and rev.comment is None and rev.parent_id == 4


def test_recent_changes() -> None:
    items = load(API / "recentchanges-after-edits.json")["query"]["recentchanges"]
    changes = read_recent_changes(items)
    by_kind = {(c.type, c.log_type): c for c in changes}
    edit = by_kind[("edit", None)]
    assert edit.is_revision and edit.title == "Cold War" and edit.old_revid is not None
    assert edit.user == "Editor Anna" and edit.comment == "Add a category"
    move = by_kind[("log", "move")]
    assert move.is_move and not move.is_delete and not move.is_revision
    assert move.move_target == "Collective security (international relations)"
    assert move.move_left_redirect is True
    delete = by_kind[("log", "delete")]
    assert delete.is_delete and delete.revid is None and delete.title == "Washington Treaty"
    new = by_kind[("new", None)]
    assert new.is_revision and new.old_revid is None and new.new_length == 35
    assert [c.timestamp for c in changes] == sorted(c.timestamp for c in changes)


def test_page_refs_drop_missing() -> None:
    refs = read_page_refs([{"title": "A", "ns": 0, "pageid": 1},
                           {"title": "B", "ns": 0, "missing": True}])
    assert [(r.title, r.page_id) for r in refs] == [("A", 1)]


def test_compare() -> None:
    data = load(API / "compare-helsinki.json")
    comp = read_compare(data)
    assert comp.from_revid == data["compare"]["fromrevid"]
    assert comp.to_revid == data["compare"]["torevid"]
    assert comp.from_title == comp.to_title == "Helsinki Final Act"
    assert comp.removed_fragments == ("33",)
    assert "35" in comp.added_fragments and "by 35 states" in comp.added_fragments
    assert "== See also ==" in comp.added_lines and "* [[Cold War]]" in comp.added_lines
    assert comp.removed_lines == ()
    changed = [ln for ln in comp.lines if ln.old is not None and ln.new is not None]
    assert ("| signatories = 33", "| signatories = 35") in [(ln.old, ln.new) for ln in changed]
    assert "" in comp.added_lines  # the empty line before the new heading


def test_diff_rows_ignore_context() -> None:
    rows = ('<tr><td class="diff-marker"></td><td class="diff-context"><div>same</div></td>'
            '<td class="diff-marker"></td><td class="diff-context"><div>same</div></td></tr>'
            '<tr><td class="diff-deletedline"><div>gone &amp; done</div></td>'
            '<td colspan="2"></td></tr>')
    assert [(ln.old, ln.new, ln.removed) for ln in read_diff_rows(rows)] == \
        [("gone & done", None, ("gone & done",))]


def test_parse() -> None:
    data = load(API / "parse-helsinki.json")
    parsed = read_parse(data)
    assert parsed.revid == data["parse"]["revid"]
    assert parsed.title == parsed.display_title == "Helsinki Final Act"
    assert parsed.categories == ("Treaties", "Cold War")
    assert set(parsed.links) == {"Cold War", "Collective security"}
    assert parsed.sections == ("See also", "References")
    assert parsed.html.startswith('<div class="mw-parser-output">')
    assert "ten principles" in parsed.html


def test_parse_hidden_categories_and_formatversion_1() -> None:
    parsed = read_parse({"parse": {"title": "T", "revid": 3, "text": {"*": "<p>x</p>"},
                                   "categories": [{"*": "Shown_one"},
                                                  {"category": "Maint", "hidden": True}]}})
    assert parsed.html == "<p>x</p>"
    assert parsed.categories == ("Shown one",) and parsed.hidden_categories == ("Maint",)


def test_first_paragraph_and_strip_tags() -> None:
    assert first_paragraph("\nFirst para.\nSecond.") == "First para."
    assert first_paragraph("") == ""
    assert strip_tags('<span class="mw-page-title-main">A &amp; <i>B</i></span>') == "A & B"
