"""ArchiveBackend: every operation the crawl, diff, export and CLI make on an archive.

A backend (SQLite today) implements it; callers type against it and never see a connection,
so the same crawl and commands run on any backend. The contract, for every member:

- Errors: storage failures raise ArchiveError naming the archive (`path`); an unknown page
  or version raises ArchiveError naming the URL and the versions there are. Nothing is
  returned to mean failure.
- Writes: each write method is one transaction, committed whole or not at all. Inside
  `batch()` each stays all-or-nothing on its own (a failed one is undone and raises, the
  others still commit with the batch). An archive opened read-only refuses every write.
- Times are UTC-aware datetimes; URLs arrive normalised (this layer only stores them).
- One thread uses an archive at a time (a crawl makes every call from its archive thread).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from scraper.archive.encode import EncodedPage
from scraper.archive.notify_records import NotifyBacklog, OutboxChange
from scraper.archive.records import SaveResult
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, CrawlWorker
from scraper.models import (
    CrawlStats,
    FetchResult,
    FrontierItem,
    Page,
    RevisionMeta,
    Snapshot,
    VersionSummary,
)


class ArchiveBackend(Protocol):
    """An open archive. Get one with scraper.archive.Archive.open(location)."""

    @property
    def path(self) -> str:
        """Where the archive is, as messages and ArchiveError name it (a file path; for a
        server, its location without credentials)."""
        ...

    @property
    def schema_version(self) -> int:
        """The version of the archive's schema (opening upgrades it to this release's)."""
        ...

    # opening and closing

    def close(self) -> None:
        """Release the archive; uncommitted writes (outside a finished batch) are lost."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """close()."""
        ...

    def prepare_bulk_writes(self) -> None:
        """Get ready for long batches of writes (a crawl): the backend may hold more memory
        (a larger page cache) from now on, which readers such as an export do not need."""
        ...

    def batch(self) -> AbstractContextManager[None]:
        """Make the writes inside one transaction, committed when the block ends.

        Each write inside stays all-or-nothing on its own; a write that fails is undone and
        raises, the others still commit. An error that escapes the block rolls the whole
        batch back and is raised (a storage error as ArchiveError). Nested batches join the
        outer one.
        """
        ...

    def join_crawl(self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> CrawlWorker:
        """Take part in crawling this archive: the crawl claims its URLs and shares its
        hosts' politeness through the worker returned (scraper.archive.sharing), and this
        archive's writes end its claims. Where other processes may crawl the same archive
        (a server), a claim is leased for `lease_seconds` and renewed while the worker
        lives, and each write then commits on its own (batch() groups nothing), so that
        other workers see it at once and a dropped connection loses no written page. Call
        the worker's leave() when the crawl ends."""
        ...

    # runs

    def start_run(self, sites: Sequence[str], config: Mapping[str, Any],
                  started_at: datetime) -> int:
        """A new run, `running` until finish_run; returns its id.

        When this process holds the crawl lock (scraper.lock.ArchiveLock), runs left
        `running` by a process that died are marked `killed` in the same transaction, with
        the counts their rows show. After join_crawl on an archive that workers share, a
        running run of the same sites that live workers take part in is joined instead (its
        id returned): the run spans the workers, each finishing its own part.
        """
        ...

    def finish_run(self, run_id: int, stats: CrawlStats, *, status: str, ended_at: datetime,
                   alerts: Sequence[Mapping[str, Any]] = ()) -> None:
        """Record the end of run `run_id`: `status` (one of RUN_STATUSES), its counts and
        alerts, each alert queuing an outbox row (event `breakage`) in the same transaction.
        Raises ArchiveError for an unknown status or run. In a run that workers
        share, these are this worker's part: the run adds the parts up, and ends (with this
        status) when its last live worker finishes; `stats.extra["workers"]` then lists
        each worker's part (RUN_WORKER_KEYS)."""
        ...

    def run_statuses(self) -> dict[str, int]:
        """How many runs ended with each status (`running`: in progress, or killed and not
        yet found by the next crawl), most frequent first."""
        ...

    def last_run(self, site: str | None = None, *, status: str | None = None,
                 before: int | None = None) -> dict[str, Any] | None:
        """The most recent run (of `site`, that ended with `status`, older than run id
        `before`) as a dict of the run's fields (id, started_at, ended_at, status, sites,
        config, the counts, alerts, extra; the JSON ones decoded); None if none."""
        ...

    # fetch results

    def save(self, run_id: int, site: str, fetch: FetchResult, page: Page, *,
             next_due: datetime, discovered: Sequence[FrontierItem] = (),
             revision: RevisionMeta | None = None, change_gist: str = "",
             encoded: EncodedPage | None = None) -> SaveResult:
        """Store one fetched and parsed page, in one transaction.

        A new version is made only when the page's content hash differs from the current
        version's; otherwise the current version is only marked seen again. The frontier row
        of `fetch.url` (due again at `next_due`) and the `discovered` URLs are written in
        the same transaction; so is a new version's outbox row (event `version`).

        :param encoded: encode_page(page, fetch.body, ...) made ahead (a crawl makes it in
            its parse workers); made here when not given.
        """
        ...

    def record_not_modified(self, run_id: int, site: str, fetch: FetchResult, *,
                            next_due: datetime) -> None:
        """A 304 answer: the current version was seen again; no body is stored."""
        ...

    def record_failure(self, run_id: int, site: str, url: str, *, reason: str, attempts: int,
                       status: int | None, now: datetime, next_due: datetime,
                       gone: bool = False, queue: bool = True) -> None:
        """A failed fetch: recorded with the run; the URL's failures-in-a-row count grows and
        it is due again at `next_due`. `gone` marks the page (and URL) gone; a stored page
        marked gone now queues an outbox row (event `gone`) in the same transaction. `queue=False`:
        only the failure is recorded, for a URL that is not a page (a sitemap)."""
        ...

    def record_skipped(self, run_id: int, site: str, url: str, *, reason: str, now: datetime,
                       next_due: datetime) -> None:
        """A URL deliberately not archived (non-HTML, robots.txt, blocked address), due
        again at `next_due`."""
        ...

    # the frontier

    def enqueue(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Add URLs to the frontier (due at `now` unless the item says otherwise); returns
        how many were new. A known URL keeps its row; a smaller depth replaces a larger."""
        ...

    def requeue_modified(self, site: str, lastmods: Sequence[tuple[str, datetime]],
                         now: datetime) -> int:
        """Make due at `now` each fetched URL of `site` whose page changed after its last
        fetch, by the (url, lastmod) pairs a sitemap gives. URLs not queued, never fetched,
        waiting on a failure's back-off or due by `now` already are left as they are.
        Returns how many were made due."""
        ...

    def enqueue_now(self, items: Iterable[FrontierItem], now: datetime) -> int:
        """Queue URLs given by hand (`scraper add`, `crawl --url`): unknown ones are added,
        known ones made due at `now` (their depth, counts and history kept). Returns how
        many were new."""
        ...

    def forget(self, site: str, pattern: re.Pattern[str], *,
               dry_run: bool = False) -> list[str]:
        """Drop the frontier rows of `site` whose URL `pattern` finds a match in (search),
        never a page or a version; returns their URLs, sorted. A row that a live worker
        holds (a server's lease) is left. `dry_run`: only list them."""
        ...

    def due(self, site: str, now: datetime, limit: int,
            exclude: Collection[str] = (),
            only: Collection[str] | None = None) -> list[FrontierItem]:
        """Up to `limit` URLs of `site` due at `now`: never fetched first, then most overdue.
        `exclude` holds URLs in flight; `only`, when given, the URLs that may be returned.
        Pages marked gone are returned too when due."""
        ...

    def pending_count(self, site: str, now: datetime) -> int:
        """How many URLs of `site` are due at `now`."""
        ...

    def waiting_retries(self, site: str, now: datetime) -> tuple[int, datetime | None]:
        """How many failed URLs of `site` wait for their retry after `now`, and the
        earliest retry (None when none wait)."""
        ...

    def frontier_count(self, site: str | None = None) -> int:
        """How many URLs the frontier holds (of `site`; due or not)."""
        ...

    def frontier_item(self, url: str) -> FrontierItem | None:
        """The frontier row of `url`; None when it was never queued."""
        ...

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the latest stored fetch of `url`, for a conditional GET;
        (None, None) when there are none."""
        ...

    # one page

    def find_page_url(self, text: str) -> str:
        """The URL under which the archive stores the page that `text`, a URL as a person
        pastes it, names (any case of scheme and host, a fragment, a trailing slash, no
        scheme). Raises ArchiveError naming the URL and the closest stored URLs."""
        ...

    def has_revision(self, url: str, revision_id: int) -> bool:
        """Whether some stored version of `url` shows the wiki revision `revision_id`
        (False for a URL never stored)."""
        ...

    def current_hash(self, url: str) -> str | None:
        """The content hash of the latest version of `url` (None: nothing stored yet)."""
        ...

    def history(self, url: str) -> list[Snapshot]:
        """Every version of `url`, oldest first."""
        ...

    def snapshot(self, url: str, version: int | None = None) -> Snapshot:
        """One version's metadata (None: the latest)."""
        ...

    def page(self, url: str, version: int | None = None) -> Page:
        """The extracted fields of one version (None: the latest), as the parser made them.
        A stored copy that is damaged raises ArchiveError naming the URL."""
        ...

    def body(self, url: str, version: int | None = None) -> bytes:
        """The exact bytes fetched for one version (None: the latest). A stored copy that is
        damaged raises ArchiveError naming the URL."""
        ...

    def response_headers(self, url: str, version: int | None = None) -> list[tuple[str, str]]:
        """The response headers of one version's fetch, in order (None: the latest)."""
        ...

    def version_at(self, url: str, when: datetime) -> int | None:
        """The version of `url` current at `when` (None: not yet archived then)."""
        ...

    def page_info(self, url: str) -> dict[str, Any]:
        """What the archive knows of `url` as a page: url, site, kind, title, first_seen,
        last_fetched, last_changed, current_version, seen_count, not_modified_count, gone
        (a bool), gone_at."""
        ...

    def linking_to(self, url: str) -> list[dict[str, Any]]:
        """Pages whose latest version links to `url`: source, title, site, kind, anchor,
        version, since_version; by source URL."""
        ...

    def links_changes(self, url: str, from_version: int,
                      to_version: int) -> dict[str, list[dict[str, Any]]]:
        """Links of `url` "added" and "removed" between two versions (kind, target, anchor)."""
        ...

    # many pages (the iterators stream in constant memory, by URL then version)

    def iter_versions(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[tuple[str, Snapshot, Page]]:
        """(site, snapshot, page) of the latest version of each page, or of every version
        with `all_versions`, or of the version each page had at `as_of`; `since`/`until`
        keep versions made in [since, until)."""
        ...

    def iter_summaries(
        self, *, site: str | None = None, since: datetime | None = None,
        until: datetime | None = None, all_versions: bool = False, as_of: datetime | None = None,
    ) -> Iterator[VersionSummary]:
        """The versions iter_versions gives, as VersionSummary records: much cheaper than
        whole pages when a summary is all that is needed."""
        ...

    def iter_links(self, *, site: str | None = None,
                   all_versions: bool = False) -> Iterator[dict[str, Any]]:
        """The link graph: source, target, kind, anchor, version, site; of the latest
        versions, or with `all_versions` one row per link per version that has it."""
        ...

    def versions_between(self, since: datetime, until: datetime | None = None,
                         site: str | None = None) -> Iterator[tuple[str, Snapshot]]:
        """(site, snapshot) of every version made in [since, until)."""
        ...

    def latest_versions(self, limit: int, since: datetime | None = None,
                        until: datetime | None = None,
                        site: str | None = None) -> list[tuple[str, Snapshot]]:
        """(site, snapshot) of the `limit` newest versions made in [since, until), newest
        first; versions made at one time by URL, then version, descending. Read through the
        index on the versions' times: what a feed or a recent-changes list costs does not
        grow with the archive."""
        ...

    def gone_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages marked gone at or after `since` (page_info's fields), oldest first."""
        ...

    def new_pages(self, since: datetime, site: str | None = None) -> list[dict[str, Any]]:
        """Pages first archived at or after `since` (page_info's fields), oldest first."""
        ...

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over the current title, summary and text of every page, best
        first: url, site, title, version, snippet (matches in [brackets]), rank."""
        ...

    # the notification outbox (scraper.archive.notify_records; scraper.watch sends)

    def register_notify_target(self, site: str, target: str, label: str,
                               now: datetime) -> int:
        """Make `target` (a key) a notification target of `site`, shown as `label`; returns
        the outbox id it gets changes after. A target seen for the first time gets the
        changes queued from now on, not the ones before; a known one keeps its start and
        takes the new label."""
        ...

    def due_changes(self, site: str, target: str, now: datetime,
                    limit: int = 10_000) -> list[OutboxChange]:
        """The changes of `site` to send to the registered `target` now, oldest first: those
        queued after it was registered with no delivery yet, or a failed one whose retry
        time (`next_attempt`) has come. Raises ArchiveError for a target never registered."""
        ...

    def record_deliveries(self, target: str, change_ids: Sequence[int], *, status: str,
                          now: datetime, error: str | None = None,
                          next_attempt: datetime | None = None) -> None:
        """What sending `change_ids` to `target` did, in one transaction: `sent`, `skipped`
        (left out by the target's filter) or `failed` (attempts + 1, retried at
        `next_attempt`, `error` kept). A change sent or skipped stays so: a later call does
        not change it."""
        ...

    def prune_outbox(self, site: str) -> int:
        """Drop the changes of `site` queued before every one of its registered targets was
        first seen (all of them when it has none): no target will ever be sent those. Every
        version queues one, so an archive without watchers would keep them all for
        nothing. Returns how many were dropped."""
        ...

    def notify_backlog(self, site: str | None = None) -> list[NotifyBacklog]:
        """Per registered target (of `site`): what waits, what was sent, the next retry and
        the last error; by site, then in the order the targets were registered."""
        ...

    def sending_to(self, site: str, target: str) -> AbstractContextManager[None]:
        """Hold `target` of `site` for this process while it reads what is due, sends it
        and records the outcome: another process sending to it waits until the block ends,
        then finds those changes sent. (Crawl workers sharing a PostgreSQL archive end their
        runs at about the same time and each sends after its own.)"""
        ...

    # the whole archive

    def field_fill_rates(self, site: str, *, run_id: int | None = None) -> dict[str, float]:
        """Share (0..1) of versions with a non-empty value per field: the latest version of
        each page of `site`, or with `run_id` the versions that run made. Empty when none."""
        ...

    def site_counts(self) -> dict[str, dict[str, int]]:
        """Per site, by name in code-point order: its pages, versions and gone pages. What
        stats() tells per site without the sizes and fill rates that make it read every
        version (milliseconds instead of a fifth of a second at 100,000 versions)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Sizes and counts for `scraper stats`: path, file_size, schema_version, pages,
        gone_pages, versions, blobs, delta_blobs, bytes_fetched (raw bodies), bytes_stored
        (compressed), ratio, fields_blobs, fields_bytes, fields_bytes_stored, runs,
        failures, skipped, frontier, and per site pages, versions, gone and fill_rates."""
        ...
