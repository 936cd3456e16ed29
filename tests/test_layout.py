"""The layout shows the pipeline: the crawl stage is one package, a page source plugs into it
through scraper.crawl.source, and the stages after the crawl know nothing of it. Imports are
read with `ast`, those under TYPE_CHECKING included (a type is a dependency too)."""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from scraper.config._model import SOURCES as CONFIG_SOURCES
from scraper.crawl.source import BUILT_IN_SOURCE, SOURCES, load_source
from scraper.errors import ConfigError

SCRAPER = Path(__file__).resolve().parents[1] / "scraper"
# The one module of the crawl a page source may name.
SOURCE_SEAM = "scraper.crawl.source"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in one module; `from a import b` gives a.b as well as
    a, so that `from scraper import crawl` counts as importing scraper.crawl."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _offences(folder: str, allowed: Callable[[str], bool]) -> list[str]:
    return [f"{path.relative_to(SCRAPER.parent)}:{line}: imports {module}"
            for path in sorted((SCRAPER / folder).rglob("*.py"))
            for line, module in _imports(path) if not allowed(module)]


def test_the_crawl_never_imports_a_source() -> None:
    assert _offences("crawl", lambda m: not _within(m, "scraper.mediawiki")) == []


def test_the_mediawiki_source_sees_the_crawl_only_through_the_seam() -> None:
    def allowed(module: str) -> bool:
        # `from scraper.crawl.source import X` also yields scraper.crawl.source.X.
        return not _within(module, "scraper.crawl") or _within(module, SOURCE_SEAM)

    assert _offences("mediawiki", allowed) == []


@pytest.mark.parametrize("folder", ["parse", "diff", "archive", "export", "config"])
def test_the_stages_around_the_crawl_import_nothing_of_it(folder: str) -> None:
    assert _offences(folder, lambda m: not _within(m, "scraper.crawl")) == []


def test_pure_policy_below_the_crawl_imports_nothing_of_it() -> None:
    for name in ("urls.py", "addresses.py", "models.py", "errors.py", "timeutil.py"):
        path = SCRAPER / name
        assert [m for _, m in _imports(path) if _within(m, "scraper.crawl")] == [], name


def test_no_crawl_module_is_left_at_the_old_paths() -> None:
    for old in ("crawl", "crawl_events", "fetch", "frontier", "netpolicy", "parse_pool",
                "archive_gate", "alerts"):
        assert not (SCRAPER / f"{old}.py").exists(), old


def test_the_crawl_modules_keep_to_the_size_guide() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (SCRAPER / "crawl").glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 500} == {}


def test_every_source_the_config_accepts_can_be_loaded() -> None:
    assert set(CONFIG_SOURCES) == {BUILT_IN_SOURCE, *SOURCES}
    for name in SOURCES:
        assert callable(load_source(name))


def test_an_unknown_source_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"source: 'gopher' is not a page source "
                                          r"\(known: html, mediawiki\)"):
        load_source("gopher")


def test_the_crawl_logs_under_the_name_its_json_lines_show() -> None:
    # docs/cron.md shows "logger": "scraper.crawl"; log filters are written against it.
    from scraper.crawl import loop

    assert loop.log is logging.getLogger("scraper.crawl")
