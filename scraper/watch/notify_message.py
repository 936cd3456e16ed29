"""One message per run per target (pure): the changed pages grouped, each with its gist and a
short diff, capped with "and N more"; as text (Apprise) and as JSON (webhooks)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scraper.compact_json import compact_json
from scraper.watch.notify_items import NotifyItem, item_lines, item_record

# Changes one message lists; the rest are counted ("and N more"). Chat services cut long
# messages (Slack at 40,000 characters, Telegram at 4,096), mail readers tire sooner.
MAX_ITEMS = 20
# Characters of a text message's body; past this, whole changes are left out and counted.
MAX_BODY_CHARS = 12_000
# Change records one webhook body carries; the rest are counted in `more`.
MAX_RECORDS = 500
WEBHOOK_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class Message:
    """What one target is sent: `delivery_id` is the same whenever the same changes are sent
    to the same target again (after a failure or a crash), so that a receiver can drop a
    copy it already has."""

    delivery_id: str
    title: str
    body: str  # text, for Apprise
    payload: bytes  # JSON, for webhooks


def delivery_id(target_key: str, change_ids: Sequence[int]) -> str:
    text = target_key + ":" + ",".join(str(i) for i in sorted(change_ids))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def signature(secret: str, body: bytes) -> str:
    """The X-Scraper-Signature value: `sha256=` and the HMAC-SHA256 of the body in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _title(site: str, items: Sequence[NotifyItem]) -> str:
    pages = len({item.url for item in items if item.event != "breakage"})
    parts = []
    if pages:
        parts.append(f"{pages} page{'s' if pages != 1 else ''} changed")
    breakage = sum(item.event == "breakage" for item in items)
    if breakage:
        parts.append(f"{breakage} parser breakage alert{'s' if breakage != 1 else ''}")
    return f"scraper: {site}: {', '.join(parts)}"


def compose(site: str, target_key: str, items: Sequence[NotifyItem], *, sent_at: datetime,
            max_items: int = MAX_ITEMS, max_body_chars: int = MAX_BODY_CHARS,
            max_records: int = MAX_RECORDS) -> Message:
    """The message telling `items` (oldest first) to one target."""
    ident = delivery_id(target_key, [item.change_id for item in items])
    title = _title(site, items)
    lines: list[str] = []
    shown = 0
    for item in items[:max_items]:
        block = item_lines(item)
        if shown and sum(len(x) + 1 for x in lines + block) > max_body_chars:
            break
        lines.extend(block)
        shown += 1
    if shown < len(items):
        lines.append(f"and {len(items) - shown} more")
    records: list[dict[str, Any]] = [item_record(item) for item in items[:max_records]]
    payload = compact_json({
        "schema": WEBHOOK_SCHEMA, "delivery": ident, "site": site, "title": title,
        "sent_at": sent_at.isoformat(), "changes": records,
        "more": max(0, len(items) - max_records),
    })
    return Message(delivery_id=ident, title=title, body="\n".join(lines), payload=payload)


def trial_message(site: str, target_key: str, *, sent_at: datetime) -> Message:
    """What `scraper notify --test` sends: no change, a title that says it is a test."""
    title = f"scraper: {site}: test message"
    body = (f"A test from scraper at {sent_at.isoformat(timespec='seconds')}: this target "
            "will be told when pages of this site change.")
    payload = compact_json({"schema": WEBHOOK_SCHEMA, "delivery": f"test-{target_key}",
                            "site": site, "title": title, "sent_at": sent_at.isoformat(),
                            "test": True, "changes": [], "more": 0})
    return Message(delivery_id=f"test-{target_key}-{int(sent_at.timestamp())}", title=title,
                   body=body, payload=payload)
