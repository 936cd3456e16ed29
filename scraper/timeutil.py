"""Durations, points in time and their text forms; UTC everywhere."""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime, timedelta

# One "<number><unit>" part of a duration; a duration is one or more of them, largest unit
# first (1h30m, 2d12h, 1h 30m), or one bare number of seconds.
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
DURATION_EXAMPLES = "30s, 5m, 1h30m or 2d12h"
# A number then a letter: meant as an age (7d, 1h30x), never a date (2026-11-01).
_AGE_LIKE = re.compile(r"^\s*\d+(?:\.\d+)?\s*[a-zA-Z]")


_UNIT_ORDER = tuple(_UNIT_SECONDS)
_UNITS_NAMED = "ms, s, m, h, d or w"


class DurationError(ValueError):
    """A value that is no duration; `detail` says which part is wrong ('' when no one part
    is), so that a config key's message can name it too."""

    def __init__(self, value: object, detail: str = "") -> None:
        where = f" ({detail})" if detail else ""
        super().__init__(f"expected a duration such as {DURATION_EXAMPLES}, got {value!r}{where}")
        self.detail = detail


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str | float) -> float:
    """Seconds in `text`: a number (seconds), a number with a unit (500ms, 30s, 5m, 2h, 1d,
    1w, 1.5h) or several, largest unit first (1h30m, 2d12h, 1h 30m).

    Raises DurationError (a ValueError) naming the accepted forms and, where there is one,
    the part that is wrong.
    """
    if isinstance(text, bool):  # a YAML `yes` is a bad value from a file, not a bug
        raise DurationError(text)
    if isinstance(text, (int, float)):
        if text < 0 or not math.isfinite(text):
            raise DurationError(text, "a duration is a finite number >= 0")
        return float(text)
    raw = str(text)
    total = 0.0
    units: list[str] = []
    position = 0
    while position < len(raw) or not units:
        match = _DURATION_PART.match(raw, position)
        if match is None:
            rest = raw[position:].strip()
            raise DurationError(text, f"{rest!r} is not a number with a unit" if units else "")
        number, unit = float(match.group(1)), match.group(2)
        if not unit:
            # A bare number is seconds only on its own: in "1h30" the 30 could be either.
            if units or match.end() < len(raw):
                raise DurationError(text, f"{match.group(1)!r} has no unit ({_UNITS_NAMED})")
            return number
        if unit not in _UNIT_SECONDS:
            raise DurationError(text, f"{unit!r} is not a unit ({_UNITS_NAMED})")
        if units and _UNIT_ORDER.index(unit) <= _UNIT_ORDER.index(units[-1]):
            # 1m30h is more likely a slip for 1h30m than a way to say 30h1m: refused.
            raise DurationError(text, "units go from the largest to the smallest, each once")
        units.append(unit)
        total += number * _UNIT_SECONDS[unit]
        position = match.end()
    if not math.isfinite(total):
        raise DurationError(text, "too long")
    return total


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time from a date (2026-11-01), a datetime (ISO 8601) or an age (7d = 7 days
    ago, 1h30m).

    Naive dates and datetimes are taken as UTC.
    """
    now = now or utcnow()
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        age_error = str(exc).replace("a duration", "an age", 1)
    else:
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"an age of {text!r} reaches back before the year 1") from None
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        if looks_like_age(text):
            # Say which part of the age is wrong rather than that it is no date.
            raise ValueError(age_error) from None
        raise ValueError(
            f"expected a date (2026-11-01), an ISO datetime or an age such as 7d or 1h30m, "
            f"got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def looks_like_age(text: str) -> bool:
    """Whether `text` was meant as an age (a number then a unit), not as a date."""
    return _AGE_LIKE.match(text) is not None


def iso(when: datetime) -> str:
    """The archive's text form of a time: ISO 8601 in UTC with microseconds, so it sorts as text."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
