"""The built-in site on several loopback addresses as distinct hosts (issue 18): topics spread
over the hosts, links pointing at each topic's host, the request log with the address each
request arrived on, and its per-host overlap and start-gap checks."""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser

from scraper.archive import Archive
from scraper.cli import main
from scraper.config import load_config_text
from scraper.crawl import crawl
from scraper.testsite import (
    RequestRecord,
    SiteModel,
    SiteStats,
    TestSite,
    info_path,
    related_path,
    render_article,
    render_listing,
)
from scraper.testsite.hosts import crawl_config, host_addresses, page_owner, spread_links
from scraper.testsite.pages import render_category, render_home
from scraper.testsite.stats import max_overlap_per_host, min_start_gap_per_host


def links(html: bytes) -> list[str]:
    tree = LexborHTMLParser(html)
    return ([a.attributes.get("href") or "" for a in tree.css("a")]
            + [i.attributes.get("src") or "" for i in tree.css("img")])


def record(address: str, start: float, end: float, path: str = "/x") -> RequestRecord:
    return RequestRecord("GET", path, path, f"{address}:80", address, start, end, "ua", None,
                         None, 200, 100, None, 1)


def topic_pages(model: SiteModel) -> list[tuple[str, str]]:
    """(slug, path as linked) of every listing page and article."""
    pages = []
    for slug in model.slugs:
        pages += [(slug, related_path(slug, n)) for n in range(1, model.listing_pages(slug) + 1)]
        pages.append((slug, info_path(slug)))
    return pages


# -- pure: addresses, owners, links, the log checks -------------------------------------------

def test_host_addresses_start_at_127_0_0_1() -> None:
    assert host_addresses(1) == ("127.0.0.1",)
    assert host_addresses(4) == ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
    assert host_addresses(254)[-1] == "127.0.0.254"
    for bad in (0, 255):
        with pytest.raises(ValueError, match=f"hosts must be between 1 and 254, got {bad}"):
            host_addresses(bad)
    with pytest.raises(ValueError, match="hosts must be"):
        TestSite(hosts=0)


def test_topic_pages_live_on_host_i_mod_n_and_shared_pages_on_every_host() -> None:
    model = SiteModel(pages=40)
    for i, slug in enumerate(model.slugs):
        for path in (f"/related/{slug}", f"/info/{slug}", f"/img/{slug}.jpg"):
            assert page_owner(model, path, 4) == i % 4, path
    assert page_owner(model, "/related/Russia–NATO Relations", 3) == 1  # decoded, as served
    assert page_owner(model, "/", 4) == 0
    category = page_owner(model, "/category/Military alliances", 4)
    assert category is not None and category == page_owner(model, "/category/Military alliances", 4)
    for shared in ("/robots.txt", "/fault/status/503", "/_control/stats", "/private/notes/X",
                   "/offsite/X", "/w/index.php", "/category/", "/related/No_such_topic"):
        assert page_owner(model, shared, 4) is None, shared


def test_spread_links_points_every_owned_link_at_its_host() -> None:
    model = SiteModel(pages=40)
    origins = tuple(f"http://{a}:8000" for a in host_addresses(4))

    def owner(path: str) -> int | None:
        return page_owner(model, path, 4)

    pages = [render_listing(model, s) for s in model.slugs[:12]]
    pages += [render_article(model, s, origins[i % 4]) for i, s in enumerate(model.slugs[:12])]
    pages += [render_home(model), render_category(model, model.topic("NATO").categories[0])]
    owned = 0
    for page in pages:
        spread = spread_links(page, owner, origins)
        before, after = links(page), links(spread)
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            host = owner(unquote(old.split("?")[0])) if old.startswith("/") else None
            if host is None:
                assert new == old  # shared pages and other sites' links are left alone
            else:
                assert new == origins[host] + old
                owned += 1
    assert owned > 300
    # Links the pages carry, each to its host: listings, articles, images, MORE, home.
    listing = spread_links(render_listing(model, "NATO"), owner, origins).decode()
    assert f'href="{origins[0]}/"' in listing  # HOME
    assert f'src="{origins[1]}/img/' in listing or f'src="{origins[2]}/img/' in listing


def test_max_overlap_per_host_on_a_crafted_log() -> None:
    log = [record("127.0.0.1", 0.0, 1.0), record("127.0.0.1", 0.5, 1.5),
           record("127.0.0.1", 0.6, 0.7),  # three at once at 0.6
           record("127.0.0.1", 1.5, 2.0),  # starts as one ends: not an overlap
           record("127.0.0.2", 0.0, 1.0), record("127.0.0.2", 1.0, 2.0),
           record("127.0.0.3", 5.0, 5.0)]
    assert max_overlap_per_host(log) == {"127.0.0.1": 3, "127.0.0.2": 1, "127.0.0.3": 1}
    assert max_overlap_per_host(list(reversed(log))) == max_overlap_per_host(log)
    assert max_overlap_per_host([]) == {}


