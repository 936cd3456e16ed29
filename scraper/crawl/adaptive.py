"""Adaptive politeness: a host's delay between request starts follows how the server copes.

The start is Scrapy's AutoThrottle's rule: a server that takes `latency` seconds per answer
carries about one of our requests at a time when they start `latency` apart, so while the
delay is more than twice the latency each good answer moves it halfway there. From there it
probes, as TCP's congestion control does (additive increase, multiplicative decrease):

- While answers stay clean and as fast as the fastest seen for the host, the number of our
  requests in the server's hands (lowest latency / delay) grows by `PROBE_STEP`, once per
  two round trips (a step is judged by an answer to a request sent a round trip after it:
  the first ones at the new pace come back before the overlap they make shows).
- When the answers' latency (smoothed) rises clearly above the lowest seen (`QUEUE_RISE`
  times it plus `QUEUE_SLACK_S`), the server is queueing our requests (a Vegas/BBR-like
  signal: a server past its capacity gets slower before it refuses), and the delay is
  multiplied by `QUEUE_BACKOFF`. This only counts while our requests overlap in the server
  (delay under the latency): with one at a time, a slower server is not our doing, and the
  lowest latency drifts up to it.
- 429 and 503, answers slower than `slow_answer` and no answer at all double it (at least to
  the answer's Retry-After).
- After a backoff the probe returns to just under the level where the trouble began, stays
  there for `PLATEAU_ROUND_TRIPS` and then creeps past it in small steps (CUBIC's plateau):
  a server whose limit is sharp (one worker, 503 at the third request) is hit seldom.
- It never goes under the configured `delay` (the floor) nor over `max_delay`, and never
  lets more than `target_concurrency` requests be in the server's hands (latency / target
  is a floor on it); with `target_concurrency` "auto" (None, the default) that cap is
  `concurrency`, which the host gate enforces anyway.

A burst of requests sent before the server began to refuse comes back as a burst of
refusals (or of slow answers), and backing off once per answer would leave the delay far
higher than needed (minutes to drift back). So the delay backs off at most once per answer
to a request sent after the last backoff was decided (for queueing: a round trip after, the
queue's time to drain); the others are the same news and only keep the delay from falling.

AdaptiveDelay is pure (times are given to it); HostPace is the part of the fetcher's host
gates (fetch.py, shared_politeness.py) that feeds it each answer and reads the delay back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scraper.config import Politeness
from scraper.timeutil import parse_retry_after

log = logging.getLogger(__name__)

# Statuses that say "too much, slow down".
OVERLOAD_STATUSES = frozenset({429, 503})
# Before the first answer the delay is this (within floor and max_delay): the server's
# latency is not known yet, and a first burst at the floor is what overloads a small site.
START_DELAY_S = 0.5
# A backoff from a delay near 0 (a floor of 0) goes at least to this.
MIN_BACKOFF_S = 0.01
# A change of the delay by this factor either way since the last one reported is worth a
# log line; smaller moves are the smoothing and the probing at work.
NOTABLE_FACTOR = 1.5
# The probe: the requests in the server's hands grow by this once per two round trips (on
# the first clean, fast answer to a request sent a round trip after the last step).
PROBE_STEP = 0.5
# Until the first backoff, a step is at
# least SLOW_START times the requests in hand: a server that takes many is reached sooner.
SLOW_START = 0.125
# Near (TROUBLE_NEAR times) the requests in the server's hands at the last backoff, the
# probe's step is CREEP times as large (CUBIC's slow approach to where the loss was); past
# TROUBLE_FORGET times it without trouble, that level is forgotten. For PLATEAU_ROUND_TRIPS
# after a backoff the probe stops near that level (as CUBIC's plateau): a server whose limit
# is sharp is hit far less often.
TROUBLE_NEAR = 0.9
CREEP = 0.25
TROUBLE_FORGET = 1.5
PLATEAU_ROUND_TRIPS = 30
# Queueing: the smoothed latency above QUEUE_RISE times the lowest seen plus QUEUE_SLACK_S
# (the slack keeps jitter of a server that answers in a millisecond from counting).
QUEUE_RISE = 1.25
QUEUE_SLACK_S = 0.002
# The multiplicative backoff on queueing: gentler than the doubling on a refusal, as the
# server has not refused anything yet.
QUEUE_BACKOFF = 1.5
# The smoothing of the latency (an exponentially weighted mean): the weight of each answer.
LATENCY_WEIGHT = 0.5
# While our requests do not overlap in the server, the lowest latency drifts toward what the
# server answers by this share per answer: a server that became slower for its own reasons
# is not taken for queueing for ever.
BASE_DRIFT = 0.1


@dataclass(frozen=True, slots=True)
class DelayReport:
    """A host's adaptive delay at a point of the run, for the run row and the summary."""

    delay_s: float  # the current delay between request starts
    max_delay_s: float  # the largest it was in this run
    min_delay_s: float  # the smallest it was after the first answer
    backoffs: int  # how often it backed off (refusals, slow or no answers, queueing)
    answers: int  # answers (and failures to answer) it was fed

    def to_dict(self) -> dict[str, float | int]:
        return {"delay_s": round(self.delay_s, 4), "max_delay_s": round(self.max_delay_s, 4),
                "min_delay_s": round(self.min_delay_s, 4), "backoffs": self.backoffs,
                "answers": self.answers}


