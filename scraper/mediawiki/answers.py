"""Saved MediaWiki API answers as Pages, each read by the reader the wiki source uses.

A person who saved `api.php?action=parse&...`, a REST `/page/summary` answer or an old
`action=mobileview` answer and runs `scraper parse` on it wants the page it describes, not
the JSON read as if it were a web page. Which reader applies is told by the answer's content
(its top-level keys), never by a file name, since saved answers are named anything.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from scraper.errors import ParseError
from scraper.mediawiki.plan import summary_from_extract
from scraper.mediawiki.readers import (
    READER_VERSION,
    read_mobileview,
    read_parse,
    read_rest_summary,
)
from scraper.mediawiki.records import title_to_path
from scraper.models import Page

__all__ = ["ANSWER_KINDS", "answer_kind", "load_answer", "read_answer"]

JSON = Mapping[str, Any]

# What each kind is, for messages; the keys are the readers' parser names without the prefix.
ANSWER_KINDS = {
    "rest-summary": "a REST /page/summary answer",
    "parse": "an action=parse answer",
    "mobileview": "an action=mobileview answer",
    "query": "an action=query answer",
}
# Types of a Page Content Service summary (the REST answer carries `type` and `extract`).
_SUMMARY_TYPES = frozenset({"standard", "disambiguation", "mainpage", "no-extract"})
_BOMS = (b"\xef\xbb\xbf",)


def load_answer(body: bytes) -> JSON | None:
    """The JSON object in `body`, or None when the body is not one (HTML, text, a list)."""
    for bom in _BOMS:
        body = body.removeprefix(bom)
    if body.lstrip()[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def answer_kind(data: JSON) -> str | None:
    """Which MediaWiki answer `data` is (a key of ANSWER_KINDS), or None for other JSON."""
    if isinstance(data.get("parse"), Mapping):
        return "parse"
    if isinstance(data.get("mobileview"), Mapping):
        return "mobileview"
    query = data.get("query")
    if isinstance(query, Mapping) and isinstance(query.get("pages"), (Mapping, list)):
        return "query"
    if data.get("type") in _SUMMARY_TYPES and ("extract" in data or "titles" in data):
        return "rest-summary"
    if isinstance(data.get("error"), Mapping) and "code" in data["error"]:
        return "error"
    return None


def read_answer(data: JSON, url: str | None = None, *, title: str | None = None) -> Page:
    """A saved answer as a Page. `url` is where the page lives (links resolve against it);
    `title` picks one page of an action=query answer that holds several.

    Raises ParseError, naming `url` (or the kind of answer), for an API error answer, JSON
    that is no MediaWiki answer, or a query answer whose page cannot be told.
    """
    kind = answer_kind(data)
    where = url or "<saved answer>"
    if kind == "error":
        error = data["error"]
        raise ParseError(where, f"the API answered an error: {error.get('code')}: "
                                f"{error.get('info', '')}".rstrip(": "))
    if kind == "rest-summary":
        return read_rest_summary(data, url)
    if kind == "mobileview":
        return read_mobileview(data, url)
    if kind == "parse":
        return read_parse_page(data, url)
    if kind == "query":
        return read_query_page(data, url, title=title)
    raise ParseError(where, "JSON that is no MediaWiki answer this tool reads (expected "
                            + ", ".join(ANSWER_KINDS.values()) + ")")


def read_parse_page(data: JSON, url: str | None = None) -> Page:
    """An action=parse answer (prop=text, with displaytitle, revid and categories when asked
    for): its HTML goes through the mediawiki parser, as a page view does in a wiki crawl."""
    parsed = read_parse(data, url or "")
    if not parsed.title:
        raise ParseError(url or "<action=parse>", "action=parse answer without a title")
    # The mobileview reader already wraps sections of article HTML into a page and keeps
    # addresses relative when no URL is known; a parse answer is one such section.
    as_view = {"mobileview": {"normalizedtitle": parsed.display_title or parsed.title,
                              "revision": parsed.revid,
                              "sections": [{"text": parsed.html}]}}
    page = read_mobileview(as_view, url)
    categories = parsed.categories or page.categories
    return dataclasses.replace(page, categories=categories, canonical_url=url,
                               parser="mediawiki-parse")


def _query_pages(query: JSON) -> list[JSON]:
    pages = query.get("pages")
    if isinstance(pages, Mapping):  # formatversion=1: keyed by page id ("-1" when missing)
        pages = list(pages.values())
    return [p for p in pages or () if isinstance(p, Mapping)]


def _pick(pages: Sequence[JSON], title: str | None, where: str) -> JSON:
    found = [p for p in pages if "missing" not in p and "invalid" not in p]
    if title is not None:
        wanted = title.replace("_", " ")
        found = [p for p in found if str(p.get("title", "")) == wanted]
    if len(found) == 1:
        return found[0]
    if not found:
        missing = ", ".join(repr(str(p.get("title", "?"))) for p in pages) or "none"
        raise ParseError(where, f"action=query answer has no page to read (pages: {missing})")
    titles = ", ".join(repr(str(p.get("title", "?"))) for p in found)
    raise ParseError(where, f"action=query answer holds {len(found)} pages ({titles}); "
                            "give the page's address with --url to pick one")


def _category_name(value: Any) -> str:
    name = str(value.get("title", "") if isinstance(value, Mapping) else value)
    # The namespace's name is localised (Category:, Kategorie:, ...); it is the part before
    # the first colon.
    return name.split(":", 1)[1] if ":" in name else name


def read_query_page(data: JSON, url: str | None = None, *, title: str | None = None) -> Page:
    """One page of an action=query answer: prop=extracts (TextExtracts, as the wiki source
    reads summaries), prop=revisions (the revision id), categories, pageimages, info."""
    where = url or "<action=query>"
    query = data["query"]
    if title is None and url is not None and "/wiki/" in url:
        path = url.split("/wiki/", 1)[1].split("?")[0].split("#")[0]
        title = unquote(path).replace("_", " ")
    pages = _query_pages(query)
    try:
        page = _pick(pages, title, where)
    except ParseError:
        if title is None or len(pages) != 1:
            raise
        page = _pick(pages, None, where)  # the URL's spelling differs from the normalised title
    name = str(page.get("title", ""))
    if not name:
        raise ParseError(where, "action=query page without a title")
    canonical = page.get("canonicalurl") or page.get("fullurl")
    canonical = canonical if isinstance(canonical, str) else None
    extract = page.get("extract")
    summary = ""
    if isinstance(extract, str) and extract.strip():
        if "<" in extract:  # exintro without explaintext: HTML, read as a section of it
            summary = read_mobileview({"mobileview": {"normalizedtitle": name,
                                                      "sections": [{"text": extract}]}},
                                      url).summary
        else:
            summary = summary_from_extract(extract)
    revisions = page.get("revisions") or ()
    revision_id = None
    if revisions and isinstance(revisions[0], Mapping) and "revid" in revisions[0]:
        revision_id = int(revisions[0]["revid"])
    elif "lastrevid" in page:
        revision_id = int(page["lastrevid"])
    thumb = page.get("thumbnail") or page.get("original") or {}
    image = thumb.get("source") if isinstance(thumb, Mapping) else None
    categories = tuple(_category_name(c) for c in page.get("categories") or ()
                       if isinstance(c, Mapping) and "hidden" not in c)
    return Page(
        url=url or canonical or f"/wiki/{title_to_path(name)}",
        kind="article",
        title=name,
        canonical_url=canonical,
        summary=summary,
        image=image if isinstance(image, str) else None,
        categories=categories,
        revision_id=revision_id,
        language=page.get("pagelanguage") if isinstance(page.get("pagelanguage"), str)
        else None,
        parser="mediawiki-query",
        parser_version=READER_VERSION,
    )
