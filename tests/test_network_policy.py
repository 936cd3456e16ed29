"""The address policy has no holes (issue 16, guarantee 3).

Every spelling of a non-global address is refused, with a reason naming it; the check is made
where each connection is made, on both transports (aiohttp's engine and, with network.http2,
httpx's own pool), so a name that resolves to an allowed address and later to a refused one
is refused on the second connect.

No test sends a packet anywhere but loopback: refused addresses never reach connect() (a spy
refuses any non-loopback connect, should the code under test be wrong), and the one test
that connects to a private address does so in a network namespace of its own (`unshare -n`,
no route out).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hostile_helpers import (
    ConnectionCounter,
    connect_spy,
    make_config,
    offline_resolver,
    outcomes,
    run_crawl,
)

from scraper.archive import Archive
from scraper.config import Network, Politeness
from scraper.crawl.client import make_client
from scraper.crawl.fetch import Fetcher
from scraper.crawl.netpolicy import (
    AddressPolicy,
    AddressRefused,
    PolicyBackend,
    check_address,
)
from scraper.errors import BlockedURL, FetchError
from scraper.models import FrontierItem
from scraper.timeutil import utcnow

LOOPBACK, PRIVATE, NEVER = "allow_loopback", "allow_private", "never"

# address -> (what the reason says about it, the switch that opens it)
ADDRESSES: dict[str, tuple[str, str]] = {
    "127.0.0.1": ("loopback address 127.0.0.1", LOOPBACK),
    "127.255.255.254": ("loopback address 127.255.255.254", LOOPBACK),
    "::1": ("loopback address ::1", LOOPBACK),
    "::ffff:127.0.0.1": (("loopback address 127.0.0.1 embedded in IPv4-mapped address "
                          "::ffff:127.0.0.1"), LOOPBACK),
    "::ffff:7f00:2": ("loopback address 127.0.0.2 embedded in IPv4-mapped", LOOPBACK),
    "0.0.0.0": ("unspecified address 0.0.0.0", NEVER),
    "::": ("unspecified address ::", NEVER),
    "::ffff:0.0.0.0": ("unspecified address 0.0.0.0 embedded in IPv4-mapped", NEVER),
    "0.1.2.3": ("reserved address 0.1.2.3", NEVER),
    "10.0.0.1": ("private address 10.0.0.1", PRIVATE),
    "172.16.0.1": ("private address 172.16.0.1", PRIVATE),
    "172.31.255.254": ("private address 172.31.255.254", PRIVATE),
    "192.168.1.1": ("private address 192.168.1.1", PRIVATE),
    "::ffff:10.1.2.3": ("private address 10.1.2.3 embedded in IPv4-mapped", PRIVATE),
    "169.254.169.254": ("link-local address 169.254.169.254", PRIVATE),
    "::ffff:169.254.169.254": ("link-local address 169.254.169.254 embedded in", PRIVATE),
    "fe80::1": ("link-local address fe80::1", PRIVATE),
    "fe80::1%lo": ("link-local address fe80::1", PRIVATE),
    "fe80::1%25eth0": ("link-local address fe80::1", PRIVATE),
    "100.64.0.1": ("carrier-grade NAT address 100.64.0.1", PRIVATE),
    "100.127.255.254": ("carrier-grade NAT address 100.127.255.254", PRIVATE),
    "fd00::1": ("private address fd00::1", PRIVATE),
    "fc00::1": ("private address fc00::1", PRIVATE),
    "fec0::1": ("private address fec0::1", PRIVATE),  # site-local, deprecated
    "64:ff9b:1::808:808": ("private address 64:ff9b:1::808:808", PRIVATE),  # local NAT64
    # IPv6 forms that carry an IPv4 address to a translator or tunnel: never allowed when
    # that address is not global (they do not reach this host's own networks).
    "::127.0.0.1": ("loopback address 127.0.0.1 embedded in IPv4-compatible address", NEVER),
    "::a00:1": ("private address 10.0.0.1 embedded in IPv4-compatible address", NEVER),
    "::8.8.8.8": ("reserved address ::808:808", NEVER),  # IPv4-compatible is deprecated
    "64:ff9b::7f00:1": ("loopback address 127.0.0.1 embedded in NAT64 address", NEVER),
    "64:ff9b::a9fe:a9fe": ("link-local address 169.254.169.254 embedded in NAT64", NEVER),
    "64:ff9b:1::7f00:1": ("loopback address 127.0.0.1 embedded in NAT64 address", NEVER),
    "2002:7f00:1::": ("loopback address 127.0.0.1 embedded in 6to4 address 2002:7f00:1::",
                      NEVER),
    "2002:a00:1::1": ("private address 10.0.0.1 embedded in 6to4 address", NEVER),
    "2002:a9fe:a9fe::": ("link-local address 169.254.169.254 embedded in 6to4", NEVER),
    "2001::1": ("reserved address 2001::1", NEVER),  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": ("reserved address 2001:0:4136:e378", NEVER),
    "224.0.0.1": ("multicast address 224.0.0.1", NEVER),
    "239.255.255.250": ("multicast address 239.255.255.250", NEVER),
    "::ffff:224.0.0.251": ("multicast address 224.0.0.251 embedded in IPv4-mapped", NEVER),
    "ff02::1": ("multicast address ff02::1", NEVER),
    "ff0e::1": ("multicast address ff0e::1", NEVER),
    "255.255.255.255": ("reserved address 255.255.255.255", NEVER),  # broadcast
    "240.0.0.1": ("reserved address 240.0.0.1", NEVER),
    "198.18.0.1": ("reserved address 198.18.0.1", NEVER),  # benchmarking
    "198.19.255.254": ("reserved address 198.19.255.254", NEVER),
    "192.0.2.1": ("reserved address 192.0.2.1", NEVER),  # documentation
    "198.51.100.7": ("reserved address 198.51.100.7", NEVER),
    "203.0.113.9": ("reserved address 203.0.113.9", NEVER),
    "2001:db8::1": ("reserved address 2001:db8::1", NEVER),
    "192.0.0.1": ("reserved address 192.0.0.1", NEVER),  # IETF protocol assignments
    "100::1": ("reserved address 100::1", NEVER),  # discard-only
}
GLOBAL = ("8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::1",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::")


@pytest.mark.parametrize("address", list(ADDRESSES))
def test_every_non_global_address_is_refused_with_its_kind(address: str) -> None:
    said, opened_by = ADDRESSES[address]
    for policy in (AddressPolicy(), AddressPolicy(allow_loopback=True),
                   AddressPolicy(allow_private=True), AddressPolicy(True, True)):
        reason = policy.refusal(address)
        allowed = opened_by != NEVER and getattr(policy, opened_by)
        if allowed:
            assert reason is None, (policy, reason)
            continue
        assert reason is not None and reason.startswith(said), (policy, reason)
        expected = "never allowed" if opened_by == NEVER else f"(network.{opened_by} is off)"
        assert expected in reason, (policy, reason)


@pytest.mark.parametrize("address", GLOBAL)
def test_global_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


def test_a_name_is_not_an_address() -> None:
    assert AddressPolicy(True, True).refusal("example.org") == "'example.org' is not an IP " \
                                                              "address"


# URL spellings a parser may accept (libc reads 127.1, 2130706433, 0x7f.1 and 0177.0.0.1 as
# 127.0.0.1 without DNS) -> what the refusal says, and the switch that would open it.
SPELLINGS: dict[str, tuple[str, str]] = {
    "http://2130706433/": ("2130706433 resolves to loopback address 127.0.0.1", LOOPBACK),
    "http://0x7f000001/": ("0x7f000001 resolves to loopback address 127.0.0.1", LOOPBACK),
    "http://0x7f.1/": ("0x7f.1 resolves to loopback address 127.0.0.1", LOOPBACK),
    "http://0177.0.0.1/": ("0177.0.0.1 resolves to loopback address 127.0.0.1", LOOPBACK),
    "http://127.1/": ("127.1 resolves to loopback address 127.0.0.1", LOOPBACK),
    "http://[::ffff:127.0.0.1]/": (("::ffff:127.0.0.1 resolves to loopback address 127.0.0.1 "
                                    "embedded in IPv4-mapped address ::ffff:127.0.0.1"), LOOPBACK),
    "http://[::ffff:7f00:1]/": (("::ffff:7f00:1 resolves to loopback address 127.0.0.1 "
                                 "embedded in IPv4-mapped address"), LOOPBACK),
    "http://[64:ff9b::7f00:1]/": (("64:ff9b::7f00:1 resolves to loopback address 127.0.0.1 "
                                   "embedded in NAT64 address 64:ff9b::7f00:1"), NEVER),
    "http://[2002:7f00:1::]/": (("2002:7f00:1:: resolves to loopback address 127.0.0.1 "
                                 "embedded in 6to4 address 2002:7f00:1::"), NEVER),
    "http://[::127.0.0.1]/": (("::127.0.0.1 resolves to loopback address 127.0.0.1 embedded "
                               "in IPv4-compatible address"), NEVER),
    "http://0/": ("0 resolves to unspecified address 0.0.0.0 (never allowed", NEVER),
    "http://0.0.0.0/": ("0.0.0.0 resolves to unspecified address 0.0.0.0", NEVER),
    "http://[::]/": (":: resolves to unspecified address :: (never allowed", NEVER),
    "http://100.64.0.1/": ("100.64.0.1 resolves to carrier-grade NAT address 100.64.0.1",
                           PRIVATE),
    "http://169.254.169.254/latest/meta-data/": (
        "169.254.169.254 resolves to link-local address 169.254.169.254", PRIVATE),
    "http://[fe80::1%25lo]/": ("fe80::1%lo resolves to link-local address fe80::1", PRIVATE),
    "http://[fd00::1]/": ("fd00::1 resolves to private address fd00::1", PRIVATE),
    "http://10.0.0.1/": ("10.0.0.1 resolves to private address 10.0.0.1", PRIVATE),
    "http://224.0.0.1/": ("224.0.0.1 resolves to multicast address 224.0.0.1", NEVER),
    "http://255.255.255.255/": ("255.255.255.255 resolves to reserved address", NEVER),
    "http://198.18.0.1/": ("198.18.0.1 resolves to reserved address 198.18.0.1", NEVER),
    "http://[2001::1]/": ("2001::1 resolves to reserved address 2001::1", NEVER),
}
NON_LOOPBACK_SPELLINGS = [url for url, (_, opened_by) in SPELLINGS.items()
                          if opened_by != LOOPBACK]


@pytest.mark.parametrize("url", list(SPELLINGS))
def test_every_spelling_of_a_url_is_refused_naming_the_address(url: str) -> None:
    said, opened_by = SPELLINGS[url]

    async def check(policy: AddressPolicy) -> str | None:
        try:
            await check_address(url, policy)
        except BlockedURL as exc:
            return exc.reason
        return None

    with connect_spy() as spy, offline_resolver():
        strict = asyncio.run(check(AddressPolicy()))
        open_ = asyncio.run(check(AddressPolicy(allow_loopback=True, allow_private=True)))
    assert strict is not None and strict.startswith(f"refused: {said}"), strict
    if opened_by == NEVER:
        assert open_ is not None and "never allowed" in open_, open_
    else:
        assert open_ is None
    assert spy.addresses == []


# -- in a crawl ----------------------------------------------------------------------------

def crawl_spellings(db: Path, port: int) -> tuple[list[str], dict[str, str], list[Any]]:
    """Crawl every spelling in SPELLINGS (its loopback ones on `port`) with loopback and
    private addresses refused: the URLs, the skip reason recorded for each, and every
    connect() attempted. The start URL is a spelling the config cannot see as an address; the
    others are queued as links found on a page would be (a config refuses literal ones)."""
    urls = [_with_port(url, port) if opened_by == LOOPBACK else url
            for url, (_, opened_by) in SPELLINGS.items()]
    hosts = sorted({urlsplit(u).hostname or "" for u in urls})
    config = make_config([urls[0]], network={"allow_loopback": False},
                         extra=f"scope: {{domains: {json.dumps(hosts)}}}\n")
    with Archive.open(str(db)) as archive:
        archive.enqueue([FrontierItem(url=u, site=config.name, depth=1) for u in urls[1:]],
                        utcnow())
    with connect_spy() as spy, offline_resolver():
        [result] = run_crawl(config, db)
    assert result.stats.fetched == 0
    return urls, outcomes(db, full_urls=True).skipped, spy.addresses


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.netloc}:{port}").geturl()


def test_a_crawl_refuses_every_spelling_before_connecting(tmp_path: Path) -> None:
    """Start and queued URLs in every spelling: each is recorded as skipped, the reason
    naming the address, and not one connection is attempted (the loopback ones point at a
    listener that would count one)."""
    with ConnectionCounter("127.0.0.1") as counter:
        urls, skipped, connects = crawl_spellings(tmp_path / "a.db", counter.port)
    assert connects == []
    assert counter.accepted == 0
    from scraper.urls import normalise_url

    for url, (said, _) in zip(urls, SPELLINGS.values(), strict=True):
        reason = skipped.get(normalise_url(url), "")
        assert reason.startswith(f"refused: {said.split(' resolves')[0]}"), (url, reason)
        assert said.split(" resolves to ")[1] in reason, (url, reason)


# -- at connect time, on both transports ----------------------------------------------------

TRANSPORTS = pytest.mark.parametrize("http2", [False, True], ids=["aiohttp", "httpcore"])


def refused_cause(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused behind a transport error, through causes and aiohttp's os_error."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        if isinstance(link, AddressRefused):
            return link
        os_error = getattr(link, "os_error", None)
        link = os_error if isinstance(os_error, BaseException) else (
            link.__cause__ or link.__context__)
    return None


@TRANSPORTS
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_the_connection_itself_refuses_an_address_the_policy_refuses(
        http2: bool, host: str) -> None:
    """The client alone, with no Fetcher.admit before it: the connection's own check (aiohttp's
    resolver and connector, httpcore's network backend) refuses loopback for a host whose
    policy does not allow it, literal addresses included, and connects when it does."""
    network = Network(http2=http2, allow_loopback=True)
    key = host.strip("[]")

    async def get(policies: dict[str, AddressPolicy], url: str) -> int:
        async with make_client(network, policies) as client:
            response = await client.get(url)
            return response.status_code

    with ConnectionCounter("127.0.0.1") as counter, connect_spy() as spy, offline_resolver():
        url = counter.url("/", host=host)
        with pytest.raises(httpx.TransportError) as caught:
            asyncio.run(get({key: AddressPolicy(allow_private=True)}, url))
        refused = refused_cause(caught.value)
        assert refused is not None, repr(caught.value)
        assert " resolves to loopback address 127.0.0.1" in str(refused)
        assert "(network.allow_loopback is off)" in str(refused)
        assert spy.addresses == [] and counter.accepted == 0
        # The same request with loopback allowed for that host connects (positive control).
        assert asyncio.run(get({key: AddressPolicy(allow_loopback=True)}, url)) == 200
        assert counter.accepted == 1


@contextmanager
def rebinding(name: str, first: str) -> Iterator[list[str]]:
    """Resolve `name` to the address in the returned list (change it to rebind the name); any
    other name resolves as offline_resolver lets it. Patches socket.getaddrinfo, which is
    what loop.getaddrinfo calls (in a thread) too."""
    answer = [first]
    with offline_resolver():
        patched = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if (host.decode() if isinstance(host, bytes) else host) == name:  # anyio: bytes
                return patched(answer[0], port, *args, **kwargs)
            return patched(host, port, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        try:
            yield answer
        finally:
            socket.getaddrinfo = patched  # type: ignore[assignment]


async def fetch_twice(network: Network, url: str, answer: list[str],
                      second: str) -> tuple[int, str]:
    """Fetch `url` through a Fetcher, rebind its name to `second`, fetch again (the server
    closes each connection, so this is a new one): the first status and the second reason."""
    policies: dict[str, AddressPolicy] = {}
    politeness = Politeness(delay=0, robots_txt=False)
    async with make_client(network, policies) as client:
        fetcher = Fetcher(client, policies=policies)
        first = await fetcher.fetch(url, politeness=politeness, network=network)
        answer[0] = second
        try:
            await fetcher.fetch(url, politeness=politeness, network=network)
        except FetchError as exc:
            return first.status, exc.reason
    return first.status, ""


@TRANSPORTS
def test_a_name_rebound_to_a_never_allowed_address_is_refused_on_the_next_connect(
        http2: bool) -> None:
    """Loopback allowed; `wiki.test` resolves to 127.0.0.1, then to 0.0.0.0 (never allowed,
    and what a rebinding attacker would use to reach this host): the second fetch, past the
    fetcher's own check (made once per host), is refused by the connection's check."""
    network = Network(http2=http2, allow_loopback=True, attempts=3, backoff_base=0.01)
    with ConnectionCounter("127.0.0.1") as counter, connect_spy() as spy, \
            rebinding("wiki.test", "127.0.0.1") as answer:
        status, reason = asyncio.run(fetch_twice(
            network, counter.url("/", host="wiki.test"), answer, "0.0.0.0"))
    assert status == 200 and counter.accepted == 1
    assert ("wiki.test resolves to unspecified address 0.0.0.0 (never allowed: connecting to "
            "it reaches this host)") in reason, reason
    assert spy.hosts() == ["127.0.0.1"]


def test_the_backend_tries_each_allowed_address_and_says_when_none_is_left() -> None:
    """PolicyBackend connects to the allowed addresses a name resolves to, in order (the
    refused ones are dropped, not tried), and fails with the reasons when none is allowed."""
    import httpcore

    with ConnectionCounter("127.0.0.1") as counter, connect_spy() as spy, offline_resolver():
        backend = PolicyBackend({"localhost": AddressPolicy(allow_loopback=True)})

        async def connect(host: str) -> Any:
            stream = await backend.connect_tcp(host, counter.port, timeout=5)
            try:
                return stream.get_extra_info("server_addr")
            finally:
                await stream.aclose()

        # localhost is ::1 (nobody listens there) and 127.0.0.1, in either order.
        peer = asyncio.run(connect("localhost"))
        assert tuple(peer) == ("127.0.0.1", counter.port)
        tried = list(spy.hosts())
        assert set(tried) <= {"::1", "127.0.0.1"} and tried[-1] == "127.0.0.1"
        strict = PolicyBackend({})
        with pytest.raises(httpcore.ConnectError, match="localhost resolves to loopback") as e:
            asyncio.run(strict.connect_tcp("localhost", counter.port, timeout=5))
        assert isinstance(e.value.__cause__, AddressRefused)
        with pytest.raises(httpcore.ConnectError, match="never used"):
            asyncio.run(strict.connect_unix_socket("/tmp/x.sock"))
        assert spy.hosts() == tried  # nothing more was tried


# -- in a network namespace: a private address, then loopback --------------------------------

def _unshare_problem() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare(1) or ip(8) is not installed"
    if os.geteuid() != 0:
        return "unshare -n needs root here"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        return f"unshare -n does not work here: {probe.stderr.strip()}"
    return None


@TRANSPORTS
def test_a_name_rebound_from_private_to_loopback_is_refused_in_a_namespace(http2: bool) -> None:
    """In a network namespace with no route out: `wiki.test` resolves to 10.200.0.1 (on lo,
    allowed by allow_private), then to 127.0.0.1 (loopback, refused). Both addresses serve
    HTTP on the same port and close each connection. The first fetch is answered by
    10.200.0.1; the second is refused, and the 127.0.0.1 listener accepts no connection,
    though the fetcher's check before the request had already passed for that name."""
    problem = _unshare_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the namespace test: {problem}")
        pytest.skip(problem)
    script = ("ip link set lo up && ip addr add 10.200.0.1/32 dev lo && "
              f"exec {sys.executable} {Path(__file__).resolve()} netns-child "
              f"{'http2' if http2 else 'aiohttp'}")
    child = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                           text=True, timeout=120, check=False)
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout.strip().splitlines()[-1])
    assert got["first_status"] == 200
    assert got["private_accepted"] == 1
    assert got["loopback_accepted"] == 0
    assert ("wiki.test resolves to loopback address 127.0.0.1 (network.allow_loopback is off)"
            in got["second_reason"]), got["second_reason"]
    assert got["client_refused"].startswith("wiki.test resolves to loopback address 127.0.0.1")
    assert got["http_version"] == "HTTP/1.1"


