"""URLs as the project stores them: their one normal form, the forms a pasted URL may
stand for, and a config's scope (pure: no I/O).

Top-level rather than in scraper.crawl: the config (start URLs), the archive (looking up a
pasted URL) and page sources use it as well as the crawl, and none of them may depend on
the crawl stage.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    from scraper.config import Scope

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_SCHEMES = ("http", "https")
# Longer URLs are not queued: servers refuse them (8 KiB is a common request-line cap), and
# the scope and recrawl regexes run on every queued URL, so its length bounds their time.
MAX_URL_CHARS = 8192
# Query keys whose order matters to some servers (form posts to MediaWiki's index.php read
# `title` first is a myth, but `action=raw` & co. are order-free); sorting is safe for
# the key/value form only, so a query that is not plain key=value pairs is left as it is.
_PLAIN_QUERY = re.compile(r"^[^=&]+=[^&]*(&[^=&]+=[^&]*)*$")

# Query parameters that only say how a visitor arrived (ad clicks, mail and social campaigns,
# analytics hand-offs), never which page is shown: dropped from every URL, so that one page
# linked with them is archived once. Names match exactly and case-sensitively (as servers read
# them), after percent-decoding; TRACKING_PREFIXES match the start of a name.
TRACKING_PARAMS = frozenset({
    "fbclid",  # Facebook
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "_ga", "_gl",  # Google Ads, Analytics
    "msclkid",  # Microsoft Ads
    "mc_cid", "mc_eid",  # Mailchimp
    "yclid",  # Yandex
    "igshid",  # Instagram
    "twclid",  # X / Twitter
    "ttclid",  # TikTok
    "li_fat_id",  # LinkedIn
    "mkt_tok",  # Marketo
    "_hsenc", "_hsmi",  # HubSpot
    "vero_id", "oly_anon_id", "oly_enc_id",  # Vero, Omeda
})
TRACKING_PREFIXES = ("utm_",)  # Google Analytics campaigns: utm_source, utm_medium, ...


@dataclass(frozen=True, slots=True)
class QueryRule:
    """Which query parameters a site's URLs keep (scope.keep_query / scope.drop_query).

    A name goes when it is in `drop` or starts with one of `drop_prefixes`; of the others,
    all stay, or with `keep` set only those it names (so a tracking name goes even when
    `keep` lists it: what a URL keeps never depends on where a link was shared).
    """

    keep: frozenset[str] | None = None
    drop: frozenset[str] = TRACKING_PARAMS
    drop_prefixes: tuple[str, ...] = TRACKING_PREFIXES

    def keeps(self, name: str) -> bool:
        """Whether a parameter of this (percent-decoded) name stays in the URL."""
        if name in self.drop or name.startswith(self.drop_prefixes):
            return False
        return self.keep is None or name in self.keep


DEFAULT_QUERY_RULE = QueryRule()
_KEEP_ALL = QueryRule(drop=frozenset(), drop_prefixes=())  # URLs stored before the rule


@lru_cache(maxsize=256)
def query_rule_of(scope: Scope) -> QueryRule:
    """The QueryRule of a config's scope: the tracking parameters and `drop_query`'s go (a
    name ending in `*` is a prefix); with `keep_query` only those it names may stay."""
    if scope.keep_query is None and not scope.drop_query:
        return DEFAULT_QUERY_RULE
    names = {n for n in scope.drop_query if not n.endswith("*")}
    prefixes = tuple(n[:-1] for n in scope.drop_query if n.endswith("*"))
    keep = None if scope.keep_query is None else frozenset(scope.keep_query)
    return QueryRule(keep=keep, drop=TRACKING_PARAMS | names,
                     drop_prefixes=TRACKING_PREFIXES + prefixes)


def normalise_url(url: str, base: str | None = None,
                  rule: QueryRule = DEFAULT_QUERY_RULE) -> str:
    """The one form of a URL under which it is queued and stored.

    Lowercases scheme and host, drops default ports, the fragment, dot segments and an empty
    query, normalises percent-escapes, makes an empty path "/" and sorts a plain key=value
    query by key (stable, so repeated keys keep their order). Query parameters `rule`
    does not keep are dropped (by default the tracking ones, TRACKING_PARAMS and
    TRACKING_PREFIXES; a site's rule is query_rule_of(config.scope)). Raises ValueError for
    URLs that are not http(s), have no host, carry credentials or are longer than
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
    query = _normalise_query(parts.query, rule)
    return urlunsplit((scheme, netloc, path, query, ""))


# "scheme://" at the start: without it, `en.wikipedia.org/wiki/Foo` is a path and
# `localhost:8000/wiki/Foo` has the scheme "localhost".
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def pasted_url_forms(text: str) -> list[str]:
    """The stored forms a person may mean by a URL pasted from a browser, most likely first.

    `text` is normalised as the crawler does (any case of scheme and host, a fragment,
    default ports, tracking parameters; https:// is added when it has no scheme), then given
    with its path's trailing slash added or removed, and each of these with the other of
    http and https; then the same with the query's tracking parameters kept, as an archive
    made before they were dropped stores them. Raises ValueError as normalise_url does.
    """
    stripped = text.strip()
    if not _HAS_SCHEME.match(stripped):
        stripped = "https://" + stripped.lstrip("/")
    forms: list[str] = []
    for rule in (DEFAULT_QUERY_RULE, _KEEP_ALL):
        parts = urlsplit(normalise_url(stripped, rule=rule))
        paths = [parts.path]
        if parts.path != "/":
            paths.append(parts.path[:-1] if parts.path.endswith("/") else parts.path + "/")
        other_scheme = "http" if parts.scheme == "https" else "https"
        for scheme in (parts.scheme, other_scheme):
            for path in paths:
                form = normalise_url(urlunsplit((scheme, parts.netloc, path, parts.query, "")),
                                     rule=rule)
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


def _normalise_query(query: str, rule: QueryRule) -> str:
    if not query:
        return ""
    if not _PLAIN_QUERY.match(query):
        # Pieces that are not key=value (`?print`, `a=1&&b=2`) keep their order; a piece
        # whose name the rule drops goes all the same.
        pieces = [p for p in query.split("&") if rule.keeps(unquote_plus(p.partition("=")[0]))]
        query = "&".join(pieces)
        if not _PLAIN_QUERY.match(query):
            return _normalise_escapes(query, "=&/:@!$'()*+,;?-._~")
    # QueryRule.keeps inlined: this runs for every link of every page.
    drop, prefixes, keep = rule.drop, rule.drop_prefixes, rule.keep
    pairs = [pair for pair in parse_qsl(query, keep_blank_values=True)
             if pair[0] not in drop and not pair[0].startswith(prefixes)
             and (keep is None or pair[0] in keep)]
    pairs.sort(key=lambda pair: pair[0])
    # "+" is escaped: parse_qsl has decoded "+" to a space and "%2B" to "+", and a "+" left
    # bare would read back as a space (found by the idempotence property test).
    return urlencode(pairs, quote_via=quote, safe="/:@!$'()*,;?-._~")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def host_in_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether `host` is one of `domains` or under one: scope.domains' rule, a domain
    admits its subdomains."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def url_in_domains(url: str, domains: Iterable[str]) -> bool:
    """host_in_domains for the host of `url`."""
    return host_in_domains(urlsplit(url).hostname or "", domains)


def out_of_scope_reason(url: str, scope: Scope) -> str | None:
    """Why `url` is outside the scope, or None when it is inside."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    host = (parts.hostname or "").lower()
    if scope.domains and not host_in_domains(host, scope.domains):
        return f"host {host!r} is not in scope.domains"
    target = path_and_query(url)
    if scope.include and not any(p.search(target) for p in scope.include):
        return "path matches no scope.include pattern"
    for pattern in scope.exclude:
        if pattern.search(target):
            return f"path matches scope.exclude {pattern.pattern!r}"
    return None
