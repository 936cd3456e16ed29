"""The built-in site's request handling: routes, the page cache with validators, faults and stats."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from scraper.testsite.access import Access
from scraper.testsite.articles import render_article
from scraper.testsite.content import MARKUPS, SiteModel, Topic
from scraper.testsite.control import Control
from scraper.testsite.fault_urls import FaultURLs
from scraper.testsite.faults import HTML, FaultRule, FaultSet
from scraper.testsite.hosts import host_addresses, page_owner, spread_links
from scraper.testsite.overload import Overload
from scraper.testsite.pages import (
    ROBOTS_TXT,
    render_category,
    render_home,
    render_listing,
    render_not_found,
    render_plain,
    tiny_jpeg,
)
from scraper.testsite.protocol import Action, Connection, Reply, Request
from scraper.testsite.sitemaps import robots_sitemap_lines, sitemap_reply
from scraper.testsite.stats import Recorder
from scraper.testsite.tracking import add_tracking

log = logging.getLogger(__name__)

CONTROL = "/_control/"
_CACHE_CONTROL = b"Cache-Control: private, s-maxage=0, max-age=0, must-revalidate\r\n"


@dataclass(frozen=True, slots=True)
class Cached:
    """A rendered page with its validators; `head` holds its header lines."""

    body: bytes
    etag: str
    last_modified: int
    head: bytes


def make_cached(body: bytes, last_modified: int, content_type: bytes = HTML) -> Cached:
    etag = '"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'
    head = (content_type + b"ETag: " + etag.encode() + b"\r\nLast-Modified: "
            + formatdate(last_modified, usegmt=True).encode() + b"\r\n" + _CACHE_CONTROL)
    return Cached(body, etag, last_modified, head)


def not_modified(req: Request, etag: str, last_modified: int) -> bool:
    """Whether a conditional GET may be answered 304 (If-None-Match wins over If-Modified-Since)."""
    inm = req.headers.get("if-none-match")
    if inm is not None:
        if inm.strip() == "*":
            return True
        # Weak comparison, as RFC 9110 asks for If-None-Match.
        return any(tag.strip().removeprefix("W/") == etag for tag in inm.split(","))
    ims = req.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified <= since.timestamp()
    return False


class SiteApp:
    """Everything one running site knows; used only from its event loop's thread."""

    def __init__(self, model: SiteModel, *, markup: str = "divs", latency_ms: float = 0,
                 volatile_footer: bool = False, log_limit: int = 100_000,
                 tracking_links: bool = False,
                 fault_seed: int | None = None, hosts: int = 1,
                 overload: Overload | None = None) -> None:
        if markup not in MARKUPS:
            raise ValueError(f"unknown markup {markup!r}: expected one of {', '.join(MARKUPS)}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms}")
        self.model = model
        self.markup = markup
        self.latency = latency_ms / 1000
        self.volatile_footer = volatile_footer
        self.tracking_links = tracking_links  # links carry tracking parameters (tracking.py)
        self.sitemaps = False  # /sitemap.xml and its gzip children (sitemaps.py)
        self.recorder = Recorder(log_limit)
        self.faults = FaultSet(model.seed if fault_seed is None else fault_seed)
        self.fault_urls = FaultURLs()
        self.overload = overload  # None: no capacity; see overload.py
        self.access = Access()  # pages that need a login, and the headers requests carried
        self.cache: dict[tuple[Any, ...], Cached] = {}
        self.addresses = host_addresses(hosts)
        self.base_url = ""  # the first host's origin, once serving
        self.origins: tuple[str, ...] = ()  # every host's "http://127.0.0.k:port", once serving
        self.spread_cache: dict[bytes, bytes] = {}  # links made absolute, for these origins
        self.port = 0
        self.connections: set[Connection] = set()
        self.control = Control(self)
        self._conn_ids = 0
        self._served = 0

    # -- connection bookkeeping (protocol.App) ---------------------------------------------

    def opened(self, conn: Connection) -> int:
        self.connections.add(conn)
        self._conn_ids += 1
        self.recorder.connections += 1
        self.recorder.open_connections += 1
        return self._conn_ids

    def closed(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.recorder.open_connections -= 1

    def begin(self, req: Request) -> None:
        if not req.path.startswith(CONTROL):
            self.recorder.begin(req)

    def end(self, req: Request, status: int, sent: int, fault: str | None) -> None:
        if not req.path.startswith(CONTROL):
            self.recorder.end(req, status, sent, fault, time.monotonic())

    # -- state changes ---------------------------------------------------------------------

    def edit(self, slug: str, **changes: Any) -> Topic:
        """Edit a topic (see SiteModel.edit) and drop every cached page that shows it."""
        for alias, name in (("add_entry", "add_related"), ("remove_entry", "remove_related")):
            if alias in changes:
                changes[name] = changes.pop(alias)
        name = self.model.find(slug)
        before = self.model.referrers(name)
        old = self.model.topic(name)
        topic = self.model.edit(name, now=time.time(), **changes)
        stale = {name} | before | self.model.referrers(name)
        drop_categories = old.categories != topic.categories
        for key in list(self.cache):
            if key[1] in stale or (drop_categories and key[0] == "category"):
                del self.cache[key]
        return topic

    def set_markup(self, markup: str) -> None:
        if markup not in MARKUPS:
            raise ValueError(f"unknown markup {markup!r}: expected one of {', '.join(MARKUPS)}")
        self.markup = markup

    def reset(self, *, stats: bool = True, faults: bool = False, content: bool = False) -> None:
        if stats:
            self.recorder.reset()
        if faults:
            self.faults.clear()
            self.fault_urls.reset()
            self.access.clear()
        if content:
            self.model.reset()
            self.cache.clear()

    def add_fault(self, rule: FaultRule) -> FaultRule:
        return self.faults.add(rule)

    # -- pages -----------------------------------------------------------------------------

    def _note(self) -> str:
        self._served += 1
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        return f"{now} (#{self._served})"

    def page(self, kind: str, name: str, page: int = 1) -> Cached:
        """A page from the cache, rendered on first use. KeyError when there is no such page."""
        volatile = self.volatile_footer
        key = (kind, name, page, self.markup if kind == "related" else "")
        if not volatile:
            found = self.cache.get(key)
            if found is not None:
                return found
        note = self._note() if volatile else ""
        model = self.model
        if kind == "related":
            body = render_listing(model, name, page, self.markup, note)
            modified = model.listing_revised_at(name, page)
        elif kind == "info":
            # The canonical URL names the article's own host.
            base = (self.origins[model.index[name] % len(self.origins)] if self._spread
                    else self.base_url)
            body = render_article(model, name, base, note)
            modified = model.topic(name).revised_at
        elif kind == "category":
            body = render_category(model, name)
            modified = max(model.topic(s).revised_at for s in model.category_members(name))
        else:
            body = render_home(model)
            modified = model.topic(model.slugs[0]).revised_at
        if self._spread:
            body = spread_links(body, self._owner, self.origins, self.spread_cache)
        if self.tracking_links:
            body = add_tracking(body, f"{kind}/{name}/{page}")
        cached = make_cached(body, modified)
        if not volatile:
            self.cache[key] = cached
        return cached

    @property
    def _spread(self) -> bool:
        """Whether pages link across several hosts (never with one: its bytes stay as they were)."""
        return len(self.origins) > 1

    def _owner(self, path: str) -> int | None:
        return page_owner(self.model, path, len(self.origins))

    def prerender(self) -> int:
        """Render every listing page and article now; returns how many pages were rendered."""
        n = 0
        for slug in self.model.slugs:
            for page in range(1, self.model.listing_pages(slug) + 1):
                self.page("related", slug, page)
                n += 1
            self.page("info", slug)
            n += 1
        return n

    # -- routing ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Reply | Action:
        path = req.path
        if path.startswith(CONTROL):
            return self.control.handle(req)
        if self.access.recording:
            refused = self.access.check(req)
            if refused is not None:
                return refused
        reply = self._route(req)
        if self.faults.rules and isinstance(reply, Reply):
            where = path + ("?" + req.query if req.query else "")
            rule = self.faults.match(where)
            if rule is not None:
                return self.faults.apply(rule, reply)
        if self.overload is not None and isinstance(reply, Reply):
            return self.overload.admit(reply)
        return reply

    def _route(self, req: Request) -> Reply | Action:
        path = req.path
        if req.method not in ("GET", "HEAD"):
            return Reply(405, b"method not allowed\n", b"Allow: GET, HEAD\r\n"
                         b"Content-Type: text/plain; charset=utf-8\r\n")
        if self._spread:
            owner = self._owner(path)
            if owner is not None and self.addresses[owner] != req.address:
                # A link spread to the wrong host must show, not be served twice.
                return Reply(404, render_not_found(path, f"It lives on {self.origins[owner]}."),
                             HTML)
        try:
            if path.startswith("/related/"):
                query = parse_qs(req.query)
                page = int(query.get("page", ["1"])[-1])
                return self._cached_reply(req, self.page("related", self._slug(path[9:]), page))
            if path.startswith("/info/"):
                return self._cached_reply(req, self.page("info", self._slug(path[6:])))
            if path.startswith("/fault/") or path == "/fault":
                return self.fault_urls.handle(req, self.port)
            if path == "/":
                return self._cached_reply(req, self.page("home", ""))
            if path == "/robots.txt":
                return Reply(200, ROBOTS_TXT + robots_sitemap_lines(self),
                             b"Content-Type: text/plain; charset=utf-8\r\n")
            sitemap = sitemap_reply(self, path)
            if sitemap is not None:
                return sitemap
            if path.startswith("/img/") and path.endswith(".jpg"):
                self._slug(path[5:-4])
                return Reply(200, tiny_jpeg(), b"Content-Type: image/jpeg\r\n"
                             b"Cache-Control: max-age=86400\r\n")
            if path.startswith("/category/") and len(path) > 10:
                name = path[10:].replace("_", " ")
                return self._cached_reply(req, self.page("category", name))
            if path.startswith(("/private/", "/offsite/", "/w/", "/category/")):
                section = path.split("/")[1]
                return Reply(200, render_plain(f"{section}: {path}", "Outside the encyclopedia: "
                                               "robots.txt or the crawl's scope keeps crawlers "
                                               "away from here."), HTML)
        except (KeyError, ValueError) as exc:
            log.debug("%s: not found: %s", req.target, exc)
        return Reply(404, render_not_found(path), HTML)

    def _slug(self, raw: str) -> str:
        return self.model.find(raw.replace(" ", "_"))

    @staticmethod
    def _cached_reply(req: Request, cached: Cached) -> Reply:
        if not_modified(req, cached.etag, cached.last_modified):
            return Reply(304, b"", cached.head)
        return Reply(200, cached.body, cached.head)
