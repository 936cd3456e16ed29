"""Pure record building and the bounded-memory entry deduplication of scraper.export."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.export.entries import EntryMerger
from scraper.export.records import (
    ENTRY_COLUMNS,
    LINK_COLUMNS,
    PAGE_COLUMNS,
    columns_for,
    entry_key,
    link_records,
    page_record,
)
from scraper.models import Entry, Link, Page, Snapshot

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def snap(url: str, version: int = 1, *, revision_id: int | None = None) -> Snapshot:
    return Snapshot(url=url, version=version, content_hash=f"h{version}", fetched_at=T0,
                    status=200, revision_id=revision_id)


ARTICLE = Page(
    url="http://w.test/wiki/NATO", kind="article", title="NATO", summary="An alliance.",
    text="An alliance.\n\nMore.",
    links=(Link("http://w.test/wiki/EU", "EU", "see_also"),
           Link("http://w.test/wiki/UN", "UN", "internal"),
           Link("http://w.test/related/X", "X items", "related"),
           Link("http://e.test/", "out", "external")),
    categories=("Alliances", "1949"), infobox=(("Founded", "1949"), ("HQ", "Brussels")),
    revision_id=77,
)


def test_page_record_has_the_documented_fields_in_order() -> None:
    record = page_record("wiki", snap("http://w.test/wiki/NATO", 3), ARTICLE)
    assert list(record) == [c.name for c in PAGE_COLUMNS]
    assert record["url"] == "http://w.test/wiki/NATO"
    assert record["site"] == "wiki"
    assert record["related"] == [
        {"url": "http://w.test/wiki/EU", "title": "EU", "kind": "see_also"},
        {"url": "http://w.test/related/X", "title": "X items", "kind": "related"},
    ]
    assert record["categories"] == ["Alliances", "1949"]
    assert record["infobox"] == [{"key": "Founded", "value": "1949"},
                                 {"key": "HQ", "value": "Brussels"}]
    assert record["revision_id"] == 77  # from the page when the snapshot has none
    assert record["version"] == 3
    assert record["fetched_at"] == T0
    assert record["content_hash"] == "h3"
    assert "text" not in record


def test_page_record_text_only_when_asked_and_snapshot_revision_wins() -> None:
    record = page_record("wiki", snap("http://w.test/wiki/NATO", revision_id=99), ARTICLE,
                         with_text=True)
    assert record["text"] == "An alliance.\n\nMore."
    assert record["revision_id"] == 99
    assert [c.name for c in columns_for("pages", with_text=True)][-1] == "text"


def test_link_records_keep_every_link_in_page_order() -> None:
    rows = list(link_records("wiki", snap("http://w.test/wiki/NATO", 2), ARTICLE))
    assert [(r["target"], r["kind"], r["anchor"]) for r in rows] == [
        (ln.url, ln.kind, ln.title) for ln in ARTICLE.links]
    assert all(r["source"] == "http://w.test/wiki/NATO" and r["version"] == 2 for r in rows)
    assert all(list(r) == [c.name for c in LINK_COLUMNS] for r in rows)


def test_entry_key_falls_back_to_related_then_title() -> None:
    assert entry_key(Entry("A", more_info="http://m/A", related="http://r/A")) == "http://m/A"
    assert entry_key(Entry("A", related="http://r/A")) == "related:http://r/A"
    assert entry_key(Entry("A")) == "title:A"


def entry(name: str, summary: str = "", *, truncated: bool = True) -> Entry:
    return Entry(title=name, summary=summary or f"{name} is ...", summary_truncated=truncated,
                 image=f"http://m/img/{name}.jpg", more_info=f"http://m/info/{name}",
                 related=f"http://m/related/{name}",
                 search_links=(("Wikipedia", f"http://wp/{name}"),))


def merged(pages: list[tuple[str, str, list[Entry]]], max_groups: int) -> list[dict[str, object]]:
    with EntryMerger(max_groups=max_groups) as merger:
        for site, url, entries in pages:
            merger.add_page(site, url, tuple(entries))
        return list(merger.records())


def test_entries_are_deduplicated_across_listing_pages() -> None:
    pages = [
        ("mirror", "http://m/related/NATO", [entry("NATO"), entry("Russia"), entry("EU")]),
        ("mirror", "http://m/related/Russia", [entry("Russia", "Russia is a big ..."),
                                               entry("NATO")]),
    ]
    rows = merged(pages, max_groups=1000)
    assert [r["title"] for r in rows] == ["EU", "NATO", "Russia"]  # sorted by more_info
    by_title = {r["title"]: r for r in rows}
    assert by_title["NATO"]["listing_pages"] == ["http://m/related/NATO",
                                                "http://m/related/Russia"]
    assert by_title["EU"]["listing_pages"] == ["http://m/related/NATO"]
    # The longest summary speaks for the entry: text from one occurrence, never a mix.
    assert by_title["Russia"]["summary"] == "Russia is a big ..."
    assert by_title["NATO"]["related"] == "http://m/related/NATO"
    assert by_title["NATO"]["search_links"] == [{"name": "Wikipedia", "url": "http://wp/NATO"}]
    assert all(list(r) == [c.name for c in ENTRY_COLUMNS] for r in rows)


def test_spilling_to_runs_gives_the_same_result_and_bounded_groups() -> None:
    rnd = random.Random(7)
    names = [f"E{i:03d}" for i in range(300)]
    pages = []
    for p in range(120):
        chosen = rnd.sample(names, 12)
        pages.append(("mirror", f"http://m/related/P{p:03d}",
                      [entry(n, f"{n} " + "x" * rnd.randrange(30) + " ...") for n in chosen]))
    expected = merged(pages, max_groups=10_000)
    with EntryMerger(max_groups=25) as merger:
        for site, url, entries in pages:
            merger.add_page(site, url, tuple(entries))
            assert len(merger._groups) < 25  # the bound that makes memory constant
        assert merger.spilled_runs > 10
        spilled = list(merger.records())
    assert spilled == expected
    assert len(expected) == len({e.more_info for _, _, es in pages for e in es})


def test_sites_are_kept_apart() -> None:
    rows = merged([("a", "http://m/related/1", [entry("X")]),
                   ("b", "http://m/related/1", [entry("X")])], max_groups=1)
    assert [(r["site"], r["title"]) for r in rows] == [("a", "X"), ("b", "X")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.lists(
        st.tuples(st.integers(0, 8), st.text(alphabet="ab .", max_size=6)), max_size=6)),
        max_size=12),
    st.integers(1, 6),
)
def test_result_does_not_depend_on_the_spill_threshold(
        raw: list[tuple[int, list[tuple[int, str]]]], max_groups: int) -> None:
    pages = [("s", f"http://m/related/{p}", [entry(f"N{n}", s or "") for n, s in es])
             for p, es in raw]
    assert merged(pages, max_groups) == merged(pages, 10_000)
