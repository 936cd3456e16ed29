"""Adaptive politeness (issue 20): the delay policy on its own, its config keys, the built-in
site's overload mode, and crawls of the overloaded site over real loopback HTTP."""

from __future__ import annotations

from itertools import pairwise

import pytest

from scraper.config import Politeness, load_config_text
from scraper.crawl.adaptive import MIN_BACKOFF_S, START_DELAY_S, AdaptiveDelay
from scraper.errors import ConfigError

# -- the policy ------------------------------------------------------------------------------


def feed(policy: AdaptiveDelay, answers: list[tuple[float, int | None]],
         start: float = 0.0) -> list[float]:
    """Record answers sent one after the other, 1 s apart; returns the delays after each."""
    return [policy.record(latency, status, sent_at=start + i)
            for i, (latency, status) in enumerate(answers)]


def test_the_delay_moves_halfway_toward_latency_over_target_concurrency() -> None:
    policy = AdaptiveDelay(floor=0.0, target_concurrency=2.0)
    assert policy.delay == START_DELAY_S
    assert policy.record(0.2, 200, sent_at=0) == pytest.approx((START_DELAY_S + 0.1) / 2)
    delays = feed(policy, [(0.2, 200)] * 30, start=1)
    assert delays[-1] == pytest.approx(0.1, rel=1e-3)  # 0.2 s latency / 2 in flight


def test_the_floor_holds_whatever_the_server_answers() -> None:
    policy = AdaptiveDelay(floor=0.3, target_concurrency=4.0)
    delays = feed(policy, [(0.001, 200)] * 50 + [(0.0, 304)] * 10)
    assert min(delays) == pytest.approx(0.3)
    assert all(d >= 0.3 for d in delays)
    # A floor above the start delay is where it starts.
    assert AdaptiveDelay(floor=2.0).delay == 2.0


@pytest.mark.parametrize("status", [429, 503])
def test_overload_answers_double_the_delay(status: int) -> None:
    policy = AdaptiveDelay(floor=0.0, max_delay=10.0)
    feed(policy, [(0.05, 200)] * 20)
    settled = policy.delay
    assert policy.record(0.01, status, sent_at=100) == pytest.approx(max(2 * settled,
                                                                         MIN_BACKOFF_S))
    assert policy.record(0.01, status, sent_at=101) == pytest.approx(max(4 * settled,
                                                                         2 * MIN_BACKOFF_S))
    assert policy.backoffs == 2


def test_a_burst_of_refusals_sent_before_a_backoff_doubles_once() -> None:
    policy = AdaptiveDelay(floor=0.0, max_delay=60.0)
    feed(policy, [(0.05, 200)] * 20)
    first = policy.record(0.01, 503, sent_at=100.0)
    # Eight more refusals to requests sent before that first one's: the same news.
    for i in range(8):
        assert policy.record(0.01, 503, sent_at=99.0 + i / 10) == first
    assert policy.backoffs == 1
    # A refusal to a request sent after the backoff doubles again.
    assert policy.record(0.01, 503, sent_at=100.5) == pytest.approx(2 * first)


def test_backoff_is_capped_by_max_delay_and_honours_retry_after() -> None:
    policy = AdaptiveDelay(floor=0.1, max_delay=2.0)
    delays = feed(policy, [(0.01, 503)] * 20)
    assert max(delays) == 2.0 and delays[-1] == 2.0
    other = AdaptiveDelay(floor=0.0, max_delay=30.0)
    assert other.record(0.01, 503, sent_at=0, retry_after=7) == 7.0
    assert other.record(0.01, 429, sent_at=1, retry_after=300) == 30.0


def test_slow_answers_and_no_answer_back_off_too() -> None:
    policy = AdaptiveDelay(floor=0.0, slow_answer=1.0, max_delay=60.0)
    feed(policy, [(0.05, 200)] * 20)
    before = policy.delay
    # A slow answer's own latency / target is more than double the settled delay.
    assert policy.record(1.5, 200, sent_at=100) == pytest.approx(1.5)
    assert policy.record(0.05, None, sent_at=101) == pytest.approx(3.0)
    assert before < 0.1 and policy.backoffs == 2


