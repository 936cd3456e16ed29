"""One config's run: the loop frontier -> fetch -> parse -> archive, its counts, events and
summary. crawl() (run.py) runs several at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from scraper.archive import SaveResult
from scraper.archive.encode import EncodedPage, encode_page
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, CrawlWorker
from scraper.config import CrawlConfig, config_to_dict
from scraper.crawl.alerts import BreakageMonitor
from scraper.crawl.archive_gate import ArchiveGate
from scraper.crawl.credentials import SiteCredentials
from scraper.crawl.events import CrawlEvent, EventSink, log_fields, record_fields
from scraper.crawl.fetch import Fetcher
from scraper.crawl.frontier import (
    DueAgain,
    FollowRule,
    due_after,
    failure_backoff,
    given_urls,
    gone_recheck_interval,
    recrawl_interval,
)
from scraper.crawl.parse_pool import ParsePool, ParseRequest
from scraper.crawl.pending import PendingEstimate
from scraper.crawl.run_stats import run_stats, with_run_parts
from scraper.crawl.sitemaps import seed_run
from scraper.crawl.source import BUILT_IN_SOURCE, RunCounts, load_source
from scraper.diff import diff_pages
from scraper.errors import (
    ArchiveError,
    BlockedURL,
    ClaimLost,
    FetchError,
    HostUnreachable,
    HTTPStatusError,
    PageFailure,
    ParseError,
    RobotsDisallowed,
    SkippedContent,
)
from scraper.models import CrawlStats, FetchResult, FrontierItem, Page, RevisionMeta
from scraper.urls import out_of_scope_reason

# Named as before the crawl became a package: JSON log lines show it (docs/cron.md).
log = logging.getLogger("scraper.crawl")

__all__ = ["CrawlLimits", "RunResult", "SiteCrawl"]

MAX_WORKERS = 256
# A worker of a shared crawl with nothing to claim while other workers hold due URLs looks
# again this often: their pages may add links, or their leases run out.
SHARED_POLL_S = 0.25

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RunResult:
    site: str
    run_id: int
    status: str  # completed | max_pages | max_time | interrupted | failed
    stats: CrawlStats
    alerts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class CrawlLimits:
    max_pages: int | None = None  # per config, overrides the config's
    max_time: float | None = None  # seconds for the whole run
    # How long a claim lasts without renewal on an archive that workers share. A dead
    # worker's URLs come back to the others after it.
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    # crawl --url: fetch these now, due or not, and no other queued URL (see given_urls).
    urls: tuple[str, ...] = ()


class SiteCrawl:
    """One config's part of a run, and the CrawlContext (scraper.crawl.source) that a page
    source other than link-following works through."""

    def __init__(self, config: CrawlConfig, gate: ArchiveGate, fetcher: Fetcher,
                 limits: CrawlLimits, deadline: float | None, events: EventSink,
                 clock: Callable[[], datetime], parsers: ParsePool,
                 worker: CrawlWorker) -> None:
        self.config = config
        # Where URLs are claimed (the archive's frontier; leased when workers share it).
        self.worker = worker
        self.follow_rule = FollowRule.of(config)
        self.hand, self.only = given_urls(config, limits.urls)  # queued due now; claimed alone
        self.credentials = SiteCredentials.of(config)  # request: headers, cookies, auth
        self.db = gate
        # Direct use of the archive from the event loop's thread must go through
        # self.db.call(...): the archive thread may be writing.
        self.archive = gate.archive
        self.fetcher = fetcher
        self.deadline = deadline
        self.max_pages = limits.max_pages if limits.max_pages is not None else config.max_pages
        self.events = events
        self.clock = clock
        self.parsers = parsers
        self.counts = RunCounts()
        self.monitor = BreakageMonitor(config.name)
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.errors: list[BaseException] = []
        # A run fetches a URL at most once, even when recrawl_after is shorter than the run.
        self.done: set[str] = set()
        self.due_again = DueAgain()
        self.run_id = 0
        self.result: RunResult | None = None  # once the run row is finished
        self.pending = PendingEstimate()
        hosts = max(1, len(config.scope.domains))
        # Pages in progress: twice what may be fetched at once (the fetcher's HostGate holds
        # each host to `concurrency`), so that pages waiting to be parsed or stored do not
        # leave the connections idle.
        self.workers = min(MAX_WORKERS, 2 * config.politeness.concurrency * hosts)

    async def run(self) -> RunResult:
        cfg = self.config
        started = self.clock()
        start = asyncio.ensure_future(self.db.run_durably(self.archive.start_run, [cfg.name],
                                                          config_to_dict(cfg), started))
        try:
            self.run_id = run_id = await asyncio.shield(start)
        except asyncio.CancelledError:
            # Stopped (Ctrl-C) while its row was written: the row is finished all the same.
            self.run_id = await start
            await self._finish(started, "interrupted")
            raise
        log_fields.set({"run": run_id, "site": cfg.name})
        log.info("%s: run %d started", cfg.name, run_id, extra=record_fields("run_start"))
        status = "completed"
        try:
            await seed_run(self, run_id, started, sitemaps=not self.hand)  # not with --url
            if self.hand:
                await self.db.run(self.archive.enqueue_now, self.hand, started)
            if cfg.source == BUILT_IN_SOURCE:
                status = await self._loop(run_id)
            else:
                status = await load_source(cfg.source)(self, run_id)
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        except Exception:
            # Recorded as failed, not completed: a wiki crawl reads recent changes from the
            # last completed run, and must not skip what this one missed.
            status = "failed"
            raise
        finally:
            for task in self.in_flight.values():
                task.cancel()
            if self.in_flight:
                await asyncio.gather(*self.in_flight.values(), return_exceptions=True)
            await self._finish(started, status)
        assert self.result is not None
        return self.result

    async def _finish(self, started: datetime, status: str) -> None:
        """Finish the run row with its counts, then tell the log and the event sink."""
        cfg = self.config
        ended = self.clock()
        # Queued behind every pending write, so the run row comes last.
        stats = await self.db.run(self._stats, ended, started, self.fetcher.host_delays(cfg.scope))
        alerts = self._breakage_alerts(self.run_id)
        await self.db.run_durably(self.archive.finish_run, self.run_id, stats, status=status,
                                  ended_at=ended, alerts=alerts)
        if self.shared:
            stats = await self.db.run(self._with_run_parts, stats)
        self.result = RunResult(cfg.name, self.run_id, status, stats, tuple(alerts))
        log.info("%s: run %d %s: fetched %d, new versions %d, failed %d, queued %d",
                 cfg.name, self.run_id, status, stats.fetched, stats.new_versions,
                 stats.failed, stats.queued,
                 extra=record_fields("run_end", run=self.run_id, site=cfg.name,
                                     outcome=status, fetched=stats.fetched,
                                     new_versions=stats.new_versions, failed=stats.failed,
                                     queued=stats.queued))
        self.events(CrawlEvent("run_end", cfg.name, detail=status, queued=stats.queued))

    async def _loop(self, run_id: int) -> str:
        while True:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return "max_time"
            if self.pending.stale():
                await self._count_pending()
            room = self.workers - len(self.in_flight)
            if self.max_pages is not None:
                room = min(room, self.max_pages - self.counts.started)
            items: list[FrontierItem] = []
            if room > 0:
                now = self.clock()
                items = await self.db.run(self.worker.claim, self.config.name, now, room,
                                          exclude=self._not_again(now), only=self.only)
                for item in items:
                    self.counts.started += 1
                    self.done.add(item.url)
                    task = asyncio.create_task(self._one(run_id, item))
                    task.add_done_callback(self._reap)
                    self.in_flight[item.url] = task
            limited = self.max_pages is not None and self.counts.started >= self.max_pages
            if not self.in_flight:
                if limited:
                    return "max_pages" if await self._pending() else "completed"
                if not await self._others_busy():
                    return "completed"
            timeout = None if self.deadline is None else max(0.0,
                                                             self.deadline - time.monotonic())
            if self.shared and not items and not limited:
                # Others may add due URLs at any time: look again soon.
                timeout = SHARED_POLL_S if timeout is None else min(timeout, SHARED_POLL_S)
            if self.in_flight:
                await asyncio.wait(self.in_flight.values(), timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            elif timeout:
                await asyncio.sleep(timeout)
            if self.errors:  # an archive that cannot be written, or a bug: end the run
                raise self.errors[0]

    @property
    def shared(self) -> bool:
        """Whether other workers may take part in this crawl (claims are leased)."""
        return self.worker.lease_seconds is not None

    async def _others_busy(self) -> bool:
        """Whether other workers hold due URLs of this site: their pages may add links."""
        if not self.shared or self.only is not None:  # --url: the others' links wait
            return False
        return bool(await self.db.run(self.worker.claimed_elsewhere, self.config.name,
                                      self.clock()))

    def drop_lost(self, urls: set[str]) -> None:
        """Claims lost to other workers (this worker's leases ran out): stop those pages."""
        for url in urls & self.in_flight.keys():
            self._count_lost(ClaimLost(url))
            self.in_flight[url].cancel()

    def _reap(self, task: asyncio.Task[None]) -> None:
        """Collect what a page's task raised (every one, so that none goes unretrieved)."""
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.errors.append(error)

    async def _pending(self) -> bool:
        now = self.clock()
        return bool(await self.db.run(self.archive.due, self.config.name, now, 1,
                                      exclude=self._not_again(now), only=self.only))

    def _not_again(self, now: datetime) -> set[str]:
        """The URLs this run has begun that could be due at `now`."""
        return self.due_again.by(now) | self.in_flight.keys()

    async def _one(self, run_id: int, item: FrontierItem) -> None:
        log_fields.set({**log_fields.get(), "url": item.url})
        try:
            await self._fetch_and_store(run_id, item)
        except ClaimLost as exc:
            self._count_lost(exc)
        finally:
            self.in_flight.pop(item.url, None)

    async def _fetch_and_store(self, run_id: int, item: FrontierItem) -> None:
        cfg = self.config
        etag, last_modified = (await self.db.run(self.archive.validators, item.url)
                               if item.fetch_count else (None, None))
        try:
            result = await self.fetcher.fetch(
                item.url, politeness=cfg.politeness, network=cfg.network, etag=etag,
                last_modified=last_modified,
                scope_check=lambda url: out_of_scope_reason(url, cfg.scope),
                on_retry=self.count_retry, credentials=self.credentials,
                query_rule=self.follow_rule.query)
        except (BlockedURL, SkippedContent) as exc:
            await self._skip(run_id, item, exc)
            return
        except FetchError as exc:
            await self._fail(run_id, item, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a URL's failure, whatever raised it
            await self._fail(run_id, item, FetchError(
                item.url, f"the fetch failed unexpectedly ({type(exc).__name__}: {exc})"))
            return
        now = self.clock()
        next_due = due_after(now, recrawl_interval(item.url, cfg))
        self.due_again.add(item.url, next_due)
        if result.not_modified:
            self.counts.not_modified += 1
            await self.db.run(self.archive.record_not_modified, run_id, cfg.name, result,
                              next_due=next_due)
            log.info("%s: not modified", item.url,
                     extra=record_fields("not_modified", item.url, status=304))
            self.emit("not_modified", item.url, status=304)
            return
        try:
            parsed = await self.parsers.parse(ParseRequest(
                result.body, item.url, result.final_url, result.header("content-type"),
                cfg.parser, cfg.selectors, cfg.max_links_per_page,
                first_version=item.fetch_count == 0, follow=self.follow_rule,
                depth=item.depth))
        except ParseError as exc:
            await self._fail(run_id, item, exc)
            return
        except Exception as exc:  # noqa: BLE001 - the parser's failure on this page only
            await self._fail(run_id, item, ParseError(
                item.url, f"the page could not be parsed ({type(exc).__name__}: {exc})"))
            return
        try:
            await self._write(lambda done: self._count_saved(item, result, *done),
                              self._save, run_id, item, result, parsed.page, next_due=next_due,
                              discovered=parsed.discovered, encoded=parsed.encoded)
        except (ArchiveError, ClaimLost, asyncio.CancelledError):
            raise  # the archive cannot be written: the run ends (see _loop)
        except Exception as exc:  # noqa: BLE001 - its savepoint was undone: nothing kept
            await self._fail(run_id, item, ParseError(
                item.url, f"the page could not be stored ({type(exc).__name__}: {exc})"))

    async def _skip(self, run_id: int, item: FrontierItem, exc: FetchError) -> None:
        cfg = self.config
        self.counts.skipped += 1
        now = self.clock()
        if item.depth == 0 and not isinstance(exc, (RobotsDisallowed, SkippedContent)):
            # A start URL that the config refuses (a redirect out of scope, an address): the
            # user must hear of it now, and a fixed config must not wait for recrawl_after,
            # so it is tried again on the failure back-off.
            wait = failure_backoff(item.attempts + 1)
            self.counts.start_skips.append(f"{item.url}: {exc.reason}")
        else:
            # The site's own choice (robots.txt, a content type), or a link the config does
            # not let the crawl follow: asked again at the page's next recrawl.
            wait = recrawl_interval(item.url, cfg)
        next_due = due_after(now, wait)
        await self.db.run(self.archive.record_skipped, run_id, cfg.name, item.url,
                          reason=exc.reason, now=now, next_due=next_due)
        self.due_again.add(item.url, next_due)
        log.warning("%s: skipped: %s", item.url, exc.reason,
                    extra=record_fields("skipped", item.url))
        self.emit("skipped", item.url, detail=exc.reason)

    async def _fail(self, run_id: int, item: FrontierItem, exc: PageFailure) -> None:
        await self._write(lambda _: self._count_failure(item, exc),
                          self._record_failure, run_id, item, exc)

    async def _write(self, then: Callable[[R], None], func: Callable[P, R], *args: P.args,
                     **kwargs: P.kwargs) -> None:
        """Run an archive write and count it with `then`. A run ended by --max-time cancels
        this task, but the write goes on in the archive thread and commits: wait for it, so
        that the run's counts say what the archive holds."""
        job = asyncio.ensure_future(self.db.run(func, *args, **kwargs))
        try:
            result = await asyncio.shield(job)
        except asyncio.CancelledError:
            then(await job)
            raise
        then(result)

    def store(self, run_id: int, item: FrontierItem, result: FetchResult, page: Page, *,
              next_due: datetime, discovered: Sequence[FrontierItem] = (),
              revision: RevisionMeta | None = None) -> None:
        """Save one parsed fetch (a new version or a sighting), count it and report it."""
        try:
            saved, gist = self.db.call(self._save, run_id, item, result, page, next_due=next_due,
                                       discovered=discovered, revision=revision)
        except ClaimLost as exc:
            self._count_lost(exc)
            return
        self._count_saved(item, result, saved, gist)

    def _save(self, run_id: int, item: FrontierItem, result: FetchResult, page: Page, *,
              next_due: datetime, discovered: Sequence[FrontierItem] = (),
              revision: RevisionMeta | None = None,
              encoded: EncodedPage | None = None) -> tuple[SaveResult, str]:
        if encoded is None:
            encoded = encode_page(page, result.body, first_version=False)
        gist = self.gist(item.url, page, encoded.content_hash)
        saved = self.archive.save(run_id, self.config.name, result, page, next_due=next_due,
                                  discovered=discovered, revision=revision, change_gist=gist,
                                  encoded=encoded)
        return saved, gist

    def _count_saved(self, item: FrontierItem, result: FetchResult, saved: SaveResult,
                     gist: str) -> None:
        self.counts.fetched += 1
        if saved.created:
            self.counts.new_versions += 1
            log.info("%s: version %d%s", item.url, saved.version, f" ({gist})" if gist else "",
                     extra=record_fields("new_version", item.url, status=result.status,
                                         version=saved.version))
            self.emit("new_version", item.url, status=result.status, version=saved.version,
                       detail=gist)
        else:
            self.counts.unchanged += 1
            log.info("%s: unchanged (version %d)", item.url, saved.version,
                     extra=record_fields("unchanged", item.url, status=result.status,
                                         version=saved.version))
            self.emit("unchanged", item.url, status=result.status, version=saved.version)

    def gist(self, url: str, page: Page, page_hash: str) -> str:
        """One line on what changed since the stored version; empty for a first or same one.
        `page_hash` is content_hash(page). Reads the archive: call it on the archive's
        thread (inside self.db)."""
        previous_hash = self.archive.current_hash(url)
        if previous_hash is None:
            return ""
        if previous_hash == page_hash:
            self.monitor.observe_unchanged(page)
            return ""
        stored = self.archive.page(url)
        self.monitor.observe(stored, page)
        return diff_pages(stored, page).gist()

    def record_failure(self, run_id: int, item: FrontierItem, exc: PageFailure) -> None:
        """Record a URL that could not be fetched, count it and report it."""
        try:
            self.db.call(self._record_failure, run_id, item, exc)
        except ClaimLost as lost:
            self._count_lost(lost)
            return
        self._count_failure(item, exc)

    def _record_failure(self, run_id: int, item: FrontierItem, exc: PageFailure) -> None:
        cfg = self.config
        now = self.clock()
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        attempts = item.attempts + 1
        gone = status in (404, 410) and attempts >= cfg.gone_after
        wait = gone_recheck_interval(cfg) if gone else failure_backoff(attempts)
        next_due = due_after(now, wait)
        self.due_again.add(item.url, next_due)
        self.archive.record_failure(run_id, cfg.name, item.url, reason=exc.reason,
                                    attempts=exc.attempts, status=status, now=now,
                                    next_due=next_due, gone=gone)

    def _count_failure(self, item: FrontierItem, exc: PageFailure) -> None:
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        self.counts.failed += 1
        if isinstance(exc, HostUnreachable):
            self.counts.unreachable[exc.host] = self.counts.unreachable.get(exc.host, 0) + 1
        log.warning("%s: failed after %d attempt(s): %s", item.url, exc.attempts, exc.reason,
                    extra=record_fields("failed", item.url, status=status))
        self.emit("failed", item.url, status=status, detail=exc.reason)

    def _count_lost(self, exc: ClaimLost) -> None:
        self.counts.claims_lost += 1
        log.warning("%s", exc, extra=record_fields("claim_lost", exc.url))

    def recrawl_due(self, url: str, now: datetime) -> datetime:
        return due_after(now, recrawl_interval(url, self.config))

    def gone_recheck_due(self, now: datetime) -> datetime:
        return due_after(now, gone_recheck_interval(self.config))

    def count_retry(self) -> None:
        """One more request repeated (a 5xx, a 429, a timeout, a maxlag refusal...), counted
        as it is made: the fetcher's and the MediaWiki client's, robots.txt's included."""
        self.counts.retried += 1

    def emit(self, kind: str, url: str, *, status: int | None = None,
              version: int | None = None, detail: str = "") -> None:
        queued = len(self.in_flight)
        self.events(CrawlEvent(kind, self.config.name, url, status, version, detail, queued,
                               self.pending.estimate(self.counts.ended, queued)))

    async def _count_pending(self) -> None:
        """Count the due URLs for the progress bar's total (pending.py: how often)."""
        def count(site: str, now: datetime) -> tuple[int, float]:
            began = time.perf_counter()
            return self.archive.pending_count(site, now), time.perf_counter() - began

        pending, took = await self.db.run(count, self.config.name, self.clock())
        self.pending.counted(pending, took, self.counts.ended)

    def _stats(self, ended: datetime, started: datetime, delays: dict[str, Any]) -> CrawlStats:
        return run_stats(self.archive, self.config.name, self.counts, started, ended,
                         self.worker.label if self.shared else None, delays)

    def _with_run_parts(self, stats: CrawlStats) -> CrawlStats:
        return with_run_parts(self.archive, self.config.name, self.run_id, stats)

    def _breakage_alerts(self, run_id: int) -> list[dict[str, Any]]:
        alerts = self.monitor.alerts()
        for alert in alerts:
            log.warning("parser breakage: %s", alert["message"])
        return alerts
