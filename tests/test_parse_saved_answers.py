"""`scraper parse` of a saved MediaWiki API answer reads it with the wiki source's readers.

Which reader applies is told by the answer's content, so a saved answer is read right
whatever its file is called and whether it came from a file or over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import ParseError
from scraper.mediawiki.answers import answer_kind, load_answer, read_answer
from tests.local_http import serve
from tests.paths import CORPUS

REST_SUMMARY = CORPUS / "wikipedia-en-tokyo-rest-summary.json"
MOBILEVIEW = CORPUS / "wikipedia-en-marquez-action-mobileview.json"

PARSE_HTML = (
    '<div class="mw-parser-output"><table class="infobox"><tr><th>Founded</th>'
    "<td>1949</td></tr></table><p><b>NATO</b> is an alliance of <a href=\"/wiki/Europe\" "
    'title="Europe">European</a> and North American countries.<sup class="reference">'
    '<a href="#cite_note-1">[1]</a></sup></p><h2><span class="mw-headline" id="See_also">'
    'See also</span></h2><ul><li><a href="/wiki/Warsaw_Pact" title="Warsaw Pact">'
    "Warsaw Pact</a></li></ul></div>")
PARSE_V2 = {"parse": {"title": "NATO", "pageid": 21133, "revid": 4242,
                      "displaytitle": "<span class=\"mw-page-title-main\">NATO</span>",
                      "text": PARSE_HTML,
                      "categories": [{"sortkey": "", "category": "Military_alliances"},
                                     {"sortkey": "", "category": "Hidden_cat", "hidden": True}]}}
PARSE_V1 = {"parse": {"title": "NATO", "pageid": 21133, "revid": 4242,
                      "text": {"*": PARSE_HTML},
                      "categories": [{"sortkey": "", "*": "Military_alliances"}]}}
QUERY_V2 = {"batchcomplete": True, "query": {"pages": [
    {"pageid": 21133, "ns": 0, "title": "NATO", "extract": "NATO is an alliance.\nIt was founded.",
     "revisions": [{"revid": 4242, "parentid": 4241}],
     "categories": [{"ns": 14, "title": "Category:Military alliances"}],
     "canonicalurl": "https://wiki.example/wiki/NATO"}]}}
QUERY_V1 = {"query": {"pages": {"21133": {"pageid": 21133, "ns": 0, "title": "NATO",
                                          "extract": "NATO is an alliance.", "lastrevid": 4242}}}}
QUERY_TWO = {"query": {"pages": [{"pageid": 1, "ns": 0, "title": "NATO", "extract": "One."},
                                 {"pageid": 2, "ns": 0, "title": "Warsaw Pact",
                                  "extract": "Two."}]}}


def parse_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["parse", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def saved(tmp_path: Path, data: dict[str, Any], name: str = "answer.txt") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_a_saved_rest_summary_is_read_as_one() -> None:
    page = parse_json(str(REST_SUMMARY))
    assert page["parser"] == "mediawiki-rest-summary"
    assert page["title"] == "Tokyo"
    assert page["url"] == "https://en.wikipedia.org/wiki/Tokyo"
    assert page["revision_id"] == 871928272
    assert page["summary"].startswith("Tokyo , officially Tokyo Metropolis")
    assert "{" not in page["summary"]


def test_a_saved_mobileview_answer_is_read_as_one() -> None:
    page = parse_json(str(MOBILEVIEW))
    assert page["parser"] == "mediawiki-mobileview"
    assert page["title"] == "Juan Manuel Márquez"
    assert page["revision_id"] == 779895573
    assert page["summary"].startswith("Juan Manuel Márquez Méndez (born August 23, 1973)")
    assert page["infobox"]


@pytest.mark.parametrize("answer", [PARSE_V2, PARSE_V1], ids=["formatversion2", "formatversion1"])
def test_a_saved_action_parse_answer_goes_through_the_article_parser(
        tmp_path: Path, answer: dict[str, Any]) -> None:
    page = parse_json(saved(tmp_path, answer), "--url", "https://wiki.example/wiki/NATO")
    assert page["parser"] == "mediawiki-parse"
    assert page["title"] == "NATO"
    assert page["revision_id"] == 4242
    assert page["summary"] == "NATO is an alliance of European and North American countries."
    assert page["categories"] == ["Military alliances"]
    assert [(f["key"], f["value"]) for f in page["infobox"]] == [("Founded", "1949")]
    see_also = [ln["url"] for ln in page["links"] if ln["kind"] == "see_also"]
    assert see_also == ["https://wiki.example/wiki/Warsaw_Pact"]


def test_a_saved_action_parse_answer_without_url_keeps_relative_links(tmp_path: Path) -> None:
    page = parse_json(saved(tmp_path, PARSE_V2))
    assert page["url"] == "/wiki/NATO"
    assert "/wiki/Warsaw_Pact" in {ln["url"] for ln in page["links"]}


@pytest.mark.parametrize("answer", [QUERY_V2, QUERY_V1], ids=["formatversion2", "formatversion1"])
def test_a_saved_query_answer_gives_the_textextracts_summary(
        tmp_path: Path, answer: dict[str, Any]) -> None:
    page = parse_json(saved(tmp_path, answer))
    assert page["parser"] == "mediawiki-query"
    assert page["title"] == "NATO"
    assert page["revision_id"] == 4242
    # As the wiki source stores a TextExtracts summary: paragraphs split by a blank line.
    assert page["summary"].split("\n\n")[0] == "NATO is an alliance."


def test_a_query_answer_with_several_pages_is_picked_by_url(tmp_path: Path) -> None:
    file = saved(tmp_path, QUERY_TWO)
    page = parse_json(file, "--url", "https://wiki.example/wiki/Warsaw_Pact")
    assert page["title"] == "Warsaw Pact" and page["summary"] == "Two."
    result = CliRunner().invoke(main, ["parse", file])
    assert result.exit_code != 0
    assert "holds 2 pages ('NATO', 'Warsaw Pact')" in result.output
    assert "--url" in result.output


def test_an_api_error_answer_is_a_clear_error(tmp_path: Path) -> None:
    file = saved(tmp_path, {"error": {"code": "missingtitle",
                                      "info": "The page you specified doesn't exist."}})
    result = CliRunner().invoke(main, ["parse", file])
    assert result.exit_code != 0
    assert "missingtitle: The page you specified doesn't exist." in result.output
    assert "Traceback" not in result.output


def test_other_json_and_html_keep_the_html_parsers(tmp_path: Path) -> None:
    assert answer_kind({"items": [1, 2]}) is None
    assert load_answer(b"<html><body>{}</body></html>") is None
    assert load_answer(b"[1, 2]") is None
    assert load_answer(b"\xef\xbb\xbf{\"parse\": {}}") == {"parse": {}}
    with pytest.raises(ParseError, match="no MediaWiki answer"):
        read_answer({"items": []}, "https://x.example/a.json")
    # A forced HTML parser is obeyed even on an answer.
    page = parse_json(str(REST_SUMMARY), "--parser", "generic")
    assert page["parser"] == "generic"


class _ApiHandler(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, dict[str, Any]]] = {
        "/w/api.php?action=parse&page=NATO&format=json&formatversion=2": PARSE_V2,
        "/api/rest_v1/page/summary/Tokyo": json.loads(REST_SUMMARY.read_bytes()),
    }

    def do_GET(self) -> None:
        answer = self.answers.get(self.path)
        body = json.dumps(answer or {"error": {"code": "badpath"}}).encode()
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[str]:
    with serve(_ApiHandler) as base:
        yield base


def test_an_answer_fetched_over_http_is_read_the_same_way(api_server: str) -> None:
    page = parse_json(f"{api_server}/w/api.php?action=parse&page=NATO&format=json"
                      "&formatversion=2", "--allow-loopback")
    assert page["parser"] == "mediawiki-parse"
    assert page["revision_id"] == 4242
    assert page["summary"] == "NATO is an alliance of European and North American countries."
    summary = parse_json(f"{api_server}/api/rest_v1/page/summary/Tokyo", "--allow-loopback")
    assert summary["parser"] == "mediawiki-rest-summary"
    assert summary["title"] == "Tokyo"
