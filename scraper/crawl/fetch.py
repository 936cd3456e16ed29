"""Fetcher: polite, capped, retried HTTP GETs over one shared httpx.AsyncClient.

Owns robots.txt, per-host concurrency and delay, retries with back-off, body and
decompression caps, redirects and the refusal of addresses a config does not allow.
The only module that talks HTTP.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import functools
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import Cookie
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import aiohttp
import brotli
import httpcore
import httpx
from httpx_aiohttp import AiohttpTransport
from protego import Protego
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.config import Network, Politeness
from scraper.crawl.netpolicy import (
    AddressPolicy,
    AddressRefused,
    PolicyBackend,
    PolicyConnector,
    check_address,
)
from scraper.errors import (
    BlockedURL,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    HostUnreachable,
    HTTPStatusError,
    RedirectError,
    RobotsDisallowed,
    SkippedContent,
)
from scraper.models import FetchResult
from scraper.urls import ALLOWED_SCHEMES, normalise_url

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SLICE = 1024 * 1024  # decompressed bytes produced per decoder call
# Google reads the first 500 KiB of a robots.txt and ignores the rest; RFC 9309 asks parsers
# to read at least that much.
ROBOTS_MAX_BYTES = 500 * 1024

ScopeCheck = Callable[[str], "str | None"]
RetryHook = Callable[[], None]


# -- politeness --------------------------------------------------------------------------

class HostGate:
    """At most `concurrency` requests in flight to one host, starts at least `delay` apart."""

    def __init__(self, politeness: Politeness, clock: Callable[[], float] = time.monotonic) -> None:
        self.politeness = politeness
        self._slots = asyncio.Semaphore(politeness.concurrency)
        self._lock = asyncio.Lock()
        self._next_start = 0.0
        self._clock = clock
        self.crawl_delay: float = 0.0  # from robots.txt, when larger than the config's

    async def __aenter__(self) -> Self:
        await self._slots.acquire()
        try:
            async with self._lock:
                now = self._clock()
                start = max(now, self._next_start)
                self._next_start = start + max(self.politeness.delay, self.crawl_delay)
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._slots.release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


# -- bodies ------------------------------------------------------------------------------

class _Decoder:
    """Content-Encoding decoding that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.produced = 0
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise SkippedContent(url, f"unsupported Content-Encoding {encoding!r}")

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.produced > self.limit:
            raise BodyTooLarge(self.url, f"decompressed body is over the cap of {self.limit:,} bytes"
                                         f" (Content-Encoding {self.encoding}; a compression bomb?)")
        return data

    def feed(self, data: bytes) -> list[bytes]:
        # Output comes in slices of at most _SLICE: a decoder asked for the whole room at
        # once builds it in its own buffer before Python copies it, which held twice the cap.
        out: list[bytes] = []
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            while True:
                size = min(_SLICE, self.limit - self.produced + 1)
                piece = self._count(self._zlib.decompress(data, size))
                out.append(piece)
                data = self._zlib.unconsumed_tail
                if not data and len(piece) < size:  # a full slice may leave output pending
                    return out
        if self.encoding == "br":
            while True:
                size = min(_SLICE, self.limit - self.produced + 1)
                piece = self._count(self._brotli.process(data, output_buffer_limit=size))
                out.append(piece)
                data = b""
                # A slice that filled up may leave output inside, even when the decoder
                # says it can take more input.
                if len(piece) < size and self._brotli.can_accept_more_data():
                    return out
        return [self._count(data)]

# -- robots.txt --------------------------------------------------------------------------

@dataclass(slots=True)
class _Robots:
    parser: Protego | None  # None: everything allowed
    disallow_all_reason: str | None = None


# -- the fetcher -------------------------------------------------------------------------

