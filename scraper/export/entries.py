"""Deduplication of listing entries by More Info URL in bounded memory (an external merge sort).

Entries are grouped in a dict keyed by (site, More Info URL). While the dict holds fewer than
`max_groups` entries nothing touches the disk; past that, the dict is written sorted to a
temporary file (a "run") and emptied. At the end the runs and the dict are merged with
heapq.merge, which holds one group per run in memory. Memory is therefore bounded by
`max_groups` whatever the size of the archive, and the output comes sorted by (site, more_info)
whether or not anything was spilled.
"""

from __future__ import annotations

import heapq
import json
import logging
import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any, Self

from scraper.export.records import (
    EntryGroup,
    entry_group,
    entry_record,
    group_from_json,
    group_to_json,
    merge_groups,
    merge_sorted,
    sort_key,
)
from scraper.models import Entry

log = logging.getLogger(__name__)

DEFAULT_MAX_GROUPS = 20_000


class EntryMerger:
    """Collects entries from listing pages and yields one record per distinct entry.

    Use as a context manager so that spilled runs are removed even when the export fails.
    """

    def __init__(self, *, max_groups: int = DEFAULT_MAX_GROUPS, tmp_dir: str | None = None
                 ) -> None:
        if max_groups < 1:
            raise ValueError("max_groups must be >= 1")
        self.max_groups = max_groups
        self.tmp_dir = tmp_dir
        self._groups: dict[tuple[str, str], EntryGroup] = {}
        self._runs: list[IO[str]] = []
        self._seq = 0
        self.occurrences = 0

    @property
    def spilled_runs(self) -> int:
        return len(self._runs)

    def add(self, site: str, listing_url: str, entry: Entry) -> None:
        group = entry_group(site, listing_url, entry, self._seq)
        self._seq += 1
        self.occurrences += 1
        key = sort_key(group)
        old = self._groups.get(key)
        self._groups[key] = group if old is None else merge_groups(old, group)
        if len(self._groups) >= self.max_groups:
            self._spill()

    def add_page(self, site: str, listing_url: str, entries: tuple[Entry, ...]) -> None:
        for entry in entries:
            self.add(site, listing_url, entry)

    def _spill(self) -> None:
        # Kept open until close(): a run is read back at the end (SIM115 does not apply).
        run = tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.tmp_dir,  # noqa: SIM115
                                     prefix="scraper-entries-")
        for key in sorted(self._groups):
            run.write(json.dumps(group_to_json(self._groups[key]), ensure_ascii=False))
            run.write("\n")
        run.flush()
        run.seek(0)
        self._runs.append(run)
        log.debug("entries: spilled %d groups to run %d", len(self._groups), len(self._runs))
        self._groups = {}

    def records(self) -> Iterator[dict[str, Any]]:
        """The deduplicated entries, sorted by (site, more_info). Call once, after the last add."""
        in_memory = [self._groups[key] for key in sorted(self._groups)]
        self._groups = {}
        sources: list[Iterator[EntryGroup]] = [_read_run(run) for run in self._runs]
        sources.append(iter(in_memory))
        for group in merge_sorted(heapq.merge(*sources, key=sort_key)):
            yield entry_record(group)

    def close(self) -> None:
        for run in self._runs:
            run.close()  # TemporaryFile: closing removes it
        self._runs = []
        self._groups = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _read_run(run: IO[str]) -> Iterator[EntryGroup]:
    for line in run:
        yield group_from_json(json.loads(line))


__all__ = ["DEFAULT_MAX_GROUPS", "EntryMerger"]
