"""ArchivePool: the crawl's archive calls on several threads, each with an archive connection
of its own, for an archive whose writes each commit on their own (a worker of a shared
PostgreSQL crawl: CrawlWorker.writers > 1).

One page's write on a server archive spends most of its time waiting for the server; with
one archive thread those waits were the one-worker crawl's bottleneck. Pages are written by
the worker that holds their claims, so two threads never write one page; what needs an
order (a run's row before its pages, its end after them) goes through run_durably, which
waits for every call made before it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar, cast

from scraper.archive import ArchiveBackend
from scraper.crawl.archive_gate import ArchiveGate

P = ParamSpec("P")
R = TypeVar("R")


class _ThreadsArchive:
    """Stands for the archive of whichever pool thread calls it: SiteCrawl's code names
    `self.archive.save` once, and each thread's call goes to its own connection."""

    def __init__(self, default: ArchiveBackend, local: threading.local) -> None:
        self._default = default
        self._local = local

    def _current(self) -> ArchiveBackend:
        return cast(ArchiveBackend, getattr(self._local, "archive", self._default))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._default, name)
        if not callable(attribute):
            return attribute

        def on_this_thread(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._current(), name)(*args, **kwargs)

        return on_this_thread


class ArchivePool(ArchiveGate):
    """ArchiveGate's interface over a pool of threads, one archive object each (`archive`
    and `writers`, which the pool closes)."""

    def __init__(self, archive: ArchiveBackend, writers: Sequence[ArchiveBackend]) -> None:
        self.commit_every = 0.0
        self.idle_commit = 0.0
        self.commits = 0
        self.calls = 0
        self._writers = list(writers)
        self._local = threading.local()
        spare: queue.SimpleQueue[ArchiveBackend] = queue.SimpleQueue()
        for each in (archive, *writers):
            spare.put(each)

        def bind() -> None:
            self._local.archive = spare.get_nowait()

        self._threads = ThreadPoolExecutor(1 + len(writers), thread_name_prefix="archive",
                                           initializer=bind)
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self.real_archive = archive
        self.archive = cast(ArchiveBackend, _ThreadsArchive(archive, self._local))
        archive.prepare_bulk_writes()

    async def _submit(self, func: Callable[[], R], *, durable: bool) -> R:
        if durable:
            # Everything asked before it is done first (a run's end after its pages).
            with self._lock:
                before = [asyncio.wrap_future(f) for f in self._pending]
            if before:
                await asyncio.wait(before)
        return await asyncio.wrap_future(self._start(func))

    def _start(self, func: Callable[[], R]) -> Future[R]:
        future = self._threads.submit(func)
        with self._lock:
            self.calls += 1
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
            self.commits += 1

    def call(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if hasattr(self._local, "archive"):  # already on one of the pool's threads
            return func(*args, **kwargs)
        return self._start(lambda: func(*args, **kwargs)).result()

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        for writer in self._writers:
            writer.close()
        self._writers.clear()
