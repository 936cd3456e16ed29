"""Hostile servers over real HTTP on loopback: 5xx bursts, 429 with Retry-After, refused
connections, resets, short bodies, stalls, trickles, redirect chains and loops, unresolvable
hosts. Each crawl finishes; each URL ends fetched (a transient fault) or failed with a reason
a person understands; the requests the server saw stay within network.attempts and the
back-off. (tests/test_crawl.py has the basic 503/404/500, Retry-After and cap cases.)"""

from __future__ import annotations

import itertools
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import (
    FAULT_CASES,
    NETWORK,
    REFUSED,
    UNRESOLVABLE,
    FaultCase,
    case_requests,
    closed_port,
    connect_spy,
    key_of,
    make_config,
    offline_resolver,
    outcomes,
    run_crawl,
    settled_stats,
)

from scraper.archive import Archive
from scraper.testsite import TestSite
from scraper.urls import normalise_url

SCOPE = 'scope: {domains: ["127.0.0.1", "no-such-host.invalid"]}\n'


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


def page_now(site: TestSite, path: str) -> bytes:
    with urllib.request.urlopen(site.url(path), timeout=10) as answer:
        return bytes(answer.read())


def check_case(case: FaultCase, site: TestSite, db: Path, url: str, log: Any,
               spy: Any, refused_port: int) -> None:
    """Everything one fault case promises, against the archive and the server's log."""
    got = outcomes(db, full_urls=True)
    key = normalise_url(url)
    assert got.of(key) == case.outcome, (case.name, got)
    if case.outcome == "failed":
        reason, attempts, _ = got.failed[key]
        assert case.reason in reason, (case.name, reason)
        assert attempts == case.attempts <= NETWORK["attempts"], (case.name, attempts)
    else:
        assert got.stored[key] == [1]
    requests = case_requests(case, url, log)
    least, most = case.requests
    assert least <= len(requests) <= most, (case.name, [(r.target, r.status) for r in requests])
    starts = [r.start for r in requests]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    if case.min_gap is not None:
        assert all(g >= case.min_gap * 0.95 for g in gaps), (case.name, gaps)
    elif case.attempts > 1 and len(requests) == case.attempts:
        # Exponential back-off: the n-th retry waits at least base * 2**(n-1), capped.
        base, cap = NETWORK["backoff_base"], NETWORK["backoff_max"]
        for n, gap in enumerate(gaps):
            assert gap >= min(base * 2 ** n, cap) * 0.9, (case.name, gaps)
    if case.max_gap is not None:
        assert all(g <= case.max_gap for g in gaps), (case.name, gaps)
    if case.path == REFUSED:
        assert spy.to_port(refused_port) == case.attempts
    assert spy.non_loopback() == []


# Those that wait out timeouts run alone only with the slow tests; the all-at-once test below
# covers them in the default run.
SLOW_ALONE = {"slow-trickle", "stall-persistent", "no-answer"}


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name in SLOW_ALONE else [])
    for c in FAULT_CASES])
def test_server_fault(case: FaultCase, site: TestSite, tmp_path: Path) -> None:
    if case.rule is not None:
        kind, options = case.rule
        site.add_fault(kind, **options)
    refused_port = closed_port()
    url = case.url(site, refused_port)
    db = tmp_path / "a.db"
    with connect_spy() as spy, offline_resolver() as resolver:
        [result] = run_crawl(make_config([url], extra=SCOPE), db)
    stats = settled_stats(site)
    assert result.status == "completed"
    assert result.stats.retried == case.attempts - 1
    assert (result.stats.fetched, result.stats.failed) == (
        (1, 0) if case.outcome == "fetched" else (0, 1))
    check_case(case, site, db, url, stats.log, spy, refused_port)
    if case.path == UNRESOLVABLE:
        assert "no-such-host.invalid" in resolver.asked
        assert spy.addresses == []  # not a single connection attempted
    if case.rule is not None:
        # The stored body is the whole page, not the half a faulty answer carried.
        site.clear_faults()
        with Archive.open(str(db), readonly=True) as archive:
            assert archive.body(normalise_url(url)) == page_now(site, case.path)
    if case.name == "slow-trickle":
        # The total-time cap ended each trickle long before its 40 s.
        assert all(r.end - r.start < 10 for r in case_requests(case, url, stats.log))


