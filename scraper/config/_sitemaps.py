"""The sitemap keys: `sitemaps:` (sitemap URLs that seed the crawl) and `start:` (whether the
start hosts' robots.txt `Sitemap:` lines seed it too), and their checks across keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scraper.config._fields import _crawlable_urls, _Ctx, _unique, _url_host

if TYPE_CHECKING:
    from scraper.config._model import CrawlConfig

# `start: urls` (the default): the start URLs alone; `start: sitemap`: also every sitemap
# that the start URLs' hosts list in their robots.txt.
START_MODES = ("urls", "sitemap")


def sitemap_urls(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    """`sitemaps:`: http(s) URLs of sitemaps or sitemap indexes, plain or gzip."""
    return _crawlable_urls(ctx, key, value, refused="cannot be fetched")


def sitemap_hosts(cfg: CrawlConfig) -> tuple[str, ...]:
    """The hosts of the `sitemaps:` URLs, which the scope admits when it names none."""
    return _unique(_url_host(url) for url in cfg.sitemaps)


def check_sitemaps(ctx: _Ctx, cfg: CrawlConfig) -> None:
    """Checks across keys: something to start from, a sitemap's host in scope.domains (its
    URLs are checked one by one when read), and no sitemap for a source that does not use
    them."""
    if not cfg.start_urls and not cfg.sitemaps:
        raise ctx.error("start_urls", "must list at least one http or https URL (or give "
                                      "sitemaps)")
    if cfg.start == "sitemap" and not cfg.start_urls:
        raise ctx.error("start", "`start: sitemap` reads the robots.txt of the start URLs' "
                                 "hosts: list at least one in start_urls")
    for i, url in enumerate(cfg.sitemaps):
        host = _url_host(url)
        if not any(host == d or host.endswith("." + d) for d in cfg.scope.domains):
            raise ctx.error(f"sitemaps[{i}]", f"{url!r}: its host {host!r} is not in "
                                              f"scope.domains ({', '.join(cfg.scope.domains)})")
    if cfg.source != "html" and (cfg.sitemaps or cfg.start == "sitemap"):
        key = "sitemaps" if cfg.sitemaps else "start"
        raise ctx.error(key, f"only used with `source: html` (this config's source is "
                             f"{cfg.source}, which finds its own pages)")
