"""Parser-breakage alerts: fields that were filled on a site's pages and come out empty now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scraper.models import Page

WATCHED_FIELDS = ("title", "summary", "text", "links", "entries", "categories", "infobox",
                  "image")


def filled_fields(page: Page) -> frozenset[str]:
    return frozenset(name for name in WATCHED_FIELDS if getattr(page, name))


@dataclass(slots=True)
class BreakageMonitor:
    """Counts, over the pages refetched in one run, how often a field that the stored version
    had is empty in the new one.

    Comparing a page with its own previous version (instead of site-wide fill rates) keeps
    ordinary edits quiet: an edit changes a summary, it does not empty it on half the site.
    """

    site: str
    min_pages: int = 5  # fewer compared pages than this never alert
    threshold: float = 0.5  # share of the pages that had the field and lost it
    compared: dict[str, int] = field(default_factory=dict)  # field -> pages that had it
    lost: dict[str, list[str]] = field(default_factory=dict)  # field -> URLs that lost it

    def observe(self, previous: Page, current: Page) -> None:
        before = filled_fields(previous)
        after = filled_fields(current)
        for name in before:
            self.compared[name] = self.compared.get(name, 0) + 1
            if name not in after:
                self.lost.setdefault(name, []).append(current.url)

    def observe_unchanged(self, page: Page) -> None:
        for name in filled_fields(page):
            self.compared[name] = self.compared.get(name, 0) + 1

    def alerts(self) -> list[dict[str, Any]]:
        out = []
        for name, had in sorted(self.compared.items()):
            urls = self.lost.get(name, [])
            if had >= self.min_pages and len(urls) / had >= self.threshold:
                out.append({
                    "site": self.site, "field": name, "pages_compared": had,
                    "pages_emptied": len(urls), "examples": urls[:3],
                    "message": f"{self.site}: field {name!r} came out empty on {len(urls)} of "
                               f"{had} pages that had it (e.g. {urls[0]}); did the site's markup"
                               " change?",
                })
        return out