class AdaptiveDelay:
    """The delay policy for one host. Feed it every answer with record(); read `delay`."""

    def __init__(self, *, floor: float, target_concurrency: float | None = None,
                 concurrency: int = 4, max_delay: float = 60.0,
                 slow_answer: float = 10.0) -> None:
        if target_concurrency is not None and target_concurrency <= 0:
            raise ValueError(f"target_concurrency must be > 0, got {target_concurrency}")
        if floor < 0:
            raise ValueError(f"floor must be >= 0, got {floor}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.floor = floor
        self.target_concurrency = target_concurrency
        # The most requests the delay lets be in the server's hands.
        self.in_hands_cap = float(concurrency) if target_concurrency is None \
            else target_concurrency
        # A max_delay under the floor never wins: the floor is what the user asked for.
        self.max_delay = max(max_delay, floor)
        self.slow_answer = slow_answer
        self.delay = self._clamp(START_DELAY_S)
        self._latency: float | None = None  # smoothed latency of clean answers
        self._lowest: float | None = None  # the lowest latency seen (drifting, see above)
        self._last_backoff_at: float | None = None
        self._probe_after = float("-inf")  # the last probe's time (see _clean_answer)
        self._trouble_at = float("inf")  # requests in the server's hands at the last backoff
        self._plateau_until = float("-inf")  # no probe near _trouble_at before this
        self._reported = self.delay
        self._max_seen = self.delay
        self._min_seen: float | None = None
        self.backoffs = 0
        self.answers = 0

    @classmethod
    def from_politeness(cls, politeness: Politeness) -> AdaptiveDelay:
        return cls(floor=politeness.delay, target_concurrency=politeness.target_concurrency,
                   concurrency=politeness.concurrency, max_delay=politeness.max_delay,
                   slow_answer=politeness.slow_answer)

    def _clamp(self, delay: float) -> float:
        return min(self.max_delay, max(self.floor, delay))

    def _back_off(self, sent_at: float, answered_at: float, to: float,
                  settle: float = 0.0) -> float:
        """`to`, unless this answer's request was sent before the last backoff was decided
        (or `settle` seconds after it, that one's time for its effect to show): then the
        delay stays, as that news is already answered for."""
        if self._last_backoff_at is not None and sent_at < self._last_backoff_at:
            return self.delay
        self._last_backoff_at = answered_at + settle
        self.backoffs += 1
        if self._lowest is not None and self.delay > 0:
            # Where the trouble began: the probe creeps when it comes near it again. A
            # backoff during the last one's plateau from well under its level is that
            # trouble's aftermath (the queue draining), not a lower limit.
            level = self._lowest / self.delay
            if answered_at >= self._plateau_until \
                    or level >= TROUBLE_NEAR * self._trouble_at:
                self._trouble_at = level
        if self._latency is not None and self._lowest is not None:
            # No probe before an answer to a request sent a round trip after the backoff.
            self._probe_after = max(self._probe_after, answered_at + settle + self._latency)
            self._plateau_until = answered_at + PLATEAU_ROUND_TRIPS * self._lowest
        return to

    def queueing(self) -> bool:
        """Whether the smoothed latency is clearly above the lowest seen."""
        if self._latency is None or self._lowest is None:
            return False
        return self._latency > self._lowest * QUEUE_RISE + QUEUE_SLACK_S

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
        answered_at = sent_at + latency
        least = latency / self.in_hands_cap  # the in-hands cap as a floor on the delay
        if status is None or status in OVERLOAD_STATUSES or latency >= self.slow_answer:
            new = self._back_off(sent_at, answered_at,
                                 max(2 * old, MIN_BACKOFF_S, least, retry_after or 0.0))
        elif status >= 400:
            # An error answer (404, 500) comes fast and says nothing of the server's load:
            # it may slow the pace down, never speed it up.
            new = max(old, (old + least) / 2)
        else:
            new = self._clean_answer(latency, sent_at, answered_at)
        self.delay = self._clamp(new)
        self._max_seen = max(self._max_seen, self.delay)
        self._min_seen = self.delay if self._min_seen is None else min(self._min_seen,
                                                                         self.delay)
        return self.delay

    def _clean_answer(self, latency: float, sent_at: float, answered_at: float) -> float:
        old = self.delay
        smoothed = latency if self._latency is None \
            else self._latency + LATENCY_WEIGHT * (latency - self._latency)
        self._latency = smoothed
        lowest = self._lowest
        if lowest is None or latency < lowest:
            lowest = latency
        elif old >= smoothed:  # one at a time: the server's own latency
            lowest += BASE_DRIFT * (latency - lowest)
        self._lowest = lowest
        least = smoothed / self.in_hands_cap
        if old < smoothed and self.queueing():
            # The queue built up by requests already sent takes about one (queued) round
            # trip to drain: answers to requests sent meanwhile are still the same news.
            return self._back_off(sent_at, answered_at, max(QUEUE_BACKOFF * old, least),
                                  settle=smoothed)
        if self._probe_after == float("-inf") and self._last_backoff_at is None:
            # The first answer: one request in the server's hands (AutoThrottle's rule with
            # a target of 1), whatever START_DELAY_S was to this server; probed from there.
            self._probe_after = answered_at + smoothed
            return max(smoothed, least)
        if old > 2 * smoothed:
            # Far under one request in the server's hands: AutoThrottle's halfway move.
            return max((old + smoothed) / 2, least)
        if (self._last_backoff_at is not None and sent_at < self._last_backoff_at) \
                or sent_at < self._probe_after \
                or latency > lowest * QUEUE_RISE + QUEUE_SLACK_S:
            # Sent at the pace before the last backoff or probe, which it says nothing of
            # yet; or this answer alone is slow enough to say that queueing may begin.
            return old
        # The next step waits for an answer to a request sent a round trip after this one:
        # the first ones at the new pace are answered before the overlap they make shows.
        self._probe_after = answered_at + smoothed
        # Counted with the lowest latency, so that queueing does not inflate the count.
        in_hands = lowest / old if old > 0 else self.in_hands_cap
        if in_hands > TROUBLE_FORGET * self._trouble_at:
            self._trouble_at = float("inf")  # well past it without trouble: it has gone
        near = TROUBLE_NEAR * self._trouble_at
        if self.backoffs == 0:
            # No trouble yet: a slow start, steps that grow with the requests in hand.
            in_hands += max(PROBE_STEP, SLOW_START * in_hands)
        elif in_hands + PROBE_STEP < near:
            in_hands += PROBE_STEP
        elif answered_at < self._plateau_until:
            in_hands = max(in_hands, near)  # up to near it, not past it yet
        else:
            in_hands += PROBE_STEP * CREEP
        in_hands = min(self.in_hands_cap, in_hands)
        return max(lowest / in_hands, least)

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
