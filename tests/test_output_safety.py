"""Issue 16, guarantee 6: output cannot attack the reader.

Scraped text that holds ANSI/OSC/CSI escape sequences, C1 controls, carriage returns or
bidi overrides is shown as visible escapes by `show`, `history`, `diff`, `changes` and the
crawl's log lines, never obeyed by the terminal; CSV exports defuse spreadsheet formulas.
The archive is built by crawling a loopback server that serves such a page, twice.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner
from hostile_helpers import config_yaml, make_config, run_crawl
from hypothesis import given
from hypothesis import strategies as st
from local_http import serve

from scraper.cli import main
from scraper.cli.crawl_cmds import configure_logging
from scraper.cli.terminal import (
    TerminalSafeFormatter,
    is_terminal_safe,
    json_safe,
    safe_fields,
    terminal_safe,
    terminal_safe_styled,
)
from scraper.export.records import Column
from scraper.export.writers import CsvWriter, defuse_formula
from tests.hypothesis_profiles import PROFILE

ESC_RED = "\x1b[31m"
OSC_52 = "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07"  # writes "evil clipboard" to the clipboard
OSC_8 = "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\"  # a hidden hyperlink
C1_CSI = "\x9b2J"  # clear screen, with the one-character CSI
RLO = "\u202e"  # right-to-left override: "exe.txt" shows as "txt.exe"

HOSTILE = {
    1: {"title": f"Evil{ESC_RED}Red {OSC_52} {C1_CSI} back\roverwritten {RLO}exe.txt",
        "summary": f"Summary {OSC_8} {ESC_RED}red{C1_CSI} cr\rhere {RLO}gpj.exe "
                   "\u2066isolate\u2069 \u200fmark",
        "anchor": f"anchor{ESC_RED} {RLO}fdp.exe \x9b1m {OSC_52}"},
    2: {"title": f"Evil{ESC_RED}Red edited {OSC_52} {C1_CSI} {RLO}exe.txt",
        "summary": f"Summary changed {OSC_8} {ESC_RED}red{C1_CSI} {RLO}gpj.exe \x1b[5m",
        "anchor": f"other anchor{ESC_RED} {RLO}3pm.exe \x9b7m"},
}

# Every character a terminal obeys instead of showing, but \t and \n.
DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                       "\u2066-\u2069]")


def assert_inert(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in DANGEROUS.findall(text)})
    assert not found, f"raw control or bidi characters in the output: {found}\n{text!r}"


def assert_shown(text: str) -> None:
    """The hostile characters are there as visible escapes."""
    assert "\\x1b" in text
    assert "\\u202e" in text


def html_page(title: str, summary: str, anchor: str) -> bytes:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{summary}</p><p>Second paragraph.</p>"
            f"<a href=\"/other\">{anchor}</a></body></html>").encode()


class HostileSite(BaseHTTPRequestHandler):
    """Serves /evil in the edition `version`, and a page per title in `titles` at /t/N."""

    version: ClassVar[int] = 1
    titles: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path == "/evil":
            fields = HOSTILE[type(self).version]
            body = html_page(fields["title"], fields["summary"], fields["anchor"])
        elif self.path.startswith("/t/"):
            body = html_page(type(self).titles[int(self.path[3:])], "A plain summary.", "a")
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def hostile_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(archive path, URL) of a page crawled twice: two versions, both hostile."""
    db = tmp_path_factory.mktemp("hostile") / "a.db"
    with serve(HostileSite) as base:
        url = f"{base}/evil"
        config = make_config([url], extra="recrawl_after: 0s\n")
        for version in (1, 2):
            HostileSite.version = version
            [result] = run_crawl(config, db)
            assert result.stats.new_versions == 1
        yield str(db), url


