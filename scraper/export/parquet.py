"""Parquet record writer (pyarrow, the optional `parquet` extra), written in bounded row groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from scraper.errors import ExportError
from scraper.export.records import NESTED_TYPES, Column

INSTALL_HINT = "Parquet export needs pyarrow: pip install 'scraper[parquet]'"

ROW_GROUP_ROWS = 10_000
# A row group is also closed at about this many bytes of text, so that --with-text exports of
# long articles keep the buffered rows (and their Arrow copy) small.
ROW_GROUP_BYTES = 32 * 1024 * 1024


def require_pyarrow(path: str) -> Any:
    """The pyarrow module, or an ExportError telling how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ExportError(path, INSTALL_HINT) from exc
    return pyarrow


def arrow_schema(columns: Sequence[Column], pa: Any) -> Any:
    """The Arrow schema of a dataset: lists stay lists (of strings or of structs)."""
    string = pa.string()
    types: dict[str, Any] = {
        "string": string,
        "bool": pa.bool_(),
        "int": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "strings": pa.list_(string),
        "links": pa.list_(pa.struct([("url", string), ("title", string), ("kind", string)])),
        "pairs": pa.list_(pa.struct([("key", string), ("value", string)])),
        "search_links": pa.list_(pa.struct([("name", string), ("url", string)])),
    }
    return pa.schema([pa.field(c.name, types[c.type]) for c in columns])


def _approx_size(record: Mapping[str, Any], columns: Sequence[Column]) -> int:
    size = 0
    for column in columns:
        value = record.get(column.name)
        if isinstance(value, str):
            size += len(value)
        elif column.type in NESTED_TYPES and value:
            size += 96 * len(value)
        else:
            size += 8
    return size


class ParquetWriter:
    """Rows buffered up to a row group's size, then written as one Arrow table (zstd)."""

    def __init__(self, stream: BinaryIO, columns: Sequence[Column], *, path: str = "-",
                 row_group_rows: int = ROW_GROUP_ROWS,
                 row_group_bytes: int = ROW_GROUP_BYTES) -> None:
        pa = require_pyarrow(path)
        import pyarrow.parquet as pq

        self._pa = pa
        self.columns = list(columns)
        self.schema = arrow_schema(self.columns, pa)
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self._rows: list[Mapping[str, Any]] = []
        self._bytes = 0
        self.row_groups = 0
        self.records = 0
        self._writer = pq.ParquetWriter(stream, self.schema, compression="zstd")

    def write(self, record: Mapping[str, Any]) -> None:
        self._rows.append(record)
        self._bytes += _approx_size(record, self.columns)
        self.records += 1
        if len(self._rows) >= self.row_group_rows or self._bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        table = self._pa.Table.from_pylist(self._rows, schema=self.schema)
        self._writer.write_table(table, row_group_size=len(self._rows))
        self.row_groups += 1
        self._rows = []
        self._bytes = 0

    def close(self) -> None:
        self._flush()
        self._writer.close()
