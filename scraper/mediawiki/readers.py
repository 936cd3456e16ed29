"""Pure readers of MediaWiki API answers (decoded JSON in, typed records out; no I/O)."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.errors import ParseError
from scraper.mediawiki.errors import BadAnswer
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
from scraper.models import Page, RevisionMeta
from scraper.parse.bounds import check_markup_bounds

__all__ = [
    "find_api_url",
    "first_paragraph",
    "read_compare",
    "read_diff_rows",
    "read_mobileview",
    "read_page_refs",
    "read_parse",
    "read_recent_changes",
    "read_rest_page",
    "read_rest_summary",
    "read_revision",
    "read_siteinfo",
    "read_title_lookup",
    "strip_tags",
]

READER_VERSION = "1"
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# Stands in for a page's address when the caller gives none, and is cut off again.
_PLACEHOLDER = "http://mediawiki.invalid"

JSON = Mapping[str, Any]


def strip_tags(markup: str) -> str:
    """The text of a small HTML fragment (display titles, section lines)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", markup))).strip()


def first_paragraph(extract: str) -> str:
    """The first non-empty paragraph of a TextExtracts plain-text extract (paragraphs are
    separated by newlines there)."""
    for para in extract.split("\n"):
        if para.strip():
            return para.strip()
    return ""


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number


