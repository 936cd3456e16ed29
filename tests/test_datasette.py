"""`scraper datasette` and the Datasette metadata, served by Datasette itself over an archive
made by real crawls of the built-in site (named wiki-2026.db, not archive.db)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from markupsafe import escape

from scraper.archive import Archive
from scraper.archive.datasette_meta import (
    QUERIES,
    SETTINGS,
    TABLE_OPTIONS,
    TRUNCATE_CELLS_HTML,
    database_name,
    datasette_config,
    datasette_metadata,
)
from scraper.cli import main
from scraper.cli.datasette_cmd import serve_command
from scraper.config import load_config_text
from scraper.crawl import CrawlLimits, crawl
from scraper.testsite import TestSite

ROOT = Path(__file__).resolve().parent.parent
DB = "wiki-2026"
WORD = "zeppelinium"  # in no page of the site until the test's edits put it there
STRONG = "Deterrence theory"  # its lead becomes three mentions of WORD in one short sentence
WEAK = "NATO"  # one mention at the end of a long lead, in a later run: changed last


def datasette_class() -> Any:
    try:
        from datasette.app import Datasette
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("datasette is missing: CI installs the test extra "
                        "(pip install -e '.[test]')")
        pytest.skip("pip install -e '.[test]'")
    return Datasette


def crawl_once(site: TestSite, path: Path) -> None:
    config = load_config_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{site.url('/related/NATO')}"]
        network: {{allow_loopback: true}}
        follow: [related, more_info]
        scope: {{include: ["^/related/", "^/info/"]}}
        max_depth: 1
        recrawl_after: 0s
        politeness: {{concurrency: 4, delay: 0}}
        """), "wiki.yaml")
    with Archive.open(str(path)) as archive:
        asyncio.run(crawl([config], archive, limits=CrawlLimits()))


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


