"""Command: crawl (progress, log lines and the end summary)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from scraper.cli.app import (
    EXIT_ALL_FAILED,
    EXIT_ERROR,
    archive_option,
    handle_errors,
    main,
    resolve_archive_path,
    stdout_is_terminal,
)
from scraper.cli.terminal import terminal_safe
from scraper.config import CrawlConfig
from scraper.errors import ConfigError
from scraper.lock import ArchiveLock
from scraper.timeutil import parse_duration

if TYPE_CHECKING:
    from scraper.crawl import CrawlEvent, RunResult


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if event is not None:
            data.update(event)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(verbose: int, quiet: bool, log_format: str, progress: bool) -> None:
    """Only the CLI sets handlers. -q: warnings and errors only; -v: debug."""
    level = logging.DEBUG if verbose else logging.INFO
    if quiet or progress:
        level = logging.WARNING
    from scraper.cli.terminal import TerminalSafeFormatter

    handler = logging.StreamHandler(sys.stderr)
    # Log lines quote scraped titles and server messages: escape sequences and bidi
    # overrides in them are shown as \x1b / \u202e, never obeyed by the terminal.
    if log_format == "json":
        handler.setFormatter(TerminalSafeFormatter(JsonLogFormatter(), json_lines=True))
    else:
        handler.setFormatter(TerminalSafeFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")))
    root = logging.getLogger("scraper")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("httpx", "httpcore", "aiohttp", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ProgressView:
    """A rich progress bar on a terminal: pages done, queue, rate and errors."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[site]}"), BarColumn(),
            TextColumn("{task.completed} pages"), TextColumn("queue {task.fields[queue]}"),
            TextColumn("{task.fields[rate]:.1f}/s"), TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(), transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.errors: dict[str, int] = {}
        self.started = time.monotonic()

    def __call__(self, event: CrawlEvent) -> None:
        task = self.tasks.get(event.site)
        if task is None:
            task = self.tasks[event.site] = self.progress.add_task(
                event.site, total=None, site=event.site, queue=0, rate=0.0, errors=0)
            self.errors[event.site] = 0
        if event.kind == "failed":
            self.errors[event.site] += 1
        advance = 1 if event.kind not in ("run_end",) else 0
        done = self.progress.tasks[task].completed + advance
        rate = done / max(1e-6, time.monotonic() - self.started)
        self.progress.update(task, advance=advance, queue=event.queued, rate=rate,
                             errors=self.errors[event.site])


def log_event(event: CrawlEvent) -> None:
    """Structured fields for --log-format json; the text lines come from the library's log."""
    if event.kind == "run_end":
        return
    logging.getLogger("scraper.events").debug(
        "%s %s", event.kind, event.url,
        extra={"event": {"event": event.kind, "site": event.site, "url": event.url,
                         "status": event.status, "version": event.version,
                         "detail": event.detail}})


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressView | None]:
    if not enabled:
        yield None
        return
    view = ProgressView()
    with view.progress:
        yield view


# What a run's stats.extra says beyond the counts (scraper.crawl), given in --format json.
_OUTCOME_NOTES = ("unreachable", "start_skips", "waiting_retries", "next_retry")


def _clock_time(stamp: str | None) -> str:
    """An ISO time as the local HH:MM a cron mail's reader wants (with the date when it is
    not today)."""
    if not stamp:
        return "the next run"
    when = datetime.fromisoformat(stamp).astimezone()
    today = datetime.now().astimezone().date()
    return when.strftime("%H:%M" if when.date() == today else "%Y-%m-%d %H:%M")


def all_fetches_failed(results: Sequence[RunResult]) -> bool:
    """A run in which something was tried and nothing was fetched: a site that is down."""
    return (sum(r.stats.failed for r in results) > 0
            and sum(r.stats.fetched + r.stats.not_modified for r in results) == 0)


def summary_lines(results: Sequence[RunResult], archive_path: str) -> list[str]:
    lines = []
    for r in results:
        s = r.stats
        lines.append(f"{r.site}: {r.status} in {s.elapsed_s:.1f} s (run {r.run_id})")
        lines.append(f"  fetched {s.fetched} (new versions {s.new_versions}, unchanged "
                     f"{s.unchanged}), not modified {s.not_modified}, failed {s.failed}, "
                     f"skipped {s.skipped}, retries {s.retried}")
        notes = s.extra or {}
        retry_from = _clock_time(notes.get("next_retry"))
        unreachable = notes.get("unreachable") or {}
        if unreachable:
            count = sum(unreachable.values())
            hosts = ", ".join(sorted(unreachable))
            lines.append(f"  host unreachable: {count} URL{'s' if count != 1 else ''} "
                         f"({hosts}), retried from {retry_from}")
        elif s.failed:
            lines.append(f"  failed URLs are retried from {retry_from}")
        for refused in notes.get("start_skips") or ():
            lines.append(f"  start URL refused: {refused}")
        if r.status == "completed" and s.fetched == 0 and s.not_modified == 0 \
                and s.failed == 0 and s.skipped == 0:
            waiting = notes.get("waiting_retries") or 0
            if waiting:
                lines.append(f"  nothing was due: {waiting} failed URL{'s' if waiting != 1 else ''}"
                             f" wait for a retry from {retry_from}")
            else:
                lines.append("  nothing was due: every page was fetched within its "
                             "recrawl_after")
        lines.append(f"  queued for the next run: {s.queued}")
        for alert in r.alerts:
            lines.append(f"  WARNING parser breakage: {alert.get('message', alert)}")
    lines.append(f"archive: {archive_path}")
    return lines


