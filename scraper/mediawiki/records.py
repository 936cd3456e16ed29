"""Frozen records of what a MediaWiki's Action and REST APIs report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin

from scraper.models import RevisionMeta

__all__ = [
    "Comparison",
    "DiffLine",
    "PageRef",
    "PageState",
    "ParsedRevision",
    "RecentChange",
    "RestPage",
    "RevisionMeta",
    "SiteInfo",
    "TitleLookup",
    "title_to_path",
]


_VERSION = re.compile(r"(\d+(?:\.\d+)*)")


def title_to_path(title: str) -> str:
    """A title as MediaWiki writes it in URLs: spaces as underscores, UTF-8 percent-encoded."""
    # MediaWiki's wfUrlencode() leaves exactly these unescaped (the apostrophe is escaped).
    return quote(title.replace(" ", "_"), safe="/:(),!*;@$~")


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """meta=siteinfo: the wiki's name, version, URL layout and extensions."""

    api_url: str
    sitename: str
    generator: str  # "MediaWiki 1.39.17"
    server: str  # absolute, e.g. "http://127.0.0.1:8080" (protocol-relative made absolute)
    article_path: str  # "/wiki/$1"
    script: str  # "/index.php"
    main_page: str  # title of the main page
    lang: str = "en"
    extensions: tuple[str, ...] = ()
    rest_url: str | None = None  # ".../rest.php/v1" when the wiki has rest.php (1.35+)

    @property
    def version(self) -> tuple[int, ...]:
        """The MediaWiki version as numbers, e.g. (1, 39, 17); () when unknown."""
        match = _VERSION.search(self.generator)
        return tuple(int(n) for n in match.group(1).split(".")) if match else ()

    def has_extension(self, name: str) -> bool:
        return name.lower() in (e.lower() for e in self.extensions)

    @property
    def index_url(self) -> str:
        return urljoin(self.server + "/", self.script)

    def page_url(self, title: str) -> str:
        """The article URL of a title (the wiki's own form, e.g. /wiki/Cold_War)."""
        return self.server + self.article_path.replace("$1", title_to_path(title))

    def revision_url(self, title: str, revid: int) -> str:
        """index.php?title=T&oldid=N: the full page view of one revision (skin, RLCONF with
        wgRevisionId = N), which the mediawiki HTML parser reads."""
        return f"{self.index_url}?{urlencode({'title': title.replace(' ', '_'), 'oldid': revid})}"


@dataclass(frozen=True, slots=True)
class PageRef:
    """A page named by an enumeration (list=allpages, categorymembers, links)."""

    title: str
    ns: int = 0
    page_id: int | None = None


@dataclass(frozen=True, slots=True)
class PageState:
    """prop=info|revisions for one existing page: its current revision and metadata."""

    title: str
    ns: int
    page_id: int
    revision: RevisionMeta  # the current (latest) revision
    touched: str | None = None  # page_touched: moves when templates or links change, too
    length: int | None = None  # bytes of wikitext
    content_model: str | None = None
    redirect: bool = False  # the page itself is a redirect (only without redirects=1)
    sha1: str | None = None  # of the revision's content
    url: str | None = None  # the canonical page URL the wiki gives (inprop=url)

    @property
    def revision_id(self) -> int:
        return self.revision.revision_id


@dataclass(frozen=True, slots=True)
class TitleLookup:
    """The answer of a page-info query for many titles, with how each title was resolved.

    `normalized` and `redirects` map the title asked for to the one MediaWiki used
    ("north_atlantic treaty" -> "North atlantic treaty"; "NATO" -> "North Atlantic Treaty
    Organization"); `resolve()` follows both. Missing and invalid titles are listed apart.
    """

    pages: tuple[PageState, ...] = ()
    normalized: tuple[tuple[str, str], ...] = ()
    redirects: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    invalid: tuple[tuple[str, str], ...] = ()  # (title, reason)
    missing_ids: tuple[int, ...] = ()  # page ids asked for that do not exist

    def resolve(self, title: str) -> str:
        """The title MediaWiki answered for `title`, after normalisation and redirects."""
        norm = dict(self.normalized)
        redir = dict(self.redirects)
        current = norm.get(title, title)
        seen = {current}
        while current in redir:
            current = redir[current]
            if current in seen:  # a redirect loop: stop where it closes
                break
            seen.add(current)
        return current

    def get(self, title: str) -> PageState | None:
        """The page `title` leads to, or None when it is missing or invalid."""
        final = self.resolve(title)
        for page in self.pages:
            if page.title == final:
                return page
        return None

    def merged(self, other: TitleLookup) -> TitleLookup:
        """Both answers together; a page found twice (by title and by id) is kept once."""
        ids = {page.page_id for page in self.pages}
        return TitleLookup(
            pages=self.pages + tuple(p for p in other.pages if p.page_id not in ids),
            normalized=self.normalized + other.normalized,
            redirects=self.redirects + other.redirects,
            missing=self.missing + other.missing,
            invalid=self.invalid + other.invalid,
            missing_ids=self.missing_ids + other.missing_ids,
        )


