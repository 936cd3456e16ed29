"""The choice of links to follow and when a URL is due again (pure: no I/O).

URL normal forms and scope rules are scraper.urls's."""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scraper.config import CrawlConfig, Scope
from scraper.config._regex import regex_problem
from scraper.errors import ConfigError
from scraper.models import FrontierItem, Page
from scraper.urls import (
    QueryRule,
    normalise_url,
    out_of_scope_reason,
    path_and_query,
    query_rule_of,
)


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
    query: QueryRule  # the scope's: which query parameters a link keeps

    @classmethod
    def of(cls, config: CrawlConfig) -> FollowRule:
        return cls(config.name, follow_kinds(config), config.max_depth,
                   config.max_links_per_page, config.scope, query_rule_of(config.scope))


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
            url = normalise_url(link.url, rule=rule.query)
        except ValueError:
            continue
        if url in seen or out_of_scope_reason(url, rule.scope) is not None:
            continue
        seen.add(url)
        items.append(FrontierItem(url=url, site=rule.site, depth=child_depth,
                                  discovered_from=page.url, link_kind=link.kind))
    return items


def start_items(config: CrawlConfig) -> list[FrontierItem]:
    rule = query_rule_of(config.scope)
    return [FrontierItem(url=normalise_url(u, rule=rule), site=config.name, depth=0)
            for u in config.start_urls]


def hand_items(config: CrawlConfig, urls: Iterable[str], *,
               strict: bool = True) -> list[FrontierItem]:
    """Frontier items (depth 0) of URLs given by hand (`scraper add`, `crawl --url`), in the
    site's normal form, each once. Raises ConfigError naming a URL that cannot be crawled or
    is outside the site's scope (then none is queued); not `strict`: leaves it out."""
    rule = query_rule_of(config.scope)
    items: dict[str, FrontierItem] = {}
    for given in urls:
        try:
            url = normalise_url(given, rule=rule)
        except ValueError as exc:
            if not strict:
                continue
            raise ConfigError(f"{given!r} cannot be crawled: {exc}", path=config.path) from None
        reason = out_of_scope_reason(url, config.scope)
        if reason is not None:
            if not strict:
                continue
            raise ConfigError(f"{given!r} is outside the scope of site {config.name!r}: {reason}",
                              path=config.path)
        items.setdefault(url, FrontierItem(url=url, site=config.name, depth=0))
    return list(items.values())


def given_urls(config: CrawlConfig, urls: Sequence[str]
               ) -> tuple[list[FrontierItem] | None, frozenset[str] | None]:
    """A run's share of CrawlLimits.urls (crawl --url): the items of those in `config`'s
    scope, to queue due now, and their URLs, the only ones it may claim; (None, None) when
    no URL is given (the run takes every due URL). ConfigError for a site whose source is
    not the built-in link-following one (a wiki's API source claims no URLs)."""
    if not urls:
        return None, None
    if config.source != "html":
        raise ConfigError(f"fetching given URLs (--url) works for `source: html` sites only, "
                          f"and site {config.name!r} has `source: {config.source}`",
                          path=config.path)
    items = hand_items(config, urls, strict=False)
    return items, frozenset(item.url for item in items)


def hand_urls(configs: Sequence[CrawlConfig], urls: Iterable[str]) -> tuple[str, ...]:
    """URLs given to `crawl --url` in the normal form of the first config whose scope takes
    each (CrawlLimits.urls). Raises ConfigError naming a URL that no config takes."""
    found: dict[str, None] = {}
    for given in urls:
        problems: list[str] = []
        for config in configs:
            try:
                found.update((item.url, None) for item in hand_items(config, [given]))
                break
            except ConfigError as exc:
                problems.append(str(exc))
        else:
            raise ConfigError("--url: " + "; ".join(problems))
    return tuple(found)


def url_pattern(text: str) -> re.Pattern[str]:
    """`text` compiled as a regex to search URLs with (`scraper forget`), refused as the
    config's regexes are: ConfigError when it does not compile or could run for very long."""
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise ConfigError(f"URL-PATTERN {text!r} is not a valid regular expression: {exc.msg}"
                          f" at position {exc.pos}") from None
    except RecursionError:
        raise ConfigError(f"URL-PATTERN {text[:80]!r} is nested too deeply") from None
    problem = regex_problem(text)
    if problem:
        raise ConfigError(f"URL-PATTERN {text!r} is refused: {problem}")
    return compiled


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


class DueAgain:
    """The URLs a run has dealt with that are due again before it ends (a recrawl_after or
    back-off shorter than the run): its claims must leave them out, or it would fetch them
    again and again. The others need no mention (their next_due keeps them out), and a
    claim that named every URL of the run grew with the square of its size. Thread-safe:
    failures are recorded from the archive's thread."""

    def __init__(self) -> None:
        self._waiting: list[tuple[datetime, str]] = []  # a heap, by when due again
        self._due: set[str] = set()
        self._lock = threading.Lock()

    def add(self, url: str, when: datetime) -> None:
        """`url` was dealt with in this run and is due again at `when`."""
        with self._lock:
            heapq.heappush(self._waiting, (when, url))

    def by(self, now: datetime) -> set[str]:
        """Those due again by `now` (a new set)."""
        with self._lock:
            while self._waiting and self._waiting[0][0] <= now:
                self._due.add(heapq.heappop(self._waiting)[1])
            return set(self._due)
