"""Links added, removed and retitled between two versions, a link known by what it points to.

A MediaWiki red link (a page not written yet) is the edit view of that page,
"/w/index.php?title=Foo&action=edit&redlink=1"; once the page is written the same link is
"/wiki/Foo". The mediawiki parser stores red links as the article URL (since parser 1.1.0;
before, it left them out), but other records hold the edit URL (the generic parser keeps every
href as it is): compared as they stand, a link turning blue would show as one link removed and
another added. Here a red link is the link to the article it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from scraper.models import Link

# A parser keeps one link per URL, under its most specific kind; these are the kinds a link
# falls back to when it loses the specific one.
CATCH_ALL_KINDS = frozenset({"internal", "external"})

LinkDiff = tuple[tuple[Link, ...], tuple[Link, ...], tuple[tuple[Link, Link], ...]]


def diff_links(old: Sequence[Link], new: Sequence[Link]) -> LinkDiff:
    """(added, removed, retitled): links keyed by kind and target, the first anchor text of a
    target linked twice being the one compared."""
    target = link_targets(old, new)
    old_by = _first_by_key(old, target)
    new_by = _first_by_key(new, target)
    # When a "See also" link goes, the same URL linked in the text surfaces as internal:
    # such a catch-all link to a target the other side links too is no news.
    old_targets = {key[1] for key in old_by}
    new_targets = {key[1] for key in new_by}
    added = tuple(link for key, link in new_by.items() if key not in old_by
                  and not (link.kind in CATCH_ALL_KINDS and key[1] in old_targets))
    removed = tuple(link for key, link in old_by.items() if key not in new_by
                    and not (link.kind in CATCH_ALL_KINDS and key[1] in new_targets))
    # A red link's title is no anchor text to compare (it may say the page does not exist).
    retitled = tuple((old_by[key], link) for key, link in new_by.items()
                     if key in old_by and old_by[key].title != link.title
                     and old_by[key].url == link.url)
    return added, removed, retitled


def _first_by_key(links: Iterable[Link], target: Callable[[str], str]
                  ) -> dict[tuple[str, str], Link]:
    out: dict[tuple[str, str], Link] = {}
    if target is _same:  # (no call per link: pages have thousands)
        for link in links:
            out.setdefault((link.kind, link.url), link)
        return out
    for link in links:
        out.setdefault((link.kind, target(link.url)), link)
    return out


def _same(url: str) -> str:
    return url


def link_targets(*sides: Sequence[Link]) -> Callable[[str], str]:
    """A function giving each URL of the links what it points to: the URL itself, but for a
    red link the URL of the article it names (as the links of either side spell it; a red
    link to a page neither side links otherwise is named by its host and title)."""
    if not any("redlink=" in link.url for links in sides for link in links):
        return _same  # (the usual case, at the cost of one substring test per link)
    articles: dict[tuple[str, str], tuple[int, str]] = {}
    for links in sides:
        for link in links:
            if "?" not in link.url:
                _index_article(articles, link.url)
            elif red_link_title(link.url) == (_origin(link.url), ""):
                _index_article(articles, link.url.split("?", 1)[0])  # its path is the article

    def target(url: str) -> str:
        red = red_link_title(url)
        if red is None:
            return url
        origin, title = red
        if not title:  # "/wiki/Foo?action=edit&redlink=1": the article is the path
            return url.split("?", 1)[0]
        found = articles.get((origin, title))
        return found[1] if found else f"{origin} red link {title}"

    return target


def _index_article(articles: dict[tuple[str, str], tuple[int, str]], url: str) -> None:
    """Index `url` under each title its path may end with ("wiki/A/B", "A/B", "B" for
    /wiki/A/B): the article path is not known here. Of URLs ending alike, the one with the
    shortest path (the article path, not a subpage) answers."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    origin = _origin(url)
    path = unquote(parts.path)
    depth = path.count("/")
    at = path.find("/")
    while at >= 0:
        title = _title_key(path[at + 1:])
        if title:
            key = (origin, title)
            if key not in articles or articles[key][0] > depth:
                articles[key] = (depth, url)
        at = path.find("/", at + 1)


def red_link_title(url: str) -> tuple[str, str] | None:
    """(origin, title) of a red link URL (redlink=1 in its query); the title is "" when the
    URL names the page by its path. None for any other URL."""
    if "redlink=" not in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    params = parse_qsl(parts.query, keep_blank_values=True)
    if ("redlink", "1") not in params:
        return None
    title = next((value for name, value in params if name == "title"), "")
    return _origin(url), _title_key(title)


def _origin(url: str) -> str:
    """scheme://host[:port] of an absolute URL, in lower case."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}".lower()


def _title_key(title: str) -> str:
    return title.replace("_", " ").strip()
