"""Which addresses a crawl may connect to, checked on every connection attempt.

The policy is applied where a connection is made (aiohttp's resolver and connector, httpcore's
network backend), not only before a request, so a name that resolves differently the second
time is caught on the connect that would use it.

Everything that is not globally routable is refused: loopback, unspecified, private, link-local,
carrier-grade NAT, multicast, reserved and documentation ranges, and IPv6 forms that embed one
of those IPv4 addresses (IPv4-mapped, IPv4-compatible, 6to4, NAT64; Teredo always).
`allow_loopback` opens loopback, `allow_private` private, link-local, CGNAT and ULA ranges;
the unspecified address (which reaches this host) is never allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import httpcore
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.tracing import Trace

from scraper.config import Network
from scraper.errors import BlockedURL, HostUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]

# Kinds of address and the switch that opens each; the others are never allowed.
LOOPBACK, PRIVATE, LINK_LOCAL, CGNAT = "loopback", "private", "link-local", "carrier-grade NAT"
UNSPECIFIED, MULTICAST, RESERVED = "unspecified", "multicast", "reserved"
_OPENED_BY = {LOOPBACK: "allow_loopback", PRIVATE: "allow_private",
              LINK_LOCAL: "allow_private", CGNAT: "allow_private"}
_NEVER = {UNSPECIFIED: "never allowed: connecting to it reaches this host",
          MULTICAST: "never allowed", RESERVED: "not globally routable; never allowed"}

_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                      "192.168.0.0/16"))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_ULA = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix (RFC 6052)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use prefix (RFC 8215)
_TEREDO = ipaddress.IPv6Network("2001::/32")


@dataclass(frozen=True, slots=True)
class Classified:
    """What an address is: its kind (None: globally routable) and how to name it."""

    kind: str | None
    address: IPAddress  # the address that has `kind`: the embedded IPv4 one, if any
    wrapper: str = ""  # e.g. "6to4 address 2002:7f00:1::" when `address` is embedded
    tunnelled: bool = False  # reached through a translator or tunnel, not directly

    def describe(self) -> str:
        kind = f"{self.kind} address {self.address}"
        return f"{kind} embedded in {self.wrapper}" if self.wrapper else kind


def parse_ip(address: str) -> IPAddress | None:
    """`address` as an IP address (an IPv6 zone, `%lo` or `%25lo`, is dropped), or None."""
    try:
        return ipaddress.ip_address(unquote(address).split("%")[0].strip("[]"))
    except ValueError:
        return None


def _classify_v4(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_unspecified:
        return UNSPECIFIED
    if ip.is_loopback:
        return LOOPBACK
    if ip.is_link_local:
        return LINK_LOCAL
    if ip in _SHARED:
        return CGNAT
    if any(ip in net for net in _RFC1918):
        return PRIVATE
    if ip.is_multicast:
        return MULTICAST
    if ip in _THIS_NETWORK or not ip.is_global or ip.is_reserved:
        return RESERVED
    return None


def classify(ip: IPAddress) -> Classified:
    """The kind of `ip`, unwrapping IPv6 forms that carry an IPv4 address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return Classified(_classify_v4(ip), ip)
    if ip.is_unspecified:
        return Classified(UNSPECIFIED, ip)
    if ip.is_loopback:
        return Classified(LOOPBACK, ip)
    value = int(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d: a dual-stack socket connects to a.b.c.d
        return Classified(_classify_v4(ip.ipv4_mapped), ip.ipv4_mapped,
                          f"IPv4-mapped address ::ffff:{ip.ipv4_mapped}")
    embedded: tuple[str, ipaddress.IPv4Address] | None = None
    if value < 1 << 32:  # ::a.b.c.d, the deprecated IPv4-compatible form
        embedded = ("IPv4-compatible", ipaddress.IPv4Address(value))
    elif ip in _NAT64 or ip in _NAT64_LOCAL:
        embedded = ("NAT64", ipaddress.IPv4Address(value & 0xFFFFFFFF))
    elif ip.sixtofour is not None:
        embedded = ("6to4", ip.sixtofour)
    if embedded is not None:
        form, v4 = embedded
        kind = _classify_v4(v4)
        if kind is not None:  # the translator or tunnel would reach it from elsewhere
            return Classified(kind, v4, f"{form} address {ip}", tunnelled=True)
        if form == "IPv4-compatible":  # deprecated since 2006: no route should know it
            return Classified(RESERVED, ip, tunnelled=True)
        if ip in _NAT64_LOCAL:  # a translator on a private network (RFC 8215)
            return Classified(PRIVATE, ip)
        return Classified(None, ip)
    if ip in _TEREDO:
        return Classified(RESERVED, ip, tunnelled=True)
    if ip.is_link_local:
        return Classified(LINK_LOCAL, ip)
    if ip in _ULA or ip.is_site_local:
        return Classified(PRIVATE, ip)
    if ip.is_multicast:
        return Classified(MULTICAST, ip)
    if not ip.is_global or ip.is_reserved:
        return Classified(RESERVED, ip)
    return Classified(None, ip)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    @classmethod
    def from_network(cls, network: Network) -> AddressPolicy:
        return cls(network.allow_loopback, network.allow_private)

    def refusal(self, address: str) -> str | None:
        """Why connecting to `address` is refused, or None."""
        ip = parse_ip(address)
        if ip is None:
            return f"{address!r} is not an IP address"
        found = classify(ip)
        if found.kind is None:
            return None
        switch = _OPENED_BY.get(found.kind)
        if switch is None:
            return f"{found.describe()} ({_NEVER[found.kind]})"
        if found.tunnelled:
            # The packet goes to a translator or tunnel that would reach that address from
            # elsewhere: the switches open this host's own networks only.
            return f"{found.describe()} (never allowed: reached through a translator or tunnel)"
        if getattr(self, switch):
            return None
        return f"{found.describe()} (network.{switch} is off)"


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


async def allowed_addresses(host: str, port: int, policy: AddressPolicy,
                            family: int = socket.AF_UNSPEC) -> list[AddrInfo]:
    """Resolve `host` and keep the getaddrinfo entries whose address `policy` allows.

    Raises AddressRefused when none is left, socket.gaierror when the name does not resolve.
    """
    literal = parse_ip(host)
    if literal is not None:
        reason = policy.refusal(str(literal))
        if reason is not None:
            raise AddressRefused(host, [reason])
    infos = await asyncio.get_running_loop().getaddrinfo(
        unquote(host) if literal is not None else host, port, family=family,
        type=socket.SOCK_STREAM)
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

    def __init__(self, policies: dict[str, AddressPolicy]) -> None:
        self._policies = policies

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        infos = await allowed_addresses(host, port, policy_for(self._policies, host), family)
        return [ResolveResult(hostname=host, host=str(sockaddr[0]), port=int(sockaddr[1]),
                              family=fam, proto=proto, flags=socket.AI_NUMERICHOST)
                for fam, _, proto, _, sockaddr in infos]

    async def close(self) -> None:
        return None


class PolicyConnector(aiohttp.TCPConnector):
    """aiohttp's connector, checking literal IP hosts as well: aiohttp never asks the
    resolver about those."""

    def __init__(self, policies: dict[str, AddressPolicy], **kwargs: Any) -> None:
        super().__init__(resolver=PolicyResolver(policies), **kwargs)
        self._policies = policies

    async def _resolve_host(self, host: str, port: int,
                            traces: Sequence[Trace] | None = None) -> list[ResolveResult]:
        if parse_ip(host) is not None:
            reason = policy_for(self._policies, host).refusal(host)
            if reason is not None:
                raise AddressRefused(host, [reason])
        return await super()._resolve_host(host, port, traces=traces)


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (HTTP/2 path), resolving names itself and connecting only
    to the addresses the host's policy allows, one after the other.

    httpcore gives TLS the original host name (server_hostname) after connect_tcp returns,
    so certificates and SNI are checked against the name, not the address connected to.
    """

    def __init__(self, policies: dict[str, AddressPolicy],
                 backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policies = policies
        # AnyIO's, not httpcore's AutoBackend (private): this package runs on asyncio.
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                infos = await allowed_addresses(host, port,
                                                policy_for(self._policies, host))
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
    if parse_ip(host) is not None:
        reason = policy.refusal(host)
        if reason is not None:
            raise BlockedURL(url, f"refused: {unquote(host)} resolves to {reason}")
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
