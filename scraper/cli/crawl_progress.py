"""The crawl's progress bar (rich), and the log handler that writes above it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from scraper.crawl.events import CrawlEvent


@dataclass(frozen=True, slots=True)
class BarState:
    """What one site's bar shows: `completed` of `total` (pages, or seconds of --max-time)
    and the estimated seconds left. total None: no bound is known, the bar shows counts."""

    completed: float
    total: float | None
    eta: float | None


def bar_state(done: int, pending: int | None, max_pages: int | None, max_time: float | None,
              elapsed: float) -> BarState:
    """The bar of a site that has ended `done` pages in `elapsed` seconds, with `pending`
    URLs due (None: unknown). The run ends at whichever comes first: max_pages, an empty
    queue or max_time; the bar measures that one."""
    pages_total: int | None = max_pages
    if pending is not None:
        pages_total = done + pending if pages_total is None else min(pages_total, done + pending)
    rate = done / elapsed if done and elapsed > 0 else 0.0
    page_eta = (pages_total - done) / rate if pages_total is not None and rate > 0 else None
    time_left = max(0.0, max_time - elapsed) if max_time is not None else None
    if pages_total is not None and (time_left is None or page_eta is None
                                    or page_eta <= time_left):
        # Before a rate is known, the time left bounds the wait.
        return BarState(done, max(pages_total, done), page_eta if page_eta is not None
                        else time_left)
    if max_time is not None and time_left is not None:
        return BarState(min(elapsed, max_time), max_time, time_left)
    return BarState(done, None, None)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA -:--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}"


class EtaColumn(ProgressColumn):
    """The estimated time left; nothing when the bar has no bound or has ended."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.finished or task.fields.get("ended"):
            return Text("")
        return Text(format_eta(task.fields.get("eta")), style="progress.remaining")


class _TickingProgress(Progress):
    """A Progress that calls `before_render` before each redraw: a bar measured in time
    moves on between events."""

    def __init__(self, *columns: str | ProgressColumn, before_render: Callable[[], None],
                 **options: Any) -> None:
        self.before_render = before_render  # before super(): its __init__ may render
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        self.before_render()
        yield from super().get_renderables()


# Runs that ended before their bound: their bars are not filled up.
_STOPPED = ("interrupted", "failed")


@dataclass(slots=True)
class _Site:
    task: TaskID
    max_pages: int | None
    done: int = 0
    errors: int = 0
    in_progress: int = 0
    pending: int | None = None
    ended: str = ""  # how the run ended: completed, max_pages, interrupted, ...


class ProgressView:
    """A rich progress bar per site: pages done, queue, rate and errors; with a percentage
    and an ETA when the run is bounded (--max-pages, --max-time, a known queue).

    Call it with each CrawlEvent; use it as a context manager around the crawl."""

    def __init__(self, max_pages: Mapping[str, int | None] | None = None,
                 max_time: float | None = None, *, console: Console | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_pages = dict(max_pages or {})
        self.max_time = max_time
        self.clock = clock
        self.started = clock()
        self.sites: dict[str, _Site] = {}
        self.progress = _TickingProgress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[site]}"), BarColumn(),
            TaskProgressColumn(text_format_no_percentage=""),
            TextColumn("{task.fields[pages]} pages"), TextColumn("queue {task.fields[queue]}"),
            TextColumn("{task.fields[rate]:.1f}/s"), TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(), EtaColumn(),
            before_render=self.tick, console=console, transient=False,
        )

    @property
    def console(self) -> Console:
        return self.progress.console

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def __call__(self, event: CrawlEvent) -> None:
        site = self._site(event.site)
        if event.kind == "run_end":
            site.ended = event.detail or "completed"
            if site.ended in _STOPPED:  # the bar stays where the run was stopped
                self.progress.update(site.task, ended=True)
                return
        else:
            site.done += 1
            if event.kind == "failed":
                site.errors += 1
            site.in_progress = event.queued
            if event.pending is not None:
                site.pending = event.pending
        self._show(event.site, site)

    def tick(self) -> None:
        """Bring every bar up to now (a bar of --max-time moves with the clock)."""
        for name, site in list(self.sites.items()):
            if not site.ended:
                self._show(name, site)

    def state(self, name: str) -> BarState:
        site = self.sites[name]
        if site.ended:  # it reached its bound, whichever it was: the bar is full
            return BarState(site.done, site.done, 0.0)
        return bar_state(site.done, site.pending, site.max_pages, self.max_time,
                         self.clock() - self.started)

    def _site(self, name: str) -> _Site:
        site = self.sites.get(name)
        if site is None:
            task = self.progress.add_task(name, total=None, site=name, pages=0, queue=0,
                                          rate=0.0, errors=0, eta=None, ended=False)
            site = self.sites[name] = _Site(task, self.max_pages.get(name))
        return site

    def _show(self, name: str, site: _Site) -> None:
        bar = self.state(name)
        elapsed = max(1e-6, self.clock() - self.started)
        # A total, once known, stays known (bar_state): Progress.update cannot unset it.
        self.progress.update(
            site.task, total=bar.total, completed=bar.completed, pages=site.done,
            queue=site.pending if site.pending is not None else site.in_progress,
            rate=site.done / elapsed, errors=site.errors, eta=bar.eta)


class ConsoleLogHandler(logging.Handler):
    """Writes each formatted record through a rich Console: while a live progress bar is on
    that console, rich clears the bar, writes the line and draws the bar again below it, so
    that neither is broken mid-line."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            # A Text is printed as it is: no markup, no highlighting; soft_wrap: long lines
            # are folded by the terminal, never cut or broken into lines by rich.
            self.console.print(Text(line), soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
