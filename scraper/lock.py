"""The exclusive lock a crawl holds on its archive, so cron runs never overlap."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from collections import Counter
from types import TracebackType
from typing import Self

from scraper.errors import ArchiveError, ArchiveLocked

# Archive files (st_dev, st_ino) this process holds the crawl lock on: Archive.start_run reads
# it to know that no other crawl can be running on the file (see holds()).
_holding: Counter[tuple[int, int]] = Counter()
_holding_lock = threading.Lock()


def holds(path: str) -> bool:
    """Whether this process holds the crawl lock on the archive file at `path` (by whatever
    path it was locked: a link to it or another spelling of the same file count)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    with _holding_lock:
        return _holding[(st.st_dev, st.st_ino)] > 0


class ArchiveLock:
    """Two flocks: on `<archive>.lock`, and on the archive file itself.

    The kernel drops a flock when its holder dies, so a lock left by a killed run never blocks
    the next one; the lock file's content (the holder's pid) is only for the message.

    The lock file is keyed by the path as written, so a symlink or a hard link to the archive,
    or the same file reached through another directory, has a lock file of its own. The flock
    on the archive file is keyed by the file (its inode), whatever the path: that is what makes
    two crawls through two names of one file exclude each other. A lock file named after
    (st_dev, st_ino) beside the archive would miss hard links in other directories, and one in
    a shared folder such as /tmp is not shared across mount namespaces (systemd's PrivateTmp).

    Two constraints come with a descriptor on the archive file:
    - flock and SQLite's POSIX (fcntl) locks do not interact on Linux local filesystems. On
      NFS, Linux emulates flock with fcntl locks, which would then block readers; but SQLite's
      WAL mode, which the archive uses, does not work over NFS anyway.
    - closing any descriptor of a file drops every POSIX lock this process holds on it,
      SQLite's included. So the descriptor stays open until the archive is closed (the crawl
      command leaves `with (ArchiveLock(path), Archive.open(path) ...)` in that order); and if
      a connection of this process still has the file open when the lock is released, the
      descriptor is parked until that connection closes (scraper.archive.sqlite.files).

    When the archive does not exist yet, acquire() creates it empty (as SQLite would, a
    zero-length file being an empty database) so that there is a file to lock from the
    start; release() removes it again if it is still empty, so a crawl that never opened its
    archive leaves none behind.
    """

    def __init__(self, archive_path: str) -> None:
        self.archive_path = archive_path
        self.path = archive_path + ".lock"
        self._fd: int | None = None
        self._file_fd: int | None = None
        self._file_key: tuple[int, int] | None = None
        self._created: str | None = None  # the archive file acquire() made

    def acquire(self) -> None:
        fd = self._open_lock_file()
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
        try:
            self._lock_archive_file()
        except BaseException:
            self.release()
            raise

    def _open_lock_file(self) -> int:
        """The lock file, opened without following a symlink and refused unless it is a
        regular file with one name: truncating it must never reach another file."""
        directory = os.path.dirname(os.path.abspath(self.path))
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(self.path):
                raise ArchiveError(self.archive_path, f"the lock file {self.path} is a symbolic "
                                   "link; refusing to follow it (remove the link: the lock "
                                   "file is made again)") from None
            raise ArchiveError(self.archive_path, f"cannot create the lock file {self.path}: "
                                                  f"{exc.strerror or exc}") from exc
        st = os.fstat(fd)
        why = None
        if not stat.S_ISREG(st.st_mode):
            why = "is not a regular file"
        elif st.st_nlink > 1:
            why = f"has {st.st_nlink} names (a hard link to another file?)"
        if why:
            os.close(fd)
            raise ArchiveError(self.archive_path, f"the lock file {self.path} {why}; refusing "
                               "to write it (remove it: the lock file is made again)")
        return fd

    def _lock_archive_file(self) -> None:
        """flock the archive file itself (see the class docstring)."""
        fd = None
        for _ in range(3):  # created or removed by another process in between: try again
            try:
                fd = os.open(self.archive_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
                break
            except FileNotFoundError:
                pass
            except OSError:
                return  # unreadable, a symlink loop...: Archive.open says what is wrong
            # Through a dangling symlink, its target is made (as SQLite would): O_EXCL alone
            # refuses any symlink.
            created = os.path.realpath(self.archive_path)
            try:
                fd = os.open(created, os.O_RDONLY | os.O_CREAT | os.O_EXCL
                             | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
                self._created = created
                break
            except FileExistsError:
                continue
            except OSError:
                return  # no such folder, read-only folder...: Archive.open says what is wrong
        if fd is None:
            return
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)  # a folder, a device...: nothing SQLite locks; Archive.open refuses it
            return
        key = (st.st_dev, st.st_ino)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            _close_archive_fd(key, fd)
            self._created = None  # made here, yet already another's: theirs to keep
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                return  # a filesystem without flock: the lock file alone, as before
            raise ArchiveLocked(self.archive_path,
                                "another crawl holds this archive file (through another path "
                                "to it: a symlink, a hard link or another spelling); this run "
                                "exits without touching it") from None
        self._file_fd, self._file_key = fd, key
        with _holding_lock:
            _holding[key] += 1

    def release(self) -> None:
        if self._file_fd is not None and self._file_key is not None:
            with _holding_lock:
                _holding[self._file_key] -= 1
                if _holding[self._file_key] <= 0:
                    del _holding[self._file_key]
            if self._created is not None:
                self._remove_if_unused(self._created, self._file_fd, self._file_key)
            fcntl.flock(self._file_fd, fcntl.LOCK_UN)
            _close_archive_fd(self._file_key, self._file_fd)
            self._file_fd = self._file_key = None
            self._created = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def _remove_if_unused(path: str, fd: int, key: tuple[int, int]) -> None:
        """Remove the archive file acquire() made at `path` if nothing was ever written to
        it. The write-ahead log is looked at first: while it exists the main file may be empty
        although the archive is not (a checkpoint may fill the file just after)."""
        try:
            if os.path.exists(path + "-wal") or os.fstat(fd).st_size:
                return
            st = os.stat(path)
            if (st.st_dev, st.st_ino) == key:
                os.unlink(path)
        except OSError:
            pass

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _close_archive_fd(key: tuple[int, int], fd: int) -> None:
    # Imported here: the lock is taken before anything else of a crawl is imported, and most
    # of `scraper`'s commands never take it.
    from scraper.archive.sqlite.files import close_when_unused

    close_when_unused(key, fd)
