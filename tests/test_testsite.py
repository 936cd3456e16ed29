"""The built-in encyclopedia site: content, markups, articles, HTTP, edits, stats, faults, control."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.testsite import (
    MARKUPS,
    ROBOTS_TXT,
    SiteModel,
    TestSite,
    info_path,
    related_path,
    render_article,
    render_listing,
)
from scraper.testsite.fault_urls import TRICKY_TEXT

SEED_PAGE = Path("/work/shared/seed/infolist-page.txt")
if not SEED_PAGE.exists():
    SEED_PAGE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "infolist-page.txt"


def words(text: str) -> str:
    return " ".join(text.split())


def visible_text(html: bytes) -> str:
    tree = LexborHTMLParser(html)
    return words(tree.body.text(separator=" ")) if tree.body else ""


def hrefs(html: bytes) -> list[str]:
    return [a.attributes.get("href") or "" for a in LexborHTMLParser(html).css("a")]


def client(site: TestSite, **kw: object) -> httpx.Client:
    return httpx.Client(base_url=site.base_url, timeout=10, **kw)  # type: ignore[arg-type]


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes
    ended: str  # "complete", "eof", "reset" or "timeout"


def raw_request(site: TestSite, path: str, *, method: str = "GET", timeout: float = 5.0,
                extra: str = "") -> Raw:
    """One request over a plain socket, reading whatever comes and how it ends."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=timeout) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
        data = b""
        ended = "eof"
        try:
            while True:
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0:
                    m = re.search(rb"(?i)content-length: *(\d+)", data[:head_end])
                    if m and len(data) - head_end - 4 >= int(m.group(1)):
                        ended = "complete"
                        break
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            ended = "reset"
        except TimeoutError:
            ended = "timeout"
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0] else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return Raw(status, headers, body, ended)


# -- content -------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_other_content() -> None:
    a, b, c = SiteModel(seed=7, pages=80), SiteModel(seed=7, pages=80), SiteModel(seed=8, pages=80)
    assert a.titles == b.titles and a.titles != c.titles
    for slug in a.slugs[::9]:
        for markup in MARKUPS:
            assert render_listing(a, slug, markup=markup) == render_listing(b, slug, markup=markup)
        assert render_article(a, slug) == render_article(b, slug)
    assert a.titles[:4] == ("NATO", "Russia–NATO Relations", "Warsaw Pact", "Cold War")


def test_content_does_not_depend_on_the_hash_seed() -> None:
    script = ("import hashlib; from scraper.testsite import SiteModel, render_listing, "
              "render_article; m = SiteModel(seed=3, pages=120, page_kb=30); h = hashlib.sha256()\n"
              "for s in m.slugs[::11]: h.update(render_listing(m, s)); h.update(render_article(m, s))\n"
              "print(h.hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": str(n)}).stdout
               for n in (1, 2)}
    assert len(digests) == 1 and len(digests.pop()) == 65


def test_listing_of_the_seed_topic_reproduces_the_seed_page() -> None:
    seed = words(SEED_PAGE.read_text(encoding="utf-8"))
    assert seed.endswith(" MORE")
    page = visible_text(render_listing(SiteModel(), "Russia–NATO Relations"))
    # The seed shows the first two entries, then MORE; our page has more entries before MORE.
    assert page.startswith(seed.removesuffix(" MORE"))
    assert re.search(r"\[Baidu\] MORE ", page)


def test_listing_shape_entries_links_and_pagination() -> None:
    model = SiteModel()
    slug = next(s for s in model.slugs if len(model.topic(s).related) > 10)
    topic = model.topic(slug)
    page1 = render_listing(model, slug)
    tree = LexborHTMLParser(page1)
    assert tree.css_first("title").text().startswith(topic.title)
    assert tree.css_first("a").attributes["href"] == "/" and tree.css_first("a").text() == "HOME"
    entries = tree.css("div.entry")
    assert len(entries) == 11  # the topic itself, then 10 related
    titles = [e.css_first("b").text() for e in entries]
    assert titles == [topic.title] + [model.topic(s).title for s in topic.related[:10]]
    first = entries[0]
    img = first.css_first("img")
    assert img.attributes == {"src": f"/img/{slug}.jpg", "alt": "picture info", "width": "120"}
    assert "picture info" in first.text()
    links = {a.text(): a.attributes["href"] for a in first.css("a")}
    assert links["[...More Info...]"] == info_path(slug)
    assert links["[...Related Items...]"] == related_path(slug)
    assert links["[Wikipedia]"].startswith("https://en.wikipedia.org/wiki/")
    assert links["[Google]"].startswith("https://www.google.com/search?q=")
    assert links["[Baidu]"].startswith("https://www.baidu.com/s?wd=")
    assert " OR: " in f" {words(first.text(separator=' '))} "
    more = [a for a in tree.css("a") if a.text() == "MORE"]
    assert more and more[0].attributes["href"] == f"{related_path(slug)}?page=2"
    last = model.listing_pages(slug)
    tail = LexborHTMLParser(render_listing(model, slug, last))
    assert tail.css("div.entry b")[0].text() == topic.title  # every page starts with the topic
    assert not [a for a in tail.css("a") if a.text() == "MORE"]
    with pytest.raises(KeyError):
        render_listing(model, slug, last + 1)


