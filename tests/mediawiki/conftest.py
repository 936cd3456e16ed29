"""Fixtures of the real-MediaWiki tests (defined in tests/mediawiki_harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The harness module sits in tests/; make it importable however pytest was started.
_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from mediawiki_harness import (
    mediawiki,
    mediawiki_pristine,
    mediawiki_shared,
)

__all__ = ["mediawiki", "mediawiki_pristine", "mediawiki_shared"]
