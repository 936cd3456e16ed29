"""Diffs of real page pairs: the built-in site's pages before and after an edit, parsed.

Each edit must show in the text, JSON and HTML diffs exactly once and correctly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.diff import PageDiff, diff_pages, diff_to_json, render_html, render_text
from scraper.models import Page
from scraper.parse import parse_page
from scraper.testsite.articles import render_article
from scraper.testsite.content import SiteModel, info_path, related_path
from scraper.testsite.pages import render_listing

BASE = "http://127.0.0.1:8000"
NOW = 1_800_000_000.0


def article(model: SiteModel, slug: str) -> Page:
    return parse_page(render_article(model, slug, BASE), BASE + info_path(slug))


def listing(model: SiteModel, slug: str, markup: str = "divs") -> Page:
    return parse_page(render_listing(model, slug, markup=markup), BASE + related_path(slug))


class Rendered:
    """The three renderings of one diff, ready to count in."""

    def __init__(self, d: PageDiff) -> None:
        self.diff = d
        self.text = render_text(d, color=False)
        self.json: dict[str, Any] = json.loads(json.dumps(diff_to_json(d)))
        self.tree = LexborHTMLParser(render_html(d))
        self.ins = [n.text() for n in self.tree.css("td.new ins")]
        self.dels = [n.text() for n in self.tree.css("td.old del")]
        self.html_text = self.tree.body.text() if self.tree.body else ""

    def changed_text_ops(self) -> list[dict[str, Any]]:
        return [op for op in self.json["text"]["ops"] if op["op"] != "equal"]


@pytest.fixture()
def model() -> SiteModel:
    return SiteModel(seed=1, pages=60)


def test_unchanged_pages_give_empty_diffs(model: SiteModel) -> None:
    for slug in model.slugs[:5]:
        for page in (article(model, slug), listing(model, slug), listing(model, slug, "table")):
            again = Rendered(diff_pages(page, page))
            assert again.diff.is_empty, (slug, again.diff.gist())
            assert again.text.endswith("no change\n")
            assert again.json["empty"] is True and not again.ins and not again.dels


def test_null_revision_changes_only_the_revision_id(model: SiteModel) -> None:
    slug = model.slugs[2]
    before = article(model, slug)
    model.edit(slug, touch=True, now=NOW)
    after = article(model, slug)
    d = diff_pages(before, after)
    assert d.is_empty
    assert d.old_revision_id is not None and d.new_revision_id is not None
    assert d.new_revision_id > d.old_revision_id
    assert render_text(d, color=False).splitlines()[1].endswith(f"revision {d.old_revision_id}")


def test_edited_summary_sentence(model: SiteModel) -> None:
    slug = next(s for s in model.slugs if re.search(r"about \d+ million", model.topic(s).lead))
    lead = model.topic(slug).lead
    number = re.search(r"about (\d+) million", lead).group(1)  # type: ignore[union-attr]
    before = article(model, slug)
    model.edit(slug, summary=lead.replace(f"about {number} million", "about 987 million", 1),
               now=NOW)
    r = Rendered(diff_pages(before, article(model, slug)))
    assert r.diff.gist() == "summary edited"
    assert [op for op in r.diff.summary.words if op[0] != "equal"] == [  # type: ignore[union-attr]
        ("delete", number), ("insert", "987")]
    # text: once, in the summary (the article's lead paragraph is not diffed again)
    assert r.text.count("[-" + number + "-]{+987+}") == 1
    assert r.text.count("987") == 1
    # json: in the summary's words, and no text op
    assert r.json["summary"]["words"][1:3] == [["delete", number], ["insert", "987"]]
    assert r.changed_text_ops() == []
    assert json.dumps(r.json).count("987") == 2  # summary.new and its insert op only
    # html: one insertion and one deletion
    assert r.ins == ["987"] and r.dels == [number]


def test_edited_summary_on_the_topics_own_listing(model: SiteModel) -> None:
    slug = model.slugs[2]  # a lead short enough for the listing to show it whole
    before = listing(model, slug)
    model.edit(slug, append_sentence="A closing sentence was added by the test.", now=NOW)
    r = Rendered(diff_pages(before, listing(model, slug)))
    # The page summary is its first entry's summary: shown once, as the summary.
    assert r.diff.summary is not None and r.diff.entries_changed == ()
    assert r.changed_text_ops() == []
    assert r.text.count("A closing sentence was added by the test.") == 1
    assert sum("A closing sentence" in t for t in r.ins) == 1
    assert json.dumps(r.json["entries"]).count("closing sentence") == 0


def test_reordered_sections(model: SiteModel) -> None:
    slug = model.slugs[3]
    headings = [heading for heading, _ in model.topic(slug).sections]
    before = article(model, slug)
    model.edit(slug, reorder_sections=True, now=NOW)
    r = Rendered(diff_pages(before, article(model, slug)))
    ops = r.diff.text.ops
    assert {op.op for op in ops} <= {"equal", "move"}, [op.op for op in ops]
    moved = [p for op in ops if op.op == "move" for p in op.new]
    assert sum(h in moved for h in headings) == len(headings) - 1  # one section stays put
    assert r.diff.gist().endswith("paragraphs moved") and r.diff.summary is None
    for heading in headings:
        if heading in moved:
            assert r.text.count(f"↕ {heading}\n") == 1
            assert sum(heading in json.dumps(op) for op in r.changed_text_ops()) == 1
            assert sum(n.text().count(heading) for n in r.tree.css("td.new.moved")) == 1
    assert not r.ins and not r.dels


def test_related_link_added_and_removed(model: SiteModel) -> None:
    slug = model.slugs[4]
    removed = model.topic(slug).related[0]
    added = next(s for s in model.slugs if s != slug and s not in model.topic(slug).related)
    added_title = model.titles[model.index[added]]
    removed_title = model.titles[model.index[removed]]
    before = article(model, slug)
    model.edit(slug, add_related=added, remove_related=removed, now=NOW)
    r = Rendered(diff_pages(before, article(model, slug)))
    assert [(ln.kind, ln.title) for ln in r.diff.links_added] == [("see_also", added_title)]
    assert [(ln.kind, ln.title) for ln in r.diff.links_removed] == [("see_also", removed_title)]
    assert r.diff.gist() == "1 see_also added, 1 see_also removed"
    assert r.text.count(f"+ see_also {added_title} <{BASE}{info_path(added)}>") == 1
    assert r.text.count(f"- see_also {removed_title} <{BASE}{info_path(removed)}>") == 1
    assert [ln["title"] for ln in r.json["links"]["added"]] == [added_title]
    assert [ln["title"] for ln in r.json["links"]["removed"]] == [removed_title]
    assert r.ins == [f"{added_title} {BASE}{info_path(added)}"]
    assert r.dels == [f"{removed_title} {BASE}{info_path(removed)}"]


def test_changed_infobox_value(model: SiteModel) -> None:
    slug = model.slugs[5]
    key, old_value = model.topic(slug).infobox[0]
    before = article(model, slug)
    model.edit(slug, infobox={key: "1 January 2001"}, now=NOW)
    r = Rendered(diff_pages(before, article(model, slug)))
    assert r.diff.gist() == f"infobox: {key} changed"
    assert r.text.count(f"~ {key}: {old_value} → 1 January 2001") == 1
    assert r.text.count("1 January 2001") == 1
    assert r.json["infobox"] == [{"key": key, "change": "changed", "old": old_value,
                                  "new": "1 January 2001"}]
    assert r.changed_text_ops() == []
    assert r.ins == ["1 January 2001"] and r.dels == [old_value]


@pytest.mark.parametrize("markup", ["divs", "table", "bare"])
def test_entry_added_to_a_listing_page(model: SiteModel, markup: str) -> None:
    slug = model.slugs[6]
    assert len(model.topic(slug).related) < 10  # the new entry lands on page 1
    added = next(s for s in model.slugs if s != slug and s not in model.topic(slug).related)
    title = model.titles[model.index[added]]
    before = listing(model, slug, markup)
    model.edit(slug, add_related=added, now=NOW)
    r = Rendered(diff_pages(before, listing(model, slug, markup)))
    assert [e.title for e in r.diff.entries_added] == [title]
    assert r.diff.entries_added[0].more_info == BASE + info_path(added)
    assert r.diff.gist() == "1 entry added"
    assert r.diff.links_added == () and r.changed_text_ops() == []
    assert r.text.count(f"+ {title} <{BASE}{info_path(added)}>") == 1
    summary = r.diff.entries_added[0].summary
    assert summary and r.text.count(summary) == 1
    assert [e["title"] for e in r.json["entries"]["added"]] == [title]
    assert r.json["entries"]["removed"] == [] and r.json["entries"]["changed"] == []
    assert [n.text() for n in r.tree.css("td.new ins strong")] == [title]
    assert len(r.ins) == 1 and summary in r.ins[0] and not r.dels
    assert r.html_text.count(summary) == 1
