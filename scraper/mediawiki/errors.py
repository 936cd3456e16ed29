"""Errors of the MediaWiki client: FetchError subclasses that name the URL asked for.

    FetchError (scraper.errors)
    └── MediaWikiError          anything the MediaWiki client refuses or cannot read
        ├── ApiError            the API answered with an `error` object (code, info)
        │   └── MaxLagError     replication lag stayed above `maxlag` through every retry
        ├── BadAnswer           not JSON, or JSON of an unexpected shape
        ├── NoApiFound          a page has no RSD (EditURI) link to its api.php
        ├── PageMissing         the page or revision asked for does not exist
        └── Unsupported         the wiki lacks a feature asked for (e.g. TextExtracts)
"""

from __future__ import annotations

from scraper.errors import FetchError

__all__ = ["ApiError", "BadAnswer", "MaxLagError", "MediaWikiError", "NoApiFound",
           "PageMissing", "Unsupported"]


class MediaWikiError(FetchError):
    """A MediaWiki API request failed or its answer could not be used."""


class ApiError(MediaWikiError):
    """The API answered with an error object: `code` is MediaWiki's error code."""

    def __init__(self, url: str, code: str, info: str, *, attempts: int = 1) -> None:
        self.code = code
        self.info = info
        super().__init__(url, f"MediaWiki API error {code}: {info}", attempts=attempts)


class MaxLagError(ApiError):
    """The wiki kept answering `maxlag` (its database replicas lag) until retries ran out."""

    def __init__(self, url: str, info: str, *, lag: float | None = None,
                 retry_after: float | None = None, attempts: int = 1) -> None:
        self.lag = lag
        self.retry_after = retry_after
        super().__init__(url, "maxlag", info, attempts=attempts)


class BadAnswer(MediaWikiError):
    """The answer is not JSON, or lacks what every MediaWiki answer of its kind has."""


class NoApiFound(MediaWikiError):
    """The page does not advertise an api.php (no <link rel="EditURI">)."""


class Unsupported(MediaWikiError):
    """The wiki does not offer a feature the caller asked for."""


class PageMissing(MediaWikiError):
    """The page (or revision) asked for does not exist on the wiki."""
