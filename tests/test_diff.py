"""diff_pages and its renderings on Page pairs built here."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from scraper.diff import (
    DIFF_JSON_VERSION,
    diff_pages,
    diff_text,
    diff_to_json,
    render_html,
    render_text,
    render_unified,
    split_paragraphs,
)
from scraper.diff.render import plain_texts
from scraper.models import Entry, Link, Page, Snapshot

T1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 8, 10, 0, tzinfo=UTC)

ARTICLE = Page(
    url="http://127.0.0.1:8000/wiki/Paris",
    kind="article",
    title="Paris",
    summary="Paris is the capital of France. It has two million people.",
    text=("History\n\nParis was founded in the third century BC.\n\n"
          "Geography\n\nThe Seine flows through the city.\n\n"
          "Culture\n\nMuseums abound. The Louvre is famous."),
    links=(Link("http://127.0.0.1:8000/wiki/Lyon", "Lyon", "see_also"),
           Link("http://127.0.0.1:8000/wiki/Nice", "Nice", "see_also"),
           Link("http://127.0.0.1:8000/wiki/Seine", "Seine", "internal")),
    categories=("Cities in France",),
    infobox=(("population", "2,100,000"), ("mayor", "Anne Hidalgo")),
    image="http://127.0.0.1:8000/img/paris.jpg",
    revision_id=100,
)


def entry(n: int, summary: str = "") -> Entry:
    return Entry(
        title=f"Topic {n}",
        summary=summary or f"Topic {n} is a subject of some interest number {n}.",
        summary_truncated=True,
        more_info=f"http://127.0.0.1:8000/info/Topic_{n}",
        related=f"http://127.0.0.1:8000/related/Topic_{n}",
        search_links=(("Wikipedia", f"https://en.wikipedia.org/wiki/Topic_{n}"),),
    )


def listing(entries: tuple[Entry, ...]) -> Page:
    links = []
    for e in entries:
        assert e.more_info and e.related
        links += [Link(e.more_info, e.title, "more_info"), Link(e.related, e.title, "related")]
        links += [Link(url, name, "search") for name, url in e.search_links]
    return Page(url="http://127.0.0.1:8000/related/Topic_0", kind="listing", title="Topic 0",
                entries=entries, links=tuple(links))


def meta(version: int, when: datetime, revision: int | None = None) -> Snapshot:
    return Snapshot(url=ARTICLE.url, version=version, content_hash="h", fetched_at=when,
                    status=200, revision_id=revision)


# -- unchanged ---------------------------------------------------------------------------

def test_unchanged_pair_gives_an_empty_diff_in_every_format() -> None:
    d = diff_pages(ARTICLE, ARTICLE)
    assert d.is_empty
    assert d.gist() == "no change"
    assert render_unified(d) == ""
    data = diff_to_json(d)
    assert data["empty"] is True
    assert data["text"]["ops"] == [{"op": "equal", "old_index": 0, "new_index": 0, "count": 6}]
    assert data["links"] == {"added": [], "removed": [], "retitled": []}
    text = render_text(d, color=False)
    assert text.splitlines()[-1] == "no change"
    assert "[-" not in text and "{+" not in text
    html = render_html(d)
    assert "<ins>" not in html and "<del>" not in html


page_text = st.lists(st.sampled_from(["Alpha beta.", "Gamma", "delta epsilon", "é 日本"]),
                     max_size=6).map("\n\n".join)


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=20), summary=st.text(max_size=40), text=page_text,
       cats=st.lists(st.text(min_size=1, max_size=5), max_size=3),
       box=st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=4))
def test_a_page_diffed_with_itself_is_empty(title: str, summary: str, text: str,
                                            cats: list[str], box: list[tuple[str, str]]) -> None:
    page = Page(url="http://x/p", title=title, summary=summary, text=text,
                categories=tuple(cats), infobox=tuple(box), entries=(entry(1), entry(1)))
    d = diff_pages(page, replace(page))
    assert d.is_empty, d.gist()


# -- what changed ------------------------------------------------------------------------

def edited_article() -> Page:
    return replace(
        ARTICLE,
        summary="Paris is the capital and largest city of France. It has two million people.",
        text=("Geography\n\nThe Seine flows through the city.\n\n"
              "History\n\nParis was founded in the third century BC.\n\n"
              "Culture\n\nMuseums abound. The Louvre is very famous.\n\n"
              "A new closing paragraph."),
        links=(ARTICLE.links[0], Link("http://127.0.0.1:8000/wiki/Lille", "Lille", "see_also"),
               Link("http://127.0.0.1:8000/wiki/Seine", "River Seine", "internal")),
        categories=("Cities in France", "Capitals in Europe"),
        infobox=(("population", "2,200,000"), ("area", "105 km2")),
        revision_id=101,
    )


def test_each_kind_of_change_is_found_once() -> None:
    d = diff_pages(ARTICLE, edited_article(), old_meta=meta(1, T1, 100),
                   new_meta=meta(2, T2, 101))
    assert not d.is_empty
    assert (d.old_version, d.new_version) == (1, 2)
    assert (d.old_revision_id, d.new_revision_id) == (100, 101)
    assert (d.old_fetched_at, d.new_fetched_at) == (T1, T2)
    assert d.title is None
    assert d.summary is not None and d.summary.kind == "edited"
    assert [t for tag, t in d.summary.words if tag == "insert"] == ["and largest city "]
    assert not [t for tag, t in d.summary.words if tag == "delete"]
    ops = [op.op for op in d.text.ops]
    assert ops.count("move") == 1 and "delete" not in ops
    moved = next(op for op in d.text.ops if op.op == "move")
    assert moved.new == ("History", "Paris was founded in the third century BC.")
    assert (moved.old_index, moved.new_index) == (0, 2)
    edited = [op for op in d.text.ops if op.op == "replace"]
    assert len(edited) == 1
    assert [t for tag, t in edited[0].words if tag == "insert"] == ["very "]
    assert [op.new for op in d.text.ops if op.op == "insert"] == [("A new closing paragraph.",)]
    assert [ln.title for ln in d.links_added] == ["Lille"]
    assert [ln.title for ln in d.links_removed] == ["Nice"]
    assert [(a.title, b.title) for a, b in d.links_retitled] == [("Seine", "River Seine")]
    assert d.categories_added == ("Capitals in Europe",)
    assert d.categories_removed == ()
    changes = {c.key: (c.kind, c.old, c.new) for c in d.infobox_changes}
    assert changes == {"population": ("changed", "2,100,000", "2,200,000"),
                       "area": ("added", None, "105 km2"),
                       "mayor": ("removed", "Anne Hidalgo", None)}
    assert d.gist() == (
        "summary edited, 1 paragraph edited, 1 paragraph added, 2 paragraphs moved, "
        "1 see_also added, 1 see_also removed, 1 link retitled, 1 category added, "
        "infobox: population changed, area added, mayor removed")


def test_revision_ids_come_from_the_pages_without_metadata() -> None:
    d = diff_pages(ARTICLE, edited_article())
    assert (d.old_revision_id, d.new_revision_id) == (100, 101)
    assert d.old_version is None and d.old_fetched_at is None


def test_title_and_page_fields() -> None:
    new = replace(ARTICLE, title="Paris, France", image=None, kind="other",
                  canonical_url="http://127.0.0.1:8000/wiki/Paris_(city)",
                  summary_truncated=True)
    d = diff_pages(ARTICLE, new)
    assert d.title is not None and d.title.kind == "edited"
    assert {(c.key, c.kind) for c in d.field_changes} == {
        ("image", "removed"), ("kind", "changed"), ("canonical_url", "added"),
        ("summary_truncated", "changed")}
    assert d.gist().startswith("title changed, ")


def test_summary_added_and_removed() -> None:
    empty = replace(ARTICLE, summary="")
    assert diff_pages(empty, ARTICLE).summary.kind == "added"  # type: ignore[union-attr]
    assert diff_pages(ARTICLE, empty).summary.kind == "removed"  # type: ignore[union-attr]


def test_repeated_infobox_keys_and_duplicate_links_are_compared_as_they_stand() -> None:
    old = replace(ARTICLE, infobox=(("name", "A"), ("name", "B")),
                  links=ARTICLE.links + (ARTICLE.links[0],))
    new = replace(ARTICLE, infobox=(("name", "A"), ("name", "C")))
    d = diff_pages(old, new)
    assert [(c.key, c.old, c.new) for c in d.infobox_changes] == [("name #2", "B", "C")]
    assert not d.links_added and not d.links_removed


def test_listing_entries_added_removed_changed_and_their_links_shown_once() -> None:
    old = listing((entry(1), entry(2), entry(3)))
    new = listing((entry(1), entry(3, "Topic 3 was rewritten entirely today."), entry(4)))
    d = diff_pages(old, new)
    assert [e.title for e in d.entries_added] == ["Topic 4"]
    assert [e.title for e in d.entries_removed] == ["Topic 2"]
    assert [c.new.title for c in d.entries_changed] == ["Topic 3"]
    change = d.entries_changed[0]
    assert change.summary is not None and change.fields == ()
    assert change.describe() == "summary edited"
    # The added and removed entries' more_info, related and search links are part of the
    # entries; they are not listed again as links.
    assert d.links_added == () and d.links_removed == ()
    assert not d.entries_reordered
    assert d.gist() == "1 entry added, 1 entry removed, 1 entry changed"


def test_entries_reordered_and_entry_fields() -> None:
    old = listing((entry(1), entry(2)))
    moved = replace(entry(1), image="http://127.0.0.1:8000/img/1.png")
    d = diff_pages(old, listing((entry(2), moved)))
    assert d.entries_reordered
    assert [(f.key, f.kind) for f in d.entries_changed[0].fields] == [("image", "added")]
    assert d.gist() == "1 entry changed, entries reordered"


# -- paragraphs --------------------------------------------------------------------------

def test_split_paragraphs() -> None:
    assert split_paragraphs("  a\nb \n\n\n c\n \n\nd  ") == ["a\nb", "c", "d"]
    assert split_paragraphs("") == []


def test_rewritten_region_pairs_similar_paragraphs_and_leaves_the_rest() -> None:
    old = ("Intro stays.\n\nThe river is long and wide and slow.\n\n"
           "Completely unrelated text about trains.\n\nOutro stays.")
    new = ("Intro stays.\n\nSomething entirely different was written here.\n\n"
           "The river is long and very wide and slow.\n\nOutro stays.")
    td = diff_text(old, new)
    ops = [(op.op, op.old_index, op.new_index) for op in td.ops]
    assert ops == [("equal", 0, 0), ("insert", None, 1), ("replace", 1, 2),
                   ("delete", 2, None), ("equal", 3, 3)]
    assert td.counts() == {"edited": 1, "added": 1, "removed": 1, "moved": 0}


def test_paragraph_removed_and_added_runs_are_grouped() -> None:
    old = "\n\n".join(f"Paragraph number {n} here." for n in range(6))
    kept = ["Paragraph number 0 here.", "Brand new one.", "Brand new two.",
            "Paragraph number 4 here.", "Paragraph number 5 here."]
    new = "\n\n".join(kept)
    td = diff_text(old, new)
    kinds = [(op.op, len(op.old), len(op.new)) for op in td.ops]
    assert ("delete", 3, 0) in kinds and ("insert", 0, 2) in kinds


# -- renderings --------------------------------------------------------------------------

def test_text_rendering_plain_and_coloured() -> None:
    d = diff_pages(ARTICLE, edited_article(), old_meta=meta(1, T1, 100),
                   new_meta=meta(2, T2, 101))
    plain = render_text(d, color=False)
    lines = plain.splitlines()
    assert lines[1] == "---  version 1  revision 100  fetched 2026-11-01T10:00:00.000000+00:00"
    assert lines[2] == "+++  version 2  revision 101  fetched 2026-11-08T10:00:00.000000+00:00"
    assert "Paris is the capital {+and largest city +}of France." in plain
    assert "\x1b[" not in plain
    assert plain.count("  + see_also Lille <http://127.0.0.1:8000/wiki/Lille>") == 1
    assert plain.count("  - see_also Nice <http://127.0.0.1:8000/wiki/Nice>") == 1
    assert plain.count("  ~ population: 2,100,000 → 2,200,000") == 1
    assert plain.count("  ¶1–2 moved to ¶3–4:") == 1
    assert plain.count("Paris was founded in the third century BC.") == 1
    coloured = render_text(d, color=True)
    assert "\x1b[32m\x1b[1mand largest city \x1b[0m" in coloured
    assert "{+" not in coloured


def test_text_rendering_elides_a_huge_unchanged_paragraph() -> None:
    body = "word " * 50_000
    d = diff_pages(replace(ARTICLE, text=body + "end."), replace(ARTICLE, text=body + "END."))
    out = render_text(d, color=False)
    assert len(out) < 2000
    assert "¶1 edited: …word word" in out and "word [-end-]{+END+}." in out


def test_json_structure_is_stable_and_serialisable() -> None:
    d = diff_pages(ARTICLE, edited_article(), old_meta=meta(1, T1, 100),
                   new_meta=meta(2, T2, 101))
    data = json.loads(json.dumps(diff_to_json(d)))
    assert data["format"] == "scraper-diff" and data["version"] == DIFF_JSON_VERSION == 1
    assert set(data) == {"format", "version", "url", "old", "new", "empty", "gist", "title",
                         "summary", "text", "links", "categories", "infobox", "entries",
                         "fields"}
    assert data["old"] == {"version": 1, "revision_id": 100, "title": "Paris",
                           "fetched_at": "2026-11-01T10:00:00.000000+00:00"}
    assert data["summary"]["words"][1] == ["insert", "and largest city "]
    assert data["links"]["added"] == [{"url": "http://127.0.0.1:8000/wiki/Lille",
                                       "title": "Lille", "kind": "see_also"}]
    assert data["infobox"][0] == {"key": "population", "change": "changed",
                                  "old": "2,100,000", "new": "2,200,000"}
    text_ops = data["text"]["ops"]
    assert [op["op"] for op in text_ops] == ["equal", "move", "equal", "replace", "insert"]
    assert text_ops[1] == {"op": "move", "old_index": 0, "new_index": 2,
                           "paragraphs": ["History", "Paris was founded in the third century BC."]}
    assert text_ops[0] == {"op": "equal", "old_index": 2, "new_index": 0, "count": 2}


def test_unified_diff_applies_with_patch(tmp_path: Path) -> None:
    d = diff_pages(ARTICLE, edited_article(), old_meta=meta(1, T1), new_meta=meta(2, T2))
    patch_text = render_unified(d, context=2)
    old_text, new_text = plain_texts(d)
    assert old_text.startswith("Paris\n\nParis is the capital of France.")
    assert patch_text.splitlines()[0] == (
        "--- http://127.0.0.1:8000/wiki/Paris@1\t2026-11-01T10:00:00.000000+00:00")
    assert apply_unified(old_text, patch_text) == new_text
    patch_bin = shutil.which("patch")
    if patch_bin:  # the real tool as well, where it is installed
        target = tmp_path / "page.txt"
        target.write_text(old_text, encoding="utf-8")
        subprocess.run([patch_bin, "-s", str(target)], input=patch_text.encode(), check=True)
        assert target.read_text(encoding="utf-8") == new_text


def apply_unified(text: str, patch: str) -> str:
    """A strict applier: context and removed lines must match exactly."""
    src = text.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    lines = patch.splitlines(keepends=True)
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    k = 2
    while k < len(lines):
        header = lines[k]
        assert header.startswith("@@ -"), header
        old_range = header.split()[1][1:]
        start = int(old_range.split(",")[0])
        length = int(old_range.split(",")[1]) if "," in old_range else 1
        start = start - 1 if length else start
        out += src[pos:start]
        pos = start
        k += 1
        while k < len(lines) and not lines[k].startswith("@@"):
            tag, body = lines[k][0], lines[k][1:]
            if tag in " -":
                assert src[pos] == body, (src[pos], body)
                pos += 1
            if tag in " +":
                out.append(body)
            k += 1
    out += src[pos:]
    return "".join(out)


def test_unified_diff_is_empty_when_only_links_change() -> None:
    new = replace(ARTICLE, links=ARTICLE.links[:1])
    assert render_unified(diff_pages(ARTICLE, new)) == ""


def test_html_marks_both_sides_and_escapes_scraped_text() -> None:
    evil = replace(edited_article(), title="<script>alert(1)</script>",
                   links=edited_article().links + (
                       Link("javascript:alert(2)", "click <b>me</b>", "internal"),))
    d = diff_pages(ARTICLE, evil, old_meta=meta(1, T1, 100), new_meta=meta(2, T2, 101))
    html = render_html(d)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    tree = HTMLParser(html)
    assert tree.css_first("title") is not None
    assert not tree.css("link, script, img, iframe")  # no external assets
    ins = [n.text() for n in tree.css("td.new ins")]
    dels = [n.text() for n in tree.css("td.old del")]
    assert ins.count("and largest city ") == 1 and ins.count("very ") == 1
    assert ins.count("2,200,000") == 1 and dels.count("2,100,000") == 1
    assert ins.count("A new closing paragraph.") == 1
    assert sum("Lille" in t for t in ins) == 1 and sum("Nice" in t for t in dels) == 1
    moved = tree.css("td.new.moved")
    assert len(moved) == 1 and "Paris was founded" in moved[0].text()
    head = tree.css_first("thead").text()
    assert "version 1" in head and "revision 101" in head and "2026-11-08" in head


def test_html_for_listing_entries() -> None:
    old = listing((entry(1), entry(2)))
    new = listing((entry(1, "Topic 1 summary was edited here."), entry(2), entry(5)))
    tree = HTMLParser(render_html(diff_pages(old, new)))
    ins = [n.text() for n in tree.css("td.new ins")]
    assert sum("Topic 5" in t for t in ins) == 1
    assert "edited here" in " ".join(ins)
    assert all("Topic 5" not in n.text() for n in tree.css("td.old"))
