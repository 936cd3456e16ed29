"""The built-in site's sitemaps (its `sitemaps` switch, off by default): /sitemap.xml is a
sitemap index of gzip children (/sitemaps/topics-1.xml.gz, ...), each listing up to
TOPICS_PER_SITEMAP articles with their last edit as lastmod, so that an edit moves the
lastmod of that article alone; robots.txt names the index in a `Sitemap:` line."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote
from xml.sax.saxutils import escape

from scraper.testsite.content import info_path
from scraper.testsite.hosts import page_owner
from scraper.testsite.protocol import Reply

if TYPE_CHECKING:
    from scraper.testsite.app import SiteApp

INDEX_PATH = "/sitemap.xml"
CHILD_PREFIX = "/sitemaps/topics-"
CHILD_SUFFIX = ".xml.gz"
TOPICS_PER_SITEMAP = 50
_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_XML = b"Content-Type: application/xml\r\nCache-Control: no-cache\r\n"
_GZIP = b"Content-Type: application/gzip\r\nCache-Control: no-cache\r\n"


def robots_sitemap_lines(app: SiteApp) -> bytes:
    """What robots.txt adds when the switch is on: the index, on this site's first host."""
    if not app.sitemaps or not app.base_url:
        return b""
    return f"Sitemap: {app.base_url}{INDEX_PATH}\n".encode()


def sitemap_reply(app: SiteApp, path: str) -> Reply | None:
    """The answer for a sitemap path, or None when `path` is none (or the switch is off).
    KeyError for a child sitemap that does not exist (the site's 404)."""
    if not app.sitemaps:
        return None
    if path == INDEX_PATH:
        return Reply(200, render_index(app), _XML)
    if path.startswith(CHILD_PREFIX) and path.endswith(CHILD_SUFFIX):
        number = path[len(CHILD_PREFIX):-len(CHILD_SUFFIX)]
        if not number.isdigit():
            raise KeyError(path)
        # mtime 0: the same sitemap is the same bytes.
        return Reply(200, gzip.compress(render_child(app, int(number)), mtime=0), _GZIP)
    return None


def children(app: SiteApp) -> list[tuple[str, ...]]:
    """The topic slugs of each child sitemap, in site order."""
    slugs = app.model.slugs
    return [slugs[i:i + TOPICS_PER_SITEMAP] for i in range(0, len(slugs), TOPICS_PER_SITEMAP)]


def render_index(app: SiteApp) -> bytes:
    lines = [f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{_NS}">']
    for number, slugs in enumerate(children(app), start=1):
        newest = max(app.model.topic(s).revised_at for s in slugs)
        lines.append(f"<sitemap><loc>{app.base_url}{CHILD_PREFIX}{number}{CHILD_SUFFIX}</loc>"
                     f"<lastmod>{_w3c(newest)}</lastmod></sitemap>")
    lines.append("</sitemapindex>\n")
    return "\n".join(lines).encode()


def render_child(app: SiteApp, number: int) -> bytes:
    """Child sitemap `number` (1-based). KeyError past the last."""
    groups = children(app)
    if not 1 <= number <= len(groups):
        raise KeyError(f"no sitemap {number}")
    model = app.model
    lines = [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{_NS}">']
    for slug in groups[number - 1]:
        path = info_path(slug)
        # An article lives on its own host when the site serves several.
        owner = page_owner(model, unquote(path), len(app.origins)) if app.origins else None
        origin = app.base_url if owner is None else app.origins[owner]
        lines.append(f"<url><loc>{escape(origin + path)}</loc>"
                     f"<lastmod>{_w3c(model.topic(slug).revised_at)}</lastmod></url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


def _w3c(unix_time: int) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat().replace("+00:00", "Z")
