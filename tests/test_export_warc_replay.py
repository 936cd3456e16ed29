"""Exported WARC files replay in pywb: every version of a crawled page at its own timestamp,
and never the metadata record of its extracted fields in its place.

pywb runs from a throwaway virtualenv that a session fixture builds under pytest's tmp dir
(pip from the package registry), not from the project's .venv: pywb requires brotlipy, whose
`brotli/` package shadows Google's `brotli` module, whose `Decompressor().process` scraper.crawl.fetch
and httpx decode `br` with (brotlipy's Decompressor has no `process`). The pywb server runs as
a subprocess, which also keeps gevent's monkeypatching and import warnings out of this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import httpx
import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from scraper.archive import Archive
from scraper.cli import main
from scraper.config import load_config_text
from scraper.crawl import crawl
from scraper.export.warc import FIELDS_URI_PREFIX
from scraper.models import Page, Snapshot, page_to_dict
from scraper.testsite import TestSite

# A pinned release: what pywb indexes and replays is what this test checks against.
PYWB_REQUIREMENT = "pywb==2.10.0"
COLLECTION = "scraper"
# Articles, a listing, and pages the site sends gzip- and br-encoded (the archive keeps them
# decoded; the WARC renames Content-Encoding so that pywb does not decode them again).
PATHS = ("/related/NATO", "/info/NATO", "/info/Warsaw_Pact", "/fault/gzip-bomb/3000",
         "/fault/brotli-bomb/3000")
EDITED = "NATO"  # edited between the two crawls: /related/NATO and /info/NATO get a version 2


def unavailable(message: str) -> None:
    """CI sets up everything the tests need, so there a missing pywb is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pywb_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ of a fresh virtualenv holding pywb (about 10 s with pip's cache warm; removed
    afterwards, as it takes 100 MB)."""
    venv = tmp_path_factory.mktemp("pywb-venv")
    python = venv / "bin" / "python"
    for command in ([sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                     PYWB_REQUIREMENT],
                    [str(python), "-c", "import pywb.apps.cli, pywb.manager.manager"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                  check=False)
        except subprocess.TimeoutExpired:
            unavailable(f"pywb for the replay test: `{shlex.join(command)}` took over 900 s")
        if done.returncode != 0:
            unavailable(f"pywb for the replay test: `{shlex.join(command)}` exited "
                        f"{done.returncode} (it needs the package registry): "
                        f"{(done.stderr or done.stdout).strip()[-1500:]}")
    yield venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)


def wait_for_next_second(after: datetime) -> None:
    """pywb's timestamps have whole seconds: two versions of a page must not share one."""
    while datetime.now(UTC).replace(microsecond=0) <= after.replace(microsecond=0):
        time.sleep(0.05)


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real crawl of the built-in site over loopback, then an edit and a second crawl."""
    path = str(tmp_path_factory.mktemp("replay") / "archive.db")
    with TestSite(pages=30) as site:
        config = load_config_text(textwrap.dedent(f"""\
            name: replay
            start_urls: {json.dumps([site.url(p) for p in PATHS])}
            network: {{allow_loopback: true}}
            max_depth: 0
            recrawl_after: 0s
            politeness: {{concurrency: 2, delay: 0}}
            """), "replay.yaml")
        with Archive.open(path) as archive:
            asyncio.run(crawl([config], archive))
            wait_for_next_second(max(snap.fetched_at for _, snap, _ in archive.iter_versions()))
            site.edit(EDITED, summary="NATO is an alliance, says a sentence edited by the test.")
            asyncio.run(crawl([config], archive))
    return path


def archived_versions(path: str) -> list[tuple[Snapshot, Page, bytes]]:
    with Archive.open(path, create=False) as archive:
        return [(snap, page, archive.body(snap.url, snap.version))
                for _, snap, page in archive.iter_versions(all_versions=True)]


@pytest.fixture(scope="module")
def warc_path(archive_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("warc") / "crawl.warc.gz"
    result = CliRunner().invoke(main, ["export", "--archive", archive_path, "-o", str(target),
                                       "--all-versions"])
    assert result.exit_code == 0, result.output
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Pywb:
    base_url: str
    client: httpx.Client

    def replay(self, timestamp: str, url: str) -> httpx.Response:
        """The id_ mode: the archived bytes and headers, nothing rewritten."""
        return self.client.get(f"{self.base_url}/{COLLECTION}/{timestamp}id_/{url}")

    def captures(self, url: str) -> list[dict[str, Any]]:
        """pywb's CDX index lines for `url`, as its CDX server answers them."""
        answer = self.client.get(f"{self.base_url}/{COLLECTION}/cdx",
                                 params={"url": url, "output": "json"})
        assert answer.status_code == 200, answer.text
        return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


def run_pywb_command(bin_dir: Path, root: Path, *args: str) -> None:
    done = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{shlex.join(args)}: {done.stderr}"


