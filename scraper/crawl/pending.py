"""The progress bar's total during a run: the URLs due and not done yet, from a count of
the frontier that is refreshed rarely, less the pages ended since."""

from __future__ import annotations

import time

# The frontier's count of due URLs is read at most this often, and at most once per
# PENDING_COST_RATIO times what the last count took: a count scans the site's part of the
# frontier index, and the archive thread has writes to do.
PENDING_REFRESH_S = 1.0
PENDING_COST_RATIO = 50


class PendingEstimate:
    """URLs due and not done: the last count of the frontier less the pages ended since."""

    def __init__(self) -> None:
        # The last count of due URLs, and how many pages had ended when it was answered.
        self._count: tuple[int, int] | None = None
        self._next = 0.0

    def stale(self) -> bool:
        """Whether it is time to count the frontier again."""
        return time.monotonic() >= self._next

    def counted(self, pending: int, took_s: float, ended: int) -> None:
        """A count of `pending` due URLs, which took `took_s`, answered when `ended` pages
        of the run had ended."""
        self._count = (pending, ended)
        self._next = time.monotonic() + max(PENDING_REFRESH_S, PENDING_COST_RATIO * took_s)

    def estimate(self, ended: int, in_flight: int) -> int | None:
        """None before the first count."""
        if self._count is None:
            return None
        pending, ended_then = self._count
        return max(in_flight, pending - (ended - ended_then))