def test_summaries_carry_the_mirrors_conversion_debris() -> None:
    model = SiteModel()
    summaries = [model.topic(s).summary() for s in model.slugs]
    texts = [s for s, _ in summaries]
    assert any("''" in s for s in texts)
    assert any(re.search(r"\b(\w[\w ]*), \w", s) and "Transnationalism, transnational" in s
               for s in texts)
    assert any("motto is ." in s for s in texts)
    assert all(s.endswith(" ...") for s, cut in summaries if cut)
    assert 60 <= sum(cut for _, cut in summaries) <= 180  # most cut, some shown whole


def test_three_markups_show_the_same_text_and_links() -> None:
    model = SiteModel(pages=120, page_kb=None)
    for slug in model.slugs[:40]:
        pages = {m: render_listing(model, slug, markup=m) for m in MARKUPS}
        texts = {m: visible_text(p) for m, p in pages.items()}
        links = {m: hrefs(p) for m, p in pages.items()}
        images = {m: [i.attributes["src"] for i in LexborHTMLParser(p).css("img")]
                  for m, p in pages.items()}
        assert texts["divs"] == texts["table"] == texts["bare"], slug
        assert links["divs"] == links["table"] == links["bare"], slug
        assert images["divs"] == images["table"] == images["bare"], slug
        bare = LexborHTMLParser(pages["bare"]).body
        assert bare is not None
        assert {n.tag for n in bare.traverse() if n.tag != "-text"} <= {"body", "br", "b", "a",
                                                                         "img"}
        assert not [n for n in bare.traverse() if "class" in n.attributes or "id" in n.attributes]
        assert len(LexborHTMLParser(pages["table"]).css("tr td img")) == len(
            LexborHTMLParser(pages["divs"]).css("div.entry"))


def test_padded_pages_keep_their_visible_text_equal_across_markups() -> None:
    model = SiteModel(pages=300, page_kb=60)
    slug = model.slugs[40]
    texts = {visible_text(render_listing(model, slug, markup=m)) for m in MARKUPS}
    assert len(texts) == 1


def test_every_topic_is_reachable_from_nato_by_related_items() -> None:
    model = SiteModel(pages=200)
    seen: set[str] = set()
    todo = [related_path("NATO")]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        slug_part, _, query = path.removeprefix("/related/").partition("?")
        page = int(query.removeprefix("page=")) if query else 1
        from urllib.parse import unquote
        tree = LexborHTMLParser(render_listing(model, unquote(slug_part), page))
        for a in tree.css("a"):
            if a.text() in ("[...Related Items...]", "MORE"):
                todo.append(a.attributes["href"] or "")
    reached = {p.partition("?")[0] for p in seen}
    assert reached == {related_path(s) for s in model.slugs}


