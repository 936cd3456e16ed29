"""Command: export (datasets from the archive as JSONL, CSV, Parquet or WARC)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType
from typing import Any

import click

from scraper.archive import Archive, ArchiveBackend
from scraper.cli.app import When, archive_option, handle_errors, main, resolve_archive_path
from scraper.errors import ExportError
from scraper.export import (
    FORMATS,
    RECORD_KINDS,
    STDOUT,
    ExportOptions,
    export_to_path,
    export_to_stream,
)

# What `| head` does to an export on standard output: the reader went away, which is not a
# failure of the export, so it ends quietly with the shell's code for death by SIGPIPE.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

SUFFIX_FORMATS = ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"),
                  (".parquet", "parquet"), (".warc", "warc"), (".warc.gz", "warc"))




class Interrupted(BaseException):
    """A termination signal arrived; raised so that the partial file is removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C instead of killing the process where it stands."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    watched = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous: dict[int, Any] = {}
    for signum in watched:
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (tests running the command in a thread)
            pass
    try:
        yield
    finally:
        for watched_signum, old in previous.items():
            signal.signal(watched_signum, old)


def _format_for(output: str) -> str:
    lower = output.lower()
    for suffix, fmt in SUFFIX_FORMATS:
        if lower.endswith(suffix):
            return fmt
    return "jsonl"


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so that the interpreter's final flush does not
    print a second BrokenPipeError (the recipe of the Python docs, `signal` module notes)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        pass


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the -o suffix, else jsonl).")
@click.option("-o", "--output", default=STDOUT, show_default=True, metavar="PATH",
              help="File to write, used exactly as given; - for standard output.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--records", type=click.Choice(RECORD_KINDS), default="pages", show_default=True,
              help="pages: one row per page version; entries: listing entries deduplicated "
                   "by More Info URL; links: the link graph.")
@click.option("--all-versions", is_flag=True,
              help="Every stored version, not only each page's latest.")
@click.option("--site", default=None, metavar="NAME", help="Only this site (its config name).")
@click.option("--since", type=When(), default=None,
              help="Versions fetched at or after DATE (date, ISO datetime or age like 7d).")
@click.option("--until", type=When(), default=None, help="Versions fetched before DATE.")
@click.option("--as-of", "as_of", type=When(), default=None,
              help="For each page the version current at DATE: the archive as it stood then.")
@click.option("--with-text", is_flag=True, help="Add the pages' full text (pages records).")
@click.option("--csv-raw-formulas", is_flag=True,
              help="CSV: write text cells that start with = + - @ (formulas to a "
                   "spreadsheet) as they are, without the leading ' added by default.")
@archive_option
@handle_errors
def export_command(fmt: str | None, output: str, force: bool, records: str, all_versions: bool,
                   site: str | None, since: datetime | None, until: datetime | None,
                   as_of: datetime | None, with_text: bool, csv_raw_formulas: bool,
                   archive_path: str | None) -> None:
    """Export a dataset from the archive, streamed in constant memory.

    A file is complete or absent: it is written under a hidden temporary name
    (.NAME.tmp-PID) in the same folder and renamed at the end. An existing file is kept
    unless --force. With -o - the data goes to standard output; a reader that stops early
    (| head) ends the export quietly with exit code 141.

    In CSV, a text cell that a spreadsheet would run as a formula (it starts with = + - @,
    a tab or a carriage return) gets a leading ' so that it opens as text;
    --csv-raw-formulas keeps such cells exactly as scraped.

    \b
    Examples:
      scraper export --format jsonl -o pages.jsonl
      scraper export --format parquet --all-versions -o versions.parquet
      scraper export --records entries --format csv -o entries.csv --site nato-mirror
      scraper export --as-of 2026-01-01 -o pages-2026.jsonl
      scraper export --format warc -o crawl.warc.gz --since 7d
      scraper export -o - | head -1
    """
    fmt = fmt or _format_for(output)
    options = ExportOptions(format=fmt, records=records, site=site, since=since, until=until,
                            as_of=as_of, all_versions=all_versions, with_text=with_text,
                            csv_raw_formulas=csv_raw_formulas)
    if csv_raw_formulas and fmt != "csv":
        raise click.UsageError(f"--csv-raw-formulas applies to --format csv, not {fmt}")
    to_stdout = output == STDOUT
    if to_stdout and fmt in ("parquet", "warc") and sys.stdout.isatty():
        raise click.UsageError(f"{fmt} is binary: give -o PATH or redirect standard output")
    try:
        options.check(output)
    except ExportError as exc:
        raise click.UsageError(exc.reason) from exc
    with Archive.open(resolve_archive_path(archive_path), create=False) as archive:
        try:
            with _signals_interrupt():
                if to_stdout:
                    count = _to_stdout(archive, options)
                else:
                    count = _to_path(archive, output, options, force)
        except (Interrupted, KeyboardInterrupt) as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            what = ("the output is incomplete" if to_stdout
                    else f"nothing was written to {output}")
            click.echo(f"export interrupted by {signal.Signals(signum).name}; {what}", err=True)
            sys.exit(128 + signum)
    target = "standard output" if to_stdout else output
    unit = "versions" if fmt == "warc" else f"{records} records"
    click.echo(f"exported {count} {unit} as {fmt} to {target}", err=True)


def _to_path(archive: ArchiveBackend, output: str, options: ExportOptions, force: bool) -> int:
    try:
        return export_to_path(archive, output, options, force=force).records
    except BrokenPipeError:  # -o /dev/stdout or a named pipe whose reader went away
        _silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)


def _to_stdout(archive: ArchiveBackend, options: ExportOptions) -> int:
    stream = sys.stdout.buffer
    try:
        count = export_to_stream(archive, stream, options)
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    return count
