"""Hostile configs (issue 16, guarantees 4 and 7): values that would crash, hang or blow up
later are refused at validation, by `scraper validate` and by `scraper crawl` before anything
is written, with exit 2 and a message naming file:line: key.

Covered: header values (user_agent), NUL in paths, YAML nested 100,000 deep and alias bombs,
config paths that are not regular files (directory, FIFO, /dev/zero, huge), regexes that
could backtrack for ever, and URLs and numbers the crawl would trip over."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.config import load_config, load_config_text, parse_overrides
from scraper.config._regex import regex_problem
from scraper.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILES = sorted((ROOT / "config").glob("*.yaml")) + sorted(
    (ROOT / "tests" / "data" / "configs").glob("*.yaml"))

BASE = "name: t\nstart_urls:\n  - https://example.org/wiki/A\n"  # lines 1-3
DEEP = 100_000


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """fn() run in a thread; fails the test (instead of hanging it) when it takes longer."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds}s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# (id, text, line, key, a fragment of the reason)
CASES: list[tuple[str, str, int, str, str]] = [
    # 1. strings that end up in an HTTP header
    ("user-agent-cr", BASE + 'politeness:\n  user_agent: "bot\\rX"\n', 5,
     "politeness.user_agent", "control characters such as '\\r'"),
    ("user-agent-lf", BASE + 'politeness:\n  user_agent: "bot\\nX-Evil: 1"\n', 5,
     "politeness.user_agent", "control characters such as '\\n'"),
    ("user-agent-nul", BASE + 'politeness:\n  user_agent: "bot\\0"\n', 5,
     "politeness.user_agent", "control characters such as '\\x00'"),
    ("user-agent-del", BASE + 'politeness:\n  user_agent: "bot\\x7f"\n', 5,
     "politeness.user_agent", "control characters"),
    ("user-agent-tab", BASE + 'politeness:\n  user_agent: "bot\\tx"\n', 5,
     "politeness.user_agent", "control characters such as '\\t'"),
    ("user-agent-latin1", BASE + "politeness:\n  user_agent: botté\n", 5,
     "politeness.user_agent", "non-ASCII characters such as 'é'"),
    ("user-agent-snowman", BASE + "politeness:\n  user_agent: bot ☃\n", 5,
     "politeness.user_agent", "non-ASCII"),
    # 2. NUL in paths and other text
    ("archive-nul", BASE + 'archive: "arch\\0ive.db"\n', 4, "archive",
     "a path cannot contain a NUL character"),
    ("mediawiki-title-nul", BASE + 'source: mediawiki\nmediawiki:\n  titles: ["A\\0B"]\n', 6,
     "mediawiki.titles[0]", "without control characters"),
    ("mediawiki-prefix-newline", BASE + 'source: mediawiki\nmediawiki:\n'
     '  allpages_prefix: "A\\nB"\n', 6, "mediawiki.allpages_prefix", "control characters"),
    # 3. YAML shape
    ("deep-flow-lists", BASE + "max_depth: " + "[" * DEEP + "]" * DEEP + "\n", 4,
     "max_depth[0][0][0]...", "nested deeper than 50 levels"),
    ("deep-flow-mappings", BASE + "scope: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n", 4,
     "scope.a.a.a...", "nested deeper than 50 levels"),
    ("deep-unclosed", BASE + "follow: " + "[" * DEEP + "\n", 4, "follow[0][0][0]...",
     "nested deeper than 50 levels"),
    ("deep-block", BASE + "scope:\n" + "".join(" " * i + "a:\n" for i in range(1, 60)), 54,
     "scope.a.a.a...", "nested deeper than 50 levels"),
    ("alias-bomb", BASE + "\n".join(
        ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)])
     + "\nscope:\n  include: *a9\n", 9, "a5[", "aliases expand to more than 1000000 values"),
    ("alias-cycle", BASE + "scope: &s\n  include: *s\n", 5, "scope.include",
     "inside its own anchor"),
    # 5. regexes that could run for ever
    ("include-nested-plus", BASE + "scope:\n  include: ['^/wiki/(a+)+$']\n", 5,
     "scope.include[0]", "'^/wiki/(a+)+$': nested quantifier: can take exponential time"),
    ("exclude-nested-star", BASE + "scope:\n  exclude: ['(x*)*y']\n", 5, "scope.exclude[0]",
     "nested quantifier"),
    ("exclude-words", BASE + "scope:\n  exclude: ['^/(\\w+\\s?)*$']\n", 5, "scope.exclude[0]",
     "nested quantifier"),
    ("recrawl-nested", BASE + "recrawl:\n  - {pattern: '(.*a)*b', after: 1h}\n", 5,
     "recrawl[0].pattern", "nested quantifier"),
    ("include-same-alternatives", BASE + "scope:\n  include: ['^/(a|a)*$']\n", 5,
     "scope.include[0]", "alternatives under a repeat"),
    ("exclude-prefix-alternatives", BASE + "scope:\n  exclude: ['(x|xy)*z']\n", 5,
     "scope.exclude[0]", "alternatives under a repeat"),
    ("exclude-overlapping-alternatives", BASE + "scope:\n  exclude: ['(ab|a[bc]b)*z']\n", 5,
     "scope.exclude[0]", "alternatives under a repeat"),
    ("exclude-cubic", BASE + "scope:\n  exclude: ['x.*x.*y']\n", 5, "scope.exclude[0]",
     "n**3"),
    ("exclude-backreference", BASE + "scope:\n  exclude: ['(a)\\1']\n", 5, "scope.exclude[0]",
     "backreference"),
    ("exclude-groups-too-deep", BASE + "scope:\n  exclude: ['" + "(" * 5000 + ")" * 5000
     + "']\n", 5, "scope.exclude[0]", "nested too deeply"),
    # 6. URLs and numbers the crawl would trip over
    ("start-url-credentials", "name: t\nstart_urls: ['https://user:pw@example.org/']\n", 2,
     "start_urls[0]", "must not carry a user name or password"),
    ("start-url-backslash-userinfo", "name: t\nstart_urls: ['https://example.org\\@e.com/']\n",
     2, "start_urls[0]", "user name or password"),
    ("start-url-empty-label", "name: t\nstart_urls: ['https://example..org/']\n", 2,
     "start_urls[0]", "not a valid host name"),
    ("start-url-long-label", "name: t\nstart_urls: ['https://" + "a" * 64 + ".org/']\n", 2,
     "start_urls[0]", "not a valid host name"),
    ("start-url-port-0", "name: t\nstart_urls: ['https://example.org:0/']\n", 2,
     "start_urls[0]", "port 0"),
    ("start-url-port-too-big", "name: t\nstart_urls: ['https://example.org:65536/']\n", 2,
     "start_urls[0]", "Port out of range"),
    ("start-url-nul", 'name: t\nstart_urls: ["https://example.org/a\\0b"]\n', 2,
     "start_urls[0]", "without control characters"),
    ("mediawiki-api-credentials", BASE + "source: mediawiki\nmediawiki:\n"
     "  api: https://u:p@example.org/w/api.php\n", 6, "mediawiki.api", "password"),
    ("concurrency-huge", BASE + "politeness:\n  concurrency: 1000000000\n", 5,
     "politeness.concurrency", "at most 1000"),
    ("max-pages-huge", BASE + "max_pages: 100000000000000000000\n", 4, "max_pages",
     "at most 2147483647"),
    ("recrawl-after-huge", BASE + "recrawl_after: 100000000000\n", 4, "recrawl_after",
     "at most 3650 days"),
    ("recrawl-rule-after-huge", BASE + "recrawl:\n  - {pattern: x, after: 1.0e+300}\n", 5,
     "recrawl[0].after", "at most 3650 days"),
    ("timeout-two-days", BASE + "network:\n  timeout: 2d\n", 5, "network.timeout",
     "at most 1 days"),
    ("delay-negative", BASE + "politeness:\n  delay: -1\n", 5, "politeness.delay", ">= 0"),
    ("redirects-huge", BASE + "network:\n  max_redirects: 1000000\n", 5,
     "network.max_redirects", "at most 100"),
    ("body-cap-huge", BASE + "network:\n  max_body_bytes: 2TiB\n", 5,
     "network.max_body_bytes", "at most"),
]


