"""A run's seeds from sitemaps: the config's `sitemaps:` and, with `start: sitemap`, the
`Sitemap:` lines of the start hosts' robots.txt, read through the crawl's own fetcher (its
address policy, robots.txt, politeness and retries hold), indexes followed to a bounded
depth, every listed URL in scope queued like a start URL, and those whose `lastmod` is later
than their last fetch made due now (the others wait for their recrawl time).

A sitemap that cannot be read is that sitemap's recorded failure, never the run's end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from scraper.config import Network
from scraper.crawl.events import record_fields
from scraper.crawl.frontier import start_items
from scraper.crawl.source import CrawlContext
from scraper.errors import (
    FetchError,
    HostUnreachable,
    HTTPStatusError,
    PageFailure,
    ParseError,
    SkippedContent,
)
from scraper.models import FrontierItem
from scraper.parse.sitemap import MAX_SITEMAP_BYTES, MAX_SITEMAP_ENTRIES, Sitemap, parse_sitemap
from scraper.urls import (
    QueryRule,
    normalise_url,
    out_of_scope_reason,
    query_rule_of,
    url_in_domains,
)

log = logging.getLogger("scraper.crawl")

__all__ = ["MAX_INDEX_DEPTH", "MAX_SITEMAPS_PER_RUN", "SitemapReport", "seed_from_sitemaps",
           "seed_run"]

# The protocol forbids an index listing indexes; some sites nest one level all the same.
MAX_INDEX_DEPTH = 2
# Sitemap files read per run and config: an index may list 50,000 of them.
MAX_SITEMAPS_PER_RUN = 1000
# A lastmod further ahead than this is the site's clock or template, not a change: ignored,
# or the page would be due again on every run until that date.
FUTURE_LASTMOD_SLACK = timedelta(days=1)
# Served as XML, as gzip, or as whatever a server calls a .gz or a .xml file; the body
# decides (scraper.parse.sitemap). An HTML answer (a soft 404) is refused as not a sitemap.
SITEMAP_TYPES = frozenset({"application/xml", "text/xml", "application/gzip",
                           "application/x-gzip", "application/octet-stream", "text/plain",
                           "application/x-xml", ""})


@dataclass(slots=True)
class SitemapReport:
    """What a run took from its sitemaps (logged at the end of the seeding)."""

    sitemaps_read: int = 0
    sitemaps_failed: int = 0  # each recorded as that sitemap URL's failure
    sitemaps_skipped: int = 0  # past MAX_SITEMAPS_PER_RUN, MAX_INDEX_DEPTH or the run's time
    truncated: int = 0  # files over 50,000 entries: the rest of each ignored (and recorded)
    urls: int = 0  # page URLs listed
    queued: int = 0  # new to the frontier
    requeued: int = 0  # known, and due now because their lastmod moved
    out_of_scope: int = 0  # page URLs and child sitemaps outside scope: not queued
    bad_urls: int = 0  # <loc>s missing or not crawlable URLs
    bad_lastmods: int = 0  # lastmods unreadable or in the future: ignored for their URL


async def seed_run(ctx: CrawlContext, run_id: int, now: datetime, *,
                   sitemaps: bool = True) -> SitemapReport | None:
    """Queue a run's seeds: its start URLs, then what its sitemaps list (None without
    sitemaps, or with `sitemaps` false)."""
    await ctx.db.run(ctx.archive.enqueue, start_items(ctx.config), now)
    if not sitemaps or (not ctx.config.sitemaps and ctx.config.start != "sitemap"):
        return None
    return await seed_from_sitemaps(ctx, run_id)


async def seed_from_sitemaps(ctx: CrawlContext, run_id: int) -> SitemapReport:
    """Read the config's sitemaps and queue what they list (see the module's docstring)."""
    cfg = ctx.config
    report = SitemapReport()
    roots = [normalise_url(url) for url in cfg.sitemaps]
    if cfg.start == "sitemap":
        roots += await _robots_sitemaps(ctx, run_id, report)
    pending: deque[tuple[str, int]] = deque((url, 0) for url in dict.fromkeys(roots))
    seen = {url for url, _ in pending}
    while pending:
        out_of_time = ctx.deadline is not None and time.monotonic() >= ctx.deadline
        if out_of_time or report.sitemaps_read + report.sitemaps_failed >= MAX_SITEMAPS_PER_RUN:
            report.sitemaps_skipped += len(pending)
            log.warning("%s: %d sitemap(s) not read: %s", cfg.name, len(pending),
                        "the run's time is up" if out_of_time else
                        f"{MAX_SITEMAPS_PER_RUN:,} sitemaps read in this run already",
                        extra=record_fields("sitemaps_skipped"))
            break
        url, level = pending.popleft()
        sitemap = await _read(ctx, run_id, url, report)
        if sitemap is None:
            continue
        if sitemap.kind == "urlset":
            await _queue_pages(ctx, sitemap, report)
            continue
        if level + 1 > MAX_INDEX_DEPTH:
            report.sitemaps_skipped += len(sitemap.entries)
            await _fail(ctx, run_id, ParseError(url, f"sitemap index nested more than "
                                                     f"{MAX_INDEX_DEPTH} deep: the sitemaps it "
                                                     "lists are not read"), report)
            continue
        for entry in sitemap.entries:
            child = _crawlable(entry.url)
            if child is None:
                report.bad_urls += 1
            elif not url_in_domains(child, cfg.scope.domains):
                report.out_of_scope += 1
            elif child not in seen:
                seen.add(child)
                pending.append((child, level + 1))
    log.info("%s: sitemaps: %d read, %d failed; %d URLs listed, %d new, %d due again by "
             "lastmod, %d out of scope", cfg.name, report.sitemaps_read,
             report.sitemaps_failed, report.urls, report.queued, report.requeued,
             report.out_of_scope,
             extra=record_fields("sitemaps", **dataclasses.asdict(report)))
    return report


async def _robots_sitemaps(ctx: CrawlContext, run_id: int,
                           report: SitemapReport) -> list[str]:
    """The `Sitemap:` lines of the robots.txt of each start URL's host (those in scope)."""
    cfg = ctx.config
    origins = dict.fromkeys(f"{p.scheme}://{p.netloc}"
                            for p in (urlsplit(u) for u in cfg.start_urls))
    # The fetcher's robots.txt, read once per run for the crawl's own checks.
    found: list[str] = []
    for origin in origins:
        robots_url = origin + "/robots.txt"
        robots = await ctx.fetcher.robots(robots_url, cfg.politeness, cfg.network,
                                          ctx.count_retry, ctx.credentials)
        if robots.disallow_all_reason:
            # Unreadable (5xx, no answer): the host's pages fail too; its sitemaps with them.
            await _fail(ctx, run_id, HostUnreachable(robots_url, robots.disallow_all_reason,
                                                     host=urlsplit(origin).netloc), report)
            continue
        if robots.parser is None:
            log.info("%s: no robots.txt: no sitemaps from it", robots_url)
            continue
        for line in robots.parser.sitemaps:
            url = _crawlable(line)
            if url is None:
                report.bad_urls += 1
            elif not url_in_domains(url, cfg.scope.domains):
                report.out_of_scope += 1
            else:
                found.append(url)
    return found


