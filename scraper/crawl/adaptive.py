"""Adaptive politeness: a host's delay between request starts follows how the server copes.

The idea is Scrapy's AutoThrottle's: a server that takes `latency` seconds per answer
carries about `target_concurrency` of our requests at once when they start
`latency / target_concurrency` apart. Each good answer moves the delay halfway toward that
(so one odd answer does not swing it); 429 and 503, answers slower than `slow_answer` and
no answer at all double it; it never goes under the configured `delay` (the floor) nor
over `max_delay`.

One departure from AutoThrottle: a burst of requests sent before the server began to
refuse comes back as a burst of refusals, and doubling once per refusal would leave the
delay far higher than needed (minutes to drift back). So the delay doubles at most once
per answer to a request sent after the last doubling; refusals to requests sent before it
are the same news and only keep the delay from falling.

AdaptiveDelay is pure (times are given to it); HostPace is the part of the fetcher's host
gates (fetch.py, shared_politeness.py) that feeds it each answer and reads the delay back.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from scraper.config import Politeness
from scraper.timeutil import parse_retry_after

log = logging.getLogger(__name__)

# Statuses that say "too much, slow down".
OVERLOAD_STATUSES = frozenset({429, 503})
# Before the first answer the delay is this (within floor and max_delay): the server's
# latency is not known yet, and a first burst at the floor is what overloads a small site.
START_DELAY_S = 0.5
# A backoff from a delay near 0 (a floor of 0) doubles at least to this.
MIN_BACKOFF_S = 0.05
# A change of the delay by this factor either way since the last one reported is worth a
# log line; smaller moves are the smoothing at work.
NOTABLE_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class DelayReport:
    """A host's adaptive delay at a point of the run, for the run row and the summary."""

    delay_s: float  # the current delay between request starts
    max_delay_s: float  # the largest it was in this run
    min_delay_s: float  # the smallest it was after the first answer
    backoffs: int  # how often it was doubled
    answers: int  # answers (and failures to answer) it was fed

    def to_dict(self) -> dict[str, float | int]:
        return {"delay_s": round(self.delay_s, 4), "max_delay_s": round(self.max_delay_s, 4),
                "min_delay_s": round(self.min_delay_s, 4), "backoffs": self.backoffs,
                "answers": self.answers}


class AdaptiveDelay:
    """The delay policy for one host. Feed it every answer with record(); read `delay`."""

    def __init__(self, *, floor: float, target_concurrency: float = 1.0,
                 max_delay: float = 60.0, slow_answer: float = 10.0) -> None:
        if target_concurrency <= 0:
            raise ValueError(f"target_concurrency must be > 0, got {target_concurrency}")
        if floor < 0:
            raise ValueError(f"floor must be >= 0, got {floor}")
        self.floor = floor
        self.target_concurrency = target_concurrency
        # A max_delay under the floor never wins: the floor is what the user asked for.
        self.max_delay = max(max_delay, floor)
        self.slow_answer = slow_answer
        self.delay = self._clamp(START_DELAY_S)
        self._last_backoff_at: float | None = None
        self._reported = self.delay
        self._max_seen = self.delay
        self._min_seen: float | None = None
        self.backoffs = 0
        self.answers = 0

    @classmethod
    def from_politeness(cls, politeness: Politeness) -> AdaptiveDelay:
        return cls(floor=politeness.delay, target_concurrency=politeness.target_concurrency,
                   max_delay=politeness.max_delay, slow_answer=politeness.slow_answer)

    def _clamp(self, delay: float) -> float:
        return min(self.max_delay, max(self.floor, delay))

    def record(self, latency: float, status: int | None, *, sent_at: float,
               retry_after: float | None = None) -> float:
        """Take one answer into account; returns the new delay.

        :param latency: seconds from sending the request to the answer's head (to giving
            up, when there was no answer).
        :param status: the HTTP status; None when no answer came (timeout, reset).
        :param sent_at: when the request was sent, on the clock the caller uses for the
            backoffs (only compared with earlier `sent_at` values).
        :param retry_after: the answer's Retry-After in seconds, if any: a backoff goes at
            least that far (within max_delay).
        """
        self.answers += 1
        old = self.delay
        latency = max(0.0, latency)
        target = latency / self.target_concurrency
        if status is None or status in OVERLOAD_STATUSES or latency >= self.slow_answer:
            if self._last_backoff_at is not None and sent_at <= self._last_backoff_at:
                new = old  # sent before the last backoff: already answered for
            else:
                new = max(2 * old, MIN_BACKOFF_S, target, retry_after or 0.0)
                self._last_backoff_at = sent_at
                self.backoffs += 1
        elif status >= 400:
            # An error answer (404, 500) comes fast and says nothing of the server's load:
            # it may slow the pace down, never speed it up.
            new = max(old, (old + target) / 2)
        else:
            new = (old + target) / 2
        self.delay = self._clamp(new)
        self._max_seen = max(self._max_seen, self.delay)
        self._min_seen = self.delay if self._min_seen is None else min(self._min_seen,
                                                                         self.delay)
        return self.delay

    def notable_change(self) -> float | None:
        """The delay last reported, when the delay moved by NOTABLE_FACTOR since (the first
        call compares with the start delay); None when it did not."""
        before = self._reported
        low, high = sorted((self.delay, before))
        if high <= 0 or (low > 0 and high / low < NOTABLE_FACTOR) \
                or (low == 0 and high < MIN_BACKOFF_S):
            return None
        self._reported = self.delay
        return before

    def report(self) -> DelayReport:
        return DelayReport(self.delay, self._max_seen,
                           self.delay if self._min_seen is None else self._min_seen,
                           self.backoffs, self.answers)


class HostPace:
    """What a host gate knows of its pace: the config's politeness, robots.txt's
    Crawl-delay and, with `politeness.adaptive`, the delay that follows the server."""

    politeness: Politeness
    crawl_delay: float  # from robots.txt, when larger than the config's
    adaptive: AdaptiveDelay | None
    host: str  # host:port, for the log

    def _init_pace(self, host: str, politeness: Politeness) -> None:
        self.host = host
        self.politeness = politeness
        self.crawl_delay = 0.0
        self.adaptive = AdaptiveDelay.from_politeness(politeness) if politeness.adaptive \
            else None

    def delay(self) -> float:
        """Seconds between request starts to the host now."""
        pace = self.politeness.delay if self.adaptive is None else self.adaptive.delay
        return max(pace, self.crawl_delay)

    def answered(self, sent_at: float, now: float, status: int | None,
                 retry_after: str | None = None) -> None:
        """Tell the adaptive delay (if any) of an answer's head, or of no answer (status
        None), to a request sent at `sent_at` (time.monotonic())."""
        policy = self.adaptive
        if policy is None:
            return
        latency = now - sent_at
        wait = parse_retry_after(retry_after) if status in OVERLOAD_STATUSES else None
        policy.record(latency, status, sent_at=sent_at, retry_after=wait)
        before = policy.notable_change()
        if before is not None:
            log.debug("%s: adaptive delay %.3f s -> %.3f s (%s in %.3f s)", self.host, before,
                      policy.delay, "no answer" if status is None else f"HTTP {status}",
                      latency)


def in_domains(netloc: str, domains: Collection[str]) -> bool:
    """Whether host:port `netloc` is one of `domains` or under one (as scope.domains)."""
    host = urlsplit("//" + netloc).hostname or ""
    return any(host == d or host.endswith("." + d) for d in domains)