def test_article_is_mediawiki_139_legacy_vector_markup() -> None:
    model = SiteModel()
    topic = model.topic("NATO")
    html = render_article(model, "NATO", "http://127.0.0.1:8000")
    tree = LexborHTMLParser(html)
    assert tree.css_first('meta[name="generator"]').attributes["content"].startswith(
        "MediaWiki 1.39.")
    conf = re.search(rb"RLCONF=(\{.*?\});RLSTATE", html)
    assert conf is not None
    rl = json.loads(conf.group(1))
    assert rl["wgRevisionId"] == topic.revision_id and rl["wgCategories"] == list(topic.categories)
    assert tree.css_first('link[rel="canonical"]').attributes["href"] == \
        "http://127.0.0.1:8000/info/NATO"
    assert tree.css_first('meta[property="og:image"]').attributes["content"] == \
        "http://127.0.0.1:8000/img/NATO.jpg"
    assert tree.css_first("h1#firstHeading").text() == "NATO"
    output = tree.css_first("#mw-content-text > .mw-parser-output")
    first = next(n for n in output.iter() if n.tag != "-text")
    assert first.tag == "table" and "infobox" in (first.attributes["class"] or "")
    infobox = {r.css_first("th").text(): r.css_first("td").text()
               for r in output.css("table.infobox tr") if r.css_first("th.infobox-label")}
    assert infobox == dict(topic.infobox)
    lead = next(p for p in output.css("p") if p.text().strip())
    assert lead.text().startswith("The North Atlantic Treaty Organization (NATO")
    assert lead.css_first("sup.reference").text() == "[1]"
    see_also = output.css_first("h2 span.mw-headline#See_also")
    assert see_also is not None and see_also.text() == "See also"
    see_links = [a.attributes["href"] for a in see_also.parent.next.next.css("a")]  # type: ignore
    assert see_links == [info_path(s) for s in topic.related]
    assert output.css_first("span.mw-headline#References") is not None
    assert output.css_first("ol.references li") is not None
    cats = [a.text() for a in tree.css("#catlinks li a")]
    assert cats == list(topic.categories)


def test_every_article_has_an_infobox_a_cited_lead_see_also_and_categories() -> None:
    model = SiteModel(pages=120)
    for slug in model.slugs:
        tree = LexborHTMLParser(render_article(model, slug))
        output = tree.css_first(".mw-parser-output")
        assert output.css_first("table.infobox") is not None, slug
        lead = next(p for p in output.css("p") if p.text().strip()
                    and not p.css_first("#coordinates"))
        assert lead.css_first("sup.reference") is not None, slug
        assert output.css_first("#See_also") is not None, slug
        assert tree.css("#catlinks li"), slug


def test_padded_pages_are_40_to_80_kb_with_50_to_200_links() -> None:
    model = SiteModel(pages=2000, page_kb=60)
    for slug in model.slugs[::97]:
        for html in [render_listing(model, slug, markup=m) for m in MARKUPS] + [
                render_article(model, slug)]:
            assert 40 * 1024 <= len(html) <= 80 * 1024, (slug, len(html))
            assert 50 <= html.count(b"<a ") <= 200, (slug, html.count(b"<a "))


def test_some_pages_link_out_of_scope_and_none_to_control() -> None:
    model = SiteModel(pages=60)
    found: set[str] = set()
    for slug in model.slugs:
        for html in (render_listing(model, slug), render_article(model, slug)):
            for href in hrefs(html):
                assert "/_control" not in href
                for kind in ("/private/", "/offsite/", "http://elsewhere.invalid/"):
                    if href.startswith(kind):
                        found.add(kind)
    assert found == {"/private/", "/offsite/", "http://elsewhere.invalid/"}


# -- HTTP ----------------------------------------------------------------------------------


def test_robots_home_404_and_methods(testsite: TestSite) -> None:
    with client(testsite) as c:
        robots = c.get("/robots.txt")
        assert robots.content == ROBOTS_TXT
        assert "User-agent: *\nDisallow: /private/\n" in robots.text
        assert "Disallow: /_control/" in robots.text
        home = c.get("/")
        assert "/related/NATO" in hrefs(home.content)
        assert c.get("/related/No_such_topic").status_code == 404
        assert c.get("/related/NATO?page=99").status_code == 404
        assert c.post("/related/NATO").status_code == 405
        head = c.head("/info/NATO")
        get = c.get("/info/NATO")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]
        assert c.get("/info/Russia%E2%80%93NATO_Relations").status_code == 200
        assert c.get("/img/NATO.jpg").content[:2] == b"\xff\xd8"


def test_served_pages_equal_the_pure_renderings(testsite: TestSite) -> None:
    model = SiteModel()
    with client(testsite) as c:
        for slug in ("NATO", "Cold_War", model.slugs[150]):
            assert c.get(related_path(slug)).content == render_listing(model, slug)
            assert c.get(info_path(slug)).content == render_article(model, slug,
                                                                    testsite.base_url)


def test_conditional_get_answers_304(testsite: TestSite) -> None:
    with client(testsite) as c:
        first = c.get("/related/NATO")
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert re.fullmatch(r'"[0-9a-f]{20}"', etag)
        for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"x", W/{etag}'},
                        {"If-Modified-Since": modified}):
            again = c.get("/related/NATO", headers=headers)
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag
        assert c.get("/related/NATO", headers={"If-None-Match": '"other"'}).status_code == 200
        older = formatdate(parsedate_to_datetime(modified).timestamp() - 60, usegmt=True)
        assert c.get("/related/NATO", headers={"If-Modified-Since": older}).status_code == 200