@dataclass(frozen=True, slots=True)
class RecentChange:
    """One list=recentchanges row: an edit, a page creation or a log event (move, delete...)."""

    rcid: int
    type: str  # "edit" | "new" | "log" | "categorize" | "external"
    title: str
    ns: int
    timestamp: str  # ISO 8601 as the wiki gives it, e.g. 2024-01-10T10:00:00Z
    page_id: int | None = None
    revid: int | None = None  # 0 from the wiki becomes None (log events)
    old_revid: int | None = None
    user: str | None = None
    comment: str | None = None
    log_type: str | None = None  # "move", "delete", "upload", "protect", ...
    log_action: str | None = None  # "move", "move_redir", "delete", "restore", ...
    move_target: str | None = None  # the new title of a move
    move_left_redirect: bool | None = None  # a move that kept the old title as a redirect
    minor: bool = False
    bot: bool = False
    old_length: int | None = None
    new_length: int | None = None

    @property
    def is_move(self) -> bool:
        return self.log_type == "move"

    @property
    def is_delete(self) -> bool:
        return self.log_type == "delete" and self.log_action in ("delete", "delete_redir")

    @property
    def is_restore(self) -> bool:
        return self.log_type == "delete" and self.log_action == "restore"

    @property
    def is_revision(self) -> bool:
        """An edit or a creation: the page has a new revision `revid`."""
        return self.type in ("edit", "new") and self.revid is not None


@dataclass(frozen=True, slots=True)
class ParsedRevision:
    """action=parse&oldid=N: the rendered content of one revision (no skin around it)."""

    revid: int
    title: str
    page_id: int | None
    display_title: str  # plain text of the display title
    html: str  # <div class="mw-parser-output">...</div>
    categories: tuple[str, ...] = ()  # names without "Category:", spaces not underscores
    hidden_categories: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # titles of existing pages in the main namespace it links to
    sections: tuple[str, ...] = ()  # headline texts in order


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One changed row of a MediaWiki diff table (wikitext lines)."""

    old: str | None  # the line before (None: an added line)
    new: str | None  # the line after (None: a removed line)
    removed: tuple[str, ...] = ()  # inline fragments marked <del class="diffchange">
    added: tuple[str, ...] = ()  # inline fragments marked <ins class="diffchange">


@dataclass(frozen=True, slots=True)
class Comparison:
    """action=compare between two revisions."""

    from_revid: int
    to_revid: int
    from_title: str
    to_title: str
    diff_html: str  # the <tr> rows MediaWiki renders
    lines: tuple[DiffLine, ...] = ()
    from_timestamp: str | None = None
    to_timestamp: str | None = None
    from_user: str | None = None
    to_user: str | None = None
    to_comment: str | None = None

    @property
    def added_lines(self) -> tuple[str, ...]:
        return tuple(ln.new for ln in self.lines if ln.new is not None and ln.old is None)

    @property
    def removed_lines(self) -> tuple[str, ...]:
        return tuple(ln.old for ln in self.lines if ln.old is not None and ln.new is None)

    @property
    def added_fragments(self) -> tuple[str, ...]:
        """Every inserted piece of text (inline insertions and whole added lines)."""
        return tuple(f for ln in self.lines for f in ln.added)

    @property
    def removed_fragments(self) -> tuple[str, ...]:
        return tuple(f for ln in self.lines for f in ln.removed)


@dataclass(frozen=True, slots=True)
class RestPage:
    """REST /v1/page/{title}/bare: a page's id and latest revision."""

    page_id: int
    key: str  # the title with underscores
    title: str
    latest_revid: int
    latest_timestamp: str
    content_model: str | None = None
    etag: str | None = None
    last_modified: str | None = None