def test_min_start_gap_per_host_on_a_crafted_log() -> None:
    log = [record("127.0.0.1", 0.0, 9.0), record("127.0.0.1", 0.25, 0.3),
           record("127.0.0.1", 1.0, 1.1), record("127.0.0.2", 3.0, 3.1),
           record("127.0.0.2", 2.0, 2.1), record("127.0.0.2", 2.5, 2.6),
           record("127.0.0.3", 7.0, 7.5)]
    gaps = min_start_gap_per_host(log)
    assert gaps["127.0.0.1"] == pytest.approx(0.25)
    assert gaps["127.0.0.2"] == pytest.approx(0.5)  # unordered starts are sorted first
    assert gaps["127.0.0.3"] == math.inf  # one request: no gap to break
    assert min_start_gap_per_host([]) == {}


def test_stats_round_trip_through_their_json() -> None:
    stats = SiteStats(requests=1, by_path={"/x": 1}, by_target={"/x": 1},
                      by_method_path={"GET /x": 1}, by_status={200: 1},
                      log=(record("127.0.0.2", 1.5, 2.5),), in_flight=0, max_in_flight=1,
                      max_in_flight_per_host={"127.0.0.2:80": 1}, connections=1,
                      open_connections=0, faults_injected={}, bytes_sent=100)
    assert SiteStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    with pytest.raises(ValueError, match="request record without address"):
        RequestRecord.from_dict({k: v for k, v in stats.log[0].to_dict().items()
                                 if k != "address"})


# -- served --------------------------------------------------------------------------------

def test_one_host_keeps_the_bytes_and_root_relative_links() -> None:
    model = SiteModel(pages=40)
    with TestSite(pages=40, hosts=1) as site, httpx.Client(base_url=site.base_url) as c:
        assert site.hosts == ("127.0.0.1",) and site.base_urls == (site.base_url,)
        for slug in model.slugs[:10]:
            listing = c.get(related_path(slug)).content
            assert listing == render_listing(model, slug)
            assert c.get(info_path(slug)).content == render_article(model, slug, site.base_url)
            assert not any(link.startswith("http://127.") for link in links(listing))
        assert c.get("/").content == render_home(model)
        assert {r.address for r in site.stats().log} == {"127.0.0.1"}


def test_four_hosts_serve_each_topic_on_its_host_and_404_elsewhere() -> None:
    with TestSite(pages=40, hosts=4) as site:
        port = site.port
        assert site.base_urls == tuple(f"http://127.0.0.{k}:{port}" for k in (1, 2, 3, 4))
        clients = [httpx.Client(base_url=url, timeout=10) for url in site.base_urls]
        try:
            for i, (slug, path) in enumerate(topic_pages(site.model)):
                home = site.model.index[slug] % 4
                assert site.url_of(path) == site.base_urls[home] + path
                for k, c in enumerate(clients):
                    if k == home or i % 5 == 0:  # every fifth page asked on every host
                        answer = c.get(path)
                        assert answer.status_code == (200 if k == home else 404), (path, k)
                        if k != home:
                            assert site.base_urls[home] in answer.text
            for c in clients:
                assert c.get("/robots.txt").text.startswith("# robots.txt")
                assert c.get("/_control/settings").json()["base_urls"] == list(site.base_urls)
            assert clients[0].get("/").status_code == 200
            assert clients[1].get("/").status_code == 404
            # Every link a page carries to an owned page names the host that serves it.
            article = clients[2].get(info_path(site.model.slugs[2])).text
            assert (f'rel="canonical" href="{site.base_urls[2]}{info_path(site.model.slugs[2])}"'
                    in article)
            linked = set()
            for slug in site.model.slugs[:8]:
                home = clients[site.model.index[slug] % 4]
                linked |= {link for link in links(home.get(related_path(slug)).content)
                           if link.startswith("http://127.")}
            by_host = {urlsplit(u).hostname: c for u, c in zip(site.base_urls, clients,
                                                                 strict=True)}
            for link in linked:
                parts = urlsplit(link)
                answer = by_host[parts.hostname].get(link)
                assert answer.status_code == 200, link
            assert {urlsplit(link).hostname for link in linked} == set(site.hosts)
        finally:
            for c in clients:
                c.close()
        log = site.stats().log
        assert {r.address for r in log} == set(site.hosts)
        assert all(r.host.endswith(f":{port}") and r.host.startswith(r.address) for r in log)


def test_a_port_taken_on_one_address_names_that_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.3", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"cannot listen on 127\.0\.0\.3:{port}"):
            TestSite(pages=5, hosts=3, port=port).start()
        with socket.socket() as probe:  # the addresses bound before it were let go
            probe.bind(("127.0.0.1", port))


