"""An async client of a MediaWiki's Action API (api.php), REST API and page views.

The caller owns the `httpx.AsyncClient` and passes it in; the client makes its requests one at
a time (a lock serialises them, so `asyncio.gather` over one client still asks in series), sends
`maxlag` and the caller's User-Agent, follows `continue` on every list and batches titles 50
per query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from scraper.crawl.source import SiteCredentials
from scraper.errors import FetchError, FetchTimeout, HTTPStatusError
from scraper.mediawiki.errors import (
    ApiError,
    BadAnswer,
    MaxLagError,
    NoApiFound,
    PageMissing,
    Unsupported,
)
from scraper.mediawiki.readers import (
    find_api_url,
    read_compare,
    read_page_refs,
    read_parse,
    read_recent_changes,
    read_rest_page,
    read_revision,
    read_siteinfo,
    read_title_lookup,
)
from scraper.mediawiki.records import (
    Comparison,
    PageRef,
    ParsedRevision,
    RecentChange,
    RestPage,
    SiteInfo,
    TitleLookup,
    title_to_path,
)
from scraper.models import RevisionMeta
from scraper.timeutil import parse_retry_after

log = logging.getLogger(__name__)

__all__ = ["MediaWikiClient", "PageHtml", "discover_api_url", "maxlag_wait", "mw_timestamp"]

Params = Mapping[str, str | int]
TITLE_BATCH = 50  # titles per query for clients without apihighlimits
EXTRACTS_BATCH = 20  # TextExtracts answers at most 20 pages per query
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAXLAG_RETRY_AFTER = 5.0  # MediaWiki's own Retry-After for a maxlag refusal
_POST_OVER = 6000  # bytes of query string above which a read query is POSTed
RC_PROPS = "title|ids|timestamp|user|comment|loginfo|flags|sizes"
REV_PROPS = "ids|timestamp|user|comment|size|sha1"


def mw_timestamp(when: datetime | str) -> str:
    """A time as MediaWiki's API takes it: 2024-01-10T10:00:00Z (UTC, whole seconds)."""
    if isinstance(when, str):
        return when
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class PageHtml:
    """A page view (index.php) or REST HTML answer."""

    url: str
    status: int
    body: bytes
    content_type: str | None = None


def maxlag_wait(retry_after: float | None, refusals_before: int, *, backoff: float,
                longest: float) -> float:
    """Seconds to wait after a maxlag refusal that `refusals_before` others preceded.

    At least what the wiki asks (Retry-After, else MediaWiki's 5 s; a Retry-After of 0 counts
    as `backoff`), doubled at each further refusal as Pywikibot does: replicas that stay
    behind are not asked again at the same pace. Never more than `longest`.
    """
    first = MAXLAG_RETRY_AFTER if retry_after is None else max(retry_after, backoff)
    return float(min(first * 2 ** refusals_before, longest))