def test_every_fault_at_once_beside_a_normal_crawl(site: TestSite, tmp_path: Path) -> None:
    """All the faults in one run, beside a crawl of normal listings: the run completes, each
    fault ends as it does alone, and every normal page is stored."""
    for case in FAULT_CASES:
        if case.rule is not None:
            kind, options = case.rule
            site.add_fault(kind, **options)
    refused_port = closed_port()
    urls = [case.url(site, refused_port) for case in FAULT_CASES]
    config = make_config([site.url("/related/NATO"), *urls], follow=["related"],
                         extra=SCOPE + "max_depth: 1\n")
    db = tmp_path / "a.db"
    with connect_spy() as spy, offline_resolver():
        [result] = run_crawl(config, db)
    stats = settled_stats(site)
    assert result.status == "completed"
    for case, url in zip(FAULT_CASES, urls):
        check_case(case, site, db, url, stats.log, spy, refused_port)
    failed = sum(1 for c in FAULT_CASES if c.outcome == "failed")
    assert result.stats.failed == failed
    assert result.stats.retried == sum(c.attempts - 1 for c in FAULT_CASES)
    stored = outcomes(db).stored
    for entry in site.model.listing("NATO").entries:
        assert key_of(entry.related) in stored or key_of(site.url(entry.related)) in stored
    assert result.stats.queued == 0


def test_dns_failure_is_not_retried_and_sends_nothing(tmp_path: Path) -> None:
    """A start URL whose host does not resolve: one look-up, no connection, a clear reason,
    and the next run tries again (the URL stays in the frontier)."""
    config = make_config([UNRESOLVABLE])
    db = tmp_path / "a.db"
    with connect_spy() as spy, offline_resolver() as resolver:
        [first] = run_crawl(config, db)
    assert spy.addresses == []
    assert resolver.asked.count("no-such-host.invalid") == 1
    assert first.stats.failed == 1 and first.stats.retried == 0
    reason = outcomes(db, full_urls=True).failed[UNRESOLVABLE][0]
    assert reason.startswith("cannot resolve host 'no-such-host.invalid': ")
    with Archive.open(str(db)) as archive:
        item = archive.frontier_item(UNRESOLVABLE)
    assert item is not None and item.attempts == 1


def test_faults_on_a_share_of_every_page_heal_within_attempts(site: TestSite,
                                                              tmp_path: Path) -> None:
    """5xx in bursts of two on a third of the requests, across a whole crawl: with four
    attempts every page ends stored, and the crawl's retries are the server's faults."""
    site.add_fault("status", "^/(related|info)/", probability=0.33, status=[500, 502, 503],
                   burst=2)
    config = make_config([site.url("/related/NATO")], follow=["related", "more_info"],
                         network={"attempts": 4},
                         extra='scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 50\n')
    db = tmp_path / "a.db"
    [result] = run_crawl(config, db)
    stats = settled_stats(site)
    assert result.status == "completed"
    faults = stats.faults_injected.get("status", 0)
    assert faults > 20
    by_path: dict[str, list[int]] = {}
    for record in stats.log:
        by_path.setdefault(record.target, []).append(record.status)
    assert max(len(s) for s in by_path.values()) <= 4
    got = outcomes(db)
    healed = [t for t, s in by_path.items() if s[-1] == 200]
    lost = [t for t, s in by_path.items() if s[-1] != 200]
    # A path fails for good only if all four attempts drew a fault.
    assert all(by_path[t] == [s for s in by_path[t] if s >= 500] for t in lost)
    assert result.stats.failed == len(lost) == len(got.failed)
    assert result.stats.fetched == len(healed)
    assert result.stats.retried == faults - len(lost)
