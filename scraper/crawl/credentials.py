"""Which headers a config's `request:` settings add to a request for one URL: its headers,
cookies and auth for the config's own hosts (scope.domains, by default the start URLs'
hosts), nothing for any other host. No I/O.

The fetcher asks on every hop of every request (robots.txt included), so a redirect to
another host, or another host's robots.txt, carries none of them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from scraper.config import CrawlConfig, FileCookie, RequestSettings
from scraper.urls import url_in_domains

__all__ = ["SiteCredentials"]


@dataclass(frozen=True, slots=True)
class SiteCredentials:
    settings: RequestSettings
    domains: tuple[str, ...]  # a domain admits its subdomains, as scope.domains does
    # What every request to the config's hosts carries, made once (the fetcher asks on
    # every hop): the headers with auth, and the inline cookies.
    fixed_headers: tuple[tuple[str, str], ...]
    inline_cookies: tuple[str, ...]

    @classmethod
    def of(cls, cfg: CrawlConfig) -> SiteCredentials | None:
        """The config's credentials, or None when its `request:` block adds nothing."""
        settings = cfg.request
        if settings == RequestSettings():
            return None
        headers = [(name, value.reveal()) for name, value in settings.headers]
        if settings.basic is not None:
            pair = f"{settings.basic.user}:{settings.basic.password.reveal()}"
            headers.append(("Authorization",
                            "Basic " + base64.b64encode(pair.encode()).decode()))
        elif settings.bearer is not None:
            headers.append(("Authorization", "Bearer " + settings.bearer.reveal()))
        cookies = tuple(f"{name}={value.reveal()}" for name, value in settings.cookies)
        return cls(settings, cfg.scope.domains, tuple(headers), cookies)

    def __repr__(self) -> str:
        # The made headers hold secrets in the clear: never in a log line or traceback.
        return f"SiteCredentials(domains={self.domains!r}, ***)"

    def covers(self, url: str) -> bool:
        return url_in_domains(url, self.domains)

    def headers_for(self, url: str, jar: httpx.Cookies | None = None) -> dict[str, str]:
        """The headers to add to a request for `url` (none when its host is not the
        config's). A Cookie header of the request's own replaces the client's jar for that
        request, so the cookies the site set, in `jar` (the client's), are added to the
        configured ones."""
        if not self.covers(url):
            return {}
        headers = dict(self.fixed_headers)
        cookies = [*self.inline_cookies,
                   *(f"{c.name}={c.value.reveal()}" for c in self.settings.file_cookies
                     if _cookie_matches(c, url))]
        if cookies:
            if jar is not None:
                probe = httpx.Request("GET", url)
                jar.set_cookie_header(probe)
                if "cookie" in probe.headers:
                    cookies.append(probe.headers["cookie"])
            headers["Cookie"] = "; ".join(cookies)
        return headers


def _cookie_matches(cookie: FileCookie, url: str) -> bool:
    """RFC 6265's domain and path match, and `secure` cookies over https only."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if cookie.secure and parts.scheme != "https":
        return False
    if host != cookie.domain and not (cookie.subdomains and host.endswith("." + cookie.domain)):
        return False
    path = parts.path or "/"
    return (path == cookie.path or path.startswith(cookie.path.rstrip("/") + "/")
            or cookie.path == "/")
