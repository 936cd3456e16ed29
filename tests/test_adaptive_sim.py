"""Adaptive politeness (issue 20) against a simulated overload server, without the network:
the policy alone finds a server's capacity with the default settings."""

from __future__ import annotations

import heapq

import pytest

from scraper.crawl.adaptive import AdaptiveDelay


def simulate(policy: AdaptiveDelay, *, capacity: int, latency: float, requests: int,
             concurrency: int = 16) -> list[tuple[float, int]]:
    """Requests started `policy.delay` apart (as the host gate starts them, at most
    `concurrency` at once) to a simulated server like the built-in site's overload mode:
    each answer takes `latency * max(1, in_flight / capacity)`, and a request past twice the
    capacity is refused with a 503 at once. The answers are fed back in the order they
    come; returns (time, status) of each."""
    answers: list[tuple[float, int]] = []
    in_flight: list[tuple[float, float, int]] = []  # (answered at, sent at, status)
    now, last_start, sent = 0.0, float("-inf"), 0
    while sent < requests or in_flight:
        start = max(now, last_start + policy.delay)
        if sent < requests and len(in_flight) < concurrency \
                and (not in_flight or start <= in_flight[0][0]):
            now = last_start = start
            serving = sum(1 for _, _, status in in_flight if status == 200) + 1
            if serving > 2 * capacity:
                heapq.heappush(in_flight, (now + 0.001, now, 503))
            else:
                heapq.heappush(in_flight, (now + latency * max(1.0, serving / capacity),
                                           now, 200))
            sent += 1
            continue
        now, sent_at, status = heapq.heappop(in_flight)
        policy.record(now - sent_at, status, sent_at=sent_at)
        answers.append((now, status))
    return answers


@pytest.mark.parametrize(("capacity", "most_refused", "least_speed"),
                         [(1, 0.05, 0.8), (2, 0.0, 0.6), (4, 0.0, 0.7), (8, 0.0, 0.8)])
def test_with_the_defaults_the_delay_finds_the_servers_capacity(
        capacity: int, most_refused: float, least_speed: float) -> None:
    # Past the first 100 answers (the start at START_DELAY_S and the first probes): few or
    # no refusals, and most of the server's best rate (capacity / latency) served.
    answers = simulate(AdaptiveDelay(floor=0.0, concurrency=16), capacity=capacity,
                       latency=0.04, requests=1000)[100:]
    refused = sum(1 for _, status in answers if status == 503)
    rate = (len(answers) - refused) / (answers[-1][0] - answers[0][0])
    print(f"capacity {capacity}: {refused} refused, {rate:.1f} answers/s of "
          f"{capacity / 0.04:.0f}")
    assert refused <= most_refused * len(answers)
    assert rate >= least_speed * capacity / 0.04


def test_the_old_rule_of_one_in_hands_is_target_concurrency_1() -> None:
    # target_concurrency 1 keeps the delay at the latency: slower, never refused here.
    answers = simulate(AdaptiveDelay(floor=0.0, target_concurrency=1.0, concurrency=16),
                       capacity=4, latency=0.04, requests=300)
    assert all(status == 200 for _, status in answers)
    assert (len(answers) - 100) / (answers[-1][0] - answers[100][0]) < 26
