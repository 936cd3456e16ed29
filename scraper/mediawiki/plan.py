"""Pure planning for the `source: mediawiki` crawl: titles and URLs, and what recentchanges asks."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from scraper.config import MediaWikiSource
from scraper.mediawiki.records import RecentChange, SiteInfo
from scraper.urls import normalise_url

__all__ = [
    "SELECTION_KEYS",
    "ChangePlan",
    "Move",
    "Revised",
    "article_url",
    "plan_changes",
    "rc_namespaces",
    "selection_changed",
    "statically_selected",
    "summary_from_extract",
    "title_from_url",
    "title_key",
    "view_url",
]

# The config keys that decide which pages a wiki crawl archives: when one of them changes
# between runs, the next run enumerates the selection again instead of asking only
# recentchanges.
SELECTION_KEYS = ("api", "titles", "categories", "category_depth", "allpages_prefix",
                  "allpages_namespace", "follow_links")
_SPACES = re.compile(r"[ _]+")


# --- titles and URLs ------------------------------------------------------------------------

def title_key(title: str) -> str:
    """A title as a wiki with first-letter case folding compares it: underscores as spaces,
    runs of spaces as one, the first letter upper case."""
    text = _SPACES.sub(" ", title).strip()
    return text[:1].upper() + text[1:]


def article_url(site: SiteInfo, title: str) -> str:
    """The URL a page is archived under: the wiki's own article URL (`/wiki/Title` form),
    normalised as the frontier normalises every URL."""
    return normalise_url(site.page_url(title))


def view_url(site: SiteInfo, title: str, revid: int, *, redirect: bool = False) -> str:
    """The full page view of one revision: the article URL with `?oldid=N` (index.php reads
    the revision from it). The article path is used rather than index.php because wikis'
    robots.txt commonly allow /wiki/ and disallow /w/. `redirect` adds `redirect=no`, so a
    redirect page shows itself rather than its target."""
    base = site.page_url(title)
    query: dict[str, str | int] = {"oldid": revid}
    if redirect:
        query["redirect"] = "no"
    return base + ("&" if "?" in base else "?") + urlencode(query)


def title_from_url(site: SiteInfo, url: str) -> str | None:
    """The title a URL of the wiki names (`/wiki/Cold_War`, `/index.php?title=Cold_War`), or
    None for a URL of another host or one that names no page."""
    parts = urlsplit(url)
    server = urlsplit(site.server)
    if (parts.hostname or "").lower() != (server.hostname or "").lower() or \
            _port(parts) != _port(server):
        return None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix, _, suffix = site.article_path.partition("$1")
    title: str | None = None
    if "?" not in prefix and parts.path.startswith(prefix) and parts.path.endswith(suffix):
        end = len(parts.path) - len(suffix)
        if end > len(prefix):
            title = unquote(parts.path[len(prefix):end])
    if title is None and "title" in query:
        title = query["title"]
    text = _SPACES.sub(" ", title or "").strip()
    return text or None


def _port(parts: Any) -> int:
    return int(parts.port or (443 if parts.scheme == "https" else 80))


def summary_from_extract(extract: str) -> str:
    """A TextExtracts plain-text extract in the form the parsers give summaries: paragraphs
    separated by a blank line (TextExtracts separates them by one newline)."""
    paragraphs = [p.strip() for p in extract.split("\n")]
    return "\n\n".join(p for p in paragraphs if p)


# --- which pages ----------------------------------------------------------------------------

def rc_namespaces(options: MediaWikiSource, start_titles: Sequence[str]) -> tuple[int, ...] | None:
    """The namespaces whose recent changes a run must read: the main one, unless a configured
    title or the allpages namespace reaches into another (None: all namespaces)."""
    if options.allpages_namespace not in (None, 0):
        return None
    if any(":" in title for title in (*options.titles, *start_titles)):
        return None
    return (0,)


def _bare(title: str, ns: int) -> str:
    return title.split(":", 1)[1] if ns != 0 and ":" in title else title


def statically_selected(title: str, ns: int, options: MediaWikiSource,
                        start_titles: Sequence[str]) -> bool:
    """Whether a page is selected by the parts of the config that need no request to check:
    the `titles` list, the start pages and `allpages_prefix`/`allpages_namespace`."""
    key = title_key(title)
    if key in {title_key(t) for t in (*options.titles, *start_titles)}:
        return True
    if options.allpages_prefix is None and options.allpages_namespace is None:
        return False
    if ns != (options.allpages_namespace or 0):
        return False
    prefix = options.allpages_prefix or ""
    if prefix:
        prefix = prefix.replace("_", " ")
        prefix = prefix[:1].upper() + prefix[1:]
    return _bare(key, ns).startswith(prefix)


def selection_changed(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The selection keys (config_to_dict form) that differ between two runs' configs."""
    changed = []
    if list(previous.get("start_urls") or ()) != list(current.get("start_urls") or ()):
        changed.append("start_urls")
    before = previous.get("mediawiki") or {}
    after = current.get("mediawiki") or {}
    for key in SELECTION_KEYS:
        if before.get(key) != after.get(key):
            changed.append(f"mediawiki.{key}")
    return changed


# --- what recentchanges reports -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Revised:
    """A page with a new revision: its title now (after later moves) and latest revision."""

    title: str
    ns: int
    revid: int
    page_id: int | None
    timestamp: str = ""  # of the latest revision, as the wiki gives it


@dataclass(frozen=True, slots=True)
class Move:
    old_title: str
    new_title: str
    page_id: int | None
    left_redirect: bool
    comment: str = ""
    revid: int | None = None  # the null revision the move made on the moved page


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What a run must look at, from the recentchanges rows since the last completed run."""

    revised: tuple[Revised, ...] = ()
    moves: tuple[Move, ...] = ()
    deleted: tuple[tuple[str, str], ...] = ()  # (title, the deletion's comment)
    restored: tuple[str, ...] = ()

    def titles(self) -> list[str]:
        """Every title whose page must be looked up, each once, in order met."""
        found = [r.title for r in self.revised]
        for move in self.moves:
            found += [move.old_title, move.new_title]
        found += [title for title, _ in self.deleted]
        found += list(self.restored)
        return list(dict.fromkeys(found))

    @property
    def empty(self) -> bool:
        return not (self.revised or self.moves or self.deleted or self.restored)


def plan_changes(changes: Iterable[RecentChange]) -> ChangePlan:
    """Fold recentchanges rows (oldest first) into what changed: the latest revision of each
    page under its final title (a later move renames the pages edited before it), moves in
    order, deletions and restorations."""
    revised: dict[int | str, Revised] = {}
    moves: list[Move] = []
    deleted: list[tuple[str, str]] = []
    restored: list[str] = []
    for change in changes:
        if change.is_revision and change.revid is not None:
            key: int | str = change.page_id if change.page_id is not None else change.title
            revised[key] = Revised(change.title, change.ns, change.revid, change.page_id,
                                   change.timestamp)
        elif change.is_move and change.move_target:
            move = Move(change.title, change.move_target, change.page_id,
                        bool(change.move_left_redirect), change.comment or "", change.revid)
            moves.append(move)
            for key, rev in list(revised.items()):
                same = (rev.page_id == move.page_id if move.page_id is not None
                        and rev.page_id is not None else rev.title == move.old_title)
                if same:
                    revised[key] = dataclasses.replace(rev, title=move.new_title)
        elif change.is_delete:
            deleted.append((change.title, change.comment or ""))
        elif change.is_restore:
            restored.append(change.title)
    return ChangePlan(tuple(revised.values()), tuple(moves), tuple(deleted), tuple(restored))
