"""network.proxy (http, socks5) and network.trust_env: real loopback crawls through a small
forward proxy (tests/forward_proxy.py), the address policy still applied to the targets,
and bad proxy URLs refused with the key named and the password not shown."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from forward_proxy import ForwardProxy

from scraper.archive import Archive
from scraper.config import CrawlConfig, config_to_yaml, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.crawl.client import make_client
from scraper.crawl.fetch import Fetcher
from scraper.errors import BlockedURL, ConfigError
from scraper.testsite import TestSite

PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
             "http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def site() -> Iterator[TestSite]:
    with TestSite(pages=10) as running:
        yield running


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


def config(site: TestSite, network: str = "") -> CrawlConfig:
    return load_config_text(textwrap.dedent(f"""\
        name: test
        start_urls: ["{site.url('/related/NATO')}"]
        follow: [related, more_info]
        max_depth: 1
        politeness: {{delay: 0, concurrency: 4}}
        network: {{allow_loopback: true, attempts: 1{network}}}
        """), "test.yaml")


def run(cfg: CrawlConfig, tmp_path: Path) -> tuple[RunResult, set[str]]:
    with Archive.open(str(tmp_path / f"{len(list(tmp_path.iterdir()))}.db")) as archive:
        result = asyncio.run(crawl([cfg], archive, limits=CrawlLimits()))[0]
        urls = {snap.url for _, snap, _ in archive.iter_versions()}
    return result, urls


def assert_all_through(proxy: ForwardProxy, site: TestSite, urls: set[str]) -> None:
    forwarded = {f.target for f in proxy.forwarded() if f.method == "GET"}
    assert site.url("/robots.txt") in forwarded
    assert urls and urls <= forwarded
    assert site.stats().requests == len(proxy.forwarded())


@pytest.mark.parametrize("http2", [False, True], ids=["aiohttp", "http2"])
def test_a_crawl_goes_through_network_proxy(site: TestSite, tmp_path: Path,
                                            http2: bool) -> None:
    with ForwardProxy() as proxy:
        cfg = config(site, f", proxy: '{proxy.url}', http2: {str(http2).lower()}")
        result, urls = run(cfg, tmp_path)
    assert result.stats.failed == 0 and len(urls) > 3
    assert_all_through(proxy, site, urls)


def test_a_proxy_with_a_password_from_the_environment(site: TestSite, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXY_PASSWORD", "pr0xy-pw-9")
    with ForwardProxy(auth=("crawler", "pr0xy-pw-9")) as proxy:
        cfg = config(site, f", proxy: 'http://crawler:${{PROXY_PASSWORD}}@127.0.0.1:"
                           f"{proxy.port}'")
        result, urls = run(cfg, tmp_path)
        assert "pr0xy-pw-9" not in config_to_yaml(cfg) + repr(cfg)
        assert f"proxy: http://crawler:***@127.0.0.1:{proxy.port}" in config_to_yaml(cfg)
    assert result.stats.failed == 0
    assert_all_through(proxy, site, urls)


def test_the_proxy_address_is_allowed_whatever_the_policy(site: TestSite,
                                                          tmp_path: Path) -> None:
    """The proxy named as `localhost`: no policy is recorded for that name (the targets are
    127.0.0.1), so only its being the config's proxy lets the crawl connect to it."""
    with ForwardProxy() as proxy:
        result, urls = run(config(site, f", proxy: 'http://localhost:{proxy.port}'"),
                           tmp_path)
    assert result.stats.failed == 0
    assert_all_through(proxy, site, urls)


@pytest.mark.parametrize("http2", [False, True], ids=["aiohttp-socks", "httpcore-socks"])
def test_socks5(site: TestSite, tmp_path: Path, http2: bool) -> None:
    with ForwardProxy("socks5", auth=("u", "p")) as proxy:
        result, urls = run(config(site, f", proxy: '{proxy.url}', http2: {str(http2).lower()}"),
                           tmp_path)
    assert result.stats.failed == 0 and len(urls) > 3
    tunnels = {f.target for f in proxy.forwarded()}
    assert tunnels == {f"127.0.0.1:{site.port}"}
    assert site.stats().requests > len(urls)  # every request went through some tunnel


@pytest.mark.parametrize("http2", [False, True], ids=["aiohttp", "http2"])
def test_trust_env_honours_http_proxy_and_no_proxy(site: TestSite, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   http2: bool) -> None:
    flags = f", http2: {str(http2).lower()}"
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        result, urls = run(config(site, flags + ", trust_env: true"), tmp_path)
        assert result.stats.failed == 0
        assert_all_through(proxy, site, urls)

        seen = len(proxy.forwarded())
        result, urls = run(config(site, flags), tmp_path)  # trust_env: false
        assert result.stats.failed == 0 and urls
        assert len(proxy.forwarded()) == seen

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        result, urls = run(config(site, flags + ", trust_env: true"), tmp_path)
        assert result.stats.failed == 0 and urls
        assert len(proxy.forwarded()) == seen


@pytest.mark.parametrize("http2", [False, True], ids=["aiohttp", "http2"])
def test_the_address_policy_still_applies_to_the_target(site: TestSite,
                                                        http2: bool) -> None:
    """A target the policy refuses (loopback, not allowed) is refused before anything is
    sent: the proxy (on loopback itself, and allowed as the config's proxy) sees nothing."""
    with ForwardProxy() as proxy:
        cfg = load_config_text(textwrap.dedent(f"""\
            name: test
            start_urls: [https://example.org/]
            network: {{proxy: '{proxy.url}', http2: {str(http2).lower()}}}
            """))

        async def fetch() -> None:
            policies: dict[str, Any] = {}
            async with make_client(cfg.network, policies) as client:
                await Fetcher(client, policies=policies).fetch(
                    site.url("/related/NATO"), politeness=cfg.politeness,
                    network=cfg.network)

        with pytest.raises(BlockedURL, match="loopback"):
            asyncio.run(fetch())
    assert proxy.forwarded() == []


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://127.0.0.1:21", "must be an http://, https:// or socks5:// URL"),
    ("http://127.0.0.1", "must name the proxy's port"),
    ("http://127.0.0.1:3128/path", "must be scheme://host:port only"),
    ("127.0.0.1:3128", "must be an http://, https:// or socks5:// URL"),
    ("http://:3128", "has no valid host"),
    ("http://u:hunter2-pw@127.0.0.1", "http://u:***@127.0.0.1"),
    ("'http://${NO_SUCH_PROXY_VAR_7}:3128'", "NO_SUCH_PROXY_VAR_7, which is not set"),
    ("[a]", "must be a string"),
])
def test_bad_proxy_urls_are_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(f"name: x\nstart_urls: [https://example.org/]\n"
                         f"network:\n  proxy: {value}\n", "site.yaml")
    assert str(err.value).startswith("site.yaml:4: network.proxy: ")
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)


def test_configs_of_one_run_must_share_their_proxy(site: TestSite, tmp_path: Path) -> None:
    with ForwardProxy() as proxy:
        direct = config(site)
        proxied = config(site, f", proxy: '{proxy.url}'")
        with Archive.open(str(tmp_path / "a.db")) as archive, \
                pytest.raises(ConfigError, match="network.proxy / network.trust_env differ"):
            asyncio.run(crawl([direct, proxied], archive, limits=CrawlLimits()))
    assert proxy.forwarded() == [] and site.stats().requests == 0