def test_cases_are_distinct() -> None:
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("text", "line", "key", "reason"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_validate_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                          line: int, key: str, reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = within(10, lambda: run_cli("validate", str(path)))
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: {key}" in result.output, result.output
    assert reason in result.output, result.output
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert os.listdir(tmp_path) == ["bad.yaml"]


@pytest.mark.parametrize(("text", "line", "key", "reason"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_crawl_refuses_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          text: str, line: int, key: str, reason: str) -> None:
    monkeypatch.chdir(tmp_path)  # a default archive/archive.db would land here
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    archive = tmp_path / "arch" / "a.db"
    result = within(10, lambda: run_cli("crawl", str(path), "--archive", str(archive)))
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: {key}" in result.output and reason in result.output
    assert os.listdir(tmp_path) == ["bad.yaml"]  # no archive, lock or journal


# -- 1. header values: what is kept -----------------------------------------------------------


def test_user_agent_blanks_around_it_are_dropped() -> None:
    # h11 refuses a header value with blanks around it; YAML keeps them only when quoted.
    cfg = load_config_text(BASE + 'politeness:\n  user_agent: "  bot/1.0 (+mailto:a@b.org) "\n')
    assert cfg.politeness.user_agent == "bot/1.0 (+mailto:a@b.org)"
    with pytest.raises(ConfigError, match="non-empty"):
        load_config_text(BASE + 'politeness:\n  user_agent: "   "\n')


def test_user_agent_override_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"user_agent: .*\(set by an override\)"):
        load_config_text(BASE, overrides={"politeness.user_agent": "a\r\nb"})


# -- 2. NUL in a path given on the command line ------------------------------------------------


def test_archive_override_with_nul_is_refused(tmp_path: Path) -> None:
    # From Python only: a real command line cannot carry a NUL (argv is C strings).
    good = tmp_path / "good.yaml"
    good.write_text(BASE)
    with pytest.raises(ConfigError, match="archive: a path cannot contain a NUL"):
        load_config(good, overrides={"archive": "a\0b.db"})
    assert os.listdir(tmp_path) == ["good.yaml"]


def test_config_path_with_nul_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot read the config") as info:
        load_config("con\0fig.yaml")
    assert info.value.path == "con\0fig.yaml"


# -- 3. YAML shape ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "key"), [
    (BASE + "x: " + "[" * DEEP + "]" * DEEP, 4, "x[0][0][0]..."),
    (BASE + "x: " + "{a: " * DEEP + "1" + "}" * DEEP, 4, "x.a.a.a..."),
    ("- " * 20_000 + "x", 1, "[0][0][0]..."),  # block sequences, all on line 1
])
def test_deep_yaml_is_refused_fast_without_recursion_error(text: str, line: int, key: str
                                                           ) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match="nested deeper than 50 levels") as info:
        load_config_text(text + "\n", "deep.yaml")
    assert (info.value.line, info.value.key) == (line, key)
    assert time.monotonic() - started < 5