@pytest.fixture(autouse=True)
def _restore_scraper_logger() -> Iterator[None]:
    """configure_logging replaces the "scraper" logger's handlers: put them back after."""
    logger = logging.getLogger("scraper")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_the_archive_holds_the_hostile_text(hostile_archive: tuple[str, str]) -> None:
    # Otherwise the tests below would prove nothing: the parser keeps the characters.
    db, url = hostile_archive
    page = json.loads(invoke("show", url, "--archive", db, "--format", "json"))["page"]
    assert ESC_RED in page["title"] and RLO in page["title"] and "\x9b" in page["title"]
    assert "\x1b]8;;" in page["summary"]
    first = json.loads(invoke("show", url, "--version", "1", "--archive", db, "--format",
                              "json"))["page"]
    assert "\u2066" in first["summary"] and "\u200f" in first["summary"]
    assert any(ESC_RED in link["title"] for link in page["links"])


@pytest.mark.parametrize("args", [
    ("show",), ("show", "--version", "1"), ("history",), ("diff",),
    ("diff", "--from", "1", "--to", "2", "--color", "never"), ("diff", "--format", "unified"),
])
def test_text_output_shows_escapes_instead_of_obeying_them(
        hostile_archive: tuple[str, str], args: tuple[str, ...]) -> None:
    db, url = hostile_archive
    out = invoke(args[0], url, *args[1:], "--archive", db)
    assert_inert(out)
    if args[0] != "history":  # history shows no scraped text (a gist of what changed)
        assert_shown(out)
    if args[0] == "show":
        assert "\\x1b]52;c;" in out and "\\x9b" in out  # (the parser made \r a space)


