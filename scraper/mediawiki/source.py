"""The `source: mediawiki` crawl: a wiki's pages archived revision by revision through its API.

A run asks the wiki which pages changed instead of fetching every page:

- the first run (and any run after the selection keys of the config changed) enumerates the
  selected pages (start pages, `titles`, `categories`, `allpages`, links of the start pages),
  looks up their current revisions (50 titles a request) and fetches the page view of each
  revision the archive lacks, with up to `backfill` past revisions before it;
- later runs read `list=recentchanges` since the start of the last completed run and fetch
  only revisions the archive lacks, follow moves (the history is copied to the new title, the
  old title gets its redirect page as a new version) and mark deleted pages gone; pages due
  by `recrawl_after` are confirmed with one lookup per 50 pages and fetched only when their
  revision is new. A revision already archived is never fetched again.

Each version is stored under the page's article URL (`/wiki/Title`) with the wiki's revision
id, timestamp, user and edit summary; the body is the full page view of that very revision
(`/wiki/Title?oldid=N`), parsed by the mediawiki parser, with the lead summary from
TextExtracts when the wiki has it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scraper.config import MediaWikiSource
from scraper.errors import BlockedURL, FetchError, HTTPStatusError, ParseError, SkippedContent
from scraper.mediawiki.api import EXTRACTS_BATCH, TITLE_BATCH, MediaWikiClient, mw_timestamp
from scraper.mediawiki.connect import connect, synced_at
from scraper.mediawiki.history import backfill_page, copy_history
from scraper.mediawiki.plan import (
    ChangePlan,
    article_url,
    plan_changes,
    rc_namespaces,
    statically_selected,
    summary_from_extract,
    title_from_url,
    title_key,
    view_url,
)
from scraper.mediawiki.records import PageState, SiteInfo, TitleLookup
from scraper.models import FetchResult, FrontierItem, RevisionMeta
from scraper.parse import parse_page
from scraper.urls import out_of_scope_reason

if TYPE_CHECKING:
    from scraper.crawl.source import CrawlContext

log = logging.getLogger(__name__)

__all__ = ["SINCE_MARGIN", "WikiRun", "crawl_wiki"]

# recentchanges is read from a little before the last completed run started: it covers a
# wiki clock behind ours, and re-listed revisions cost nothing (they are archived already).
SINCE_MARGIN = timedelta(minutes=5)


class _Stop(Exception):
    """The run's page budget (max_pages) is spent while work remains."""


async def crawl_wiki(ctx: CrawlContext, run_id: int) -> str:
    """One run of a `source: mediawiki` config through the crawl's context `ctx`. Returns the
    run's status: completed, max_pages, max_time, or failed when the wiki's API could not be
    used (then nothing marks the wiki as synchronised, and the next run asks again)."""
    run = WikiRun(ctx, run_id)
    if ctx.deadline is None:
        return await run.run()
    remaining = ctx.deadline - time.monotonic()
    if remaining <= 0:
        return "max_time"
    timeout = asyncio.timeout(remaining)
    try:
        async with timeout:
            return await run.run()
    except TimeoutError:
        if timeout.expired():
            log.info("%s: time is up (--max-time)", ctx.config.name)
            return "max_time"
        raise