def test_edits_make_new_revisions_and_move_validators(testsite: TestSite) -> None:
    model = SiteModel()
    referrer = next(s for s in model.slugs if "Cold_War" in model.topic(s).related)
    with client(testsite) as c:
        old = {p: c.get(p) for p in ("/info/Cold_War", "/related/Cold_War",
                                     related_path(referrer))}
        before = testsite.topic("Cold_War")
        topic = testsite.edit("Cold War", prepend_sentence="Breaking news from the test.")
        assert topic.revision == before.revision + 1 and topic.revision_id > before.revision_id
        for path, response in old.items():
            new = c.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert new.status_code == 200, path
            assert new.headers["etag"] != response.headers["etag"]
            assert parsedate_to_datetime(new.headers["last-modified"]) > parsedate_to_datetime(
                response.headers["last-modified"])
            assert "Breaking news from the test." in new.text
        assert f'"wgRevisionId":{topic.revision_id}' in c.get("/info/Cold_War").text
        # the listing's entries follow add/remove
        testsite.edit("Cold_War", add_entry="Brussels")
        assert "/related/Brussels" in hrefs(c.get("/related/Cold_War").content)
        testsite.edit("Cold_War", remove_related="Brussels")
        assert "/related/Brussels" not in hrefs(c.get("/related/Cold_War").content)
        testsite.edit("Cold_War", infobox={"Date": "1947–1991"}, reorder_sections=True)
        assert "1947–1991" in c.get("/info/Cold_War").text
        etag = c.get("/info/Cold_War").headers["etag"]
        testsite.edit("Cold_War", touch=True)  # a null revision still moves the revision id
        assert c.get("/info/Cold_War", headers={"If-None-Match": etag}).status_code == 200
        with pytest.raises(KeyError):
            testsite.edit("No such topic", touch=True)
        with pytest.raises(ValueError):
            testsite.edit("Cold_War")
        testsite.reset(content=True)
        assert c.get("/related/Cold_War").content == old["/related/Cold_War"].content


def test_volatile_footer_changes_bytes_but_not_content(testsite: TestSite) -> None:
    with client(testsite) as c:
        plain = c.get("/related/NATO").content
        assert c.get("/related/NATO").content == plain
        testsite.volatile_footer = True
        a, b = c.get("/related/NATO"), c.get("/info/NATO")
        a2, b2 = c.get("/related/NATO"), c.get("/info/NATO")
        assert a.content != a2.content and a.headers["etag"] != a2.headers["etag"]
        assert b.content != b2.content
        strip = re.compile(rb" Generated [^<]*|<li id=\"footer-info-served\">[^<]*</li>\n")
        assert strip.sub(b"", a.content) == strip.sub(b"", a2.content) == plain
        assert strip.sub(b"", b.content) == strip.sub(b"", b2.content)


def test_markup_switch_while_running(testsite: TestSite) -> None:
    with client(testsite) as c:
        divs = c.get("/related/NATO").content
        assert c.post("/_control/markup", json={"markup": "table"}).json() == {"markup": "table"}
        table = c.get("/related/NATO").content
        testsite.markup = "bare"
        bare = c.get("/related/NATO").content
        assert b'class="entry"' in divs and b"<tr>" in table and b"class=" not in bare
        assert visible_text(divs) == visible_text(table) == visible_text(bare)
        assert c.post("/_control/markup", json={"markup": "nope"}).status_code == 400