def _nonzero(value: Any) -> int | None:
    number = _opt_int(value)
    return number if number else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _need(data: JSON, key: str, url: str, what: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise BadAnswer(url, f"{what}: no {key!r} in the answer") from None


# --- discovery and siteinfo --------------------------------------------------------------------

def find_api_url(body: bytes | str, base_url: str) -> str | None:
    """The api.php URL a MediaWiki page advertises, or None when it advertises none.

    Reads `<link rel="EditURI" href=".../api.php?action=rsd">` (every MediaWiki since 1.13);
    failing that, the `<link rel="alternate" type="application/x-wiki">` edit link's index.php.
    """
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    try:
        check_markup_bounds(text, base_url)
    except ParseError:
        return None  # a page the parser would not finish advertises nothing readable
    tree = LexborHTMLParser(text)
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        href = link.attributes.get("href") or ""
        if "edituri" in rels and href:
            parts = urlsplit(urljoin(base_url, href))
            return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        href = link.attributes.get("href") or ""
        if ("alternate" in rels and link.attributes.get("type") == "application/x-wiki"
                and "index.php" in href):
            parts = urlsplit(urljoin(base_url, href))
            path = parts.path.rsplit("index.php", 1)[0] + "api.php"
            return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return None


def read_siteinfo(data: JSON, api_url: str) -> SiteInfo:
    """meta=siteinfo&siprop=general|extensions."""
    query = _need(data, "query", api_url, "siteinfo")
    general = _need(query, "general", api_url, "siteinfo")
    scheme = urlsplit(api_url).scheme or "https"
    server = str(general.get("server") or "")
    if server.startswith("//"):
        server = f"{scheme}:{server}"
    if not server:
        parts = urlsplit(api_url)
        server = f"{parts.scheme}://{parts.netloc}"
    extensions = tuple(str(e["name"]) for e in query.get("extensions", ()) if "name" in e)
    info = SiteInfo(
        api_url=api_url,
        sitename=str(general.get("sitename", "")),
        generator=str(general.get("generator", "")),
        server=server.rstrip("/"),
        article_path=str(general.get("articlepath") or "/index.php?title=$1"),
        script=str(general.get("script") or "/index.php"),
        main_page=str(general.get("mainpage", "Main Page")),
        lang=str(general.get("lang", "en")),
        extensions=extensions,
    )
    if info.version >= (1, 35):
        info = dataclasses.replace(
            info, rest_url=f"{info.server}{general.get('scriptpath', '')}/rest.php/v1")
    return info


# --- pages, revisions and enumerations --------------------------------------------------------

def read_revision(rev: JSON, page_id: int | None = None) -> RevisionMeta:
    """One revision object of prop=revisions (hidden user or comment becomes None)."""
    return RevisionMeta(
        revision_id=int(rev["revid"]),
        timestamp=_opt_str(rev.get("timestamp")),
        user=None if rev.get("userhidden") else _opt_str(rev.get("user")),
        comment=None if rev.get("commenthidden") else _opt_str(rev.get("comment")),
        page_id=page_id,
        parent_id=_opt_int(rev.get("parentid")),
    )


def read_title_lookup(query: JSON, url: str = "") -> TitleLookup:
    """The `query` part of prop=info|revisions for a batch of titles (formatversion=2)."""
    pages: list[PageState] = []
    missing: list[str] = []
    invalid: list[tuple[str, str]] = []
    missing_ids: list[int] = []
    for page in query.get("pages", ()):
        title = str(page.get("title", ""))
        if page.get("missing") and "title" not in page and "pageid" in page:
            missing_ids.append(int(page["pageid"]))
            continue
        if page.get("invalid"):
            invalid.append((title, str(page.get("invalidreason", "invalid title"))))
            continue
        if page.get("special"):
            invalid.append((title, "a special page (it has no revisions)"))
            continue
        if page.get("missing") or "pageid" not in page:
            missing.append(title)
            continue
        revisions = page.get("revisions") or ()
        if not revisions:
            raise BadAnswer(url, f"page info for {title!r} has no revision (ask prop=revisions)")
        rev = revisions[0]
        page_id = int(page["pageid"])
        pages.append(PageState(
            title=title, ns=int(page.get("ns", 0)), page_id=page_id,
            revision=read_revision(rev, page_id),
            touched=_opt_str(page.get("touched")), length=_opt_int(page.get("length")),
            content_model=_opt_str(page.get("contentmodel")),
            redirect=bool(page.get("redirect", False)), sha1=_opt_str(rev.get("sha1")),
            url=_opt_str(page.get("canonicalurl")) or _opt_str(page.get("fullurl")),
        ))
    return TitleLookup(
        pages=tuple(pages),
        normalized=tuple((str(n["from"]), str(n["to"])) for n in query.get("normalized", ())),
        redirects=tuple((str(r["from"]), str(r["to"])) for r in query.get("redirects", ())),
        missing=tuple(missing),
        invalid=tuple(invalid),
        missing_ids=tuple(missing_ids),
    )


def read_page_refs(items: Iterable[JSON]) -> tuple[PageRef, ...]:
    """list=allpages / categorymembers items, or generator `pages` (missing ones dropped)."""
    refs = []
    for item in items:
        if item.get("missing") or item.get("invalid"):
            continue
        refs.append(PageRef(title=str(item["title"]), ns=int(item.get("ns", 0)),
                            page_id=_opt_int(item.get("pageid"))))
    return tuple(refs)


def read_recent_changes(items: Iterable[JSON]) -> tuple[RecentChange, ...]:
    """list=recentchanges rows (rcprop=title|ids|timestamp|user|comment|loginfo|flags|sizes)."""
    out = []
    for item in items:
        params = item.get("logparams") or {}
        target = params.get("target_title") if isinstance(params, Mapping) else None
        left_redirect = None
        if item.get("logtype") == "move" and isinstance(params, Mapping):
            left_redirect = not bool(params.get("suppressredirect", False))
        out.append(RecentChange(
            rcid=int(item.get("rcid", 0)),
            type=str(item.get("type", "")),
            title=str(item["title"]),
            ns=int(item.get("ns", 0)),
            timestamp=str(item.get("timestamp", "")),
            page_id=_nonzero(item.get("pageid")),
            revid=_nonzero(item.get("revid")),
            old_revid=_nonzero(item.get("old_revid")),
            user=None if item.get("userhidden") else _opt_str(item.get("user")),
            comment=None if item.get("commenthidden") else _opt_str(item.get("comment")),
            log_type=_opt_str(item.get("logtype")),
            log_action=_opt_str(item.get("logaction")),
            move_target=str(target) if target else None,
            move_left_redirect=left_redirect,
            minor=bool(item.get("minor", False)),
            bot=bool(item.get("bot", False)),
            old_length=_opt_int(item.get("oldlen")),
            new_length=_opt_int(item.get("newlen")),
        ))
    return tuple(out)


# --- rendered revisions and diffs -------------------------------------------------------------

def read_parse(data: JSON, url: str = "") -> ParsedRevision:
    """action=parse&oldid=N&prop=text|revid|displaytitle|categories|links|sections
    (formatversion=2)."""
    parse = _need(data, "parse", url, "action=parse")
    text = parse.get("text", "")
    if isinstance(text, Mapping):  # formatversion=1
        text = text.get("*", "")
    categories: list[str] = []
    hidden: list[str] = []
    for cat in parse.get("categories", ()):
        name = str(cat.get("category", cat.get("*", ""))).replace("_", " ")
        (hidden if "hidden" in cat and cat["hidden"] is not False else categories).append(name)
    links = tuple(str(ln["title"]) for ln in parse.get("links", ())
                  if int(ln.get("ns", 0)) == 0 and ln.get("exists", "exists" in ln))
    title = str(parse.get("title", ""))
    return ParsedRevision(
        revid=int(_need(parse, "revid", url, "action=parse")),
        title=title,
        page_id=_opt_int(parse.get("pageid")),
        display_title=strip_tags(str(parse.get("displaytitle") or title)),
        html=str(text),
        categories=tuple(categories),
        hidden_categories=tuple(hidden),
        links=links,
        sections=tuple(strip_tags(str(s.get("line", ""))) for s in parse.get("sections", ())),
    )


def _cell_text(cell: LexborNode) -> str:
    div = cell.css_first("div")
    text = (div if div is not None else cell).text(deep=True)
    # MediaWiki shows an empty line as a no-break space.
    return text if text.strip() else ""


def read_diff_rows(diff_html: str) -> tuple[DiffLine, ...]:
    """The changed rows of a MediaWiki diff table (the `body` of action=compare).

    Context rows are skipped. A changed line lists its inline <del>/<ins> fragments; a
    whole line added or removed is its own fragment.
    """
    check_markup_bounds(diff_html, "action=compare")
    tree = LexborHTMLParser(f"<table>{diff_html}</table>")
    lines = []
    for row in tree.css("tr"):
        deleted = row.css_first("td.diff-deletedline")
        added = row.css_first("td.diff-addedline")
        if deleted is None and added is None:
            continue
        old = _cell_text(deleted) if deleted is not None else None
        new = _cell_text(added) if added is not None else None
        if old is not None and new is not None:
            removed = tuple(n.text(deep=True) for n in deleted.css("del.diffchange")) \
                if deleted is not None else ()
            inserted = tuple(n.text(deep=True) for n in added.css("ins.diffchange")) \
                if added is not None else ()
        else:
            removed = (old,) if old is not None and old.strip() else ()
            inserted = (new,) if new is not None and new.strip() else ()
        lines.append(DiffLine(old=old, new=new, removed=removed, added=inserted))
    return tuple(lines)


def read_compare(data: JSON, url: str = "") -> Comparison:
    """action=compare&fromrev=A&torev=B&prop=diff|ids|title|user|comment|timestamp."""
    comp = _need(data, "compare", url, "action=compare")
    body = comp.get("body", comp.get("*", ""))
    try:
        lines = read_diff_rows(str(body))
    except ParseError as exc:
        raise BadAnswer(url, f"action=compare: {exc.reason}") from None
    return Comparison(
        from_revid=int(_need(comp, "fromrevid", url, "action=compare")),
        to_revid=int(_need(comp, "torevid", url, "action=compare")),
        from_title=str(comp.get("fromtitle", "")),
        to_title=str(comp.get("totitle", "")),
        diff_html=str(body),
        lines=lines,
        from_timestamp=_opt_str(comp.get("fromtimestamp")),
        to_timestamp=_opt_str(comp.get("totimestamp")),
        from_user=_opt_str(comp.get("fromuser")),
        to_user=_opt_str(comp.get("touser")),
        to_comment=_opt_str(comp.get("tocomment")),
    )


def read_rest_page(data: JSON, url: str = "", *, etag: str | None = None,
                   last_modified: str | None = None) -> RestPage:
    """REST /v1/page/{title}/bare."""
    latest = _need(data, "latest", url, "REST page")
    return RestPage(
        page_id=int(_need(data, "id", url, "REST page")),
        key=str(data.get("key", "")),
        title=str(data.get("title", "")),
        latest_revid=int(latest["id"]),
        latest_timestamp=str(latest.get("timestamp", "")),
        content_model=_opt_str(data.get("content_model")),
        etag=etag,
        last_modified=last_modified,
    )


# --- whole-page answers as Page records (golden-tested against the corpus) ---------------------

def read_rest_summary(data: JSON, url: str | None = None) -> Page:
    """A REST /page/summary answer (Wikimedia's Page Content Service) as a Page.

    The summary is the answer's plain `extract` as given; `revision` (a string there) becomes
    an int; the image is the thumbnail. A summary has no links or categories, and `text` is
    left empty because the answer carries only the lead.
    """
    where = url or "<rest summary>"
    titles = data.get("titles")
    if not isinstance(titles, Mapping):
        titles = {}
    title = str(titles.get("normalized") or data.get("title") or "").replace("_", " ").strip()
    if not title:
        raise ParseError(where, "REST summary answer without a title")
    urls = data.get("content_urls") or {}
    desktop = urls.get("desktop") if isinstance(urls, Mapping) else None
    canonical = _opt_str(desktop.get("page")) if isinstance(desktop, Mapping) else None
    thumb = data.get("thumbnail") or data.get("originalimage") or {}
    return Page(
        url=url or canonical or f"/wiki/{title_to_path(title)}",
        kind="article",
        title=title,
        canonical_url=canonical,
        summary=str(data.get("extract") or "").strip(),
        image=_opt_str(thumb.get("source")) if isinstance(thumb, Mapping) else None,
        revision_id=_opt_int(data.get("revision")),
        language=_opt_str(data.get("lang")),
        parser="mediawiki-rest-summary",
        parser_version=READER_VERSION,
    )


def _mobileview_html(sections: Iterable[JSON]) -> str:
    parts = []
    for section in sections:
        level = _opt_int(section.get("toclevel"))
        line = section.get("line")
        if level and line:
            tag = f"h{min(level + 1, 6)}"
            anchor = html.escape(str(section.get("anchor", "")), quote=True)
            parts.append(f'<{tag}><span class="mw-headline" id="{anchor}">{line}</span></{tag}>')
        parts.append(str(section.get("text", "")))
    return "\n".join(parts)


def read_mobileview(data: JSON, url: str | None = None) -> Page:
    """An action=mobileview answer (deprecated API, still in saved data) as a Page.

    The sections' HTML goes through the mediawiki HTML parser (so summary, links and infobox
    match what the HTML path extracts); the title, revision id (an int there) and the
    thumbnail (kept as given, protocol-relative) come from the JSON.
    """
    from scraper.parse import parse_page  # the parser package imports much; load on use

    view = data.get("mobileview", data)
    where = url or "<mobileview>"
    if not isinstance(view, Mapping):
        raise ParseError(where, "mobileview answer without a `mobileview` object")
    title = str(view.get("normalizedtitle") or strip_tags(str(view.get("displaytitle", ""))))
    if not title:
        raise ParseError(where, "mobileview answer without a title")
    sections = view.get("sections") or ()
    path = f"/wiki/{title_to_path(title)}"
    base = url or _PLACEHOLDER + path
    body = ('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
            '<div id="mw-content-text"><div class="mw-parser-output">'
            f"{_mobileview_html(sections)}</div></div></body></html>")
    page = parse_page(body.encode("utf-8"), base, parser="mediawiki")
    links = page.links
    if url is None:  # leave root-relative addresses rather than invent a host
        links = tuple(dataclasses.replace(ln, url=ln.url.removeprefix(_PLACEHOLDER))
                      for ln in links)
    thumb = view.get("thumb") or {}
    return dataclasses.replace(
        page,
        url=url or path,
        kind="article",
        title=title,
        canonical_url=url,
        links=links,
        image=(_opt_str(thumb.get("url")) if isinstance(thumb, Mapping) else None)
        or page.image,
        revision_id=_opt_int(view.get("revision")),
        parser="mediawiki-mobileview",
        parser_version=READER_VERSION,
    )