@pytest.fixture(scope="module")
def archive_path(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs: all pages; then STRONG's lead edited and NATO's infobox; then one sentence
    appended to NATO's lead, so /info/NATO has versions 1, 2, 3 from runs 1, 2, 3."""
    path = tmp_path_factory.mktemp("datasette") / f"{DB}.db"
    crawl_once(site, path)
    site.edit(STRONG, summary=f"Deterrence theory rests on {WORD}: {WORD} for deterrence, "
                              f"{WORD} for peace.")
    site.edit(WEAK, infobox={"Motto": "Animus in consulendo liber (edited)"})
    crawl_once(site, path)
    site.edit(WEAK, append_sentence=f"It once kept a {WORD} in Brussels.")
    crawl_once(site, path)
    return path


def get(path: Path, *urls: str, metadata: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None) -> list[Any]:
    """Answers of Datasette's own test client (ASGI in process, no socket)."""
    datasette = datasette_class()

    async def run() -> list[Any]:
        ds = datasette([str(path)], metadata=metadata, settings=settings)
        await ds.invoke_startup()
        try:
            answers = [await ds.client.get(url) for url in urls]
        finally:
            for db in ds.databases.values():
                db.close()
        for answer in answers:
            assert answer.status_code == 200, (answer.request.url, answer.text[:2000])
        return answers

    return asyncio.run(run())


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# -- the metadata ------------------------------------------------------------------------------

def test_the_shipped_metadata_is_the_function_output_for_archive_db() -> None:
    shipped = json.loads((ROOT / "datasette" / "metadata.json").read_text(encoding="utf-8"))
    assert shipped == datasette_metadata("archive"), (
        "datasette/metadata.json is out of date: regenerate it with\n  python -c 'import json; "
        "from scraper.archive.datasette_meta import datasette_metadata as m; "
        "print(json.dumps(m(\"archive\"), indent=2, ensure_ascii=False))' "
        "> datasette/metadata.json")


def test_datasette_names_the_database_as_database_name(tmp_path: Path) -> None:
    datasette = datasette_class()
    for file_name in ("wiki-2026.db", "wiki.2026.db", "pages.sqlite3"):
        path = tmp_path / file_name
        sqlite3.connect(path).close()
        ds = datasette([str(path)])
        assert set(ds.databases) - {"_internal"} == {database_name(str(path))}
    assert database_name("archive/wiki.2026.db") == "wiki.2026"


def test_metadata_applies_to_an_archive_not_named_archive_db(archive_path: Path) -> None:
    pages, database = get(archive_path, f"/{DB}/pages", f"/{DB}",
                          metadata=datasette_metadata(DB), settings=SETTINGS)
    described = str(escape(datasette_metadata(DB)["databases"][DB]["tables"]["pages"]
                           ["description"]))
    assert described in pages.text
    assert f'data-column-description="{escape("Title of the latest version")}"' in pages.text
    for query in QUERIES.values():
        assert str(escape(query["title"])) in database.text
    # The shipped file is keyed "archive": Datasette applies none of it to wiki-2026.db.
    shipped = json.loads((ROOT / "datasette" / "metadata.json").read_text(encoding="utf-8"))
    (plain,) = get(archive_path, f"/{DB}/pages", metadata=shipped)
    assert described not in plain.text


def test_the_table_view_truncates_long_text_and_the_row_page_does_not(archive_path: Path
                                                                      ) -> None:
    ((page_id, text),) = rows(archive_path, "select id, text from pages "
                              "where url like '%/info/NATO'")
    assert len(text) > 2048  # Datasette's default limit would cut it too, much later
    table, row = get(archive_path, f"/{DB}/pages", f"/{DB}/pages/{page_id}",
                     metadata=datasette_metadata(DB), settings=SETTINGS)
    assert str(escape(text[:TRUNCATE_CELLS_HTML] + "\u2026")) in table.text
    assert str(escape(text[:250])) not in table.text  # a cell is a few lines, not a screen
    assert str(escape(text)) in row.text
    (untruncated,) = get(archive_path, f"/{DB}/pages", metadata=datasette_metadata(DB))
    assert str(escape(text[:250])) in untruncated.text  # the setting does it, not a default


def test_the_history_query_lists_a_pages_versions_in_order(archive_path: Path,
                                                           site: TestSite) -> None:
    url = site.url("/info/NATO")
    (answer,) = get(archive_path, f"/{DB}/history.json?url={quote(url)}&_shape=array",
                    metadata=datasette_metadata(DB), settings=SETTINGS)
    with Archive.open(str(archive_path), create=False) as archive:
        expected = [
            {"version": s.version, "fetched_at": s.fetched_at.isoformat(timespec="microseconds"),
             "run_id": s.run_id, "content_hash": s.content_hash,
             "title": archive.page(url, s.version).title,
             "summary": archive.page(url, s.version).summary}
            for s in archive.history(url)]
    got = [{key: row[key] for key in expected[0]} for row in answer.json()]
    assert got == expected
    assert [row["version"] for row in got] == [1, 2, 3] and [r["run_id"] for r in got] == [1, 2, 3]
    assert len({row["content_hash"] for row in got}) == 3
    assert WORD not in got[1]["summary"] and WORD in got[2]["summary"]


def test_the_search_query_puts_the_most_relevant_page_first(archive_path: Path) -> None:
    matching = rows(archive_path, "select id, title, last_changed from pages where "
                    "lower(title || ' ' || summary || ' ' || text) like ?", f"%{WORD}%")
    # The fixture is built so that neither id order nor latest change finds the best page.
    assert min(matching)[1] != STRONG
    assert max(matching, key=lambda r: r[2])[1] == WEAK
    strong_ids = {r[0] for r in matching if r[1] == STRONG}
    assert len(strong_ids) == 2 and len(matching) > 3  # its article and listing, and others

    searched, table = get(
        archive_path,
        f"/{DB}/search.json?q={quote(WORD)}&_shape=array",
        f"/{DB}/pages.json?_search={quote(WORD)}&_shape=array&_size=max",
        metadata=datasette_metadata(DB), settings=SETTINGS)
    found = searched.json()
    assert {r["title"] for r in found[:2]} == {STRONG}
    assert {r["url"] for r in found} == {u for (u,) in rows(
        archive_path, f"select url from pages where id in ({','.join('?' * len(matching))})",
        *[r[0] for r in matching])}
    assert all(r["score"] <= later["score"] for r, later in itertools.pairwise(found))
    assert f"[{WORD}]" in found[0]["hit"]
    # Table search (the search box) filters the same pages, in the table's order.
    assert {r["id"] for r in table.json()} == {r[0] for r in matching}
    assert table.json()[0]["title"] == WEAK


def test_the_search_query_takes_any_text(archive_path: Path) -> None:
    # Quotes, dashes and operators are words to find, not FTS5 syntax: a stray quote or a
    # dash is no error, and OR does not widen the search to pages without "qqqxyz".
    stray = quote(f'  {WORD}  "deterrence- ')
    widened = quote(f"{WORD} OR qqqxyz")
    found, none = get(archive_path, f"/{DB}/search.json?q={stray}&_shape=array",
                      f"/{DB}/search.json?q={widened}&_shape=array",
                      metadata=datasette_metadata(DB), settings=SETTINGS)
    assert found.json() and found.json()[0]["title"] == STRONG
    assert none.json() == []


# -- Datasette 1.x files -----------------------------------------------------------------------

def test_datasette_1_gets_options_and_queries_as_configuration(tmp_path: Path) -> None:
    command = serve_command(["datasette"], "1.0a19", "a/wiki-2026.db", tmp_path,
                            immutable=True, extra=("--port", "9"))
    assert command[:4] == ["datasette", "serve", "-i", "a/wiki-2026.db"]
    metadata = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    config = json.loads((tmp_path / "datasette.json").read_text(encoding="utf-8"))
    assert command[command.index("-c") + 1] == str(tmp_path / "datasette.json")
    assert config == datasette_config(DB)
    assert config["databases"][DB]["queries"] == QUERIES
    assert config["databases"][DB]["tables"] == TABLE_OPTIONS
    assert config["settings"] == SETTINGS
    assert "queries" not in metadata["databases"][DB]
    assert "fts_table" not in metadata["databases"][DB]["tables"]["pages"]
    assert command[-2:] == ["--port", "9"]

    (tmp_path / "x").mkdir()
    old = serve_command(["datasette"], "0.65.5", "wiki-2026.db", tmp_path / "x",
                        immutable=False, extra=())
    assert old[:3] == ["datasette", "serve", "wiki-2026.db"] and "-c" not in old
    assert json.loads((tmp_path / "x" / "metadata.json").read_text(encoding="utf-8")) \
        == datasette_metadata(DB)
    assert old[-3:] == ["--setting", "truncate_cells_html", str(TRUNCATE_CELLS_HTML)]


# -- the command -------------------------------------------------------------------------------

def test_metadata_only_prints_metadata_for_the_files_name(archive_path: Path,
                                                          tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["datasette", str(archive_path), "--metadata-only"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == datasette_metadata(DB)
    out = tmp_path / "meta.json"
    result = CliRunner().invoke(main, ["datasette", str(archive_path), "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text(encoding="utf-8")) == datasette_metadata(DB)


def test_bad_archives_and_arguments_are_named(tmp_path: Path, archive_path: Path) -> None:
    missing = tmp_path / "wiki-2025.db"
    result = CliRunner().invoke(main, ["datasette", str(missing), "--metadata-only"])
    assert result.exit_code == 1
    assert f"{missing}: no archive here" in result.output and "Traceback" not in result.output
    notes = tmp_path / "notes.db"
    notes.write_text("not a database\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["datasette", str(notes)])
    assert result.exit_code == 1 and str(notes) in result.output
    result = CliRunner().invoke(main, ["datasette", str(archive_path), "--metadata-only",
                                       "--", "--port", "8001"])
    assert result.exit_code == 2 and "arguments after -- are for `datasette serve`" in \
        result.output


def run_scraper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def test_the_command_serves_the_archive_with_metadata_and_settings(archive_path: Path) -> None:
    datasette_class()
    done = run_scraper("datasette", str(archive_path), "--", "--get", f"/{DB}/pages")
    assert done.returncode == 0, done.stderr
    assert f"as database '{DB}'" in done.stderr
    pages = datasette_metadata(DB)["databases"][DB]["tables"]["pages"]
    assert str(escape(pages["description"])) in done.stdout
    ((text,),) = rows(archive_path, "select text from pages where url like '%/info/NATO'")
    assert str(escape(text[:TRUNCATE_CELLS_HTML] + "\u2026")) in done.stdout
    assert str(escape(text[:250])) not in done.stdout


def no_datasette_env(tmp_path: Path, path_dirs: list[Path]) -> dict[str, str]:
    """An environment in which `import datasette` fails, and PATH is `path_dirs` only."""
    shim = tmp_path / "shim" / "datasette"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'datasette'\", name='datasette')\n",
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PATH")}
    env["PYTHONPATH"] = str(shim.parent)
    env["PATH"] = os.pathsep.join(str(d) for d in path_dirs)
    return env


def test_without_datasette_the_command_says_how_to_install_it(archive_path: Path,
                                                              tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_scraper("datasette", str(archive_path), env=no_datasette_env(tmp_path, [empty]))
    assert done.returncode == 1
    assert "pip install datasette" in done.stderr and "Traceback" not in done.stderr
    # --metadata-only needs no Datasette.
    done = run_scraper("datasette", str(archive_path), "--metadata-only",
                       env=no_datasette_env(tmp_path / "again", [empty]))
    assert done.returncode == 0 and json.loads(done.stdout) == datasette_metadata(DB)


def test_a_datasette_on_path_is_used_when_python_cannot_import_it(archive_path: Path,
                                                                  tmp_path: Path) -> None:
    datasette_class()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The real Datasette, run isolated (-I) from the PYTHONPATH that hides it from scraper,
    # as a pipx install is.
    launcher = bin_dir / "datasette"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -m datasette "$@"\n',
                        encoding="utf-8")
    launcher.chmod(0o755)
    done = run_scraper("datasette", str(archive_path), "--immutable", "--",
                       "--get", f"/{DB}.json", env=no_datasette_env(tmp_path, [bin_dir]))
    assert done.returncode == 0, done.stderr
    tables = {t["name"] for t in json.loads(done.stdout)["tables"]}
    assert {"pages", "snapshots", "pages_fts"} <= tables


def test_the_server_answers_on_loopback_and_stops_with_the_command(archive_path: Path,
                                                                   tmp_path: Path) -> None:
    datasette_class()
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where the metadata file is written
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper", "datasette", str(archive_path), "--",
         "--host", "127.0.0.1", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or ()],
                              daemon=True)
    reader.start()
    try:
        seen = ""
        while (found := re.search(r"running on (http://127\.0\.0\.1:\d+)", seen)) is None:
            seen += lines.get(timeout=60)
        assert next(p.name for p in tmp_path.iterdir()).startswith("scraper-datasette-")
        with urllib.request.urlopen(f"{found.group(1)}/{DB}/search.json?q={WORD}&_shape=array",
                                    timeout=30) as answer:
            assert json.load(answer)[0]["title"] == STRONG
        proc.send_signal(signal.SIGTERM)  # passed on to Datasette, which shuts down cleanly
        # and, with uvicorn >= 0.29, ends by the signal it got: 128 + 15, as a shell reports it.
        assert proc.wait(timeout=30) in (0, 128 + signal.SIGTERM)
        with pytest.raises(OSError):  # nothing listens there any more
            urllib.request.urlopen(f"{found.group(1)}/", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        proc.stderr.close()
    assert list(tmp_path.iterdir()) == []  # the temporary metadata went with it
