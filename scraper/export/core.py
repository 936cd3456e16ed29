"""The export driver: archive versions in, one format's bytes out, to a stream or an atomic file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from scraper.errors import ExportError
from scraper.export.atomic import atomic_output, check_target
from scraper.export.entries import EntryMerger
from scraper.export.records import (
    RECORD_KINDS,
    columns_for,
    link_records,
    page_record,
    summary_record,
)
from scraper.export.writers import CsvWriter, JsonlWriter, RecordWriter
from scraper.models import Page, Snapshot, VersionSummary

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "warc")
STDOUT = "-"


class ArchiveReader(Protocol):
    """The part of scraper.archive.ArchiveBackend an export reads."""

    def iter_versions(self, *, site: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, all_versions: bool = False,
                      as_of: datetime | None = None) -> Iterator[tuple[str, Snapshot, Page]]: ...

    def iter_summaries(self, *, site: str | None = None, since: datetime | None = None,
                       until: datetime | None = None, all_versions: bool = False,
                       as_of: datetime | None = None
                       ) -> Iterator[VersionSummary]: ...

    def body(self, url: str, version: int | None = None) -> bytes: ...

    def response_headers(self, url: str, version: int | None = None
                         ) -> list[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to export. Times are UTC-aware; `since` is inclusive and `until` exclusive, both on
    the version's fetched_at; `as_of` picks, for each page, the version current at that moment."""

    format: str = "jsonl"
    records: str = "pages"
    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    all_versions: bool = False
    with_text: bool = False
    csv_raw_formulas: bool = False  # CSV: keep cells starting with = + - @ as they are

    def check(self, path: str = STDOUT) -> None:
        """Refuse combinations that make no sense, before anything is opened or written."""
        if self.format not in FORMATS:
            raise ExportError(path, f"unknown format {self.format!r}; expected one of "
                                    f"{', '.join(FORMATS)}")
        if self.records not in RECORD_KINDS:
            raise ExportError(path, f"unknown records {self.records!r}; expected one of "
                                    f"{', '.join(RECORD_KINDS)}")
        if self.format == "warc" and self.records != "pages":
            raise ExportError(path, "WARC holds page versions: use --records pages with it")
        if self.as_of is not None and self.all_versions:
            raise ExportError(path, "--as-of gives one version per page; it does not combine "
                                    "with --all-versions")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ExportError(path, "--since must be earlier than --until")


@dataclass(frozen=True, slots=True)
class ExportResult:
    records: int  # rows written (WARC: versions, each a response + metadata pair)
    path: str  # as given; "-" for standard output
    format: str
    record_kind: str


def _filters(options: ExportOptions) -> dict[str, Any]:
    return {"site": options.site, "since": options.since, "until": options.until,
            "all_versions": options.all_versions, "as_of": options.as_of}


def _versions(archive: ArchiveReader, options: ExportOptions
              ) -> Iterator[tuple[str, Snapshot, Page]]:
    return archive.iter_versions(**_filters(options))


def iter_records(archive: ArchiveReader, options: ExportOptions) -> Iterator[dict[str, Any]]:
    """The rows of the chosen dataset, streamed from the archive."""
    if options.records == "pages" and not options.with_text:
        # Without the text, the columns beside each version hold all a row needs.
        for version in archive.iter_summaries(**_filters(options)):
            yield summary_record(version)
    elif options.records == "pages":
        for site, snap, page in _versions(archive, options):
            yield page_record(site, snap, page, with_text=True)
    elif options.records == "links":
        # From the versions rather than Archive.iter_links, so that --since/--until/--as-of
        # select links exactly as they select pages.
        for site, snap, page in _versions(archive, options):
            yield from link_records(site, snap, page)
    elif options.records == "entries":
        with EntryMerger() as merger:
            for site, snap, page in _versions(archive, options):
                if page.entries:
                    merger.add_page(site, snap.url, page.entries)
            log.debug("entries: %d occurrences, %d spilled runs", merger.occurrences,
                      merger.spilled_runs)
            yield from merger.records()
    else:
        raise ValueError(f"unknown records {options.records!r}")


def _record_writer(stream: BinaryIO, options: ExportOptions, path: str) -> RecordWriter:
    columns = columns_for(options.records, with_text=options.with_text)
    if options.format == "jsonl":
        return JsonlWriter(stream, columns)
    if options.format == "csv":
        return CsvWriter(stream, columns, raw_formulas=options.csv_raw_formulas)
    if options.format == "parquet":
        from scraper.export.parquet import ParquetWriter

        return ParquetWriter(stream, columns, path=path)
    raise ValueError(f"not a record format: {options.format!r}")


def _describe(options: ExportOptions) -> str:
    parts = [f"records={options.records}"]
    for name in ("site", "since", "until", "as_of"):
        value = getattr(options, name)
        if value is not None:
            parts.append(f"{name}={value.isoformat() if isinstance(value, datetime) else value}")
    if options.all_versions:
        parts.append("all_versions")
    return "scraper export " + " ".join(parts)


def export_to_stream(archive: ArchiveReader, stream: BinaryIO, options: ExportOptions, *,
                     path: str = STDOUT) -> int:
    """Write the export to an open binary stream (left open); returns the records written.

    :param path: the name used in messages and in the WARC's warcinfo record.
    """
    options.check(path)
    if options.format == "parquet":
        from scraper.export.parquet import require_pyarrow

        require_pyarrow(path)
    if options.format == "warc":
        return _export_warc(archive, stream, options, path)
    writer = _record_writer(stream, options, path)
    for record in iter_records(archive, options):
        writer.write(record)
    writer.close()
    return writer.records


def _export_warc(archive: ArchiveReader, stream: BinaryIO, options: ExportOptions,
                 path: str) -> int:
    from scraper.export.warc import WarcWriter

    gzip = path != STDOUT and path.endswith(".gz")
    filename = None if path == STDOUT else os.path.basename(path)
    writer = WarcWriter(stream, gzip=gzip, filename=filename, description=_describe(options))
    for site, snap, page in _versions(archive, options):
        body = archive.body(snap.url, snap.version)
        headers = archive.response_headers(snap.url, snap.version)
        writer.write_version(site, snap, page, body, headers)
    writer.close()
    return writer.records


def export_to_path(archive: ArchiveReader, path: str, options: ExportOptions, *,
                   force: bool = False) -> ExportResult:
    """Write the export to `path` (exactly as given): complete when this returns, absent if it
    raises. An existing file is refused unless `force`."""
    options.check(path)
    check_target(path, force=force)
    if options.format == "parquet":
        from scraper.export.parquet import require_pyarrow

        require_pyarrow(path)
    try:
        with atomic_output(path, force=force) as stream:
            count = export_to_stream(archive, stream, options, path=path)
    except BrokenPipeError:
        raise  # a named pipe or /dev/stdout whose reader left: the caller decides
    except OSError as exc:
        raise ExportError(path, f"could not write: {exc.strerror or exc}") from exc
    log.info("%s: exported %d %s records as %s", path, count, options.records, options.format)
    return ExportResult(count, path, options.format, options.records)
