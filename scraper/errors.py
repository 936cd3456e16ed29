"""The exception hierarchy of the scraper package.

    ScraperError
    ├── ConfigError            a config file is refused (path, line, key)
    ├── FetchError             one URL could not be fetched (url)
    │   ├── FetchTimeout
    │   ├── HostUnreachable    no connection to the host (refused, no such name, robots.txt)
    │   ├── HTTPStatusError    an answer whose status is an error (status)
    │   ├── BodyTooLarge       body or decompressed size over the cap
    │   ├── RedirectError      too many redirects, or a loop
    │   ├── BlockedURL         scheme, address, robots.txt or scope refuses it
    │   │   └── RobotsDisallowed   robots.txt disallows it
    │   └── SkippedContent     a content type the crawl does not archive
    ├── ParseError             a page could not be parsed (url, selector)
    ├── ArchiveError           the archive database is unusable (db_path)
    │   ├── ArchiveLocked      another run holds the archive
    │   ├── SchemaVersionError the archive was made by another schema version
    │   └── NotArchived        no such page or version in the archive (url)
    └── ExportError            an export could not be written (path)

A URL's failure is a FetchError or a ParseError (`PageFailure`): both carry the URL, a
`reason` a person understands and the attempts made.

The library raises these and never prints or exits; `scraper.cli` turns them into
messages and exit codes.
"""

from __future__ import annotations


class ScraperError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ScraperError):
    """A config is refused. The message reads `path:line: key: what is wrong`."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        prefix = f"{key}: " if key else ""
        super().__init__(f"{where}{prefix}{message}")


class FetchError(ScraperError):
    """One URL could not be fetched; `reason` is a sentence a person understands."""

    def __init__(self, url: str, reason: str, *, attempts: int = 1) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"{url}: {reason}")


class FetchTimeout(FetchError):
    """Connect, read or total time ran out."""


class HostUnreachable(FetchError):
    """The host could not be reached at all: connection refused, a name that does not
    resolve, a connect timeout, or a robots.txt that could not be read. Retried on the
    failure back-off, never postponed to the next recrawl."""

    def __init__(self, url: str, reason: str, *, host: str, attempts: int = 1) -> None:
        self.host = host
        super().__init__(url, reason, attempts=attempts)


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, reason: str | None = None, *,
                 attempts: int = 1) -> None:
        self.status = status
        super().__init__(url, reason or f"HTTP {status}", attempts=attempts)


class BodyTooLarge(FetchError):
    """The body, or its decompressed form, is over the configured cap."""


class RedirectError(FetchError):
    """A redirect loop, or more redirects than allowed."""


class BlockedURL(FetchError):
    """Refused before any connection: scheme, address, robots.txt or scope."""


class RobotsDisallowed(BlockedURL):
    """robots.txt disallows the URL: the site's wish, checked again at the next recrawl
    (the other refusals are the config's, and a fixed config must not wait that long)."""


class SkippedContent(FetchError):
    """A content type (or a body) that the crawl records but does not archive."""


class ParseError(ScraperError):
    """A page could not be parsed at all."""

    attempts = 1  # read with a FetchError's when recorded as the URL's failure

    def __init__(self, url: str, reason: str, *, selector: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.selector = selector
        super().__init__(f"{url}: {reason}" + (f" (selector {selector!r})" if selector else ""))


class ArchiveError(ScraperError):
    """The archive database cannot be used as asked."""

    def __init__(self, db_path: str, reason: str) -> None:
        self.db_path = db_path
        self.reason = reason
        super().__init__(f"{db_path}: {reason}")


class ArchiveLocked(ArchiveError):
    """Another crawl holds the archive's lock."""


class SchemaVersionError(ArchiveError):
    """The archive's schema version is not one this release can read or upgrade."""


class NotArchived(ArchiveError):
    """The archive holds no such page, or no such version of it (scraper serve answers 404)."""

    def __init__(self, db_path: str, url: str, reason: str) -> None:
        self.url = url
        super().__init__(db_path, f"{url}: {reason}")


class ClaimLost(ScraperError):
    """A worker's claim on a URL ran out and another worker holds it now: what this one
    fetched is not written (the holder's fetch is)."""

    def __init__(self, url: str, holder: int | None = None) -> None:
        self.url = url
        self.holder = holder  # the worker that holds it now, when known
        who = "another worker" if holder is None else f"worker {holder}"
        super().__init__(f"{url}: the claim on it was lost to {who}; not written")


class ExportError(ScraperError):
    """An export could not be written."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


PageFailure = FetchError | ParseError