def test_the_delay_drifts_back_down_when_the_server_copes() -> None:
    policy = AdaptiveDelay(floor=0.02, max_delay=60.0)
    feed(policy, [(0.05, 200)] * 20)
    feed(policy, [(0.01, 503)] * 6, start=100)
    assert policy.delay > 1.0
    delays = feed(policy, [(0.05, 200)] * 40, start=200)
    assert all(b <= a for a, b in pairwise(delays))
    assert delays[-1] == pytest.approx(0.05, rel=1e-3)


def test_error_answers_never_lower_the_delay() -> None:
    policy = AdaptiveDelay(floor=0.0)
    start = policy.delay
    delays = feed(policy, [(0.001, 404), (0.001, 500), (0.001, 410)])
    assert delays == [start] * 3
    assert policy.record(2.0, 404, sent_at=10) > start  # but a slow one slows the pace


def test_notable_changes_are_reported_once() -> None:
    policy = AdaptiveDelay(floor=0.0)
    assert not policy.notable_change()
    policy.record(0.45, 200, sent_at=0)  # 0.5 -> 0.475: smoothing
    assert not policy.notable_change()
    policy.record(0.01, 503, sent_at=1)  # doubled
    assert policy.notable_change()
    assert not policy.notable_change()


def test_the_report_tells_the_range_and_the_backoffs() -> None:
    policy = AdaptiveDelay(floor=0.0, max_delay=60.0)
    feed(policy, [(0.1, 200)] * 10 + [(0.01, 503)] + [(0.1, 200)] * 3)
    report = policy.report()
    assert report.backoffs == 1 and report.answers == 14
    assert report.min_delay_s < report.delay_s < report.max_delay_s
    assert report.to_dict()["backoffs"] == 1


def test_bad_policy_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="target_concurrency"):
        AdaptiveDelay(floor=0.0, target_concurrency=0)
    with pytest.raises(ValueError, match="floor"):
        AdaptiveDelay(floor=-1.0)


# -- the config keys -------------------------------------------------------------------------

BASE = "name: t\nstart_urls: [https://example.org/a]\n"


def test_config_keys_and_defaults() -> None:
    assert Politeness().adaptive is False and Politeness().target_concurrency == 1.0
    cfg = load_config_text(BASE + "politeness:\n  adaptive: true\n  target_concurrency: 2.5\n"
                           "  delay: 100ms\n  max_delay: 30s\n  slow_answer: 5s\n", "a.yaml")
    p = cfg.politeness
    assert (p.adaptive, p.target_concurrency, p.delay, p.max_delay, p.slow_answer) == \
        (True, 2.5, 0.1, 30.0, 5.0)
    policy = AdaptiveDelay.from_politeness(p)
    assert (policy.floor, policy.target_concurrency, policy.max_delay) == (0.1, 2.5, 30.0)


@pytest.mark.parametrize(("block", "key", "line", "says"), [
    ("  target_concurrency: 0\n", "politeness.target_concurrency", 4, "must be a number > 0"),
    ("  target_concurrency: fast\n", "politeness.target_concurrency", 4, "must be a number"),
    ("  target_concurrency: 5000\n", "politeness.target_concurrency", 4, "at most 1000"),
    ("  adaptive: yes please\n", "politeness.adaptive", 4, "true or false"),
    ("  slow_answer: 0\n", "politeness.slow_answer", 4, "> 0"),
    ("  adaptive: true\n  delay: 2s\n  max_delay: 1s\n", "politeness.max_delay", 6,
     "at least politeness.delay"),
])
def test_bad_keys_name_the_file_line_and_key(block: str, key: str, line: int,
                                             says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE + "politeness:\n" + block, "bad.yaml")
    message = str(caught.value)
    assert f"bad.yaml:{line}" in message and key in message and says in message