def test_fifty_levels_are_read() -> None:
    # 49 brackets under a top-level key: 50 levels with the top mapping. The key is unknown,
    # which shows the document was read all the way to the key check.
    with pytest.raises(ConfigError, match="unknown key 'x'"):
        load_config_text(BASE + "x: " + "[" * 49 + "]" * 49 + "\n")


def test_deep_override_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"follow\[0\]\[0\]\[0\]\.\.\.: nested deeper"):
        parse_overrides(["follow=" + "[" * DEEP + "]" * DEEP])
    result = run_cli("config", "show", str(CONFIG_FILES[0]), "--set", "follow=" + "[" * DEEP)
    assert result.exit_code == 2 and "nested deeper than 50 levels" in result.output


def test_alias_bomb_is_refused_before_it_is_built() -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 30)]
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases expand"):
        load_config_text(BASE + "\n".join(levels) + "\n")
    assert time.monotonic() - started < 5


def test_modest_aliases_still_work() -> None:
    cfg = load_config_text(BASE + "scope:\n  exclude: &ex ['^/a', '^/b']\n"
                           "recrawl:\n  - {pattern: &p '^/wiki/', after: 1h}\n"
                           "  - {pattern: *p, after: 2h}\n")
    assert [p.pattern for p in cfg.scope.exclude] == ["^/a", "^/b"]


# -- 4. the config path is not a regular file ---------------------------------------------------