@main.command("crawl")
@click.argument("config_paths", metavar="CONFIG...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@archive_option
@click.option("--max-pages", type=click.IntRange(min=1), default=None,
              help="Stop after this many fetches per config (the rest stays queued).")
@click.option("--max-time", default=None, metavar="DURATION",
              help="Stop cleanly after this long, e.g. 90s or 10m (the rest stays queued).")
@click.option("-v", "--verbose", count=True, help="Debug log lines.")
@click.option("-q", "--quiet", is_flag=True, help="Only the end summary and errors.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per log line.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="The end summary for people or programs.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only when stdout is a terminal).")
@click.option("--backfill", type=click.IntRange(min=0), default=None, metavar="N",
              help="source: mediawiki only: import up to N past revisions of each page.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a config key for this run, e.g. --set politeness.delay=1s.")
@handle_errors
def crawl_command(config_paths: tuple[str, ...], archive_path: str | None,
                  max_pages: int | None, max_time: str | None, verbose: int, quiet: bool,
                  log_format: str, output_format: str, progress: bool | None,
                  backfill: int | None, settings: tuple[str, ...]) -> None:
    """One crawl run: new URLs and the pages due for recrawl.

    \b
    Examples:
      scraper crawl config/testsite.yaml
      scraper crawl config/*.yaml --max-time 10m -q      # from cron
      scraper crawl config/wikipedia.yaml --max-pages 50 --log-format json

    Safe under cron: a second crawl on the same archive exits at once with code 3.
    """
    # The pipeline is imported here so that `scraper --help` and the other commands start fast.
    from scraper.archive import Archive
    from scraper.config import load_config, parse_overrides
    from scraper.crawl import CrawlLimits, crawl
    from scraper.parse_pool import ParsePool

    # Precedence: defaults < file < flags.
    overrides = parse_overrides(settings)
    if max_pages is not None:
        overrides["max_pages"] = max_pages
    if backfill is not None:
        overrides["mediawiki.backfill"] = backfill
    configs = [load_config(path, overrides=overrides) for path in config_paths]
    limit_seconds = None
    if max_time is not None:
        try:
            limit_seconds = parse_duration(max_time)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--max-time") from None
    path = resolve_archive_path(archive_path, configs[0].archive)
    _check_same_archive(configs, archive_path, path)
    show_progress = stdout_is_terminal() if progress is None else progress
    configure_logging(verbose, quiet, log_format, show_progress)
    with (_max_time_watchdog(limit_seconds),
          ArchiveLock(path),
          Archive.open(path, full_copy_every=configs[0].full_copy_every) as archive,
          # Worker processes for big runs: this command's __main__ is guarded (ParsePool).
          ParsePool() as parse_pool,
          _progress(show_progress and not quiet) as view):
        sinks = [s for s in (view, log_event if log_format == "json" else None) if s]

        def events(event: CrawlEvent) -> None:
            for sink in sinks:
                sink(event)

        results = asyncio.run(crawl(configs, archive,
                                    limits=CrawlLimits(max_pages, limit_seconds),
                                    events=events, parse_pool=parse_pool))
    if output_format == "json":
        click.echo(json.dumps([{
            "site": r.site, "run_id": r.run_id, "status": r.status,
            "fetched": r.stats.fetched, "new_versions": r.stats.new_versions,
            "unchanged": r.stats.unchanged, "not_modified": r.stats.not_modified,
            "failed": r.stats.failed, "skipped": r.stats.skipped, "retried": r.stats.retried,
            "queued": r.stats.queued, "elapsed_s": round(r.stats.elapsed_s, 3),
            "alerts": list(r.alerts),
            **{key: r.stats.extra[key] for key in _OUTCOME_NOTES if key in r.stats.extra},
        } for r in results], indent=2))
    else:
        # Alerts and refusals quote scraped text and server answers.
        click.echo(terminal_safe("\n".join(summary_lines(results, path))))
    if any(r.status == "failed" for r in results):
        # A run that could not do its job (a wiki whose API is unusable) is not a success
        # for cron, though failed URLs alone never make one.
        raise SystemExit(EXIT_ERROR)
    if all_fetches_failed(results):
        # Every fetch failed: the site is down or the network is. Its URLs are retried on
        # the failure back-off; the distinct code lets cron (and scripts) tell.
        raise SystemExit(EXIT_ALL_FAILED)


# How long past --max-time a run may take to end before the process ends itself.
MAX_TIME_GRACE = 10.0


@contextmanager
def _max_time_watchdog(limit_seconds: float | None) -> Iterator[None]:
    """--max-time ends the process whatever the run waits for. The run ends itself at the
    limit (in-flight fetches cancelled, its row finished); what cannot be cancelled (a DNS
    lookup the resolver holds, a write on a stalled disk) is cut off MAX_TIME_GRACE later."""

    def expire() -> None:
        log = logging.getLogger("scraper")
        log.error("the run did not end within %g s of --max-time; the process exits now "
                  "(what was not written is fetched again by the next run)", MAX_TIME_GRACE)
        for handler in log.handlers:
            handler.flush()
        sys.stdout.flush()
        os._exit(EXIT_ERROR)

    if limit_seconds is None:
        yield
        return
    timer = threading.Timer(limit_seconds + MAX_TIME_GRACE, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _check_same_archive(configs: Sequence[CrawlConfig], flag: str | None, path: str) -> None:
    if flag is not None:
        return
    for cfg in configs[1:]:
        if resolve_archive_path(None, cfg.archive) != path:
            raise ConfigError(f"configs name different archives ({path} and "
                              f"{resolve_archive_path(None, cfg.archive)}); crawl them "
                              "separately or pass --archive", path=cfg.path, key="archive")
