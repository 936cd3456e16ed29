"""Config loading: defaults, every key, overrides, the examples, and refused configs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.config import (
    CrawlConfig,
    MediaWikiSource,
    Network,
    Politeness,
    RecrawlRule,
    Scope,
    Selectors,
    config_to_dict,
    config_to_yaml,
    load_config,
    load_config_text,
    parse_overrides,
    parse_size,
)
from scraper.config._model import NotifyTarget
from scraper.config.secrets import Secret
from scraper.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "configs"
EXAMPLES = sorted((ROOT / "config").glob("*.yaml"))

BASE = "name: t\nstart_urls:\n  - https://example.org/wiki/A\n"  # lines 1-3


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- defaults and every key -----------------------------------------------------------------


def test_defaults_are_the_dataclass_defaults() -> None:
    cfg = load_config_text("name: t\nstart_urls: [HTTPS://Wiki.Example.ORG/x]\n", "t.yaml")
    # The only computed default: the scope's hosts are the start URLs' hosts, lowercased.
    assert cfg == CrawlConfig(
        name="t", start_urls=("HTTPS://Wiki.Example.ORG/x",), path="t.yaml",
        scope=Scope(domains=("wiki.example.org",)),
    )
    assert cfg.politeness == Politeness() and cfg.network == Network()
    assert cfg.parser == "auto" and cfg.follow == ("related",) and cfg.source == "html"
    assert cfg.selectors is None and cfg.mediawiki is None and cfg.max_pages is None


def test_default_domains_are_the_hosts_of_all_start_urls() -> None:
    cfg = load_config_text(
        "name: t\nstart_urls: [https://a.example/x, 'http://B.example:8080/y', https://a.example/z]\n")
    assert cfg.scope.domains == ("a.example", "b.example")


def test_every_key() -> None:
    cfg = load_config(DATA / "every_key.yaml")
    assert cfg == CrawlConfig(
        name="every-key.test_1",
        start_urls=("https://Wiki.Example.org/wiki/Start", "https://wiki.example.org/wiki/Other",
                    "https://wiki.example.org/wiki/Start"),
        path=str(DATA / "every_key.yaml"),
        parser="selectors",
        follow=("related", "see_also", "next"),
        scope=Scope(domains=("wiki.example.org", "img.example.org"),
                    include=(re.compile("^/wiki/"),),
                    exclude=(re.compile("action=edit"), re.compile("^/wiki/Special:")),
                    keep_query=("title", "oldid"), drop_query=("sessionid", "ref_*")),
        max_depth=5,
        max_pages=42,
        recrawl_after=7200.0,
        recrawl_rules=(RecrawlRule(re.compile("^/wiki/Main"), 1800.0),
                       RecrawlRule(re.compile("news"), 90.0)),
        politeness=Politeness(concurrency=2, delay=0.3, robots_txt=False,
                              user_agent="every-key-bot/1.0 (+mailto:bot@example.org)",
                              adaptive=True, target_concurrency=2.5, max_delay=20.0,
                              slow_answer=4.0),
        network=Network(allow_loopback=True, allow_private=True, timeout=10.0,
                        total_timeout=60.0, max_body_bytes=512 * 1024,
                        max_decompressed_bytes=2_000_000, max_redirects=3, attempts=2,
                        backoff_base=1.5, backoff_max=60.0, retry_after_max=300.0, http2=True,
                        proxy=Secret("http://proxy.example.org:3128"), trust_env=True),
        archive="data/every.db",
        selectors=Selectors(entry="div.entry", title="h1, h2.title", summary="p.summary",
                            related="a.related", more_info="a.more", image="img.picture",
                            text="#content", next="a[rel=next]"),
        source="mediawiki",
        mediawiki=MediaWikiSource(api="https://wiki.example.org/w/api.php",
                                  titles=("Start", "Other"), categories=("Category:Things",),
                                  category_depth=2, allpages_prefix="Sta",
                                  allpages_namespace=0, follow_links=True, backfill=3,
                                  maxlag=10, use_textextracts=False),
        max_links_per_page=100,
        gone_after=5,
        full_copy_every=8,
        notify=(NotifyTarget(kind="webhook", url="https://hooks.example.org",
                             url_value=Secret("https://hooks.example.org"),
                             secret="${file:every_key.secret}",
                             secret_value=Secret("every-key-secret"),
                             on=("summary", "links"),
                             match=re.compile(r"^https://wiki\.example\.org/")),),
    )


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: data}


def test_every_key_file_sets_every_key_of_the_schema() -> None:
    """A new dataclass field must be added to every_key.yaml (and so be loadable)."""
    given_keys = _leaves(yaml.safe_load((DATA / "every_key.yaml").read_text()))
    full = CrawlConfig(name="x", start_urls=(), selectors=Selectors(),
                       mediawiki=MediaWikiSource())
    schema_keys = _leaves(config_to_dict(full))
    # Keys of `source: html` alone, which this file's wiki source refuses: set in
    # tests/test_config_sitemaps.py.
    html_only = {"sitemaps", "start"}
    assert set(given_keys) | html_only == set(schema_keys)
    defaults = schema_keys
    loaded = _leaves(config_to_dict(load_config(DATA / "every_key.yaml")))
    assert [k for k in defaults if defaults[k] == loaded[k] and k not in html_only] == []


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("250ms", 0.25),
    ("90", 90.0), ("1.5h", 5400.0),
])
def test_durations(text: str, seconds: float) -> None:
    cfg = load_config_text(BASE + f"recrawl_after: {text}\npoliteness: {{delay: {text}}}\n")
    assert cfg.recrawl_after == seconds and cfg.politeness.delay == seconds


@pytest.mark.parametrize(("value", "size"), [
    (1024, 1024), ("1024", 1024), ("10MB", 10_000_000), ("512KiB", 524_288),
    ("1GB", 1_000_000_000), ("1GiB", 1 << 30), ("64k", 65_536), ("1.5 MiB", 1_572_864),
    ("2mb", 2_000_000), ("0", 0), (3.0, 3),
])
def test_parse_size(value: str | int, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "MB", "10 parsecs", "-1", "1e6", True, -5, 1.5, "10MBB"])
def test_parse_size_refuses(value: Any) -> None:
    with pytest.raises(ValueError, match="512KiB"):
        parse_size(value)


def test_values_that_are_only_text_when_quoted() -> None:
    # A date-like name stays text; YAML's `yes` is a boolean.
    cfg = load_config_text("name: 2024-01-01\nstart_urls: [https://e.org/]\n"
                           "politeness: {robots_txt: no}\n")
    assert cfg.name == "2024-01-01" and cfg.politeness.robots_txt is False


def test_anchors_and_aliases_work() -> None:
    cfg = load_config_text(BASE + "scope:\n  include: [&wiki '^/wiki/']\n"
                           "recrawl:\n  - {pattern: *wiki, after: 1h}\n")
    assert cfg.scope.include == (re.compile("^/wiki/"),)
    assert cfg.recrawl_rules == (RecrawlRule(re.compile("^/wiki/"), 3600.0),)


# -- overrides ------------------------------------------------------------------------------


def test_override_precedence_defaults_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "max_pages: 100\npoliteness:\n  delay: 2s\n  concurrency: 3\n")
    assert load_config(path).max_depth == 3  # default
    assert load_config(path).max_pages == 100  # file over default
    cfg = load_config(path, overrides={
        "max_pages": 10, "max_depth": 1, "archive": tmp_path / "x.db",
        "politeness.delay": "500ms", "network": {"attempts": 1}, "follow": ("see_also",),
        "recrawl_after": None,  # None: a flag that was not given
    })
    assert cfg.max_pages == 10 and cfg.max_depth == 1 and cfg.archive == str(tmp_path / "x.db")
    assert cfg.politeness == Politeness(concurrency=3, delay=0.5)  # the file's other key stays
    assert cfg.network.attempts == 1 and cfg.follow == ("see_also",)
    assert cfg.recrawl_after == 86400.0


def test_override_errors_name_the_key_and_no_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(BASE + "max_pages: 5\n", "c.yaml", overrides={"max_pages": 0})
    err = info.value
    assert (err.path, err.line, err.key) == ("c.yaml", None, "max_pages")
    assert str(err) == ("c.yaml: max_pages: must be an integer >= 1 or null, got 0 "
                        "(set by an override)")
    with pytest.raises(ConfigError, match=r"politeness\.concurency: unknown key 'concurency'; "
                                          r"did you mean 'concurrency'\?"):
        load_config_text(BASE, "c.yaml", overrides={"politeness.concurency": 2})
    with pytest.raises(ConfigError, match=r"^c\.yaml: max_pagez: unknown key .*'max_pages'"):
        load_config_text(BASE, "c.yaml", overrides={"max_pagez": 2})


def test_an_override_can_fix_what_the_file_gets_wrong() -> None:
    cfg = load_config_text(BASE + "max_pages: 0\n", overrides={"max_pages": 7})
    assert cfg.max_pages == 7


def test_parse_overrides() -> None:
    assert parse_overrides(["max_pages=10", "follow=[related, see_also]",
                            "politeness.delay=1s", "network.http2=true", "archive=a=b.db"]) == {
        "max_pages": 10, "follow": ["related", "see_also"], "politeness.delay": "1s",
        "network.http2": True, "archive": "a=b.db"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["max_pages"])
    with pytest.raises(ConfigError, match="cannot read the value"):
        parse_overrides(["x=!!python/object/apply:os.system [true]"])


# -- the examples and the output ------------------------------------------------------------


def test_three_examples_exist() -> None:
    assert [p.name for p in EXAMPLES] == ["mirror.yaml", "testsite.yaml", "wikipedia.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name and cfg.start_urls and cfg.scope.domains


def test_example_testsite_settings() -> None:
    cfg = load_config(ROOT / "config" / "testsite.yaml")
    assert cfg.start_urls == ("http://127.0.0.1:8000/related/NATO",)
    assert (cfg.parser, cfg.follow, cfg.max_depth) == ("auto", ("related", "more_info"), 3)
    assert cfg.scope.domains == ("127.0.0.1",)
    assert [p.pattern for p in cfg.scope.include] == ["^/related/", "^/info/"]
    assert cfg.politeness == Politeness(concurrency=4, delay=0.05, robots_txt=True)
    assert cfg.network.allow_loopback and cfg.archive == "archive/archive.db"


def test_example_wikipedia_settings() -> None:
    cfg = load_config(ROOT / "config" / "wikipedia.yaml")
    assert (cfg.parser, cfg.follow) == ("mediawiki", ("see_also",))
    assert cfg.politeness.concurrency == 1 and cfg.politeness.delay == 1.0
    assert "@" in cfg.politeness.user_agent
    excluded = ["/wiki/Special:Random", "/wiki/File:X.png", "/wiki/Talk:NATO",
                "/wiki/Special%3ARandom", "/w/index.php?title=NATO&action=edit"]
    kept = ["/wiki/NATO", "/wiki/Star_Wars:_Episode_IV", "/wiki/Russia%E2%80%93NATO_relations"]
    def inside(target: str) -> bool:
        return (any(p.search(target) for p in cfg.scope.include)
                and not any(p.search(target) for p in cfg.scope.exclude))
    assert [t for t in excluded if inside(t)] == []
    assert [t for t in kept if not inside(t)] == []


def test_example_mirror_settings() -> None:
    cfg = load_config(ROOT / "config" / "mirror.yaml")
    assert (cfg.parser, cfg.follow) == ("listing", ("related",))
    assert cfg.scope.domains == ("www.example-encyclopedia.org",)
    assert cfg.politeness.delay >= 1.0 and cfg.politeness.concurrency <= 2


@pytest.mark.parametrize("path", [*EXAMPLES, DATA / "every_key.yaml"],
                         ids=[*(p.stem for p in EXAMPLES), "every_key"])
def test_config_to_dict_is_json_and_loads_back(path: Path) -> None:
    cfg = load_config(path)
    data = config_to_dict(cfg)
    assert json.loads(json.dumps(data)) == data
    assert load_config_text(json.dumps(data), cfg.path) == cfg  # JSON is YAML too
    assert load_config_text(config_to_yaml(cfg), cfg.path) == cfg


def test_validate_prints_one_line_per_file() -> None:
    result = run_cli("validate", *map(str, EXAMPLES))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == (
        f"{EXAMPLES[1]}: ok (name testsite, 1 start URL, parser auto, scope 127.0.0.1)")
    assert result.output.count(": ok (") == 3


def test_validate_json() -> None:
    result = run_cli("validate", "--format", "json", str(DATA / "every_key.yaml"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "path": str(DATA / "every_key.yaml"), "ok": True, "name": "every-key.test_1",
        "start_urls": ["https://Wiki.Example.org/wiki/Start",
                       "https://wiki.example.org/wiki/Other",
                       "https://wiki.example.org/wiki/Start"],
        "parser": "selectors", "source": "mediawiki", "follow": ["related", "see_also", "next"],
        "scope": ["wiki.example.org", "img.example.org"]}]


def test_validate_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "max_depth: -1\n")
    result = run_cli("validate", str(EXAMPLES[0]), str(bad), str(EXAMPLES[1]))
    assert result.exit_code == 2
    assert f"{EXAMPLES[0]}: ok" in result.output and str(EXAMPLES[1]) not in result.output
    assert f"{bad}:4: max_depth: must be an integer >= 0, got -1" in result.output


def test_validate_missing_file(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.yaml'}: cannot read the config" in result.output
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)  # a directory
    assert info.value.path == str(tmp_path) and info.value.line is None


def test_config_show_yaml_and_json() -> None:
    path = str(ROOT / "config" / "testsite.yaml")
    result = run_cli("config", "show", path)
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown == config_to_dict(load_config(path))
    assert shown["network"]["max_body_bytes"] == Network().max_body_bytes  # a default, merged
    result = run_cli("config", "show", path, "--format", "json", "--set", "max_pages=3",
                     "--set", "politeness.delay=2s", "--archive", "other.db")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["max_pages"], shown["politeness"]["delay"], shown["archive"]) == (
        3, 2.0, "other.db")


def test_config_show_refuses_a_bad_override() -> None:
    result = run_cli("config", "show", str(EXAMPLES[0]), "--set", "max_depth=deep")
    assert result.exit_code == 2
    assert "max_depth: must be an integer >= 0, got 'deep' (set by an override)" in result.output


def test_commands_have_help_with_an_example() -> None:
    for args in (["validate"], ["config"], ["config", "show"]):
        result = run_cli(*args, "--help")
        assert result.exit_code == 0
        assert "scraper " in result.output and ("Example" in result.output or args == ["config"])


# -- refused configs ------------------------------------------------------------------------

# (id, text, line, key or None, a fragment of the reason). "{tmp}" becomes tmp_path.
BAD: list[tuple[str, str, int, str | None, str]] = [
    ("yaml-unclosed-bracket", "name: t\nstart_urls: [https://example.org/\n", 3, None,
     "while parsing a flow sequence, line 2"),
    ("yaml-bad-indent", BASE + " - https://example.org/b\n", 4, None, "not valid YAML"),
    ("yaml-unclosed-quote", BASE + 'archive: "a.db\n', 5, None, "quoted scalar, line 4"),
    ("yaml-two-documents", BASE + "---\nname: u\n", 4, None, "another document"),
    ("yaml-undefined-alias", BASE + "archive: *nowhere\n", 4, None, "undefined alias"),
    ("yaml-tab-indent", "name: t\nstart_urls:\n\t- https://example.org/\n", 3, None,
     "not tabs"),
    ("yaml-control-character", BASE + "archive: a\x07b\n", 4, None, "special characters"),
    ("duplicate-top-level", BASE + "max_depth: 1\nname: u\n", 5, "name",
     "duplicate key 'name' (first on line 1)"),
    ("duplicate-nested", BASE + "politeness:\n  delay: 1\n  concurrency: 2\n  delay: 2\n", 7,
     "politeness.delay", "first on line 5"),
    ("merge-key", BASE + "base: &b {delay: 1}\npoliteness:\n  <<: *b\n", 6, "politeness",
     "merge keys"),
    ("non-text-key", BASE + "1: one\n", 4, None, "keys must be text"),
    ("max-depth-string", BASE + "max_depth: deep\n", 4, "max_depth",
     "must be an integer >= 0, got 'deep'"),
    ("max-pages-float", BASE + "max_pages: 1.5\n", 4, "max_pages", "integer >= 1"),
    ("name-list", "name: [a, b]\nstart_urls: [https://example.org/]\n", 1, "name",
     "must be a non-empty string, got a list"),
    ("name-bad-characters", "name: my site!\nstart_urls: [https://example.org/]\n", 1, "name",
     "letters, digits"),
    ("concurrency-bool", BASE + "politeness:\n  concurrency: true\n", 5,
     "politeness.concurrency", "got true"),
    ("robots-txt-text", BASE + "politeness:\n  robots_txt: sometimes\n", 5,
     "politeness.robots_txt", "must be true or false"),
    ("start-urls-mapping", "name: t\nstart_urls:\n  home: https://example.org/\n", 2,
     "start_urls", "must be a list, got a mapping"),
    ("start-urls-string", "name: t\nstart_urls: https://example.org/\n", 2, "start_urls",
     "write it as a list"),
    ("politeness-list", BASE + "politeness: [1, 2]\n", 4, "politeness", "must be a mapping"),
    ("user-agent-two-lines", BASE + 'politeness:\n  user_agent: "bot\\r\\nX-Evil: 1"\n', 5,
     "politeness.user_agent", "one line"),
    ("unknown-top-level", BASE + "max_page: 5\n", 4, "max_page",
     "unknown key 'max_page'; did you mean 'max_pages'?"),
    ("unknown-nested", BASE + "politeness:\n  concurency: 2\n", 5, "politeness.concurency",
     "unknown key 'concurency'; did you mean 'concurrency'?"),
    ("unknown-network", BASE + "network:\n  timeout: 5\n  alow_loopback: true\n", 6,
     "network.alow_loopback", "did you mean 'allow_loopback'?"),
    ("unknown-no-suggestion", BASE + "zzzz: 1\n", 4, "zzzz", "valid keys: name, start_urls"),
    ("unknown-recrawl-key", BASE + "recrawl:\n  - {pattern: x, after: 1h, every: 2}\n", 5,
     "recrawl[0].every", "unknown key 'every'"),
    ("include-bad-regex", BASE + "scope:\n  include: ['^/wiki/(']\n", 5, "scope.include",
     "not a valid regular expression"),
    ("exclude-bad-regex", BASE + "scope:\n  exclude:\n    - '^/ok/'\n    - '[a-'\n", 7,
     "scope.exclude", "not a valid regular expression"),
    ("recrawl-bad-regex", BASE + "recrawl:\n  - pattern: '*x'\n    after: 1h\n", 5,
     "recrawl[0].pattern", "regular expression"),
    ("recrawl-after-soon", BASE + "recrawl_after: soon\n", 4, "recrawl_after",
     "or a duration such as"),
    ("delay-fast", BASE + "politeness:\n  delay: fast\n", 5, "politeness.delay",
     "must be a number >= 0 or a duration such as 250ms"),
    ("recrawl-rule-without-after", BASE + "recrawl:\n  - pattern: '^/news/'\n", 5,
     "recrawl[0].after", "missing"),
    ("timeout-zero", BASE + "network:\n  timeout: 0\n", 5, "network.timeout", "number > 0"),
    ("max-body-bad-size", BASE + "network:\n  max_body_bytes: 10 parsecs\n", 5,
     "network.max_body_bytes", "a size such as 512KiB or 10MB"),
    ("max-depth-negative", BASE + "max_depth: -1\n", 4, "max_depth", "got -1"),
    ("delay-negative", BASE + "politeness:\n  delay: -0.5\n", 5, "politeness.delay",
     "got -0.5"),
    ("concurrency-zero", BASE + "politeness:\n  concurrency: 0\n", 5, "politeness.concurrency",
     "integer >= 1, got 0"),
    ("max-pages-zero", BASE + "max_pages: 0\n", 4, "max_pages", "got 0"),
    ("attempts-zero", BASE + "network:\n  attempts: 0\n", 5, "network.attempts", "got 0"),
    ("start-urls-empty", "name: t\nstart_urls: []\n", 2, "start_urls", "at least one"),
    ("start-urls-missing", "name: t\nparser: auto\n", 1, "start_urls", "missing"),
    ("start-url-ftp", "name: t\nstart_urls:\n  - ftp://example.org/file\n", 3, "start_urls[0]",
     "http or https URL, got 'ftp://example.org/file'"),
    ("start-url-file", BASE + "  - file:///etc/passwd\n", 4, "start_urls[1]", "http or https"),
    ("start-url-javascript", "name: t\nstart_urls: ['javascript:alert(1)']\n", 2,
     "start_urls[0]", "http or https"),
    ("start-url-no-scheme", BASE + "  - example.org/wiki/B\n", 4, "start_urls[1]",
     "did you mean 'https://example.org/wiki/B'?"),
    ("start-url-no-host", "name: t\nstart_urls: ['http:///wiki/A']\n", 2, "start_urls[0]",
     "has no host"),
    ("start-url-other-domain", BASE + "scope:\n  domains: [example.com]\n", 3,
     "start_urls[0]", "outside the scope: its host 'example.org' is not in scope.domains"),
    ("start-url-not-included", BASE + "scope:\n  include: ['^/info/']\n", 3, "start_urls[0]",
     "matches none of scope.include"),
    ("start-url-excluded", BASE + "scope:\n  exclude: ['/wiki/A$']\n", 3, "start_urls[0]",
     "matches scope.exclude"),
    ("start-url-loopback", "name: t\nstart_urls:\n  - http://127.0.0.1:8000/\n", 3,
     "start_urls[0]", "network.allow_loopback"),
    ("domain-is-a-url", BASE + "scope:\n  domains: ['https://example.org/']\n", 5,
     "scope.domains[0]", "not a URL"),
    ("parser-unknown", BASE + "parser: listng\n", 4, "parser",
     "got 'listng'; did you mean 'listing'?"),
    ("follow-unknown", BASE + "follow: [related, see_alsoo]\n", 4, "follow[1]",
     "did you mean 'see_also'?"),
    ("follow-unknown-block", BASE + "follow:\n  - related\n  - everything\n", 6, "follow[1]",
     "must be one of related, more_info"),
    ("source-unknown", BASE + "source: api\n", 4, "source", "must be one of html, mediawiki"),
    ("selectors-missing", BASE + "parser: selectors\n", 4, "selectors",
     "required when parser is selectors"),
    ("selectors-all-empty", BASE + "parser: selectors\nselectors: {title: null}\n", 5,
     "selectors", "required when parser is selectors"),
    ("selector-bad-css", BASE + "parser: selectors\nselectors:\n  title: h1\n  entry: 'div['\n",
     7, "selectors.entry", "not a valid CSS selector"),
    ("mediawiki-without-source", BASE + "mediawiki:\n  api: https://example.org/w/api.php\n",
     4, "mediawiki", "only used with `source: mediawiki`"),
    ("mediawiki-api-not-http", BASE + "source: mediawiki\nmediawiki:\n  api: api.php\n", 6,
     "mediawiki.api", "http or https"),
    ("python-object-apply", BASE + 'cmd: !!python/object/apply:os.system ["touch {tmp}/pwned"]\n',
     4, "cmd", "'!!python/object/apply:os.system' is not allowed"),
    ("python-tag-on-known-key",
     BASE + 'archive: !!python/object/apply:os.system ["touch {tmp}/pwned2"]\n', 4, "archive",
     "is not allowed"),
    ("python-name-scalar", BASE + "max_pages: !!python/name:os.system\n", 4, "max_pages",
     "is not allowed"),
    ("python-object-top-level", "!!python/object:os.PathLike {name: t}\n", 1, None,
     "is not allowed"),
    ("local-tag", BASE + "archive: !env HOME\n", 4, "archive", "'!env' is not allowed"),
    ("empty-file", "", 1, None, "the file is empty"),
    ("only-comments", "# just a comment\n\n", 1, None, "the file is empty"),
    ("top-level-list", "- name: t\n- start_urls: []\n", 1, None, "got a list"),
    ("top-level-text", "\nhello\n", 2, None, "must be a mapping"),
    ("name-missing", "start_urls: [https://example.org/]\nmax_depth: 1\n", 1, "name",
     "missing"),
    ("name-empty", "name: ''\nstart_urls: [https://example.org/]\n", 1, "name", "non-empty"),
]


@pytest.mark.parametrize(("text", "line", "key", "reason"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_refused_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int,
                        key: str | None, reason: str) -> None:
    monkeypatch.chdir(tmp_path)  # anything written by mistake would land here
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("{tmp}", str(tmp_path)), encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    where = f"{path}:{line}: " + (f"{key}" if key else "")
    assert where in message, message
    assert reason in message, message
    assert os.listdir(tmp_path) == ["bad.yaml"]
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.path, info.value.line) == (str(path), line)
    if key is not None:
        assert info.value.key is not None and info.value.key.startswith(key)


def test_enough_refused_configs() -> None:
    assert len(BAD) >= 30
    assert len({case[0] for case in BAD}) == len(BAD)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: t\nstart_urls: [https://example.org/]\narchive: caf\xe9.db\n")
    with pytest.raises(ConfigError, match=r":3: not UTF-8"):
        load_config(path)


def test_alias_bomb_is_cheap() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = BASE + "scope:\n  include: *a11\n" + "\n".join(levels) + "\n"
    started = time.monotonic()
    with pytest.raises(ConfigError):
        load_config_text(text)
    assert time.monotonic() - started < 10


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="start_urls"):
        load_config_text("name: t\nstart_urls: &x [*x]\n")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`,?\t\n :01.~")),
               max_size=60))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        load_config_text(BASE + text)
    except ConfigError as exc:
        assert exc.path == "<string>"


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["max_depth", "max_pages", "follow", "politeness", "recrawl_after",
                     "archive", "scope", "parser"]),
    st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                 max_leaves=6)))
def test_any_data_gives_a_config_or_a_located_error(extra: dict[str, Any]) -> None:
    text = yaml.safe_dump({"name": "t", "start_urls": ["https://example.org/wiki/A"], **extra})
    try:
        cfg = load_config_text(text, "f.yaml")
    except ConfigError as exc:
        assert exc.line is not None and exc.key is not None
    else:
        assert load_config_text(config_to_yaml(cfg), "f.yaml") == cfg


def test_loaded_records_are_frozen() -> None:
    cfg = load_config_text(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"  # type: ignore[misc]


def test_docs_list_every_key() -> None:
    doc = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    full = CrawlConfig(name="x", start_urls=(), selectors=Selectors(),
                       mediawiki=MediaWikiSource())
    # The selectors share one row that names each of them.
    missing = [key for key in _leaves(config_to_dict(full))
               if f"`{key}`" not in doc
               and not (key.startswith("selectors.") and f"`{key[10:]}`" in doc)]
    assert missing == []


def test_source_mediawiki_needs_no_block(tmp_path: Path) -> None:
    """Every key of the `mediawiki:` block has a default, so the block may be left out."""
    path = tmp_path / "wiki.yaml"
    path.write_text("name: wiki\nstart_urls: [https://wiki.example.org/wiki/Main_Page]\n"
                    "source: mediawiki\n")
    cfg = load_config(str(path))
    assert cfg.mediawiki == MediaWikiSource()
    assert load_config_text("name: wiki\nstart_urls: [https://wiki.example.org/wiki/Main_Page]"
                            "\nsource: mediawiki\nmediawiki: {}\n", "w.yaml") == \
        dataclasses.replace(cfg, path="w.yaml")

