"""Complete-or-absent output files: a hidden temporary name beside the target, renamed at the end.

The temporary file is `.<name>.tmp-<pid>` in the target's folder (same filesystem, so the
rename is atomic). It is removed on any error or interruption that Python sees (exceptions,
a full disk whose last buffered write fails again on close included, KeyboardInterrupt,
SystemExit). SIGKILL runs no cleanup: the temporary file then stays behind under its hidden
name, never under the target name, until the next export to the same target removes it (its
process is gone).

A symlink is written through (its target is replaced, the link stays); a special file such as
/dev/null, /dev/stdout or a named pipe is written directly, with no temporary file and no
rename.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
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


def is_special_file(path: str) -> bool:
    """Whether `path` is (or links to) something other than a regular file or a folder:
    /dev/null, /dev/stdout, a named pipe. Those are written straight through, never renamed
    over: replacing /dev/null with a regular file would break the whole machine."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def resolved_target(path: str) -> str:
    """The file a write to `path` lands in: through a symlink, its target (as `>` does in a
    shell), so that the link itself stays a link."""
    return os.path.realpath(path) if os.path.islink(path) else path


def check_target(path: str, *, force: bool = False) -> None:
    """Refuse early (before any work) a target that cannot or must not be written."""
    if not path:
        raise ExportError(path, "empty output path")
    if os.path.isdir(path):
        raise ExportError(path, "is a folder; give a file name")
    if is_special_file(path):
        return
    folder = os.path.dirname(resolved_target(path)) or "."
    if not os.path.isdir(folder):
        raise ExportError(path, f"folder {folder!r} does not exist")
    if not force and os.path.lexists(path):
        raise ExportError(path, "already exists; use --force to overwrite it")


@contextmanager
def atomic_output(path: str, *, force: bool = False) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only when the block ends without error.

    Without `force` an existing file at `path` is never replaced, even one created while the
    export ran (the final step is a hard link, which fails if the name is taken). A special
    file (device, named pipe) is written directly, as there is nothing to replace.
    """
    check_target(path, force=force)
    if is_special_file(path):
        with open(path, "wb", buffering=BUFFER_SIZE) as direct:
            yield direct
        return
    target = resolved_target(path)
    tmp = temp_path_for(target)
    _remove_orphans(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL  # never through a link planted at the name
    try:
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            # Our own pid on a leftover name: a killed earlier process that had this pid.
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o666)
    except OSError as exc:
        raise ExportError(path, f"cannot create {tmp!r}: {exc.strerror or exc}") from exc
    try:
        stream = os.fdopen(fd, "wb", buffering=BUFFER_SIZE)
    except BaseException:
        os.close(fd)
        _remove(tmp)
        raise
    try:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()
        _commit(tmp, target, force=force, shown=path)
    except BaseException:
        # Closing flushes what is buffered, which fails again on a full disk: the file must
        # go all the same, and the error the caller sees is the first one.
        try:
            stream.close()
        except OSError:
            pass
        _remove(tmp)
        raise
    _fsync_folder(os.path.dirname(target) or ".")


def _remove_orphans(target: str) -> None:
    """Remove temporary files of `target` left by killed exports: those whose process is
    gone. One of a live process (a concurrent export to the same name) is left alone."""
    folder, name = os.path.split(target)
    prefix = f".{name}.tmp-"
    try:
        names = [n for n in os.listdir(folder or ".") if n.startswith(prefix)]
    except OSError:
        return
    for leftover in names:
        pid = leftover[len(prefix):]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove(os.path.join(folder, leftover))
        except OSError:
            continue  # alive, another user's


def _remove(tmp: str) -> None:
    """Remove the temporary file; removing a file needs no free space."""
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("%s: could not remove the temporary file: %s", tmp, exc.strerror or exc)


def _commit(tmp: str, target: str, *, force: bool, shown: str) -> None:
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise ExportError(shown, "appeared while the export ran; kept it (use --force)"
                          ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK):
            raise
        # No hard links on this filesystem: check then rename (a tiny race, logged).
        log.debug("%s: hard links not supported (%s); renaming", shown, exc)
        if os.path.lexists(target):
            raise ExportError(shown, "appeared while the export ran; kept it (use --force)"
                              ) from None
        os.replace(tmp, target)
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
