"""Broken configs given to `scraper crawl`: each is refused with exit 2 and a message naming
the file, the line and the key, before anything is fetched or written (no archive, no lock
file, no request to the live site the config points at). tests/test_config.py runs its own
table through `scraper validate`; this one goes through the command that would crawl."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.testsite import TestSite

# Lines 1-5; {url} is a live page of the built-in site, so a config that slipped through
# would be seen fetching it.
BASE = 'name: t\nstart_urls:\n  - "{url}"\nnetwork:\n  allow_loopback: true\n'

# (id, text, line, key or None, a fragment of the reason)
BAD: list[tuple[str, str, int, str | None, str]] = [
    # YAML itself
    ("yaml-unclosed-bracket", 'name: t\nstart_urls: ["{url}"\nmax_depth: 1\n', 3, None,
     "while parsing a flow sequence"),
    ("yaml-tab-indent", 'name: t\nstart_urls:\n\t- "{url}"\n', 3, None, "not tabs"),
    ("yaml-unclosed-quote", BASE + 'archive: "a.db\n', 7, None, "quoted scalar"),
    ("yaml-two-documents", BASE + "---\nname: u\n", 6, None, "another document"),
    ("yaml-empty-file", "", 1, None, "the file is empty"),
    ("yaml-top-level-list", '- name: t\n- start_urls: ["{url}"]\n', 1, None, "got a list"),
    # duplicate keys
    ("duplicate-top-level", BASE + "name: u\n", 6, "name", "duplicate key 'name'"),
    ("duplicate-nested", BASE + "  timeout: 5\n  allow_loopback: false\n", 7,
     "network.allow_loopback", "duplicate key 'allow_loopback' (first on line 5)"),
    # wrong types
    ("max-depth-text", BASE + "max_depth: deep\n", 6, "max_depth", "got 'deep'"),
    ("concurrency-list", BASE + "politeness:\n  concurrency: [4]\n", 7,
     "politeness.concurrency", "got a list"),
    ("loopback-not-bool", BASE.replace("allow_loopback: true", "allow_loopback: yes please"),
     5, "network.allow_loopback", "must be true or false"),
    ("attempts-zero", BASE + "  attempts: 0\n", 6, "network.attempts", "got 0"),
    ("start-urls-string", 'name: t\nstart_urls: "{url}"\n', 2, "start_urls",
     "write it as a list"),
    # unknown keys, with a suggestion
    ("unknown-top-level", BASE + "max_page: 5\n", 6, "max_page",
     "did you mean 'max_pages'?"),
    ("unknown-network", BASE + "  alow_private: true\n", 6, "network.alow_private",
     "did you mean 'allow_private'?"),
    ("unknown-scope", BASE + "scope:\n  domain: [127.0.0.1]\n", 7, "scope.domain",
     "did you mean 'domains'?"),
    ("parser-unknown", BASE + "parser: listng\n", 6, "parser", "did you mean 'listing'?"),
    ("follow-unknown", BASE + "follow: [related, see_alsoo]\n", 6, "follow[1]",
     "did you mean 'see_also'?"),
    # bad regexes
    ("include-bad-regex", BASE + "scope:\n  include: ['^/related/(']\n", 7, "scope.include",
     "not a valid regular expression"),
    ("exclude-bad-regex", BASE + "scope:\n  exclude: ['[a-']\n", 7, "scope.exclude",
     "not a valid regular expression"),
    ("recrawl-bad-regex", BASE + "recrawl:\n  - {{pattern: '*x', after: 1h}}\n", 7,
     "recrawl[0].pattern", "regular expression"),
    # bad durations and sizes
    ("recrawl-after-bad", BASE + "recrawl_after: 3 fortnights\n", 6, "recrawl_after",
     "duration"),
    ("delay-bad", BASE + "politeness:\n  delay: fast\n", 7, "politeness.delay", "duration"),
    ("total-timeout-bad", BASE + "  total_timeout: forever\n", 6, "network.total_timeout",
     "forever"),
    ("body-cap-bad", BASE + "  max_body_bytes: 10 parsecs\n", 6, "network.max_body_bytes",
     "a size such as"),
    # start URLs
    ("start-urls-empty", "name: t\nstart_urls: []\n", 2, "start_urls", "at least one"),
    ("start-urls-missing", "name: t\nmax_depth: 1\n", 1, "start_urls", "missing"),
    ("start-url-other-domain", BASE + "scope:\n  domains: [example.org]\n", 3, "start_urls[0]",
     "is not in scope.domains"),
    ("start-url-not-included", BASE + "scope:\n  include: ['^/info/']\n", 3, "start_urls[0]",
     "matches none of scope.include"),
    ("start-url-excluded", BASE + "scope:\n  exclude: ['NATO$']\n", 3, "start_urls[0]",
     "matches scope.exclude"),
    ("start-url-loopback-not-allowed", 'name: t\nstart_urls:\n  - "{url}"\n', 3,
     "start_urls[0]", "network.allow_loopback"),
    ("start-url-ftp", BASE.replace('"{url}"', '"ftp://127.0.0.1/file"'), 3, "start_urls[0]",
     "http or https URL, got 'ftp://127.0.0.1/file'"),
    ("start-url-file", BASE.replace("network:", '  - "file:///etc/passwd"\nnetwork:'), 4,
     "start_urls[1]", "http or https"),
    # YAML tags that would build Python objects
    ("python-object-apply",
     BASE + 'archive: !!python/object/apply:os.system ["touch {tmp}/pwned"]\n', 6, "archive",
     "'!!python/object/apply:os.system' is not allowed"),
    ("python-name", BASE + "max_pages: !!python/name:os.system\n", 6, "max_pages",
     "is not allowed"),
    ("python-object-top-level", "!!python/object:os.PathLike {{name: t}}\n", 1, None,
     "is not allowed"),
    # values that would crash or hang the crawl later (issue 16; more in test_config_hostile)
    ("user-agent-header-injection", BASE + 'politeness:\n  user_agent: "bot\\r\\nX-Evil: 1"\n',
     7, "politeness.user_agent", "control characters"),
    ("user-agent-non-ascii", BASE + 'politeness:\n  user_agent: "bott\\u00e9/1.0"\n', 7,
     "politeness.user_agent", "non-ASCII"),
    ("archive-nul", BASE + 'archive: "a\\0b.db"\n', 6, "archive", "NUL"),
    ("yaml-nested-100000-deep", BASE + "max_depth: " + "[" * 100_000 + "]" * 100_000 + "\n", 6,
     "max_depth", "nested deeper than 50 levels"),
    ("yaml-alias-bomb", BASE + "\n".join(
        ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)])
     + "\n", 11, "a5[", "aliases expand"),
    ("yaml-alias-cycle", BASE + "scope: &s\n  include: *s\n", 7, "scope.include",
     "inside its own anchor"),
    ("include-nested-quantifier", BASE + "scope:\n  include: ['^/related/(\\w+_?)+$']\n", 7,
     "scope.include[0]", "nested quantifier: can take exponential time"),
    ("exclude-overlapping-alternatives", BASE + "scope:\n  exclude: ['^/(a|ab)*$']\n", 7,
     "scope.exclude[0]", "alternatives under a repeat"),
    ("recrawl-cubic-pattern", BASE + "recrawl:\n  - {{pattern: 'a.*a.*b', after: 1h}}\n", 7,
     "recrawl[0].pattern", "n**3"),
    ("start-url-credentials", BASE.replace('"{url}"', '"http://user:pw@127.0.0.1/x"'), 3,
     "start_urls[0]", "user name or password"),
    ("start-url-empty-host-label", BASE.replace('"{url}"', '"http://a..b/x"'), 3,
     "start_urls[0]", "not a valid host name"),
    ("concurrency-huge", BASE + "politeness:\n  concurrency: 1000000000\n", 7,
     "politeness.concurrency", "at most 1000"),
    ("recrawl-after-huge", BASE + "recrawl_after: 100000000000\n", 6, "recrawl_after",
     "at most 3650 days"),
]


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    with TestSite(pages=10) as running:
        yield running


def crawl(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["crawl", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_enough_bad_configs() -> None:
    assert len(BAD) >= 25
    assert len({case[0] for case in BAD}) == len(BAD)


@pytest.mark.parametrize(("text", "line", "key", "reason"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_crawl_refuses_a_bad_config_and_writes_nothing(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
        line: int, key: str | None, reason: str) -> None:
    monkeypatch.chdir(tmp_path)  # a default archive/archive.db would land here
    site.reset_stats()
    path = tmp_path / "bad.yaml"
    path.write_text(text.format(url=site.url("/related/NATO"), tmp=tmp_path),
                    encoding="utf-8")
    code, output = crawl(str(path), "--archive", str(tmp_path / "arch" / "a.db"))
    assert code == 2, output
    where = f"{path}:{line}: " + (key or "")
    assert where in output, output
    assert reason in output, output
    assert os.listdir(tmp_path) == ["bad.yaml"]  # no archive, lock, journal or pwned file
    assert site.stats().requests == 0


def test_one_bad_config_among_good_ones_stops_the_whole_run(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    site.reset_stats()
    good = tmp_path / "good.yaml"
    good.write_text(BASE.format(url=site.url("/related/NATO")))
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.format(url=site.url("/related/NATO")) + "max_depht: 2\n")
    code, output = crawl(str(good), str(bad), "--archive", str(tmp_path / "a.db"))
    assert code == 2
    assert f"{bad}:6: max_depht: unknown key 'max_depht'; did you mean 'max_depth'?" in output
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "good.yaml"]
    assert site.stats().requests == 0


@pytest.mark.parametrize(("setting", "message"), [
    ("politeness.delay=fast", "politeness.delay"),
    ("network.attempts=0", "network.attempts"),
    ("scope.include=[", "scope.include"),
    ("max_pagez=3", "did you mean 'max_pages'?"),
])
def test_a_bad_override_is_refused_before_anything_is_written(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str,
        message: str) -> None:
    monkeypatch.chdir(tmp_path)
    site.reset_stats()
    good = tmp_path / "good.yaml"
    good.write_text(BASE.format(url=site.url("/related/NATO")))
    code, output = crawl(str(good), "--set", setting, "--archive", str(tmp_path / "a.db"))
    assert code == 2, output
    assert message in output
    assert os.listdir(tmp_path) == ["good.yaml"]
    assert site.stats().requests == 0


def test_a_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = crawl(str(tmp_path / "nope.yaml"), "--archive", str(tmp_path / "a.db"))
    assert code == 2
    assert "nope.yaml" in output
    assert os.listdir(tmp_path) == []
