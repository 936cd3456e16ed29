"""Messages that point to the right thing: compound durations and what a bad one is told,
the closest command for a mistyped one, and how to install pyarrow for Parquet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.archive import Archive
from scraper.cli import main
from scraper.cli.app import COMMAND_MODULES, unknown_command_message
from scraper.config import load_config_text
from scraper.errors import ConfigError
from scraper.models import FetchResult, Page
from scraper.timeutil import DurationError, parse_duration, parse_when
from tests.paths import REPO

BASE = "name: t\nstart_urls: [http://127.0.0.1:8000/wiki/A]\nnetwork: {allow_loopback: true}\n"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


# -- durations ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("1h30m", 5400.0), ("2d12h", 216000.0), ("90s", 90.0), ("1h 30m", 5400.0),
    ("1.5h", 5400.0), ("1w2d", 777600.0), ("1m500ms", 60.5), (" 2h 15m 30s ", 8130.0),
    ("5 m", 300.0), ("90", 90.0), ("0.25", 0.25),
])
def test_compound_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "detail"), [
    ("1h30x", "'x' is not a unit"),
    ("1h30", "'30' has no unit"),
    ("30m1h", "units go from the largest to the smallest, each once"),
    ("1h1h", "units go from the largest to the smallest, each once"),
    ("1h !", "'!' is not a number with a unit"),
    ("9" * 400 + "w", "too long"),
])
def test_bad_duration_names_the_wrong_part(text: str, detail: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert detail in str(info.value) and repr(text) in str(info.value)
    assert info.value.detail.startswith(detail)


@pytest.mark.parametrize("text", ["", "h", "-5m", "fast"])
def test_not_a_duration_at_all(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration such as 30s, 5m, 1h30m"):
        parse_duration(text)


def test_config_keys_take_compound_durations() -> None:
    cfg = load_config_text(BASE + "recrawl_after: 2d12h\npoliteness: {delay: 1m 30s}\n"
                           "recrawl:\n  - {pattern: '^/news/', after: 1h30m}\n")
    assert cfg.recrawl_after == 216000.0 and cfg.politeness.delay == 90.0
    assert cfg.recrawl_rules[0].after == 5400.0


def test_config_error_names_file_line_key_and_the_wrong_part() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(BASE + "recrawl_after: 1h30x\n", "x.yaml")
    assert str(info.value) == (
        "x.yaml:4: recrawl_after: must be a number >= 0 or a duration such as 250ms, 30s, 5m, "
        "1h30m or 1d, got '1h30x' ('x' is not a unit (ms, s, m, h, d or w))")


def test_an_age_is_a_compound_duration_before_now() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_when("1h30m", now=now) == now - timedelta(minutes=90)
    assert parse_when("20260101T1000", now=now) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"an age .*'x' is not a unit"):
        parse_when("1h30x", now=now)
    with pytest.raises(ValueError, match="before the year 1"):
        parse_when("99999999999d", now=now)


def _archive_with_pages(path: Path, ages: dict[str, timedelta]) -> str:
    now = datetime.now(UTC)
    with Archive.open(str(path)) as archive:
        run = archive.start_run(["wiki"], {}, now)
        for url, age in ages.items():
            at = now - age
            archive.save(run, "wiki", FetchResult(url, url, 200, (), b"<p>x</p>", at, 0.1),
                         Page(url, title=url.rsplit("/", 1)[-1], text="x"), next_due=at)
    return str(path)


def test_since_takes_a_compound_age(tmp_path: Path) -> None:
    db = _archive_with_pages(tmp_path / "a.db", {
        "http://127.0.0.1:8000/wiki/Recent": timedelta(hours=1),
        "http://127.0.0.1:8000/wiki/Older": timedelta(hours=2)})
    code, out = invoke("changes", "--since", "1h30m", "--archive", db, "--format", "json")
    assert code == 0, out
    assert [p["url"] for p in json.loads(out)["new"]] == ["http://127.0.0.1:8000/wiki/Recent"]


@pytest.mark.parametrize(("args", "flag"), [
    (("changes", "--since", "1h30x"), "--since"),
    (("export", "--as-of", "1h30x", "-o", "-"), "--as-of"),
    (("diff", "http://127.0.0.1:8000/wiki/A", "--from", "1h30x"), "--from"),
])
def test_bad_age_flag_is_named(tmp_path: Path, args: tuple[str, ...], flag: str) -> None:
    db = _archive_with_pages(tmp_path / "a.db", {})
    code, out = invoke(*args, "--archive", db)
    assert code == 2
    assert flag in out and "'1h30x'" in out and "'x' is not a unit" in out


def test_crawl_max_time_and_set_name_what_is_wrong(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(BASE)
    db = str(tmp_path / "a.db")
    code, out = invoke("crawl", str(config), "--archive", db, "--max-time", "1h30x")
    assert code == 2 and "--max-time" in out and "'x' is not a unit" in out
    code, out = invoke("crawl", str(config), "--archive", db, "--set",
                       "politeness.delay=1h30x")
    assert code == 2 and "politeness.delay" in out and "'x' is not a unit" in out
    assert not Path(db).exists()  # refused before anything was opened


# -- unknown commands --------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "meant"), [
    ("histroy", "history"), ("shwo", "show"), ("exprot", "export"), ("dif", "diff"),
    ("stat", "stats"), ("valdiate", "validate"),
])
def test_unknown_command_suggests_the_closest(typed: str, meant: str) -> None:
    result = CliRunner().invoke(main, [typed, "x"])
    assert result.exit_code == 2
    assert f"No such command '{typed}'. Did you mean '{meant}'?" in result.output


def test_unknown_command_with_nothing_close_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["xyzzy"])
    assert result.exit_code == 2
    listed = ", ".join(sorted(COMMAND_MODULES))
    assert f"No such command 'xyzzy'. Commands: {listed}." in result.output


def test_several_close_commands_are_all_offered() -> None:
    message = unknown_command_message("stat", ["diff", "start", "state", "stats"])
    assert message.startswith("No such command 'stat'. Did you mean one of: ")
    assert set(re.findall(r"\w+", message.split(":", 1)[1])) == {"start", "state", "stats"}


def test_known_commands_and_help_still_work() -> None:
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["history", "--help"]).exit_code == 0
    result = CliRunner().invoke(main, ["--hlep"])
    assert result.exit_code == 2 and "No such option '--hlep'" in result.output


# -- pyarrow for Parquet -----------------------------------------------------------------

def test_parquet_without_pyarrow_names_our_extra(tmp_path: Path) -> None:
    """Run in a child process whose pyarrow cannot be imported, as on an install without it."""
    db = _archive_with_pages(tmp_path / "a.db", {"http://127.0.0.1:8000/wiki/A": timedelta()})
    out = str(tmp_path / "out.parquet")
    code = ("import sys\nsys.modules['pyarrow'] = None\nsys.modules['pyarrow.parquet'] = None\n"
            "from scraper.cli import main\n"
            f"main(['export', '--format', 'parquet', '-o', {out!r}, '--archive', {db!r}])\n")
    # PYTHONPATH: this checkout's code, whichever one the virtualenv was installed from.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "pip install -e '.[parquet]'" in result.stderr
    assert "pip install pyarrow" in result.stderr
    assert "scraper[parquet]" not in result.stderr.replace("'.[parquet]'", "")
    assert not Path(out).exists()


def test_no_install_line_names_the_pypi_scraper() -> None:
    """`scraper` on PyPI is someone else's project: no message or doc tells anyone to
    install it."""
    wrong = re.compile(r"pip install\s+(-U\s+)?['\"]?scraper\b(?!/)")
    files = [*sorted((REPO / "scraper").rglob("*.py")), REPO / "README.md",
             *sorted((REPO / "docs").rglob("*.md"))]
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if wrong.search(line)]
    assert found == []
