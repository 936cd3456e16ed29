"""Which addresses a crawl may connect to, checked on every connection attempt.

The policy (scraper.addresses) is applied where a connection is made (aiohttp's resolver
and connector, httpcore's network backend), not only before a request, so a name that
resolves differently the second time is caught on the connect that would use it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import httpcore
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.tracing import Trace

from scraper.addresses import AddressPolicy, parse_ip
from scraper.errors import BlockedURL, HostUnreachable

__all__ = ["AddressPolicy", "AddressRefused", "Endpoints", "PolicyBackend", "PolicyConnector",
           "PolicyResolver", "allowed_addresses", "check_address", "policy_for"]

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
# (host, port) pairs connected to whatever their address: the proxies the config names. The
# proxy is the user's choice; the policy applies to the targets, checked before each request
# (Fetcher.admit) since the proxy, not this process, connects to them.
Endpoints = frozenset[tuple[str, int]]
NO_ENDPOINTS: Endpoints = frozenset()


class AddressRefused(OSError):
    """Every address a host resolves to is refused by its policy (raised where a connection
    is made; aiohttp and httpx carry it as the cause of their connection error, and the
    fetcher records the URL as refused). Reads `HOST resolves to KIND address A (why)`."""

    def __init__(self, host: str, reasons: Sequence[str]) -> None:
        unique = list(dict.fromkeys(reasons))
        message = f"{host} resolves to {'; '.join(unique)}"
        super().__init__(message)
        self.strerror = message  # aiohttp's ClientConnectorError shows strerror only
        self.host = host
        self.reasons = tuple(unique)


def policy_for(policies: dict[str, AddressPolicy], host: str) -> AddressPolicy:
    """The policy recorded for `host` (by Fetcher.admit), else the strictest one."""
    host = host.lower().strip("[]")
    policy = policies.get(host)
    if policy is not None:
        return policy
    # The fetcher keys hosts as written in the URL; the HTTP libraries may have rewritten
    # them (IDNA, an IPv6 address in another spelling).
    ip = parse_ip(host)
    if ip is not None:
        policy = next((p for key, p in policies.items() if parse_ip(key) == ip), None)
    elif "xn--" in host:
        try:
            policy = policies.get(host.encode("ascii").decode("idna"))
        except UnicodeError:
            policy = None
    return policy or AddressPolicy()


def _refuse_literal(host: str, policy: AddressPolicy) -> bool:
    """Whether `host` is an IP address (no lookup needed); raises AddressRefused when the
    policy refuses it."""
    if parse_ip(host) is None:
        return False
    reason = policy.refusal(host)
    if reason is not None:
        raise AddressRefused(unquote(host), [reason])
    return True


async def allowed_addresses(host: str, port: int, policy: AddressPolicy | None,
                            family: int = socket.AF_UNSPEC) -> list[AddrInfo]:
    """Resolve `host` and keep the getaddrinfo entries whose address `policy` allows (all of
    them when it is None: a proxy the config names).

    Raises AddressRefused when none is left, socket.gaierror when the name does not resolve.
    """
    if policy is None:
        return list(await asyncio.get_running_loop().getaddrinfo(
            unquote(host) if parse_ip(host) is not None else host, port, family=family,
            type=socket.SOCK_STREAM))
    literal = _refuse_literal(host, policy)
    infos = await asyncio.get_running_loop().getaddrinfo(
        unquote(host) if literal else host, port, family=family, type=socket.SOCK_STREAM)
    allowed: list[AddrInfo] = []
    reasons: list[str] = []
    for info in infos:
        reason = policy.refusal(str(info[4][0]))
        if reason is None:
            allowed.append(info)
        else:
            reasons.append(reason)
    if not allowed:
        raise AddressRefused(host, reasons or ["no address"])
    return allowed


class PolicyResolver(AbstractResolver):
    """Resolves names for aiohttp and drops the addresses the host's policy refuses.

    Checking the very addresses the connection uses closes the gap a check before the
    request leaves open (a name that resolves differently the second time)."""

    def __init__(self, policies: dict[str, AddressPolicy],
                 trusted: Endpoints = NO_ENDPOINTS) -> None:
        self._policies = policies
        self._trusted = trusted

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        policy = (None if (host.lower(), port) in self._trusted
                  else policy_for(self._policies, host))
        infos = await allowed_addresses(host, port, policy, family)
        return [ResolveResult(hostname=host, host=str(sockaddr[0]), port=int(sockaddr[1]),
                              family=fam, proto=proto, flags=socket.AI_NUMERICHOST)
                for fam, _, proto, _, sockaddr in infos]

    async def close(self) -> None:
        return None


class PolicyConnector(aiohttp.TCPConnector):
    """aiohttp's connector, checking literal IP hosts as well: aiohttp never asks the
    resolver about those."""

    def __init__(self, policies: dict[str, AddressPolicy], *,
                 trusted: Endpoints = NO_ENDPOINTS, **kwargs: Any) -> None:
        super().__init__(resolver=PolicyResolver(policies, trusted), **kwargs)
        self._policies = policies
        self._trusted = trusted

    async def _resolve_host(self, host: str, port: int,
                            traces: Sequence[Trace] | None = None) -> list[ResolveResult]:
        if (host.lower(), port) not in self._trusted:
            _refuse_literal(host, policy_for(self._policies, host))
        return await super()._resolve_host(host, port, traces=traces)


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (HTTP/2 path), resolving names itself and connecting only
    to the addresses the host's policy allows, one after the other.

    httpcore gives TLS the original host name (server_hostname) after connect_tcp returns,
    so certificates and SNI are checked against the name, not the address connected to.
    """

    def __init__(self, policies: dict[str, AddressPolicy],
                 backend: httpcore.AsyncNetworkBackend | None = None,
                 trusted: Endpoints = NO_ENDPOINTS) -> None:
        self._policies = policies
        self._trusted = trusted
        # AnyIO's, not httpcore's AutoBackend (private): this package runs on asyncio.
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                policy = (None if (host.lower(), port) in self._trusted
                          else policy_for(self._policies, host))
                infos = await allowed_addresses(host, port, policy)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from None
        except OSError as exc:  # AddressRefused, or the name does not resolve
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for *_, sockaddr in infos:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await self._backend.connect_tcp(
                    str(sockaddr[0]), port, timeout=left, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"unix socket {path}: never used by a crawl")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


async def check_address(url: str, policy: AddressPolicy) -> None:
    """Raise BlockedURL when any address `url`'s host resolves to is refused."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        _refuse_literal(host, policy)
    except AddressRefused as exc:
        raise BlockedURL(url, f"refused: {exc}") from None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            unquote(host), parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HostUnreachable(url, f"cannot resolve host {host!r}: {exc.strerror or exc}",
                              host=parts.netloc) from exc
    for *_, sockaddr in infos:
        reason = policy.refusal(str(sockaddr[0]))
        if reason is not None:
            raise BlockedURL(url, f"refused: {host} resolves to {reason}")
