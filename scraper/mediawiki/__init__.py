"""MediaWiki source mode: an async API client, typed records of its answers, and readers."""

from __future__ import annotations

from scraper.mediawiki.api import MediaWikiClient, PageHtml, discover_api_url, mw_timestamp
from scraper.mediawiki.errors import (
    ApiError,
    BadAnswer,
    MaxLagError,
    MediaWikiError,
    NoApiFound,
    PageMissing,
    Unsupported,
)
from scraper.mediawiki.readers import (
    find_api_url,
    first_paragraph,
    read_mobileview,
    read_rest_summary,
)
from scraper.mediawiki.records import (
    Comparison,
    DiffLine,
    PageRef,
    PageState,
    ParsedRevision,
    RecentChange,
    RestPage,
    SiteInfo,
    TitleLookup,
    title_to_path,
)

__all__ = [
    "ApiError",
    "BadAnswer",
    "Comparison",
    "DiffLine",
    "MaxLagError",
    "MediaWikiClient",
    "MediaWikiError",
    "NoApiFound",
    "PageHtml",
    "PageMissing",
    "PageRef",
    "PageState",
    "ParsedRevision",
    "RecentChange",
    "RestPage",
    "SiteInfo",
    "TitleLookup",
    "Unsupported",
    "discover_api_url",
    "find_api_url",
    "first_paragraph",
    "mw_timestamp",
    "read_mobileview",
    "read_rest_summary",
    "title_to_path",
]