def _batches(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class MediaWikiClient:
    """One wiki's API, through an httpx.AsyncClient the caller owns.

    :param api_url: the wiki's api.php (see `discover_api_url`).
    :param user_agent: sent on every request; Wikimedia asks for one with contact details.
    :param maxlag: seconds of replica lag above which the wiki should refuse (None: not sent).
    :param page_size: per-request limit of lists ("max", or a number: small numbers force
        continuation in tests).
    :param attempts: tries per request on timeouts, connection errors, 429 and 5xx.
    :param maxlag_retries: extra tries after `maxlag` refusals: the first waits the answer's
        Retry-After, each further one twice as long as the one before (`maxlag_wait`).
    :param retry_after_max: the longest single wait, whatever the wiki asks for.
    :param backoff: the first wait before a retry the wiki gave no Retry-After for.
    :param delay: least seconds between the starts of two requests.
    :param sleep: awaited to wait (tests pass a recorder).
    :param on_retry: called at every retry (of either kind), as it is made: a crawl counts
        them in its run's summary.
    :param credentials: the config's `request:` headers, cookies and auth, sent with the
        requests to the config's hosts.
    """

    def __init__(self, http: httpx.AsyncClient, api_url: str, *, user_agent: str | None = None,
                 maxlag: int | None = 5, page_size: int | str = "max", attempts: int = 3,
                 maxlag_retries: int = 5, retry_after_max: float = 60.0, backoff: float = 1.0,
                 delay: float = 0.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_retry: Callable[[], None] | None = None,
                 credentials: SiteCredentials | None = None) -> None:
        self.http = http
        self.api_url = api_url
        self.user_agent = user_agent
        self.maxlag = maxlag
        self.page_size = page_size
        self.attempts = max(1, attempts)
        self.maxlag_retries = maxlag_retries
        self.retry_after_max = retry_after_max
        self.backoff = backoff
        self.delay = delay
        self._sleep = sleep
        self._on_retry = on_retry
        self._credentials = credentials  # the config's request: settings, for its hosts
        self._lock = asyncio.Lock()
        self._last_start = 0.0
        self._siteinfo: SiteInfo | None = None
        self._warned: set[str] = set()
        self.requests = 0  # HTTP requests made, retries included
        self.retries = 0  # of those, the ones that repeated a request (5xx, 429, maxlag...)

    # --- transport ----------------------------------------------------------------------------

    async def _send(self, method: str, url: str, *, params: Params | None = None,
                    data: Params | None = None, follow_redirects: bool = False
                    ) -> httpx.Response:
        """One request with retries on transient failures; returns any non-retryable answer."""
        shown = f"{url}?{urlencode(params)}" if params else url
        headers = {"User-Agent": self.user_agent} if self.user_agent else {}
        if self._credentials is not None:
            # Asked for this URL (never followed to another: redirects are not followed).
            headers.update(self._credentials.headers_for(url, self.http.cookies))
        last: FetchError | None = None
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self._retried()
            async with self._lock:
                wait = self._last_start + self.delay - time.monotonic()
                if wait > 0:
                    await self._sleep(wait)
                self._last_start = time.monotonic()
                self.requests += 1
                try:
                    response = await self.http.request(
                        method, url, params=params, data=data, headers=headers,
                        follow_redirects=follow_redirects)
                    await response.aread()
                except httpx.TimeoutException as exc:
                    last = FetchTimeout(shown, f"timed out: {exc}", attempts=attempt)
                    retry_after = None
                except httpx.TransportError as exc:
                    last = FetchError(shown, f"{type(exc).__name__}: {exc}", attempts=attempt)
                    retry_after = None
                else:
                    # An API error (maxlag answers may come as 503) is the caller's to read.
                    if (response.status_code not in _RETRY_STATUS
                            or "mediawiki-api-error" in response.headers):
                        return response
                    last = HTTPStatusError(shown, response.status_code, attempts=attempt)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt < self.attempts:
                pause = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
                log.info("%s: %s; retrying in %.1f s", shown, last.reason, pause)
                await self._sleep(min(pause, self.retry_after_max))
        assert last is not None
        raise last

    async def call(self, params: Params) -> dict[str, Any]:
        """One api.php request (JSON, formatversion 2, maxlag); returns the decoded answer.

        Raises ApiError for an `error` answer, MaxLagError when the wiki kept refusing for
        lag, BadAnswer for non-JSON, HTTPStatusError/FetchTimeout/FetchError for HTTP trouble.
        """
        full: dict[str, str | int] = {"format": "json", "formatversion": 2, **params}
        if self.maxlag is not None:
            full["maxlag"] = self.maxlag
        shown = f"{self.api_url}?{urlencode(full)}"
        post = len(shown) > _POST_OVER
        for lag_try in range(self.maxlag_retries + 1):
            if post:
                response = await self._send("POST", self.api_url, data=full)
            else:
                response = await self._send("GET", self.api_url, params=full)
            if response.status_code >= 400 and "mediawiki-api-error" not in response.headers:
                raise HTTPStatusError(shown, response.status_code)
            try:
                data = response.json()
            except ValueError:
                ctype = response.headers.get("content-type", "?")
                raise BadAnswer(shown, f"answer is not JSON (HTTP {response.status_code}, "
                                       f"{ctype}): {response.text[:200]!r}") from None
            if not isinstance(data, dict):
                raise BadAnswer(shown, "answer is not a JSON object")
            error = data.get("error")
            if error is None:
                self._log_warnings(shown, data.get("warnings"))
                return data
            code = str(error.get("code", "unknown"))
            info = str(error.get("info", error.get("text", "")))
            if code != "maxlag":
                raise ApiError(shown, code, info)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            lag = error.get("lag")
            if lag_try >= self.maxlag_retries:
                raise MaxLagError(shown, info, lag=float(lag) if lag is not None else None,
                                  retry_after=retry_after, attempts=lag_try + 1)
            pause = maxlag_wait(retry_after, lag_try, backoff=self.backoff,
                                longest=self.retry_after_max)
            log.warning("%s: server lagged (%s); waiting %.1f s", self.api_url, info, pause)
            await self._sleep(pause)
            self._retried()
        raise AssertionError("unreachable")

    def _retried(self) -> None:
        self.retries += 1
        if self._on_retry is not None:
            self._on_retry()

    def _log_warnings(self, url: str, warnings: Any) -> None:
        if not warnings:
            return
        text = str(warnings)
        if text not in self._warned:
            self._warned.add(text)
            log.warning("%s: API warnings: %s", url, text[:500])

    async def query_all(self, params: Params) -> AsyncIterator[dict[str, Any]]:
        """action=query answers, following `continue` until the list is complete."""
        cont: dict[str, Any] = {}
        while True:
            data = await self.call({"action": "query", **params, **cont})
            yield data
            more = data.get("continue")
            if not more:
                return
            cont = {str(k): v for k, v in more.items()}

    # --- site ---------------------------------------------------------------------------------

    async def siteinfo(self, *, refresh: bool = False) -> SiteInfo:
        """meta=siteinfo (general, extensions), fetched once and cached."""
        if self._siteinfo is None or refresh:
            data = await self.call({"action": "query", "meta": "siteinfo",
                                    "siprop": "general|extensions"})
            self._siteinfo = read_siteinfo(data, self.api_url)
        return self._siteinfo

    async def supports_extracts(self) -> bool:
        """Whether the wiki has TextExtracts (prop=extracts)."""
        return (await self.siteinfo()).has_extension("TextExtracts")

    # --- enumerations -------------------------------------------------------------------------

    async def category_members(self, category: str, *, depth: int = 0,
                               namespaces: Sequence[int] = (0,)) -> tuple[PageRef, ...]:
        """Pages in a category and, down to `depth` levels, in its subcategories.

        Each page once, in the order met (breadth first); subcategories are listed only
        when 14 is among `namespaces`. Category cycles are harmless.
        """
        start = category if category.lower().startswith("category:") else f"Category:{category}"
        queue: list[tuple[str, int]] = [(start, 0)]
        seen_cats = {start.replace("_", " ")}
        found: dict[str, PageRef] = {}
        while queue:
            cat, level = queue.pop(0)
            wanted = set(namespaces) | ({14} if level < depth else set())
            params: dict[str, str | int] = {"list": "categorymembers", "cmtitle": cat, "cmlimit": self.page_size,
                      "cmprop": "ids|title|type", "cmtype": "page|subcat|file",
                      "cmnamespace": "|".join(str(n) for n in sorted(wanted))}
            async for data in self.query_all(params):
                for ref in read_page_refs(data.get("query", {}).get("categorymembers", ())):
                    if ref.ns == 14 and level < depth and ref.title not in seen_cats:
                        seen_cats.add(ref.title)
                        queue.append((ref.title, level + 1))
                    if ref.ns in namespaces:
                        found.setdefault(ref.title, ref)
        return tuple(found.values())

    async def all_pages(self, *, prefix: str | None = None, namespace: int = 0,
                        redirects: bool = False) -> tuple[PageRef, ...]:
        """list=allpages in one namespace, optionally by title prefix (redirects left out
        unless asked for)."""
        params: dict[str, str | int] = {
            "list": "allpages", "apnamespace": namespace, "aplimit": self.page_size,
            "apfilterredir": "all" if redirects else "nonredirects"}
        if prefix:
            params["apprefix"] = prefix
        refs: list[PageRef] = []
        async for data in self.query_all(params):
            refs.extend(read_page_refs(data.get("query", {}).get("allpages", ())))
        return tuple(refs)

    async def linked_pages(self, titles: Sequence[str], *,
                           namespaces: Sequence[int] = (0,)) -> tuple[PageRef, ...]:
        """Existing pages linked from `titles` (redirects resolved to their targets; red
        links left out), each once."""
        found: dict[str, PageRef] = {}
        for batch in _batches(_unique(titles), TITLE_BATCH):
            params: dict[str, str | int] = {"generator": "links", "titles": "|".join(batch), "redirects": 1,
                      "gpllimit": self.page_size, "prop": "info",
                      "gplnamespace": "|".join(str(n) for n in namespaces)}
            async for data in self.query_all(params):
                for ref in read_page_refs(data.get("query", {}).get("pages", ())):
                    if ref.ns in namespaces:
                        found.setdefault(ref.title, ref)
        return tuple(found.values())

    # --- revisions ----------------------------------------------------------------------------

    async def page_info(self, titles: Sequence[str] = (), *,
                        page_ids: Sequence[int] = (), redirects: bool = True) -> TitleLookup:
        """Current revision (id, timestamp, user, comment) and metadata of many pages.

        Redirects are followed (`redirects=1`) unless `redirects` is False, when a redirect
        page comes back as itself (`PageState.redirect`, its own revision); the answer says
        how each title was normalised or redirected and which are missing or invalid. Page
        ids find pages whatever their title now is (a moved page keeps its id).
        """
        lookup = TitleLookup()
        base: dict[str, str | int] = {"prop": "info|revisions", "rvprop": REV_PROPS,
                                      "inprop": "url"}
        if redirects:
            base["redirects"] = 1
        for batch in _batches(_unique(titles), TITLE_BATCH):
            async for data in self.query_all({**base, "titles": "|".join(batch)}):
                lookup = lookup.merged(read_title_lookup(data.get("query", {}), self.api_url))
        ids = [str(i) for i in dict.fromkeys(page_ids)]
        for id_batch in _batches(ids, TITLE_BATCH):
            async for data in self.query_all({**base, "pageids": "|".join(id_batch)}):
                query = data.get("query", {})
                # A page id that does not exist comes back as {"pageid": N, "missing": true}.
                lookup = lookup.merged(read_title_lookup(query, self.api_url))
        return lookup

    async def recent_changes(self, since: datetime | str, *, until: datetime | str | None = None,
                             namespaces: Sequence[int] | None = (0,),
                             types: Sequence[str] = ("edit", "new", "log"),
                             ) -> tuple[RecentChange, ...]:
        """Changes from `since` (inclusive) to `until`, oldest first: edits, creations and
        log events (moves, deletions, restores...). None as namespaces means all."""
        params: dict[str, str | int] = {
            "list": "recentchanges", "rcprop": RC_PROPS, "rcdir": "newer",
            "rcstart": mw_timestamp(since), "rclimit": self.page_size,
            "rctype": "|".join(types)}
        if until is not None:
            params["rcend"] = mw_timestamp(until)
        if namespaces is not None:
            params["rcnamespace"] = "|".join(str(n) for n in namespaces)
        changes: list[RecentChange] = []
        async for data in self.query_all(params):
            changes.extend(read_recent_changes(data.get("query", {}).get("recentchanges", ())))
        return tuple(changes)

    async def history(self, title: str, *, limit: int = 50, start_id: int | None = None,
                      oldest_first: bool = True) -> tuple[RevisionMeta, ...]:
        """Up to `limit` most recent revisions of a page (from `start_id` backwards when
        given), returned oldest first unless told otherwise. Raises PageMissing."""
        params: dict[str, str | int] = {
            "prop": "revisions", "titles": title, "rvprop": REV_PROPS, "rvdir": "older",
            "redirects": 1}
        if start_id is not None:
            params["rvstartid"] = start_id
        revisions: list[RevisionMeta] = []
        cont: dict[str, Any] = {}
        while len(revisions) < limit:
            step = limit - len(revisions)
            if isinstance(self.page_size, int):
                step = min(step, self.page_size)
            data = await self.call({"action": "query", **params, "rvlimit": min(step, 500),
                                    **cont})
            pages = data.get("query", {}).get("pages", ())
            if not pages or pages[0].get("missing") or pages[0].get("invalid"):
                raise PageMissing(self.api_url, f"no page {title!r}")
            page_id = pages[0].get("pageid")
            revisions.extend(read_revision(r, page_id) for r in pages[0].get("revisions", ()))
            if "continue" not in data:
                break
            cont = dict(data["continue"])
        revisions = revisions[:limit]
        return tuple(reversed(revisions)) if oldest_first else tuple(revisions)

    async def wikitext(self, revid: int) -> str:
        """The wikitext of one revision (main slot)."""
        data = await self.call({"action": "query", "prop": "revisions", "revids": revid,
                                "rvprop": "ids|content", "rvslots": "main"})
        query = data.get("query", {})
        for page in query.get("pages", ()):
            for rev in page.get("revisions", ()):
                if int(rev.get("revid", -1)) == revid:
                    return str(rev["slots"]["main"].get("content", ""))
        raise PageMissing(self.api_url, f"no revision {revid}")

    # --- rendered content ---------------------------------------------------------------------

    async def parse_revision(self, revid: int) -> ParsedRevision:
        """action=parse&oldid=N: the revision's rendered content, categories and links.

        The HTML is the content only (div.mw-parser-output), without the skin; see
        `revision_page` for the full page view that the mediawiki parser reads best.
        """
        try:
            data = await self.call({
                "action": "parse", "oldid": revid, "disablelimitreport": 1,
                "prop": "text|revid|displaytitle|categories|links|sections"})
        except ApiError as exc:
            if exc.code in ("nosuchrevid", "missingtitle"):
                raise PageMissing(exc.url, f"no revision {revid}: {exc.info}") from exc
            raise
        return read_parse(data, self.api_url)

    async def revision_page(self, title: str, revid: int | None = None) -> PageHtml:
        """The full HTML page view of a revision, index.php?title=T&oldid=N (the current one
        when revid is None). Its RLCONF carries wgRevisionId = N. Raises PageMissing on 404."""
        site = await self.siteinfo()
        url = site.revision_url(title, revid) if revid is not None else site.page_url(title)
        response = await self._send("GET", url)
        if response.status_code == 404:  # MediaWiki's answer for no such page or revision
            raise PageMissing(url, f"no page {title!r}" + (f" revision {revid}" if revid else ""))
        if response.status_code >= 400:
            raise HTTPStatusError(url, response.status_code)
        return PageHtml(url=url, status=response.status_code, body=response.content,
                        content_type=response.headers.get("content-type"))

    async def extracts(self, titles: Sequence[str], *, intro: bool = True,
                       plain: bool = True) -> dict[str, str]:
        """TextExtracts summaries of many pages, keyed by the titles asked for (redirects and
        normalisation followed; missing pages left out). Paragraphs are separated by "\\n".
        Raises Unsupported when the wiki lacks TextExtracts: check `supports_extracts()`."""
        if not await self.supports_extracts():
            raise Unsupported(self.api_url, "the wiki has no TextExtracts (prop=extracts)")
        out: dict[str, str] = {}
        params: dict[str, str | int] = {"prop": "extracts", "exlimit": EXTRACTS_BATCH,
                                        "redirects": 1}
        if intro:
            params["exintro"] = 1
        if plain:
            params["explaintext"] = 1
        for batch in _batches(_unique(titles), EXTRACTS_BATCH):
            texts: dict[str, str] = {}
            lookup = TitleLookup()
            async for data in self.query_all({**params, "titles": "|".join(batch)}):
                query = data.get("query", {})
                lookup = lookup.merged(TitleLookup(
                    normalized=tuple((n["from"], n["to"]) for n in query.get("normalized", ())),
                    redirects=tuple((r["from"], r["to"]) for r in query.get("redirects", ()))))
                for page in query.get("pages", ()):
                    if "extract" in page:
                        texts[str(page["title"])] = str(page["extract"])
            for title in batch:
                final = lookup.resolve(title)
                if final in texts:
                    out[title] = texts[final]
        return out

    async def compare(self, from_rev: int, to_rev: int) -> Comparison:
        """action=compare between two revisions: MediaWiki's own diff of their wikitext."""
        data = await self.call({"action": "compare", "fromrev": from_rev, "torev": to_rev,
                                "prop": "diff|ids|title|user|comment|timestamp|size"})
        return read_compare(data, self.api_url)

    # --- REST ---------------------------------------------------------------------------------

    async def _rest_url(self) -> str:
        site = await self.siteinfo()
        if site.rest_url is None:
            raise Unsupported(self.api_url, f"no REST API ({site.generator or 'old MediaWiki'})")
        return site.rest_url

    async def rest_page(self, title: str) -> RestPage:
        """REST /v1/page/{title}/bare: page id and latest revision (with ETag)."""
        url = f"{await self._rest_url()}/page/{title_to_path(title)}/bare"
        response = await self._send("GET", url)
        if response.status_code == 404:
            raise PageMissing(url, f"no page {title!r}")
        if response.status_code >= 400:
            raise HTTPStatusError(url, response.status_code)
        try:
            data = response.json()
        except ValueError:
            raise BadAnswer(url, "REST answer is not JSON") from None
        return read_rest_page(data, url, etag=response.headers.get("etag"),
                              last_modified=response.headers.get("last-modified"))

    async def rest_revision_html(self, revid: int) -> PageHtml:
        """REST /v1/revision/{id}/html: the revision as Parsoid HTML."""
        url = f"{await self._rest_url()}/revision/{revid}/html"
        response = await self._send("GET", url)
        if response.status_code == 404:
            raise PageMissing(url, f"no revision {revid}")
        if response.status_code >= 400:
            raise HTTPStatusError(url, response.status_code)
        return PageHtml(url=url, status=response.status_code, body=response.content,
                        content_type=response.headers.get("content-type"))


async def discover_api_url(http: httpx.AsyncClient, page_url: str, *,
                           user_agent: str | None = None) -> str:
    """The api.php URL of the wiki serving `page_url`, from the page's RSD (EditURI) link.

    Raises NoApiFound when the page advertises none, FetchError subclasses for HTTP trouble.
    """
    headers = {"User-Agent": user_agent} if user_agent else {}
    try:
        response = await http.get(page_url, headers=headers, follow_redirects=True)
    except httpx.TimeoutException as exc:
        raise FetchTimeout(page_url, f"timed out: {exc}") from exc
    except httpx.TransportError as exc:
        raise FetchError(page_url, f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise HTTPStatusError(page_url, response.status_code)
    api = find_api_url(response.content, str(response.url))
    if api is None:
        raise NoApiFound(page_url, "no <link rel=\"EditURI\"> to the wiki's api.php; "
                                   "set mediawiki.api in the config")
    return api
