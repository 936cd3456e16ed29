"""Commands that read the archive: history, show and stats."""

from __future__ import annotations

import sys
from typing import Any

import click

from scraper.archive import Archive, ArchiveBackend
from scraper.cli.app import (
    archive_option,
    format_option,
    handle_errors,
    main,
    resolve_archive_path,
    stdout_is_terminal,
)
from scraper.cli.terminal import safe_json_dumps, terminal_safe
from scraper.models import Snapshot, page_to_dict
from scraper.timeutil import iso


def _open(archive_path: str | None) -> ArchiveBackend:
    # create=False: a mistyped path is an error, not a new empty archive.
    return Archive.open(resolve_archive_path(archive_path), create=False)


def _snapshot_dict(snap: Snapshot) -> dict[str, Any]:
    return {
        "url": snap.url, "version": snap.version, "fetched_at": iso(snap.fetched_at),
        "status": snap.status, "run_id": snap.run_id, "final_url": snap.final_url,
        "etag": snap.etag, "last_modified": snap.last_modified,
        "revision_id": snap.revision_id, "revision_timestamp": snap.revision_timestamp,
        "revision_user": snap.revision_user, "revision_comment": snap.revision_comment,
        "content_hash": snap.content_hash, "body_hash": snap.body_hash,
        "body_size": snap.body_size, "change_gist": snap.change_gist,
    }


def _echo(text: str) -> None:
    """Print a line of scraped text with escape sequences and bidi overrides made visible."""
    click.echo(terminal_safe(text))


def _echo_json(data: Any) -> None:
    click.echo(safe_json_dumps(data))


def _when(snap: Snapshot) -> str:
    return snap.fetched_at.strftime("%Y-%m-%d %H:%M:%S")


@main.command()
@click.argument("url")
@archive_option
@format_option("text", "json")
@handle_errors
def history(url: str, archive_path: str | None, output_format: str) -> None:
    """List the stored versions of a page: number, time, revision id, status, what changed.

    The URL may be pasted as a browser shows it: without a scheme, with any case of
    host, a #fragment, a trailing slash or none.

    \b
    Example:
      scraper history http://127.0.0.1:8000/related/NATO --archive archive/archive.db
    """
    with _open(archive_path) as archive:
        url = archive.find_page_url(url)
        snaps = archive.history(url)
        info = archive.page_info(url)
    if output_format == "json":
        _echo_json({"url": url, "page": info, "versions": [_snapshot_dict(s) for s in snaps]})
        return
    _echo(f"{info['url']}  ({info['site']}, {info['kind']}; seen {info['seen_count']} "
               f"times, {info['not_modified_count']} not modified"
               f"{'; GONE since ' + info['gone_at'] if info['gone'] else ''})")
    _echo(f"{'VER':>4}  {'FETCHED (UTC)':<19}  {'REVISION':>10}  {'STATUS':>6}  CHANGE")
    for snap in snaps:
        revision = "" if snap.revision_id is None else str(snap.revision_id)
        gist = snap.change_gist or ("first version" if snap.version == 1 else "")
        _echo(f"{snap.version:>4}  {_when(snap):<19}  {revision:>10}  {snap.status:>6}  "
                   f"{gist}")


@main.command()
@click.argument("url")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="Version number (default: the latest).")
@click.option("--body", is_flag=True,
              help="Print the raw body exactly as fetched instead (on a terminal: as text, "
                   "control characters shown as escapes).")
