"""What kind of address an IP address is, and whether a crawl's policy lets it connect there.

Pure (no I/O): the config refuses literal start addresses with it before anything runs, and
scraper.crawl.netpolicy applies it on every connection. Everything that is not globally routable
is refused: loopback, unspecified, private, link-local, carrier-grade NAT, multicast,
reserved and documentation ranges, and IPv6 forms that embed one of those IPv4 addresses
(IPv4-mapped, IPv4-compatible, 6to4, NAT64; Teredo always). `allow_loopback` opens loopback,
`allow_private` private, link-local, CGNAT and ULA ranges; the unspecified address (which
reaches this host) is never allowed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from scraper.config import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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