@pytest.fixture(scope="module")
def pywb(pywb_bin: Path, warc_path: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pywb]:
    """pywb's `wayback` on 127.0.0.1, serving a collection made by `wb-manager` from the WARC."""
    root = tmp_path_factory.mktemp("pywb")
    run_pywb_command(pywb_bin, root, "wb-manager", "init", COLLECTION)
    run_pywb_command(pywb_bin, root, "wb-manager", "add", COLLECTION, str(warc_path))
    (root / "config.yaml").write_text("collections_root: collections\n")
    # Anything pywb would fetch from outside (tldextract's suffix list, a live web) goes to a
    # loopback port that refuses; its frontend reaches its own warcserver on localhost.
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        env = {**os.environ, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy,
               "https_proxy": proxy, "NO_PROXY": "localhost,127.0.0.1",
               "no_proxy": "localhost,127.0.0.1"}
        with httpx.Client(trust_env=False, timeout=30) as client:
            for _ in range(3):  # the port picked may be taken before wayback binds it
                port = free_port()
                log_path = root / f"wayback-{port}.log"
                with log_path.open("wb") as log:
                    server = subprocess.Popen(
                        [str(pywb_bin / "wayback"), "--bind", "127.0.0.1", "--port", str(port)],
                        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
                try:
                    if wait_until_serving(server, client, f"http://127.0.0.1:{port}/"):
                        yield Pywb(f"http://127.0.0.1:{port}", client)
                        return
                finally:
                    server.terminate()
                    try:
                        server.wait(10)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait(10)
            pytest.fail(f"pywb's wayback did not start: {log_path.read_text()[-3000:]}")


def wait_until_serving(server: subprocess.Popen[bytes], client: httpx.Client, url: str) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            client.get(url)
            return True
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def pywb_timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def test_every_version_replays_at_its_own_timestamp(archive_path: str, pywb: Pywb) -> None:
    versions = archived_versions(archive_path)
    bodies = {(snap.url, snap.version): body for snap, _, body in versions}
    latest = {urlsplit(url)._replace(scheme="", netloc="").geturl(): version
              for url, version in sorted(bodies)}
    assert latest.keys() >= set(PATHS)  # and the crawl may have followed a listing's pages
    assert (latest["/related/NATO"], latest["/info/NATO"], latest["/info/Warsaw_Pact"]) == (
        2, 2, 1)
    edited = [url for url, version in bodies if version == 2]
    assert all(bodies[url, 1] != bodies[url, 2] for url in edited)
    for snap, _, body in versions:
        url = snap.final_url or snap.url
        answer = pywb.replay(pywb_timestamp(snap.fetched_at), url)
        where = f"{url} version {snap.version} at {pywb_timestamp(snap.fetched_at)}"
        assert answer.status_code == snap.status == 200, where
        assert answer.headers["content-type"].startswith("text/html"), (
            where, answer.headers["content-type"], answer.content[:200])
        assert "content-encoding" not in answer.headers, where
        assert answer.content == body, where


def test_pywb_indexes_the_responses_and_not_the_fields(archive_path: str, pywb: Pywb) -> None:
    versions = archived_versions(archive_path)
    for url in {snap.final_url or snap.url for snap, _, _ in versions}:
        captures = pywb.captures(url)
        assert sorted(c["timestamp"] for c in captures) == sorted(
            pywb_timestamp(snap.fetched_at) for snap, _, _ in versions
            if (snap.final_url or snap.url) == url), (url, captures)
        assert {c["mime"] for c in captures} == {"text/html"}, (url, captures)


def test_metadata_records_still_carry_the_fields(archive_path: str, warc_path: Path) -> None:
    with warc_path.open("rb") as fh:
        records = [(r.rec_type, r.rec_headers, r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    assert records[0][0] == "warcinfo"
    versions = archived_versions(archive_path)
    assert len(records) == 1 + 2 * len(versions)
    for (snap, page, body), response, metadata in zip(versions, records[1::2], records[2::2],
                                                      strict=True):
        assert response[0] == "response" and response[2] == body
        assert metadata[0] == "metadata"
        uri = response[1].get_header("WARC-Target-URI")
        assert uri == (snap.final_url or snap.url)
        assert metadata[1].get_header("WARC-Target-URI") == FIELDS_URI_PREFIX + uri
        response_id = response[1].get_header("WARC-Record-ID")
        assert metadata[1].get_header("WARC-Refers-To") == response_id
        assert metadata[1].get_header("WARC-Concurrent-To") == response_id
        assert metadata[1].get_header("WARC-Date") == response[1].get_header("WARC-Date")
        assert metadata[1].get_header("Content-Type") == "application/json"
        fields = json.loads(metadata[2])
        assert (fields["site"], fields["url"], fields["version"]) == (
            "replay", snap.url, snap.version)
        assert fields["content_hash"] == snap.content_hash
        assert fields["page"] == page_to_dict(page)


def test_the_projects_brotli_is_googles() -> None:
    """Installing pywb into the project's .venv would shadow it with brotlipy's (see above)."""
    decompressor = brotli.Decompressor()
    assert hasattr(decompressor, "process") and hasattr(decompressor, "can_accept_more_data")
    assert brotli.decompress(brotli.compress(b"<html>")) == b"<html>"
