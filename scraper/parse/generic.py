"""The generic parser: title, description or first paragraph, main text and links of any page."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import Link, Page
from scraper.parse.blocks import TEXT_ID, walk_blocks
from scraper.parse.html import Head, attr, has_words, norm, read_head
from scraper.parse.urls import Resolver, new_links, page_base

NAME = "generic"

_MAIN = ("main", '[role="main"]', "article", "#page-content", "#main-content", "#content",
         "#main", ".content")
_TITLE_CANDIDATES = ("h1, h2, #page-title, .page-title, .entry-title, .post-title, "
                     ".article-title, [itemprop=\"headline\"]")
_SEPARATORS = (" - ", " – ", " — ", " | ", " :: ", " · ", " » ", ": ")
_SKIP_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "figure"})
_SKIP_TOKENS = frozenset({
    "nav", "navbar", "navigation", "menu", "footer", "sidebar", "side-bar", "breadcrumb",
    "breadcrumbs", "cookie", "cookies", "cookie-banner", "share", "social", "advert",
    "advertisement", "ads", "comments", "skip-link", "visually-hidden", "sr-only", "hidden",
    "toc", "table-of-contents",
})
_HIDDEN = '[hidden], [aria-hidden="true"], [style*="display:none"], [style*="display: none"]'
SUBSTANTIAL = 80  # characters a paragraph needs to stand for the page


def _skip(node: LexborNode, tag: str) -> bool:
    if tag in _SKIP_TAGS:
        return True
    attrs = node.attributes  # (a dict: attrs.get() raises inside for a missing attribute)
    for name in ("class", "id", "role"):
        value = attrs.get(name)
        if value and not _SKIP_TOKENS.isdisjoint(value.lower().split()):
            return True
    return False


def _no_rows(table: LexborNode) -> bool:
    return False  # layout tables are common outside wikis: walk their cells as containers


def generic_title(tree: LexborHTMLParser, head: Head) -> str:
    """The page's own title: og:title; else the heading the <title> starts with; else the
    <title> without a site-name suffix; else the first heading."""
    og_title = norm(head.first("og:title"))
    if og_title:
        return og_title
    title = head.title
    candidates = [norm(node.text()) for node in tree.css(_TITLE_CANDIDATES)[:30]]
    candidates = [c for c in candidates if c]
    if not title:
        return candidates[0] if candidates else ""
    best = ""
    for candidate in candidates:
        if candidate == title:
            return candidate
        if len(candidate) > len(best) and any(title.startswith(candidate + sep)
                                              for sep in _SEPARATORS):
            best = candidate
    if best:
        return best
    site = norm(head.first("og:site_name", "application-name"))
    for sep in _SEPARATORS:
        first, found, rest = title.partition(sep)
        if found and first and (rest == site or rest in candidates):
            return first
    return title


def main_root(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in _MAIN:
        node = tree.css_first(selector)
        if node is not None and _text_reaches(node, SUBSTANTIAL):
            return node
    return tree.body


def _text_reaches(node: LexborNode, size: int, budget: int = 64) -> bool:
    """len(node.text()) >= size, from the first text nodes when they are enough (the
    text of a whole page's main element costs more than the test needs)."""
    if size <= 0:
        return True
    total = 0
    for seen, child in enumerate(node.traverse(include_text=True)):
        if seen >= budget:
            return len(node.text()) >= size
        if child.tag_id == TEXT_ID:
            total += len(child.text_content or "")
            if total >= size:
                return True
    return False


def read_links(root: LexborNode | None, resolver: Resolver, page_url: str,
               max_links: int) -> list[Link]:
    """The anchors under root: internal when on the page's host, else external."""
    if root is None:
        return []
    anchors = root.css("a[href]")
    try:  # (indexing costs less than .get(); every anchor found by a[href] has one)
        hrefs: list[str | None] = [anchor.attrs["href"] for anchor in anchors]
    except KeyError:  # an <a> with only a namespaced href (xlink:href in SVG)
        hrefs = [anchor.attrs.get("href") for anchor in anchors]
    resolve = resolver.resolve
    host = resolver.host
    # A URL starting with the page's origin is on its host without asking host_of()
    # (which keeps an IPv6 host's brackets: not for those).
    origin = resolver.origin
    own = (origin + "/", origin + "?") if origin and "[" not in origin else ()
    seen = {page_url}
    urls: list[str] = []
    titles: list[str] = []
    kinds: list[str] = []
    for anchor, href in zip(anchors, hrefs, strict=True):
        if len(urls) >= max_links:
            break
        url = resolve(href)
        if url is None or url in seen:
            continue
        seen.add(url)
        urls.append(url)
        titles.append(norm(anchor.text()) or norm(attr(anchor, "title")))
        kinds.append("internal" if url.startswith(own) or resolver.host_of(url) == host
                     else "external")
    return new_links(urls, titles, kinds)


def parse_generic(tree: LexborHTMLParser, url: str, *, max_links: int = 5000,
                  head: Head | None = None) -> Page:
    """Extract what any page offers: title, description, main text, links."""
    head = head if head is not None else read_head(tree)
    base = page_base(head, url)
    resolver = Resolver(base)
    title = generic_title(tree, head)
    links = read_links(tree.body, resolver, url.split("#", 1)[0], max_links)
    root = main_root(tree)
    if root is not None:
        for node in root.css(_HIDDEN):  # (after the links: a hidden link is still a link)
            node.decompose()
    blocks = walk_blocks(root, _skip, _no_rows) if root is not None else []
    text = "\n\n".join(content for _, content in blocks)
    summary = norm(head.first("description", "og:description", "twitter:description"))
    if not summary:
        paragraphs = [content for kind, content in blocks
                      if kind in ("p", "text") and has_words(content)]
        summary = next((p for p in paragraphs if len(p) >= SUBSTANTIAL),
                       paragraphs[0] if paragraphs else "")
    canonical_raw = head.link("canonical") or head.first("og:url")
    image_raw = head.first("og:image", "og:image:url", "twitter:image")
    html_node = tree.root
    return Page(
        url=url,
        kind="article" if has_words(summary, text) else "other",
        title=title,
        canonical_url=resolver.resolve(canonical_raw) if canonical_raw else None,
        summary=summary,
        text=text,
        links=tuple(links),
        image=resolver.resolve(image_raw) if image_raw else None,
        language=(attr(html_node, "lang") if html_node is not None else "") or None,
        parser=NAME,
    )
