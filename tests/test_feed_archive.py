"""`scraper feed` and `scraper changes --format atom / --exit-code` over a real crawl of the
built-in site, on each archive backend (tests/archive_backends.py): valid Atom, the diff in
the entries, ids that stay the same across writes and later recrawls."""

from __future__ import annotations

import asyncio
import os
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

from scraper.archive import Archive, ArchiveBackend
from scraper.cli import main
from scraper.config import load_config_text
from scraper.crawl import crawl
from scraper.diff import diff_pages
from scraper.diff.html import render_html_fragment
from scraper.models import FetchResult, Page
from scraper.testsite import TestSite
from scraper.watch.feed_entries import MAX_CONTENT_CHARS, feed_entries

EDITED_WORD = "Quixotically"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def crawl_once(site: TestSite, location: str) -> None:
    config = load_config_text(textwrap.dedent(f"""\
        name: nato
        start_urls: ["{site.url('/related/NATO')}"]
        network: {{allow_loopback: true}}
        follow: [related, more_info]
        scope: {{include: ["^/related/NATO$", "^/info/NATO$", "^/info/Warsaw_Pact$"]}}
        max_depth: 1
        recrawl_after: 0s
        politeness: {{concurrency: 2, delay: 0}}
        """), "nato.yaml")
    with Archive.open(location) as archive:
        asyncio.run(crawl([config], archive))


