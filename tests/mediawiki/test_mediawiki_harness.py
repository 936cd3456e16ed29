"""The real-MediaWiki harness: install checks, instance, sample content, edits, request log."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import mediawiki_harness as harness
import pytest
from mediawiki_harness import DATA_DIR, MediaWikiServer

pytestmark = pytest.mark.mediawiki


def get(url: str, *, ua: str = "harness-test/1") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"User-Agent": ua})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def api(wiki: MediaWikiServer, **params: str) -> dict:  # type: ignore[type-arg]
    query = urllib.parse.urlencode({"format": "json", "formatversion": "2", **params})
    status, body = get(f"{wiki.api_url}?{query}")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


# --- availability and skipping ----------------------------------------------------------------

def test_mediawiki_is_installed_here() -> None:
    harness.require_mediawiki()  # skips locally (fails in CI) when it is not
    assert harness.missing_reason() is None


def test_missing_mediawiki_skips_locally_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness, "MW_DIR", tmp_path / "nowhere")
    # As if PHP were installed, so that the missing MediaWiki is what is reported whether or
    # not this machine has PHP (a fresh one has not).
    monkeypatch.setattr(harness.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SCRAPER_MW_INSTALL", raising=False)
    reason = harness.missing_reason()
    assert reason is not None and "install.php" in reason
    with pytest.raises(pytest.skip.Exception) as info:
        harness.require_mediawiki()
    assert "bash .ci/mediawiki-setup.sh" in str(info.value)
    assert str(tmp_path / "nowhere") in str(info.value)


def test_missing_mediawiki_fails_in_ci_after_trying_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness, "MW_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(harness.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("CI", "true")
    installs: list[int] = []
    monkeypatch.setattr(harness, "install_mediawiki", lambda: installs.append(1))
    with pytest.raises(pytest.fail.Exception) as info:
        harness.require_mediawiki()
    assert installs == [1]
    assert "install.php" in str(info.value)


def test_setup_script_is_idempotent_and_quick_when_installed() -> None:
    harness.require_mediawiki()
    if os.geteuid() != 0:
        pytest.skip("the setup script needs root")
    started = time.monotonic()
    harness.install_mediawiki()  # raises with its output on failure
    assert time.monotonic() - started < 30  # the fast path: nothing to install


# --- the running instance ---------------------------------------------------------------------

def test_pages_are_served_and_requests_logged(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    before = len(wiki.request_log())
    status, html = get(wiki.page_url("Main Page"), ua="log-test/7")
    assert status == 200
    assert f'<link rel="EditURI" type="application/rsd+xml" href="{wiki.api_url}?action=rsd"' in html
    assert f'<link rel="canonical" href="{wiki.page_url("Main Page")}"' in html
    assert '"wgRevisionId":' in html
    assert get(f"{wiki.base_url}/robots.txt")[0] == 404
    assert get(wiki.page_url("No such page at all"))[0] == 404
    log = wiki.request_log()[before:]
    assert [r.path for r in log] == ["/wiki/Main_Page", "/robots.txt",
                                     "/wiki/No_such_page_at_all"]
    assert log[0].user_agent == "log-test/7" and log[0].method == "GET"


def test_request_log_reset_and_params(mediawiki: MediaWikiServer) -> None:
    get(f"{mediawiki.api_url}?action=query&meta=siteinfo&format=json")
    (entry,) = mediawiki.request_log()
    assert entry.is_api and entry.params["meta"] == "siteinfo"
    mediawiki.reset_request_log()
    assert mediawiki.request_log() == []


def test_sample_content(mediawiki_shared: MediaWikiServer) -> None:
    wiki = mediawiki_shared
    manifest = json.loads((DATA_DIR / "pages.json").read_text(encoding="utf-8"))
    articles = [p["title"] for p in manifest["pages"] if "file" in p and ":" not in p["title"]]
    assert len(articles) >= 8
    data = api(wiki, action="query", list="allpages", apfilterredir="nonredirects",
               aplimit="max")
    listed = {p["title"] for p in data["query"]["allpages"]}
    assert set(articles) <= listed
    assert {"Helsinki Final Act", "Treaty on Conventional Armed Forces in Europe"} <= listed
    for title in articles:
        parsed = api(wiki, action="parse", page=title, prop="text|categories|sections|links")
        html = parsed["parse"]["text"]
        sections = [s["line"] for s in parsed["parse"]["sections"]]
        assert "See also" in sections, title
        assert parsed["parse"]["categories"], title
        assert 'class="reference"' in html and 'class="references"' in html, title
        linked = {ln["title"] for ln in parsed["parse"]["links"] if ln.get("exists")}
        assert linked & set(articles), title  # interlinked
    nato = api(wiki, action="parse", page="North Atlantic Treaty Organization", prop="text")
    assert '<table class="infobox vcard"' in nato["parse"]["text"]
    assert "32 member states" in nato["parse"]["text"]
    assert "{{#if" not in nato["parse"]["text"]  # ParserFunctions is loaded
    redirect = api(wiki, action="query", titles="NATO", redirects="1")
    assert redirect["query"]["redirects"][0]["to"] == "North Atlantic Treaty Organization"


def test_back_dated_history_keeps_timestamps_and_users(
        mediawiki_shared: MediaWikiServer) -> None:
    import xml.etree.ElementTree as ET

    ns = {"mw": "http://www.mediawiki.org/xml/export-0.11/"}
    root = ET.parse(DATA_DIR / "history.xml").getroot()
    for page in root.findall("mw:page", ns):
        title = page.findtext("mw:title", namespaces=ns)
        expected = [(r.findtext("mw:timestamp", namespaces=ns),
                     r.findtext("mw:contributor/mw:username", namespaces=ns),
                     r.findtext("mw:comment", namespaces=ns))
                    for r in page.findall("mw:revision", ns)]
        data = api(mediawiki_shared, action="query", prop="revisions", titles=title,
                   rvprop="timestamp|user|comment", rvlimit="max", rvdir="newer")
        got = [(r["timestamp"], r["user"], r["comment"])
               for r in data["query"]["pages"][0]["revisions"]]
        assert got == expected
        rc = api(mediawiki_shared, action="query", list="recentchanges", rctitle=title,
                 rcprop="timestamp", rclimit="max")
        assert len(rc["query"]["recentchanges"]) == len(expected)


def test_edit_move_delete(mediawiki: MediaWikiServer) -> None:
    wiki = mediawiki
    before = wiki.latest_revision("Cold War")
    rev1 = wiki.edit("Cold War", "New text.", summary="first", user="Tester")
    rev2 = wiki.edit("Cold War", "Newer text.", summary="second", user="Tester")
    assert before is not None and before < rev1 < rev2
    same = wiki.edit("Cold War", "Newer text.", summary="null edit")
    assert same == rev2  # identical text makes no revision
    data = api(wiki, action="query", prop="revisions", titles="Cold War",
               rvprop="ids|timestamp|user|comment", rvlimit="2")
    revs = data["query"]["pages"][0]["revisions"]
    assert [(r["revid"], r["user"], r["comment"]) for r in revs] == \
        [(rev2, "Tester", "second"), (rev1, "Tester", "first")]
    assert revs[0]["timestamp"] > revs[1]["timestamp"]  # distinct seconds

    wiki.move("Warsaw Pact", "Warsaw Pact (1955)", reason="disambiguate")
    moved = api(wiki, action="query", titles="Warsaw Pact", redirects="1")
    assert moved["query"]["redirects"][0]["to"] == "Warsaw Pact (1955)"
    wiki.delete("Treaty of Brussels", reason="test")
    assert wiki.latest_revision("Treaty of Brussels") is None
    assert "missing" in api(wiki, action="query", titles="Treaty of Brussels")["query"]["pages"][0]
    assert wiki.request_log()  # the checks above went through HTTP


def test_import_xml_and_run_jobs(mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    dump = tmp_path / "extra.xml"
    dump.write_text(
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">'
        "<page><title>Imported page</title><ns>0</ns>"
        "<revision><timestamp>2001-02-03T04:05:06Z</timestamp>"
        "<contributor><username>Brand New User</username></contributor>"
        "<comment>old &amp; imported</comment><model>wikitext</model>"
        '<format>text/x-wiki</format><text xml:space="preserve">Text [[Cold War]]</text>'
        "</revision></page></mediawiki>", encoding="utf-8")
    mediawiki.import_xml(dump)
    data = api(mediawiki, action="query", prop="revisions", titles="Imported page",
               rvprop="timestamp|user|comment")
    (rev,) = data["query"]["pages"][0]["revisions"]
    assert (rev["timestamp"], rev["user"], rev["comment"]) == \
        ("2001-02-03T04:05:06Z", "Brand New User", "old & imported")
    rc = api(mediawiki, action="query", list="recentchanges", rctitle="Imported page")
    assert len(rc["query"]["recentchanges"]) == 1
    mediawiki.run_jobs()


def test_copies_are_independent(mediawiki: MediaWikiServer,
                                mediawiki_shared: MediaWikiServer) -> None:
    assert mediawiki.port != mediawiki_shared.port
    mediawiki.edit("Main Page", "Changed only in this copy.", summary="copy edit")
    shared = api(mediawiki_shared, action="query", prop="revisions", titles="Main Page",
                 rvprop="comment")
    assert shared["query"]["pages"][0]["revisions"][0]["comment"] != "copy edit"
    status, html = get(mediawiki.page_url("Main Page"))
    assert status == 200 and "Changed only in this copy." in html
    # Links in the copy's pages name its own port.
    assert f'href="{mediawiki.page_url("Main Page")}"' in html


def test_stop_ends_only_the_server_it_started(mediawiki_pristine: Path, tmp_path: Path) -> None:
    wiki = harness.start_clone(mediawiki_pristine, tmp_path / "w")
    other = harness.start_clone(mediawiki_pristine, tmp_path / "other")
    try:
        pid = wiki.pid
        assert pid is not None and wiki.running
        wiki.stop()
        assert not wiki.running
        assert harness.live_group_members(pid) == []  # the server and its workers
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", wiki.port), timeout=1).close()
        assert get(other.page_url("Main Page"))[0] == 200  # the other one still serves
        wiki.stop()  # a second stop is harmless
    finally:
        other.stop()