class _Retryable(Exception):
    """An attempt that may succeed if repeated (timeouts, resets, 429, 5xx)."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(slots=True)
class FetcherStats:
    requests: int = 0
    retries: int = 0
    robots_fetched: int = 0
    per_host: dict[str, int] = field(default_factory=dict)


class SetCookieJar(httpx.Cookies):
    """A client's cookies, read only from responses that set some.

    httpx hands every response to urllib's cookie jar, through a urllib Request made from its
    URL: 4% of the event loop's time on the crawl benchmark, whose responses set none. What
    a response sets is stored as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)
            self._cap()

    def _cap(self) -> None:
        """Hold the jar to RFC 6265's figures (4096 bytes a cookie, 50 a domain, 3000 in
        all), so that a site cannot grow the Cookie header of every request, or the crawl's
        memory, without bound: the largest are dropped first."""
        per_domain: dict[str, int] = {}
        total = 0
        for cookie in sorted(self.jar, key=_cookie_size):
            size = _cookie_size(cookie)
            count = per_domain.get(cookie.domain, 0)
            if size > MAX_COOKIE_BYTES or count >= MAX_COOKIES_PER_DOMAIN or \
                    total >= MAX_COOKIES:
                self.jar.clear(cookie.domain, cookie.path, cookie.name)
                continue
            per_domain[cookie.domain] = count + 1
            total += 1


MAX_COOKIE_BYTES = 4096
MAX_COOKIES_PER_DOMAIN = 50
MAX_COOKIES = 3000


def _cookie_size(cookie: Cookie) -> int:
    return len(cookie.name) + len(cookie.value or "")


def make_client(network: Network, policies: dict[str, AddressPolicy], *,
                max_connections: int = 256) -> httpx.AsyncClient:
    """The shared client. Its transport is aiohttp's engine under the httpx API (measured:
    httpx's own pool slows down past a few dozen connections); HTTP/2 needs httpx's own.

    Either way every connection attempt checks the addresses it would use against the
    policy `policies` holds for the host (see Fetcher.admit), after resolving the name.
    """
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    timeout = httpx.Timeout(network.timeout)
    if network.http2:
        return _with_set_cookie_jar(httpx.AsyncClient(
            transport=_http2_transport(policies, limits), limits=limits, timeout=timeout,
            follow_redirects=False, trust_env=False))
    def session() -> aiohttp.ClientSession:
        connector = PolicyConnector(policies, limit=max_connections, ttl_dns_cache=None,
                                    use_dns_cache=False)
        # Cookies are httpx's to keep (SetCookieJar, capped); aiohttp's own jar would hold
        # a second, uncapped copy for named hosts.
        return aiohttp.ClientSession(connector=connector, trust_env=False,
                                     cookie_jar=aiohttp.DummyCookieJar())

    transport = AiohttpTransport(limits=limits, client=session)
    return _with_set_cookie_jar(httpx.AsyncClient(
        transport=transport, limits=limits, timeout=timeout, follow_redirects=False,
        trust_env=False))


