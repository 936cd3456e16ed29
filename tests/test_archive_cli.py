"""`scraper history`, `show` and `stats` on an archive built in tmp_path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.archive import Archive
from scraper.cli import main
from scraper.models import FetchResult, Link, Page, RevisionMeta

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:8000/wiki/Zebra"
BODY_2 = b"<html><body><p>Zebras are African equines with stripes.</p></body></html>\n"


@pytest.fixture
def archive_path(tmp_path: Path) -> str:
    path = str(tmp_path / "a.db")
    with Archive.open(path) as archive:
        run = archive.start_run(["wiki"], {}, T0)
        for number, (summary, body) in enumerate((
                ("Zebras are African equines.", b"<html>first</html>"),
                ("Zebras are African equines with stripes.", BODY_2))):
            at = T0 + timedelta(days=number)
            page = Page(URL, kind="article", title="Zebra", summary=summary, text=summary,
                        links=(Link("http://127.0.0.1:8000/wiki/Horse", "Horse", "see_also"),),
                        categories=("Equines",), infobox=(("Order", "Perissodactyla"),))
            archive.save(run, "wiki", FetchResult(URL, URL, 200, (), body, at, 0.1), page,
                         next_due=at, revision=RevisionMeta(1000 + number),
                         change_gist="summary changed" if number else "")
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_history_lists_versions(archive_path: str) -> None:
    code, out = invoke("history", URL, "--archive", archive_path)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(URL + "  (wiki, article; seen 2 times")
    assert lines[2].split() == ["1", "2026-03-01", "12:00:00", "1000", "200", "first", "version"]
    assert lines[3].split() == ["2", "2026-03-02", "12:00:00", "1001", "200", "summary",
                                "changed"]


def test_history_json(archive_path: str) -> None:
    code, out = invoke("history", URL, "--archive", archive_path, "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert data["versions"][1]["revision_id"] == 1001
    assert data["versions"][1]["fetched_at"] == "2026-03-02T12:00:00.000000+00:00"
    assert data["page"]["seen_count"] == 2


def test_show_fields_of_latest_and_of_a_version(archive_path: str) -> None:
    code, out = invoke("show", URL, "--archive", archive_path)
    assert code == 0, out
    assert "version 2" in out.splitlines()[0]
    assert "summary:       Zebras are African equines with stripes." in out
    assert "infobox:       Order: Perissodactyla" in out
    assert "link:          [see_also] Horse <http://127.0.0.1:8000/wiki/Horse>" in out
    code, out = invoke("show", URL, "--version", "1", "--archive", archive_path,
                       "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["snapshot"]["version"] == 1
    assert data["page"]["summary"] == "Zebras are African equines."
    assert data["page"]["categories"] == ["Equines"]


def test_show_body_prints_the_exact_bytes(archive_path: str) -> None:
    result = CliRunner().invoke(main, ["show", URL, "--body", "--archive", archive_path])
    assert result.exit_code == 0
    assert result.stdout_bytes == BODY_2


def test_stats_text_and_json(archive_path: str) -> None:
    code, out = invoke("stats", "--archive", archive_path)
    assert code == 0, out
    assert "pages:     1 (0 gone)" in out
    assert "versions:  2" in out
    assert "site wiki: 1 pages, 2 versions, 0 gone" in out
    assert "title 100%" in out
    code, out = invoke("stats", "--archive", archive_path, "--format", "json")
    data = json.loads(out)
    assert (data["pages"], data["versions"], data["blobs"], data["runs"]) == (1, 2, 2, 1)
    assert data["bytes_fetched"] == len(b"<html>first</html>") + len(BODY_2)
    assert data["sites"]["wiki"]["fill_rates"]["categories"] == 1.0
    assert data["last_run"]["workers"] == []  # one process, no parts
    assert data["last_run"]["id"] == 1


def test_errors_are_clear_and_create_nothing(tmp_path: Path, archive_path: str) -> None:
    missing = tmp_path / "typo" / "archive.db"
    code, out = invoke("stats", "--archive", str(missing))
    assert code == 1
    assert "no archive here" in out and str(missing) in out
    assert not missing.parent.exists()
    code, out = invoke("history", "http://nowhere/", "--archive", archive_path)
    assert code == 1 and "no page http://nowhere/" in out
    code, out = invoke("show", URL, "--version", "9", "--archive", archive_path)
    assert code == 1 and "has no version 9 (versions 1 to 2)" in out
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, out = invoke("stats", "--archive", str(notes))
    assert code == 1 and "not an SQLite database" in out
    assert notes.read_text() == "hello"


@pytest.mark.parametrize("command", ["history", "show", "stats"])
def test_help_has_an_example(command: str) -> None:
    code, out = invoke(command, "--help")
    assert code == 0
    assert "Example" in out and f"scraper {command}" in out
