"""The export writers (JSONL, CSV, Parquet, WARC) and atomic output, on synthetic versions."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import stat
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from scraper.errors import ExportError
from scraper.export import (
    ExportOptions,
    atomic_output,
    columns_for,
    export_to_path,
    export_to_stream,
    iter_records,
    temp_path_for,
)
from scraper.export.parquet import INSTALL_HINT, ParquetWriter
from scraper.export.warc import http_headers_for, status_line
from scraper.models import Entry, Link, Page, Snapshot, VersionSummary, page_to_dict
from scraper.timeutil import iso

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_versions(n: int = 6) -> list[tuple[str, Snapshot, Page, bytes, list[tuple[str, str]]]]:
    """Listing and article versions with awkward text: quotes, commas, newlines, non-ASCII."""
    out = []
    for i in range(n):
        url = f"http://127.0.0.1:8000/related/Topic_{i // 2}"
        version = i % 2 + 1
        title = f'Topic {i // 2} "Ünïcode", with comma'
        entries = tuple(
            Entry(title=f"E{j}", summary=f"Line one\nline ''two'' ü {j} ...",
                  summary_truncated=True,
                  image=f"http://127.0.0.1:8000/img/E{j}.jpg",
                  more_info=f"http://127.0.0.1:8000/info/E{j}",
                  related=f"http://127.0.0.1:8000/related/E{j}",
                  search_links=(("Wikipedia", f"https://en.wikipedia.org/wiki/E{j}"),))
            for j in range(i % 3 + 1))
        page = Page(
            url=url, kind="listing" if i % 2 == 0 else "article", title=title,
            summary="Россия — страна ...", summary_truncated=bool(i % 2),
            text=f"Body {i}\n\nSecond, paragraph.",
            links=(Link(f"http://127.0.0.1:8000/related/E{i}", "Related Items ↗", "related"),
                   Link(f"http://127.0.0.1:8000/info/E{i}", "More Info", "more_info")),
            entries=entries, categories=("Cat A", "Cat,B") if i % 2 else (),
            infobox=(("Capital", "Moscow"),) if i % 2 else (),
            revision_id=1000 + i if i % 2 else None,
        )
        snapshot = Snapshot(url=url, version=version, content_hash=f"{i:064x}",
                            fetched_at=T0 + timedelta(hours=i), status=200 if i != 3 else 203,
                            final_url=url if i != 4 else url + "?redirected=1",
                            revision_id=page.revision_id)
        body = (f"<html><body><h1>{title}</h1>".encode() + bytes(range(256)) + b"\r\n\x00end")
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
                   ("Content-Length", "17"), ("ETag", f'"v{i}"')]
        out.append(("mirror" if i < 4 else "wiki", snapshot, page, body, headers))
    return out


class ListArchive:
    """Versions from a list, for the writers' tests (the filters are the archive's job and are
    tested against the real one in test_export_archive.py)."""

    def __init__(self, versions: list[tuple[str, Snapshot, Page, bytes, list[tuple[str, str]]]]
                 ) -> None:
        self.versions = versions
        self.calls: list[dict[str, Any]] = []

    def iter_versions(self, **kwargs: Any) -> Iterator[tuple[str, Snapshot, Page]]:
        self.calls.append(kwargs)
        for site, snap, page, _, _ in self.versions:
            yield site, snap, page

    def iter_summaries(self, **kwargs: Any) -> Iterator[VersionSummary]:
        for site, snap, page in self.iter_versions(**kwargs):
            yield VersionSummary.of(site, snap, page)

    def _find(self, url: str, version: int | None) -> tuple[bytes, list[tuple[str, str]]]:
        for _, snap, _, body, headers in self.versions:
            if snap.url == url and snap.version == version:
                return body, headers
        raise KeyError((url, version))

    def body(self, url: str, version: int | None = None) -> bytes:
        return self._find(url, version)[0]

    def response_headers(self, url: str, version: int | None = None) -> list[tuple[str, str]]:
        return self._find(url, version)[1]


def expected_pages(archive: ListArchive, with_text: bool = False) -> list[dict[str, Any]]:
    return list(iter_records(archive, ExportOptions(records="pages", with_text=with_text)))


def export_bytes(archive: ListArchive, **options: Any) -> bytes:
    out = io.BytesIO()
    export_to_stream(archive, out, ExportOptions(**options))
    return out.getvalue()


# -- JSONL ------------------------------------------------------------------------------------

@pytest.mark.parametrize("records", ["pages", "entries", "links"])
def test_jsonl_round_trip(records: str) -> None:
    archive = ListArchive(make_versions())
    data = export_bytes(archive, format="jsonl", records=records, with_text=True)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    rows = [json.loads(line) for line in lines[:-1]]
    expected = list(iter_records(archive, ExportOptions(records=records, with_text=True)))
    assert len(rows) == len(expected) > 0
    for row, exp in zip(rows, expected, strict=True):
        assert list(row) == [c.name for c in columns_for(records, with_text=True)]
        want = {k: iso(v) if isinstance(v, datetime) else v for k, v in exp.items()}
        assert row == want
    assert b"\\u" not in data and any(ord(c) > 127 for c in data.decode("utf-8"))  # UTF-8


def test_jsonl_pages_match_the_versions_fed_in() -> None:
    versions = make_versions()
    archive = ListArchive(versions)
    rows = [json.loads(x) for x in export_bytes(archive, format="jsonl").splitlines()]
    for row, (site, snap, page, _, _) in zip(rows, versions, strict=True):
        assert row["url"] == snap.url and row["site"] == site and row["version"] == snap.version
        assert row["title"] == page.title and row["summary"] == page.summary
        assert row["fetched_at"] == iso(snap.fetched_at)
        assert row["categories"] == list(page.categories)
        assert "text" not in row


# -- CSV --------------------------------------------------------------------------------------

def test_csv_round_trip_with_nested_fields_as_json() -> None:
    archive = ListArchive(make_versions())
    data = export_bytes(archive, format="csv", with_text=True)
    assert not data.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    rows = list(reader)
    expected = expected_pages(archive, with_text=True)
    assert reader.fieldnames == [c.name for c in columns_for("pages", with_text=True)]
    assert len(rows) == len(expected)
    for row, exp in zip(rows, expected, strict=True):
        assert row["title"] == exp["title"]
        assert row["text"] == exp["text"]  # newlines survive quoting
        assert json.loads(row["related"]) == exp["related"]
        assert json.loads(row["categories"]) == exp["categories"]
        assert json.loads(row["infobox"]) == exp["infobox"]
        assert row["summary_truncated"] == ("true" if exp["summary_truncated"] else "false")
        assert row["revision_id"] == ("" if exp["revision_id"] is None else
                                      str(exp["revision_id"]))
        assert row["version"] == str(exp["version"])
        assert row["fetched_at"] == iso(exp["fetched_at"])


def test_csv_entries_keep_listing_pages_as_a_json_list() -> None:
    archive = ListArchive(make_versions())
    rows = list(csv.DictReader(io.StringIO(
        export_bytes(archive, format="csv", records="entries").decode(), newline="")))
    expected = list(iter_records(archive, ExportOptions(records="entries")))
    assert [json.loads(r["listing_pages"]) for r in rows] == [e["listing_pages"] for e in expected]
    assert [r["summary"] for r in rows] == [e["summary"] for e in expected]


# -- Parquet ----------------------------------------------------------------------------------

@pytest.mark.parametrize("records", ["pages", "entries", "links"])
def test_parquet_round_trip_keeps_lists_as_lists(records: str) -> None:
    archive = ListArchive(make_versions())
    table = pq.read_table(pa.BufferReader(export_bytes(archive, format="parquet",
                                                       records=records)))
    expected = list(iter_records(archive, ExportOptions(records=records)))
    assert table.column_names == [c.name for c in columns_for(records)]
    assert table.to_pylist() == expected
    if records == "pages":
        assert pa.types.is_list(table.schema.field("categories").type)
        assert pa.types.is_struct(table.schema.field("related").type.value_type)
        assert pa.types.is_timestamp(table.schema.field("fetched_at").type)


def test_parquet_is_written_in_row_groups() -> None:
    columns = columns_for("links")
    out = io.BytesIO()
    writer = ParquetWriter(out, columns, row_group_rows=4)
    rows = list(iter_records(ListArchive(make_versions()), ExportOptions(records="links")))
    for row in rows:
        writer.write(row)
    writer.close()
    meta = pq.ParquetFile(pa.BufferReader(out.getvalue())).metadata
    assert meta.num_rows == len(rows) == 12
    assert meta.num_row_groups == 3 == writer.row_groups
    # A byte budget closes row groups too (long texts), at batch boundaries.
    out = io.BytesIO()
    writer = ParquetWriter(out, columns, row_group_bytes=1, batch_rows=5)
    for row in rows:
        writer.write(row)
    writer.close()
    table = pq.read_table(pa.BufferReader(out.getvalue()))
    assert pq.ParquetFile(pa.BufferReader(out.getvalue())).metadata.num_row_groups == 3
    assert table.to_pylist() == rows


def test_parquet_without_pyarrow_says_how_to_install(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    target = tmp_path / "out.parquet"
    with pytest.raises(ExportError) as info:
        export_to_path(ListArchive(make_versions()), str(target),
                       ExportOptions(format="parquet"))
    assert INSTALL_HINT in str(info.value) and str(target) in str(info.value)
    assert "pip install -e '.[parquet]'" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# -- WARC -------------------------------------------------------------------------------------

def read_warc(data: bytes) -> list[dict[str, Any]]:
    out = []
    for record in ArchiveIterator(io.BytesIO(data)):
        out.append({
            "type": record.rec_type,
            "headers": record.rec_headers,
            "http": record.http_headers,
            "body": record.content_stream().read(),
        })
    return out


@pytest.mark.parametrize("name", ["out.warc", "out.warc.gz"])
def test_warc_round_trip_is_byte_identical(tmp_path: Path, name: str) -> None:
    versions = make_versions()
    archive = ListArchive(versions)
    target = tmp_path / name
    result = export_to_path(archive, str(target), ExportOptions(format="warc"))
    assert result.records == len(versions)
    data = target.read_bytes()
    assert data.startswith(b"\x1f\x8b") == name.endswith(".gz")
    records = read_warc(data)
    assert records[0]["type"] == "warcinfo"
    assert records[0]["headers"].get_header("WARC-Filename") == name
    pairs = records[1:]
    assert [r["type"] for r in pairs] == ["response", "metadata"] * len(versions)
    for (site, snap, page, body, headers), response, meta in zip(
            versions, pairs[::2], pairs[1::2], strict=True):
        rh = response["headers"]
        assert response["body"] == body  # byte-identical
        assert rh.get_header("WARC-Target-URI") == (snap.final_url or snap.url)
        assert rh.get_header("WARC-Date") == snap.fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert rh.protocol == "WARC/1.1"
        assert response["http"].get_statuscode() == str(snap.status)
        assert response["http"].get_header("Content-Type") == "text/html; charset=utf-8"
        assert response["http"].get_header("ETag") == dict(headers)["ETag"]
        assert response["http"].get_header("Content-Encoding") is None
        assert response["http"].get_header("X-Archive-Orig-Content-Encoding") == "gzip"
        assert response["http"].get_header("Content-Length") == str(len(body))
        mh = meta["headers"]
        assert mh.get_header("WARC-Concurrent-To") == rh.get_header("WARC-Record-ID")
        assert mh.get_header("WARC-Refers-To") == rh.get_header("WARC-Record-ID")
        # A URI of its own, so that replay tools never serve the fields for the page.
        assert mh.get_header("WARC-Target-URI") == "urn:scraper:fields:" + rh.get_header(
            "WARC-Target-URI")
        assert mh.get_header("Content-Type") == "application/json"
        fields = json.loads(meta["body"])
        assert fields["site"] == site and fields["url"] == snap.url
        assert fields["version"] == snap.version and fields["status"] == snap.status
        assert fields["page"] == page_to_dict(page)


def test_warc_each_gz_record_is_its_own_gzip_member(tmp_path: Path) -> None:
    target = tmp_path / "x.warc.gz"
    export_to_path(ListArchive(make_versions(2)), str(target), ExportOptions(format="warc"))
    plain = gzip.decompress(target.read_bytes())  # concatenated members decompress as one
    assert plain.count(b"WARC/1.1\r\n") == 5


def test_status_line_and_header_rewrite() -> None:
    assert status_line(200) == "200 OK"
    assert status_line(599) == "599"
    headers = http_headers_for([("Transfer-Encoding", "chunked"), ("content-length", "3")],
                               b"abc")
    assert headers == [("X-Archive-Orig-Transfer-Encoding", "chunked"), ("Content-Length", "3")]
    assert http_headers_for([], b"abcd") == [("Content-Length", "4")]


def test_warc_refuses_other_record_kinds() -> None:
    with pytest.raises(ExportError, match="--records pages"):
        export_bytes(ListArchive(make_versions()), format="warc", records="links")


# -- options and atomic output ----------------------------------------------------------------

def test_options_are_passed_to_the_archive() -> None:
    archive = ListArchive(make_versions())
    since, until = T0, T0 + timedelta(days=1)
    export_bytes(archive, format="jsonl", site="wiki", since=since, until=until,
                 all_versions=True)
    assert archive.calls == [{"site": "wiki", "since": since, "until": until,
                              "all_versions": True, "as_of": None}]


@pytest.mark.parametrize("options,message", [
    ({"format": "xml"}, "unknown format"),
    ({"records": "people"}, "unknown records"),
    ({"as_of": T0, "all_versions": True}, "--as-of"),
    ({"since": T0, "until": T0}, "--since must be earlier"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        export_bytes(ListArchive(make_versions()), **options)


def test_existing_file_is_kept_byte_identical_without_force(tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    target.write_bytes(b"precious\x00data")
    with pytest.raises(ExportError) as info:
        export_to_path(ListArchive(make_versions()), str(target), ExportOptions())
    assert str(target) in str(info.value) and "--force" in str(info.value)
    assert target.read_bytes() == b"precious\x00data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.jsonl"]


def test_force_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "pages.jsonl"
    target.write_bytes(b"old")
    archive = ListArchive(make_versions())
    result = export_to_path(archive, str(target), ExportOptions(), force=True)
    assert result.records == 6 and result.path == str(target)
    assert target.read_bytes() == export_bytes(archive, format="jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.jsonl"]


def test_relative_path_is_used_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = export_to_path(ListArchive(make_versions()), "x y.csv", ExportOptions(format="csv"))
    assert result.path == "x y.csv"
    assert (tmp_path / "x y.csv").read_bytes().startswith(b"url,site,kind,")


@pytest.mark.parametrize("exc", [RuntimeError("disk"), KeyboardInterrupt()])
def test_failure_midway_leaves_nothing(tmp_path: Path, exc: BaseException) -> None:
    target = tmp_path / "out.bin"
    seen_tmp = []
    with pytest.raises(type(exc)), atomic_output(str(target)) as stream:
        stream.write(b"x" * 100_000)
        stream.flush()
        seen_tmp.extend(p.name for p in tmp_path.iterdir())
        raise exc
    assert seen_tmp == [os.path.basename(temp_path_for(str(target)))]
    assert seen_tmp[0] == f".out.bin.tmp-{os.getpid()}"
    assert list(tmp_path.iterdir()) == []


def test_target_created_during_the_export_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with (pytest.raises(ExportError, match="appeared while the export ran"),
          atomic_output(str(target)) as stream):
        stream.write(b"new")
        target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("make_path,message", [
    (lambda d: d, "is a folder"),
    (lambda d: d / "missing" / "out.jsonl", "does not exist"),
])
def test_unusable_targets_are_refused(tmp_path: Path, make_path: Any, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        export_to_path(ListArchive(make_versions()), str(make_path(tmp_path)), ExportOptions())


class EndlessArchive(ListArchive):
    """An archive that never runs out of versions: only a streaming export can start on it."""

    def iter_versions(self, **kwargs: Any) -> Iterator[tuple[str, Snapshot, Page]]:
        base = self.versions
        n = 0
        while True:
            site, snap, page, _, _ = base[n % len(base)]
            yield site, dataclasses.replace(snap, version=n + 1), page
            n += 1

    def body(self, url: str, version: int | None = None) -> bytes:
        return self.versions[0][3]

    def response_headers(self, url: str, version: int | None = None) -> list[tuple[str, str]]:
        return self.versions[0][4]


class StopAfter(io.RawIOBase):
    """A sink that accepts `limit` bytes, then fails as a closed pipe would."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.seen += len(data)
        if self.seen > self.limit:
            raise BrokenPipeError("reader went away")
        return len(data)


