"""PostgresArchive: the archive in a PostgreSQL database; opening it (connecting, creating and
migrating the schema), closing it, and the parts that make it up."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from scraper.archive.blobs import DEFAULT_FULL_COPY_EVERY, DEFAULT_LEVEL, BlobStore
from scraper.archive.location import ArchiveLocation, parse_archive_location
from scraper.archive.postgres import schema
from scraper.archive.postgres.blobs import PostgresBlobRows
from scraper.archive.postgres.core import PostgresCore
from scraper.archive.postgres.frontier import SharedFrontier
from scraper.archive.postgres.outbox import PostgresNotifyOutbox
from scraper.archive.postgres.reads import PostgresReads
from scraper.archive.postgres.runs import PostgresRunStore
from scraper.archive.postgres.store import PostgresVersionStore
from scraper.archive.postgres.worker import PostgresCrawlWorker
from scraper.archive.sharing import DEFAULT_LEASE_SECONDS, CrawlWorker
from scraper.errors import ArchiveError
from scraper.models import FrontierItem

# The worker id of the frontier behind the protocol's frontier members: those take no
# leases, so no worker row is registered for them. A crawl joins (join_crawl) as a
# registered worker whose claims are leased.
NO_WORKER = 0


class PostgresArchive(PostgresVersionStore, PostgresRunStore, PostgresReads,
                      PostgresNotifyOutbox):
    """Versioned snapshots of crawled pages in a PostgreSQL database: the PostgreSQL backend
    of scraper.archive.protocol.ArchiveBackend. Use it from one thread at a time."""

    def __init__(self, core: PostgresCore, *, full_copy_every: int = DEFAULT_FULL_COPY_EVERY,
                 readonly: bool = False, level: int = DEFAULT_LEVEL) -> None:
        self.core = core
        self.readonly = readonly
        self.blob_rows = PostgresBlobRows()
        self.blobs = BlobStore(self.blob_rows, max_depth=full_copy_every, level=level)
        self.frontier = SharedFrontier(core, NO_WORKER, keeps=frozenset())
        self._batch_conn = None
        self.worker: PostgresCrawlWorker | None = None

    # opening and closing

    @classmethod
    def open(cls, location: str | ArchiveLocation, *, create: bool = True,
             readonly: bool = False,
             full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> PostgresArchive:
        """Open the archive in the database at `location` (a postgresql:// URL), creating its
        tables in an empty database when `create` and upgrading an older schema.

        Raises ArchiveError naming the database (password hidden) when it cannot be reached,
        holds no archive and `create` is false or `readonly`, holds foreign tables, or has an
        older schema and `readonly`; SchemaVersionError for a schema newer than this release.
        """
        where = location if isinstance(location, ArchiveLocation) else parse_archive_location(
            location)
        core = PostgresCore(where)
        try:
            version = core.run(schema.current_version, doing="reading the schema version")
            if version == 0 and (readonly or not create):
                raise ArchiveError(core.path, "no archive in this database (run a crawl first, "
                                              "or check --archive)")
            if readonly and version < schema.SCHEMA_VERSION:
                raise ArchiveError(core.path, f"schema version {version} is older than this "
                                              f"release's ({schema.SCHEMA_VERSION}); open it once"
                                              " for writing to upgrade it")
            if not readonly:
                schema.migrate(core)
            else:
                # migrate() with nothing to do: refuses a schema newer than this release.
                schema.migrate(core, target=min(version, schema.SCHEMA_VERSION))
        except BaseException:
            core.close()
            raise
        return cls(core, full_copy_every=full_copy_every, readonly=readonly)

    @property
    def path(self) -> str:
        return self.core.path

    @property
    def schema_version(self) -> int:
        return self.core.run(schema.current_version, doing="reading the schema version")

    def join_crawl(self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> CrawlWorker:
        """Register this process as a worker of the crawls on this database (see
        ArchiveBackend.join_crawl): from now on each write commits on its own, and a save,
        failure or skip of a URL that another worker holds raises ClaimLost."""
        self._refuse_if_readonly()
        if self.worker is None or self.worker.left:
            # A crawl after one that ended (its worker left) is a new worker.
            self.worker = PostgresCrawlWorker(self.core.location, lease_seconds=lease_seconds,
                                              open_writer=self._writer_for)
            self._write_as(self.worker.worker_id)
        return self.worker

    def _write_as(self, worker_id: int | None) -> None:
        self.worker_id = worker_id
        if "SET synchronous_commit = off" in self.core.session_settings:
            return
        # What a crash of the server may lose of the last fraction of a second is fetched
        # again (the leases of those URLs run out): not worth a disk flush per page.
        self.core.session_settings.append("SET synchronous_commit = off")
        self.core.run(lambda conn: conn.execute("SET synchronous_commit = off"),
                      doing="preparing the crawl's writes")

    def _writer_for(self, worker_id: int) -> PostgresArchive:
        """Another connection writing as worker `worker_id` (CrawlWorker.open_writer)."""
        writer = PostgresArchive(PostgresCore(self.core.location),
                                 full_copy_every=self.blobs.max_depth, level=self.blobs.level)
        try:
            writer._write_as(worker_id)
        except BaseException:
            writer.close()
            raise
        return writer

    def close(self) -> None:
        if self.worker is not None:
            self.worker.leave()
        self.core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # the frontier: SharedFrontier's, without leases

    def enqueue(self, items: Iterable[FrontierItem], now: datetime) -> int:
        self._refuse_if_readonly()
        return self.frontier.enqueue(items, now)

    def requeue_modified(self, site: str, lastmods: Sequence[tuple[str, datetime]],
                         now: datetime) -> int:
        self._refuse_if_readonly()
        return self.frontier.requeue_modified(site, lastmods, now)

    def enqueue_now(self, items: Iterable[FrontierItem], now: datetime) -> int:
        self._refuse_if_readonly()
        return self.frontier.enqueue_now(items, now)

    def forget(self, site: str, pattern: re.Pattern[str], *,
               dry_run: bool = False) -> list[str]:
        if not dry_run:
            self._refuse_if_readonly()
        return self.frontier.forget(site, pattern, dry_run=dry_run)

    def due(self, site: str, now: datetime, limit: int,
            exclude: Collection[str] = (),
            only: Collection[str] | None = None) -> list[FrontierItem]:
        return self.frontier.due(site, now, limit, exclude, only)

    def pending_count(self, site: str, now: datetime) -> int:
        return self.frontier.pending_count(site, now)

    def waiting_retries(self, site: str, now: datetime) -> tuple[int, datetime | None]:
        return self.frontier.waiting_retries(site, now)

    def frontier_count(self, site: str | None = None) -> int:
        return self.frontier.frontier_count(site)

    def frontier_item(self, url: str) -> FrontierItem | None:
        return self.frontier.frontier_item(url)

    def validators(self, url: str) -> tuple[str | None, str | None]:
        return self.frontier.validators(url)
