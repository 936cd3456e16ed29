"""URL normalisation, scope rules and the choice of links to follow (pure: no I/O)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from scraper.config import CrawlConfig, Scope
from scraper.models import FrontierItem, Page

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_SCHEMES = ("http", "https")
# Longer URLs are not queued: servers refuse them (8 KiB is a common request-line cap), and
# the scope and recrawl regexes run on every queued URL, so its length bounds their time.
MAX_URL_CHARS = 8192
# Query keys whose order matters to some servers (form posts to MediaWiki's index.php read
# `title` first is a myth, but `action=raw` & co. are order-free); sorting is safe for
# the key/value form only, so a query that is not plain key=value pairs is left as it is.
_PLAIN_QUERY = re.compile(r"^[^=&]+=[^&]*(&[^=&]+=[^&]*)*$")


def normalise_url(url: str, base: str | None = None) -> str:
    """The one form of a URL under which it is queued and stored.

    Lowercases scheme and host, drops default ports, the fragment, dot segments and an empty
    query, normalises percent-escapes, makes an empty path "/" and sorts a plain key=value
    query by key (stable, so repeated keys keep their order). Raises ValueError for URLs
    that are not http(s), have no host, carry credentials or are longer than
    MAX_URL_CHARS.
    """
    if base is not None:
        url = urljoin(base, url)
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"URL longer than {MAX_URL_CHARS:,} characters: {url[:80]!r}...")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError as exc:
        raise ValueError(f"bad host name in {url!r}: {exc}") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if "@" in parts.netloc:
        # A crawler never sends credentials that a page or a redirect put in a link (and
        # aiohttp refuses such URLs beside its own auth): they are not fetched.
        raise ValueError(f"URL carries credentials (user name or password): {url!r}")
    path = _normalise_path(parts.path)
    query = _normalise_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


# "scheme://" at the start: without it, `en.wikipedia.org/wiki/Foo` is a path and
# `localhost:8000/wiki/Foo` has the scheme "localhost".
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def pasted_url_forms(text: str) -> list[str]:
    """The stored forms a person may mean by a URL pasted from a browser, most likely first.

    `text` is normalised as the crawler does (any case of scheme and host, a fragment,
    default ports; https:// is added when it has no scheme), then given with its path's
    trailing slash added or removed, and each of these with the other of http and https.
    Raises ValueError as normalise_url does.
    """
    stripped = text.strip()
    if not _HAS_SCHEME.match(stripped):
        stripped = "https://" + stripped.lstrip("/")
    first = normalise_url(stripped)
    parts = urlsplit(first)
    paths = [parts.path]
    if parts.path != "/":
        paths.append(parts.path[:-1] if parts.path.endswith("/") else parts.path + "/")
    other_scheme = "http" if parts.scheme == "https" else "https"
    forms: list[str] = []
    for scheme in (parts.scheme, other_scheme):
        for path in paths:
            form = normalise_url(urlunsplit((scheme, parts.netloc, path, parts.query, "")))
            if form not in forms:
                forms.append(form)
    return forms


_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalise_escapes(text: str, safe: str) -> str:
    """Decode escapes of unreserved characters, uppercase the others, escape what must be."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return quote(_PCT.sub(fix, text), safe=safe + "%")


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    resolved = posixpath.normpath(path)
    if resolved == ".":
        resolved = "/"
    resolved = "/" + resolved.lstrip("/")
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return _normalise_escapes(resolved, "/:@!$&'()*+,;=-._~")


def _normalise_query(query: str) -> str:
    if not query:
        return ""
    if not _PLAIN_QUERY.match(query):
        return _normalise_escapes(query, "=&/:@!$'()*+,;?-._~")
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs.sort(key=lambda pair: pair[0])
    # "+" is escaped: parse_qsl has decoded "+" to a space and "%2B" to "+", and a "+" left
    # bare would read back as a space (found by the idempotence property test).
    return urlencode(pairs, quote_via=quote, safe="/:@!$'()*,;?-._~")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def out_of_scope_reason(url: str, scope: Scope) -> str | None:
    """Why `url` is outside the scope, or None when it is inside."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    host = (parts.hostname or "").lower()
    if scope.domains and not any(host == d or host.endswith("." + d) for d in scope.domains):
        return f"host {host!r} is not in scope.domains"
    target = path_and_query(url)
    if scope.include and not any(p.search(target) for p in scope.include):
        return "path matches no scope.include pattern"
    for pattern in scope.exclude:
        if pattern.search(target):
            return f"path matches scope.exclude {pattern.pattern!r}"
    return None


def follow_kinds(config: CrawlConfig) -> frozenset[str]:
    """The link kinds a crawl follows. A listing's `next` page is part of the same listing, so
    it is followed whenever `related` is."""
    kinds = set(config.follow)
    if "related" in kinds:
        kinds.add("next")
    return frozenset(kinds)


@dataclass(frozen=True, slots=True)
class FollowRule:
    """What links_to_follow reads of a crawl's config: small, so that it goes with each page
    to a parse worker, which then does this work off the process that fetches and writes."""

    site: str
    kinds: frozenset[str]
    max_depth: int
    max_links: int
    scope: Scope

    @classmethod
    def of(cls, config: CrawlConfig) -> FollowRule:
        return cls(config.name, follow_kinds(config), config.max_depth,
                   config.max_links_per_page, config.scope)


def links_to_follow(page: Page, rule: FollowRule, depth: int) -> list[FrontierItem]:
    """The frontier items a fetched page contributes: followed kinds, in scope, within depth,
    normalised and deduplicated, in page order."""
    seen: set[str] = set()
    items: list[FrontierItem] = []
    red = page.red_links  # pages the wiki has not written: a request would only get a 404
    for link in page.links[: rule.max_links]:
        if link.kind not in rule.kinds or (red and link.url in red):
            continue
        # Pagination stays at the listing's own depth: page 2 of a listing is the same listing.
        child_depth = depth if link.kind == "next" else depth + 1
        if child_depth > rule.max_depth:
            continue
        try:
            url = normalise_url(link.url)
        except ValueError:
            continue
        if url in seen or out_of_scope_reason(url, rule.scope) is not None:
            continue
        seen.add(url)
        items.append(FrontierItem(url=url, site=rule.site, depth=child_depth,
                                  discovered_from=page.url, link_kind=link.kind))
    return items


def start_items(config: CrawlConfig) -> list[FrontierItem]:
    return [FrontierItem(url=normalise_url(u), site=config.name, depth=0)
            for u in config.start_urls]


def recrawl_interval(url: str, config: CrawlConfig) -> float:
    """Seconds before `url` is due again: the first matching `recrawl:` rule, else
    `recrawl_after`."""
    target = path_and_query(url)
    for rule in config.recrawl_rules:
        if rule.pattern.search(target):
            return rule.after
    return config.recrawl_after


def failure_backoff(attempts: int, *, base: float = 300.0, cap: float = 7 * 86400.0) -> float:
    """Seconds before a failed URL is tried again in a later run: 5 min, 10, 20, ... at most a
    week."""
    return min(cap, base * 2.0 ** max(0, attempts - 1))


def gone_recheck_interval(config: CrawlConfig) -> float:
    """A page marked gone is rechecked rarely: ten times its recrawl interval, at least a week."""
    return max(7 * 86400.0, 10 * config.recrawl_after)


def due_after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
