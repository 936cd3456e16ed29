"""The shared HTTP client of a crawl: aiohttp's engine under the httpx API (or httpx's own
for HTTP/2), every connection checked against the host's address policy, cookies capped."""

from __future__ import annotations

from http.cookiejar import Cookie

import aiohttp
import httpcore
import httpx
from httpx_aiohttp import AiohttpTransport

from scraper.config import Network
from scraper.crawl.netpolicy import AddressPolicy, PolicyBackend, PolicyConnector


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
