"""Read commands take a page URL as a person pastes it, and a URL not in the archive is
told the closest stored ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.archive import Archive
from scraper.archive.suggest import NEAR_URLS_PER_SIDE, closest_urls
from scraper.cli import main
from scraper.errors import ArchiveError
from scraper.models import FetchResult, Page
from scraper.urls import normalise_url, pasted_url_forms

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FOO = "https://en.wikipedia.org/wiki/Foo"
NATO = "http://127.0.0.1:8000/related/NATO/"  # stored with its trailing slash
ZEBRA = "http://127.0.0.1:8000/wiki/Zebra"


def _save(archive: Archive, url: str, texts: tuple[str, ...]) -> None:
    run = archive.start_run(["wiki"], {}, T0)
    for number, text in enumerate(texts):
        at = T0 + timedelta(days=number)
        archive.save(run, "wiki", FetchResult(url, url, 200, (), text.encode(), at, 0.1),
                     Page(url, title=url.rsplit("/", 1)[-1], summary=text, text=text),
                     next_due=at)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "a.db")
    with Archive.open(path) as archive:
        _save(archive, FOO, ("Foo is a word.", "Foo is a placeholder word."))
        _save(archive, NATO, ("Entries related to NATO.",))
        _save(archive, ZEBRA, ("Zebras are equines.", "Zebras are striped equines."))
    return path


@pytest.fixture
def archive(db: str) -> Iterator[Archive]:
    with Archive.open(db, create=False) as opened:
        yield opened


# -- the pure part -----------------------------------------------------------------------

def test_pasted_forms_start_with_the_crawlers_form() -> None:
    assert pasted_url_forms("EN.Wikipedia.ORG/wiki/Foo#History") == [
        FOO, FOO + "/", "http://en.wikipedia.org/wiki/Foo", "http://en.wikipedia.org/wiki/Foo/"]
    assert pasted_url_forms("HTTP://127.0.0.1:8000/related/NATO/") == [
        NATO, NATO[:-1], "https://127.0.0.1:8000/related/NATO/",
        "https://127.0.0.1:8000/related/NATO"]
    # The root has one form per scheme; a host with a port is no scheme.
    assert pasted_url_forms("localhost:8000") == ["https://localhost:8000/",
                                                  "http://localhost:8000/"]
    assert pasted_url_forms("  //x.org/a?b=2&a=1  ")[0] == "https://x.org/a?a=1&b=2"


@pytest.mark.parametrize("text", ["EN.wikipedia.org/wiki/Foo#x", "HTTP://a.b/c/",
                                  "a.b:81/x?z=1&y=2", "https://x/wiki/K%c3%b6ln"])
def test_every_pasted_form_is_already_normal(text: str) -> None:
    forms = pasted_url_forms(text)
    assert forms == [normalise_url(form) for form in forms]
    assert len(set(forms)) == len(forms)


@pytest.mark.parametrize("text", ["ftp://x.org/a", "https://", "https://user:pw@x.org/a"])
def test_pasted_forms_refuse_what_the_crawler_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        pasted_url_forms(text)


def test_closest_urls_compares_paths_on_one_host() -> None:
    stored = ["https://x.org/wiki/Foo", "https://x.org/wiki/Bar", "https://x.org/wiki/Food",
              "https://y.org/wiki/Fooo", "http://x.org/wiki/Zebra"]
    assert closest_urls("https://x.org/wiki/Fooo", stored) == [
        "https://x.org/wiki/Foo", "https://y.org/wiki/Fooo", "https://x.org/wiki/Food"]
    assert closest_urls("https://x.org/wiki/NATO", ["https://x.org/wiki/Nato"]) == [
        "https://x.org/wiki/Nato"]
    assert closest_urls("https://x.org/wiki/Qux", stored) == []  # /wiki/Bar is 0.67 alike


# -- the archive's look-up ---------------------------------------------------------------

@pytest.mark.parametrize(("pasted", "stored"), [
    (FOO, FOO),
    ("en.wikipedia.org/wiki/Foo", FOO),
    ("HTTPS://EN.WIKIPEDIA.ORG/wiki/Foo#History", FOO),
    ("http://en.wikipedia.org/wiki/Foo/", FOO),
    ("https://en.wikipedia.org:443/wiki/Foo?", FOO),
    ("  en.wikipedia.org/wiki/Foo\n", FOO),
    ("127.0.0.1:8000/related/NATO", NATO),
    ("http://127.0.0.1:8000/related/NATO#top", NATO),
    ("https://127.0.0.1:8000/related/NATO/", NATO),
    ("http://127.0.0.1:8000/wiki/Zebra/", ZEBRA),
    ("http://127.0.0.1:8000/wiki/./Zebra", ZEBRA),
])
def test_find_page_url(archive: Archive, pasted: str, stored: str) -> None:
    assert archive.find_page_url(pasted) == stored


def test_a_missing_page_is_told_the_closest_urls(archive: Archive, db: str) -> None:
    with pytest.raises(ArchiveError) as info:
        archive.find_page_url("en.wikipedia.org/wiki/Fooo")
    assert str(info.value) == (f"{db}: no page https://en.wikipedia.org/wiki/Fooo in the archive;"
                               f" did you mean:\n  {FOO}")
    with pytest.raises(ArchiveError, match=r"did you mean:\n  http://127.0.0.1:8000/wiki/Zebra$"):
        archive.find_page_url("http://127.0.0.1:8000/wiki/Zebar")


def test_nothing_close_no_suggestion(archive: Archive, db: str) -> None:
    with pytest.raises(ArchiveError) as info:
        archive.find_page_url("https://de.wikipedia.org/wiki/Quantenmechanik")
    assert str(info.value) == (f"{db}: no page https://de.wikipedia.org/wiki/Quantenmechanik "
                               "in the archive")


def test_not_a_page_url(archive: Archive, db: str) -> None:
    with pytest.raises(ArchiveError) as info:
        archive.find_page_url("ftp://x.org/a")
    assert str(info.value) == f"{db}: 'ftp://x.org/a' is not a page URL: not an http(s) URL: " \
                              "'ftp://x.org/a'"


def test_an_empty_archive_says_so(tmp_path: Path) -> None:
    with Archive.open(str(tmp_path / "e.db")) as empty, \
            pytest.raises(ArchiveError, match=r"no page https://x.org/a in the archive "
                                              r"\(it holds no pages yet\)$"):
        empty.find_page_url("x.org/a")


def test_a_url_the_archive_holds_unnormalised_is_found_as_given(tmp_path: Path) -> None:
    odd = "http://127.0.0.1:8000/wiki/A#kept"  # not a form the crawler makes; a source might
    with Archive.open(str(tmp_path / "o.db")) as archive:
        _save(archive, odd, ("A.",))
        assert archive.find_page_url(odd) == odd


def _many_pages(archive: Archive, count: int) -> None:
    rows = [(f"https://big.example/wiki/Page_{n:06d}", "big", "2026-01-01", "2026-01-01",
             "2026-01-01", 1) for n in range(count)]
    archive.conn.executemany(
        "INSERT INTO pages (url, site, first_seen, last_fetched, last_changed,"
        " current_version) VALUES (?, ?, ?, ?, ?, ?)", rows)
    archive.conn.commit()


def test_suggestions_read_a_bounded_number_of_rows(tmp_path: Path) -> None:
    """In an archive of 60,000 pages, the look-up of a missing URL runs a bounded number of
    SQLite steps (a scan of the pages would take several per page) and still finds both a
    typo at the end and a title written in lower case."""
    count = 60_000
    with Archive.open(str(tmp_path / "big.db")) as archive:
        _many_pages(archive, count)
        _save(archive, "https://big.example/wiki/Nato", ("NATO.",))
        steps = 0

        def count_steps() -> int:
            nonlocal steps
            steps += 100
            return 0

        archive.conn.set_progress_handler(count_steps, 100)
        with pytest.raises(ArchiveError, match=r"did you mean:\n  https://big.example/wiki/"
                                               r"Page_031416\n"):
            archive.find_page_url("big.example/wiki/Page_031416x")
        with pytest.raises(ArchiveError, match=r"did you mean:\n  https://big.example/wiki/Nato"):
            archive.find_page_url("big.example/wiki/nato_")
        archive.conn.set_progress_handler(None, 0)
    assert steps < 100 * 8 * NEAR_URLS_PER_SIDE < count


# -- the commands ------------------------------------------------------------------------

def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("pasted", ["en.wikipedia.org/wiki/Foo",
                                    "HTTP://EN.wikipedia.org/wiki/Foo/#History"])
def test_history_show_and_diff_take_a_pasted_url(db: str, pasted: str) -> None:
    code, out = invoke("history", pasted, "--archive", db, "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["url"] == FOO and [v["version"] for v in data["versions"]] == [1, 2]
    code, out = invoke("show", pasted, "--archive", db, "--version", "1")
    assert code == 0, out
    assert out.startswith(f"{FOO}  version 1,") and "summary:       Foo is a word." in out
    code, out = invoke("diff", pasted, "--archive", db, "--format", "json")
    assert code == 0, out
    assert json.loads(out)["url"] == FOO


@pytest.mark.parametrize("command", ["history", "show", "diff"])
def test_a_missing_page_suggests_through_the_commands(db: str, command: str) -> None:
    code, out = invoke(command, "127.0.0.1:8000/wiki/Zebar", "--archive", db)
    assert code == 1
    assert out == (f"Error: {db}: no page https://127.0.0.1:8000/wiki/Zebar in the archive; "
                   f"did you mean:\n  {ZEBRA}\n")