@archive_option
@format_option("text", "json")
@handle_errors
def show(url: str, version: int | None, body: bool, archive_path: str | None,
         output_format: str) -> None:
    """Show what was extracted from one version of a page (default: the latest).

    The URL may be pasted as a browser shows it: without a scheme, with any case of
    host, a #fragment, a trailing slash or none.

    \b
    Examples:
      scraper show http://127.0.0.1:8000/related/NATO
      scraper show http://127.0.0.1:8000/related/NATO --version 2 --format json
      scraper show http://127.0.0.1:8000/related/NATO --body > page.html
    """
    with _open(archive_path) as archive:
        url = archive.find_page_url(url)
        snap = archive.snapshot(url, version)
        if body:
            raw = archive.body(url, snap.version)
            if stdout_is_terminal():
                # Exact bytes are for files and pipes; a terminal gets the text with its
                # escape sequences shown, as everywhere else.
                click.echo(terminal_safe(raw.decode("utf-8", errors="replace")), nl=False)
                return
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            return
        page = archive.page(url, snap.version)
    fields = page_to_dict(page)
    if output_format == "json":
        _echo_json({"snapshot": _snapshot_dict(snap), "page": fields})
        return
    _echo(f"{snap.url}  version {snap.version}, fetched {_when(snap)} UTC, "
               f"HTTP {snap.status}"
               + (f", revision {snap.revision_id}" if snap.revision_id is not None else ""))
    for name in ("title", "kind", "canonical_url", "image", "language", "parser"):
        if fields[name]:
            _echo(f"{name + ':':<15}{fields[name]}")
    if page.summary:
        _echo(f"{'summary:':<15}{page.summary}" + (" [truncated]" if page.summary_truncated
                                                          else ""))
    if page.categories:
        _echo(f"{'categories:':<15}{', '.join(page.categories)}")
    for key, value in page.infobox:
        _echo(f"{'infobox:':<15}{key}: {value}")
    for entry in page.entries:
        _echo(f"{'entry:':<15}{entry.title}" + (f" -> {entry.related}" if entry.related
                                                      else ""))
    for link in page.links:
        _echo(f"{'link:':<15}[{link.kind}] {link.title} <{link.url}>")
    if page.text:
        _echo("\n" + page.text)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


@main.command()
@archive_option
@format_option("text", "json")
@handle_errors
def stats(archive_path: str | None, output_format: str) -> None:
    """Archive size, pages, versions, blobs, bytes stored versus fetched, runs and failures.

    \b
    Example:
      scraper stats --archive archive/archive.db --format json
    """
    with _open(archive_path) as archive:
        data = archive.stats()
        data["run_statuses"] = archive.run_statuses()
        last = archive.last_run()
        if last is not None:
            data["last_run"] = {key: last[key] for key in (
                "id", "status", "started_at", "ended_at", "fetched", "new_versions", "failed")}
            # A run that workers shared (a PostgreSQL archive): who fetched what.
            data["last_run"]["workers"] = last["extra"].get("workers", [])
            # Each host's adaptive delay at the run's end (politeness.adaptive).
            data["last_run"]["host_delays"] = last["extra"].get("host_delays", {})
    if output_format == "json":
        _echo_json(data)
        return
    ratio = f"{data['ratio']}x smaller" if data["ratio"] else "n/a"
    bodies = (f"{_size(data['bytes_fetched'])} fetched, {_size(data['bytes_stored'])} stored"
              f" ({ratio})")
    fields = (f"{_size(data['fields_bytes'])} extracted, {_size(data['fields_bytes_stored'])}"
              " stored")
    lines = [
        ("archive", f"{data['path']} ({_size(data['file_size'])}, schema {data['schema_version']})"),
        ("pages", f"{data['pages']} ({data['gone_pages']} gone)"),
        ("versions", str(data["versions"])),
        ("blobs", f"{data['blobs']} bodies ({data['delta_blobs']} stored as deltas)"),
        ("bodies", bodies),
        ("fields", fields),
        ("runs", str(data["runs"]) + (" (" + ", ".join(
            f"{count} {status}" for status, count in data["run_statuses"].items()) + ")"
            if data["run_statuses"] else "")),
        ("failures", f"{data['failures']} ({data['skipped']} skipped)"),
        ("frontier", f"{data['frontier']} URLs"),
    ]
    for name, value in lines:
        _echo(f"{name + ':':<10} {value}")
    last = data.get("last_run")
    if last is not None:
        _echo(f"{'last run:':<10} {last['id']} {last['status']}, started {last['started_at']}"
              f", fetched {last['fetched']}, new versions {last['new_versions']}, failed "
              f"{last['failed']}")
        for part in last["workers"]:
            _echo(f"  worker {part['worker']} {part['label']}: fetched {part['fetched']}, new "
                  f"versions {part['new_versions']}, failed {part['failed']} ({part['status']})")
        for host, pace in sorted(last["host_delays"].items()):
            _echo(f"  adaptive delay {host}: {pace['delay_s']:.3f} s at the end, backed off "
                  f"{pace['backoffs']} times")
    for site, counts in data["sites"].items():
        rates = ", ".join(f"{field} {rate:.0%}" for field, rate in counts["fill_rates"].items())
        _echo(f"site {site}: {counts['pages']} pages, {counts['versions']} versions, "
                   f"{counts['gone']} gone")
        _echo(f"  filled: {rates}")
