"""Command: `scraper testsite`, the built-in encyclopedia site in the foreground."""

from __future__ import annotations

import click

from scraper.cli.app import main
from scraper.testsite import MARKUPS, TestSite
from scraper.testsite.access import AccessRule
from scraper.testsite.hosts import MAX_HOSTS
from scraper.testsite.overload import Overload


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--pages", type=click.IntRange(min=1), default=200, show_default=True,
              help="How many topics (each has a listing and an article).")
@click.option("--page-kb", type=click.IntRange(min=1), default=None,
              help="Pad pages to about this many KB with 50-200 links each (benchmarks).")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Delay before each answer.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Content seed: the same seed gives the same pages.")
@click.option("--markup", type=click.Choice(MARKUPS), default="divs", show_default=True,
              help="Listing markup (switch it while running: POST /_control/markup).")
@click.option("--volatile-footer", is_flag=True,
              help="Put the current time in every page's footer.")
@click.option("--sitemaps", is_flag=True,
              help="Serve /sitemap.xml, an index of gzip sitemaps of every article with its "
                   "last edit as lastmod, named in robots.txt.")
@click.option("--prerender", is_flag=True,
              help="Render every page before serving (for benchmarks).")
@click.option("--hosts", type=click.IntRange(1, MAX_HOSTS), default=1, show_default=True,
              help="Serve on 127.0.0.1 .. 127.0.0.N (one port) as N hosts; topic i's pages "
                   "live on host i mod N.")
@click.option("--tracking-links", is_flag=True,
              help="Links carry tracking parameters (utm_*, fbclid, ...) and out-of-order "
                   "queries: several URLs for one page.")
@click.option("--overload", "overload_spec", default=None, metavar="SPEC",
              help="Serve like a server with a capacity: slower past it, 503 past a limit. "
                   "SPEC: capacity=4,latency_ms=50,reject_above=8,retry_after=1 (any of "
                   "them; a bare number is the capacity).")
@click.option("--require", "access_specs", multiple=True, metavar="SPEC",
              help="Every page but robots.txt answers 401/403 without this (repeatable): "
                   "basic=USER:PASSWORD, bearer=TOKEN, cookie=NAME=VALUE or "
                   "header=NAME:VALUE.")
def testsite(port: int, pages: int, page_kb: int | None, latency_ms: float, seed: int,
             tracking_links: bool,
             markup: str, volatile_footer: bool, sitemaps: bool, prerender: bool,
             hosts: int,
             overload_spec: str | None, access_specs: tuple[str, ...]) -> None:
    """Serve the built-in encyclopedia site on 127.0.0.1 until Ctrl-C.

    Listing pages /related/<topic> (shaped like an encyclopedia mirror), MediaWiki-like
    articles /info/<topic>, robots.txt, ETag / Last-Modified with 304 answers, fault URLs
    under /fault/ and JSON control endpoints under /_control/ to edit pages, switch faults
    and read what the server saw (see docs/testsite.md).

    \b
    Example:
      scraper testsite --pages 500 --latency-ms 20 &
      scraper crawl config/testsite.yaml
      curl -X POST 127.0.0.1:8000/_control/edit -d '{"slug": "NATO", "prepend_sentence": "News."}'
      curl 127.0.0.1:8000/_control/stats?log=0
    """
    try:
        overload = None if overload_spec is None else Overload.parse(overload_spec)
        site = TestSite(seed=seed, pages=pages, page_kb=page_kb, latency_ms=latency_ms,
                        markup=markup, volatile_footer=volatile_footer, port=port,
                        tracking_links=tracking_links,
                        hosts=hosts, overload=overload)
        for spec in access_specs:
            site.add_access_rule(AccessRule.parse(spec))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    site.sitemaps = sitemaps

    def started(url: str) -> None:
        if prerender:  # after start, so that canonical URLs carry the real port
            click.echo(f"rendering {pages} topics ...", err=True)
            site.prerender()
        spread = f", {hosts} hosts to {site.hosts[-1]}" if hosts > 1 else ""
        click.echo(f"built-in site: {url}/related/NATO  (seed {seed}, {pages} topics, "
                   f"markup {markup}{spread}); Ctrl-C stops it", err=True)
        for base_url in site.base_urls:  # the first is url: one line with one host
            click.echo(base_url)

    try:
        site.serve_forever(on_start=started)
    except OSError as exc:
        where = f"127.0.0.1:{port}" if hosts == 1 else f"127.0.0.1 .. {site.hosts[-1]}:{port}"
        raise click.ClickException(f"cannot serve on {where}: {exc}") from exc