def _sitemap_network(network: Network) -> Network:
    """A sitemap may be as large as the protocol allows, whatever the cap on pages."""
    return dataclasses.replace(
        network, max_body_bytes=max(network.max_body_bytes, MAX_SITEMAP_BYTES),
        max_decompressed_bytes=max(network.max_decompressed_bytes, MAX_SITEMAP_BYTES))


async def _read(ctx: CrawlContext, run_id: int, url: str,
                report: SitemapReport) -> Sitemap | None:
    """One sitemap file fetched and parsed; None when it failed (recorded)."""
    cfg = ctx.config
    try:
        result = await ctx.fetcher.fetch(
            url, politeness=cfg.politeness, network=_sitemap_network(cfg.network),
            accept=SITEMAP_TYPES, on_retry=ctx.count_retry,
            # The config's `request:` settings, sent to its own hosts only, as for pages.
            credentials=ctx.credentials,
            scope_check=lambda target: None if url_in_domains(target, cfg.scope.domains)
            else "its host is not in scope.domains")
        # Parsing 50 MB takes a while: off the event loop, which has pages to fetch.
        sitemap = await asyncio.to_thread(parse_sitemap, result.body, url)
    except SkippedContent as exc:
        await _fail(ctx, run_id, ParseError(url, f"not a sitemap: {exc.reason}"), report)
        return None
    except (FetchError, ParseError) as exc:
        await _fail(ctx, run_id, exc, report)
        return None
    except Exception as exc:  # noqa: BLE001 - one sitemap's failure, whatever raised it
        await _fail(ctx, run_id, FetchError(
            url, f"the sitemap could not be read ({type(exc).__name__}: {exc})"), report)
        return None
    report.sitemaps_read += 1
    report.bad_urls += sitemap.bad_locs
    report.bad_lastmods += sitemap.bad_lastmods
    if sitemap.truncated:
        report.truncated += 1
        await _fail(ctx, run_id, ParseError(
            url, f"sitemap lists more than {MAX_SITEMAP_ENTRIES:,} entries, the sitemaps "
                 f"protocol's cap: the first {MAX_SITEMAP_ENTRIES:,} were read, the rest "
                 "ignored"), report, counted=False)
    return sitemap


