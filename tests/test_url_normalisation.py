"""URL normalisation for dedup: tracking parameters dropped, the query sorted, a site's own
rule (scope.keep_query / scope.drop_query); and a real crawl of the built-in site whose links
carry tracking parameters and unsorted queries archives each topic once."""

from __future__ import annotations

import textwrap
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit
from urllib.request import urlopen

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from scraper.archive import Archive
from scraper.cli import main
from scraper.config import Scope, load_config_text
from scraper.errors import ConfigError
from scraper.testsite import TestSite
from scraper.urls import (
    DEFAULT_QUERY_RULE,
    TRACKING_PARAMS,
    TRACKING_PREFIXES,
    QueryRule,
    normalise_url,
    query_rule_of,
)
from tests.hypothesis_profiles import PROFILE

_LOOP = "network:\n  allow_loopback: true\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://x.org/a?utm_source=news&utm_medium=mail&id=3", "http://x.org/a?id=3"),
        ("http://x.org/a?fbclid=IwAR0&b=2&a=1", "http://x.org/a?a=1&b=2"),
        ("http://x.org/a?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&_ga=6&yclid=7&igshid=8",
         "http://x.org/a"),
        # Percent-escaped names are the same names.
        ("http://x.org/a?utm%5Fsource=1&%66bclid=2&k=v", "http://x.org/a?k=v"),
        # A query that is not all key=value keeps its order, less the tracking pieces.
        ("http://x.org/a?print&utm_campaign=x&z", "http://x.org/a?print&z"),
        # Names are case-sensitive, as servers read them.
        ("http://x.org/a?UTM_SOURCE=1", "http://x.org/a?UTM_SOURCE=1"),
        ("http://x.org/a?futm_source=1", "http://x.org/a?futm_source=1"),
    ],
)
def test_tracking_parameters_are_dropped(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


def test_a_sites_keep_query_keeps_only_those() -> None:
    rule = query_rule_of(Scope(keep_query=("id", "page", "utm_source")))
    # A tracking name goes even when keep_query lists it.
    assert normalise_url("http://x.org/a?session=9&utm_source=a&page=2&id=1&fbclid=2",
                         rule=rule) == "http://x.org/a?id=1&page=2"
    both = query_rule_of(Scope(keep_query=("id", "page"), drop_query=("page",)))
    assert normalise_url("http://x.org/a?page=2&id=1", rule=both) == "http://x.org/a?id=1"
    # keep_query: [] drops every query.
    assert normalise_url("http://x.org/a?id=1", rule=query_rule_of(Scope(keep_query=()))) \
        == "http://x.org/a"


def test_a_sites_drop_query_adds_names_and_prefixes() -> None:
    rule = query_rule_of(Scope(drop_query=("sessionid", "ref_*")))
    assert normalise_url("http://x.org/a?sessionid=1&ref_src=tw&ref=2&utm_term=q&page=2",
                         rule=rule) == "http://x.org/a?page=2&ref=2"
    assert query_rule_of(Scope()) is DEFAULT_QUERY_RULE


def test_config_keys_load_and_bad_ones_are_refused() -> None:
    cfg = load_config_text(
        "name: t\nstart_urls: [http://127.0.0.1:8000/related/NATO]\n" + _LOOP +
        "scope:\n  keep_query: [id, page]\n", "site.yaml")
    assert cfg.scope.keep_query == ("id", "page")
    with pytest.raises(ConfigError) as bad:
        load_config_text("name: t\nstart_urls: [http://127.0.0.1:8000/]\n" + _LOOP +
                         "scope:\n  drop_query: ['a=b']\n", "site.yaml")
    assert "scope.drop_query[0]" in str(bad.value) and "site.yaml" in str(bad.value)
    with pytest.raises(ConfigError, match="keep_query"):
        load_config_text("name: t\nstart_urls: [http://127.0.0.1:8000/]\n" + _LOOP +
                         "scope:\n  keep_query: ['utm_*']\n", "site.yaml")


def test_start_urls_are_queued_without_tracking_parameters() -> None:
    from scraper.crawl.frontier import start_items

    cfg = load_config_text(
        "name: t\nstart_urls: ['http://127.0.0.1:8000/related/NATO?utm_source=x&b=1&a=2']\n" + _LOOP +
        "scope:\n  drop_query: [b]\n", "site.yaml")
    assert [i.url for i in start_items(cfg)] == ["http://127.0.0.1:8000/related/NATO?a=2"]


# --- properties ------------------------------------------------------------------------------

_NAMES = st.one_of(
    st.sampled_from(sorted(TRACKING_PARAMS)),
    st.text("abcdefgmsu_", min_size=1, max_size=8).map(lambda s: "utm_" + s),
    st.text("abcxyz_%+ 12", min_size=1, max_size=6),
)
_VALUES = st.text("ab12%+ =_", max_size=4)
_PIECES = st.one_of(st.tuples(_NAMES, _VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"),
                    _NAMES, st.just(""))
_RULES = st.one_of(
    st.just(DEFAULT_QUERY_RULE),
    st.lists(st.text("abcxyz_", min_size=1, max_size=4), max_size=3).map(
        lambda names: query_rule_of(Scope(drop_query=tuple(dict.fromkeys(names))))),
    st.lists(st.text("abcxyz_", min_size=1, max_size=4), max_size=3).map(
        lambda names: query_rule_of(Scope(keep_query=tuple(dict.fromkeys(names))))),
)


def _names_in(url: str) -> list[str]:
    query = urlsplit(url).query
    return [unquote_plus(piece.partition("=")[0]) for piece in query.split("&")] if query else []


def _is_tracking(name: str) -> bool:
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


@PROFILE
@given(pieces=st.lists(_PIECES, max_size=6), rule=_RULES,
       path=st.sampled_from(["/", "/a/b", "/related/NATO"]))
def test_normalisation_is_idempotent_and_tracking_never_survives(
        pieces: list[str], rule: QueryRule, path: str) -> None:
    url = "http://Example.org" + path + ("?" + "&".join(pieces) if pieces else "")
    once = normalise_url(url, rule=rule)
    assert normalise_url(once, rule=rule) == once
    names = _names_in(once)
    assert all(rule.keeps(name) for name in names), (url, once)
    assert not any(_is_tracking(name) for name in names), (url, once)
    # What the rule keeps is not lost: every kept name of the input is still there.
    # (normalise_url strips the URL's surrounding whitespace first.)
    kept_before = {n for n in _names_in(url.strip()) if n and rule.keeps(n)}
    assert kept_before <= set(names), (url, once)


# --- a real crawl of the built-in site with tracking links -----------------------------------

def _crawl_pages(tmp_path: Path, name: str, *,
                 tracking_links: bool = False) -> tuple[int, list[str], bytes]:
    with TestSite(pages=15, tracking_links=tracking_links) as site:
        config = tmp_path / f"{name}.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: {name}
            start_urls: ["{site.url('/related/NATO')}"]
            scope:
              include: ["^/related/", "^/info/"]
            follow: [related, more_info]
            network: {{allow_loopback: true}}
            politeness: {{delay: 0, robots_txt: false}}
            """))
        archive = str(tmp_path / f"{name}.db")
        result = CliRunner().invoke(main, ["crawl", str(config), "--archive", archive, "-q"])
        assert result.exit_code == 0, result.output
        targets = [record.target for record in site.stats().log]
        listing = urlopen(site.url("/related/NATO")).read()
    with Archive.open(archive) as opened:
        pages = int(opened.stats()["pages"])
    return pages, targets, listing


def test_a_crawl_of_tracking_links_archives_each_topic_once(tmp_path: Path) -> None:
    plain, _, plain_listing = _crawl_pages(tmp_path, "plain")
    tracked, targets, listing = _crawl_pages(tmp_path, "tracked", tracking_links=True)
    # The site did link its pages under several URLs each ...
    assert b"utm_source=" in listing and b"fbclid=" in listing
    assert b"utm_source=" not in plain_listing
    # ... and the crawl asked for each page once, under its one form, and stored as many
    # pages as the crawl of the plain site.
    assert tracked == plain > 10
    assert len(targets) == len(set(targets))
    assert not [t for t in targets if any(name in t for name in ("utm_", "fbclid", "gclid",
                                                                  "mc_cid", "mc_eid"))]


def test_a_redirects_target_is_requested_in_the_sites_normal_form(tmp_path: Path) -> None:
    with TestSite(pages=5) as site:
        slug = "NATO"
        start = site.url(f"/fault/redirect-to?url=/info/{slug}%3Fsession%3Dabc%26utm_source%3Dx")
        config = tmp_path / "site.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: redirects
            start_urls: ["{start}"]
            scope:
              include: ["^/fault/", "^/info/"]
              drop_query: [session]
            max_pages: 1
            network: {{allow_loopback: true}}
            politeness: {{delay: 0, robots_txt: false}}
            """))
        archive = str(tmp_path / "a.db")
        result = CliRunner().invoke(main, ["crawl", str(config), "--archive", archive, "-q"])
        assert result.exit_code == 0, result.output
        targets = [record.target for record in site.stats().log]
        stored = site.url(f"/fault/redirect-to?url=/info/{slug}?session%3Dabc%26utm_source%3Dx")
        final = site.url(f"/info/{slug}")
    # The redirect's target had session= and utm_source=: neither was asked for.
    assert targets == [f"/fault/redirect-to?url=/info/{slug}?session%3Dabc%26utm_source%3Dx",
                       f"/info/{slug}"]
    with Archive.open(archive) as opened:
        assert opened.snapshot(stored).final_url == final


def test_a_pasted_url_finds_pages_stored_with_tracking_parameters_before() -> None:
    from scraper.urls import pasted_url_forms

    forms = pasted_url_forms("http://x.org/a?utm_source=1&b=2")
    # The crawler's form first; the form an older archive stored comes after it.
    assert forms[0] == "http://x.org/a?b=2"
    assert "http://x.org/a?b=2&utm_source=1" in forms
    assert forms.index("http://x.org/a?b=2&utm_source=1") > forms.index("https://x.org/a/?b=2")
    assert pasted_url_forms("http://x.org/a?b=2") == [
        "http://x.org/a?b=2", "http://x.org/a/?b=2", "https://x.org/a?b=2", "https://x.org/a/?b=2"]
