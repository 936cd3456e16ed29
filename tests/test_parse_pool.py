"""Parsing and encoding for the archive, on threads and on worker processes: the same page
either way, and the same archive after a crawl."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scraper.archive import Archive
from scraper.archive.blobs import FIRST_COPY_LEVEL, decompress, sha256_hex
from scraper.archive.encode import fields_json
from scraper.config import load_config_text
from scraper.crawl import CrawlLimits, crawl
from scraper.crawl.frontier import FollowRule, links_to_follow
from scraper.crawl.parse_pool import ParsePool, ParseRequest, parse_and_encode
from scraper.models import Entry, FrontierItem, Link, content_hash, page_to_dict
from scraper.parse import parse_page
from scraper.testsite import MARKUPS, SiteModel, render_listing

MODEL = SiteModel(seed=3, pages=12)
BODY = render_listing(MODEL, MODEL.slugs[0], 1, markup=MARKUPS[1])
FINAL = "http://127.0.0.1:9/related/Final"
QUEUED = "http://127.0.0.1:9/related/Queued"


def test_parse_and_encode_is_parse_page_stored_under_the_queued_url() -> None:
    parsed = parse_and_encode(ParseRequest(BODY, QUEUED, FINAL, "text/html", first_version=True))
    page = parse_page(BODY, FINAL, content_type="text/html")
    assert parsed.page.url == QUEUED
    assert page_to_dict(parsed.page) == page_to_dict(page) | {"url": QUEUED}
    assert parsed.encoded.content_hash == content_hash(parsed.page)
    assert parsed.encoded.fields_json == fields_json(page_to_dict(parsed.page))
    body_copy, fields_copy = parsed.encoded.body_copy, parsed.encoded.fields_copy
    assert body_copy is not None and fields_copy is not None
    assert decompress(body_copy.data, None) == BODY and body_copy.hash == sha256_hex(BODY)
    assert decompress(fields_copy.data, None) == parsed.encoded.fields_json
    assert body_copy.level == FIRST_COPY_LEVEL


def test_with_a_follow_rule_the_worker_also_finds_the_links_to_follow() -> None:
    config = load_config_text(textwrap.dedent("""
        name: t
        start_urls: ["http://127.0.0.1:9/related/Final"]
        follow: [related, more_info]
        scope: {include: ["^/related/"]}
        max_depth: 3
        network: {allow_loopback: true}
    """), "t.yaml")
    rule = FollowRule.of(config)
    parsed = parse_and_encode(ParseRequest(BODY, QUEUED, FINAL, "text/html", follow=rule,
                                           depth=2))
    expected = links_to_follow(parsed.page, rule, 2)
    assert parsed.discovered == tuple(expected)
    assert expected and all(item.discovered_from == QUEUED and item.url.startswith(
        "http://127.0.0.1:9/related/") for item in expected)
    assert pickle.loads(pickle.dumps(parsed)).discovered == parsed.discovered
    assert parse_and_encode(ParseRequest(BODY, QUEUED, FINAL, "text/html")).discovered == ()


def test_a_recrawl_compresses_nothing_ahead() -> None:
    parsed = parse_and_encode(ParseRequest(BODY, QUEUED, FINAL, "text/html"))
    assert parsed.encoded.body_copy is None and parsed.encoded.fields_copy is None


def test_pages_and_links_survive_pickling() -> None:
    parsed = parse_and_encode(ParseRequest(BODY, QUEUED, FINAL, "text/html", first_version=True))
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    link = Link("http://t/a", "A", "related")
    assert pickle.loads(pickle.dumps(link)) == link


@pytest.mark.parametrize("record", [
    Link("http://t/a", "A", "related"),
    Entry("T", "S ...", True, "http://t/i.png", "http://t/info/T", "http://t/related/T",
          (("Wikipedia", "http://w/T"),)),
    FrontierItem("http://t/a", "s", 3, "http://t/b", "related", 2, 5,
                 datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC), True),
], ids=lambda record: type(record).__name__)
def test_records_with_their_own_pickling_keep_every_field(record: object) -> None:
    # Every field differs from its default here: one that __reduce__ forgot would come back
    # as the default.
    assert all(getattr(record, f.name) != f.default for f in dataclasses.fields(record))
    assert pickle.loads(pickle.dumps(record)) == record


def test_worker_processes_take_over_once_started() -> None:
    requests = [ParseRequest(render_listing(MODEL, slug, 1, markup=MARKUPS[i % 3]),
                             f"http://t/related/{slug}", f"http://t/related/{slug}",
                             "text/html", first_version=True)
                for i, slug in enumerate(MODEL.slugs)]

    async def main(pool: ParsePool) -> None:
        deadline = time.monotonic() + 60
        while pool.in_processes < len(requests) and time.monotonic() < deadline:
            results = await asyncio.gather(*(pool.parse(r) for r in requests))
            assert [r.page for r in results] == [parse_and_encode(r).page for r in requests]
            assert [r.encoded for r in results] == [parse_and_encode(r).encoded
                                                    for r in requests]

    with ParsePool(processes=1, processes_after=0) as pool:
        asyncio.run(main(pool))
    assert pool.in_processes >= len(requests)


def test_a_pool_without_processes_parses_on_threads() -> None:
    with ParsePool(processes=0, processes_after=0) as pool:
        parsed = asyncio.run(pool.parse(ParseRequest(BODY, QUEUED, FINAL, "text/html")))
    assert parsed.page.url == QUEUED and pool.in_processes == 0


def test_a_crawl_on_worker_processes_stores_what_one_on_threads_does(tmp_path: Path) -> None:
    from scraper.testsite import TestSite

    with TestSite(pages=12) as site:
        config = load_config_text(textwrap.dedent(f"""\
            name: test
            start_urls: ["{site.url('/related/NATO')}"]
            network: {{allow_loopback: true}}
            follow: [related, more_info]
            scope: {{include: ["^/related/", "^/info/"]}}
            politeness: {{concurrency: 4, delay: 0}}
            """), "test.yaml")

        def stored(path: Path, pool: ParsePool | None) -> dict[str, tuple[str, str]]:
            with Archive.open(str(path)) as archive:
                asyncio.run(crawl([config], archive, limits=CrawlLimits(), parse_pool=pool))
                return {snap.url: (snap.content_hash, snap.body_hash or "")
                        for _, snap, _ in archive.iter_versions()}

        on_threads = stored(tmp_path / "threads.db", None)
        with ParsePool(processes=2, processes_after=0) as pool:
            # Started ahead, so that the crawl's pages go to the processes.
            asyncio.run(pool.parse(ParseRequest(BODY, QUEUED, FINAL, "text/html")))
            deadline = time.monotonic() + 60
            while not pool._processes_ready() and time.monotonic() < deadline:
                time.sleep(0.05)
            on_processes = stored(tmp_path / "processes.db", pool)
    assert len(on_threads) > 20
    assert on_processes == on_threads
    assert pool.in_processes >= len(on_threads)


def test_when_its_worker_processes_die_a_pool_parses_on_threads() -> None:
    requests = [ParseRequest(render_listing(MODEL, slug, 1, markup=MARKUPS[0]),
                             f"http://t/related/{slug}", f"http://t/related/{slug}", "text/html")
                for slug in MODEL.slugs]

    async def main(pool: ParsePool) -> None:
        await pool.parse(requests[0])
        deadline = time.monotonic() + 60
        while not pool._processes_ready():
            assert time.monotonic() < deadline, "worker processes did not start"
            await asyncio.sleep(0.02)
        assert pool._pool is not None
        for process in list(pool._pool._processes.values()):  # type: ignore[attr-defined]
            process.kill()
            process.join()
        parsed = await asyncio.gather(*(pool.parse(r) for r in requests))
        assert [p.page.url for p in parsed] == [r.url for r in requests]
        assert [p.page for p in parsed] == [parse_and_encode(r).page for r in requests]

    with ParsePool(processes=1, processes_after=0) as pool:
        asyncio.run(main(pool))
    assert pool._broken
