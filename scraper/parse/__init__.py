"""Parsers: HTML bytes and a URL in, a Page record out (pure functions, selectolax/Lexbor)."""

from __future__ import annotations

import dataclasses
import logging
import re

from selectolax.lexbor import LexborHTMLParser

from scraper.config import Selectors
from scraper.errors import ParseError
from scraper.models import Page
from scraper.parse.generic import parse_generic
from scraper.parse.html import Head, make_tree, read_head
from scraper.parse.listing import find_listing_anchors, parse_listing
from scraper.parse.mediawiki import parse_mediawiki
from scraper.parse.selectors import parse_with_selectors, validate_selectors

log = logging.getLogger(__name__)

# Bump when a parser's output changes for the same input: archives record which version
# extracted each snapshot.
PARSER_VERSION = "1.1.0"
PARSERS = ("mediawiki", "listing", "generic", "selectors")

__all__ = ["PARSERS", "PARSER_VERSION", "detect_parser", "parse_page", "validate_selectors"]

# Content types that are surely not markup; anything else is given a try.
_NOT_MARKUP = re.compile(
    r"^(?:image|audio|video|font)/|^application/(?:pdf|zip|gzip|x-gzip|octet-stream|json|"
    r"x-tar|x-7z-compressed|vnd\.|msword|x-shockwave-flash|wasm)", re.IGNORECASE)
_MW_MARKERS = ("wgPageName", "wgRevisionId", "RLCONF", "mw.config")
_MW_BODY = ".mw-parser-output, #mw-content-text, body.mediawiki, body.parsoid-body, #pcs"


def _is_mediawiki(tree: LexborHTMLParser, head: Head) -> bool:
    if head.first("generator").lower().startswith("mediawiki"):
        return True
    if any(marker in script for script in head.scripts for marker in _MW_MARKERS):
        return True
    return tree.css_first(_MW_BODY) is not None


def _detect(tree: LexborHTMLParser, head: Head) -> str:
    if _is_mediawiki(tree, head):
        return "mediawiki"
    more, related = find_listing_anchors(tree)
    if more or related:
        return "listing"
    return "generic"


def detect_parser(body: bytes, url: str) -> str:
    """Which built-in parser suits a page: "mediawiki", "listing" or "generic"."""
    try:
        tree = make_tree(body, url=url)
        return _detect(tree, read_head(tree, scripts=True))
    except RecursionError:
        return "generic"


def parse_page(body: bytes, url: str, *, parser: str = "auto",
               selectors: Selectors | None = None, content_type: str | None = None,
               max_links: int = 5000) -> Page:
    """Extract a Page from one fetched body.

    :param parser: "auto" (detect), "mediawiki", "listing", "generic" or "selectors".
    :param selectors: the CSS selectors of a config; required by parser="selectors".
    :param content_type: the HTTP Content-Type, for its charset (and to skip non-markup).
    :param max_links: keep at most this many links.

    Never raises on bad input (any bytes, truncated HTML, wrong charset): a page where
    nothing is found comes back with kind "other". A bad parser name or an invalid
    selector is the caller's error and raises ParseError.
    """
    if parser not in ("auto", *PARSERS):
        raise ParseError(url, f"unknown parser {parser!r}; choose from auto, "
                              + ", ".join(PARSERS))
    if parser == "selectors":
        if selectors is None:
            raise ParseError(url, "parser 'selectors' needs a selectors: block in the config")
        validate_selectors(selectors, url)
    max_links = max(0, max_links)
    if content_type and _NOT_MARKUP.search(content_type.strip()):
        return Page(url=url, parser=parser, parser_version=PARSER_VERSION)
    try:
        page = _parse(body, url, parser, selectors, content_type, max_links)
    except ParseError:
        raise
    except Exception:
        # A page must not stop a crawl, whatever its bytes make of our code; the error
        # is logged (with its traceback) so that the bug gets seen and fixed.
        log.exception("%s: the %s parser failed on this page", url, parser)
        page = Page(url=url, parser=parser)
    return dataclasses.replace(page, parser_version=PARSER_VERSION)


def _parse(body: bytes, url: str, parser: str, selectors: Selectors | None,
           content_type: str | None, max_links: int) -> Page:
    tree = make_tree(body, content_type, url=url)
    head = read_head(tree, scripts=True)
    if parser == "auto":
        parser = _detect(tree, head)
    if parser == "mediawiki":
        return parse_mediawiki(tree, url, max_links=max_links, head=head)
    if parser == "listing":
        return parse_listing(tree, url, max_links=max_links, head=head)
    if parser == "selectors" and selectors is not None:
        return parse_with_selectors(tree, url, selectors, max_links=max_links, head=head)
    return parse_generic(tree, url, max_links=max_links)
