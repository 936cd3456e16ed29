"""`scraper archive copy SRC DST`: an archive copied between backends, verified."""

from __future__ import annotations

import time

import click

from scraper.archive.copy import DEFAULT_BATCH_ROWS, BatchCopied, CopyReport, copy_archive
from scraper.cli.app import handle_errors, main

PROGRESS_EVERY_S = 2.0
# 128 + SIGINT, as the shell and `scraper crawl` report an interrupted command.
EXIT_INTERRUPTED = 130


@main.group("archive")
def archive_group() -> None:
    """Work on whole archives.

    \b
    Example:
      scraper archive copy archive/archive.db postgresql://scraper@db.example/wikis
    """


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = float(count)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def _summary(report: CopyReport) -> list[str]:
    lines = [f"copied {report.source} -> {report.destination}"]
    for table in report.tables:
        lines.append(f"  {table.table:<10} {table.rows_copied:>9} rows copied"
                     f" ({table.rows_total} in all), {_size(table.bytes_copied)}")
    figures = report.figures
    seconds = max(report.seconds, 1e-9)
    lines.append(f"{len(report.tables)} tables, {report.rows_copied} rows,"
                 f" {_size(report.bytes_copied)} in {report.seconds:.2f} s"
                 f" ({report.rows_copied / seconds:.0f} rows/s)")
    for site, pages, versions in figures.sites:
        lines.append(f"  site {site}: {pages} pages, {versions} versions")
    lines.append("verified: rows per table, pages and versions per site, content hashes"
                 f" ({figures.versions_digest[:12]}), blobs ({figures.blobs_digest[:12]})")
    return lines


@archive_group.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.option("--batch-rows", type=click.IntRange(min=1), default=DEFAULT_BATCH_ROWS,
              show_default=True, help="Rows per committed batch (blobs: a twentieth of it).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines, only the summary.")
@handle_errors
def copy_command(source: str, destination: str, batch_rows: int, quiet: bool) -> None:
    """Copy the archive SRC into DST, a file path (SQLite) or a postgresql:// URL each.

    Every table is copied in key order, in committed batches: an interrupted copy (Ctrl-C,
    kill) run again continues where it stopped. A DST holding another archive is refused.
    At the end rows per table, pages and versions per site and all content hashes must be
    equal on both sides; exit 0 only then. SRC must not be crawled into meanwhile.

    \b
    Examples:
      scraper archive copy archive/archive.db postgresql://scraper@db.example/wikis
      scraper archive copy postgresql://scraper@db.example/wikis local.db
    """
    shown_at = [time.monotonic()]

    def progress(batch: BatchCopied) -> None:
        # A line every few seconds on stderr: enough to see a long copy move.
        if not quiet and time.monotonic() - shown_at[0] >= PROGRESS_EVERY_S:
            shown_at[0] = time.monotonic()
            click.echo(f"{batch.table}: {batch.rows_copied} rows copied", err=True)

    try:
        report = copy_archive(source, destination, batch_rows=batch_rows, on_batch=progress)
    except KeyboardInterrupt:
        # Every batch before this one is committed: the same command continues from there.
        click.echo("interrupted: the batches copied so far are kept; run the same command "
                   "again to continue", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    for line in _summary(report):
        click.echo(line)
