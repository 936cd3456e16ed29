"""`scraper parse`: one page, from a file or over loopback HTTP, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from hostile_helpers import connect_spy

from scraper.cli import main
from tests.local_http import serve
from tests.paths import CORPUS

PAGES = Path(__file__).parent / "data" / "pages"
SEED = PAGES / "listing-seed.html"
CORPUS_PAGE = CORPUS / "wikipedia-en-mozilla-vector-2016.html"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["parse", *args])
    return result.exit_code, result.output


def test_file_as_text() -> None:
    code, output = run(str(SEED), "--url", "http://127.0.0.1:8000/related/X")
    assert code == 0, output
    assert "parser      listing" in output and "(auto-detected)" in output
    assert "title       Russia–NATO Relations" in output
    assert "entries     2" in output
    assert "related   NATO  http://127.0.0.1:8000/related/NATO" in output
    assert "links       12: home 1, more_info 2, related 2, search 6, next 1" in output


def test_file_as_json_with_a_forced_parser() -> None:
    code, output = run(str(CORPUS_PAGE), "--url", "https://en.wikipedia.org/wiki/Mozilla",
                       "--parser", "mediawiki", "--format", "json")
    assert code == 0, output
    data = json.loads(output)
    assert data["parser"] == "mediawiki"
    assert data["title"] == "Mozilla"
    assert data["revision_id"] == 746574460
    assert any(link["kind"] == "see_also" for link in data["links"])


def test_file_without_url_resolves_against_its_base_or_canonical() -> None:
    code, output = run(str(CORPUS_PAGE), "--format", "json")
    assert code == 0, output
    data = json.loads(output)
    assert data["url"].startswith("file://")
    assert data["links"]
    assert all(link["url"].startswith(("http://", "https://")) for link in data["links"])
    assert "https://en.wikipedia.org/wiki/Netscape" in {link["url"] for link in data["links"]}


CONFIG = """\
name: mirror
start_urls: [https://mirror.example.org/related/Topic]
parser: selectors
selectors:
  entry: div.entry
  title: h2
  summary: p.nowhere
"""


def test_config_selectors_and_missing_ones(tmp_path: Path) -> None:
    config = tmp_path / "mirror.yaml"
    config.write_text(CONFIG)
    code, output = run(str(PAGES / "listing-divs.html"), "--config", str(config), "--url",
                       "https://mirror.example.org/related/Topic")
    assert code == 0, output
    assert "parser      selectors" in output
    assert "entries     5" in output
    assert "missing selectors (matched nothing on this page):" in output
    assert "  summary: 'p.nowhere'" in output


def test_usage_errors() -> None:
    code, output = run(str(SEED), "--parser", "generic", "--config", str(SEED))
    assert code == 2
    assert "either --parser or --config" in output
    code, output = run("no/such/file.html")
    assert code == 2
    assert "no such file" in output


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []  # request paths, for the test that runs the server

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/related/NATO")
            self.end_headers()
            return
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.invalid/x")
            self.end_headers()
            return
        if self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path != "/related/NATO":
            self.send_error(404)
            return
        body = SEED.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.seen = []
    with serve(_Handler) as url:
        yield url


def test_fetch_a_url(server: str) -> None:
    code, output = run(f"{server}/moved", "--allow-loopback", "--format", "json")
    assert code == 0, output
    data = json.loads(output)
    assert data["url"] == f"{server}/related/NATO"  # same-host redirect followed
    assert [entry["title"] for entry in data["entries"]] == ["Russia–NATO Relations", "NATO"]
    assert data["links"][0] == {"url": f"{server}/", "title": "HOME", "kind": "home"}
    # One page asked for by a person: robots.txt is not read (a crawl reads it).
    assert _Handler.seen == ["/moved", "/related/NATO"]


def test_fetch_errors(server: str) -> None:
    code, output = run(f"{server}/missing", "--allow-loopback")
    assert code == 1
    assert f"{server}/missing: HTTP 404" in output
    code, output = run(f"{server}/away", "--allow-loopback")
    assert code == 1
    assert (f"{server}/away: redirected out of scope to http://elsewhere.invalid/x: another "
            "host (run `scraper parse http://elsewhere.invalid/x` to read it)") in output


def test_a_loopback_url_is_refused_unless_allowed(server: str) -> None:
    """The crawl's address policy: loopback is refused by default, before any connection."""
    code, output = run(f"{server}/related/NATO")
    assert code == 1
    assert (f"{server}/related/NATO: refused: 127.0.0.1 resolves to loopback address "
            "127.0.0.1 (network.allow_loopback is off)") in output
    assert _Handler.seen == []


def test_private_addresses_are_refused_even_after_a_redirect(server: str,
                                                              tmp_path: Path) -> None:
    """A redirect the config's scope allows, to the cloud metadata address: refused by the
    address policy before any connection to it."""
    config = tmp_path / "site.yaml"
    config.write_text(f"name: local\nstart_urls: [{server}/related/NATO]\n"
                      "network: {allow_loopback: true}\n"
                      "scope: {domains: [127.0.0.1, 169.254.169.254]}\n")
    with connect_spy() as spy:
        code, output = run(f"{server}/to-private", "--config", str(config))
    assert spy.non_loopback() == []
    assert code == 1
    assert "refused: 169.254.169.254 resolves to link-local address 169.254.169.254 " \
           "(network.allow_private is off)" in output
    assert _Handler.seen == ["/to-private"]


def test_the_config_network_settings_and_caps_apply(server: str, tmp_path: Path) -> None:
    """With --config, the config's network settings are the crawl's: its address policy
    (loopback allowed there) and its body cap."""
    config = tmp_path / "site.yaml"
    config.write_text(f"name: local\nstart_urls: [{server}/related/NATO]\n"
                      "network: {allow_loopback: true}\n")
    code, output = run(f"{server}/related/NATO", "--config", str(config), "--format", "json")
    assert code == 0, output
    assert json.loads(output)["title"] == "Russia–NATO Relations"
    config.write_text(f"name: local\nstart_urls: [{server}/related/NATO]\n"
                      "network: {allow_loopback: true, max_body_bytes: 1000}\n")
    code, output = run(f"{server}/related/NATO", "--config", str(config))
    assert code == 1
    assert "over the cap of 1,000 bytes (network.max_body_bytes)" in output
    # A config that does not allow loopback, and the flag that does (flags come last).
    config.write_text("name: local\nstart_urls: [https://example.org/]\n")
    code, output = run(f"{server}/related/NATO", "--config", str(config))
    assert code == 1 and "(network.allow_loopback is off)" in output
    code, output = run(f"{server}/related/NATO", "--config", str(config), "--allow-loopback")
    assert code == 0, output
