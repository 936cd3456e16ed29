"""The shared HTTP client of a crawl: aiohttp's engine under the httpx API (or httpx's own
for HTTP/2), every connection checked against the host's address policy, cookies capped.

A proxy (`network.proxy`, or the environment's with `network.trust_env`) goes through the
libraries' own support: aiohttp's `proxy=` and `trust_env`, aiohttp-socks for socks5,
httpcore's proxy pools for HTTP/2. The proxy's own address is connected to whatever it is
(the user chose it); the targets are checked before each request (Fetcher.admit).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, Sequence
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import httpcore
import httpx
from aiohttp_socks import ProxyConnector
from httpx_aiohttp import AiohttpTransport

from scraper.config import CrawlConfig, Network
from scraper.crawl.netpolicy import AddressPolicy, Endpoints, PolicyBackend, PolicyConnector
from scraper.errors import ConfigError


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
    proxy = network.proxy.reveal() if network.proxy is not None else None
    # With trust_env, the proxies the environment names (each checked like network.proxy).
    env_proxies = ({} if proxy is not None or not network.trust_env
                   else environment_proxies())
    trusted = proxy_endpoints([proxy] if proxy is not None else env_proxies.values())
    if network.http2:
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {
            pattern: None if url is None else _http2_transport(policies, limits, url, trusted)
            for pattern, url in env_proxies.items()}
        return _with_set_cookie_jar(httpx.AsyncClient(
            transport=_http2_transport(policies, limits, proxy, trusted), mounts=mounts,
            limits=limits, timeout=timeout, follow_redirects=False, trust_env=False))
    socks = proxy is not None and urlsplit(proxy).scheme.lower() == "socks5"

    def session() -> aiohttp.ClientSession:
        connector: aiohttp.TCPConnector
        if socks:
            assert proxy is not None
            # rdns: the proxy resolves the target's name, as a socks5 proxy is used for.
            connector = ProxyConnector.from_url(proxy, rdns=True, limit=max_connections,
                                                ttl_dns_cache=None, use_dns_cache=False)
        else:
            connector = PolicyConnector(policies, trusted=trusted, limit=max_connections,
                                        ttl_dns_cache=None, use_dns_cache=False)
        # Cookies are httpx's to keep (SetCookieJar, capped); aiohttp's own jar would hold
        # a second, uncapped copy for named hosts.
        return aiohttp.ClientSession(connector=connector, trust_env=bool(env_proxies),
                                     cookie_jar=aiohttp.DummyCookieJar())

    http_proxy, hooks = (None, []) if proxy is None or socks else _aiohttp_proxy(proxy)
    transport = AiohttpTransport(limits=limits, client=session, proxy=http_proxy)
    return _with_set_cookie_jar(httpx.AsyncClient(
        transport=transport, limits=limits, timeout=timeout, follow_redirects=False,
        trust_env=False, event_hooks={"request": hooks}))


RequestHook = Callable[[httpx.Request], Awaitable[None]]


def _aiohttp_proxy(url: str) -> tuple[httpx.Proxy, list[RequestHook]]:
    """The proxy for aiohttp, its credentials as headers: aiohttp deprecates `proxy_auth`
    (which httpx-aiohttp would pass). A CONNECT tunnel (https targets) takes them from the
    proxy's headers; a plain http request goes to the proxy as it is, so the hook adds them
    to those alone (never to a request that a tunnel carries to the site)."""
    parts = urlsplit(url)
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.username is None:
        return httpx.Proxy(bare), []
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    credential = "Basic " + base64.b64encode(pair.encode()).decode()

    async def authorise_plain_http(request: httpx.Request) -> None:
        if request.url.scheme == "http":
            request.headers["Proxy-Authorization"] = credential

    return httpx.Proxy(bare, headers={"Proxy-Authorization": credential}), [authorise_plain_http]


def check_one_proxy(configs: Sequence[CrawlConfig]) -> None:
    """Configs crawled in one run share one client, so one proxy setting: raise ConfigError
    naming two that differ."""
    first = configs[0]
    for cfg in configs[1:]:
        if (cfg.network.proxy, cfg.network.trust_env) != (first.network.proxy,
                                                          first.network.trust_env):
            raise ConfigError(f"network.proxy / network.trust_env differ between {first.path} "
                              f"and {cfg.path}: one run shares one HTTP client; crawl them in "
                              "separate runs", key="network.proxy")


def environment_proxies() -> dict[str, str | None]:
    """HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY as httpx reads them: URL patterns
    (`http://`, `all://*example.org`) to a proxy URL, or None for those NO_PROXY exempts."""
    from httpx._utils import get_environment_proxies  # httpx's own reading, not exported

    return dict(get_environment_proxies())


def proxy_endpoints(urls: Iterable[str | None]) -> Endpoints:
    """The (host, port) each proxy URL connects to."""
    found = set()
    for url in urls:
        if url is None:
            continue
        parts = urlsplit(url if "://" in url else "http://" + url)
        default = 443 if parts.scheme == "https" else 1080 if parts.scheme.startswith(
            "socks") else 80
        if parts.hostname:
            found.add((parts.hostname.lower(), parts.port or default))
    return frozenset(found)


def _http2_transport(policies: dict[str, AddressPolicy], limits: httpx.Limits,
                     proxy: str | None = None,
                     trusted: Endpoints = frozenset()) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (HTTP/2 and 1.1) whose connection pool connects through
    PolicyBackend. httpx takes no network backend, so its pool is replaced by one built
    with the same settings (through `proxy` when given: httpcore's HTTP or SOCKS proxy
    pool); should a later httpx keep its pool elsewhere, this refuses to build a client
    rather than build one that checks no address."""
    transport = httpx.AsyncHTTPTransport(http1=True, http2=True, limits=limits,
                                         trust_env=False)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise TypeError("httpx.AsyncHTTPTransport keeps no httpcore pool in `_pool`: "
                        "cannot apply the address policy to HTTP/2 connections")
    ssl_context = httpx.create_ssl_context(trust_env=False)
    backend = PolicyBackend(policies, trusted=trusted)
    common: dict[str, Any] = {
        "ssl_context": ssl_context, "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry, "http1": True, "http2": True,
        "network_backend": backend}
    if proxy is None:
        transport._pool = httpcore.AsyncConnectionPool(**common)
        return transport
    parts = urlsplit(proxy)
    auth = ((unquote(parts.username or ""), unquote(parts.password or ""))
            if parts.username is not None else None)
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.scheme.lower() == "socks5":
        transport._pool = httpcore.AsyncSOCKSProxy(proxy_url=bare, proxy_auth=auth, **common)
    else:
        transport._pool = httpcore.AsyncHTTPProxy(
            proxy_url=bare, proxy_auth=auth, **common,
            proxy_ssl_context=ssl_context if parts.scheme.lower() == "https" else None)
    return transport


def _with_set_cookie_jar(client: httpx.AsyncClient) -> httpx.AsyncClient:
    # The `cookies` setter would copy the jar into a plain Cookies: the attribute it sets is
    # the only way in. Left as it is if a later httpx renames it.
    if isinstance(getattr(client, "_cookies", None), httpx.Cookies):
        client._cookies = SetCookieJar(client.cookies.jar)
    return client
