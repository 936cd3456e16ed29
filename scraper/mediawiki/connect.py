"""The start of a `source: mediawiki` run: finding the wiki's api.php, the API client, and
the point from which the wiki's recent changes must be read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scraper.archive import ArchiveBackend
from scraper.config import MediaWikiSource, config_to_dict
from scraper.errors import ArchiveError, FetchError, HTTPStatusError
from scraper.mediawiki.api import MediaWikiClient
from scraper.mediawiki.errors import BadAnswer, NoApiFound
from scraper.mediawiki.plan import selection_changed
from scraper.mediawiki.readers import find_api_url
from scraper.mediawiki.records import SiteInfo
from scraper.timeutil import from_iso

if TYPE_CHECKING:
    from scraper.crawl.source import CrawlContext

log = logging.getLogger(__name__)

__all__ = ["RC_MAX_AGE", "connect", "previous_completed_run", "synced_at"]

# MediaWiki's default $wgRCMaxAge: older changes have left recentchanges, so a run whose last
# completed run is older than this enumerates the selection again.
RC_MAX_AGE = timedelta(days=90)


async def connect(ctx: CrawlContext, options: MediaWikiSource, *,
                  on_retry: Callable[[], None] | None = None
                  ) -> tuple[MediaWikiClient, SiteInfo]:
    """The API client of the config's wiki and its siteinfo (one request, plus one page view
    when api.php must be found from a start page no archived copy of which names it).

    :param on_retry: called at every retry of a request (the client's and the discovery's).
    """
    api_url = options.api
    from_archive = False
    if not api_url:
        api_url = ctx.db.call(api_from_archive, ctx.archive, ctx.config.start_urls)
        from_archive = api_url is not None
        api_url = api_url or await discover_api(ctx, on_retry=on_retry)
    try:
        return await _siteinfo(ctx, options, api_url, on_retry)
    except FetchError as exc:
        if not from_archive or not not_an_api(exc):
            # A wiki that is there but lagged, busy or unreachable would be all that again
            # at the address found anew: the run fails now, having waited once.
            raise
        # The archived page names an api.php the wiki has since moved.
        log.info("%s: %s does not answer as api.php (%s): finding it again",
                 ctx.config.name, api_url, exc.reason)
        return await _siteinfo(ctx, options, await discover_api(ctx, on_retry=on_retry),
                               on_retry)


def not_an_api(exc: FetchError) -> bool:
    """Whether `exc` says no api.php answers at its address (not found, gone, not JSON, a
    redirect away), rather than that the wiki is lagged, busy or unreachable."""
    if isinstance(exc, BadAnswer):
        return True
    return isinstance(exc, HTTPStatusError) and 400 <= exc.status < 500 and exc.status != 429


async def _siteinfo(ctx: CrawlContext, options: MediaWikiSource, api_url: str,
                    on_retry: Callable[[], None] | None) -> tuple[MediaWikiClient, SiteInfo]:
    pol, net = ctx.config.politeness, ctx.config.network
    # The API client uses the shared HTTP client directly: register the API host's address
    # policy with it first.
    await ctx.fetcher.admit(api_url, net)
    client = MediaWikiClient(ctx.fetcher.client, api_url, user_agent=pol.user_agent,
                             maxlag=options.maxlag, attempts=net.attempts,
                             backoff=net.backoff_base, retry_after_max=net.retry_after_max,
                             delay=pol.delay, on_retry=on_retry,
                             credentials=ctx.credentials)
    return client, await client.siteinfo()


def api_from_archive(archive: ArchiveBackend, start_urls: tuple[str, ...]) -> str | None:
    """The api.php an archived copy of a start page advertises (saves fetching the page)."""
    for url in start_urls:
        try:
            body = archive.body(url)
        except ArchiveError:
            continue
        api = find_api_url(body, url)
        if api:
            log.debug("%s: names its api.php: %s", url, api)
            return api
    return None


async def discover_api(ctx: CrawlContext, *, on_retry: Callable[[], None] | None = None) -> str:
    """The api.php the first start page links (its RSD link), fetched politely."""
    url = ctx.config.start_urls[0]
    result = await ctx.fetcher.fetch(url, politeness=ctx.config.politeness,
                                     network=ctx.config.network, on_retry=on_retry,
                                     credentials=ctx.credentials)
    api = find_api_url(result.body, result.final_url)
    if api is None:
        raise NoApiFound(url, "the page links no api.php (<link rel=\"EditURI\">); set "
                              "mediawiki.api in the config")
    log.info("%s: api.php found from %s: %s", ctx.config.name, url, api)
    return api


def previous_completed_run(archive: ArchiveBackend, site: str, before: int) -> dict[str, Any] | None:
    """The last run of `site` before run `before` that ended "completed": its id, start and
    config, or None."""
    run = archive.last_run(site, status="completed", before=before)
    if run is None:
        return None
    return {"id": run["id"], "started_at": run["started_at"], "config": run["config"]}


def synced_at(ctx: CrawlContext, run_id: int) -> datetime | None:
    """When the archive was last known to hold every selected page's current revision: the
    start of the last completed run of this config. None when this run must enumerate the
    selection instead: no completed run yet, a selection key of the config changed since, or
    that run is older than recentchanges keeps."""
    name = ctx.config.name
    previous = ctx.db.call(previous_completed_run, ctx.archive, name, run_id)
    if previous is None:
        log.info("%s: no completed run before: enumerating the selection", name)
        return None
    changed = selection_changed(previous["config"], config_to_dict(ctx.config))
    if changed:
        log.info("%s: %s changed since run %d: enumerating the selection again", name,
                 ", ".join(changed), previous["id"])
        return None
    started = from_iso(previous["started_at"])
    if ctx.clock() - started > RC_MAX_AGE:
        log.info("%s: the last completed run is older than recentchanges keeps (%d days): "
                 "enumerating the selection", name, RC_MAX_AGE.days)
        return None
    return started
