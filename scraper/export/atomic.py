"""Complete-or-absent output files: a hidden temporary name beside the target, renamed at the end.

The temporary file is `.<name>.tmp-<pid>` in the target's folder (same filesystem, so the
rename is atomic). It is removed on any error or interruption that Python sees (exceptions,
KeyboardInterrupt, SystemExit). SIGKILL runs no cleanup: the temporary file then stays behind
under its hidden name, never under the target name, and can be deleted by hand.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from scraper.errors import ExportError

log = logging.getLogger(__name__)

BUFFER_SIZE = 1 << 20


def temp_path_for(path: str, pid: int | None = None) -> str:
    """The temporary name used while `path` is being written by process `pid`."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.tmp-{os.getpid() if pid is None else pid}")


def check_target(path: str, *, force: bool = False) -> None:
    """Refuse early (before any work) a target that cannot or must not be written."""
    if not path:
        raise ExportError(path, "empty output path")
    if os.path.isdir(path):
        raise ExportError(path, "is a folder; give a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ExportError(path, f"folder {folder!r} does not exist")
    if not force and os.path.lexists(path):
        raise ExportError(path, "already exists; use --force to overwrite it")


@contextmanager
def atomic_output(path: str, *, force: bool = False) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only when the block ends without error.

    Without `force` an existing file at `path` is never replaced, even one created while the
    export ran (the final step is a hard link, which fails if the name is taken).
    """
    check_target(path, force=force)
    tmp = temp_path_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        # Our own pid on a leftover name: a killed earlier process that had this pid.
        os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise ExportError(path, f"cannot create {tmp!r}: {exc.strerror or exc}") from exc
    stream = os.fdopen(fd, "wb", buffering=BUFFER_SIZE)
    try:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()
        _commit(tmp, path, force=force)
    except BaseException:
        stream.close()
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(os.path.dirname(path) or ".")


def _commit(tmp: str, path: str, *, force: bool) -> None:
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportError(path, "appeared while the export ran; kept it (use --force)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK):
            raise
        # No hard links on this filesystem: check then rename (a tiny race, logged).
        log.debug("%s: hard links not supported (%s); renaming", path, exc)
        if os.path.lexists(path):
            raise ExportError(path, "appeared while the export ran; kept it (use --force)"
                              ) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; not every platform lets a folder be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
