"""Command: crawl (progress, log lines and the end summary)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Self

import click

from scraper.archive.location import parse_archive_location, redact
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS
from scraper.cli.app import (
    EXIT_ALL_FAILED,
    EXIT_ERROR,
    archive_option,
    handle_errors,
    main,
    resolve_archive_path,
    stdout_is_terminal,
)
from scraper.cli.quiet_unless import CONDITIONS, hold_logs, release_held_logs, speak_or_hush
from scraper.cli.terminal import terminal_safe
from scraper.config import CrawlConfig
from scraper.crawl.events import log_fields
from scraper.errors import ConfigError
from scraper.lock import ArchiveLock
from scraper.timeutil import parse_duration

if TYPE_CHECKING:
    from rich.console import Console

    from scraper.crawl import RunResult

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command Ctrl-C ended
EXIT_TERMINATED = 143  # 128 + SIGTERM: systemd's stop, `kill`

log = logging.getLogger("scraper.cli")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, for log collectors: time (ISO 8601, UTC, with its offset),
    level, logger and message, and what the record is about where it applies: event, url,
    status, version, run and site (scraper.crawl.events)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(log_fields.get())
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(verbose: int, quiet: bool, log_format: str, progress: bool,
                      console: Console | None = None) -> None:
    """Only the CLI sets handlers. -q: warnings and errors only; -v: debug.

    :param console: write log lines through this rich console, the one a live progress bar
        is drawn on, so that they never break it; else to standard error.
    """
    level = logging.DEBUG if verbose else logging.INFO
    if quiet or progress:
        level = logging.WARNING
    from scraper.cli.terminal import TerminalSafeFormatter

    handler: logging.Handler
    if console is not None:
        from scraper.cli.crawl_progress import ConsoleLogHandler

        handler = ConsoleLogHandler(console)
    else:
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


# What a run's stats.extra says beyond the counts (scraper.crawl), given in --format json.
_OUTCOME_NOTES = ("unreachable", "start_skips", "waiting_retries", "next_retry", "worker",
                  "workers", "claims_lost", "host_delays")


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


def _worker_lines(notes: dict[str, Any]) -> list[str]:
    """Who fetched what, in a run that several workers share (a PostgreSQL archive)."""
    parts = notes.get("workers") or []
    lines = []
    if notes.get("worker") and len(parts) > 1:
        lines.append(f"  this worker: {notes['worker']}, one of {len(parts)} in the run:")
        for part in parts:
            lines.append(f"    {part['label']} (worker {part['worker']}): fetched "
                         f"{part['fetched']}, new versions {part['new_versions']}, failed "
                         f"{part['failed']}, skipped {part['skipped']} ({part['status']})")
    lost = notes.get("claims_lost")
    if lost:
        lines.append(f"  {lost} page{'s' if lost != 1 else ''} dropped: their claim ran out "
                     "and another worker took them")
    return lines


def summary_lines(results: Sequence[RunResult], archive_path: str, *,
                  interrupted_by: str = "Ctrl-C") -> list[str]:
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
        lines.extend(_worker_lines(notes))
        for host, pace in sorted((notes.get("host_delays") or {}).items()):
            backoffs = pace.get("backoffs", 0)
            lines.append(f"  adaptive delay {host}: {pace.get('delay_s', 0):.3f} s at the end "
                         f"(from {pace.get('min_delay_s', 0):.3f} to "
                         f"{pace.get('max_delay_s', 0):.3f} s, backed off {backoffs} "
                         f"time{'s' if backoffs != 1 else ''})")
        if r.status == "completed" and s.fetched == 0 and s.not_modified == 0 \
                and s.failed == 0 and s.skipped == 0:
            waiting = notes.get("waiting_retries") or 0
            if waiting:
                lines.append(f"  nothing was due: {waiting} failed URL{'s' if waiting != 1 else ''}"
                             f" wait for a retry from {retry_from}")
            else:
                lines.append("  nothing was due: every page was fetched within its "
                             "recrawl_after")
        if r.status == "interrupted":
            lines.append(f"  interrupted by {interrupted_by}: "
                         "what was fetched is stored; the pages in progress were dropped and "
                         "stay queued")
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
@click.option("--quiet-unless", "quiet_unless", type=click.Choice(CONDITIONS), default=None,
              help="Print nothing at all (the exit code is unchanged) unless the run made new "
                   "versions (changes) or had failed URLs (failures); then print the log lines "
                   "and summary as usual. For cron, which mails any output. Errors and runs "
                   "that end with a non-zero code always print.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only when stdout is a terminal).")
@click.option("--backfill", type=click.IntRange(min=0), default=None, metavar="N",
              help="source: mediawiki only: import up to N past revisions of each page.")
@click.option("--lease", default=None, metavar="DURATION",
              help="PostgreSQL archive: how long a worker's claim on a URL lasts unrenewed "
                   "(default 5m); a dead worker's URLs go to the others after it.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a config key for this run, e.g. --set politeness.delay=1s.")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="Fetch just this URL now, due or not (repeatable); no other queued URL "
                   "is fetched, the links found are queued for later.")
@handle_errors
def crawl_command(config_paths: tuple[str, ...], archive_path: str | None,
                  max_pages: int | None, max_time: str | None, verbose: int, quiet: bool,
                  log_format: str, output_format: str, progress: bool | None,
                  backfill: int | None, lease: str | None, settings: tuple[str, ...],
                  quiet_unless: str | None, urls: tuple[str, ...]) -> None:
    """One crawl run: new URLs and the pages due for recrawl.

    \b
    Examples:
      scraper crawl config/testsite.yaml
      scraper crawl config/*.yaml --max-time 10m -q      # from cron
      scraper crawl config/wikipedia.yaml --max-pages 50 --log-format json
      scraper crawl config/testsite.yaml -q --quiet-unless changes   # mail on change

    With --url, only the URLs given are fetched (each must be in a config's scope).

    Safe under cron: a second crawl on the same SQLite archive exits at once with code 3.
    On a PostgreSQL archive (--archive postgresql://...) crawls on any number of machines
    share the work: a second one joins the run.
    """
    with CtrlC() as ctrl_c:
        try:
            path, results = _crawl(config_paths, archive_path, max_pages, max_time, verbose,
                                   quiet, log_format, progress, backfill, lease, settings,
                                   ctrl_c, hold=quiet_unless is not None, urls=urls)
        except KeyboardInterrupt:
            release_held_logs()
            # Before the crawl began or after it ended: there was no run to finish.
            click.echo(f"interrupted ({ctrl_c.name})", err=True)
            raise SystemExit(ctrl_c.exit_code) from None
        except BaseException:
            release_held_logs()  # under --quiet-unless too: an error is worth reading
            raise
    if not speak_or_hush(quiet_unless, results, failing=all_fetches_failed(results)):
        pass  # --quiet-unless: nothing to read; the exit code below is the usual one
    elif output_format == "json":
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
        click.echo(terminal_safe("\n".join(summary_lines(results, path,
                                                          interrupted_by=ctrl_c.name))))
    if any(r.status == "interrupted" for r in results):
        raise SystemExit(ctrl_c.exit_code)
    if any(r.status == "failed" for r in results):
        # A run that could not do its job (a wiki whose API is unusable) is not a success
        # for cron, though failed URLs alone never make one.
        raise SystemExit(EXIT_ERROR)
    if all_fetches_failed(results):
        # Every fetch failed: the site is down or the network is. Its URLs are retried on
        # the failure back-off; the distinct code lets cron (and scripts) tell.
        raise SystemExit(EXIT_ALL_FAILED)


def _crawl(config_paths: tuple[str, ...], archive_path: str | None, max_pages: int | None,
           max_time: str | None, verbose: int, quiet: bool, log_format: str,
           progress: bool | None, backfill: int | None, lease: str | None,
           settings: tuple[str, ...], ctrl_c: CtrlC, *, hold: bool = False,
           urls: tuple[str, ...] = ()
           ) -> tuple[str, list[RunResult]]:
    """The crawl of `scraper crawl`: its archive's path and its runs' results.

    :param hold: --quiet-unless: no progress bar, and log lines held until the end.
    :param urls: --url: fetch just these.
    """
    # The pipeline is imported here so that `scraper --help` and the other commands start fast.
    from scraper.archive import Archive
    from scraper.cli.crawl_progress import ProgressView
    from scraper.cli.notify_cmd import notify_after_crawl
    from scraper.config import load_config, parse_overrides
    from scraper.crawl import CrawlLimits, crawl
    from scraper.crawl.frontier import hand_urls
    from scraper.crawl.parse_pool import ParsePool

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
    lease_seconds = DEFAULT_LEASE_SECONDS
    if lease is not None:
        try:
            lease_seconds = parse_duration(lease)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--lease") from None
        if lease_seconds <= 0:
            raise click.BadParameter("must be longer than 0 s", param_hint="--lease")
    given = hand_urls(configs, urls)  # refused before the archive is opened
    path = resolve_archive_path(archive_path, configs[0].archive)
    _check_same_archive(configs, archive_path, path)
    location = parse_archive_location(path, key="--archive" if archive_path else "archive")
    # The process lock is a file beside an SQLite archive; a server archive has none (and a
    # URL must never become a file name: it may hold a password).
    process_lock = ArchiveLock(path) if location.kind == "sqlite" else nullcontext()
    show_progress = (stdout_is_terminal() if progress is None else progress) and not hold
    view = (ProgressView({cfg.name: cfg.max_pages for cfg in configs}, limit_seconds)
            if show_progress and not quiet else None)
    # Log lines go above the bar, through its console, when both share the terminal; a
    # standard error sent elsewhere (2>crawl.log) keeps them.
    configure_logging(verbose, quiet, log_format, show_progress,
                      console=view.console if view is not None and sys.stderr.isatty()
                      else None)
    if hold:
        hold_logs()

    async def crawl_until_done_or_ctrl_c() -> list[RunResult]:
        stop = asyncio.Event()
        ctrl_c.bind(asyncio.get_running_loop(), stop)
        try:
            return await crawl(configs, archive, limits=CrawlLimits(max_pages, limit_seconds,
                                                                  lease_seconds, given),
                               events=view, parse_pool=parse_pool, stop=stop)
        finally:
            ctrl_c.unbind()

    with (_max_time_watchdog(limit_seconds),
          process_lock,
          Archive.open(location, full_copy_every=configs[0].full_copy_every) as archive,
          # Worker processes for big runs: this command's __main__ is guarded (ParsePool).
          ParsePool() as parse_pool,
          view if view is not None else nullcontext()):
        results = asyncio.run(crawl_until_done_or_ctrl_c())
        if not any(r.status == "interrupted" for r in results):
            # The runs' changes wait in the outbox since they were written: sent now, or
            # by a later run if this one is killed first.
            notify_after_crawl(archive, configs)
    return location.display, results


class CtrlC:
    """What Ctrl-C (SIGINT) and SIGTERM (systemd's stop, `kill`) do to `scraper crawl`.

    During the crawl the first one ends the runs cleanly: pages in progress are dropped,
    what was stored stays, each run row is finished `interrupted` and the summary says what
    was saved (exit code 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM). A second one
    exits at once: SQLite's transactions keep the archive whole, the uncommitted last second
    of work is lost (the next run fetches it again), and the next crawl marks the run
    `killed`. Outside the crawl (loading configs, opening the archive) either raises
    KeyboardInterrupt, so the command exits with the same code and no run to finish.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.count = 0
        self.signum = int(signal.SIGINT)  # the first signal received
        self._target: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __enter__(self) -> Self:
        # Only the main thread may set a handler (a program may run the command elsewhere).
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def bind(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        """From now on Ctrl-C sets `stop`, on `loop`."""
        self._target = (loop, stop)

    def unbind(self) -> None:
        self._target = None

    def _stop(self, stop: asyncio.Event) -> None:
        log.warning("interrupted (%s): ending the run, what was stored is kept; %s again "
                    "exits at once", self.name, self.name,
                    extra={"fields": {"event": "interrupt", "signal": self.name}})
        stop.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.signum = signum
        if self._target is None:
            raise KeyboardInterrupt
        if self.count == 1:
            # A signal handler runs between two bytecodes of the loop's thread: the loop is
            # asked to stop, not changed from here.
            loop, stop = self._target
            # An empty context: the interrupted task's (a page's URL) is not this line's.
            loop.call_soon_threadsafe(self._stop, stop, context=contextvars.Context())
            return
        # os.write, not print: the interrupted code may be inside sys.stderr's own write.
        os.write(2, f"\ninterrupted again ({self.name}): exiting now; the archive is "
                    "consistent, the run's last writes are dropped and the next crawl marks "
                    "it killed\n".encode())
        os._exit(self.exit_code)


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
            raise ConfigError(f"configs name different archives ({redact(path)} and "
                              f"{redact(resolve_archive_path(None, cfg.archive))}); crawl them "
                              "separately or pass --archive", path=cfg.path, key="archive")
