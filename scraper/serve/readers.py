"""ArchiveReaders: read-only archive objects shared by the web view's requests, one per thread
that runs an archive call at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from scraper.archive import Archive, ArchiveBackend

T = TypeVar("T")


class ArchiveReaders:
    """Runs blocking archive calls in worker threads, each with an archive object of its own.

    An archive object is used by one thread at a time (the protocol's rule: an SQLite
    connection or a PostgreSQL session is not shared by concurrent calls), so a call takes
    an idle object, or opens one, and gives it back when done. At most `size` calls run at
    once (the limiter), so at most `size` objects are ever opened: `size` SQLite connections
    or PostgreSQL sessions, whatever the number of browsers.
    """

    def __init__(self, location: str, *, size: int = 4) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.location = location
        self.size = size
        self._idle: list[ArchiveBackend] = []
        self._lock = threading.Lock()
        self._closed = False
        self._limiter: anyio.CapacityLimiter | None = None

    def open_one(self) -> None:
        """Open the first archive object now, so that a wrong location or an archive this
        release cannot read is reported before the server starts (ArchiveError)."""
        self._release(self._take())

    async def run(self, call: Callable[[ArchiveBackend], T]) -> T:
        """`call(archive)` in a worker thread (starlette's run_in_threadpool, with a limiter
        of this pool's size instead of anyio's default 40 threads)."""
        if self._limiter is None:
            # Made here, inside the event loop that will use it.
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(self.call, call, limiter=self._limiter)

    def call(self, call: Callable[[ArchiveBackend], T]) -> T:
        """`call(archive)` in this thread, with an archive object no other thread is using."""
        archive = self._take()
        try:
            return call(archive)
        finally:
            self._release(archive)

    def _take(self) -> ArchiveBackend:
        with self._lock:
            if self._closed:
                raise RuntimeError("the archive readers are closed")
            if self._idle:
                return self._idle.pop()
        # Opened outside the lock: an open may take a while (a schema check, a connection),
        # and other threads must be able to give objects back meanwhile.
        return Archive.open(self.location, create=False, readonly=True)

    def _release(self, archive: ArchiveBackend) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(archive)
                return
        archive.close()  # closed while in use: close() left this one to its user

    def close(self) -> None:
        """Close every archive object not in use (those in use close when given back)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for archive in idle:
            archive.close()
