"""The exclusive lock a crawl holds on its archive, so cron runs never overlap."""

from __future__ import annotations

import fcntl
import os
from types import TracebackType
from typing import Self

from scraper.errors import ArchiveError, ArchiveLocked


class ArchiveLock:
    """flock on `<archive>.lock`. The kernel drops it when the holder dies, so a lock left by a
    killed run never blocks the next one; the file's content (the holder's pid) is only for
    the message."""

    def __init__(self, archive_path: str) -> None:
        self.archive_path = archive_path
        self.path = archive_path + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchiveError(self.archive_path, f"cannot create the lock file {self.path}: "
                                                  f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise ArchiveLocked(self.archive_path,
                                f"another crawl (pid {holder}) holds this archive; "
                                "this run exits without touching it") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode("ascii"))
        except OSError:
            pass  # the pid is only for the message; the lock is held (a full disk, say)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
