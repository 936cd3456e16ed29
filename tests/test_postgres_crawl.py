"""A crawl of the built-in site into PostgreSQL gives what the same crawl into SQLite gives:
history, diff and the JSONL export agree (times and run ids aside)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner

from scraper.cli import main
from scraper.testsite import TestSite

VARYING = {"fetched_at", "run_id", "first_seen", "last_fetched", "last_changed", "last_seen",
           "archived_at", "elapsed_s"}


def _stable(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: _stable(v) for k, v in record.items() if k not in VARYING}
    if isinstance(record, list):
        return [_stable(v) for v in record]
    return record


def _crawl(config: Path, archive: str) -> None:
    result = CliRunner().invoke(main, ["crawl", str(config), "--archive", archive])
    assert result.exit_code == 0, result.output


def _read(site: TestSite, archive: str) -> dict[str, Any]:
    runner = CliRunner()
    url = site.url("/info/" + site.model.slugs[0])
    history = runner.invoke(main, ["history", url, "--archive", archive])
    diff = runner.invoke(main, ["diff", url, "--archive", archive])
    export = runner.invoke(main, ["export", "--archive", archive, "--format", "jsonl",
                                  "--all-versions", "-o", "-"])
    for result in (history, diff, export):
        assert result.exit_code == 0, result.output
    return {"history_lines": len(history.output.splitlines()),
            "diff": re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", "TIME", diff.output),
            "export": sorted((_stable(json.loads(line)) for line in export.output.splitlines()
                              if line.startswith("{")), key=json.dumps)}


def test_a_crawl_into_postgresql_matches_one_into_sqlite(tmp_path: Path,
                                                         postgres_url: str) -> None:
    archives = (str(tmp_path / "a.db"), postgres_url)
    with TestSite(pages=20) as site:
        config = tmp_path / "wiki.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: wiki
            start_urls: ["{site.url('/')}", "{site.url('/info/' + site.model.slugs[0])}"]
            recrawl_after: 0s
            max_pages: 15
            network: {{allow_loopback: true}}
            politeness: {{delay: 0}}
            """))
        for archive in archives:
            _crawl(config, archive)
        site.edit(site.model.slugs[0], summary="Edited for the second crawl.")
        for archive in archives:
            _crawl(config, archive)
        sqlite, postgres = (_read(site, archive) for archive in archives)
    assert len(sqlite["export"]) >= 3 and sqlite["history_lines"] > 1
    assert postgres == sqlite


def test_an_archive_url_in_the_config_keeps_its_password_out_of_output_and_the_archive(
        tmp_path: Path, postgres_url: str) -> None:
    # Trust authentication on the test server: the password is carried, never asked for.
    with_password = re.sub(r"^postgresql://([^@/:]+)@", r"postgresql://\1:s3cret-pw@",
                           postgres_url)
    assert "s3cret-pw" in with_password
    with TestSite(pages=5) as site:
        config = tmp_path / "wiki.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: wiki
            start_urls: ["{site.url('/')}"]
            archive: "{with_password}"
            max_pages: 3
            network: {{allow_loopback: true}}
            politeness: {{delay: 0}}
            """))
        runner = CliRunner()
        crawled = runner.invoke(main, ["crawl", str(config)])
        assert crawled.exit_code == 0, crawled.output
        shown = runner.invoke(main, ["config", "show", str(config)])
        stats = runner.invoke(main, ["stats", "--archive", with_password, "--format", "json"])
    for result in (crawled, shown, stats):
        assert "s3cret-pw" not in result.output
    assert "s3cret-pw" not in str(list(tmp_path.rglob("*")))
    assert ":***@" in crawled.output and ":***@" in shown.output
    with psycopg.connect(postgres_url) as conn:
        dump = conn.execute("SELECT config FROM runs").fetchall()
    assert dump and all("s3cret-pw" not in str(row) for row in dump)
