"""Secrets of a config (`request:` headers, cookies and auth, a proxy's password) appear
nowhere a crawl writes or prints: the archive's bytes (SQLite, and a PostgreSQL dump), the
crawl's log at -v -v, `config show`, every export format and the HTML diff.

A real crawl of protected pages of the built-in site, through a loopback proxy that wants
its own password, run as the CLI runs (a `scraper` process with the secrets in its
environment), then every output grepped for each secret."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from forward_proxy import ForwardProxy
from postgres_harness import PostgresServer

from scraper.testsite import TestSite

SECRETS = {
    "SITE_HEADER": "hdr-7Qk2-secret",
    "SITE_COOKIE": "cookie-9Zx4-secret",
    "SITE_PASSWORD": "pw-3Mn8-secret",
    "PROXY_PASSWORD": "proxy-5Tr1-secret",
}


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=8) as running:
        running.require_access("^/info/", header=("X-Api-Key", SECRETS["SITE_HEADER"]),
                               cookie=("sid", SECRETS["SITE_COOKIE"]),
                               basic=("archivist", SECRETS["SITE_PASSWORD"]))
        yield running


def scraper(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scraper", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def write_config(tmp_path: Path, site: TestSite, proxy: ForwardProxy, archive: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: protected
        start_urls: ["{site.url('/related/NATO')}"]
        follow: [related, more_info]
        max_depth: 1
        recrawl_after: 0
        archive: "{archive}"
        politeness: {{delay: 0, concurrency: 4}}
        network:
          allow_loopback: true
          attempts: 1
          proxy: "http://crawler:${{PROXY_PASSWORD}}@127.0.0.1:{proxy.port}"
        request:
          headers: {{X-Api-Key: "${{SITE_HEADER}}"}}
          cookies: {{sid: "${{SITE_COOKIE}}"}}
          auth: {{basic: {{user: archivist, password: "${{SITE_PASSWORD}}"}}}}
        """))
    return path


def crawl_twice(site: TestSite, config: Path, env: dict[str, str]) -> str:
    """Two crawls with an edit between them (so a diff has two versions); their logs."""
    logs = ""
    for round_ in range(2):
        done = scraper("crawl", str(config), "-v", "-v", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        logs += done.stdout + done.stderr
        if round_ == 0:
            site.edit("NATO", append_sentence="An edit between the two crawls.")
    return logs


def assert_no_secret(where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    for name, secret in SECRETS.items():
        assert secret.encode() not in blob, f"{name} found in {where}"


def test_secrets_appear_nowhere(site: TestSite, tmp_path: Path) -> None:
    env = {**os.environ, **SECRETS}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    archive = tmp_path / "archive.db"
    with ForwardProxy(auth=("crawler", SECRETS["PROXY_PASSWORD"])) as proxy:
        config = write_config(tmp_path, site, proxy, str(archive))
        logs = crawl_twice(site, config, env)
    # The settings were used: the protected articles came through the proxy.
    assert any("/info/" in f.target for f in proxy.forwarded())
    info_url = site.url("/info/NATO")
    history = scraper("history", info_url, "--archive", str(archive), env=env)
    assert history.returncode == 0 and history.stdout.count("\n") >= 2, history.stderr
    assert "/info/" in logs  # per-URL lines: the log is the verbose one
    assert_no_secret("the crawl's -v -v log", logs)

    # The archive's bytes, write-ahead log included.
    for file in tmp_path.glob("archive.db*"):
        assert_no_secret(file.name, file.read_bytes())

    shown = scraper("config", "show", str(config), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "X-Api-Key: '***'" in shown.stdout and "crawler:***@" in shown.stdout
    assert_no_secret("config show", shown.stdout + shown.stderr)
    shown_json = scraper("config", "show", str(config), "--format", "json", env=env)
    assert_no_secret("config show --format json", shown_json.stdout + shown_json.stderr)

    for fmt, records in (("jsonl", "pages"), ("jsonl", "entries"), ("jsonl", "links"),
                         ("csv", "pages"), ("parquet", "pages"), ("warc", "pages")):
        out = tmp_path / f"export-{records}.{fmt}"
        done = scraper("export", "--archive", str(archive), "--format", fmt, "--records",
                       records, "--all-versions", "-o", str(out), env=env)
        assert done.returncode == 0, done.stderr
        data = out.read_bytes()
        if fmt == "warc":
            data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        if fmt == "parquet":
            data = str(pq.read_table(out).to_pylist()).encode()
        assert data, f"{fmt} {records} export is empty"
        assert_no_secret(f"the {fmt} export of {records}", data + done.stderr.encode())

    html = tmp_path / "diff.html"
    done = scraper("diff", info_url, "--archive", str(archive), "--format", "html",
                   "-o", str(html), env=env)
    assert done.returncode == 0, done.stderr
    assert "<html" in html.read_text().lower()
    assert_no_secret("the HTML diff", html.read_bytes())


def test_secrets_are_not_in_a_postgresql_archive(site: TestSite, tmp_path: Path,
                                                 postgres_server: PostgresServer,
                                                 postgres_url: str) -> None:
    env = {**os.environ, **SECRETS}
    with ForwardProxy(auth=("crawler", SECRETS["PROXY_PASSWORD"])) as proxy:
        config = write_config(tmp_path, site, proxy, postgres_url)
        crawl_twice(site, config, env)
    # Every row of every table as text (bytea as hex: the secrets would show as their hex).
    dump = ""
    with postgres_server.connect(postgres_url.rsplit("/", 1)[1]) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")]
        for table in tables:
            dump += "\n".join(str(row[0]) for row in conn.execute(
                f"SELECT t::text FROM {table} AS t"))  # table names from the catalogue
    assert "/info/NATO" in dump and "***" in dump  # the pages, and the run rows' config
    assert_no_secret("the PostgreSQL archive's rows", dump)
    for secret in SECRETS.values():
        assert secret.encode().hex() not in dump