@pytest.mark.parametrize("fmt,records", [("jsonl", "pages"), ("csv", "links"),
                                         ("warc", "pages")])
def test_export_streams_without_reading_the_whole_archive(fmt: str, records: str) -> None:
    sink = StopAfter(500_000)
    with pytest.raises(BrokenPipeError):
        export_to_stream(EndlessArchive(make_versions()), sink,  # type: ignore[arg-type]
                         ExportOptions(format=fmt, records=records, all_versions=True))
    assert sink.seen > 500_000


def read_fifo_in_thread(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def reader() -> None:
        with fifo.open("rb") as fh:
            got.append(fh.read())

    thread = threading.Thread(target=reader)
    thread.start()
    return thread, got


@pytest.mark.parametrize("through_link", [False, True])
def test_special_files_are_written_directly_never_replaced(tmp_path: Path,
                                                           through_link: bool) -> None:
    # A named pipe stands for /dev/null and /dev/stdout, which the test must not risk.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = fifo
    if through_link:
        target = tmp_path / "link"
        target.symlink_to(fifo)
    archive = ListArchive(make_versions())
    thread, got = read_fifo_in_thread(fifo)
    result = export_to_path(archive, str(target), ExportOptions(), force=False)
    thread.join(timeout=30)
    assert result.records == 6
    assert got == [export_bytes(archive, format="jsonl")]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert target.is_symlink() == through_link
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"pipe", target.name})


def test_symlinked_file_is_replaced_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "data" / "pages.jsonl"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    archive = ListArchive(make_versions())
    with pytest.raises(ExportError, match="already exists"):
        export_to_path(archive, str(link), ExportOptions())
    export_to_path(archive, str(link), ExportOptions(), force=True)
    assert link.is_symlink() and link.resolve() == real
    assert real.read_bytes() == export_bytes(archive, format="jsonl")
    assert sorted(p.name for p in real.parent.iterdir()) == ["pages.jsonl"]
