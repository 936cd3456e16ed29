"""Command: notify (--test: a test message to each target; --pending: what waits in the
outbox); and the notifications `scraper crawl` sends after its runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from scraper.cli.app import (
    archive_option,
    echo_json,
    format_option,
    handle_errors,
    main,
    resolve_archive_path,
)
from scraper.cli.terminal import terminal_safe

if TYPE_CHECKING:
    from scraper.archive import ArchiveBackend
    from scraper.config import CrawlConfig
    from scraper.watch.notify import TargetReport

log = logging.getLogger("scraper.cli")


def notify_after_crawl(archive: ArchiveBackend, configs: Sequence[CrawlConfig]) -> None:
    """Send what the runs queued for each config's targets; one log line per target that had
    something (a failed target is a warning: its changes wait for the next run). Then drop
    the queued changes that no target of the config will get (all, without targets)."""
    from scraper.watch.notify import deliver_notifications

    for cfg in configs:
        reports = deliver_notifications(archive, cfg) if cfg.notify else []
        # After the targets were registered: what none of them will get goes.
        dropped = archive.prune_outbox(cfg.name)
        if dropped:
            log.debug("notify %s: %d queued change(s) no target will get dropped", cfg.name,
                      dropped)
        for report in reports:
            if report.failed:
                log.warning("notify %s: %s: %d change(s) not sent (%s); retried from %s",
                            cfg.name, report.label, report.failed, report.detail,
                            report.next_attempt.isoformat(timespec="seconds")
                            if report.next_attempt else "the next run")
            elif report.sent:
                log.info("notify %s: %s: sent %d change(s) (%s)", cfg.name, report.label,
                         report.sent, report.detail)


def _report_row(report: TargetReport) -> dict[str, object]:
    return {"target": report.target, "label": report.label, "ok": not report.failed,
            "detail": report.detail}


@main.command("notify")
@click.argument("config_path", required=False, type=click.Path(dir_okay=False, exists=True),
                metavar="[CONFIG]")
@click.option("--test", "send_test", is_flag=True,
              help="Send a test message to every target of CONFIG and report each result.")
@click.option("--pending", is_flag=True,
              help="List what waits in the archive's outbox, per target: changes not sent "
                   "yet, the next retry, the last error (CONFIG: only its site).")
@format_option("text", "json")
@archive_option
@handle_errors
def notify_command(config_path: str | None, send_test: bool, pending: bool,
                   output_format: str, archive_path: str | None) -> None:
    """Notifications: test a config's targets, or see what waits to be sent.

    `scraper crawl` sends the changes of each run after it, one message per target; a
    failed send is retried by later runs. See docs/notify.md.

    \b
    Examples:
      scraper notify --test config/wiki.yaml
      scraper notify --pending
      scraper notify --pending config/wiki.yaml --format json
    """
    from scraper.config import load_config

    if send_test == pending:
        raise click.UsageError("give one of --test CONFIG or --pending [CONFIG]")
    cfg = load_config(config_path) if config_path else None
    if send_test:
        if cfg is None:
            raise click.UsageError("--test needs a CONFIG whose targets to test")
        _send_test(cfg, output_format)
    else:
        _show_pending(cfg, archive_path, output_format)


def _send_test(cfg: CrawlConfig, output_format: str) -> None:
    from scraper.watch.notify import send_trial_messages

    if not cfg.notify:
        raise click.UsageError(f"{cfg.path}: the config has no `notify:` targets")
    reports = send_trial_messages(cfg)
    if output_format == "json":
        echo_json([_report_row(r) for r in reports])
    else:
        for report in reports:
            status = "ok" if not report.failed else "FAILED"
            click.echo(terminal_safe(f"{status:6} {report.label}: {report.detail}"))
    if any(r.failed for r in reports):
        raise SystemExit(1)


def _show_pending(cfg: CrawlConfig | None, archive_path: str | None,
                  output_format: str) -> None:
    from scraper.archive import Archive
    from scraper.watch.notify import pending_notifications

    path = resolve_archive_path(archive_path, cfg.archive if cfg else None)
    with Archive.open(path, create=False) as archive:
        backlog = pending_notifications(archive, cfg.name if cfg else None)
    if output_format == "json":
        echo_json([{
            "site": b.site, "target": b.target, "label": b.label, "pending": b.pending,
            "sent": b.sent, "next_attempt": b.next_attempt.isoformat() if b.next_attempt
            else None, "attempts": b.attempts, "last_error": b.last_error,
        } for b in backlog])
        return
    if not backlog:
        click.echo("no notification targets have run against this archive yet")
        return
    for b in backlog:
        line = f"{b.site}  {b.label}: {b.pending} waiting, {b.sent} sent"
        if b.attempts:
            when = b.next_attempt.isoformat(timespec="seconds") if b.next_attempt else "now"
            line += f"; {b.attempts} failed attempt(s), next at {when}"
        if b.last_error:
            line += f"; last error: {b.last_error}"
        click.echo(terminal_safe(line))
