"""Fetcher: polite, capped, retried HTTP GETs over one shared httpx.AsyncClient.

Owns robots.txt, per-host concurrency and delay, retries with back-off, redirects and the
refusal of addresses a config does not allow. What an answer means (its body under the
caps, its errors) is answers.py's; the client itself is made in client.py. With those two,
the only modules that talk HTTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.archive.sharing import SharedHosts, SharedRobots
from scraper.config import Network, Politeness, Scope
from scraper.crawl.adaptive import HostPace
from scraper.crawl.answers import (
    REDIRECT_STATUSES,
    Retryable,
    read_answer,
    transport_failure,
    unreadable_answer_reason,
)
from scraper.crawl.credentials import SiteCredentials
from scraper.crawl.netpolicy import AddressPolicy, check_address
from scraper.crawl.shared_politeness import SharedHostGate, SharedHostsCaller
from scraper.errors import (
    BlockedURL,
    FetchError,
    FetchTimeout,
    HostUnreachable,
    HTTPStatusError,
    RedirectError,
    RobotsDisallowed,
    SkippedContent,
)
from scraper.models import FetchResult
from scraper.urls import (
    ALLOWED_SCHEMES,
    DEFAULT_QUERY_RULE,
    QueryRule,
    normalise_url,
    url_in_domains,
)

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
# Google reads the first 500 KiB of a robots.txt and ignores the rest; RFC 9309 asks parsers
# to read at least that much.
ROBOTS_MAX_BYTES = 500 * 1024
# A robots.txt that one worker of a shared crawl fetched serves the others this long; a
# worker that took its fetch has ROBOTS_FETCH_HOLD_S to share it before another may.
ROBOTS_SHARED_FOR_S = 3600.0
ROBOTS_FETCH_HOLD_S = 120.0
ROBOTS_POLL_S = 0.1

ScopeCheck = Callable[[str], "str | None"]
RetryHook = Callable[[], None]


# -- politeness --------------------------------------------------------------------------

class HostGate(HostPace):
    """At most `concurrency` requests in flight to one host, starts at least `delay()` apart
    (the config's delay, or the adaptive one, or robots.txt's Crawl-delay)."""

    def __init__(self, politeness: Politeness, clock: Callable[[], float] = time.monotonic,
                 host: str = "") -> None:
        self._init_pace(host, politeness)
        self._slots = asyncio.Semaphore(politeness.concurrency)
        self._lock = asyncio.Lock()
        self._next_start = 0.0  # fixed delay: when the next request may start
        self._last_start = 0.0  # adaptive delay: when the last one started
        self._clock = clock

    async def __aenter__(self) -> Self:
        await self._slots.acquire()
        try:
            if self.adaptive is not None:
                await self._wait_adaptive()
                return self
            async with self._lock:
                now = self._clock()
                start = max(now, self._next_start)
                self._next_start = start + self.delay()
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._slots.release()
            raise
        return self

    async def _wait_adaptive(self) -> None:
        """Start once the delay as it is then has passed since the last start: a waiting
        request is not held to a start reserved under an older delay (a backoff holds
        those already waiting; a faster pace frees them)."""
        while True:
            async with self._lock:
                now = self._clock()
                due = self._last_start + self.delay()
                if now >= due:
                    self._last_start = now
                    return
            await asyncio.sleep(due - now)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


# -- robots.txt --------------------------------------------------------------------------

@dataclass(slots=True)
class _Robots:
    parser: Protego | None  # None: everything allowed
    disallow_all_reason: str | None = None


# -- the fetcher -------------------------------------------------------------------------


@dataclass(slots=True)
class FetcherStats:
    requests: int = 0
    retries: int = 0
    robots_fetched: int = 0
    per_host: dict[str, int] = field(default_factory=dict)


class Fetcher:
    """Fetches URLs for one or more crawls sharing one client and one gate per host."""

    def __init__(self, client: httpx.AsyncClient, *,
                 policies: dict[str, AddressPolicy] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 shared_hosts: SharedHosts | None = None) -> None:
        """`policies` is the dict given to make_client: the fetcher records each host's
        address policy there, so the connection's resolver enforces it too.
        `shared_hosts`: politeness shared with other workers (a crawl's CrawlWorker's);
        None keeps it in this process. Call close() when done with a fetcher that has it."""
        self.client = client
        self._clock = clock
        self._shared = SharedHostsCaller(shared_hosts) if shared_hosts is not None else None
        self._gates: dict[str, HostGate | SharedHostGate] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._policies = policies if policies is not None else {}
        self._checked: set[tuple[str, AddressPolicy]] = set()
        self._down: dict[str, str] = {}  # host:port that could not be reached -> why
        self.stats = FetcherStats()

    async def admit(self, url: str, network: Network) -> None:
        """Check `url`'s scheme and addresses against `network` and let the shared client
        connect to its host. For callers that use `self.client` directly (the MediaWiki API
        client); fetch() does this itself on every hop."""
        scheme = urlsplit(url).scheme
        if scheme not in ALLOWED_SCHEMES:
            raise BlockedURL(url, f"scheme {scheme!r} is never fetched (only http and https)")
        policy = AddressPolicy.from_network(network)
        host = (urlsplit(url).hostname or "").lower()
        if (host, policy) not in self._checked:
            await check_address(url, policy)
            self._checked.add((host, policy))
        self._policies[host] = policy

    def gate(self, host: str, politeness: Politeness) -> HostGate | SharedHostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = (
                HostGate(politeness, self._clock, host) if self._shared is None
                else SharedHostGate(host, politeness, self._shared))
        return gate

    def host_delays(self, scope: Scope) -> dict[str, dict[str, float | int]]:
        """The adaptive delay of each host (host:port) in `scope` that has one, as the run
        row keeps it. From the event loop only (it makes the gates)."""
        return {host: gate.adaptive.report().to_dict() for host, gate in self._gates.items()
                if gate.adaptive is not None
                and url_in_domains("//" + host, scope.domains)}

    def close(self) -> None:
        """Stop the thread that shared politeness calls run on (none without it)."""
        if self._shared is not None:
            self._shared.close()

    async def fetch(self, url: str, *, politeness: Politeness, network: Network,
                    etag: str | None = None, last_modified: str | None = None,
                    scope_check: ScopeCheck | None = None,
                    accept: frozenset[str] = HTML_TYPES,
                    headers: dict[str, str] | None = None,
                    truncate_at: int | None = None,
                    on_retry: RetryHook | None = None,
                    credentials: SiteCredentials | None = None,
                    query_rule: QueryRule = DEFAULT_QUERY_RULE) -> FetchResult:
        """GET `url` politely. Returns the answer (200 or 304); raises a FetchError subclass
        for anything else, after the configured retries for transient failures.

        :param truncate_at: keep the first this many bytes of the (decoded) body and stop
            reading, instead of failing on a body over the caps (robots.txt).
        :param on_retry: called at every retry this fetch makes, as it is made, those of
            the host's robots.txt included when this fetch is the one that reads it (a
            crawl counts them all in its run's summary; `attempts` tells only this URL's).
        :param credentials: the config's `request:` headers, cookies and auth, added to
            each hop (robots.txt included) whose host is the config's, to no other.
        :param query_rule: the site's (scraper.urls.query_rule_of): a redirect's target is
            requested in the site's normal form, as its links are queued.
        """
        started = time.perf_counter()
        if self._down:
            host = urlsplit(url).netloc
            if host in self._down:
                # Every URL of a host that could not be reached is a failure of its own, at
                # once: a site that is down costs one round of connection attempts per run.
                raise HostUnreachable(url, f"{self._down[host]} (host unreachable earlier "
                                           "in this run)", host=host, attempts=0)
        attempt = functools.partial(self._attempt, url, politeness, network, etag,
                                    last_modified, scope_check, accept, headers or {},
                                    truncate_at, on_retry, credentials, query_rule)
        try:
            result, attempts = await self._attempts(url, network, attempt, on_retry)
        except HostUnreachable as exc:
            self._down.setdefault(exc.host, exc.reason)
            raise
        return FetchResult(
            url=result.url, final_url=result.final_url, status=result.status,
            headers=result.headers, body=result.body, fetched_at=result.fetched_at,
            elapsed_s=time.perf_counter() - started, http_version=result.http_version,
            attempts=attempts,
        )

    async def _attempts(self, url: str, network: Network,
                        attempt: Callable[[], Awaitable[FetchResult]],
                        on_retry: RetryHook | None) -> tuple[FetchResult, int]:
        """The result and the attempts it took, or the last error (with its attempts)."""
        try:
            # Most fetches succeed at once: that one attempt goes through none of tenacity's
            # machinery, about a tenth of the event loop's work per page.
            return await attempt(), 1
        except Retryable as exc:
            return await self._retry(url, network, attempt, exc, on_retry)
        except FetchError as exc:
            exc.attempts = 1
            raise

    async def _retry(self, url: str, network: Network,
                     attempt: Callable[[], Awaitable[FetchResult]],
                     first_error: Retryable,
                     on_retry: RetryHook | None) -> tuple[FetchResult, int]:
        """The retries after a first attempt failed with `first_error`: the result and the
        number of attempts, or the last error (with its attempts) raised."""
        exponential = wait_exponential_jitter(multiplier=network.backoff_base,
                                              max=network.backoff_max,
                                              jitter=network.backoff_base)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, Retryable) and exc.retry_after is not None:
                return min(exc.retry_after, network.retry_after_max)
            return exponential(state)

        retrying = AsyncRetrying(stop=stop_after_attempt(network.attempts), wait=wait,
                                 retry=retry_if_exception_type(Retryable), reraise=True)
        attempts = 0
        try:
            async for tenacity_attempt in retrying:
                with tenacity_attempt:
                    attempts += 1
                    if attempts == 1:
                        raise first_error  # made by fetch(): tenacity waits, then goes on
                    self.stats.retries += 1
                    if on_retry is not None:
                        on_retry()
                    log.info("%s: retry %d", url, attempts - 1)
                    result = await attempt()
        except Retryable as exc:
            exc.error.attempts = attempts
            raise exc.error from None
        except FetchError as exc:
            exc.attempts = attempts
            raise
        return result, attempts

    async def _attempt(self, url: str, politeness: Politeness, network: Network,
                       etag: str | None, last_modified: str | None,
                       scope_check: ScopeCheck | None, accept: frozenset[str],
                       extra_headers: dict[str, str], truncate_at: int | None,
                       on_retry: RetryHook | None,
                       credentials: SiteCredentials | None,
                       query_rule: QueryRule) -> FetchResult:
        seen: list[str] = []
        current = url
        while True:
            if current in seen:
                raise RedirectError(url, "redirect loop: " + " -> ".join([*seen, current]))
            if len(seen) > network.max_redirects:
                raise RedirectError(url, f"more than {network.max_redirects} redirects")
            seen.append(current)
            if seen[1:] and scope_check is not None:
                reason = scope_check(current)
                if reason is not None:
                    raise BlockedURL(url, f"redirected out of scope to {current}: {reason}")
            await self.admit(current, network)
            if politeness.robots_txt:
                await self._check_robots(current, politeness, network, on_retry, credentials)
            headers = {"User-Agent": politeness.user_agent, "Accept-Encoding": "gzip, deflate, br",
                       **extra_headers}
            if credentials is not None:
                # Asked for this hop's URL: a hop to another host gets none of them.
                headers.update(credentials.headers_for(current, self.client.cookies))
            if current == url:
                if etag:
                    headers["If-None-Match"] = etag
                if last_modified:
                    headers["If-Modified-Since"] = last_modified
            result = await self._request(url, current, headers, politeness, network, accept,
                                         truncate_at)
            if result.status in REDIRECT_STATUSES:
                location = result.header("location")
                if not location:
                    raise RedirectError(url, f"HTTP {result.status} without a Location header")
                try:
                    current = normalise_url(urljoin(current, location), rule=query_rule)
                except ValueError as exc:
                    raise BlockedURL(url, f"redirect to a URL that is never fetched: {location!r}"
                                     f" ({exc})") from None
                continue
            return result

    async def _request(self, url: str, current: str, headers: dict[str, str],
                       politeness: Politeness, network: Network,
                       accept: frozenset[str], truncate_at: int | None) -> FetchResult:
        host = urlsplit(current).netloc
        gate = self.gate(host, politeness)
        fetched_at = datetime.now(UTC)
        async with gate:
            self.stats.requests += 1
            self.stats.per_host[host] = self.stats.per_host.get(host, 0) + 1
            sent_at, heard = time.monotonic(), False
            try:
                async with asyncio.timeout(network.total_timeout):
                    async with self.client.stream("GET", current, headers=headers) as response:
                        heard = True
                        if gate.adaptive is not None:  # headers.get is not free: only then
                            gate.answered(sent_at, time.monotonic(), response.status_code,
                                          response.headers.get("retry-after"))
                        return await read_answer(url, current, response, network, accept,
                                                 fetched_at, truncate_at)
            except TimeoutError:
                if not heard:  # no answer at all: the server may be struggling
                    gate.answered(sent_at, time.monotonic(), None)
                raise Retryable(FetchTimeout(
                    url, f"no complete answer within {network.total_timeout:g} s "
                         "(network.total_timeout)")) from None
            except httpx.TransportError as exc:
                if not heard:
                    gate.answered(sent_at, time.monotonic(), None)
                raise transport_failure(url, current, exc, network) from None
            except (FetchError, Retryable):
                raise
            except Exception as exc:
                # The seam where one URL's answer meets the HTTP libraries: whatever they
                # raise on a malformed answer (aiohttp's parser errors, httpx's URL checks on
                # a Location it cannot read, a ValueError for credentials in a URL, ...) is
                # this URL's failure, never the run's.
                raise FetchError(url, unreadable_answer_reason(exc)) from exc

    async def _check_robots(self, url: str, politeness: Politeness, network: Network,
                            on_retry: RetryHook | None = None,
                            credentials: SiteCredentials | None = None) -> None:
        parts = urlsplit(url)
        robots = await self.robots(url, politeness, network, on_retry, credentials)
        if robots.disallow_all_reason:
            # RFC 9309: a robots.txt that cannot be read (5xx, no connection) means the host
            # may not be crawled for now. That is the host's failure, retried on the failure
            # back-off, not a skip postponed to the next recrawl.
            raise HostUnreachable(url, robots.disallow_all_reason, host=parts.netloc)
        if robots.parser is not None and not robots.parser.can_fetch(url, politeness.user_agent):
            raise RobotsDisallowed(url, "disallowed by robots.txt")

    async def robots(self, url: str, politeness: Politeness, network: Network,
                     on_retry: RetryHook | None = None,
                     credentials: SiteCredentials | None = None) -> _Robots:
        """The robots.txt rules of `url`'s host, read once per run (and its Crawl-delay set
        on the host's gate); its `Sitemap:` lines are `.parser.sitemaps`."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(origin)
        if robots is None:
            lock = self._robots_locks.setdefault(origin, asyncio.Lock())
            async with lock:
                robots = self._robots.get(origin)
                if robots is None:
                    robots = self._robots[origin] = await self._robots_for(
                        origin, politeness, network, on_retry, credentials)
                    delay = robots.parser.crawl_delay(politeness.user_agent) \
                        if robots.parser and politeness.robots_txt else None
                    if delay:
                        self.gate(parts.netloc, politeness).crawl_delay = float(delay)
        return robots

    async def _robots_for(self, origin: str, politeness: Politeness, network: Network,
                          on_retry: RetryHook | None,
                          credentials: SiteCredentials | None = None) -> _Robots:
        """`origin`'s robots.txt: fetched here, or in a shared crawl taken from the worker
        that fetched it for all (one fetch per host per ROBOTS_SHARED_FOR_S)."""
        if self._shared is None:
            return (await self._load_robots(origin, politeness, network, on_retry,
                                            credentials))[0]
        caller = self._shared
        hosts = caller.hosts
        give_up = time.monotonic() + ROBOTS_FETCH_HOLD_S
        while True:
            fresh_after = datetime.now(UTC) - timedelta(seconds=ROBOTS_SHARED_FOR_S)
            shared = await caller.call(hosts.shared_robots, origin, fresh_after=fresh_after)
            if shared is not None:
                return _Robots(None if shared.text is None else Protego.parse(shared.text))
            if time.monotonic() > give_up or await caller.call(
                    hosts.claim_robots_fetch, origin, fresh_after=fresh_after,
                    hold_s=ROBOTS_FETCH_HOLD_S):
                robots, share = await self._load_robots(origin, politeness, network, on_retry,
                                                        credentials)
                if share is not None:
                    await caller.call_through(hosts.store_robots, origin, share)
                return robots
            await asyncio.sleep(ROBOTS_POLL_S)  # another worker is fetching it

    async def _load_robots(self, origin: str, politeness: Politeness, network: Network,
                           on_retry: RetryHook | None = None,
                           credentials: SiteCredentials | None = None
                           ) -> tuple[_Robots, SharedRobots | None]:
        """The robots.txt of `origin`, and what to share of it with other workers (None
        when it could not be read: each worker tries again itself)."""
        robots_url = origin + "/robots.txt"
        self.stats.robots_fetched += 1
        # The host's gate is made by its first request, this one: with the config's
        # politeness as it is (adaptive included), robots.txt aside.
        no_robots = dataclasses.replace(politeness, robots_txt=False)
        try:
            result = await self.fetch(robots_url, politeness=no_robots, network=network,
                                      accept=frozenset({"text/plain", ""}) | HTML_TYPES,
                                      truncate_at=ROBOTS_MAX_BYTES, on_retry=on_retry,
                                      credentials=credentials)
        except SkippedContent:
            return _Robots(None), SharedRobots(None, 200, datetime.now(UTC))
        except FetchError as exc:
            if isinstance(exc, HTTPStatusError) and 400 <= exc.status < 500 \
                    and exc.status != 429:
                # RFC 9309 "unavailable": everything allowed
                return _Robots(None), SharedRobots(None, exc.status, datetime.now(UTC))
            return _Robots(None, f"robots.txt unreachable ({exc.reason}); the host's pages "
                                 "wait until it can be read"), None
        text = result.body.decode("utf-8", errors="replace")
        return _Robots(Protego.parse(text)), SharedRobots(text, result.status, result.fetched_at)