def write_feed(location: str, out: Path, *args: str) -> Any:
    code, _, err = run("feed", "--archive", location, "-o", str(out), "--since", "1h", *args)
    assert code == 0, err
    assert err.startswith(f"wrote {out} (")
    parsed = feedparser.parse(out.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_feed_entries_and_ids_across_writes_and_recrawls(
        site: TestSite, any_archive_location: str, tmp_path: Path) -> None:
    db = any_archive_location
    (tmp_path / "www").mkdir()
    out = tmp_path / "www" / "changes.xml"
    crawl_once(site, db)
    first = write_feed(db, out)
    first_bytes = out.read_bytes()
    pages = {site.url("/related/NATO"), site.url("/info/NATO"), site.url("/info/Warsaw_Pact")}
    assert {e.link for e in first.entries} == pages
    assert {e.title.split(":")[0] for e in first.entries} == {"New page"}
    reader = out.open("rb")  # a web server part way through serving the feed

    code, _, err = run("feed", "--archive", db, "-o", str(out), "--since", "1h", "-q")
    assert (code, err) == (0, "")  # -q: silent, for cron
    # The archive may also be named first, as `scraper feed ARCHIVE -o FILE`.
    code, _, err = run("feed", db, "-o", str(out), "--since", "1h", "-q")
    assert (code, err) == (0, "") and out.read_bytes() == first_bytes
    again = write_feed(db, out)  # the same archive: the same feed, written anew
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert out.read_bytes() == first_bytes
    # Replaced by a rename, never rewritten in place: the open reader keeps the whole old
    # file, a different one from the file now at the name.
    with reader:
        assert os.fstat(reader.fileno()).st_ino != out.stat().st_ino
        assert reader.read() == first_bytes
    assert [p.name for p in out.parent.iterdir()] == ["changes.xml"]  # no temporary left

    site.edit("NATO", summary=f"NATO is an alliance. {EDITED_WORD} edited by the feed test.",
              infobox={"Type": "Defence alliance"})
    crawl_once(site, db)
    after = write_feed(db, out)
    ids = [e.id for e in after.entries]
    assert set(ids) >= {e.id for e in first.entries}  # old entries keep their ids
    assert len(ids) == len(set(ids))
    changed = [e for e in after.entries if e.id not in {f.id for f in first.entries}]
    article = [e for e in changed if e.link == site.url("/info/NATO")]
    assert len(article) == 1
    entry = article[0]
    assert entry.id.startswith("tag:127.0.0.1,") and "/v2-" in entry.id
    assert entry.title.startswith("NATO: ") and "infobox: Type changed" in entry.title
    assert entry.summary in entry.title
    html = entry.content[0].value
    assert entry.content[0].type == "text/html"
    assert re.search(f"<ins>[^<]*{EDITED_WORD}", html), html
    assert "Defence alliance" in html and "Military alliance" in html and "<del>" in html
    assert after.entries[0].id in {e.id for e in changed}  # newest first
    newest = datetime.fromisoformat(after.entries[0].updated)
    assert newest == max(datetime.fromisoformat(e.updated) for e in after.entries)
    assert after.feed.updated == after.entries[0].updated

    # A recrawl that changes nothing adds no entry and changes no id.
    crawl_once(site, db)
    assert [e.id for e in write_feed(db, out).entries] == ids
    # --limit keeps the newest; --site filters.
    assert [e.id for e in write_feed(db, out, "--limit", "1").entries] == ids[:1]
    assert write_feed(db, out, "--site", "elsewhere").entries == []


def test_changes_format_atom_and_exit_code(site: TestSite, any_archive_location: str) -> None:
    db = any_archive_location
    crawl_once(site, db)
    code, out, _ = run("changes", "--archive", db, "--since", "1h", "--exit-code")
    assert code == 1 and "New pages: 3" in out
    code, out, _ = run("changes", "--archive", db, "--since", "1h", "--exit-code",
                       "--format", "atom")
    parsed = feedparser.parse(out.encode())
    assert code == 1 and not parsed.bozo and len(parsed.entries) == 3
    code, out, _ = run("changes", "--archive", db, "--since", "1h", "--format", "atom")
    assert code == 0  # without --exit-code, changes or not
    assert [e.id for e in feedparser.parse(out.encode()).entries] == [
        e.id for e in parsed.entries]

    quiet_since = datetime.now(UTC).isoformat()
    crawl_once(site, db)  # nothing changed on the site: no new version
    for fmt in ("text", "json", "atom"):
        code, out, _ = run("changes", "--archive", db, "--since", quiet_since, "--exit-code",
                           "--format", fmt)
        assert code == 0, (fmt, out)
    assert "Changed pages: 0" in run("changes", "--archive", db, "--since", quiet_since)[1]

    site.edit("NATO", append_sentence="A sentence the exit-code test added.")
    crawl_once(site, db)
    for fmt in ("text", "json", "atom"):
        code, out, _ = run("changes", "--archive", db, "--since", quiet_since, "--exit-code",
                           "--format", fmt)
        assert code == 1, (fmt, out)
    assert "A sentence the exit-code test added" in out  # the atom output's diff


def test_feed_names_what_is_wrong(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    code, _, err = run("feed", "--archive", str(missing), "-o", str(tmp_path / "f.xml"))
    assert code == 1 and str(missing) in err
    assert not (tmp_path / "f.xml").exists()
    code, _, err = run("feed", "--archive", str(missing))
    assert code == 2 and "-o" in err
    code, _, err = run("feed", str(tmp_path / "one.db"), "--archive", str(missing), "-o",
                       str(tmp_path / "f.xml"))
    assert code == 2 and "two archives given" in err and "one.db" in err
    folder = tmp_path / "no-such-folder" / "f.xml"
    db = tmp_path / "a.db"
    Archive.open(str(db)).close()
    code, _, err = run("feed", "--archive", str(db), "-o", str(folder))
    assert code == 1 and "no-such-folder" in err
    assert not os.path.exists(folder.parent)


def test_a_diff_too_long_for_a_feed_is_left_out_for_a_note(any_archive: ArchiveBackend) -> None:
    url = "http://127.0.0.1:8000/info/Long"
    when = datetime(2026, 11, 1, tzinfo=UTC)

    def text(word: str) -> str:
        return "\n\n".join(f"{word} paragraph {n} " + " ".join(f"{word}{i}" for i in range(40))
                           for n in range(300))

    run_id = any_archive.start_run(["long"], {"name": "long"}, when)
    for version, (word, summary) in enumerate((("alpha", "Long."), ("beta", "Long, edited."),
                                                ("beta", "Long, edited again.")), start=1):
        at = when + timedelta(hours=version)
        fetch = FetchResult(url=url, final_url=url, status=200,
                            headers=(("content-type", "text/html"),),
                            body=f"<p>{version}</p>".encode(), fetched_at=at, elapsed_s=0.01)
        page = Page(url=url, kind="article", title="Long", summary=summary, text=text(word))
        any_archive.save(run_id, "long", fetch, page, next_due=at + timedelta(days=1))
    entries = feed_entries(any_archive, when)
    assert [(e.kind, e.version) for e in entries] == [("changed", 3), ("changed", 2),
                                                      ("new", 1)]
    small, rewritten = entries[0], entries[1]
    assert re.search(r"<ins>[^<]*again", small.content_html), small.content_html
    assert len(rewritten.content_html) < 1_000
    assert "too long for the feed" in rewritten.content_html
    assert f"scraper diff {url} --from 1 --to 2 --format html" in rewritten.content_html
    # Without the cap the rewrite's diff would have been far past it.
    assert len(render_html_fragment(diff_pages(any_archive.page(url, 1),
                                               any_archive.page(url, 2)))) > MAX_CONTENT_CHARS