class WikiRun:
    """One run of one wiki config."""

    def __init__(self, ctx: CrawlContext, run_id: int) -> None:
        self.ctx = ctx
        self.run_id = run_id
        self.cfg = ctx.config
        self.archive = ctx.archive
        # Every archive call goes through the crawl's gate: other configs of the same crawl
        # write from the archive thread.
        self.db = ctx.db
        self.options = ctx.config.mediawiki or MediaWikiSource()
        self.api_url = self.options.api or ""
        self._wiki: MediaWikiClient | None = None
        self._site: SiteInfo | None = None
        self.start_titles: list[str] = []
        self.views = 0  # page views fetched
        self.synced_at: datetime | None = None  # start of the last completed run

    @property
    def wiki(self) -> MediaWikiClient:
        assert self._wiki is not None, "the API client is made first thing in run()"
        return self._wiki

    @property
    def site(self) -> SiteInfo:
        assert self._site is not None, "siteinfo is read first thing in run()"
        return self._site

    # --- the run ----------------------------------------------------------------------------

    async def run(self) -> str:
        name = self.cfg.name
        try:
            # Every retry (the API client's after 5xx, 429 or maxlag, the fetcher's) is
            # counted in the run's summary as it is made.
            self._wiki, self._site = await connect(self.ctx, self.options,
                                                   on_retry=self.ctx.count_retry)
        except FetchError as exc:
            self._site_failed(exc)
            return "failed"
        self.api_url = self.wiki.api_url
        self.start_titles = [t for t in (title_from_url(self.site, u)
                                         for u in self.cfg.start_urls) if t]
        self.synced_at = synced_at(self.ctx, self.run_id)
        since = None if self.synced_at is None else self.synced_at - SINCE_MARGIN
        try:
            status = await (self.full() if since is None else self.incremental(since))
        except _Stop:
            status = "max_pages"
        except FetchError as exc:
            self._site_failed(exc)
            status = "failed"
        log.info("%s: %s run %s: %d API requests, %d page views", name,
                 "full" if since is None else "incremental", status, self.wiki.requests,
                 self.views)
        return status

    def _site_failed(self, exc: FetchError) -> None:
        # Recorded against api.php itself (or the start page it was to be found from).
        url = (self.api_url or exc.url).split("?")[0] or self.cfg.start_urls[0]
        log.error("%s: the wiki's API cannot be used: %s", self.cfg.name, exc)
        self.ctx.record_failure(self.run_id, FrontierItem(url=url, site=self.cfg.name), exc)

    # --- first runs: enumerate --------------------------------------------------------------

    async def full(self) -> str:
        titles = await self.selection()
        seen_ids: set[int] = set()
        # Looked up and synchronised 50 titles at a time, so that a run cut short by
        # max_pages or the deadline has not asked about pages it never reaches.
        for start in range(0, len(titles), TITLE_BATCH):
            batch = titles[start:start + TITLE_BATCH]
            lookup = await self.wiki.page_info(batch)
            states = []
            for title in batch:
                state = lookup.get(title)
                if state is not None and state.page_id not in seen_ids:
                    seen_ids.add(state.page_id)
                    states.append(state)
            for title in lookup.missing:
                url = article_url(self.site, title)
                if self.known(url) and not self.is_gone(url):
                    self.mark_gone(url, "no longer on the wiki")
                else:
                    log.warning("%s: no page %r on the wiki", self.cfg.name, title)
            for title, why in lookup.invalid:
                log.warning("%s: title %r skipped: %s", self.cfg.name, title, why)
            await self.sync_states(states)
        await self.check_due()
        return "completed"

    async def selection(self, *, categories: bool = True, allpages: bool = True,
                        links: bool = True) -> list[str]:
        """The selected titles in config order, each once (not yet resolved)."""
        opts = self.options
        titles = [*self.start_titles, *opts.titles]
        if categories:
            for category in opts.categories:
                refs = await self.wiki.category_members(category, depth=opts.category_depth)
                titles += [ref.title for ref in refs]
        if allpages and (opts.allpages_prefix is not None or opts.allpages_namespace is not None):
            refs = await self.wiki.all_pages(prefix=opts.allpages_prefix,
                                             namespace=opts.allpages_namespace or 0)
            titles += [ref.title for ref in refs]
        if links and opts.follow_links and self.start_titles:
            titles += [ref.title for ref in await self.wiki.linked_pages(self.start_titles)]
        return list(dict.fromkeys(titles))

    # --- later runs: recentchanges ----------------------------------------------------------

    async def incremental(self, since: datetime) -> str:
        changes = await self.wiki.recent_changes(
            since, namespaces=rc_namespaces(self.options, self.start_titles))
        plan = plan_changes(changes)
        if not plan.empty:
            for move in plan.moves:
                self.follow_move(move.old_title, move.new_title)
            await self._apply(plan)
        await self.check_due()
        return "completed"

    async def _apply(self, plan: ChangePlan) -> None:
        reasons: dict[str, str] = {}
        for title, comment in plan.deleted:
            reasons[title] = "deleted on the wiki" + (f" ({comment})" if comment else "")
        for move in plan.moves:
            if not move.left_redirect:
                reasons[move.old_title] = f"moved to {move.new_title!r} without a redirect"
        unknown_main = False
        start_changed = False
        wanted: list[str] = []
        start_keys = {title_key(t) for t in self.start_titles}
        for rev in plan.revised:
            url = article_url(self.site, rev.title)
            if self.db.call(self.archive.has_revision, url, rev.revid):
                continue  # listed again (the margin before `since`): archived already
            start_changed |= title_key(rev.title) in start_keys
            if self.known(url) or statically_selected(rev.title, rev.ns, self.options,
                                                      self.start_titles):
                wanted.append(rev.title)
            elif rev.ns == 0 and not self._seen_before(rev.timestamp):
                unknown_main = True  # it may have joined a selected category
        # A move whose revision is archived was followed by an earlier run.
        moved = [t for move in plan.moves for t in (move.old_title, move.new_title)
                 if move.revid is None or not self.db.call(
                     self.archive.has_revision, article_url(self.site, move.new_title),
                     move.revid)]
        for title in moved:
            if title not in wanted and (self.known(article_url(self.site, title))
                                        or statically_selected(title, 0, self.options,
                                                               self.start_titles)):
                wanted.append(title)
        for title in [t for t, _ in plan.deleted] + list(plan.restored):
            if title not in wanted and self.known(article_url(self.site, title)):
                wanted.append(title)
        # A page joins a category or the start pages' links only through an edit: enumerate
        # those again only when such an edit happened.
        refresh_categories = bool(self.options.categories) and unknown_main
        refresh_links = self.options.follow_links and start_changed
        selected: set[str] = set()
        if refresh_categories or refresh_links:
            found = await self.selection(categories=refresh_categories, allpages=False,
                                         links=refresh_links)
            selected = {title_key(t) for t in found}
            wanted += [t for t in found if t not in wanted
                       and not self.known(article_url(self.site, t))]
        if not wanted:
            return
        lookup = await self.wiki.page_info(wanted, redirects=False)
        states = []
        for title in wanted:
            state = lookup.get(title)
            url = article_url(self.site, state.title if state else lookup.resolve(title))
            if state is None:
                if self.known(url) and not self.is_gone(url):
                    self.mark_gone(url, reasons.get(title, "no longer on the wiki"))
            elif self.known(url) or (not state.redirect and (
                    title_key(state.title) in selected
                    or statically_selected(state.title, state.ns, self.options,
                                           self.start_titles))):
                states.append(state)
        await self.sync_states(states)

    def _seen_before(self, timestamp: str) -> bool:
        """Whether a change was listed to the last completed run already (the margin before
        `since` lists it again): it cannot have added pages that run did not see."""
        return self.synced_at is not None and timestamp < mw_timestamp(self.synced_at)

    # --- pages due by recrawl_after ---------------------------------------------------------

    async def check_due(self) -> None:
        """Confirm the pages due by recrawl_after with one lookup per 50: a page whose current
        revision is archived is only marked seen; others are fetched."""
        passed: set[str] = set()
        while True:
            items = self.db.call(self.archive.due, self.cfg.name, self.ctx.clock(), TITLE_BATCH,
                                     exclude=self.ctx.done | passed)
            if not items:
                return
            passed.update(item.url for item in items)
            titled: list[tuple[FrontierItem, str]] = []
            for item in items:
                title = title_from_url(self.site, item.url)
                if title is None:
                    self.skip(item.url, "not a page of the wiki (it may serve to find the API)")
                else:
                    titled.append((item, title))
            if not titled:
                continue
            lookup = await self.wiki.page_info([t for _, t in titled], redirects=False)
            await self.sync_states(self._due_states(titled, lookup))

    def _due_states(self, titled: Sequence[tuple[FrontierItem, str]],
                    lookup: TitleLookup) -> list[PageState]:
        states = []
        for item, title in titled:
            state = lookup.get(title)
            if state is None:
                if self.known(item.url):
                    self.mark_gone(item.url, "no longer on the wiki")
                else:
                    self.ctx.record_failure(self.run_id, item, HTTPStatusError(
                        item.url, 404, f"no page {title!r} on the wiki"))
                continue
            canonical = article_url(self.site, state.title)
            if canonical == item.url and (self.known(item.url) or not state.redirect):
                states.append(state)
            else:
                # A start URL naming a redirect or an unnormalised title: its page is
                # archived under its own URL.
                self.skip(item.url, f"stands for {state.title!r} on the wiki, which is "
                                    "archived under its own URL", warn=False)
        return states

    # --- one page ---------------------------------------------------------------------------

    async def sync_states(self, states: Sequence[PageState]) -> None:
        """Bring each page's archive up to its current revision, 20 at a time (a
        TextExtracts request covers 20 pages)."""
        for start in range(0, len(states), EXTRACTS_BATCH):
            todo: list[tuple[PageState, str]] = []
            for state in states[start:start + EXTRACTS_BATCH]:
                url = article_url(self.site, state.title)
                if url in self.ctx.done:
                    continue
                reason = out_of_scope_reason(url, self.cfg.scope)
                if reason is not None:
                    self.skip(url, reason)
                elif self.db.call(self.archive.has_revision, url, state.revision_id):
                    self.seen(url, state.revision_id)
                else:
                    todo.append((state, url))
            if not todo:
                continue
            extracts = await self.extracts([s for s, _ in todo if not s.redirect])
            for state, url in todo:
                if self.options.backfill and not state.redirect:
                    await self.backfill(state, url)
                await self.store(url, state.title, state.revision, extracts.get(state.title),
                                 redirect=state.redirect)

    async def extracts(self, states: Sequence[PageState]) -> dict[str, str]:
        if not states or not self.options.use_textextracts:
            return {}
        if not await self.wiki.supports_extracts():
            return {}
        return await self.wiki.extracts([s.title for s in states])

    async def store(self, url: str, title: str, revision: RevisionMeta, extract: str | None,
                    *, redirect: bool = False) -> None:
        """Fetch the page view of one revision and archive it under `url`."""
        ctx, cfg = self.ctx, self.cfg
        if ctx.max_pages is not None and ctx.counts.started >= ctx.max_pages:
            raise _Stop
        view = view_url(self.site, title, revision.revision_id, redirect=redirect)
        ctx.counts.started += 1
        ctx.done.add(url)
        item = (self.db.call(self.archive.frontier_item, url)
                or FrontierItem(url=url, site=cfg.name))
        self.views += 1
        try:
            result = await ctx.fetcher.fetch(
                view, politeness=cfg.politeness, network=cfg.network,
                scope_check=lambda hop: out_of_scope_reason(hop.split("?")[0], cfg.scope),
                on_retry=ctx.count_retry, credentials=ctx.credentials)
        except (BlockedURL, SkippedContent) as exc:
            self.skip(url, exc.reason)
            return
        except FetchError as exc:
            ctx.record_failure(self.run_id, item, exc)
            return
        now = ctx.clock()
        # On the crawl's parser threads: a pathological page must not stall the event loop.
        try:
            page = await asyncio.get_running_loop().run_in_executor(
                ctx.parsers.threads, functools.partial(
                    parse_page, result.body, result.final_url, parser="mediawiki",
                    content_type=result.header("content-type"),
                    max_links=cfg.max_links_per_page))
        except ParseError as exc:  # markup past the parser's bounds: this page's failure
            ctx.record_failure(self.run_id, item, exc)
            return
        if page.revision_id is not None and page.revision_id != revision.revision_id:
            log.warning("%s: asked for revision %d, the page shows %d", url,
                        revision.revision_id, page.revision_id)
        page = dataclasses.replace(page, url=url)
        if extract and extract.strip():
            page = dataclasses.replace(page, summary=summary_from_extract(extract))
        # Stored under the article URL; the view's own address is kept as final_url.
        result = dataclasses.replace(result, url=url)
        ctx.store(self.run_id, item, result, page, revision=revision,
                  next_due=ctx.recrawl_due(url, now))

    async def backfill(self, state: PageState, url: str) -> None:
        await backfill_page(self, state, url)

    def follow_move(self, old_title: str, new_title: str) -> None:
        copy_history(self, old_title, new_title)

    # --- bookkeeping without a fetch --------------------------------------------------------

    def known(self, url: str) -> bool:
        """Whether the archive has (or had) a version of `url`."""
        item = self.db.call(self.archive.frontier_item, url)
        return item is not None and item.fetch_count > 0

    def is_gone(self, url: str) -> bool:
        item = self.db.call(self.archive.frontier_item, url)
        return item is not None and item.gone

    def seen(self, url: str, revid: int) -> None:
        """The wiki reports the archived revision as current: the equivalent of a 304."""
        ctx = self.ctx
        now = ctx.clock()
        ctx.done.add(url)
        sighting = FetchResult(url=url, final_url=url, status=304, headers=(), body=b"",
                               fetched_at=now, elapsed_s=0.0)
        self.db.call(self.archive.record_not_modified, self.run_id, self.cfg.name, sighting,
                     next_due=ctx.recrawl_due(url, now))
        ctx.counts.not_modified += 1
        log.info("%s: revision %d already archived", url, revid)
        ctx.emit("not_modified", url, detail=f"revision {revid} already archived")

    def mark_gone(self, url: str, reason: str) -> None:
        """The wiki confirms the page is no more: marked gone at once (no waiting for
        gone_after 404s), rechecked rarely in case it is restored."""
        ctx = self.ctx
        now = ctx.clock()
        ctx.done.add(url)
        self.db.call(self.archive.record_failure, self.run_id, self.cfg.name, url,
                     reason=reason, attempts=1, status=404, now=now, gone=True,
                     next_due=ctx.gone_recheck_due(now))
        ctx.counts.failed += 1
        log.info("%s: gone: %s", url, reason)
        ctx.emit("failed", url, status=404, detail=f"gone: {reason}")

    def skip(self, url: str, reason: str, *, warn: bool = True) -> None:
        ctx = self.ctx
        now = ctx.clock()
        ctx.done.add(url)
        self.db.call(self.archive.record_skipped, self.run_id, self.cfg.name, url,
                     reason=reason, now=now,
                     next_due=ctx.recrawl_due(url, now))
        ctx.counts.skipped += 1
        (log.warning if warn else log.info)("%s: skipped: %s", url, reason)
        ctx.emit("skipped", url, detail=reason)