def test_show_body_is_exact_in_a_pipe_and_inert_on_a_terminal(
        hostile_archive: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, url = hostile_archive
    piped = CliRunner().invoke(main, ["show", url, "--body", "--archive", db])
    assert piped.stdout_bytes == html_page(**HOSTILE[2])
    monkeypatch.setattr("scraper.cli.archive_cmds.stdout_is_terminal", lambda: True)
    out = invoke("show", url, "--body", "--archive", db)
    assert_inert(out)
    assert_shown(out)


def test_show_keeps_plain_text_as_it_is(hostile_archive: tuple[str, str]) -> None:
    db, url = hostile_archive
    out = invoke("show", url, "--archive", db)
    lines = out.splitlines()
    assert "Second paragraph." in lines
    assert lines[0].startswith(f"{url}  version 2, fetched ")


def test_coloured_diff_keeps_its_own_colours_only(hostile_archive: tuple[str, str]) -> None:
    db, url = hostile_archive
    out = invoke("diff", url, "--color", "always", "--archive", db)
    ours = re.compile(r"\x1b\[[0-9;]*m")
    assert ours.search(out), "the diff is coloured"
    assert_inert(ours.sub("", out))
    # The page's own colour codes are shown, not mistaken for ours.
    assert "\\x1b[31m" in out and "\\x1b[5m" in out
    assert ESC_RED + "Red" not in out


def test_html_diff_has_no_raw_controls(hostile_archive: tuple[str, str]) -> None:
    db, url = hostile_archive
    out = invoke("diff", url, "--format", "html", "--archive", db)
    assert out.startswith("<!DOCTYPE html>")
    assert_inert(out)
    assert_shown(out)


def test_changes_text_is_inert(hostile_archive: tuple[str, str]) -> None:
    db, url = hostile_archive
    out = invoke("changes", "--since", "1d", "--archive", db)
    assert url in out
    assert_inert(out)


@pytest.mark.parametrize("args", [
    ("show", "{url}"), ("history", "{url}"), ("diff", "{url}"), ("changes", "--since", "1d"),
])
def test_json_output_is_inert_and_keeps_the_data(hostile_archive: tuple[str, str],
                                                 args: tuple[str, ...]) -> None:
    db, url = hostile_archive
    out = invoke(*(a.format(url=url) for a in args), "--format", "json", "--archive", db)
    assert_inert(out)
    data = json.loads(out)
    if args[0] == "show":  # \u escapes decode to the exact scraped text
        assert data["page"]["title"].startswith("Evil" + ESC_RED)
        assert RLO in data["page"]["title"] and "\x9b" in data["page"]["title"]


def test_crawl_log_lines_are_inert(tmp_path: Path) -> None:
    with serve(HostileSite) as base:
        HostileSite.version = 1
        config = tmp_path / "hostile.yaml"
        config.write_text(config_yaml([f"{base}/evil"]))
        result = CliRunner().invoke(main, ["crawl", str(config), "--archive",
                                           str(tmp_path / "a.db"), "-v", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "/evil: version 1" in result.stderr
    assert_inert(result.stderr)
    assert_inert(result.stdout)


def test_configure_logging_makes_text_log_lines_inert(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    configure_logging(0, False, "text", False)
    hostile = HOSTILE[1]["title"]
    logging.getLogger("scraper.crawl").info("%s: version %d (%s)", "http://x/evil", 2, hostile)
    try:
        raise ValueError(hostile)
    except ValueError:
        logging.getLogger("scraper.crawl").exception("failed: %s", OSC_8)
    err = capsys.readouterr().err
    assert_inert(err)
    assert "version 2 (Evil\\x1b[31mRed" in err
    assert "Traceback (most recent call last):\n" in err  # newlines are kept
    assert "ValueError: Evil\\x1b[31mRed" in err


def test_configure_logging_json_lines_keep_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(0, False, "json", False)
    hostile = HOSTILE[1]["summary"]
    logging.getLogger("scraper.crawl").info("%s", hostile)
    [line] = capsys.readouterr().err.splitlines()
    assert_inert(line)
    assert json.loads(line)["message"] == hostile


def test_formatter_on_a_log_record() -> None:
    formatter = TerminalSafeFormatter(logging.Formatter("%(levelname)s %(message)s"))
    record = logging.LogRecord("scraper.crawl.fetch", logging.WARNING, __file__, 1,
                               "%s: skipped: %s", ("http://x/", f"bad{C1_CSI}{RLO}\r"), None)
    assert formatter.format(record) == "WARNING http://x/: skipped: bad\\x9b2J\\u202e\\x0d"


# -- CSV: formulas -----------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)", "-2+3", " =1+1", "\t=1+1",
            "\r=1+1", "\uff1d1+1"]
HARMLESS = ["Plain title", "x=1", "a-b", "100", "'quoted"]


@pytest.fixture(scope="module")
def formula_archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("formulas") / "f.db"
    HostileSite.titles = FORMULAS + HARMLESS
    with serve(HostileSite) as base:
        config = make_config([f"{base}/t/{n}" for n in range(len(HostileSite.titles))])
        [result] = run_crawl(config, db)
    assert result.stats.new_versions == len(HostileSite.titles)
    return str(db)


def exported_titles(db: str, path: Path, *flags: str) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(main, ["export", "--format", "csv", "-o", str(path),
                                       "--archive", db, *flags])
    assert result.exit_code == 0, result.output
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {row["url"].rsplit("/", 1)[1]: row for row in rows}


def test_csv_defuses_formulas_by_default(formula_archive: str, tmp_path: Path) -> None:
    rows = exported_titles(formula_archive, tmp_path / "pages.csv")
    stored = FORMULAS + HARMLESS
    # The parser trims titles: compare with what the archive holds.
    raw = exported_titles(formula_archive, tmp_path / "raw.csv", "--csv-raw-formulas")
    for n, title in enumerate(stored):
        kept = raw[str(n)]["title"]
        assert kept.strip() == title.strip()
        if title in FORMULAS and kept[:1] in "=+-@\t\r\uff1d":
            assert rows[str(n)]["title"] == "'" + kept
        elif title in HARMLESS:
            assert rows[str(n)]["title"] == kept == title
        assert rows[str(n)]["version"] == "1"  # numbers untouched
    assert rows["0"]["title"] == '\'=HYPERLINK("http://x","y")'
    assert rows["1"]["title"] == "'+1+1"
    assert rows["2"]["title"] == "'@SUM(A1)"
    assert rows["3"]["title"] == "'-2+3"
    assert raw["0"]["title"] == '=HYPERLINK("http://x","y")'
    assert raw["3"]["title"] == "-2+3"


def test_csv_raw_formulas_is_for_csv_only(formula_archive: str) -> None:
    result = CliRunner().invoke(main, ["export", "--format", "jsonl", "--csv-raw-formulas",
                                       "--archive", formula_archive])
    assert result.exit_code == 2
    assert "--csv-raw-formulas" in result.output


def test_csv_writer_defuses_text_cells_only() -> None:
    out = io.BytesIO()
    writer = CsvWriter(out, [Column("n", "int"), Column("s", "string"),
                             Column("tags", "strings")])
    writer.write({"n": -5, "s": "-5", "tags": ["=x"]})
    writer.write({"n": None, "s": " \n@cmd", "tags": None})
    writer.close()
    rows = list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))
    assert rows == [["n", "s", "tags"], ["-5", "'-5", '["=x"]'], ["", "' \n@cmd", ""]]

    raw = io.BytesIO()
    writer = CsvWriter(raw, [Column("s", "string")], raw_formulas=True)
    writer.write({"s": "=1+1"})
    assert raw.getvalue().decode().splitlines()[1] == "=1+1"


# -- properties ------------------------------------------------------------------------------

SAFE_TEXT = st.text(st.characters(codec="utf-8").filter(lambda c: DANGEROUS.match(c) is None))


@PROFILE
@given(st.text())
def test_terminal_safe_leaves_nothing_dangerous(text: str) -> None:
    once = terminal_safe(text)
    assert_inert(once)
    assert is_terminal_safe(once)
    assert terminal_safe(once) == once  # a second pass finds nothing to do
    assert once.count("\n") == text.count("\n") and once.count("\t") == text.count("\t")


@PROFILE
@given(SAFE_TEXT)
def test_safe_text_passes_unchanged(text: str) -> None:
    assert terminal_safe(text) == text
    assert is_terminal_safe(text)


@PROFILE
@given(st.text())
def test_json_safe_is_inert_and_decodes_to_the_same_data(text: str) -> None:
    encoded = json_safe(json.dumps({"k": [text]}, ensure_ascii=False, indent=2))
    assert_inert(encoded)
    assert json.loads(encoded) == {"k": [text]}


@PROFILE
@given(st.text(), st.sampled_from(["red", "green", "cyan"]), st.booleans())
def test_styled_text_keeps_our_colours_only(text: str, colour: str, bold: bool) -> None:
    styled = terminal_safe_styled(click.style(terminal_safe(text), fg=colour, bold=bold))
    assert_inert(re.sub(r"\x1b\[[0-9;]*m", "", styled))
    assert click.unstyle(styled) == terminal_safe(text)


@PROFILE
@given(st.text())
def test_defuse_formula_never_leaves_a_formula(text: str) -> None:
    out = defuse_formula(text)
    assert out in (text, "'" + text)
    assert not out[:1] or out[0] not in "=+-@\t\r\0"
    assert not out.lstrip()[:1] or out.lstrip()[0] not in "=+-@"


def test_safe_fields_reaches_nested_dataclasses() -> None:
    from scraper.models import Entry, Link

    value = {"k": (Link("http://x/", ESC_RED + "t"), [Entry(RLO + "e", summary="\x07")])}
    cleaned = safe_fields(value)
    assert cleaned == {"k": (Link("http://x/", "\\x1b[31mt"),
                             [Entry("\\u202ee", summary="\\x07")])}
    assert value["k"][0].title == ESC_RED + "t"
