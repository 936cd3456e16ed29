"""Links: resolving hrefs to absolute http(s) URLs, and making Link records quickly."""

from __future__ import annotations

import re
from collections import deque
from itertools import repeat
from urllib.parse import urljoin, urlsplit

from scraper.models import Link
from scraper.parse.html import Head

# Link is a frozen dataclass, whose __init__ goes through object.__setattr__ for each
# field; an article has thousands of links, so they are made by filling the slots
# directly. The result is an ordinary, equal Link.
_new_object = object.__new__
_set_url = getattr(Link, "url").__set__  # noqa: B009 (the slot's descriptor, not a value)
_set_title = getattr(Link, "title").__set__  # noqa: B009
_set_kind = getattr(Link, "kind").__set__  # noqa: B009


def new_link(url: str, title: str, kind: str) -> Link:
    link = _new_object(Link)
    _set_url(link, url)
    _set_title(link, title)
    _set_kind(link, kind)
    return link


def new_links(urls: list[str], titles: list[str], kinds: list[str]) -> list[Link]:
    """Links made from three columns, the slots filled by C loops (no bytecode per link)."""
    links: list[Link] = list(map(_new_object, repeat(Link, len(urls))))
    deque(map(_set_url, links, urls), 0)
    deque(map(_set_title, links, titles), 0)
    deque(map(_set_kind, links, kinds), 0)
    return links


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_JUNK = str.maketrans("", "", "\t\n\r")


def _has_host(url: str) -> bool:
    """An absolute http(s) URL with something where its host goes."""
    at = url.find("//") + 2
    return len(url) > at and url[at] not in "/?#"


class Resolver:
    """Resolves hrefs against a base URL; fast paths for the common forms, urljoin otherwise.

    Only http(s) results are returned; fragments are dropped; None means "not a link to
    follow" (fragment-only, another scheme, unparseable).
    """

    __slots__ = ("base", "directory", "host", "no_query", "origin", "scheme")

    def __init__(self, base: str) -> None:
        self.base = base
        try:
            parts = urlsplit(base)
        except ValueError:
            parts = urlsplit("")
        self.scheme = parts.scheme.lower()
        self.host = (parts.hostname or "").lower() if self.scheme in ("http", "https") else ""
        if self.host:
            self.origin = f"{self.scheme}://{parts.netloc}"
            path = parts.path or "/"
            self.directory = self.origin + path[: path.rfind("/") + 1]
            self.no_query = self.origin + path
        else:
            self.origin = self.directory = self.no_query = ""

    def resolve(self, href: str | None) -> str | None:
        if not href:
            return None
        if href[0] <= " " or href[-1] <= " ":
            href = href.strip(" \t\n\r\f\x00")
            if not href:
                return None
        if "\n" in href or "\t" in href or "\r" in href:
            href = href.translate(_URL_JUNK)
        first = href[0]
        url: str | None
        if first == "#":
            return None
        if first == ".":
            if href.startswith("./") and "/." not in href and self.host:
                url = self.directory + href[2:]
            else:
                url = self._join(href) if self.host else None
        elif first == "/":
            if href.startswith("//"):
                if len(href) < 3 or href[2] in "/?#":
                    return None
                url = ("http:" if self.scheme == "http" else "https:") + href
            elif not self.host:
                return None
            elif "/." in href:
                url = self._join(href)
            else:
                url = self.origin + href
        elif href.startswith(("http://", "https://")):
            url = href if _has_host(href) else None
        else:
            match = _SCHEME.match(href)
            if match:
                scheme = match.group(1).lower()
                if scheme not in ("http", "https"):
                    return None
                rest = href[len(scheme) + 1:]
                if rest.startswith("//"):
                    url = scheme + ":" + rest if _has_host(scheme + ":" + rest) else None
                else:
                    url = self._join(href) if self.host else None
            elif not self.host:
                return None
            elif first == "?":
                url = self.no_query + href
            elif "./" in href:
                url = self._join(href)
            else:
                url = self.directory + href
        if url is None:
            return None
        if "#" in url:
            url = url[: url.index("#")]
        if "[" in url:  # an IPv6 host: make sure the URL can be split at all
            try:
                urlsplit(url)
            except ValueError:
                return None
        return url

    def _join(self, href: str) -> str | None:
        try:
            url = urljoin(self.base, href)
        except ValueError:
            return None
        return url if url.startswith(("http://", "https://")) else None

    def host_of(self, url: str) -> str:
        """The lower-cased host of an http(s) URL made by resolve()."""
        parts = url.split("/", 3)  # "https:", "", netloc, path
        netloc = parts[2] if len(parts) > 2 else ""
        if "?" in netloc:
            netloc = netloc.split("?", 1)[0]
        if "@" in netloc:
            netloc = netloc.rsplit("@", 1)[1]
        if netloc.startswith("["):
            return netloc[: netloc.find("]") + 1].lower()
        if ":" in netloc:
            netloc = netloc.split(":", 1)[0]
        return netloc.lower()


def page_base(head: Head, url: str) -> str:
    """The base URL for links: <base href> resolved against the page URL, else the page URL.

    A page read from a file (a non-http URL) uses its canonical link when it has one.
    """
    base = url
    href = head.base_href
    if href:
        if href.startswith("//"):
            scheme = url.split(":", 1)[0].lower() if "://" in url else ""
            base = (scheme if scheme in ("http", "https") else "https") + ":" + href
        else:
            try:
                base = urljoin(url, href) or url
            except ValueError:
                base = url
    if not base.startswith(("http://", "https://")):
        for value in (head.link("canonical"), head.first("og:url")):
            if value.startswith(("http://", "https://")):
                return value
    return base
