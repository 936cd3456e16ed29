"""JSONL and CSV record writers (standard library only), and the interface every writer follows."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, BinaryIO, Protocol

import orjson

from scraper.export.records import NESTED_TYPES, Column
from scraper.timeutil import iso


class RecordWriter(Protocol):
    """Writes dataset rows to a binary stream; `close` finishes the format (it never closes
    the stream itself, which belongs to the caller)."""

    records: int

    def write(self, record: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# Times go through _json_default so that they keep the archive's form (UTC, microseconds
# always), where orjson's own drops zero microseconds.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _dumps(value: Any, option: int) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=option)
    except TypeError as exc:
        # orjson wraps whatever `default` raised in a TypeError, Ctrl-C and SIGTERM's exit
        # included when the signal lands in that Python callback: they must stay what they
        # are, or an interrupted export would end as a bogus "not JSON serializable".
        if isinstance(exc.__cause__, BaseException) and \
                not isinstance(exc.__cause__, Exception):
            raise exc.__cause__ from None
        raise


def to_json(value: Any) -> str:
    """Compact JSON (non-ASCII as is, like json.dumps(ensure_ascii=False)), times as ISO-8601
    UTC strings."""
    return _dumps(value, _ORJSON_OPTIONS).decode("utf-8")


class JsonlWriter:
    """One JSON object per line (UTF-8, `\\n` line ends), keys in column order."""

    def __init__(self, stream: BinaryIO, columns: Sequence[Column]) -> None:
        self.stream = stream
        self.names = tuple(c.name for c in columns)
        self.records = 0

    def write(self, record: Mapping[str, Any]) -> None:
        # The record builders give dicts in column order already: then no copy is made.
        if type(record) is not dict or tuple(record) != self.names:
            record = {name: record.get(name) for name in self.names}
        line = _dumps(record, _ORJSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)
        self.stream.write(line)
        self.records += 1

    def close(self) -> None:
        self.stream.flush()


def csv_cell(value: Any, column: Column) -> str:
    """The CSV text of one value: empty for null, true/false, ISO times, nested values as JSON."""
    if value is None:
        return ""
    if column.type in NESTED_TYPES:
        return to_json(value)
    if column.type == "bool":
        return "true" if value else "false"
    if column.type == "timestamp":
        return iso(value) if isinstance(value, datetime) else str(value)
    return str(value)


# Cells a spreadsheet (Excel, LibreOffice Calc, Google Sheets) would run as a formula: those
# starting with = + - @, tab or carriage return (OWASP, "CSV Injection"), NUL (OWASP ASVS
# 1.2.10), or their full-width forms (a precaution: some spreadsheets, with some input
# settings, take them for the ASCII ones).
# A formula character after leading spaces or line breaks counts too, as some spreadsheets
# trim before they look.
_FORMULA_START = frozenset("=+-@\t\r\0\uff1d\uff0b\uff0d\uff20")
_FORMULA_AFTER_SPACE = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def defuse_formula(text: str) -> str:
    """`text` with a leading single quote when a spreadsheet would read it as a formula; the
    quote makes the cell text (OWASP's advice). Other text is returned unchanged."""
    if not text:
        return text
    if text[0] in _FORMULA_START:
        return "'" + text
    stripped = text.lstrip()
    if stripped and stripped[0] in _FORMULA_AFTER_SPACE:
        return "'" + text
    return text


class _Utf8Sink:
    """The text side of a binary stream for the csv module. Not an io.TextIOWrapper: a wrapper
    closes the stream under it when collected, which would close stdout after an error."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text.encode("utf-8"))
        return len(text)


class CsvWriter:
    """RFC 4180 CSV with a header row: UTF-8 without BOM, CRLF line ends, quoting as needed.

    Text cells that a spreadsheet would run as formulas get a leading `'` (defuse_formula)
    unless `raw_formulas`; numbers, booleans, times and nested JSON are never changed.
    """

    def __init__(self, stream: BinaryIO, columns: Sequence[Column], *,
                 raw_formulas: bool = False) -> None:
        self.stream = stream
        self.columns = list(columns)
        self._csv = csv.writer(_Utf8Sink(stream))
        self._csv.writerow([c.name for c in self.columns])
        self.records = 0
        # Which cells may need a quote: text ones, unless the caller wants them raw.
        self._defuse = tuple(c.type == "string" and not raw_formulas for c in self.columns)

    def write(self, record: Mapping[str, Any]) -> None:
        cells = [csv_cell(record.get(c.name), c) for c in self.columns]
        self._csv.writerow([defuse_formula(cell) if defuse else cell
                            for cell, defuse in zip(cells, self._defuse, strict=True)])
        self.records += 1

    def close(self) -> None:
        self.stream.flush()