async def _queue_pages(ctx: CrawlContext, sitemap: Sitemap, report: SitemapReport) -> None:
    """Queue the in-scope URLs of a urlset, and make due those whose lastmod moved."""
    cfg = ctx.config
    now = ctx.clock()
    rule = query_rule_of(cfg.scope)  # as for start URLs and links: one URL per page
    items: list[FrontierItem] = []
    lastmods: list[tuple[str, datetime]] = []
    for entry in sitemap.entries:
        report.urls += 1
        url = _crawlable(entry.url, rule)
        if url is None:
            report.bad_urls += 1
            continue
        if out_of_scope_reason(url, cfg.scope) is not None:
            report.out_of_scope += 1
            continue
        items.append(FrontierItem(url=url, site=cfg.name, depth=0,
                                  discovered_from=sitemap.url, link_kind="sitemap"))
        if entry.lastmod is None:
            continue
        if entry.lastmod > now + FUTURE_LASTMOD_SLACK:
            report.bad_lastmods += 1
        else:
            lastmods.append((url, entry.lastmod))
    report.queued += await ctx.db.run(ctx.archive.enqueue, items, now)
    report.requeued += await ctx.db.run(ctx.archive.requeue_modified, cfg.name, lastmods, now)


async def _fail(ctx: CrawlContext, run_id: int, exc: PageFailure, report: SitemapReport, *,
                counted: bool = True) -> None:
    """Record a sitemap's failure (its URL never enters the frontier: it is no page)."""
    cfg = ctx.config
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    now = ctx.clock()
    await ctx.db.run(ctx.archive.record_failure, run_id, cfg.name, exc.url, reason=exc.reason,
                     attempts=exc.attempts, status=status, now=now, next_due=now,
                     queue=False)
    if counted:
        report.sitemaps_failed += 1
        ctx.counts.failed += 1
    log.warning("%s: sitemap: %s", exc.url, exc.reason,
                extra=record_fields("sitemap_failed", exc.url, status=status))
    ctx.emit("failed", exc.url, status=status, detail=exc.reason)


def _crawlable(text: str, rule: QueryRule | None = None) -> str | None:
    try:
        return normalise_url(text) if rule is None else normalise_url(text, rule=rule)
    except ValueError:
        return None
