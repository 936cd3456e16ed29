"""Durations, points in time and their text forms; UTC everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str | float) -> float:
    """Seconds in `text`: a number (seconds) or a number with a unit: 500ms, 30s, 5m, 2h, 1d, 1w.

    Raises ValueError with a sentence naming the accepted forms.
    """
    if isinstance(text, bool):  # a YAML `yes` is a bad value from a file, not a bug
        raise ValueError(f"expected a duration such as 30s, 5m, 2h or 1d, got {text!r}")  # noqa: TRY004
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"a duration must be >= 0, got {text!r}")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"expected a duration such as 30s, 5m, 2h or 1d, got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time from a date (2026-11-01), a datetime (ISO 8601) or an age (7d = 7 days ago).

    Naive dates and datetimes are taken as UTC.
    """
    now = now or utcnow()
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"expected a date (2026-11-01), an ISO datetime or an age such as 7d, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def iso(when: datetime) -> str:
    """The archive's text form of a time: ISO 8601 in UTC with microseconds, so it sorts as text."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
