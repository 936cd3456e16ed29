"""Notifications after a run (issue 19): what waits in the archive's outbox for each target
of a config is sent as one message per target, and the outcome recorded.

    deliver_notifications(archive, cfg)   after a crawl: send what is due, record the outcome
    send_trial_messages(cfg)              `scraper notify --test`: a test message to each
    pending_notifications(archive, site)  `scraper notify --pending`: what waits

Delivery is at least once, and a receiver can make it exactly once: a change is queued with
its version (the save's transaction), marked sent only after the target accepted the message,
and a message sent again (after a failure, or a process killed while it waited for the
answer) carries the same delivery id for the same changes (Idempotency-Key). A change sent or
skipped is never sent to that target again. A target seen for the first time (newly added to
the config) gets the changes queued from then on, not the archive's history. Failed sends are
retried by later runs, waiting RETRY_FIRST, then twice as long each time up to RETRY_MAX.
Crawl workers sharing a PostgreSQL archive each send after their own run, taking turns per
target (ArchiveBackend.sending_to), so the second finds the first's changes sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scraper.archive.notify_records import NotifyBacklog
from scraper.archive.protocol import ArchiveBackend
from scraper.config import CrawlConfig, NotifyTarget
from scraper.config._notify import redact_target_url
from scraper.timeutil import utcnow
from scraper.watch.notify_items import ItemReader, wanted
from scraper.watch.notify_message import Message, compose, trial_message
from scraper.watch.notify_send import SendResult, send_message

RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=6)

Sender = Callable[[NotifyTarget, Message], SendResult]


@dataclass(frozen=True, slots=True)
class TargetReport:
    """What one target got."""

    target: str  # its key
    label: str  # no credentials
    sent: int = 0  # changes told in the message
    skipped: int = 0  # changes its `on:` or `match:` left out
    failed: int = 0  # changes whose message failed (retried later)
    delivery_id: str | None = None
    detail: str = ""  # the answer, or the error
    next_attempt: datetime | None = None


def target_key(target: NotifyTarget) -> str:
    """A target's lasting name in the archive: from its kind and URL as written (so that a
    rotated `${TOKEN}` keeps it), never from a secret's value."""
    return hashlib.sha256(f"{target.kind} {target.url}".encode()).hexdigest()[:16]


def target_label(target: NotifyTarget) -> str:
    return f"{target.kind} {redact_target_url(target.url)}"


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed send a change is tried again."""
    factor = 1 << min(max(attempts - 1, 0), 20)
    return min(RETRY_FIRST * factor, RETRY_MAX)


def deliver_notifications(archive: ArchiveBackend, cfg: CrawlConfig, *,
                          now: datetime | None = None,
                          send: Sender = send_message) -> list[TargetReport]:
    """Send each target of `cfg.notify` what is due for it in the outbox of site `cfg.name`,
    as one message, and record what was sent, skipped or failed. One target's failure is its
    report, never an exception; archive errors raise ArchiveError."""
    reader = ItemReader(archive)
    reports = []
    for target in cfg.notify:
        when = now or utcnow()
        reports.append(_deliver_one(archive, cfg.name, target, when, reader, send))
    return reports


def _deliver_one(archive: ArchiveBackend, site: str, target: NotifyTarget, now: datetime,
                 reader: ItemReader, send: Sender) -> TargetReport:
    key, label = target_key(target), target_label(target)
    archive.register_notify_target(site, key, label, now)
    with archive.sending_to(site, key):
        return _send_due(archive, site, target, key, label, now, reader, send)


def _send_due(archive: ArchiveBackend, site: str, target: NotifyTarget, key: str, label: str,
              now: datetime, reader: ItemReader, send: Sender) -> TargetReport:
    due = archive.due_changes(site, key, now)
    told, left_out = [], []
    for change in due:
        item = reader.item(change)
        if wanted(target, item):
            told.append(item)
        else:
            left_out.append(item.change_id)
    if left_out:
        archive.record_deliveries(key, left_out, status="skipped", now=now)
    if not told:
        return TargetReport(key, label, skipped=len(left_out))
    message = compose(site, key, told, sent_at=now)
    result = send(target, message)
    ids = [item.change_id for item in told]
    if result.ok:
        archive.record_deliveries(key, ids, status="sent", now=utcnow())
        return TargetReport(key, label, sent=len(ids), skipped=len(left_out),
                            delivery_id=message.delivery_id, detail=result.detail)
    told_ids = set(ids)
    attempts = 1 + max(change.attempts for change in due if change.id in told_ids)
    retry_at = now + retry_delay(attempts)
    archive.record_deliveries(key, ids, status="failed", now=now, error=result.detail,
                              next_attempt=retry_at)
    return TargetReport(key, label, skipped=len(left_out), failed=len(ids),
                        delivery_id=message.delivery_id, detail=result.detail,
                        next_attempt=retry_at)


def send_trial_messages(cfg: CrawlConfig, *, now: datetime | None = None,
                        send: Sender = send_message) -> list[TargetReport]:
    """A test message to every target of `cfg.notify`; touches no archive."""
    when = now or utcnow()
    reports = []
    for target in cfg.notify:
        key = target_key(target)
        message = trial_message(cfg.name, key, sent_at=when)
        result = send(target, message)
        reports.append(TargetReport(key, target_label(target), sent=int(result.ok),
                                    failed=int(not result.ok), delivery_id=message.delivery_id,
                                    detail=result.detail))
    return reports


def pending_notifications(archive: ArchiveBackend,
                          site: str | None = None) -> list[NotifyBacklog]:
    """What waits for each target the archive has seen (of `site`)."""
    return archive.notify_backlog(site)
