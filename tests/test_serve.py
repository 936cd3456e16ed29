"""`scraper serve`: the read-only web view's routes over real HTTP (uvicorn on loopback), on
both archive backends: what each page shows, escaping of hostile page data, 404s and 400s,
the sandboxed stored bodies, the token and Host checks, and the command's binding rules."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from serve_helpers import (
    HOSTILE_TITLE,
    HOSTILE_URL,
    NEW_SUMMARY,
    ServeArchive,
    build_archive,
    serving,
)

from scraper.archive import Archive
from scraper.errors import ArchiveError, ConfigError
from scraper.models import FetchResult, Page
from scraper.serve import ArchiveReaders, ServeSettings, check_settings, is_loopback
from scraper.serve.app import BODY_CSP, body_content_type

# -- fixtures: one crawled archive per backend, served for the whole module ----------------------


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def served_archive(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeArchive]:
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        server.start()
        name = server.new_database()
        try:
            yield build_archive(server.url(name))
        finally:
            if server.running:
                server.drop_database(name)
    else:
        yield build_archive(str(tmp_path_factory.mktemp("serve") / "archive.db"))


@pytest.fixture(scope="module")
def view(served_archive: ServeArchive) -> Iterator[tuple[ServeArchive, httpx.Client]]:
    with serving(ServeSettings(archive=served_archive.location)) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        yield served_archive, client


def links(html: str, route: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'href="({re.escape(route)}\?[^"]*)"', html)]


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link).query)


# -- the pages -----------------------------------------------------------------------------------


def test_home_lists_sites_and_recent_changes_with_gists(view: tuple[ServeArchive,
                                                                    httpx.Client]) -> None:
    archive, client = view
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "serve-test" in answer.text  # the site
    recent = answer.text.split('class="rows recent"')[1]
    assert archive.edited_url in recent
    assert "summary edited" in recent  # the stored gist of the edit
    pages = [query_of(link)["url"][0] for link in links(recent, "/page")]
    assert pages[0] == HOSTILE_URL  # newest first: the hostile page was stored last


def test_search_is_ranked_full_text_with_marked_matches(view: tuple[ServeArchive,
                                                                    httpx.Client]) -> None:
    archive, client = view
    answer = client.get("/search", params={"q": "edited serve tests"})
    assert answer.status_code == 200
    hits = [query_of(link)["url"][0] for link in links(answer.text, "/page")]
    assert archive.edited_url in hits  # and the listings that show its new summary
    with Archive.open(archive.location, create=False, readonly=True) as stored:
        ranked = stored.search("edited serve tests", limit=50)
    assert hits == [hit["url"] for hit in ranked]  # the archive's ranking, best first
    assert "<mark>" in answer.text
    empty = client.get("/search", params={"q": "zzzqqqnothing"})
    assert empty.status_code == 200 and "No page matches." in empty.text
    blank = client.get("/search", params={"q": "  "})
    assert blank.status_code == 200 and "Type words" in blank.text


def test_timeline_lists_versions_newest_first_with_gists(view: tuple[ServeArchive,
                                                                     httpx.Client]) -> None:
    archive, client = view
    answer = client.get("/page", params={"url": archive.edited_url})
    assert answer.status_code == 200
    rows = re.findall(r'<tr class="version" id="v(\d+)">(.*?)</tr>', answer.text, re.DOTALL)
    assert [int(v) for v, _ in rows] == [2, 1]
    assert "summary edited" in rows[0][1] and "first version" in rows[1][1]
    diff_links = links(answer.text, "/diff")
    assert query_of(diff_links[0]) == {"url": [archive.edited_url], "to": ["2"]}


def test_version_shows_extracted_fields_and_frames_the_body(
        view: tuple[ServeArchive, httpx.Client]) -> None:
    archive, client = view
    new = client.get("/version", params={"url": archive.edited_url, "v": "2"})
    old = client.get("/version", params={"url": archive.edited_url, "v": "1"})
    latest = client.get("/version", params={"url": archive.edited_url})
    assert new.status_code == old.status_code == latest.status_code == 200
    assert NEW_SUMMARY in new.text and NEW_SUMMARY not in old.text
    assert "32 (serve test)" in new.text  # the infobox value
    assert latest.text == new.text
    frame = re.search(r"<iframe[^>]*>", new.text)
    assert frame is not None
    assert re.search(r"\bsandbox\b(?!=)", frame.group(0))  # sandbox with no allowances
    assert 'src="/body?' in frame.group(0)
    # previous / next navigation
    assert [query_of(link)["v"] for link in links(new.text, "/version")] == [["1"]]
    assert [query_of(link)["v"] for link in links(old.text, "/version")] == [["2"]]


def test_body_is_the_stored_bytes_under_a_sandbox_policy(
        view: tuple[ServeArchive, httpx.Client]) -> None:
    archive, client = view
    answer = client.get("/body", params={"url": HOSTILE_URL, "v": "1"})
    assert answer.status_code == 200
    with Archive.open(archive.location, create=False, readonly=True) as stored:
        assert answer.content == stored.body(HOSTILE_URL, 1)
    policy = answer.headers["content-security-policy"]
    assert policy == BODY_CSP and policy.startswith("sandbox;")
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_diff_view_shows_both_sides_with_navigation(view: tuple[ServeArchive,
                                                                httpx.Client]) -> None:
    archive, client = view
    answer = client.get("/diff", params={"url": archive.edited_url})  # default: v1 -> v2
    assert answer.status_code == 200
    assert "v1 → v2" in answer.text
    table = answer.text.split('<table class="diff">')[1]
    assert "<ins>" in table and "<del>" in table and "32 (serve test)" in table
    assert "earliest" in answer.text and "latest" in answer.text  # no pair before or after
    again = client.get("/diff", params={"url": archive.edited_url, "from": "1", "to": "2"})
    assert again.text == answer.text
    both = client.get("/diff", params={"url": HOSTILE_URL, "from": "2", "to": "1"})
    assert both.status_code == 200 and "v2 → v1" in both.text


def test_page_data_is_escaped_everywhere(view: tuple[ServeArchive, httpx.Client]) -> None:
    _, client = view
    pages = [client.get("/page", params={"url": HOSTILE_URL}),
             client.get("/version", params={"url": HOSTILE_URL, "v": "2"}),
             client.get("/diff", params={"url": HOSTILE_URL}),
             client.get("/search", params={"q": "Hostile"}),
             client.get("/")]
    for answer in pages:
        assert answer.status_code == 200, answer.url
        assert "<script" not in answer.text.lower(), answer.url
        assert "<b>edited</b>" not in answer.text
    assert "&lt;script&gt;document.title=" in pages[0].text
    assert "summary: &lt;b&gt;edited&lt;/b&gt;" in pages[0].text  # the stored gist
    for answer in pages:
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert HOSTILE_TITLE  # the title the archive holds has the script in it


@pytest.mark.parametrize(("route", "params", "status", "words"), [
    ("/page", {"url": "http://127.0.0.1:9/never/stored"}, 404, ["never/stored", "not in the"]),
    ("/version", {"url": HOSTILE_URL, "v": "7"}, 404, ["no version 7", "versions 1 to 2"]),
    ("/diff", {"url": HOSTILE_URL, "from": "1", "to": "9"}, 404, ["no version 9"]),
    ("/diff", {"url": HOSTILE_URL, "to": "1"}, 404, ["is the first"]),
    ("/body", {"url": "http://127.0.0.1:9/never/stored"}, 404, ["never/stored"]),
    ("/version", {"url": HOSTILE_URL, "v": "two"}, 400, ["v: expected a version number",
                                                         "&#39;two&#39;"]),
    ("/diff", {"url": HOSTILE_URL, "from": "0"}, 400, ["from: expected a version number"]),
    ("/page", {}, 400, ["url: the page&#39;s URL is missing"]),
    ("/no/such/route", {}, 404, ["no page at /no/such/route"]),
])
def test_unknown_pages_versions_and_bad_parameters(
        view: tuple[ServeArchive, httpx.Client], route: str, params: dict[str, str],
        status: int, words: list[str]) -> None:
    _, client = view
    answer = client.get(route, params=params)
    assert answer.status_code == status
    for word in words:
        assert word in answer.text


def test_there_are_no_write_routes(view: tuple[ServeArchive, httpx.Client]) -> None:
    archive, client = view
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = client.request(method, "/page", params={"url": archive.edited_url})
        assert answer.status_code == 405, method


def test_concurrent_requests_share_a_few_archive_objects(
        view: tuple[ServeArchive, httpx.Client]) -> None:
    archive, client = view

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=60) as aclient:
            requests = []
            for n in range(48):
                route, params = [("/page", {"url": archive.edited_url}),
                                 ("/version", {"url": archive.edited_url,
                                              "v": str(1 + n // 4 % 2)}),
                                 ("/diff", {"url": archive.edited_url}),
                                 ("/body", {"url": HOSTILE_URL, "v": "2"})][n % 4]
                requests.append(aclient.get(route, params=params))
            return list(await asyncio.gather(*requests))

    answers = asyncio.run(many())
    assert [a.status_code for a in answers] == [200] * 48
    assert len({a.text for a in answers[1::4]}) == 2  # v1 and v2, never mixed up


# -- the archive objects behind the requests ---------------------------------------------------


def test_readers_open_at_most_size_objects_and_close_them(tmp_path: Path) -> None:
    location = build_archive(str(tmp_path / "a.db")).location
    readers = ArchiveReaders(location, size=3)
    opened: list[object] = []

    async def main() -> None:
        async def one() -> None:
            def call(archive: object) -> None:
                opened.append(archive)
                import time
                time.sleep(0.02)
            await readers.run(call)
        await asyncio.gather(*(one() for _ in range(20)))

    asyncio.run(main())
    assert 1 <= len({id(a) for a in opened}) <= 3
    readers.close()
    with pytest.raises(RuntimeError, match="closed"):
        readers.call(lambda archive: None)


def test_serves_an_archive_file_it_may_not_write(tmp_path: Path) -> None:
    location = build_archive(str(tmp_path / "a.db")).location
    for leftover in (location + "-wal", location + "-shm"):
        assert not os.path.exists(leftover)
    os.chmod(location, stat.S_IRUSR | stat.S_IRGRP)
    try:
        with serving(ServeSettings(archive=location)) as base:
            answer = httpx.get(base + "/search", params={"q": "NATO"}, timeout=30)
        assert answer.status_code == 200 and "NATO" in answer.text
    finally:
        os.chmod(location, stat.S_IRUSR | stat.S_IWUSR)


def test_a_large_body_arrives_whole(tmp_path: Path) -> None:
    location = str(tmp_path / "big.db")
    url = "http://127.0.0.1:9/info/Big"
    body = b"<html><body>" + b"".join(b"<p>paragraph %d</p>" % n for n in range(200_000)) \
        + b"</body></html>"
    when = datetime.now(UTC)
    with Archive.open(location) as archive:
        run = archive.start_run(["big"], {}, when)
        archive.save(run, "big", FetchResult(url=url, final_url=url, status=200,
                                             headers=(("Content-Type", "text/html"),),
                                             body=body, fetched_at=when, elapsed_s=0.1),
                     Page(url=url, title="Big"), next_due=when + timedelta(days=1))
    with serving(ServeSettings(archive=location)) as base:
        answer = httpx.get(base + "/body", params={"url": url}, timeout=30)
    assert answer.status_code == 200 and len(body) > 3_000_000
    assert answer.content == body
    assert answer.headers["content-length"] == str(len(body))
    assert answer.headers["content-type"] == "text/html"


def test_body_content_type_keeps_html_and_charset_and_shows_the_rest_as_text() -> None:
    assert body_content_type([("Content-Type", "text/html; charset=ISO-8859-1")]) == \
        "text/html; charset=ISO-8859-1"
    assert body_content_type([("content-type", "application/xhtml+xml")]) == "text/html"
    assert body_content_type([]) == "text/html"
    assert body_content_type([("Content-Type", "image/svg+xml")]) == "text/plain; charset=utf-8"
    assert body_content_type([("Content-Type", 'text/xml; charset="koi8-r"')]) == \
        "text/plain; charset=koi8-r"


# -- who may read it -----------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.0.0.5", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("192.168.1.4", False), ("example.org", False), ("", False)])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_binding_beyond_loopback_needs_public_and_a_token() -> None:
    check_settings(ServeSettings(archive="a.db"))
    check_settings(ServeSettings(archive="a.db", host="0.0.0.0", public=True, token="s3cret"))
    with pytest.raises(ConfigError, match=r"--host: 0\.0\.0\.0 is not a loopback address.*"
                                          r"--public and a token"):
        check_settings(ServeSettings(archive="a.db", host="0.0.0.0"))
    with pytest.raises(ConfigError, match=r"--token: --public on 192\.168\.1\.4 needs a token"):
        check_settings(ServeSettings(archive="a.db", host="192.168.1.4", public=True))
    with pytest.raises(ConfigError, match="--token: the token is empty"):
        check_settings(ServeSettings(archive="a.db", token="  "))


@pytest.fixture(scope="module")
def token_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeArchive, str]]:
    archive = build_archive(str(tmp_path_factory.mktemp("token") / "archive.db"))
    # Loopback, so that the test never listens beyond this machine; --public turns off the
    # Host check, as it does on a public address.
    with serving(ServeSettings(archive=archive.location, public=True, token="s3cret")) as base:
        yield archive, base


def test_token_is_checked_on_every_request(token_view: tuple[ServeArchive, str]) -> None:
    archive, base = token_view
    params = {"url": archive.edited_url}
    for route in ("/", "/page", "/version", "/body", "/diff", "/search", "/missing"):
        refused = httpx.get(base + route, params=params, timeout=30)
        assert refused.status_code == 401, route
        assert "a token is needed" in refused.text
        assert archive.edited_url not in refused.text
    wrong = httpx.get(base + "/page", params={**params, "token": "guess"}, timeout=30)
    assert wrong.status_code == 401 and "wrong token" in wrong.text
    wrong = httpx.get(base + "/page", params=params, timeout=30,
                      headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    for headers in ({"Authorization": "Bearer s3cret"}, {"X-Scraper-Token": "s3cret"},
                    {"Cookie": "scraper_serve_token=s3cret"}):
        assert httpx.get(base + "/page", params=params, headers=headers,
                         timeout=30).status_code == 200, headers


def test_token_in_the_address_becomes_a_cookie(token_view: tuple[ServeArchive, str]) -> None:
    archive, base = token_view
    with httpx.Client(base_url=base, timeout=30) as client:
        first = client.get("/page", params={"url": archive.edited_url, "token": "s3cret"})
        assert first.status_code == 303
        location = first.headers["location"]
        assert "token" not in location and query_of(location) == {"url": [archive.edited_url]}
        cookie = first.headers["set-cookie"]
        assert "scraper_serve_token=s3cret" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # The client keeps the cookie: the redirect, and every later request, pass.
        assert client.get(location).status_code == 200
        assert client.get("/version", params={"url": archive.edited_url}).status_code == 200


def test_loopback_view_refuses_a_foreign_host_header(view: tuple[ServeArchive,
                                                                 httpx.Client]) -> None:
    # A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) must read nothing.
    archive, client = view
    refused = client.get("/page", params={"url": archive.edited_url},
                         headers={"Host": "attacker.example:8080"})
    assert refused.status_code == 421 and archive.edited_url not in refused.text
    for host in ("localhost:8080", "127.0.0.1", "[::1]:8080"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


# -- the command ---------------------------------------------------------------------------------


def scraper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True, check=False,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_command_refuses_a_public_address_without_the_flag_and_token(tmp_path: Path) -> None:
    done = scraper("serve", "--archive", str(tmp_path / "a.db"), "--host", "0.0.0.0")
    assert done.returncode == 2
    assert "0.0.0.0 is not a loopback address" in done.stderr and "--public" in done.stderr
    done = scraper("serve", "--archive", str(tmp_path / "a.db"), "--host", "0.0.0.0",
                   "--public", env={"SCRAPER_SERVE_TOKEN": ""})
    assert done.returncode == 2 and "token" in done.stderr


def test_command_names_a_missing_archive(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    done = scraper("serve", "--archive", str(missing), "--port", "0")
    assert done.returncode == 1
    assert str(missing) in done.stderr and "no archive here" in done.stderr
    assert not missing.exists()


def test_readers_report_a_missing_archive_before_serving(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no archive here"):
        ArchiveReaders(str(tmp_path / "none.db")).open_one()


def test_connections_accepted_send_without_delay() -> None:
    # Without TCP_NODELAY on each connection, every answer on a keep-alive connection waited
    # 40 ms (Nagle's algorithm against the client's delayed ACK); uvicorn sets it only on the
    # sockets it binds itself, so the listening socket carries it to the connections.
    import socket

    from scraper.serve.listening import listening_socket

    with listening_socket("127.0.0.1", 0) as listener, \
            socket.create_connection(listener.getsockname()[:2]):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
