"""`scraper crawl --quiet-unless changes|failures`: say nothing unless there is something to read.

Cron mails whatever a job prints. With --quiet-unless the crawl's log lines are held in
memory while it runs; at the end they are written out, with the summary, only when the run
made new versions (changes) or had failures, and dropped otherwise. Errors (ERROR and above:
the crawl cannot go on) are never held.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scraper.crawl import RunResult

CONDITIONS = ("changes", "failures")
MAX_HELD = 10_000  # log records kept; past this they are counted, not kept


def worth_reporting(condition: str, results: Sequence[RunResult]) -> bool:
    """Whether a run with these results is printed under --quiet-unless `condition`.

    A run that did not complete (failed, interrupted) is always printed: it ends with a
    non-zero exit code and its reader must learn why (so is one in which every fetch
    failed: speak_or_hush's `failing`).
    """
    if any(r.status != "completed" for r in results):
        return True
    if condition == "changes":
        return any(r.stats.new_versions > 0 for r in results)
    return any(r.stats.failed > 0 for r in results)


class HeldLogHandler(logging.Handler):
    """Keeps the records below ERROR for `write_held` (to the wrapped handler) or `discard`;
    passes ERROR and above straight through. (Not `release`: a Handler's release() is its
    lock's.)"""

    def __init__(self, target: logging.Handler, max_held: int = MAX_HELD) -> None:
        super().__init__(level=target.level)
        self.target = target
        self.max_held = max_held
        self.held: list[logging.LogRecord] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.target.handle(record)
        elif len(self.held) < self.max_held:
            self.held.append(record)
        else:
            self.dropped += 1

    def write_held(self) -> None:
        """Write the held records out, oldest first."""
        held, self.held = self.held, []
        for record in held:
            self.target.handle(record)
        if self.dropped:
            self.target.handle(logging.LogRecord(
                "scraper.cli", logging.WARNING, __file__, 0,
                "%d more log lines of this run were not kept (--quiet-unless keeps %d)",
                (self.dropped, self.max_held), None))
            self.dropped = 0
        self.target.flush()

    def discard(self) -> None:
        self.held = []
        self.dropped = 0

    def flush(self) -> None:
        # logging.shutdown flushes every handler at exit: that must not release what was
        # held, only the target's own buffer.
        self.target.flush()

    def close(self) -> None:
        self.target.close()
        super().close()


def hold_logs(logger_name: str = "scraper") -> HeldLogHandler:
    """Wrap the logger's handlers (configure_logging's one) so that they hold their records."""
    logger = logging.getLogger(logger_name)
    if len(logger.handlers) != 1:
        raise RuntimeError(f"expected one handler on the {logger_name!r} logger, "
                           f"found {len(logger.handlers)}")
    held = HeldLogHandler(logger.handlers[0])
    logger.handlers[:] = [held]
    return held


def held_log_handler(logger_name: str = "scraper") -> HeldLogHandler | None:
    """The handler hold_logs installed, if it is still there."""
    for handler in logging.getLogger(logger_name).handlers:
        if isinstance(handler, HeldLogHandler):
            return handler
    return None


def release_held_logs() -> None:
    """Write out what was held (a crawl that ends in an error is always worth reading)."""
    held = held_log_handler()
    if held is not None:
        held.write_held()


def speak_or_hush(condition: str | None, results: Sequence[RunResult], *,
                  failing: bool = False) -> bool:
    """At the end of a crawl: whether to print its summary. Without --quiet-unless, always;
    with it, when the run is worth reporting, after releasing the held log lines (which are
    dropped otherwise).

    :param failing: the command exits with a non-zero code (every fetch failed): always
        worth reporting.
    """
    if condition is None:
        return True
    held = held_log_handler()
    if failing or worth_reporting(condition, results):
        if held is not None:
            held.write_held()
        return True
    if held is not None:
        held.discard()
    return False