# -- crawled -------------------------------------------------------------------------------

def _check_crawl(model: SiteModel, base_urls: tuple[str, ...], stored: set[str],
                 log: tuple[RequestRecord, ...], concurrency: int, delay: float) -> None:
    expected = {base_urls[model.index[slug] % len(base_urls)] + path
                for slug, path in topic_pages(model)}
    assert {unquote(u) for u in stored} == {unquote(u) for u in expected}
    pages = [r for r in log if r.path != "/robots.txt"]
    assert all(r.status == 200 for r in pages), [r for r in pages if r.status != 200][:3]
    fetched = Counter((r.address, r.target) for r in pages)
    assert len(fetched) == len(expected) and set(fetched.values()) == {1}  # each once
    robots = Counter(r.address for r in log if r.path == "/robots.txt")
    assert robots == dict.fromkeys(host_addresses(len(base_urls)), 1)
    overlap = max_overlap_per_host(pages)
    assert set(overlap) == set(host_addresses(len(base_urls)))
    assert max(overlap.values()) <= concurrency
    # The crawler spaces the starts it grants, not the bytes on the wire: a request granted
    # first may be written later (its loop busy, or the site's thread waiting for the GIL),
    # so starts as the site reads them come closer than `delay` (measured with delay 0.05:
    # 0.041 s apart with the site in its own process, 0.019 s in the crawler's). Without the
    # delay they would come ~0 s apart.
    assert min(min_start_gap_per_host(pages).values()) >= delay - 0.06


def _stored_urls(db: Path) -> set[str]:
    with Archive.open(str(db)) as archive:
        return {snap.url for _, snap, _ in archive.iter_versions()}


def test_a_crawl_of_four_hosts_reaches_every_topic_once_politely(tmp_path: Path) -> None:
    with TestSite(pages=40, hosts=4, latency_ms=20) as site:
        text = site.crawl_config(concurrency=2, delay=0.1)
        assert "domains: [127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4]" in text
        config = load_config_text(text, "hosts.yaml")
        with Archive.open(str(tmp_path / "a.db")) as archive:
            result = asyncio.run(crawl([config], archive))[0]
        assert result.status == "completed" and result.stats.failed == 0
        _check_crawl(site.model, site.base_urls, _stored_urls(tmp_path / "a.db"),
                     site.stats().log, concurrency=2, delay=0.1)


def test_scraper_crawl_of_a_scraper_testsite_process_on_four_hosts(tmp_path: Path) -> None:
    # The site and the crawl in their own processes, the log read through /_control/stats.
    site = subprocess.Popen([sys.executable, "-m", "scraper", "testsite", "--port", "0",
                             "--pages", "40", "--hosts", "4", "--latency-ms", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert site.stdout is not None
        base_urls = tuple(site.stdout.readline().strip() for _ in range(4))
        port = urlsplit(base_urls[0]).port
        assert base_urls == tuple(f"http://127.0.0.{k}:{port}" for k in (1, 2, 3, 4))
        settings = httpx.get(base_urls[3] + "/_control/settings", timeout=10).json()
        assert settings["base_urls"] == list(base_urls)
        config = tmp_path / "hosts.yaml"
        hosts = tuple(urlsplit(u).hostname or "" for u in base_urls)
        config.write_text(crawl_config("hosts", base_urls[0] + "/related/NATO", hosts,
                                       delay=0.1))
        started = time.monotonic()
        crawl_run = subprocess.run([sys.executable, "-m", "scraper", "crawl", str(config),
                                    "--archive", str(tmp_path / "a.db")],
                                   check=False, capture_output=True, text=True,
                                   timeout=300)
        assert crawl_run.returncode == 0, crawl_run.stderr
        assert time.monotonic() - started < 120
        stats = SiteStats.from_dict(httpx.get(base_urls[2] + "/_control/stats",
                                              timeout=10).json())
    finally:
        site.terminate()
        site.communicate(timeout=60)
    _check_crawl(SiteModel(pages=40), base_urls, _stored_urls(tmp_path / "a.db"), stats.log,
                 concurrency=4, delay=0.1)


def test_cli_hosts_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["testsite", "--hosts", "0"])
    assert result.exit_code == 2 and "--hosts" in result.output
    result = CliRunner().invoke(main, ["testsite", "--hosts", "255"])
    assert result.exit_code == 2 and "--hosts" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["testsite", "--hosts", "2", "--port", str(port)])
    assert result.exit_code == 1
    assert re.search(rf"cannot serve on 127\.0\.0\.1 \.\. 127\.0\.0\.2:{port}: .*"
                     rf"cannot listen on 127\.0\.0\.2:{port}", result.output), result.output
