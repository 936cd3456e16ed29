"""Adaptive politeness (issue 20): the delay policy on its own, its config keys, the built-in
site's overload mode, and crawls of the overloaded site over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import statistics
import textwrap
import time
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner

from scraper.archive import Archive
from scraper.archive.postgres.archive import PostgresArchive
from scraper.cli import main
from scraper.config import CrawlConfig, Politeness, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.crawl.adaptive import (
    CREEP,
    MIN_BACKOFF_S,
    PROBE_STEP,
    QUEUE_BACKOFF,
    SLOW_START,
    START_DELAY_S,
    TROUBLE_NEAR,
    AdaptiveDelay,
)
from scraper.crawl.shared_politeness import SharedHostGate, SharedHostsCaller
from scraper.errors import ConfigError
from scraper.testsite import TestSite
from scraper.testsite.overload import Overload
from scraper.testsite.protocol import Reply

# -- the policy ------------------------------------------------------------------------------


def feed(policy: AdaptiveDelay, answers: Sequence[tuple[float, int | None]],
         start: float = 0.0) -> list[float]:
    """Record answers sent one after the other, 1 s apart; returns the delays after each."""
    return [policy.record(latency, status, sent_at=start + i)
            for i, (latency, status) in enumerate(answers)]


def test_the_first_answer_puts_one_request_in_the_servers_hands() -> None:
    policy = AdaptiveDelay(floor=0.0)
    assert policy.delay == START_DELAY_S
    assert policy.record(0.2, 200, sent_at=0) == pytest.approx(0.2)
    # Later, far above the latency (after a Retry-After), the delay moves halfway to it.
    assert policy.record(0.01, 503, sent_at=1, retry_after=7) == 7.0
    assert policy.record(0.2, 200, sent_at=8) == pytest.approx((7.0 + 0.2) / 2)


def test_the_delay_probes_down_while_answers_stay_fast_and_clean() -> None:
    # Answers as fast as ever: the requests in the server's hands grow by PROBE_STEP per
    # step (SLOW_START times them when more, before any trouble), one step at most per two
    # round trips, up to `concurrency`.
    policy = AdaptiveDelay(floor=0.0, concurrency=8)
    delays = feed(policy, [(0.2, 200)] * 40)
    assert delays[-1] == pytest.approx(0.2 / 8)  # the cap: concurrency
    in_hands = [0.2 / d for d in delays]
    assert all(b >= a for a, b in pairwise(in_hands))
    assert all(b - a <= max(PROBE_STEP, SLOW_START * a) + 1e-9
               for a, b in pairwise(in_hands[1:]))
    # Answers that come back faster than a round trip after the last step wait for it.
    paced = AdaptiveDelay(floor=0.0, concurrency=8)
    feed(paced, [(0.2, 200)] * 4)
    before = paced.delay
    assert paced.record(0.2, 200, sent_at=3.1) == before
    assert paced.record(0.2, 200, sent_at=4.0) < before


def test_target_concurrency_caps_the_requests_in_the_servers_hands() -> None:
    policy = AdaptiveDelay(floor=0.0, target_concurrency=2.0, concurrency=16)
    delays = feed(policy, [(0.2, 200)] * 40)
    assert min(delays) == pytest.approx(0.1) and delays[-1] == pytest.approx(0.1)


def test_rising_latency_backs_off_once_per_round_trip() -> None:
    policy = AdaptiveDelay(floor=0.0, concurrency=8)
    feed(policy, [(0.04, 200)] * 40)
    settled = policy.delay
    assert settled == pytest.approx(0.005)
    # The server queues: answers slow to twice the lowest latency.
    assert policy.record(0.08, 200, sent_at=100.0) == pytest.approx(QUEUE_BACKOFF * settled)
    assert policy.queueing() and policy.backoffs == 1
    # Requests sent before that backoff, or within a round trip after it: the same news.
    for sent in (99.99, 100.05, 100.13):
        assert policy.record(0.08, 200, sent_at=sent) == pytest.approx(QUEUE_BACKOFF * settled)
    assert policy.backoffs == 1
    assert policy.record(0.08, 200, sent_at=100.3) == pytest.approx(QUEUE_BACKOFF ** 2
                                                                     * settled)
    assert policy.backoffs == 2


def test_after_a_backoff_the_probe_stays_under_where_the_trouble_began() -> None:
    policy = AdaptiveDelay(floor=0.0, concurrency=16)
    feed(policy, [(0.04, 200)] * 8)
    level = 0.04 / policy.delay  # requests in the server's hands when it refused
    assert level > 3
    policy.record(0.001, 503, sent_at=100.0)
    # A second refusal from well under that level (the queue still draining) doubles the
    # delay again but does not lower the level.
    policy.record(0.001, 503, sent_at=100.05)
    assert policy.backoffs == 2
    # For PLATEAU_ROUND_TRIPS (30 x 40 ms) after the last backoff it comes back up to TROUBLE_NEAR of that level
    # at once, and no further.
    in_hands = [0.04 / policy.record(0.04, 200, sent_at=100.2 + i / 10) for i in range(10)]
    assert max(in_hands) == pytest.approx(TROUBLE_NEAR * level)
    # Then it creeps past it, by PROBE_STEP * CREEP a step.
    later = [0.04 / policy.record(0.04, 200, sent_at=101.3 + i / 10) for i in range(4)]
    assert later[0] == pytest.approx(TROUBLE_NEAR * level + PROBE_STEP * CREEP)
    assert later[-1] == pytest.approx(TROUBLE_NEAR * level + 4 * PROBE_STEP * CREEP)


def test_a_server_slower_with_one_request_at_a_time_is_not_taken_for_queueing() -> None:
    # Our requests do not overlap (delay >= latency): a slower server is not our doing.
    policy = AdaptiveDelay(floor=0.5, concurrency=8)
    feed(policy, [(0.04, 200)] * 5)
    delays = feed(policy, [(0.3, 200)] * 60, start=10)
    assert policy.backoffs == 0 and delays[-1] == 0.5
    assert not policy.queueing()  # the lowest latency drifted up to the server's new one


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
    # A slow answer's own latency / concurrency is more than double the settled delay.
    assert policy.record(1.5, 200, sent_at=100) == pytest.approx(1.5 / 4)
    assert policy.record(0.05, None, sent_at=102) == pytest.approx(0.75)
    assert before < 0.1 and policy.backoffs == 2


def test_the_delay_drifts_back_down_when_the_server_copes() -> None:
    policy = AdaptiveDelay(floor=0.015, max_delay=60.0)
    feed(policy, [(0.05, 200)] * 20)
    feed(policy, [(0.01, 503)] * 6, start=100)
    assert policy.delay > 0.5
    delays = feed(policy, [(0.05, 200)] * 60, start=200)
    assert all(b <= a for a, b in pairwise(delays))
    assert delays[-1] == pytest.approx(0.015)  # the floor (0.05 / 4 would be under it)


def test_error_answers_never_lower_the_delay() -> None:
    policy = AdaptiveDelay(floor=0.0)
    start = policy.delay
    delays = feed(policy, [(0.001, 404), (0.001, 500), (0.001, 410)])
    assert delays == [start] * 3
    assert policy.record(4.0, 404, sent_at=10) > start  # but a slow one slows the pace


def test_notable_changes_are_reported_once() -> None:
    policy = AdaptiveDelay(floor=0.0)
    assert policy.notable_change() is None
    policy.record(0.4, 200, sent_at=0)  # 0.5 -> 0.4: one in the server's hands
    assert policy.notable_change() is None
    policy.record(0.01, 503, sent_at=1)  # doubled: 0.8, 1.6 times the start
    assert policy.notable_change() == START_DELAY_S
    assert policy.notable_change() is None


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
    assert Politeness().adaptive is False and Politeness().target_concurrency is None
    auto = load_config_text(BASE + "politeness: {adaptive: true, target_concurrency: auto}\n",
                            "a.yaml").politeness
    assert auto.target_concurrency is None
    policy = AdaptiveDelay.from_politeness(auto)
    assert policy.in_hands_cap == auto.concurrency and policy.target_concurrency is None
    cfg = load_config_text(BASE + "politeness:\n  adaptive: true\n  target_concurrency: 2.5\n"
                           "  delay: 100ms\n  max_delay: 30s\n  slow_answer: 5s\n", "a.yaml")
    p = cfg.politeness
    assert (p.adaptive, p.target_concurrency, p.delay, p.max_delay, p.slow_answer) == \
        (True, 2.5, 0.1, 30.0, 5.0)
    policy = AdaptiveDelay.from_politeness(p)
    assert (policy.floor, policy.target_concurrency, policy.max_delay) == (0.1, 2.5, 30.0)


@pytest.mark.parametrize(("block", "key", "line", "says"), [
    ("  target_concurrency: 0\n", "politeness.target_concurrency", 4,
     'must be "auto" or a number > 0'),
    ("  target_concurrency: fast\n", "politeness.target_concurrency", 4,
     "must be \"auto\" or a number > 0, got 'fast'"),
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


# -- the overloaded site ---------------------------------------------------------------------


async def _burst(urls: list[str]) -> list[int]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answers = await asyncio.gather(*(client.get(u) for u in urls))
    return [a.status_code for a in answers]


def test_the_site_slows_past_its_capacity_and_refuses_past_its_limit() -> None:
    overload = Overload(capacity=2, latency_ms=100, reject_above=4, retry_after=3)
    assert overload.service_time(1) == overload.service_time(2) == pytest.approx(0.1)
    assert overload.service_time(4) == pytest.approx(0.2)
    with TestSite(pages=10, overload=overload) as site:
        statuses = asyncio.run(_burst([site.url(f"/info/{slug}")
                                       for slug in site.model.slugs[:7]]))
        assert sorted(statuses) == [200] * 4 + [503] * 3
        log = {r.status: r for r in site.stats().log}
        assert log[503].fault == "overload" and log[503].end - log[503].start < 0.05
        # The fourth request in shared two workers: twice the time.
        times = sorted(r.end - r.start for r in site.stats().log if r.status == 200)
        assert times[0] >= 0.09 and times[-1] >= 0.19
        answer = httpx.get(site.url("/info/" + site.model.slugs[0]), trust_env=False)
        assert answer.status_code == 200  # nothing in flight: served again
        # Read on the site's loop (the control endpoint), after the answer's task ended.
        counts = httpx.get(site.url("/_control/settings"), trust_env=False).json()["overload"]
        assert (counts["rejected"], counts["served"], counts["in_flight"],
                counts["max_in_flight"]) == (3, 5, 0, 4)
        # The Retry-After header, and the switch over the control endpoint.
        site.overload = Overload(capacity=1, latency_ms=200, reject_above=1, retry_after=3)
        refused = asyncio.run(_burst([site.url("/related/NATO")] * 2))
        assert sorted(refused) == [200, 503]
        off = httpx.post(site.url("/_control/settings"), json={"overload": None},
                         trust_env=False)
        assert off.json()["overload"] is None and site.overload is None
        on = httpx.post(site.url("/_control/settings"),
                        json={"overload": {"capacity": 3, "latency_ms": 5}}, trust_env=False)
        assert on.json()["overload"]["reject_above"] == 6
        bad = httpx.post(site.url("/_control/settings"), json={"overload": {"cap": 3}},
                         trust_env=False)
        assert bad.status_code == 400 and "cap" in bad.json()["error"]


def test_the_503_carries_retry_after_when_set() -> None:
    page = Reply(200, b"<p>page</p>")
    reply = Overload(capacity=1, reject_above=1, retry_after=2, in_flight=1).admit(page)
    assert isinstance(reply, Reply) and reply.status == 503
    assert b"Retry-After: 2\r\n" in reply.head
    plain = Overload(capacity=1, reject_above=1, in_flight=1).admit(page)
    assert isinstance(plain, Reply) and b"Retry-After" not in plain.head


@pytest.mark.parametrize(("spec", "expected"), [
    ("4", Overload(capacity=4, reject_above=8)),
    ("capacity=3, latency_ms=20,reject_above=5,retry_after=1.5",
     Overload(capacity=3, latency_ms=20, reject_above=5, retry_after=1.5)),
])
def test_overload_specs(spec: str, expected: Overload) -> None:
    assert Overload.parse(spec) == expected


@pytest.mark.parametrize(("spec", "says"), [
    ("speed=3", "unknown key 'speed'"), ("capacity=two", "invalid literal"),
    ("0", "capacity must be an integer >= 1"), ("capacity=4,reject_above=2", "reject_above"),
])
def test_bad_overload_specs_are_refused_by_the_command(spec: str, says: str) -> None:
    result = CliRunner().invoke(main, ["testsite", "--port", "0", "--overload", spec])
    assert result.exit_code == 2 and says in result.output


# -- crawls of the overloaded site -----------------------------------------------------------

PAGES = 40


@pytest.fixture
def busy_site() -> Iterator[TestSite]:
    # Two workers of 30 ms each; more than three requests at once are refused.
    with TestSite(pages=PAGES, overload=Overload(capacity=2, latency_ms=30,
                                                 reject_above=3)) as running:
        yield running


def site_config(site: TestSite, politeness: str) -> CrawlConfig:
    text = textwrap.dedent(f"""\
        name: busy
        start_urls: ["{site.url('/related/NATO')}"]
        follow: [related, more_info]
        max_depth: 50
        network: {{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2, attempts: 6}}
        politeness: {{robots_txt: false, {politeness}}}
        """)
    return load_config_text(text, "busy.yaml")


def crawl_once(config: CrawlConfig, path: Path) -> RunResult:
    with Archive.open(str(path)) as archive:
        return asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]


@pytest.mark.parametrize("target", ["", ", target_concurrency: 2"])
def test_adaptive_gets_far_fewer_503s_than_no_delay(busy_site: TestSite, tmp_path: Path,
                                                    target: str) -> None:
    fixed = crawl_once(site_config(busy_site, "concurrency: 12, delay: 0"), tmp_path / "f.db")
    fixed_stats = busy_site.stats()
    busy_site.reset(stats=True, faults=False, content=False)
    busy_site.overload = Overload(capacity=2, latency_ms=30, reject_above=3)
    adaptive = crawl_once(site_config(
        busy_site, f"concurrency: 12, delay: 0, adaptive: true{target}"), tmp_path / "a.db")
    adaptive_stats = busy_site.stats()
    fixed_503 = fixed_stats.by_status.get(503, 0)
    adaptive_503 = adaptive_stats.by_status.get(503, 0)
    print(f"503s: delay 0 {fixed_503} of {fixed_stats.requests}, adaptive {adaptive_503} of "
          f"{adaptive_stats.requests}")
    assert fixed_503 >= 30
    assert adaptive_503 * 5 <= fixed_503
    assert adaptive.status == "completed" and adaptive.stats.failed == 0
    # (A listing that failed hides the pages only it links to: the fixed crawl may miss some.)
    assert adaptive.stats.fetched >= fixed.stats.fetched
    # The run row keeps the host's delay.
    pace = adaptive.stats.extra["host_delays"][busy_site.url("").split("//")[1]]
    assert pace["answers"] >= adaptive.stats.fetched and pace["delay_s"] > 0
    assert "host_delays" not in fixed.stats.extra
    with Archive.open(str(tmp_path / "a.db")) as archive:
        row = archive.last_run("busy")
    assert row is not None and row["extra"]["host_delays"] == adaptive.stats.extra["host_delays"]


def test_adaptive_never_starts_requests_closer_than_the_floor(busy_site: TestSite,
                                                              tmp_path: Path) -> None:
    floor = 0.05
    result = crawl_once(site_config(
        busy_site, f"concurrency: 8, delay: {floor}, adaptive: true, target_concurrency: 4"),
        tmp_path / "a.db")
    assert result.status == "completed"
    starts = sorted(r.start for r in busy_site.stats().log)
    assert len(starts) > 50
    # Server-side times: a request that the client's event loop sent late (a busy machine
    # stalls it for tens of ms) shows a short gap to the next one, even none. So runs of 20
    # starts are measured, each allowed one such stall; without the floor they would span
    # about 20 * 7.5 ms (30 ms answers / 4).
    spans = [b - a for a, b in zip(starts, starts[19:], strict=False)]
    assert min(spans) >= 19 * floor - 0.1
    assert statistics.median(b - a for a, b in pairwise(starts)) >= floor * 0.95
    pace = next(iter(result.stats.extra["host_delays"].values()))
    assert pace["min_delay_s"] >= floor


def test_the_delay_shows_in_verbose_logs_and_the_summary(busy_site: TestSite,
                                                         tmp_path: Path) -> None:
    config = tmp_path / "busy.yaml"
    config.write_text(textwrap.dedent(f"""\
        name: busy
        start_urls: ["{busy_site.url('/related/NATO')}"]
        follow: [related, more_info]
        max_depth: 50
        network: {{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2, attempts: 6}}
        politeness: {{robots_txt: false, concurrency: 12, delay: 0, adaptive: true}}
        """))
    host = busy_site.url("").split("//")[1]
    result = CliRunner().invoke(main, ["crawl", str(config), "-v", "--no-progress",
                                       "--archive", str(tmp_path / "a.db")])
    assert result.exit_code == 0, result.output
    assert f"{host}: adaptive delay 0.500 s -> " in result.output
    assert f"  adaptive delay {host}: " in result.output and "backed off" in result.output
    stats = CliRunner().invoke(main, ["stats", "--archive", str(tmp_path / "a.db")])
    assert stats.exit_code == 0 and f"  adaptive delay {host}: " in stats.output
    stats_json = CliRunner().invoke(main, ["stats", "--archive", str(tmp_path / "a.db"),
                                           "--format", "json"])
    assert host in json.loads(stats_json.output)["last_run"]["host_delays"]
    as_json = CliRunner().invoke(main, ["crawl", str(config), "--format", "json", "-q",
                                        "--archive", str(tmp_path / "b.db")])
    assert as_json.exit_code == 0
    (run,) = json.loads(as_json.output)
    assert run["host_delays"][host]["answers"] >= run["fetched"]


# -- workers sharing a crawl through PostgreSQL -----------------------------------------------


def test_a_worker_asks_for_host_slots_with_its_adaptive_delay(postgres_url: str) -> None:
    archive = PostgresArchive.open(postgres_url)
    caller: SharedHostsCaller | None = None
    host = "h.example:80"

    def spacing() -> float:
        """Seconds from now until the host's next slot (taken just before)."""
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute("SELECT extract(epoch FROM next_allowed_at - clock_timestamp())"
                               " FROM hosts WHERE host = %s", (host,)).fetchone()
        assert row is not None
        return float(row[0])

    try:
        worker = archive.join_crawl()
        assert worker.shared_hosts is not None
        caller = SharedHostsCaller(worker.shared_hosts)
        polite = Politeness(concurrency=1, delay=0.0, robots_txt=False, user_agent="t",
                            adaptive=True, max_delay=10.0)

        async def scenario() -> tuple[float, float]:
            gate = SharedHostGate(host, polite, caller)
            async with gate:
                first = spacing()
                now = time.monotonic()
                gate.answered(now - 0.01, now, 503)
            async with gate:
                second = spacing()
            return first, second

        first, second = asyncio.run(scenario())
        assert START_DELAY_S - 0.3 < first <= START_DELAY_S
        assert 2 * START_DELAY_S - 0.3 < second <= 2 * START_DELAY_S
    finally:
        if caller is not None:
            caller.close()
        archive.close()


def test_a_retry_after_on_a_503_sets_the_backoff(busy_site: TestSite, tmp_path: Path) -> None:
    # Aimed at more requests in flight than the site takes: it refuses some, saying when to
    # come back; the delay goes at least that far (then drifts back down). The adaptive
    # pace may stay under the site's limit for a whole crawl (the CI run once did): the
    # first two page requests are refused the same way whatever the pace, so that a refusal
    # with Retry-After always comes, early enough for the delay to drift back down.
    busy_site.overload = Overload(capacity=2, latency_ms=30, reject_above=3, retry_after=1)
    busy_site.add_fault("retry-after", "^/(related|info)/", status=503, retry_after=1, count=2)
    result = crawl_once(site_config(
        busy_site, "concurrency: 12, delay: 0, adaptive: true, target_concurrency: 8"),
        tmp_path / "a.db")
    refused = busy_site.stats().by_status.get(503, 0)
    pace = result.stats.extra["host_delays"][busy_site.url("").split("//")[1]]
    assert refused >= 1 and pace["backoffs"] >= 1
    assert pace["max_delay_s"] >= 1.0 and pace["delay_s"] < 0.5
    assert result.stats.failed == 0
