"""Running a command on a pseudo-terminal, as a person at a terminal runs it."""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Callable


def run_in_pty(argv: list[str], *, timeout: float = 60, columns: int = 160,
               tick: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Run `argv` in a session of its own with a pseudo-terminal as its terminal (stdout and
    stderr); returns what it wrote and its exit code. `tick(pid)` is called about every
    0.2 s while it runs (to send it a signal, as the terminal's Ctrl-C does)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["COLUMNS"] = str(columns)
        os.execv(argv[0], argv)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if tick is not None:
                tick(pid)
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)
