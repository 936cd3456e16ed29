"""The selectors parser: a config's CSS selectors say where each field is on a site's pages."""

from __future__ import annotations

import functools
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.config import Selectors
from scraper.errors import ParseError
from scraper.models import Entry, Link, Page
from scraper.parse.blocks import rendered_text
from scraper.parse.generic import generic_title, read_links
from scraper.parse.html import Head, attr, has_words, norm, read_head
from scraper.parse.urls import Resolver, page_base

NAME = "selectors"
FIELDS = ("entry", "title", "summary", "related", "more_info", "image", "text", "next")
# Fields read inside each entry when `entry` is given; the others are read page-wide.
ENTRY_FIELDS = ("title", "summary", "related", "more_info", "image")
_TRUNCATED = re.compile(r"(?:\s+\.\.\.|\s*…)$")  # a cut summary: " ..." (not "etc...")
MAX_ENTRIES = 5000
_NESTING_LOOKUP = 64  # how far up a match looks for an enclosing match


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """The matches not inside another match: entries do not nest (and a selector such as
    "li" on nested lists would otherwise read each subtree once per level)."""
    matched = {node.mem_id for node in nodes}
    kept = []
    for node in nodes:
        parent = node.parent
        for _ in range(_NESTING_LOOKUP):
            if parent is None or parent.mem_id in matched:
                break
            parent = parent.parent
        if parent is None or parent.mem_id not in matched:
            kept.append(node)
    return kept


@functools.lru_cache(maxsize=256)
def _check(selector: str) -> str | None:
    """None when Lexbor accepts the selector, else its complaint."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as exc:  # noqa: BLE001 (selectolax's error types vary by version)
        return str(exc) or type(exc).__name__
    return None


def validate_selectors(selectors: Selectors, where: str = "selectors") -> None:
    """Raise ParseError naming the field and the selector that Lexbor cannot compile."""
    for name in FIELDS:
        selector = getattr(selectors, name)
        if selector is None:
            continue
        problem = "empty selector" if not selector.strip() else _check(selector)
        if problem:
            raise ParseError(where, f"selectors.{name} is not a valid CSS selector: {problem}",
                             selector=selector)


def _href(node: LexborNode, resolver: Resolver) -> str | None:
    """The link a matched node stands for: its own href, else its first descendant's."""
    target = node if node.attrs.get("href") else node.css_first("a[href]")
    return resolver.resolve(attr(target, "href")) if target is not None else None


def _src(node: LexborNode, resolver: Resolver) -> str | None:
    target = node if node.tag == "img" else node.css_first("img")
    if target is None:
        return _href(node, resolver)
    return resolver.resolve(attr(target, "src") or attr(target, "data-src"))


def _text(node: LexborNode) -> str:
    return norm(node.text())


def _truncation(summary: str) -> tuple[str, bool]:
    if _TRUNCATED.search(summary):
        return _TRUNCATED.sub("", summary), True
    return summary, False


def parse_with_selectors(tree: LexborHTMLParser, url: str, selectors: Selectors, *,
                         max_links: int = 5000, head: Head | None = None) -> Page:
    """Extract the fields the selectors point at; list those that matched nothing."""
    head = head if head is not None else read_head(tree)
    resolver = Resolver(page_base(head, url))
    root = tree.root
    missing: list[str] = []
    entries: list[Entry] = []
    links: list[Link] = []
    title = summary = text = ""
    truncated = False
    image: str | None = None

    def page_matches(name: str) -> list[LexborNode]:
        selector = getattr(selectors, name)
        if selector is None or root is None:
            return []
        found = root.css(selector)
        if not found:
            missing.append(name)
        return found

    if selectors.entry:
        entry_nodes = _outermost(page_matches("entry"))[:MAX_ENTRIES]
        matched: set[str] = set()
        for node in entry_nodes:
            values: dict[str, LexborNode | None] = {}
            for name in ENTRY_FIELDS:
                selector = getattr(selectors, name)
                values[name] = node.css_first(selector) if selector else None
                if values[name] is not None:
                    matched.add(name)
            entry_summary, entry_truncated = _truncation(
                _text(values["summary"]) if values["summary"] is not None else "")
            more_node, related_node = values["more_info"], values["related"]
            image_node = values["image"]
            entry = Entry(
                title=_text(values["title"]) if values["title"] is not None else "",
                summary=entry_summary, summary_truncated=entry_truncated,
                image=_src(image_node, resolver) if image_node is not None else None,
                more_info=_href(more_node, resolver) if more_node is not None else None,
                related=_href(related_node, resolver) if related_node is not None else None,
            )
            entries.append(entry)
            if entry.more_info:
                links.append(Link(entry.more_info, entry.title, "more_info"))
            if entry.related:
                links.append(Link(entry.related, entry.title, "related"))
        if entry_nodes:
            missing.extend(name for name in ENTRY_FIELDS
                           if getattr(selectors, name) and name not in matched)
        else:  # nothing to look inside: report the fields that are nowhere on the page
            missing.extend(name for name in ENTRY_FIELDS if getattr(selectors, name)
                           and root is not None and not root.css(getattr(selectors, name)))
        title = generic_title(tree, head)
        if entries:
            summary, truncated = entries[0].summary, entries[0].summary_truncated
            image = entries[0].image
    else:
        found = page_matches("title")
        title = _text(found[0]) if found else generic_title(tree, head)
        found = page_matches("summary")
        if found:
            summary, truncated = _truncation(_text(found[0]))
        found = page_matches("image")
        image = _src(found[0], resolver) if found else None
        for name in ("related", "more_info"):
            for node in page_matches(name):
                target = _href(node, resolver)
                if target:
                    links.append(Link(target, _text(node), name))

    if selectors.text:
        text = "\n\n".join(part for part in (rendered_text(node, "\n\n")
                                             for node in page_matches("text")) if part)
    elif entries:
        text = "\n\n".join(part for entry in entries for part in (entry.title, entry.summary)
                           if part)
    for node in page_matches("next"):
        target = _href(node, resolver)
        if target:
            links.append(Link(target, _text(node), "next"))
    links.extend(read_links(tree.body, resolver, url.split("#", 1)[0], max_links))
    unique: list[Link] = []
    seen: set[str] = set()
    for link in links:
        if link.url not in seen and len(unique) < max_links:
            seen.add(link.url)
            unique.append(link)
    kind = "listing" if entries else ("article" if has_words(summary, text) else "other")
    canonical = head.link("canonical")
    return Page(
        url=url, kind=kind, title=title,
        canonical_url=resolver.resolve(canonical) if canonical else None,
        summary=summary, summary_truncated=truncated, text=text, links=tuple(unique),
        entries=tuple(entries), image=image, language=attr(tree.root, "lang") or None,
        parser=NAME, missing_selectors=tuple(dict.fromkeys(missing)),
    )
