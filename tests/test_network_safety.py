"""Network safety over real HTTP: private, link-local and loopback targets (links, start URLs,
queued URLs, redirects) are refused before any connection when the config does not allow
them, and only http and https are ever fetched.

No test sends a packet anywhere but loopback: private addresses appear only as link targets
that must be refused before connecting, a spy on socket.connect records every connection
attempt (and refuses any to a non-loopback address, should the code under test be wrong),
and loopback listeners count the connections they accept.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hostile_helpers import (
    ConnectionCounter,
    connect_spy,
    key_of,
    make_config,
    offline_resolver,
    outcomes,
    query,
    run_crawl,
    settled_stats,
)

from scraper.archive import Archive
from scraper.crawl.netpolicy import AddressPolicy, AddressRefused, PolicyResolver
from scraper.models import FrontierItem
from scraper.testsite import TestSite
from scraper.timeutil import utcnow
from scraper.urls import normalise_url

OFF = "(network.allow_private is off)"
PRIVATE = {  # the private-links page's targets that are never loopback
    "http://10.0.0.1/": f"private address 10.0.0.1 {OFF}",
    "http://169.254.169.254/latest/meta-data/": f"link-local address 169.254.169.254 {OFF}",
    "http://192.168.1.1/": f"private address 192.168.1.1 {OFF}",
    "http://172.16.0.1/": f"private address 172.16.0.1 {OFF}",
    # Never allowed, whatever the config says: connecting to it reaches this very host.
    "http://0.0.0.0/": "unspecified address 0.0.0.0 (never allowed: connecting to it reaches "
                       "this host)",
}
ODD_SCHEMES = ("file:", "ftp:", "javascript:", "data:", "mailto:")
EVERY_HOST = '["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", ' \
             '"0.0.0.0", "::1", "localhost", "ftp.example.invalid", "no-such-host.invalid"]'


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=30) as running:
        yield running


@pytest.fixture
def counter6() -> Iterator[ConnectionCounter]:
    with ConnectionCounter("::1") as counter:
        yield counter


@pytest.fixture
def counter4() -> Iterator[ConnectionCounter]:
    with ConnectionCounter("127.0.0.1") as counter:
        yield counter


def test_private_link_targets_are_refused_before_any_connection(
        site: TestSite, counter6: ConnectionCounter, tmp_path: Path) -> None:
    """A page links to 10/8, 169.254.169.254, 192.168/16, 172.16/12, 0.0.0.0, [::1], localhost
    and to file:, ftp:, javascript:, data:, mailto: URLs; the scope takes in every host, so
    only the address policy stands in the way. Loopback is allowed (the site is on it), private
    ranges are not: the loopback targets are fetched (the counter sees them: the harness
    would see a connection), the private ones never get a connect()."""
    config = make_config([site.url(f"/fault/private-links?port={counter6.port}")],
                         follow=["internal", "external"],
                         extra=f"scope: {{domains: {EVERY_HOST}}}\nmax_depth: 1\n")
    db = tmp_path / "a.db"
    with connect_spy() as spy, offline_resolver():
        [result] = run_crawl(config, db)
    assert result.status == "completed"
    got = outcomes(db, full_urls=True)
    for url, why in PRIVATE.items():
        assert got.skipped[url] == f"refused: {url.split('/')[2]} resolves to {why}"
    assert spy.non_loopback() == []
    assert set(spy.hosts()) <= {"127.0.0.1", "::1"}
    assert counter6.accepted >= 1  # the allowed [::1] link was fetched: connections are seen
    with Archive.open(str(db), readonly=True) as archive:
        targets = [link["target"] for link in archive.iter_links()]
    queued = [u for (u,) in query(db, "SELECT url FROM frontier")]
    for url in targets + queued:
        assert not url.startswith(ODD_SCHEMES), url
    assert set(PRIVATE) <= set(queued)  # they were found, queued, and refused


def test_loopback_targets_are_refused_when_loopback_is_not_allowed(
        counter4: ConnectionCounter, counter6: ConnectionCounter, tmp_path: Path) -> None:
    """With network.allow_loopback off, every spelling of a loopback address is refused
    before a connection: numeric forms the config cannot see as loopback (127.1,
    2130706433, 0x7f.0.0.1) as start URLs, and [::1], localhost, 127.0.0.1 and an
    IPv4-mapped address queued as links found on a page would be."""
    port4, port6 = counter4.port, counter6.port
    start = [f"http://127.1:{port4}/", f"http://2130706433:{port4}/",
             f"http://0x7f.0.0.1:{port4}/"]
    queued = [f"http://[::1]:{port6}/", f"http://localhost:{port4}/",
              f"http://127.0.0.1:{port4}/", f"http://[::ffff:127.0.0.1]:{port4}/",
              f"http://127.0.0.2:{port4}/"]
    domains = '["127.1", "2130706433", "0x7f.0.0.1", "::1", "localhost", "127.0.0.1", ' \
              '"::ffff:127.0.0.1", "127.0.0.2"]'
    config = make_config(start, network={"allow_loopback": False},
                         extra=f"scope: {{domains: {domains}}}\n")
    db = tmp_path / "a.db"
    with Archive.open(str(db)) as archive:
        archive.enqueue([FrontierItem(url=u, site=config.name, depth=1) for u in queued],
                        utcnow())
    with connect_spy() as spy, offline_resolver():
        [result] = run_crawl(config, db)
    assert spy.addresses == []  # not one connection attempted
    assert counter4.accepted == 0 and counter6.accepted == 0
    got = outcomes(db, full_urls=True)
    assert result.stats.skipped == len(start) + len(queued) == len(got.skipped)
    for url, reason in got.skipped.items():
        assert reason.startswith("refused: ") and "(network.allow_loopback is off)" in reason, \
            (url, reason)
    assert result.stats.fetched == 0


def test_redirects_to_private_addresses_and_other_schemes_are_refused(
        site: TestSite, tmp_path: Path) -> None:
    """An allowed URL redirects to the metadata service, private hosts, a file: URL, an
    ftp: URL and a host out of scope: each is refused at the redirect, nothing connects."""
    targets = {
        "http://169.254.169.254/latest/meta-data/": "refused: 169.254.169.254 resolves to "
                                                    "link-local address 169.254.169.254",
        "http://10.0.0.1/admin": "refused: 10.0.0.1 resolves to private address 10.0.0.1",
        "http://192.168.1.1/": "refused: 192.168.1.1 resolves to private address",
        "file:///etc/passwd": "redirect to a URL that is never fetched: 'file:///etc/passwd'",
        "ftp://ftp.example.invalid/x": "redirect to a URL that is never fetched",
        "http://elsewhere.example/": "redirected out of scope to http://elsewhere.example/: "
                                     "host 'elsewhere.example' is not in scope.domains",
    }
    urls = {site.url("/fault/redirect-to?url=" + quote(t, safe="")): t for t in targets}
    config = make_config(list(urls), extra='scope: {domains: ["127.0.0.1", "10.0.0.1", '
                                           '"169.254.169.254", "192.168.1.1"]}\n')
    db = tmp_path / "a.db"
    with connect_spy() as spy, offline_resolver() as resolver:
        [result] = run_crawl(config, db)
    assert spy.non_loopback() == []
    assert "elsewhere.example" not in resolver.asked  # scope is checked before resolving
    got = outcomes(db)
    assert result.stats.skipped + result.stats.failed == len(targets)
    for url, target in urls.items():
        reason = got.reason(key_of(normalise_url(url)))
        assert targets[target] in reason, (target, reason)
    # One request per URL: the redirect itself, never the target.
    assert settled_stats(site).count("/fault/redirect-to") == len(targets)


def test_a_name_that_resolves_to_a_refused_address_at_connect_time_is_dropped(
        counter4: ConnectionCounter) -> None:
    """The connection's own resolver drops refused addresses as well (a name may resolve
    differently the second time): it never hands aiohttp a loopback address for a host whose
    policy refuses loopback."""
    resolver = PolicyResolver({"localhost": AddressPolicy(allow_loopback=False)})
    with pytest.raises(AddressRefused, match=r"^localhost resolves to loopback address "
                                             r"(127\.0\.0\.1|::1) \(network\.allow_loopback is off\)"):
        asyncio.run(resolver.resolve("localhost", counter4.port, socket.AF_UNSPEC))
    allowed = PolicyResolver({"localhost": AddressPolicy(allow_loopback=True)})
    found = asyncio.run(allowed.resolve("localhost", counter4.port, socket.AF_UNSPEC))
    assert {r["host"] for r in found} <= {"127.0.0.1", "::1"} and found
    assert counter4.accepted == 0
