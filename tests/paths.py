"""Where the shared read-only material is: the real-page corpus and the seed page.

CI clones the repository into a fresh folder with a copy of shared/ beside it, so the
default is ../shared from the checkout; SCRAPER_SHARED overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path:
    if "SCRAPER_SHARED" in os.environ:
        return Path(os.environ["SCRAPER_SHARED"])
    beside = REPO.parent / "shared"
    return beside if beside.is_dir() else Path("/work/shared")


SHARED = _shared()
CORPUS = Path(os.environ.get("SCRAPER_CORPUS", SHARED / "corpus" / "real"))
SEED_PAGE = SHARED / "seed" / "infolist-page.txt"
