"""Records of the notification outbox that every archive backend returns (issue 19).

A change for watchers is queued in the outbox by the write that makes it (a new version, a
page marked gone, parser breakage at the end of a run), in that write's transaction;
scraper.watch sends it. Each target keeps one delivery row per change: `sent`, `skipped`
(its filter left the change out) or `pending` with its retry state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# A delivery row's status (record_deliveries).
DELIVERY_STATUSES = ("sent", "skipped", "failed")


@dataclass(frozen=True, slots=True)
class OutboxChange:
    """One queued change: `version` is the new version (event `version`), the version current
    when the page went (`gone`), or None (`breakage`, whose `url` is an example page and
    `detail` the alert's message); `detail` of a `gone` change is the failure's reason."""

    id: int
    site: str
    url: str
    event: str
    version: int | None
    run_id: int | None
    at: datetime
    detail: str = ""
    attempts: int = 0  # failed sends of this change to this target so far


@dataclass(frozen=True, slots=True)
class NotifyBacklog:
    """What waits for one target of one site (`scraper notify --pending`)."""

    site: str
    target: str  # the target's key (scraper.watch.targets.target_key)
    label: str  # the target as it may be shown: no credentials
    since_id: int  # it gets the changes queued after this one
    pending: int  # changes not sent yet (due now or waiting for their retry)
    sent: int
    next_attempt: datetime | None  # the earliest retry; None: due at the next send
    attempts: int  # the most failed sends of one waiting change
    last_error: str | None
