"""URL normalisation, scope and link selection."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.config import CrawlConfig, RecrawlRule, Scope
from scraper.crawl.frontier import (
    FollowRule,
    failure_backoff,
    follow_kinds,
    links_to_follow,
    recrawl_interval,
)
from scraper.models import Link, Page
from scraper.urls import normalise_url, out_of_scope_reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?b=2&a=1#frag", "http://example.com/a/c?a=1&b=2"),
        ("https://x.org:443", "https://x.org/"),
        ("http://x.org:8080/", "http://x.org:8080/"),
        ("http://x.org/%7euser", "http://x.org/~user"),
        ("http://x.org/a%2fb", "http://x.org/a%2Fb"),
        ("http://x.org/a?", "http://x.org/a"),
        ("http://x.org/a b", "http://x.org/a%20b"),
        ("http://127.0.0.1:8000/related/Russia–NATO_Relations",
         "http://127.0.0.1:8000/related/Russia%E2%80%93NATO_Relations"),
        ("http://x.org/p?b=1&a=2&b=0", "http://x.org/p?a=2&b=1&b=0"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
    ],
)
def test_normalise_url(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


def test_normalise_relative_against_base() -> None:
    assert normalise_url("../b#x", base="http://x.org/a/c/d") == "http://x.org/a/b"


@pytest.mark.parametrize("bad", ["ftp://x.org/", "javascript:alert(1)", "file:///etc/passwd",
                                 "data:text/html,hi", "http:///nohost", "mailto:a@b"])
def test_normalise_refuses_non_http(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(bad)


_segment = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00#?/"),
               max_size=8)


@given(
    scheme=st.sampled_from(["http", "HTTP", "https"]),
    host=st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,10}(\.[a-zA-Z]{2,5}){1,2}", fullmatch=True),
    port=st.one_of(st.none(), st.integers(1, 65535)),
    segments=st.lists(_segment, max_size=5),
    query=st.lists(st.tuples(st.text("abcxyz%", min_size=1, max_size=3),
                             st.text("ab12%+ ", max_size=3)), max_size=4),
    fragment=st.text(max_size=5),
)
def test_normalisation_is_idempotent(scheme: str, host: str, port: int | None,
                                     segments: list[str], query: list[tuple[str, str]],
                                     fragment: str) -> None:
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}/" + "/".join(segments)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    url += "#" + fragment
    once = normalise_url(url)
    assert normalise_url(once) == once
    assert "#" not in once


def _config(**kwargs: object) -> CrawlConfig:
    base: dict[str, object] = {
        "name": "t", "start_urls": ("http://127.0.0.1:8000/related/NATO",),
        "scope": Scope(domains=("127.0.0.1",), include=(re.compile("^/related/"),
                                                        re.compile("^/info/")),
                       exclude=(re.compile("action=edit"),)),
        "follow": ("related",), "max_depth": 2,
    }
    base.update(kwargs)
    return CrawlConfig(**base)  # type: ignore[arg-type]


def test_scope_reasons() -> None:
    scope = _config().scope
    assert out_of_scope_reason("http://127.0.0.1:8000/related/X", scope) is None
    assert "not in scope.domains" in (out_of_scope_reason("http://elsewhere.invalid/related/X",
                                                           scope) or "")
    assert "no scope.include" in (out_of_scope_reason("http://127.0.0.1/private/x", scope) or "")
    assert "exclude" in (out_of_scope_reason("http://127.0.0.1/info/X?action=edit", scope) or "")
    assert "scheme" in (out_of_scope_reason("ftp://127.0.0.1/related/x", scope) or "")


def test_links_to_follow_respects_kind_scope_depth_and_dedup() -> None:
    page = Page(url="http://127.0.0.1:8000/related/NATO", kind="listing", links=(
        Link("http://127.0.0.1:8000/related/A", "A", "related"),
        Link("http://127.0.0.1:8000/related/A#x", "A again", "related"),
        Link("http://127.0.0.1:8000/info/A", "A", "more_info"),
        Link("http://127.0.0.1:8000/related/NATO?page=2", "MORE", "next"),
        Link("http://elsewhere.invalid/related/B", "B", "related"),
        Link("https://en.wikipedia.org/wiki/A", "Wikipedia", "search"),
        Link("http://127.0.0.1:8000/private/p", "P", "related"),
    ))
    items = links_to_follow(page, FollowRule.of(_config()), depth=0)
    assert [(i.url, i.depth, i.link_kind) for i in items] == [
        ("http://127.0.0.1:8000/related/A", 1, "related"),
        ("http://127.0.0.1:8000/related/NATO?page=2", 0, "next"),
    ]
    more = links_to_follow(page, FollowRule.of(_config(follow=("related", "more_info"))),
                           depth=0)
    assert "http://127.0.0.1:8000/info/A" in [i.url for i in more]
    # At the depth limit only pagination (same depth) is still taken.
    at_limit = links_to_follow(page, FollowRule.of(_config()), depth=2)
    assert [i.link_kind for i in at_limit] == ["next"]


def test_follow_kinds_adds_pagination_to_related() -> None:
    assert "next" in follow_kinds(_config())
    assert "next" not in follow_kinds(_config(follow=("see_also",)))


def test_recrawl_rules_and_backoff() -> None:
    cfg = _config(recrawl_after=3600.0,
                  recrawl_rules=(RecrawlRule(re.compile("^/info/"), 60.0),))
    assert recrawl_interval("http://127.0.0.1:8000/info/X", cfg) == 60.0
    assert recrawl_interval("http://127.0.0.1:8000/related/X", cfg) == 3600.0
    assert [failure_backoff(n) for n in (1, 2, 3)] == [300.0, 600.0, 1200.0]
    assert failure_backoff(50) == 7 * 86400.0


def test_due_again_names_only_the_urls_due_again_by_then() -> None:
    from datetime import UTC, datetime, timedelta

    from scraper.crawl.frontier import DueAgain

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    due = DueAgain()
    due.add("https://a/1", t0 + timedelta(days=1))  # the usual: not in this run
    due.add("https://a/2", t0)  # recrawl_after 0s
    due.add("https://a/3", t0 + timedelta(minutes=5))  # a failure's back-off
    assert due.by(t0) == {"https://a/2"}
    assert due.by(t0 + timedelta(minutes=5)) == {"https://a/2", "https://a/3"}
    # Once due, a URL stays left out for the rest of the run.
    assert due.by(t0 + timedelta(minutes=6)) == {"https://a/2", "https://a/3"}