def _http2_transport(policies: dict[str, AddressPolicy],
                     limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (HTTP/2 and 1.1) whose connection pool connects through
    PolicyBackend. httpx takes no network backend, so its pool is replaced by one built
    with the same settings; should a later httpx keep its pool elsewhere, this refuses to
    build a client rather than build one that checks no address."""
    transport = httpx.AsyncHTTPTransport(http1=True, http2=True, limits=limits,
                                         trust_env=False)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise TypeError("httpx.AsyncHTTPTransport keeps no httpcore pool in `_pool`: "
                        "cannot apply the address policy to HTTP/2 connections")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, http1=True, http2=True,
        network_backend=PolicyBackend(policies))
    return transport


def _with_set_cookie_jar(client: httpx.AsyncClient) -> httpx.AsyncClient:
    # The `cookies` setter would copy the jar into a plain Cookies: the attribute it sets is
    # the only way in. Left as it is if a later httpx renames it.
    if isinstance(getattr(client, "_cookies", None), httpx.Cookies):
        client._cookies = SetCookieJar(client.cookies.jar)
    return client


class Fetcher:
    """Fetches URLs for one or more crawls sharing one client and one gate per host."""

    def __init__(self, client: httpx.AsyncClient, *,
                 policies: dict[str, AddressPolicy] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`policies` is the dict given to make_client: the fetcher records each host's
        address policy there, so the connection's resolver enforces it too."""
        self.client = client
        self._clock = clock
        self._gates: dict[str, HostGate] = {}
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

    def gate(self, host: str, politeness: Politeness) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(politeness, self._clock)
        return gate

    async def fetch(self, url: str, *, politeness: Politeness, network: Network,
                    etag: str | None = None, last_modified: str | None = None,
                    scope_check: ScopeCheck | None = None,
                    accept: frozenset[str] = HTML_TYPES,
                    headers: dict[str, str] | None = None,
                    truncate_at: int | None = None,
                    on_retry: RetryHook | None = None) -> FetchResult:
        """GET `url` politely. Returns the answer (200 or 304); raises a FetchError subclass
        for anything else, after the configured retries for transient failures.

        :param truncate_at: keep the first this many bytes of the (decoded) body and stop
            reading, instead of failing on a body over the caps (robots.txt).
        :param on_retry: called at every retry this fetch makes, as it is made, those of
            the host's robots.txt included when this fetch is the one that reads it (a
            crawl counts them all in its run's summary; `attempts` tells only this URL's).
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
                                    truncate_at, on_retry)
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
        except _Retryable as exc:
            return await self._retry(url, network, attempt, exc, on_retry)
        except FetchError as exc:
            exc.attempts = 1
            raise

    async def _retry(self, url: str, network: Network,
                     attempt: Callable[[], Awaitable[FetchResult]],
                     first_error: _Retryable,
                     on_retry: RetryHook | None) -> tuple[FetchResult, int]:
        """The retries after a first attempt failed with `first_error`: the result and the
        number of attempts, or the last error (with its attempts) raised."""
        exponential = wait_exponential_jitter(multiplier=network.backoff_base,
                                              max=network.backoff_max,
                                              jitter=network.backoff_base)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return min(exc.retry_after, network.retry_after_max)
            return exponential(state)

        retrying = AsyncRetrying(stop=stop_after_attempt(network.attempts), wait=wait,
                                 retry=retry_if_exception_type(_Retryable), reraise=True)
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
        except _Retryable as exc:
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
                       on_retry: RetryHook | None) -> FetchResult:
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
                await self._check_robots(current, politeness, network, on_retry)
            headers = {"User-Agent": politeness.user_agent, "Accept-Encoding": "gzip, deflate, br",
                       **extra_headers}
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
                    current = normalise_url(urljoin(current, location))
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
            try:
                async with asyncio.timeout(network.total_timeout):
                    async with self.client.stream("GET", current, headers=headers) as response:
                        return await self._read(url, current, response, network, accept,
                                                fetched_at, truncate_at)
            except TimeoutError:
                raise _Retryable(FetchTimeout(
                    url, f"no complete answer within {network.total_timeout:g} s "
                         "(network.total_timeout)")) from None
            except httpx.TransportError as exc:
                raise _transport_failure(url, current, exc, network) from None
            except (FetchError, _Retryable):
                raise
            except Exception as exc:
                # The seam where one URL's answer meets the HTTP libraries: whatever they
                # raise on a malformed answer (aiohttp's parser errors, httpx's URL checks on
                # a Location it cannot read, a ValueError for credentials in a URL, ...) is
                # this URL's failure, never the run's.
                raise FetchError(url, _unreadable_answer_reason(exc)) from exc

    async def _read(self, url: str, current: str, response: httpx.Response, network: Network,
                    accept: frozenset[str], fetched_at: datetime,
                    truncate_at: int | None = None) -> FetchResult:
        status = response.status_code
        raw_headers = tuple((k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in response.headers.raw)
        # One pass over the headers; httpx's Headers.get scans and decodes them all per call.
        fields: dict[str, str] = {}
        for key, value in raw_headers:
            key = key.lower()
            fields[key] = f"{fields[key]}, {value}" if key in fields else value
        result_base: dict[str, Any] = {
            "url": url, "final_url": current, "status": status, "headers": raw_headers,
            "fetched_at": fetched_at, "elapsed_s": 0.0, "http_version": response.http_version}
        if status in REDIRECT_STATUSES or status == 304:
            return FetchResult(body=b"", **result_base)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(fields.get("retry-after"))
            raise _Retryable(HTTPStatusError(url, status, _status_reason(status, current)),
                             retry_after)
        if status >= 400 or status < 200:
            raise HTTPStatusError(url, status, _status_reason(status, current))
        content_type = fields.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in accept:
            raise SkippedContent(url, f"content type {content_type!r} is not archived")
        declared = fields.get("content-length")
        # With truncate_at the body is cut there, not refused for its size.
        capped = truncate_at is None
        if capped and declared and declared.isdigit() and int(declared) > network.max_body_bytes:
            raise BodyTooLarge(url, f"Content-Length {int(declared):,} is over the cap of "
                                    f"{network.max_body_bytes:,} bytes (network.max_body_bytes)")
        decoder = _Decoder(fields.get("content-encoding", "").strip().lower(), url,
                           network.max_decompressed_bytes)
        chunks: list[bytes] = []
        received = decoded = 0
        # Chunks as they arrive: with a chunk size, httpx copies them into chunks of that size.
        async for raw in response.aiter_raw():
            received += len(raw)
            if capped and received > network.max_body_bytes:
                raise BodyTooLarge(url, f"body is over the cap of {network.max_body_bytes:,} bytes"
                                        " (network.max_body_bytes); download stopped")
            try:
                pieces = decoder.feed(raw)
            except (zlib.error, brotli.error) as exc:
                raise FetchError(url, f"body does not decode as {decoder.encoding}: {exc}") \
                    from None
            chunks.extend(pieces)
            if truncate_at is not None:
                decoded += sum(map(len, pieces))
                if decoded >= truncate_at:
                    break  # the rest is never read
        body = b"".join(chunks)
        return FetchResult(body=body if capped else body[:truncate_at], **result_base)

    async def _check_robots(self, url: str, politeness: Politeness, network: Network,
                            on_retry: RetryHook | None = None) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(origin)
        if robots is None:
            lock = self._robots_locks.setdefault(origin, asyncio.Lock())
            async with lock:
                robots = self._robots.get(origin)
                if robots is None:
                    robots = self._robots[origin] = await self._load_robots(
                        origin, politeness, network, on_retry)
                    delay = robots.parser.crawl_delay(politeness.user_agent) if robots.parser \
                        else None
                    if delay:
                        self.gate(parts.netloc, politeness).crawl_delay = float(delay)
        if robots.disallow_all_reason:
            # RFC 9309: a robots.txt that cannot be read (5xx, no connection) means the host
            # may not be crawled for now. That is the host's failure, retried on the failure
            # back-off, not a skip postponed to the next recrawl.
            raise HostUnreachable(url, robots.disallow_all_reason, host=parts.netloc)
        if robots.parser is not None and not robots.parser.can_fetch(url, politeness.user_agent):
            raise RobotsDisallowed(url, "disallowed by robots.txt")

    async def _load_robots(self, origin: str, politeness: Politeness, network: Network,
                           on_retry: RetryHook | None = None) -> _Robots:
        robots_url = origin + "/robots.txt"
        self.stats.robots_fetched += 1
        no_robots = Politeness(politeness.concurrency, politeness.delay, False,
                               politeness.user_agent)
        try:
            result = await self.fetch(robots_url, politeness=no_robots, network=network,
                                      accept=frozenset({"text/plain", ""}) | HTML_TYPES,
                                      truncate_at=ROBOTS_MAX_BYTES, on_retry=on_retry)
        except SkippedContent:
            return _Robots(None)
        except FetchError as exc:
            if isinstance(exc, HTTPStatusError) and 400 <= exc.status < 500 \
                    and exc.status != 429:
                return _Robots(None)  # RFC 9309 "unavailable": everything allowed
            return _Robots(None, f"robots.txt unreachable ({exc.reason}); the host's pages "
                                 "wait until it can be read")
        text = result.body.decode("utf-8", errors="replace")
        return _Robots(Protego.parse(text))


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


def _status_reason(status: int, url: str) -> str:
    names = {404: "not found", 410: "gone", 403: "forbidden", 401: "needs authentication",
             429: "too many requests", 500: "server error", 502: "bad gateway",
             503: "service unavailable", 504: "gateway timeout"}
    return f"HTTP {status} {names.get(status, '')}".rstrip()


def _transport_failure(url: str, current: str, exc: httpx.TransportError,
                       network: Network) -> FetchError | _Retryable:
    """What a transport error means for the URL: a refused address (not retried), a host
    that cannot be reached, a timeout or another broken exchange (retried)."""
    host = urlsplit(current).netloc
    refused = _cause_of_type(exc, AddressRefused)
    if refused is not None:
        return BlockedURL(url, f"refused: {refused}")
    if isinstance(exc, httpx.TimeoutException) and _is_timeout(exc):
        if isinstance(exc, httpx.ConnectTimeout):
            return _Retryable(HostUnreachable(
                url, f"cannot connect to {host}: no answer within {network.timeout:g} s",
                host=host))
        return _Retryable(FetchTimeout(url, f"timed out ({type(exc).__name__}: "
                                            f"no data for {network.timeout:g} s)"))
    connect_failed = isinstance(exc.__cause__, aiohttp.ClientConnectorError) or (
        isinstance(exc, httpx.ConnectError) and not isinstance(
            exc.__cause__, aiohttp.ClientConnectionError))
    if connect_failed:
        return _Retryable(HostUnreachable(url, _transport_reason(current, exc), host=host))
    return _Retryable(FetchError(url, _transport_reason(current, exc)))


def _cause_of_type(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` among `exc` and what caused it (a few links deep:
    httpx wraps httpcore's or aiohttp's error, which wraps the OSError)."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None or isinstance(link, kind):
            return link
        os_error = getattr(link, "os_error", None)  # aiohttp's connector errors keep it here
        link = os_error if isinstance(os_error, BaseException) and os_error is not link \
            else link.__cause__ or link.__context__
    return None


def _is_timeout(exc: httpx.TimeoutException) -> bool:
    """False for the aiohttp errors httpx-aiohttp reports as ConnectTimeout although no time
    ran out (its map sends every ClientConnectionError there: a server that closed the
    connection, a reset)."""
    cause = exc.__cause__
    return not isinstance(cause, aiohttp.ClientConnectionError) or isinstance(cause, TimeoutError)


def _transport_reason(url: str, exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    cause = exc.__cause__
    # Most specific first: a reset mid-body also reads "payload is not completed", and
    # "ConnectionResetError" contains "connect".
    if "reset" in lowered:
        return f"connection reset mid-answer: {text}"
    if "payload" in lowered or "content-length" in lowered or "not enough data" in lowered:
        return f"body cut short (fewer bytes than Content-Length): {text}"
    if isinstance(cause, aiohttp.ServerDisconnectedError) or "disconnect" in lowered:
        return f"the server closed the connection without answering: {text}"
    if isinstance(cause, aiohttp.ClientConnectorError):
        refused = getattr(cause.os_error, "errno", None) == errno.ECONNREFUSED
        return f"cannot connect{' (connection refused)' if refused else ''}: {text}"
    if isinstance(exc, httpx.ConnectError) or "connect" in lowered:
        return f"cannot connect: {text}"
    if "closed" in lowered:
        return f"connection closed mid-answer: {text}"
    return f"{type(exc).__name__}: {text}"


def _unreadable_answer_reason(exc: BaseException) -> str:
    """A sentence for an exception that an HTTP library raised on one URL's answer."""
    detail = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    text = " ".join(w for w in str(detail).split() if w != "^") or type(exc).__name__
    if len(text) > 300:
        text = text[:300] + "..."
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"malformed HTTP answer: {text}"
    if isinstance(exc, httpx.InvalidURL):
        # httpx reads a redirect's Location before handing the answer over.
        return f"redirect to a URL that is never fetched (the Location is refused: {text})"
    return f"the answer could not be read ({type(exc).__name__}: {text})"

