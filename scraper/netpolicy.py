"""Which addresses a crawl may connect to, checked on every connection attempt.

The policy is applied where a connection is made (aiohttp's resolver, httpcore's network
backend), not only before a request, so a name that resolves differently the second time is
caught on the connect that would use it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from scraper.config import Network
from scraper.errors import BlockedURL, FetchError


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    @classmethod
    def from_network(cls, network: Network) -> AddressPolicy:
        return cls(network.allow_loopback, network.allow_private)

    def refusal(self, address: str) -> str | None:
        """Why connecting to `address` is refused, or None."""
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return None if self.allow_loopback else f"loopback address {ip} (network.allow_loopback is off)"
        if ip.is_link_local:
            return None if self.allow_private else f"link-local address {ip} (network.allow_private is off)"
        if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            return None if self.allow_private else f"private address {ip} (network.allow_private is off)"
        return None


class PolicyResolver(AbstractResolver):
    """Resolves names for aiohttp and drops the addresses the host's policy refuses.

    Checking the very addresses the connection uses closes the gap a check before the
    request leaves open (a name that resolves differently the second time)."""

    def __init__(self, policies: dict[str, AddressPolicy]) -> None:
        self._policies = policies

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        policy = self._policies.get(host.lower(), AddressPolicy())
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family)
        results: list[ResolveResult] = []
        for fam, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])
            if policy.refusal(address) is not None:
                continue
            results.append(ResolveResult(hostname=host, host=address, port=int(sockaddr[1]),
                                         family=fam, proto=proto, flags=socket.AI_NUMERICHOST))
        if not results:
            raise OSError(f"no allowed address for {host}")
        return results

    async def close(self) -> None:
        return None


async def check_address(url: str, policy: AddressPolicy) -> None:
    """Raise BlockedURL when any address `url`'s host resolves to is refused."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(url, f"cannot resolve host {host!r}: {exc.strerror or exc}") from exc
    for *_, sockaddr in infos:
        reason = policy.refusal(str(sockaddr[0]))
        if reason is not None:
            raise BlockedURL(url, f"refused: {host} resolves to {reason}")
