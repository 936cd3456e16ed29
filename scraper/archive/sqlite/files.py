"""The SQLite archive as a file: the checks made before SQLite opens it, and the record of
which archive files this process holds open (see _held)."""

from __future__ import annotations

import os
import stat
import threading
from collections import Counter

from scraper.errors import ArchiveError

SQLITE_MAGIC = b"SQLite format 3\x00"

# Archive files this process holds open, by (device, inode). Closing any descriptor of a file
# drops every POSIX lock this process holds on it, SQLite's included; another process may then
# think itself the last user and delete the write-ahead log under our open connection
# (sqlite.org/howtocorrupt.html, 2.2). So a file open here is never read raw again.
_held: Counter[tuple[int, int]] = Counter()
_held_lock = threading.Lock()


def _file_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def hold(path: str) -> tuple[int, int] | None:
    """Note that this process has `path` open through SQLite; give the key to release()."""
    key = _file_key(path)
    if key is not None:
        with _held_lock:
            _held[key] += 1
    return key


def release(key: tuple[int, int] | None) -> None:
    if key is not None:
        with _held_lock:
            _held[key] -= 1
            if _held[key] > 0:
                return
            del _held[key]
            parked = _parked.pop(key, [])
        for fd in parked:
            os.close(fd)


# Raw descriptors of archive files (the crawl lock's) whose closing waits for the last SQLite
# connection of this process to that file to close: closing them earlier would drop its locks.
_parked: dict[tuple[int, int], list[int]] = {}


def close_when_unused(key: tuple[int, int], fd: int) -> None:
    """Close `fd`, a raw descriptor of the archive file `key`, now if no connection of this
    process has that file open, else once the last one is closed (see _held)."""
    with _held_lock:
        if _held[key] > 0:
            _parked.setdefault(key, []).append(fd)
            return
    os.close(fd)


def check_header(path: str) -> None:
    """Refuse a file that is not SQLite or is visibly truncated, before SQLite touches it.

    A zero-length file is accepted (SQLite treats it as an empty database). A file this
    process already holds open was checked then, and is not opened raw again (see _held).
    """
    key = _file_key(path)
    with _held_lock:
        if key is not None and _held[key] > 0:
            return
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise ArchiveError(path, f"cannot read the archive: {exc.strerror or exc}") from exc
    if size == 0:
        return
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        if header.startswith(SQLITE_MAGIC[: min(len(header), 16)]) and len(header) < 100:
            raise ArchiveError(path, f"truncated SQLite file ({size} bytes)")
        raise ArchiveError(path, "not an SQLite database (wrong file header); is this the archive?")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise ArchiveError(path, f"corrupt SQLite header (page size {page_size})")
    page_count = int.from_bytes(header[28:32], "big")
    # The in-header page count is valid only when the change counter matches this field; and
    # while a write-ahead log holds frames, a checkpoint killed halfway may have written the new
    # header before the last pages: SQLite recovers that from the log, so only check without one.
    wal = path + "-wal"
    wal_frames = os.path.exists(wal) and os.path.getsize(wal) > 32
    count_valid = header[24:28] == header[92:96] and page_count > 0 and not wal_frames
    if (size % page_size and not wal_frames) or (count_valid and size < page_count * page_size):
        expected = f"{page_count * page_size} bytes" if count_valid else "whole pages"
        raise ArchiveError(path, f"truncated or damaged archive: {size} bytes, expected {expected}")


def is_read_only(path: str) -> str | None:
    """Why `path` (an existing file) cannot be written, or None.

    Mode bits are checked as well as access(), so a file marked read-only stays untouched
    even for root, who may write anything.
    """
    directory = os.path.dirname(os.path.abspath(path))
    for target, what in ((path, "the archive file"), (directory, "its directory")):
        mode = os.stat(target).st_mode
        if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return f"{what} is read-only ({target})"
    return None
