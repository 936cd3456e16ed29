"""The schema: one checker per key, the checks that span keys, and overrides."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from scraper.addresses import AddressPolicy, parse_ip
from scraper.config._fields import (
    _archive,
    _auto_or_positive_number,
    _check_keys,
    _choice,
    _crawlable_urls,
    _css,
    _Ctx,
    _describe,
    _Field,
    _flag,
    _header_text,
    _host,
    _http_url,
    _integer,
    _list,
    _plain_text,
    _regex,
    _scope_problem,
    _seconds,
    _size,
    _text,
    _unique,
    _url_host,
)
from scraper.config._model import (
    FOLLOW_KINDS,
    PARSERS,
    SOURCES,
    CrawlConfig,
    MediaWikiSource,
    Network,
    Politeness,
    RecrawlRule,
    Scope,
    Selectors,
)
from scraper.config._notify import notify_targets
from scraper.config._request import proxy_url, request_settings
from scraper.config._sitemaps import START_MODES, check_sitemaps, sitemap_hosts, sitemap_urls


def _block(ctx: _Ctx, key: str, value: Any, cls: type[Any], spec: Mapping[str, _Field]) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"must be a mapping with keys such as {', '.join(list(spec)[:3])}, "
                             f"got {_describe(value)}")
    _check_keys(ctx, key, value, spec)
    return cls(**{name: spec[name](ctx, f"{key}.{name}", v) for name, v in value.items()})


def _optional_block(cls: type[Any], spec: Mapping[str, _Field]) -> _Field:
    def check(ctx: _Ctx, key: str, value: Any) -> Any:
        return None if value is None else _block(ctx, key, value, cls, spec)
    return check


def _texts(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    return _unique(_list(ctx, key, value, _plain_text))


def _name(ctx: _Ctx, key: str, value: Any) -> str:
    text = _text(ctx, key, value)
    assert text is not None
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", text) or set(text) == {"."}:
        raise ctx.error(key, f"must be 1 to 100 letters, digits, '-', '_' or '.', got {text!r}")
    return text


def _start_urls(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    # May be empty when `sitemaps:` seeds the crawl (checked with it: _sitemaps.py).
    return _crawlable_urls(ctx, key, value, refused="cannot be crawled")


def _recrawl_rule(ctx: _Ctx, key: str, value: Any) -> RecrawlRule:
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"must be a mapping {{pattern: REGEX, after: DURATION}}, "
                             f"got {_describe(value)}")
    _check_keys(ctx, key, value, ("pattern", "after"))
    for name in ("pattern", "after"):
        if name not in value:
            raise ctx.error(f"{key}.{name}", "missing", at=key)
    return RecrawlRule(_regex(ctx, f"{key}.pattern", value["pattern"]),
                       _seconds(ctx, f"{key}.after", value["after"]))


def _query_name(ctx: _Ctx, key: str, value: Any, *, prefix: bool = True) -> str:
    """A query parameter's name as a URL's query decodes to it (`*` at the end: a prefix)."""
    text = _plain_text(ctx, key, value)
    assert text is not None
    star = "*" in text[:-1] or text == "*" or (not prefix and "*" in text)
    if not text or any(c in text for c in "&=#") or star:
        where = "'*' only at the end of a prefix such as 'utm_*'" if prefix else "no '*'"
        raise ctx.error(key, f"must be a query parameter's name (no '&', '=' or '#'; {where}),"
                             f" got {text!r}")
    return text


_DAY = 86400.0  # the cap on waits and timeouts: a longer one is a typo, not a plan
_SCOPE: dict[str, _Field] = {
    "domains": lambda ctx, key, value: _unique(_list(ctx, key, value, _host)),
    "include": lambda ctx, key, value: _list(ctx, key, value, _regex),
    "exclude": lambda ctx, key, value: _list(ctx, key, value, _regex),
    "keep_query": lambda ctx, key, value: None if value is None else _unique(
        _list(ctx, key, value, partial(_query_name, prefix=False))),
    "drop_query": lambda ctx, key, value: _unique(_list(ctx, key, value, _query_name)),
}
_POLITENESS: dict[str, _Field] = {
    "concurrency": partial(_integer, minimum=1, maximum=1000),
    "delay": partial(_seconds, maximum=_DAY),
    "robots_txt": _flag,
    "user_agent": _header_text,
    "adaptive": _flag,
    "target_concurrency": partial(_auto_or_positive_number, maximum=1000),
    "max_delay": partial(_seconds, maximum=_DAY),
    "slow_answer": partial(_seconds, positive=True, maximum=_DAY),
}
_NETWORK: dict[str, _Field] = {
    "allow_loopback": _flag,
    "allow_private": _flag,
    "timeout": partial(_seconds, positive=True, maximum=_DAY),
    "total_timeout": partial(_seconds, positive=True, maximum=_DAY),
    "max_body_bytes": _size,
    "max_decompressed_bytes": _size,
    "max_redirects": partial(_integer, minimum=0, maximum=100),
    "attempts": partial(_integer, minimum=1, maximum=100),
    "backoff_base": partial(_seconds, maximum=_DAY),
    "backoff_max": partial(_seconds, maximum=_DAY),
    "retry_after_max": partial(_seconds, maximum=_DAY),
    "http2": _flag,
    "proxy": proxy_url,
    "trust_env": _flag,
}
_SELECTORS: dict[str, _Field] = {f.name: _css for f in dataclasses.fields(Selectors)}
_MEDIAWIKI: dict[str, _Field] = {
    "api": lambda ctx, key, value: None if value is None else _http_url(ctx, key, value),
    "titles": _texts,
    "categories": _texts,
    "category_depth": partial(_integer, minimum=0, maximum=1000),
    "allpages_prefix": partial(_plain_text, optional=True),
    "allpages_namespace": partial(_integer, minimum=0, optional=True),
    "follow_links": _flag,
    "backfill": partial(_integer, minimum=0),
    "maxlag": partial(_integer, minimum=1, maximum=86400),
    "use_textextracts": _flag,
}
# File keys in file order; `recrawl` fills CrawlConfig.recrawl_rules.
_TOP: dict[str, _Field] = {
    "name": _name,
    "start_urls": _start_urls,
    "sitemaps": sitemap_urls,
    "start": partial(_choice, choices=START_MODES),
    "parser": partial(_choice, choices=PARSERS),
    "follow": lambda ctx, key, value: _unique(
        _list(ctx, key, value, partial(_choice, choices=FOLLOW_KINDS))),
    "scope": lambda ctx, key, value: _block(ctx, key, value, Scope, _SCOPE),
    "max_depth": partial(_integer, minimum=0),
    "max_pages": partial(_integer, minimum=1, optional=True),
    "recrawl_after": _seconds,
    "recrawl": lambda ctx, key, value: _list(ctx, key, value, _recrawl_rule),
    "politeness": lambda ctx, key, value: _block(ctx, key, value, Politeness, _POLITENESS),
    "network": lambda ctx, key, value: _block(ctx, key, value, Network, _NETWORK),
    "request": request_settings,
    "archive": _archive,
    "selectors": _optional_block(Selectors, _SELECTORS),
    "source": partial(_choice, choices=SOURCES),
    "mediawiki": _optional_block(MediaWikiSource, _MEDIAWIKI),
    "max_links_per_page": partial(_integer, minimum=1),
    "gone_after": partial(_integer, minimum=1),
    "full_copy_every": partial(_integer, minimum=1),
    "notify": notify_targets,
}
FIELD_OF_KEY = {"recrawl": "recrawl_rules"}


def build_config(ctx: _Ctx, raw: Mapping[str, Any]) -> CrawlConfig:
    _check_keys(ctx, "", raw, _TOP)
    for required in ("name", "start_urls"):
        if required not in raw and (required == "name" or "sitemaps" not in raw):
            raise ctx.error(required, "missing: every config needs a name and start_urls"
                                      " (or sitemaps)")
    values = {FIELD_OF_KEY.get(k, k): _TOP[k](ctx, k, v) for k, v in raw.items()}
    cfg = CrawlConfig(path=ctx.path, **{"start_urls": (), **values})
    if not cfg.scope.domains:
        domains = _unique([*(_url_host(url) for url in cfg.start_urls), *sitemap_hosts(cfg)])
        cfg = dataclasses.replace(cfg, scope=dataclasses.replace(cfg.scope, domains=domains))
    if cfg.source == "mediawiki" and cfg.mediawiki is None:
        # Every key of the block has a default: `source: mediawiki` alone reads the wiki of
        # the start URLs with them.
        cfg = dataclasses.replace(cfg, mediawiki=MediaWikiSource())
    check_sitemaps(ctx, cfg)
    _check_together(ctx, cfg)
    return cfg


def _check_together(ctx: _Ctx, cfg: CrawlConfig) -> None:
    """Checks that span keys: each start URL in scope and reachable, blocks their modes need."""
    for i, url in enumerate(cfg.start_urls):
        key = f"start_urls[{i}]"
        problem = _scope_problem(cfg.scope, url)
        if problem:
            raise ctx.error(key, f"{url!r} is outside the scope: {problem}")
        problem = _address_problem(_url_host(url), cfg.network)
        if problem:
            raise ctx.error(key, f"{url!r} {problem}")
    if cfg.parser == "selectors" and (
        cfg.selectors is None or all(s is None for s in dataclasses.astuple(cfg.selectors))
    ):
        raise ctx.error("selectors", "required when parser is selectors: a mapping of CSS "
                                     "selectors (entry, title, summary, related, ...)",
                        at="selectors" if "selectors" in ctx.lines else "parser")
    politeness = cfg.politeness
    if politeness.adaptive and politeness.max_delay < politeness.delay:
        raise ctx.error("politeness.max_delay", f"must be at least politeness.delay "
                        f"({politeness.delay:g} s): adaptive politeness never goes under it, "
                        f"got {politeness.max_delay:g} s")
    if cfg.source != "mediawiki" and cfg.mediawiki is not None:
        raise ctx.error("mediawiki", "only used with `source: mediawiki`; set it or remove "
                                     "this block")


def _address_problem(host: str, network: Network) -> str | None:
    """Why the fetcher would refuse a literal address or localhost (the same policy, from
    scraper.addresses); names are not looked up: loading a config never resolves them."""
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    if parse_ip(host) is None:
        return None
    reason = AddressPolicy.from_network(network).refusal(host)
    return None if reason is None else f"is refused: {reason}"


def set_override(ctx: _Ctx, raw: dict[str, Any], key: str, value: Any) -> None:
    """Put one override into the raw values, remembering that its key has no line."""
    target = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        sub = target.get(part)
        if sub is None:
            sub = target[part] = {}
        if not isinstance(sub, dict):
            raise ctx.error(".".join(parts[: depth + 1]),
                            f"must be a mapping, got {_describe(sub)}")
        target = sub
    last = parts[-1]
    if isinstance(value, Mapping) and isinstance(target.get(last), dict):
        for name, sub_value in value.items():
            set_override(ctx, raw, f"{key}.{name}", sub_value)
        return
    target[last] = value
    ctx.overridden.add(key)


