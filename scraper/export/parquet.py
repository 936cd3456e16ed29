"""Parquet record writer (pyarrow, the optional `parquet` extra), written in bounded row groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from scraper.errors import ExportError
from scraper.export.records import Column

# "scraper" on PyPI is another project: the hint names pyarrow itself, or our extra as
# installed from this checkout.
INSTALL_HINT = ("Parquet export needs pyarrow: pip install pyarrow (or, in the scraper "
                "checkout, pip install -e '.[parquet]')")

# A row group ends at this many rows or about this many bytes of Arrow data, whichever comes
# first. Measured with tests/bench/bench_export.py (100,000 versions, --with-text): peak RSS
# 24 MB groups ~190 MB, 8 MB ~180 MB, 4 MB ~165 MB, 2 MB no better; the floor is pyarrow
# itself (~35 MB imported) and its writer's buffers. Rows become compact Arrow batches
# every BATCH_ROWS rows (or BATCH_TEXT_BYTES of text), so the Python dicts held never exceed
# one batch while row groups stay large enough for fast scans.
ROW_GROUP_ROWS = 50_000
ROW_GROUP_BYTES = 4 * 1024 * 1024
BATCH_ROWS = 500
BATCH_TEXT_BYTES = 2 * 1024 * 1024  # long texts (--with-text) make batches of fewer rows


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


class ParquetWriter:
    """Rows converted to Arrow batches as they come, written as one row group per budget (zstd)."""

    def __init__(self, stream: BinaryIO, columns: Sequence[Column], *, path: str = "-",
                 row_group_rows: int = ROW_GROUP_ROWS, row_group_bytes: int = ROW_GROUP_BYTES,
                 batch_rows: int = BATCH_ROWS) -> None:
        pa = require_pyarrow(path)
        import pyarrow.parquet as pq

        self._pa = pa
        self.columns = list(columns)
        self.schema = arrow_schema(self.columns, pa)
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.batch_rows = min(batch_rows, row_group_rows)
        self._rows: list[Mapping[str, Any]] = []
        self._rows_text = 0
        self._batches: list[Any] = []
        self._group_rows = 0
        self._group_bytes = 0
        self.row_groups = 0
        self.records = 0
        self._writer = pq.ParquetWriter(stream, self.schema, compression="zstd")

    def write(self, record: Mapping[str, Any]) -> None:
        self._rows.append(record)
        self._rows_text += len(record.get("text") or "") + len(record.get("summary") or "")
        self.records += 1
        if len(self._rows) >= self.batch_rows or self._rows_text >= BATCH_TEXT_BYTES:
            self._to_batch()
            if (self._group_rows >= self.row_group_rows
                    or self._group_bytes >= self.row_group_bytes):
                self._flush()

    def _to_batch(self) -> None:
        if not self._rows:
            return
        batch = self._pa.RecordBatch.from_pylist(self._rows, schema=self.schema)
        self._rows = []
        self._rows_text = 0
        self._batches.append(batch)
        self._group_rows += batch.num_rows
        self._group_bytes += batch.nbytes

    def _flush(self) -> None:
        if not self._batches:
            return
        table = self._pa.Table.from_batches(self._batches, schema=self.schema)
        self._batches = []
        self._writer.write_table(table, row_group_size=self._group_rows)
        del table
        # mimalloc (pyarrow's default pool) keeps freed pages; hand them back between groups.
        self._pa.default_memory_pool().release_unused()
        self.row_groups += 1
        self._group_rows = 0
        self._group_bytes = 0

    def close(self) -> None:
        self._to_batch()
        self._flush()
        self._writer.close()