def _netns_child(transport: str) -> None:
    """Runs inside `unshare -n` (see the test above): prints one JSON line of results."""
    with ConnectionCounter("10.200.0.1") as private, \
            ConnectionCounter("127.0.0.1", private.port) as loopback:
        print(json.dumps(_rebinding_run(transport, private, loopback)), flush=True)


def _rebinding_run(transport: str, private: ConnectionCounter,
                   loopback: ConnectionCounter) -> dict[str, Any]:
    network = Network(http2=transport == "http2", allow_private=True, allow_loopback=False,
                      attempts=2, backoff_base=0.01)
    url = f"http://wiki.test:{private.port}/page"

    async def main(answer: list[str]) -> dict[str, Any]:
        status, reason = await fetch_twice(network, url, answer, "127.0.0.1")
        # The client alone, its policy set for the name: the connection's check refuses too.
        answer[0] = "127.0.0.1"
        async with make_client(network, {"wiki.test": AddressPolicy.from_network(network)}) \
                as client:
            try:
                await client.get(url)
                client_refused = ""
            except httpx.TransportError as exc:
                refused = refused_cause(exc)
                client_refused = str(refused) if refused else repr(exc)
            answer[0] = "10.200.0.1"
            version = (await client.get(url)).http_version
        return {"first_status": status, "second_reason": reason,
                "client_refused": client_refused, "http_version": version}

    with rebinding("wiki.test", "10.200.0.1") as answer:
        result = asyncio.run(main(answer))
    result.update(private_accepted=private.accepted - 1,  # the last get() above
                  loopback_accepted=loopback.accepted)
    return result


if __name__ == "__main__" and sys.argv[1:2] == ["netns-child"]:
    _netns_child(sys.argv[2])
