"""Where a crawl parses its pages and encodes them for the archive: on threads, and on worker
processes once a run has enough pages to pay for starting them.

Parsing and encoding are pure and hold the GIL for most of their time (Lexbor lets it go only
while it builds the tree), so on threads they compete with fetching and writing for one
core. Worker processes give them the others: on the crawl benchmark they are about half of
the CPU time of a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from scraper.archive.encode import EncodedPage, encode_page
from scraper.config import Selectors
from scraper.crawl.frontier import FollowRule, links_to_follow
from scraper.models import FrontierItem, Page
from scraper.parse import parse_page

log = logging.getLogger(__name__)

# Lexbor releases the GIL while it builds a tree, so parsing on threads keeps the event loop
# going (a pathological page, e.g. 60,000 nested divs, takes Lexbor 20 s) and overlaps the
# C part of parsing with fetching.
PARSE_THREADS = 2
# Worker processes start after this many pages of a run: each costs ~0.3 s of CPU to start
# (a new interpreter importing the parsers), more than a small crawl spends parsing.
PROCESSES_AFTER = 100


@dataclass(frozen=True, slots=True)
class ParseRequest:
    """One fetched body to parse, with what the crawl's config says about parsing it."""

    body: bytes
    url: str  # the URL the page is stored under (as it was queued)
    final_url: str  # where the body came from after redirects: its links resolve against it
    content_type: str | None
    parser: str = "auto"
    selectors: Selectors | None = None
    max_links: int = 10_000
    first_version: bool = False  # never stored before: compress the first copies ahead
    follow: FollowRule | None = None  # given: also find the links to follow from the page
    depth: int = 0  # the page's depth in the crawl, for `follow`


@dataclass(frozen=True, slots=True)
class ParsedPage:
    page: Page
    encoded: EncodedPage
    discovered: tuple[FrontierItem, ...] = ()  # links_to_follow, when the request had `follow`


def parse_and_encode(request: ParseRequest) -> ParsedPage:
    """The parsed page, stored under `request.url`, its archive encoding, and with
    `request.follow` the links to follow from it."""
    page = parse_page(request.body, request.final_url, parser=request.parser,
                      selectors=request.selectors, content_type=request.content_type,
                      max_links=request.max_links)
    # The page is stored under the URL it was queued as; a redirect's target is kept in the
    # snapshot's final_url.
    page = dataclasses.replace(page, url=request.url)
    discovered = (tuple(links_to_follow(page, request.follow, request.depth))
                  if request.follow is not None else ())
    return ParsedPage(page, encode_page(page, request.body, first_version=request.first_version),
                      discovered)


def _ready() -> int:
    return os.getpid()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """A worker process's initializer: end this process when `parent` (the crawl) dies, even
    by SIGKILL, which runs no cleanup in the parent and would leave the workers waiting on
    their queue for ever.

    On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG). It is sent when
    the *thread* that started this process ends: the pool starts its workers from the thread
    that submits work to it, the crawl's event loop, which lives as long as the crawl.
    The parent may have died before the call took effect, hence the check after it. Elsewhere
    a daemon thread looks every second whether the parent is still this process's parent.
    """
    if not _set_parent_death_signal():
        threading.Thread(target=watch_parent, args=(parent,), name="watch-parent",
                         daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int, interval: float = 1.0) -> None:
    """Exit this process once `parent` is no longer its parent (it died: the orphan was
    given to init or a subreaper). Runs for ever otherwise."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started inside ignore SIGINT. Ctrl-C reaches the terminal's whole process
    group, workers included, and the crawl decides what it does (it ends the run, then the
    pool): a worker would die printing a KeyboardInterrupt traceback, even one still
    importing. An ignored signal stays ignored across exec, and Python leaves it so. (A
    Ctrl-C in the milliseconds the parent ignores it is lost.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; it is the CLI's loop thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def default_processes() -> int:
    """One worker per core; none on a single core, where they would only add copying."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cores or 1) < 2 else min(cores or 1, 4)


class ParsePool:
    """Parses on PARSE_THREADS threads, then on `processes` worker processes from the
    `processes_after`-th page of a run on, once they have started.

    The processes are started with spawn, which imports the program's __main__ module again
    in each of them: only a program whose main module is guarded by
    `if __name__ == "__main__":` (such as the `scraper` command) may ask for them. Hence
    crawl() parses on threads unless given a pool.

    A worker process that dies (a crash in the C parser, the OOM killer) breaks the process
    pool: the pages it had are parsed again on the threads, and so is the rest of the run.
    The workers end by themselves when the crawl process dies (die_with_parent).
    """

    def __init__(self, *, processes: int | None = None,
                 processes_after: int | None = None) -> None:
        self.processes = default_processes() if processes is None else processes
        # Read here, not bound as a default: a test sets the module's value in a crawl process.
        self.processes_after = PROCESSES_AFTER if processes_after is None else processes_after
        self.parsed = 0
        self.in_processes = 0  # pages parsed by worker processes
        self._threads = ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="parse")
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[int] | None = None
        self._broken = False

    @property
    def threads(self) -> ThreadPoolExecutor:
        """The parse threads, for parsing that is not parse_and_encode."""
        return self._threads

    async def parse(self, request: ParseRequest) -> ParsedPage:
        self.parsed += 1
        loop = asyncio.get_running_loop()
        if self._processes_ready():
            assert self._pool is not None
            try:
                parsed = await loop.run_in_executor(self._pool, parse_and_encode, request)
            except BrokenProcessPool:
                if not self._broken:
                    log.warning("a parse worker process died; parsing on threads from now on")
                self._broken = True
            else:
                self.in_processes += 1
                return parsed
        return await loop.run_in_executor(self._threads, parse_and_encode, request)

    def _processes_ready(self) -> bool:
        """Whether to parse on the processes now; starts them when the run reaches
        `processes_after` pages (threads parse meanwhile)."""
        if self._broken or self.processes <= 0 or self.parsed <= self.processes_after:
            return False
        if self._pool is None:
            # spawn, not fork: this process has threads (the archive's, the parsers'), and a
            # child forked while one of them holds a lock inherits it locked.
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent, initargs=(os.getpid(),))
            with _sigint_ignored():
                # With spawn a submit starts a worker when none is idle: one each, all here.
                started = [self._pool.submit(_ready) for _ in range(self.processes)]
            self._started = started[0]
            return False
        assert self._started is not None
        if not self._started.done():
            return False  # still starting: threads meanwhile
        if self._started.exception() is not None:
            log.warning("parse worker processes did not start (%s); parsing on threads",
                        self._started.exception())
            self._broken = True
            return False
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(wait=exc_type is None)

    def close(self, *, wait: bool = True) -> None:
        """Stop the threads and processes. `wait`: let them finish what they have (the
        processes are then reaped, so their CPU time counts as this process's children's)."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
