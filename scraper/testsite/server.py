"""`TestSite`: the built-in site served on 127.0.0.1 (or on 127.0.0.1 .. 127.0.0.N as N hosts), in a
background thread or in a running loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote

from scraper.testsite.access import AccessRule, Received
from scraper.testsite.app import SiteApp
from scraper.testsite.content import SiteModel, Topic
from scraper.testsite.faults import FaultRule
from scraper.testsite.hosts import crawl_config, page_owner
from scraper.testsite.overload import Overload
from scraper.testsite.protocol import Connection
from scraper.testsite.stats import SiteStats

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # loopback only, always
PORT_TRIES = 20  # with port 0, ports to try until one is free on every host's address
T = TypeVar("T")


class TestSite:
    """The built-in encyclopedia site on a loopback port.

    >>> with TestSite(pages=50) as site:
    ...     url = site.url("/related/NATO")

    State changes (edits, faults, markup, stats) may come from any thread: they run on the
    site's event loop, so a page is never rendered from a half-made edit.

    :param page_kb: pad pages to about this size with 50-200 links each (benchmarks).
    :param latency_ms: delay before each answer (asyncio.sleep: other requests go on).
    :param markup: the listing markup served: divs, table or bare (switchable while running).
    :param volatile_footer: put the current time in every page's footer.
    :param port: 0 picks a free port (one that is free on every host's address).
    :param log_limit: how many requests the stats log keeps (the counters count them all).
    :param tracking_links: links to listings and articles carry tracking parameters and
        out-of-order queries, several URLs for one page (see tracking.py).
    :param hosts: serve the site on 127.0.0.1 .. 127.0.0.<hosts>, one port, as that many
        hosts: topic i's pages live on host i mod hosts and links point there (see hosts.py).
    :param overload: a server with a capacity, slower past it and answering 503 past its
        limit (see overload.py); settable while running (`site.overload = ...`).
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, seed: int = 1, pages: int = 200, page_kb: int | None = None,
                 latency_ms: float = 0, markup: str = "divs", *, volatile_footer: bool = False,
                 port: int = 0, log_limit: int = 100_000, fault_seed: int | None = None,
                 tracking_links: bool = False,
                 hosts: int = 1, overload: Overload | None = None) -> None:
        self.model = SiteModel(seed, pages, page_kb)
        self.app = SiteApp(self.model, markup=markup, latency_ms=latency_ms,
                           volatile_footer=volatile_footer, log_limit=log_limit,
                           tracking_links=tracking_links,
                           fault_seed=fault_seed, hosts=hosts, overload=overload)
        self._want_port = port
        self._servers: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    async def start_async(self) -> str:
        """Serve on the running event loop; returns the base URL."""
        if self._servers:
            raise RuntimeError("the site is already running")
        loop = asyncio.get_running_loop()
        self.app.cache.clear()  # pages name their hosts' origins, so their port
        self.app.spread_cache.clear()
        self._servers, port = await self._listen(loop)
        self._loop = loop
        app = self.app
        app.port = port
        app.origins = tuple(f"http://{address}:{port}" for address in app.addresses)
        app.base_url = app.origins[0]
        log.info("built-in site serving at %s", ", ".join(app.origins))
        return app.base_url

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> tuple[list[asyncio.Server], int]:
        """One listening socket per host's address, all on one port."""
        addresses = self.app.addresses
        for _ in range(PORT_TRIES):
            servers = [await loop.create_server(lambda: Connection(self.app), addresses[0],
                                                self._want_port, backlog=1024)]
            port = int(servers[0].sockets[0].getsockname()[1])
            try:
                for address in addresses[1:]:
                    try:
                        servers.append(await loop.create_server(
                            lambda: Connection(self.app), address, port, backlog=1024))
                    except OSError as exc:
                        raise OSError(exc.errno, f"cannot listen on {address}:{port}: "
                                      f"{exc.strerror}") from exc
            except OSError:
                for server in servers:
                    server.close()
                    await server.wait_closed()
                if self._want_port:
                    raise
                continue  # the free port of the first address is taken on another: next one
            return servers, port
        raise OSError(f"no port free on all of {addresses[0]} .. {addresses[-1]} after "
                      f"{PORT_TRIES} tries")

    async def stop_async(self) -> None:
        servers, self._servers = self._servers, []
        if not servers:
            return
        for server in servers:
            server.close()
        for conn in list(self.app.connections):
            conn.cancel()
        for server in servers:
            await server.wait_closed()
        await asyncio.sleep(0)  # let cancelled connection tasks finish
        self._loop = None
        self.app.base_url, self.app.origins, self.app.port = "", (), 0

    def start(self) -> str:
        """Serve from a background thread with its own event loop; returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("the site is already running")
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                ready.set_result(loop.run_until_complete(self.start_async()))
            except BaseException as exc:  # noqa: BLE001 - any start-up failure goes to the caller
                ready.set_exception(exc)
                loop.close()
                return
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._thread = threading.Thread(target=run, name="testsite", daemon=True)
        self._thread.start()
        try:
            return ready.result(timeout=30)
        except BaseException:
            self._thread.join(5)
            self._thread = None
            raise

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30)

    def serve_forever(self, on_start: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT (Ctrl-C) or SIGTERM (for `scraper
        testsite`).

        Both are handled here, not left to asyncio.run: a process started in the background
        by a non-interactive shell (`scraper testsite &` in a script, a CI step) inherits
        SIGINT ignored, and asyncio.run then leaves it ignored, so `kill -INT` never stopped
        the site.
        """
        async def main() -> None:
            url = await self.start_async()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            watched = [signum for signum in (signal.SIGINT, signal.SIGTERM)
                       if _handle(loop, signum, stop.set)]
            try:
                if on_start is not None:
                    on_start(url)
                await stop.wait()
            finally:
                for signum in watched:
                    loop.remove_signal_handler(signum)
                await self.stop_async()
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.start_async()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop_async()

    # -- where ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.app.base_url:
            raise RuntimeError("the site is not started")
        return self.app.base_url

    @property
    def port(self) -> int:
        self.base_url  # noqa: B018 - raises when not started
        return self.app.port

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def hosts(self) -> tuple[str, ...]:
        """The site's addresses, 127.0.0.1 first (scope.domains of a crawl of it)."""
        return self.app.addresses

    @property
    def base_urls(self) -> tuple[str, ...]:
        """Every host's "http://127.0.0.k:port", the first host's (base_url) first."""
        self.base_url  # noqa: B018 - raises when not started
        return self.app.origins

    def url_of(self, path: str) -> str:
        """The URL of a page on the host that serves it (topic pages live on one host each)."""
        owner = page_owner(self.model, unquote(path.split("?", 1)[0]), len(self.hosts))
        return self.base_urls[owner or 0] + path

    def crawl_config(self, name: str = "testsite", *, concurrency: int = 4,
                     delay: float = 0.05, max_depth: int = 50) -> str:
        """A crawl config (YAML) of this running site, as config/testsite.yaml: from
        /related/NATO through related items and articles, every host in scope.domains."""
        return crawl_config(name, self.url("/related/NATO"), self.hosts,
                            concurrency=concurrency, delay=delay, max_depth=max_depth)

    # -- state, changed on the site's loop -------------------------------------------------

    def _call(self, func: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or not loop.is_running() or self._in_loop_thread(loop):
            return func()

        async def run() -> T:
            return func()
        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)

    @staticmethod
    def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    def edit(self, slug: str, **changes: Any) -> Topic:
        """A new revision of a topic; see SiteModel.edit for the changes (add_entry and
        remove_entry are aliases of add_related and remove_related)."""
        return self._call(lambda: self.app.edit(slug, **changes))

    def topic(self, slug: str) -> Topic:
        return self._call(lambda: self.model.topic(self.model.find(slug)))

    @property
    def markup(self) -> str:
        return self.app.markup

    @markup.setter
    def markup(self, value: str) -> None:
        self._call(lambda: self.app.set_markup(value))

    def set_markup(self, markup: str) -> None:
        self.markup = markup

    @property
    def latency_ms(self) -> float:
        return self.app.latency * 1000

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"latency_ms must be >= 0, got {value}")
        self.app.latency = value / 1000

    @property
    def sitemaps(self) -> bool:
        """Whether /sitemap.xml (an index of gzip sitemaps) is served and named in
        robots.txt (see sitemaps.py); off by default."""
        return self.app.sitemaps

    @sitemaps.setter
    def sitemaps(self, value: bool) -> None:
        def switch() -> None:
            self.app.sitemaps = value
        self._call(switch)

    @property
    def overload(self) -> Overload | None:
        """The overload mode, with its counters (served, rejected, max_in_flight)."""
        return self.app.overload

    @overload.setter
    def overload(self, value: Overload | None) -> None:
        def switch() -> None:
            self.app.overload = value
        self._call(switch)

    @property
    def volatile_footer(self) -> bool:
        return self.app.volatile_footer

    @volatile_footer.setter
    def volatile_footer(self, value: bool) -> None:
        self.app.volatile_footer = value

    def add_fault(self, kind: str, pattern: str = ".", **options: Any) -> FaultRule:
        """Switch a fault on for paths matching `pattern` (see FaultRule); returns the rule,
        whose `fired` counts how often it was injected."""
        rule = FaultRule(kind, pattern, **options)
        return self._call(lambda: self.app.add_fault(rule))

    def require_access(self, pattern: str = ".", *, cookie: tuple[str, str] | None = None,
                       header: tuple[str, str] | None = None,
                       basic: tuple[str, str] | None = None,
                       bearer: str | None = None) -> AccessRule:
        """Answer 401 (basic, bearer) or 403 (cookie, header) to requests for paths matching
        `pattern` that lack what is named; switches on the record of received headers."""
        return self.add_access_rule(AccessRule(re.compile(pattern), cookie=cookie,
                                               header=header, basic=basic, bearer=bearer))

    def add_access_rule(self, rule: AccessRule) -> AccessRule:
        """require_access() with a rule made already (AccessRule.parse: --require)."""
        return self._call(lambda: self.app.access.add(rule))

    def record_requests(self) -> None:
        """Keep the headers of every request from now on (see received())."""
        def start() -> None:
            self.app.access.recording = True
        self._call(start)

    def received(self) -> list[Received]:
        """The requests recorded since require_access() or record_requests(), oldest first:
        the host each arrived on, its target and its headers."""
        return self._call(self.app.access.received)

    def clear_faults(self) -> None:
        self._call(lambda: self.app.reset(stats=False, faults=True))

    def fault_rules(self) -> list[FaultRule]:
        return self._call(lambda: list(self.app.faults.rules))

    def stats(self) -> SiteStats:
        return self._call(self.app.recorder.snapshot)

    def reset_stats(self) -> None:
        self._call(lambda: self.app.reset(stats=True))

    def reset(self, *, stats: bool = True, faults: bool = True, content: bool = True) -> None:
        """Back to a fresh site: counters, fault switches and edits (each optional)."""
        self._call(lambda: self.app.reset(stats=stats, faults=faults, content=content))

    def prerender(self) -> int:
        """Render and cache every listing page and article now (for benchmarks)."""
        return self._call(self.app.prerender)


def _handle(loop: asyncio.AbstractEventLoop, signum: int, callback: Callable[[], None]) -> bool:
    """Whether `callback` now answers `signum` (only the main thread may handle signals)."""
    try:
        loop.add_signal_handler(signum, callback)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True
