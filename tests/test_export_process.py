"""`python -m scraper export` as a real process: SIGKILL and SIGTERM mid-write, `| head`, pipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scraper.archive import Archive
from scraper.models import FetchResult, Link, Page

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGES = 150
TEXT_BYTES = 500_000  # per page: an export --with-text of ~80 MB, long enough to interrupt


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("big") / "archive.db")
    with Archive.open(path) as archive:
        run = archive.start_run(["big"], {}, T0)
        for i in range(PAGES):
            url = f"http://127.0.0.1:8000/info/Page_{i:04d}"
            para = f"Paragraph of page {i}, with “quotes” and ünïcode. "
            text = para * (TEXT_BYTES // len(para))
            pg = Page(url=url, kind="article", title=f"Page {i}", summary=text[:200],
                      text=text, links=(Link(url + "_rel", "Related Items", "related"),))
            fetch = FetchResult(url=url, final_url=url, status=200,
                                headers=(("Content-Type", "text/html"),),
                                body=text.encode(), fetched_at=T0 + timedelta(seconds=i),
                                elapsed_s=0.01)
            archive.save(run, "big", fetch, pg, next_due=T0 + timedelta(days=1))
    return path


def export_cmd(archive: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "scraper", "export", "--archive", archive, *args]


def start_and_catch_writing(cmd: list[str], target: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start the export and return once its temporary file has data in it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tmp = target.parent / f".{target.name}.tmp-{proc.pid}"
    deadline = time.monotonic() + 60
    while not (tmp.exists() and tmp.stat().st_size > 0):
        if proc.poll() is not None:
            pytest.fail(f"export ended (code {proc.returncode}) before it could be interrupted: "
                        f"{proc.stderr.read().decode() if proc.stderr else ''}")
        assert time.monotonic() < deadline, "export never started writing"
        time.sleep(0.002)
    return proc, tmp


def test_sigkill_leaves_no_file_under_the_target_name(big_archive: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    proc, tmp = start_and_catch_writing(
        export_cmd(big_archive, "--with-text", "-o", str(target)), target)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    # SIGKILL runs no cleanup: what is left is the hidden temporary name, never the target.
    assert [p.name for p in tmp_path.iterdir()] == [tmp.name]
    assert tmp.name.startswith(".pages.jsonl.tmp-")


def test_sigkill_during_forced_export_keeps_the_old_file(big_archive: str, tmp_path: Path
                                                         ) -> None:
    target = tmp_path / "pages.jsonl"
    target.write_bytes(b"the previous export\n")
    proc, _ = start_and_catch_writing(
        export_cmd(big_archive, "--with-text", "--force", "-o", str(target)), target)
    proc.kill()
    proc.communicate(timeout=30)
    assert target.read_bytes() == b"the previous export\n"


def test_sigterm_removes_the_temporary_file(big_archive: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.csv"
    proc, _ = start_and_catch_writing(
        export_cmd(big_archive, "--with-text", "-o", str(target)), target)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    text = stderr.decode()
    assert "interrupted by SIGTERM" in text and str(target) in text
    assert "Traceback" not in text


def test_head_closes_the_pipe_cleanly(big_archive: str) -> None:
    export = subprocess.Popen(export_cmd(big_archive, "--with-text", "-o", "-"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-n", "1"], stdin=export.stdout, stdout=subprocess.PIPE)
    assert export.stdout is not None
    export.stdout.close()  # only head holds the read end now
    first, _ = head.communicate(timeout=60)
    _, stderr = export.communicate(timeout=60)
    record = json.loads(first)
    assert record["url"] == "http://127.0.0.1:8000/info/Page_0000"
    assert len(record["text"]) > 400_000
    # 141 = 128 + SIGPIPE: what the shell reports for any tool stopped by a closed pipe.
    assert export.returncode == 141
    assert stderr == b"", stderr.decode()


def test_whole_export_through_a_pipe(big_archive: str) -> None:
    done = subprocess.run(export_cmd(big_archive, "--records", "links", "-o", "-"),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0
    rows = [json.loads(x) for x in done.stdout.splitlines()]
    assert len(rows) == PAGES and rows[0]["kind"] == "related"
    assert done.stderr.decode().strip() == (
        f"exported {PAGES} links records as jsonl to standard output")


def test_parquet_to_a_pipe(big_archive: str) -> None:
    done = subprocess.run(export_cmd(big_archive, "--format", "parquet", "-o", "-"),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    table = pq.read_table(pa.BufferReader(done.stdout))
    assert table.num_rows == PAGES
    assert table.column("url")[0].as_py() == "http://127.0.0.1:8000/info/Page_0000"


def test_no_leftovers_after_success(big_archive: str, tmp_path: Path) -> None:
    target = tmp_path / "pages.warc.gz"
    done = subprocess.run(export_cmd(big_archive, "--site", "big", "-o", str(target)),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["pages.warc.gz"]
    assert os.path.getsize(target) > 0
