"""The crawl's archive thread: every archive call of a run is made there, in order, inside
transactions that each hold up to `commit_every` seconds of work."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from scraper.archive import ArchiveBackend
from scraper.errors import ArchiveError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# A transaction is committed when it has run this long, or when no call has come for
# IDLE_COMMIT seconds. A SIGKILL loses at most the uncommitted part, which the next run
# fetches again (its frontier rows went back with it).
COMMIT_EVERY = 1.0
IDLE_COMMIT = 0.05

Answer = Callable[[bool, Any], None]


@dataclass(frozen=True, slots=True)
class _Job:
    func: Callable[[], Any]
    answer: Answer
    durable: bool = False  # commit right after it, and answer once committed


class ArchiveGate:
    """Runs archive calls on one thread of their own.

    SQLite work (compression, full-text indexing, WAL writes) then overlaps with fetching
    and parsing instead of stalling the event loop. Calls share transactions (each call
    still all-or-nothing, as a savepoint of Archive.batch): every stored page inserts a
    hundred or more entries at scattered places of the links-by-target and frontier
    indexes, and a commit writes each page of the file that its transaction touched. With a
    commit per stored page the crawl benchmark wrote ~300 log frames per page; a shared
    transaction writes a much touched index page once.

    A call is answered as soon as it has run, before its transaction commits, except those
    made with run_durably (a run's start and end), answered once committed. A commit that
    fails (a full disk) makes every later call, and `close`, raise: the run then ends
    "failed", and its last second of work is fetched again by the next run.
    """

    def __init__(self, archive: ArchiveBackend, *, commit_every: float = COMMIT_EVERY,
                 idle_commit: float = IDLE_COMMIT) -> None:
        self.archive = archive
        self.commit_every = commit_every
        self.idle_commit = idle_commit
        self.commits = 0
        self.calls = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        # Here, not when the archive is opened: it is memory that readers do not need.
        archive.prepare_bulk_writes()
        self._thread = threading.Thread(target=self._serve, name="archive", daemon=True)
        self._thread.start()

    async def run(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `func` on the archive thread; from a coroutine."""
        return await self._submit(functools.partial(func, *args, **kwargs), durable=False)

    async def run_durably(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `func` and commit it with all before it; answered once the commit is done,
        so that what it wrote (a run's row) is in the file when this returns."""
        return await self._submit(functools.partial(func, *args, **kwargs), durable=True)

    async def _submit(self, func: Callable[[], R], *, durable: bool) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()

        def answer(ok: bool, value: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, ok, value)

        self._jobs.put(_Job(func, answer, durable))
        return await future

    def call(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `func` on the archive thread and wait for it; from any thread."""
        if threading.current_thread() is self._thread:
            return func(*args, **kwargs)
        done = threading.Event()
        box: list[tuple[bool, Any]] = []

        def answer(ok: bool, value: Any) -> None:
            box.append((ok, value))
            done.set()

        self._jobs.put(_Job(functools.partial(func, *args, **kwargs), answer))
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Commit what is pending and stop the thread; raises if a commit failed."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        if self._failed is not None:
            raise self._failed

    def _serve(self) -> None:
        job = self._jobs.get()
        while job is not None:
            if self._failed is not None:
                job.answer(False, self._refusal())
                job = self._jobs.get()
                continue
            job = self._transaction(job)
            if job is _IDLE:
                job = self._jobs.get()

    def _transaction(self, job: _Job) -> Any:
        """Run `job` and what follows it in one transaction; returns the job to start the
        next one with, None to stop, or _IDLE."""
        deadline = time.monotonic() + self.commit_every
        after: Any = _IDLE
        current: _Job | None = job
        held: tuple[_Job, bool, Any] | None = None  # a durable job's outcome, until committed
        try:
            with self.archive.batch():
                while True:
                    if job.durable:
                        held = (job, *self._outcome(job))
                        current = None
                        break
                    self._execute(job)
                    current = None
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        following = self._jobs.get(timeout=min(left, self.idle_commit))
                    except queue.Empty:
                        break
                    if following is None:
                        after = None
                        break
                    job = current = following
            self.commits += 1
        except BaseException as exc:  # noqa: BLE001 - kept, and raised by every later call
            self._failed = exc
            log.error("%s: a write of the crawl failed, the crawl stops: %s",
                      self.archive.path, exc)
            for waiting in (current, held[0] if held else None):
                if waiting is not None:  # not started, or not committed: it failed
                    waiting.answer(False, exc)
            return after
        if held is not None:
            held[0].answer(held[1], held[2])
        return after

    def _execute(self, job: _Job) -> None:
        job.answer(*self._outcome(job))

    def _outcome(self, job: _Job) -> tuple[bool, Any]:
        self.calls += 1
        try:
            return True, job.func()
        except BaseException as exc:  # noqa: BLE001 - handed to its caller
            return False, exc

    def _refusal(self) -> ArchiveError:
        return ArchiveError(self.archive.path, f"an earlier write failed and was not kept "
                                               f"({self._failed}); nothing more is written")


_IDLE = object()


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its caller was cancelled
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
