"""Dataset export from the archive: pages, entries and links as JSONL, CSV, Parquet or WARC.

    from scraper.archive import Archive
    from scraper.export import ExportOptions, export_to_path

    with Archive.open("archive/archive.db") as archive:
        result = export_to_path(archive, "pages.jsonl", ExportOptions(format="jsonl"))

Everything streams: memory does not grow with the archive (entries are deduplicated with a
bounded external merge, see scraper.export.entries). A file is complete or absent
(scraper.export.atomic).
"""

from __future__ import annotations

from scraper.export.atomic import atomic_output, temp_path_for
from scraper.export.core import (
    FORMATS,
    STDOUT,
    ArchiveReader,
    ExportOptions,
    ExportResult,
    export_to_path,
    export_to_stream,
    iter_records,
)
from scraper.export.records import (
    ENTRY_COLUMNS,
    LINK_COLUMNS,
    PAGE_COLUMNS,
    RECORD_KINDS,
    TEXT_COLUMN,
    Column,
    columns_for,
    link_records,
    page_record,
    summary_record,
)

__all__ = [
    "ENTRY_COLUMNS",
    "FORMATS",
    "LINK_COLUMNS",
    "PAGE_COLUMNS",
    "RECORD_KINDS",
    "STDOUT",
    "TEXT_COLUMN",
    "ArchiveReader",
    "Column",
    "ExportOptions",
    "ExportResult",
    "atomic_output",
    "columns_for",
    "export_to_path",
    "export_to_stream",
    "iter_records",
    "link_records",
    "page_record",
    "summary_record",
    "temp_path_for",
]
