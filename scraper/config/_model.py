"""The config records: what a crawl config holds, each default declared once here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scraper import __version__
from scraper.config.secrets import Secret

PARSERS = ("auto", "listing", "mediawiki", "generic", "selectors")
FOLLOW_KINDS = ("related", "more_info", "see_also", "internal", "external", "next")
SOURCES = ("html", "mediawiki")
DEFAULT_USER_AGENT = f"scraper/{__version__} (+https://github.com/scraper-archiver/scraper)"


@dataclass(frozen=True, slots=True)
class Scope:
    domains: tuple[str, ...] = ()  # hosts that may be fetched; empty: the start URLs' hosts
    include: tuple[re.Pattern[str], ...] = ()  # regexes on path+query; none: all
    exclude: tuple[re.Pattern[str], ...] = ()
    # Query parameters (scraper.urls.query_rule_of): with keep_query only those named stay;
    # else the tracking ones and drop_query's go (a name ending in `*` is a prefix).
    keep_query: tuple[str, ...] | None = None
    drop_query: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Politeness:
    concurrency: int = 4  # requests in flight per host
    delay: float = 0.25  # seconds between request starts per host
    robots_txt: bool = True
    user_agent: str = DEFAULT_USER_AGENT
    # adaptive: the delay follows the server's latency and errors (scraper.crawl.adaptive),
    # never below `delay`; at most target_concurrency requests in the server's hands per
    # host (None: "auto", probe up to `concurrency`).
    adaptive: bool = False
    target_concurrency: float | None = None
    max_delay: float = 60.0  # seconds: the most adaptive backoff goes to
    slow_answer: float = 10.0  # seconds: an answer this slow backs off like a 503


@dataclass(frozen=True, slots=True)
class Network:
    allow_loopback: bool = False  # 127.0.0.0/8, ::1
    allow_private: bool = False  # 10/8, 172.16/12, 192.168/16, fc00::/7, link-local
    timeout: float = 30.0  # seconds per request (connect, each read)
    total_timeout: float = 120.0  # seconds for a whole response, body included
    max_body_bytes: int = 10 * 1024 * 1024
    max_decompressed_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 10
    attempts: int = 4  # tries per URL, the first included
    backoff_base: float = 0.5  # first retry waits about this long, doubling each time
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a longer Retry-After is capped to this
    http2: bool = False
    proxy: Secret | None = None  # http://, https:// or socks5:// URL (may hold a password)
    trust_env: bool = False  # honour HTTP(S)_PROXY / NO_PROXY


@dataclass(frozen=True, slots=True)
class BasicAuth:
    user: str
    password: Secret


@dataclass(frozen=True, slots=True)
class FileCookie:
    """One line of a Netscape cookies.txt."""

    domain: str  # without a leading dot
    subdomains: bool  # the file's flag: sent to the domain's subdomains too
    path: str
    secure: bool  # https only
    name: str
    value: Secret


@dataclass(frozen=True, slots=True)
class RequestSettings:
    """What every request to the config's hosts carries (never to other hosts)."""

    headers: tuple[tuple[str, Secret], ...] = ()
    cookies: tuple[tuple[str, Secret], ...] = ()  # inline: sent to every config host
    cookies_file: str | None = None  # as written in the config
    file_cookies: tuple[FileCookie, ...] = ()  # read from cookies_file when it was loaded
    basic: BasicAuth | None = None
    bearer: Secret | None = None


@dataclass(frozen=True, slots=True)
class Selectors:
    entry: str | None = None
    title: str | None = None
    summary: str | None = None
    related: str | None = None
    more_info: str | None = None
    image: str | None = None
    text: str | None = None
    next: str | None = None


@dataclass(frozen=True, slots=True)
class RecrawlRule:
    pattern: re.Pattern[str]  # on the URL path
    after: float  # seconds


@dataclass(frozen=True, slots=True)
class MediaWikiSource:
    api: str | None = None  # api.php URL; found from the start page's RSD link if absent
    titles: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    category_depth: int = 0
    allpages_prefix: str | None = None
    allpages_namespace: int | None = None
    follow_links: bool = False
    backfill: int = 0  # past revisions to import per page
    maxlag: int = 5
    use_textextracts: bool = True


# Kinds of change a notify target can ask for (`on:`). A new version of a known page is
# `changed`, and also `summary`, `links` or `infobox` when its summary, its related links or
# its infobox changed; a page first archived is `new`; `gone` and `breakage` as named.
NOTIFY_KINDS = ("changed", "summary", "links", "infobox", "new", "gone", "breakage")
DEFAULT_NOTIFY_ON = ("changed", "gone", "breakage")  # not `new`: a first crawl is all new


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    kind: str  # "apprise" | "webhook"
    url: str  # as written (`${NAME}` references unexpanded): its key and what is shown
    url_value: Secret  # the URL to send to
    secret: str | None = None  # webhooks: the HMAC key, as written
    secret_value: Secret | None = None
    on: tuple[str, ...] = DEFAULT_NOTIFY_ON
    match: re.Pattern[str] | None = None  # on the page URL; None: every page


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    name: str
    start_urls: tuple[str, ...]
    path: str = "<config>"  # the file it came from, for messages
    sitemaps: tuple[str, ...] = ()  # sitemap URLs whose pages seed the crawl
    start: str = "urls"  # urls | sitemap: also the start hosts' robots.txt Sitemap: lines
    parser: str = "auto"
    follow: tuple[str, ...] = ("related",)
    scope: Scope = field(default_factory=Scope)
    max_depth: int = 3
    max_pages: int | None = None  # per run; None: no limit
    recrawl_after: float = 86400.0  # seconds
    recrawl_rules: tuple[RecrawlRule, ...] = ()
    politeness: Politeness = field(default_factory=Politeness)
    network: Network = field(default_factory=Network)
    request: RequestSettings = field(default_factory=RequestSettings)
    archive: str | None = None
    selectors: Selectors | None = None
    source: str = "html"
    mediawiki: MediaWikiSource | None = None
    max_links_per_page: int = 5000
    gone_after: int = 2  # consecutive 404/410 answers before a page is marked gone
    full_copy_every: int = 20  # a stored body is a full copy at least every K versions
    notify: tuple[NotifyTarget, ...] = ()  # where to tell of changes (scraper.watch)
