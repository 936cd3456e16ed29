"""What a crawl tells as it goes: events for progress bars, and the fields of its log records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class CrawlEvent:
    """One thing that happened, for progress bars and log lines."""

    kind: str  # fetched | new_version | unchanged | not_modified | failed | skipped | run_end
    site: str
    url: str = ""
    status: int | None = None
    version: int | None = None
    detail: str = ""
    queued: int = 0  # pages in progress
    # URLs due and not yet done, in progress included (a progress bar's total is done +
    # pending); None when the source does not know its queue (a wiki's change lists).
    pending: int | None = None


EventSink = Callable[[CrawlEvent], None]

# What a log record is about, for structured (JSON) log lines: `run` and `site` inside a
# run's task, `url` inside a page's task too. Log handlers run in the task that logs, so a
# formatter reads it there; records logged by other threads (the archive's) have none.
log_fields: ContextVar[Mapping[str, Any]] = ContextVar(
    "crawl_log_fields", default=MappingProxyType({}))


def record_fields(event: str, url: str | None = None, *, status: int | None = None,
                  version: int | None = None, **more: Any) -> dict[str, Any]:
    """`extra` for a log record about `event`: the record's `fields`, which a structured
    formatter adds to log_fields. Fields that are None are left out."""
    fields = {"event": event, "url": url, "status": status, "version": version, **more}
    return {"fields": {key: value for key, value in fields.items() if value is not None}}