def test_keep_alive_pipelining_and_http10(testsite: TestSite) -> None:
    with socket.create_connection(("127.0.0.1", testsite.port), timeout=5) as sock:
        sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
                              for p in ("/robots.txt", "/related/NATO", "/robots.txt")))
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 3 or not data.endswith(ROBOTS_TXT):
            data += sock.recv(65536)
        assert data.count(b"Connection: keep-alive") == 3
    with socket.create_connection(("127.0.0.1", testsite.port), timeout=5) as sock:
        sock.sendall(b"GET /robots.txt HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.endswith(ROBOTS_TXT) and b"Connection: close" in data
    for request, status in ((b"GET /robots.txt HTTP/1.1\r\nHost: t\r\n\r\nNONSENSE\r\n\r\n", 400),
                            (b"GET / HTTP/1.1\r\nX: " + b"x" * 70000, 431)):
        with socket.create_connection(("127.0.0.1", testsite.port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.count(b"HTTP/1.1 ") == (2 if status == 400 else 1)
        assert f"HTTP/1.1 {status} ".encode() in data
    assert testsite.stats().connections == 4 and testsite.stats().requests == 5


def test_stats_count_requests_log_and_concurrency(testsite_factory: Callable[..., TestSite],
                                                  ) -> None:
    site = testsite_factory(pages=30, latency_ms=300)
    with client(site) as c:
        c.get("/related/NATO", headers={"User-Agent": "stats-test/1", "If-None-Match": '"x"'})
        c.get("/related/NATO", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})
        c.get("/info/NATO")
        c.get("/_control/stats")  # control requests are not counted
    results: list[int] = []
    together = threading.Barrier(5)

    def fetch(host: str) -> None:
        with httpx.Client(timeout=10) as c2:
            together.wait()  # all five start within the site's 300 ms latency
            r = c2.get(site.url("/robots.txt"), headers={"Host": host})
            results.append(r.status_code)

    threads = [threading.Thread(target=fetch, args=(h,)) for h in ["a"] * 3 + ["b"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = site.stats()
    assert results == [200] * 5
    assert stats.requests == 8 and stats.count("/related/NATO") == 2
    assert stats.count("/info/NATO", "GET") == 1 and stats.by_status == {200: 8}
    assert stats.max_in_flight == 5 and stats.in_flight == 0
    assert stats.max_in_flight_per_host == {site.url("").removeprefix("http://").rstrip("/"): 1,
                                            "a": 3, "b": 2}
    assert stats.connections == 6
    first = stats.log[0]
    assert (first.path, first.user_agent, first.if_none_match, first.status) == (
        "/related/NATO", "stats-test/1", '"x"', 200)
    assert stats.log[1].if_modified_since == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert first.bytes_sent > 1000 and first.end - first.start >= 0.25  # the latency
    assert sum(r.bytes_sent for r in stats.log) == stats.bytes_sent
    with client(site) as c:
        remote = c.get("/_control/stats").json()
    assert remote["requests"] == 8 and remote["max_in_flight"] == 5
    assert len(remote["log"]) == 8 and remote["log"][0]["user_agent"] == "stats-test/1"
    site.reset_stats()
    assert site.stats().requests == 0 and site.stats().log == ()


# -- fault URLs ------------------------------------------------------------------------------


def test_fault_status_sequence_per_key(testsite: TestSite) -> None:
    with client(testsite) as c:
        got = [c.get("/fault/status/503,502,200/a").status_code for _ in range(4)]
        assert got == [503, 502, 200, 200]
        assert c.get("/fault/status/503,502,200/b").status_code == 503
        assert c.get("/fault/status/404").status_code == 404
    assert testsite.stats().faults_injected == {"status": 4}


def test_fault_retry_after_seconds_and_date(testsite: TestSite) -> None:
    with client(testsite) as c:
        first = c.get("/fault/retry-after/2/k")
        assert first.status_code == 429 and first.headers["retry-after"] == "2"
        assert c.get("/fault/retry-after/2/k").status_code == 200
        dated = c.get("/fault/retry-after-date/3/k")
        when = parsedate_to_datetime(dated.headers["retry-after"]).timestamp()
        assert dated.status_code == 429 and 1 <= when - time.time() <= 5
        assert c.get("/fault/retry-after-date/3/k").status_code == 200
        twice = [c.get("/fault/retry-after/1/m?count=2&status=503").status_code for _ in range(3)]
        assert twice == [503, 503, 200]


def test_fault_slow_stall_timeout_truncated_reset_empty(testsite: TestSite) -> None:
    start = time.monotonic()
    slow = raw_request(testsite, "/fault/slow-body/1000?size=600")
    assert slow.ended == "complete" and len(slow.body) == 600
    assert time.monotonic() - start >= 0.5  # trickled at 1000 B/s
    stalled = raw_request(testsite, "/fault/stall", timeout=0.5)
    assert stalled.status == 200 and int(stalled.headers["content-length"]) > 0
    assert stalled.body == b"" and stalled.ended == "timeout"
    silent = raw_request(testsite, "/fault/timeout", timeout=0.5)
    assert silent.status == 0 and silent.ended == "timeout"
    cut = raw_request(testsite, "/fault/truncated")
    assert cut.ended == "eof" and len(cut.body) == 2000
    assert int(cut.headers["content-length"]) == 10000
    reset = raw_request(testsite, "/fault/reset")
    assert reset.ended == "reset" and len(reset.body) < int(reset.headers.get("content-length",
                                                                              "1"))
    empty = raw_request(testsite, "/fault/empty")
    assert empty.status == 0 and empty.ended == "eof"
    with client(testsite) as c, pytest.raises(httpx.RemoteProtocolError):
        c.get("/fault/truncated")


def test_fault_redirects(testsite: TestSite) -> None:
    with client(testsite) as c:
        chain = c.get("/fault/redirect-chain/4", follow_redirects=True)
        assert chain.status_code == 200 and len(chain.history) == 4
        assert chain.url.path == "/related/NATO"
        to = c.get("/fault/redirect-chain/2?to=/info/Cold_War", follow_redirects=True)
        assert to.url.path == "/info/Cold_War" and len(to.history) == 2
        loop = [c.get("/fault/redirect-loop/3").headers["location"]]
        for _ in range(3):
            loop.append(c.get(loop[-1]).headers["location"])
        assert loop[0] == loop[3] and len(set(loop)) == 3
        with pytest.raises(httpx.TooManyRedirects):
            c.get("/fault/redirect-loop/2", follow_redirects=True)
        private = c.get("/fault/redirect-to?url=http://169.254.169.254/latest/")
        assert private.status_code == 302
        assert private.headers["location"] == "http://169.254.169.254/latest/"


def test_fault_bodies(testsite: TestSite) -> None:
    with client(testsite) as c:
        pdf = c.get("/fault/non-html")
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
        image = c.get("/fault/image")
        assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
        binary = c.get("/fault/binary-as-html")
        assert binary.headers["content-type"].startswith("text/html")
        with pytest.raises(UnicodeDecodeError):
            binary.content.decode("utf-8")
        bad = c.get("/fault/invalid-utf8")
        assert "charset=utf-8" in bad.headers["content-type"]
        with pytest.raises(UnicodeDecodeError):
            bad.content.decode("utf-8")
        lying = c.get("/fault/lying-charset")
        assert "charset=utf-8" in lying.headers["content-type"]
        assert TRICKY_TEXT.replace(" Kraków", "") in lying.content.decode("windows-1252")
        with pytest.raises(UnicodeDecodeError):
            lying.content.decode("utf-8")
        meta = c.get("/fault/lying-charset/meta")
        assert "charset" not in meta.headers["content-type"]
        assert b'<meta charset="windows-1252">' in meta.content
        assert TRICKY_TEXT in meta.content.decode("utf-8")
        links = c.get("/fault/many-links/100000").content
        assert links.count(b"<a ") == 100_000
        assert c.get("/fault/many-links/target/5").status_code == 200
        deep = c.get("/fault/deep-nesting/50000").content
        assert deep.count(b"<div>") == deep.count(b"</div>") == 50_000
        attr = c.get("/fault/huge-attribute/3000000").content
        assert len(attr) > 3_000_000 and b'title="' + b"A" * 1000 in attr
        assert b"\x00" in c.get("/fault/nul-bytes").content
        odd = hrefs(c.get("/fault/private-links").content)
        assert {"http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                "http://192.168.1.1/", f"http://[::1]:{testsite.port}/",
                f"http://localhost:{testsite.port}/", "file:///etc/passwd",
                "javascript:alert(1)"} <= set(odd)
        assert c.get("/fault/no-such-fault").status_code == 404
        assert c.get("/fault/").status_code == 200


def test_fault_huge_body_is_streamed_in_flat_memory(testsite: TestSite) -> None:
    size = 256 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path in (f"/fault/huge/{size}", f"/fault/huge/{size}?chunked=1"):
        with socket.create_connection(("127.0.0.1", testsite.port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            buf = bytearray(1 << 20)
            total = 0
            while n := sock.recv_into(buf):
                total += n
        assert total > size
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 64 * 1024, f"peak RSS grew by {grown_kb} KB while serving 2 x 256 MB"
    assert testsite.stats().by_status == {200: 2}


def test_fault_compression_bombs(testsite: TestSite) -> None:
    size = 64 << 20
    with client(testsite) as c:
        for kind in ("gzip", "brotli"):
            with c.stream("GET", f"/fault/{kind}-bomb/{size}") as r:
                raw = b"".join(r.iter_raw())
                assert r.headers["content-encoding"] == ("gzip" if kind == "gzip" else "br")
            assert len(raw) < size // 500
            expanded = (len(zlib.decompress(raw, 31)) if kind == "gzip"
                        else len(brotli.decompress(raw)))
            assert expanded == size
        with c.stream("GET", "/fault/gzip-bomb") as r:  # the default: 1 GiB
            raw = b"".join(r.iter_raw())
        assert len(raw) < 2 << 20
        out = zlib.decompressobj(31).decompress(raw, 1 << 20)
        assert out.startswith(b"<!DOCTYPE html>") and out.endswith(b" " * 1000)


# -- fault switches on normal pages -----------------------------------------------------------


def test_transient_status_fault_by_pattern(testsite: TestSite) -> None:
    rule = testsite.add_fault("status", r"^/related/Cold_War", status=503, count=2)
    with client(testsite) as c:
        got = [c.get("/related/Cold_War").status_code for _ in range(3)]
        assert got == [503, 503, 200] and c.get("/related/NATO").status_code == 200
    assert testsite.fault_rules()[0].fired == 2 and rule.id == 1
    stats = testsite.stats()
    assert stats.faults_injected == {"status": 2}
    assert [r.fault for r in stats.log] == ["status", "status", None, None]


def test_probabilistic_faults_are_seeded_and_counted(testsite_factory: Callable[..., TestSite],
                                                     ) -> None:
    outcomes = []
    for _ in range(2):
        site = testsite_factory(pages=40)
        site.add_fault("status", "^/info/", probability=0.1, status=[500, 502, 503])
        site.add_fault("retry-after", "^/related/", probability=0.1, retry_after=1)
        with client(site) as c:
            statuses = [c.get(info_path(s) if i % 2 else related_path(s)).status_code
                        for i, s in enumerate(site.model.slugs * 5)]
        stats = site.stats()
        bad = sum(1 for s in statuses if s != 200)
        assert stats.faults_total == bad and 5 <= bad <= 40
        assert stats.faults_injected["retry-after"] == statuses.count(429)
        assert {s for s in statuses if s not in (200, 429)} <= {500, 502, 503}
        outcomes.append(statuses)
    assert outcomes[0] == outcomes[1]


def test_burst_keeps_a_hit_path_failing(testsite: TestSite) -> None:
    testsite.add_fault("status", "^/info/", probability=1.0, burst=3, count=3, status=502)
    with client(testsite) as c:
        got = [c.get("/info/NATO").status_code for _ in range(4)]
    assert got == [502, 502, 502, 200]


@pytest.mark.parametrize(("kind", "options", "expect"), [
    ("truncate", {}, "eof"), ("reset", {}, "reset"), ("stall", {}, "timeout"),
    ("timeout", {}, "timeout"), ("close", {}, "eof"), ("slow-body", {"bytes_per_s": 50000},
                                                       "complete"),
    ("latency", {"delay_ms": 200}, "complete"),
])
def test_fault_kinds_on_a_normal_page(testsite: TestSite, kind: str, options: dict[str, object],
                                      expect: str) -> None:
    testsite.add_fault(kind, "^/related/NATO$", count=1, **options)
    got = raw_request(testsite, "/related/NATO", timeout=1.0)
    assert got.ended == expect
    if expect == "complete":
        assert got.body == render_listing(SiteModel(), "NATO")
    again = raw_request(testsite, "/related/NATO")
    assert again.ended == "complete" and again.status == 200
    assert testsite.stats().faults_injected == {kind: 1}


def test_redirect_and_retry_after_rules(testsite: TestSite) -> None:
    testsite.add_fault("redirect", "^/info/NATO$", location="/info/Cold_War", count=1)
    testsite.add_fault("retry-after", "^/related/NATO$", retry_after=7, retry_after_date=True,
                       count=1)
    with client(testsite) as c:
        moved = c.get("/info/NATO")
        assert moved.status_code == 302 and moved.headers["location"] == "/info/Cold_War"
        busy = c.get("/related/NATO")
        assert busy.status_code == 429 and parsedate_to_datetime(busy.headers["retry-after"])


# -- control endpoints ------------------------------------------------------------------------


def test_control_endpoints(testsite: TestSite) -> None:
    with client(testsite) as c:
        edited = c.post("/_control/edit", json={"slug": "Warsaw Pact",
                                                "summary": "A new lead about [[NATO]]."})
        assert edited.status_code == 200 and edited.json()["revision"] >= 4
        assert edited.json()["summary"] == "A new lead about NATO."
        assert "A new lead about" in c.get("/related/Warsaw_Pact").text
        assert c.post("/_control/edit", json={"slug": "Nope", "touch": True}).status_code == 404
        assert c.post("/_control/edit", json={"slug": "NATO", "bogus": 1}).status_code == 400
        assert c.post("/_control/edit", content=b"{not json").status_code == 400
        added = c.post("/_control/faults", json={"kind": "status", "pattern": "^/info/",
                                                 "status": 500, "count": 1})
        assert added.json()["rules"][0]["id"] == 1
        assert c.get("/info/NATO").status_code == 500
        assert c.get("/_control/faults").json()["rules"][0]["fired"] == 1
        assert c.post("/_control/faults", json={"kind": "nope"}).status_code == 400
        assert c.post("/_control/faults", json={"clear": True}).json() == {"rules": []}
        settings = c.post("/_control/settings", json={"latency_ms": 5, "volatile_footer": True})
        assert settings.json()["latency_ms"] == 5 and testsite.volatile_footer
        topics = c.get("/_control/topics").json()["topics"]
        assert len(topics) == 200 and topics[0]["slug"] == "NATO"
        assert c.get("/_control/topic/Warsaw_Pact").json()["lead"] == "A new lead about [[NATO]]."
        assert c.get("/_control/stats?log=0").json()["log"] == []
        assert c.post("/_control/reset", json={"content": True, "faults": True}).json() == {
            "ok": True}
        assert c.get("/_control/nothing").status_code == 404
        requests = c.get("/_control/stats").json()["requests"]
    assert requests == 0  # reset, and control requests are never counted


# -- life cycle ---------------------------------------------------------------------------------


def test_async_start_inside_a_running_loop() -> None:
    async def main() -> bytes:
        async with TestSite(pages=10) as site:
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            writer.write(b"GET /robots.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = await reader.read()
            writer.close()
            assert site.stats().requests == 1
            return data

    assert asyncio.run(main()).endswith(ROBOTS_TXT)


def test_start_is_quick_and_stop_frees_the_port() -> None:
    started = time.monotonic()
    site = TestSite()
    site.start()
    assert time.monotonic() - started < 5  # usually a few milliseconds
    port = site.port
    model = site.model
    assert site.prerender() == model.pages + sum(model.listing_pages(s) for s in model.slugs)
    site.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError):
        _ = site.base_url


@pytest.mark.parametrize(("signum", "sigint_at_start"), [
    (signal.SIGINT, signal.SIG_DFL),
    # As a non-interactive shell starts a job in the background (`scraper testsite &`): the
    # site then ignored Ctrl-C and `kill -INT` for good.
    (signal.SIGINT, signal.SIG_IGN),
    (signal.SIGTERM, signal.SIG_DFL),
], ids=["sigint", "sigint-inherited-ignored", "sigterm"])
def test_cli_serves_until_interrupted(tmp_path: Path, signum: int, sigint_at_start: Any) -> None:
    # Set before exec, which keeps an ignored signal ignored and a default one default.
    launch = (f"import os, signal, sys; signal.signal(signal.SIGINT, {int(sigint_at_start)});"
              " os.execv(sys.executable, [sys.executable, '-m', 'scraper', 'testsite',"
              " '--port', '0', '--pages', '20', '--markup', 'bare'])")
    proc = subprocess.Popen([sys.executable, "-c", launch], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        listing = httpx.get(url + "/related/NATO", timeout=10)
        assert listing.status_code == 200 and b"class=" not in listing.content
    finally:
        proc.send_signal(signum)
        try:
            _, err = proc.communicate(timeout=60)  # generous: it stops in milliseconds
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "Ctrl-C" in err


def test_docs_list_every_fault_url_fault_kind_option_and_control_endpoint() -> None:
    from scraper.cli.testsite_cmd import testsite as command
    from scraper.testsite import FAULT_KINDS, FAULT_URLS
    from scraper.testsite.control import EDIT_KEYS

    docs = (Path(__file__).resolve().parents[1] / "docs" / "testsite.md").read_text()
    for url, _ in FAULT_URLS:
        assert f"`{url}`" in docs, url
    for kind in FAULT_KINDS:
        assert f"| `{kind}` |" in docs, kind
    for option in command.params:
        assert f"`{option.opts[0]}" in docs or option.name == "help", option.opts
    for endpoint in ("stats", "reset", "edit", "faults", "markup", "settings", "topics", "topic/"):
        assert f"/_control/{endpoint}" in docs, endpoint
    for key in EDIT_KEYS:
        assert f"{key}" in docs, key
