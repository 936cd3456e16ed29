"""Shared fixtures: the built-in encyclopedia site, started on a free loopback port."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scraper.testsite import TestSite

# The harnesses sit in tests/; make them importable however pytest was started.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_backends import any_archive, any_archive_location, archive_backend  # noqa: F401
from postgres_harness import postgres_server, postgres_url  # noqa: F401  (fixtures)

# A shell without job control starts a background command (`pytest ... &` in a script, as a
# CI runner may) with SIGINT ignored, and the processes the tests start inherit that: the
# tests of what Ctrl-C does would see nothing happen. Ctrl-C is set back to Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def testsite() -> Iterator[TestSite]:
    """A fresh built-in site (seed 1, 200 topics) for one test; `.base_url`, `.url(path)`."""
    with TestSite() as site:
        yield site


@pytest.fixture
def testsite_factory() -> Iterator[Callable[..., TestSite]]:
    """Start sites with custom options (TestSite's keywords); all are stopped after the test."""
    sites: list[TestSite] = []

    def start(**options: Any) -> TestSite:
        site = TestSite(**options)
        site.start()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow (durability and soak) run in CI or with SCRAPER_SLOW_TESTS=1;
    elsewhere they are deselected, not skipped, unless -m names them."""
    import os

    if os.environ.get("SCRAPER_SLOW_TESTS") == "1" or os.environ.get("CI") == "true":
        return
    if config.getoption("-m"):
        return
    kept = [item for item in items if item.get_closest_marker("slow") is None]
    deselected = [item for item in items if item.get_closest_marker("slow") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