def _refuses_path(path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        within(5, lambda: load_config(path))
    assert info.value.path == path and fragment in str(info.value)
    result = within(10, lambda: run_cli("validate", path))
    assert result.exit_code == 2, result.output
    assert f"{path}: {fragment}" in result.output or fragment in result.output
    # crawl: click itself refuses a directory (with its own words); the rest reach us.
    result = within(10, lambda: run_cli("crawl", path, "--archive", "a.db"))
    assert result.exit_code == 2, result.output
    assert path in result.output


def test_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dir.yaml").mkdir()
    monkeypatch.chdir(tmp_path)
    _refuses_path(str(tmp_path / "dir.yaml"), "not a regular file but a directory")
    assert os.listdir(tmp_path) == ["dir.yaml"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_is_refused_without_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)
    _refuses_path(str(fifo), "a named pipe (FIFO)")
    assert os.listdir(tmp_path) == ["pipe.yaml"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_device_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _refuses_path("/dev/zero", "a character device")
    assert os.listdir(tmp_path) == []


def test_huge_file_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:  # sparse: 2 GiB of nothing, cheap to make
        fh.write(BASE.encode())
        fh.truncate(2 * 1024**3)
    _refuses_path(str(big), "over 1048576: not a config file?")
    assert os.listdir(tmp_path) == ["big.yaml"]


def test_a_file_just_under_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(BASE + "#" * (1024 * 1024 - len(BASE) - 1) + "\n")
    assert load_config(path).name == "t"


# -- 5. regexes -------------------------------------------------------------------------------


def _patterns_in(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    scope = data.get("scope") or {}
    return ([*scope.get("include", []), *scope.get("exclude", [])]
            + [rule["pattern"] for rule in data.get("recrawl", [])])


CONFIG_PATTERNS = sorted({p for path in CONFIG_FILES for p in _patterns_in(path)})
# Patterns a config may well hold; each must be accepted.
ORDINARY = [
    r"^/wiki/", r"^/wiki/[^/:]+$", r"action=(edit|history)", r"[?&](print|share)=",
    r"\.(pdf|zip|jpe?g|png|gif)$", r"^/news/\d{4}/\d{2}/", r"(?i)^/WIKI/", r"/(\d+)/?$",
    r"^/a/([^/]+/)*b$", r"^/.*\.php$", r"^/.*foo.*bar", r"(?:\?|&)page=\d+", r"^/(foo|far)+$",
    r"^/(?:[a-z]+-)*[a-z]+$", r"(?=.*x)", r".*\.html$", r"[\w-]+", r"(?:jpg|png)$",
]


def test_every_pattern_in_the_shipped_and_test_configs_is_accepted() -> None:
    assert len(CONFIG_PATTERNS) >= 5
    assert [p for p in CONFIG_PATTERNS + ORDINARY if regex_problem(p)] == []


def _hostile_urls(pattern: str) -> list[str]:
    """50,000-character paths built to make a backtracking matcher work hard on `pattern`:
    runs of one character, of the pattern's own literal text, and of separators."""
    own = "".join(re.findall(r"[A-Za-z0-9/_:%.=&?-]", pattern)) or "a"
    pieces = ["a", "/", "/wiki/", own, "a/", "%3A", "&print="]
    return ["/" + (piece * (50_000 // len(piece) + 1))[:49_999] + "!" for piece in pieces]


def test_a_hostile_url_against_every_accepted_pattern_is_fast() -> None:
    # The configs' patterns and the ordinary ones that are anchored or free of unbounded
    # repeats. An unanchored pattern with one (`.*\.html$`) is accepted but quadratic: a
    # search tries every start, so 50,000 characters take seconds. See docs/config.md.
    linear = [p for p in ORDINARY if p.startswith("^") or not re.search(r"[*+]|\{\d+,\}", p)]
    patterns = [re.compile(p) for p in CONFIG_PATTERNS + linear]
    started = time.monotonic()
    for pattern in patterns:
        for url in _hostile_urls(pattern.pattern):
            pattern.search(url)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("pattern", [
    r"(a+)+", r"(a*)*", r"(a+)*b", r"(\w+\s?)*$", r"(.*a){2,}", r"((ab)*a?)*c", r"(a+){2,10}",
    r"(a|a)*", r"(a|ab)*c", r"(a|aa)+$", r"(ab|a[bc]b)*d", r"x.*x.*y", r"\d+\d+\d+x",
    r"(a)\1", r"(?P<q>a)(?P=q)", r"(a)?(?(1)b|c)", r"(a?){30}a{30}", "a?" * 30 + "a" * 30,
    r"(a*a?)$",
    # A repeat inside an alternative, then one after it (found by the property test below):
    r"(a{2,}|a).{2,}aac",
])
def test_hanging_patterns_are_refused(pattern: str) -> None:
    assert regex_problem(pattern) is not None
    with pytest.raises(ConfigError, match="refused regular expression"):
        load_config_text(BASE + yaml.safe_dump({"scope": {"exclude": [pattern]}}))


# A small grammar: atoms over {a, b, /}, quantified, grouped, alternated.
_ATOM = st.sampled_from(["a", "b", "/", ".", "[ab]", "[^/]", r"\w", "(?:ab)"])
_QUANT = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "{2,}"])


def _regexes() -> st.SearchStrategy[str]:
    piece = st.builds(lambda a, q: a + q, _ATOM, _QUANT)
    seq = st.lists(piece, min_size=1, max_size=4).map("".join)
    group = st.builds(lambda alts, q: "(" + "|".join(alts) + ")" + q,
                      st.lists(seq, min_size=1, max_size=3), _QUANT)
    body = st.lists(st.one_of(piece, group), min_size=1, max_size=4).map("".join)
    return st.builds(lambda anchor, b, end: anchor + b + end,
                     st.sampled_from(["", "^"]), body, st.sampled_from(["", "$", "c"]))


@settings(max_examples=40, deadline=None)
@given(_regexes())
def test_accepted_patterns_finish_fast_on_adversarial_text(pattern: str) -> None:
    if regex_problem(pattern) is not None:
        return
    compiled = re.compile(pattern)
    for text in ("a" * 20_000 + "!", "ab" * 10_000 + "!", "/a" * 10_000 + "!"):
        started = time.monotonic()
        compiled.search(text)
        # Generous: an accepted pattern may still be quadratic (one repeat, searched from
        # every start), about a second here; a refused one would take hours.
        assert time.monotonic() - started < 10, (pattern, text[:10])
