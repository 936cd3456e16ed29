"""The parsers' fast paths give what the plain code they replace gives (property tests).

Each fast path of scraper.parse (a shortcut taken for speed) is checked against a
reference: the straightforward code it stands for, kept here. Inputs are generated to
reach the edge cases the shortcuts reason about (white space of every kind, the mirror's
" ..." cut, href forms, junk inside and around the boxes a text walk skips).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

import scraper.parse
from scraper.models import Link, page_to_dict
from scraper.parse import blocks, generic, listing, mediawiki, parse_page, wikitext
from scraper.parse.html import decode_body, norm
from scraper.parse.urls import Resolver
from scraper.parse.wikilinks import LinkReader, is_namespaced, title_from_path
from tests.hypothesis_profiles import PROFILE

MANY = settings(PROFILE, max_examples=PROFILE.max_examples * 5)  # cheap string checks

# Every character str.split() splits at, and a few that look alike but are not spaces.
WHITE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2009\u200a\u2028\u2029\u202f" \
        "\u205f\u3000"
LOOKALIKE = "\u200b\xad\x00\x01\x7f\u2060"
text_of = st.text(alphabet=st.sampled_from("ab() ;,:.…_" + WHITE + LOOKALIKE), max_size=80)
long_text = st.builds(lambda head, tail: head * 3 + tail, st.text(alphabet="abc ", min_size=20,
                                                                  max_size=40), text_of)


@MANY
@given(st.one_of(text_of, long_text))
def test_norm_is_split_and_join(text: str) -> None:
    assert norm(text) == " ".join(text.split())


_DEBRIS = ("()", "( ", " )", "(;", "(,", "(:", ";)", ",)", ":)")


@MANY
@given(text_of)
def test_has_debris_is_any_piece(text: str) -> None:
    expected = "(" in text and any(piece in text for piece in _DEBRIS)
    assert mediawiki.has_debris(text) == expected


@MANY
@given(st.one_of(text_of, st.builds(lambda a, b: a + b, text_of,
                                    st.sampled_from(["...", " ...", "\t...", "…", " …",
                                                     "...\n", " ...\n", "....", "etc..."]))))
def test_cut_mark_is_the_pattern(summary: str) -> None:
    match = listing._TRUNCATED.search(summary)
    expected = (True, listing._TRUNCATED.sub("", summary)) if match else (False, summary)
    assert listing._cut_mark(summary) == expected


_ROLE_WORDS = ["more info", "[...More Info...]", "related items", "Related Item", "wikipedia",
               "[Google]", "BAIDU", "home", "next", "Next page", "more results",
               "older entries", "»", ">>", "picture info", "WİKİPEDİA", "ſome", "more",
               "info", "other", "", "-", "[...]"]


@MANY
@given(st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", "[", " ", "...", "»", "_"]),
                 st.sampled_from(_ROLE_WORDS), st.sampled_from(["", "]", " ", "!", "\n", "_"])))
def test_anchor_role_is_the_six_patterns(text: str) -> None:
    expected = None
    if len(text) <= 40:
        for role, pattern in ((listing.MORE_INFO, listing._MORE_INFO),
                              (listing.RELATED, listing._RELATED),
                              (listing.SEARCH, listing._SEARCH), (listing.HOME, listing._HOME),
                              (listing.NEXT, listing._NEXT), (listing.PICTURE, listing._PICTURE)):
            if pattern.match(text):
                expected = role
                break
    assert listing.anchor_role(text) == expected


# ------------------------------------------------------------------ links of an article


def reference_links(resolver: Resolver, page_url: str, hosts: set[str], prefix: str,
                    own_title: str, anchors: list[LexborNode], kind: str,
                    limit: int) -> list[Link]:
    """LinkReader.read as it was written first: one href at a time, every test spelled out."""
    article_base = resolver.origin + prefix if resolver.origin else "\x00"
    local: tuple[str, ...] = (prefix,) if prefix != "/" else ()
    if resolver.directory == article_base:
        local += ("./",)
    hrefs = [anchor.attrs.get("href") for anchor in anchors]
    first: dict[str, int] = {}
    for index, href in enumerate(hrefs):
        if href and href not in first and href[0] != "#":
            first[href] = index
    seen = {page_url}
    links: list[Link] = []
    for href, index in first.items():
        if len(links) >= limit:
            break
        title: str | None
        if local and href.startswith(local) and "?" not in href and \
                href.find("/.", 1) < 0 and href[-1] > " ":
            if "#" in href:
                href = href[: href.index("#")]
            rest = href[len(prefix):] if href[0] == "/" else href[2:]
            url = article_base + rest
            if not rest or url in seen:
                continue
            title = (unquote(rest) if "%" in rest else rest).replace("_", " ")
        else:
            resolved = href if href.startswith(article_base) and href[-1] > " " and \
                "#" not in href else resolver.resolve(href)
            if resolved is None or resolved in seen:
                continue
            url = resolved
            if url.startswith(article_base):
                rest = url[len(article_base):]
                if not rest or "?" in rest:
                    continue
                title = (unquote(rest) if "%" in rest else rest).replace("_", " ")
            elif resolver.host_of(url) in hosts:
                slash = url.find("/", url.find("//") + 2)
                title = title_from_path(url[slash:], prefix) if slash > 0 else None
                if title is None:
                    continue
            else:
                if kind == "internal":
                    seen.add(url)
                    anchor = anchors[index]
                    links.append(Link(url, norm(anchor.text()) or norm(anchor.attrs.get("title")),
                                      "external"))
                continue
        seen.add(url)
        if title == own_title or (":" in title and is_namespaced(title)):
            continue
        if kind == "see_also" or not title.isascii():
            shown = anchors[index].attrs.get("title")
            if shown:
                title = norm(shown)
        links.append(Link(url, title, kind))
    return links


_HREF_HEADS = ["/wiki/", "./", "https://en.wikipedia.org/wiki/", "http://en.wikipedia.org/wiki/",
               "https://EN.wikipedia.org/wiki/", "https://en.wikipedia.org:443/wiki/",
               "//en.wikipedia.org/wiki/", "/w/index.php?title=", "https://example.com/",
               "https://example.com/?en.wikipedia.org", "#", "", " /wiki/", "/wiki/./",
               "mailto:", "?x=", "https://[::1]/wiki/", "/", "http://", "https://", "http:///",
               "https://?q", "http://#f", "HTTP://example.com/", "http://example.com",
               "/w/index.php?title=Page&action=edit", "/wiki/Page?action=history", "/?title=",
               "/w/index.php?title=Other", "/index.php?title="]
_HREF_TAILS = st.lists(st.sampled_from(list("Ab_%3A:é?#/.[ \t\n") + ["%20", "%C3%A9", "%00"]),
                       max_size=10).map("".join)
_hrefs = st.builds(lambda head, tail: head + tail, st.sampled_from(_HREF_HEADS), _HREF_TAILS)
_anchor = st.tuples(_hrefs, st.sampled_from(["", "text", "Ünïcode"]),
                    st.sampled_from([None, "", "Shown title", "标题"]))


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@PROFILE
@given(st.lists(_anchor, max_size=25), st.sampled_from(["internal", "see_also"]),
       st.sampled_from(["/wiki/", "/", "/w/"]), st.integers(min_value=0, max_value=30),
       st.sampled_from(["https://en.wikipedia.org/wiki/Page", "https://en.wikipedia.org/w/x",
                        "https://[::1]/wiki/Page", "file:///tmp/page.html",
                        "http://127.0.0.1:8000/wiki/Page", "https://u@EN.wikipedia.org/wiki/P"]))
def test_link_reader_is_the_plain_loop(anchors: list[tuple[str, str, str | None]], kind: str,
                                       prefix: str, limit: int, base: str) -> None:
    html = "".join(f'<a href="{_escape(href)}"'
                   + (f' title="{_escape(shown)}"' if shown is not None else "")
                   + f">{_escape(text)}</a>" for href, text, shown in anchors)
    nodes = LexborHTMLParser(f"<body>{html}</body>").css("a[href]")
    resolver = Resolver(base)
    hosts = {host for host in (resolver.host, "en.wikipedia.org") if host}
    reader = LinkReader(resolver, base, hosts, prefix, "Page")
    reader.read(nodes, kind, limit)
    assert reader.links == reference_links(resolver, base, hosts, prefix, "Page", nodes, kind,
                                           limit)


# ------------------------------------------------------------------ junk of an article


def reference_remove_junk(root: LexborNode, keep: list[LexborNode | None]
                          ) -> tuple[LexborNode | None, list[LexborNode]]:
    """The junk removed everywhere, then the first infobox (no container emptied first)."""
    breaks = []
    for node in root.css(wikitext._JUNK):
        if node.tag == "br":
            breaks.append(node)
        else:
            node.decompose()
    return root.css_first("table.infobox, aside.portable-infobox, .infobox"), breaks


_CLASSES = ["", "navbox", "reflist", "infobox", "thumb noprint", "hatnote", "noprint",
            "reference", "mw-editsection", "wikitable", "portable-infobox", "NoPrint",
            "infobox noprint", "toc", "title", "mw-heading"]
_inline = st.sampled_from([
    "word", "two words", " ", "\n", '<sup class="reference">[1]</sup>', "<br>",
    '<span class="noprint">[citation needed]</span>', '<a href="/wiki/Link_A">Link A</a>',
    '<a href="https://example.org/x">ext</a>', "<b>bold</b>", '<span style="display:none">x</span>',
    '<span id="coordinates">0N 0E</span>', "<style>.x{}</style>", "(; note)",
    '<span class="mw-editsection">[edit]</span>', '<i>it<br>alic</i>'])


def _block(children: list[str], tag: str, cls: str) -> str:
    inner = "".join(children)
    klass = f' class="{cls}"' if cls else ""
    if tag == "table":
        return f"<table{klass}><tr><th>Key</th><td>{inner}</td></tr><tr><td>{inner}</td></tr></table>"
    if tag == "aside":
        return (f'<aside{klass}><div class="pi-data"><h3 class="pi-data-label">K</h3>'
                f'<div class="pi-data-value">{inner}</div></div></aside>')
    if tag == "ul":
        return f"<ul{klass}><li>{inner}</li><li>{inner}</li></ul>"
    return f"<{tag}{klass}>{inner}</{tag}>"


_content = st.recursive(
    _inline,
    lambda inner: st.builds(_block, st.lists(inner, max_size=4),
                            st.sampled_from(["div", "p", "table", "ul", "section", "aside", "h2",
                                             "span", "blockquote"]),
                            st.sampled_from(_CLASSES)),
    max_leaves=25)


# The boxes the junk removal reasons about, each holding generated content: infoboxes
# (plain, in a skipped box, junk themselves), skipped boxes, tables read row by row.
_BOXES = [
    ('<table class="infobox"><tr><th>Key</th><td>{}</td></tr><tr><td class="infobox-label">'
    'L</td><td>{}</td></tr></table>'),
    '<div class="navbox"><table class="infobox"><tr><th>K2</th><td>{}</td></tr></table>{}</div>',
    '<table class="infobox noprint"><tr><th>K3</th><td>{}{}</td></tr></table>',
    ('<aside class="portable-infobox"><div class="pi-data"><h3 class="pi-data-label">P</h3>'
    '<div class="pi-data-value">{}<br>{}</div></div></aside>'),
    '<div class="reflist"><ol><li>{}</li><li>{}</li></ol></div>',
    '<table class="wikitable"><tr><td>{}</td><td>{}</td></tr></table>',
    '<div class="thumb"><div class="thumbinner">{}<br>{}</div></div>',
    '<div><div class="navbox">{}</div><p>{}</p></div>',
    '<div class="noprint"><table class="infobox"><tr><th>K4</th><td>{}</td></tr></table>{}</div>',
]
_box = st.builds(lambda template, a, b: template.format(a, b), st.sampled_from(_BOXES),
                 _content, _content)


def _article(parts: list[str], see_also: bool) -> bytes:
    body = "".join(parts)
    if see_also:
        body += '<h2>See also</h2><ul><li><a href="/wiki/Other">Other</a></li></ul>'
    return ('<!DOCTYPE html><html><head><meta name="generator" content="MediaWiki 1.39">'
            '</head><body><h1 id="firstHeading">Page</h1><div id="mw-content-text">'
            f'<div class="mw-parser-output">{body}</div></div><div id="catlinks">'
            '<ul><li><a href="/wiki/Category:C">C</a></li></ul></div></body></html>').encode()


def assert_mediawiki_reads_the_same(body: bytes, url: str, name: str,
                                    reference: Callable[..., Any]) -> None:
    """The mediawiki parser gives the same page with its function `name` as with the plain
    `reference` code in its place."""
    fast = page_to_dict(parse_page(body, url, parser="mediawiki"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mediawiki, name, reference)
        plain = page_to_dict(parse_page(body, url, parser="mediawiki"))
    assert fast == plain


@PROFILE
@given(parts=st.lists(st.one_of(_content, _box), max_size=8), see_also=st.booleans())
def test_scoped_junk_removal_reads_the_same(parts: list[str], see_also: bool) -> None:
    body = _article(parts, see_also)
    url = "https://en.wikipedia.org/wiki/Page"
    assert_mediawiki_reads_the_same(body, url, "remove_junk", reference_remove_junk)


def test_scoped_junk_removal_reads_the_same_on_a_known_page() -> None:
    # An infobox marked noprint is junk: the infobox read is the next one, which sits in
    # a box whose junk must then be removed too.
    body = _article([
        '<table class="infobox noprint"><tr><th>A</th><td>gone</td></tr></table>',
        ('<div class="navbox"><table class="infobox"><tr><th>B</th>'
        '<td>kept<sup class="reference">[1]</sup></td></tr></table></div>'),
        "<p>Text<sup class=\"reference\">[2]</sup> (; note) here.</p>"], see_also=True)
    page = parse_page(body, "https://en.wikipedia.org/wiki/Page", parser="mediawiki")
    assert page.infobox == (("B", "kept"),)
    assert page.summary == "Text (note) here."
    assert [link.title for link in page.links if link.kind == "see_also"] == ["Other"]


def test_norm_reference_matches_on_every_white_space_character() -> None:
    for char in WHITE:
        text = f"{'x' * 60}{char}{char}y"
        assert norm(text) == " ".join(text.split()), repr(char)
    assert re.fullmatch(r"\s+", WHITE) and all(char.isspace() for char in WHITE)


@PROFILE
@given(parts=st.lists(_content, max_size=6), size=st.integers(min_value=0, max_value=120),
       budget=st.integers(min_value=1, max_value=80))
def test_text_reaches_is_the_text_length(parts: list[str], size: int, budget: int) -> None:
    node = LexborHTMLParser(f"<main>{''.join(parts)}</main>").css_first("main")
    assert node is not None
    assert generic._text_reaches(node, size, budget) == (len(node.text()) >= size)


# ------------------------------------------------------------------ links to the page itself

_OWN_HEADS = ["./Page#", "/wiki/Page#", "./Page", "./page#", "./Page_#", "./Pages#", "/wiki/Page",
              "./Page#a?b=c", "./Page#x/../y", "./Page#x/./y", "/wiki/Page#\t", "./Other#",
              "/w/index.php?title=Page#", "https://en.wikipedia.org/wiki/Page#",
              "https://en.wikipedia.org/wiki/Page#a b\n", "https://en.wikipedia.org/wiki/Page#[",
              "https://en.wikipedia.org/wiki/Pages#", "http://en.wikipedia.org/wiki/Page#",
              "https://en.wikipedia.org/wiki/Page#x?y=1"]


@PROFILE
@given(st.lists(st.tuples(st.one_of(st.sampled_from(_OWN_HEADS), _hrefs), _HREF_TAILS),
                max_size=20),
       st.sampled_from(["Page", "Page", "Page", "Other page", "Page_x", ".Page"]),
       st.sampled_from(["https://en.wikipedia.org/wiki/Page", "https://en.wikipedia.org/w/x",
                        "file:///tmp/page.html"]),
       st.integers(min_value=0, max_value=30), st.booleans())
def test_own_sections_filter_drops_only_dropped_links(parts: list[tuple[str, str]], own: str,
                                                      base: str, limit: int,
                                                      absolute: bool) -> None:
    html = "".join(f'<a href="{_escape(head + tail)}">t</a>' for head, tail in parts)
    tree = LexborHTMLParser(f"<body>{html}</body>")
    resolver = Resolver(base)
    hosts = {host for host in (resolver.host, "en.wikipedia.org") if host}
    readers = [LinkReader(resolver, base, hosts, "/wiki/", own) for _ in range(2)]
    readers[0].read(tree.css('a[href]:not([href^="#"])'), "internal", limit)
    own_filter = readers[1].own_sections_filter(absolute=absolute)
    readers[1].read(tree.css('a[href]:not([href^="#"])' + own_filter), "internal", limit)
    assert readers[1].links == readers[0].links
    assert own_filter or own != "Page" or not resolver.origin


# ------------------------------------------------------------------ the tree itself

@PROFILE
@given(parts=st.lists(st.one_of(_content, _box), max_size=8), see_also=st.booleans())
def test_tree_without_mutation_events_reads_the_same(parts: list[str], see_also: bool) -> None:
    body = _article(parts, see_also) + b"<select><selectedcontent></selectedcontent>" \
        b"<option selected>opt</option></select>"
    url = "https://en.wikipedia.org/wiki/Page"
    fast = [page_to_dict(parse_page(body, url, parser=name)) for name in ("auto", "generic")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scraper.parse, "make_tree",
                      lambda data, content_type=None, url="": LexborHTMLParser(
                          decode_body(data, content_type)[0], scripting=True))
        plain = [page_to_dict(parse_page(body, url, parser=name)) for name in ("auto", "generic")]
    assert fast == plain


def test_category_links_in_emptied_boxes_are_read() -> None:
    # Parsoid puts a template's category links where the template is, in a reference list
    # too: they are read before such boxes are emptied, and the box need not be kept.
    body = (b'<!DOCTYPE html><html about="https://en.wikipedia.org/wiki/Special:Redirect/'
            b'revision/42"><head><meta name="generator" content="MediaWiki 1.39"></head>'
            b'<body class="mw-parser-output"><section><p>Dogs are dogs.</p>'
            b'<div class="reflist"><ol><li>A note <link rel="mw:PageProp/Category" '
            b'href="./Category:Dogs#x"></li></ol></div>'
            b'<div class="navbox"><link rel="mw:PageProp/Category" href="./Category:Pets">'
            b'</div></section></body></html>')
    page = parse_page(body, "https://en.wikipedia.org/wiki/Dog", parser="mediawiki")
    assert page.categories == ("Dogs", "Pets")
    assert page.revision_id == 42 and page.summary == "Dogs are dogs."


# ------------------------------------------------------------------ the content's root

def reference_content_root(content_text: LexborNode) -> LexborNode:
    """find_landmarks' root under #mw-content-text as first written: the first CSS match,
    when it is a child; else the first child with the class; else #mw-content-text."""
    first = content_text.css_first(".mw-parser-output")
    if first is not None:
        parent = first.parent
        if parent is not None and parent.mem_id == content_text.mem_id:
            return first
        for child in content_text.iter():
            if "mw-parser-output" in (child.attributes.get("class") or "").split():
                return child
    return content_text


_ROOT_CLASSES = ["", "mw-parser-output", "mw-content-ltr mw-parser-output", "x mw-parser-output",
                 "mw-parser-outputs", "other", "mw-parser-output\textra"]
_child = st.recursive(
    st.builds(lambda cls, tag: f'<{tag} class="{cls}">text</{tag}>' if cls else f"<{tag}>t</{tag}>",
              st.sampled_from(_ROOT_CLASSES), st.sampled_from(["div", "p", "section"])),
    lambda inner: st.builds(lambda cls, kids: f'<div class="{cls}">{"".join(kids)}</div>',
                            st.sampled_from(_ROOT_CLASSES), st.lists(inner, max_size=3)),
    max_leaves=8)


@PROFILE
@given(st.lists(st.one_of(_child, st.just("<!-- c -->"), st.just("<noscript>n</noscript>")),
                max_size=6))
def test_content_root_is_the_first_child_with_the_class(children: list[str]) -> None:
    body = ('<!DOCTYPE html><html><head></head><body><h1 id="firstHeading">T</h1>'
            f'<div id="mw-content-text">{"".join(children)}</div></body></html>')
    tree = LexborHTMLParser(body)
    content_text = tree.css_first("#mw-content-text")
    assert content_text is not None
    root = mediawiki.find_landmarks(tree).root
    assert root is not None and root.mem_id == reference_content_root(content_text).mem_id


# ------------------------------------------------------------------ the permalink's revision

def reference_fallbacks(tree: LexborHTMLParser, marks: mediawiki.Landmarks,
                        config: mediawiki.WikiConfig) -> list[LexborNode]:
    """_fallbacks without the early stop: every match, in one lookup."""
    wanted = []
    if not config.categories and (marks.catlinks is None or
                                  marks.catlinks.css_first("li a") is None):
        wanted.append("#catlinks, link[rel~=\"mw:PageProp/Category\"], li.category[data-name]")
    if not config.revision_id:
        wanted.append("#t-permalink")
    return tree.css(", ".join(wanted)) if wanted else []


_PERMALINKS = ['<li id="t-permalink"><a href="/w/index.php?title=P&amp;oldid=11">Link</a></li>',
               '<li id="t-permalink"><a href="/w/index.php?title=P">Link</a></li>',
               '<li id="t-permalink"></li>', '<li id="t-permalink"><a href="?oldid=22">L</a></li>',
               '<div id="catlinks"><ul><li><a href="/wiki/Category:C">C</a></li></ul></div>',
               '<p>text</p>']


@PROFILE
@given(st.lists(st.sampled_from(_PERMALINKS), max_size=5), st.booleans(), st.booleans())
def test_first_permalink_gives_the_revision_of_all(parts: list[str], config_categories: bool,
                                                   about: bool) -> None:
    script = ('<script>RLCONF={"wgCategories":["Cat"]};</script>' if config_categories else "")
    root_attrs = ' about="x/revision/7"' if about else ""
    html = (f'<!DOCTYPE html><html{root_attrs}><head>'
            f'<meta name="generator" content="MediaWiki 1.39">{script}</head><body>'
            '<h1 id="firstHeading">P</h1><div id="mw-content-text"><div class="mw-parser-output">'
            f'<p>Text.</p></div></div>{"".join(parts)}</body></html>').encode()
    url = "https://en.wikipedia.org/wiki/P"
    assert_mediawiki_reads_the_same(html, url, "_fallbacks", reference_fallbacks)


# ------------------------------------------------------------------ table rows

def reference_row_lines(table: LexborNode) -> list[str]:
    """row_lines with norm() called on each row."""
    lines = []
    for row in table.css("tr"):
        cells = [cell.text() for cell in row.iter() if cell.tag in ("td", "th")]
        line = norm(" | ".join(c for c in cells if c and not c.isspace()))
        if line:
            lines.append(line)
    return lines


_cell_text = st.text(alphabet=st.sampled_from("ab|" + WHITE[:12] + "é"), max_size=12)


@MANY
@given(st.lists(st.lists(st.tuples(st.sampled_from(["td", "th"]), _cell_text), max_size=4),
                max_size=5))
def test_row_lines_is_norm_of_each_row(rows: list[list[tuple[str, str]]]) -> None:
    html = "".join("<tr>" + "".join(f"<{tag}>{_escape(text)}</{tag}>" for tag, text in row)
                   + "</tr>" for row in rows)
    table = LexborHTMLParser(f"<table>{html}</table>").css_first("table")
    assert table is not None
    assert blocks.row_lines(table) == reference_row_lines(table)


# ------------------------------------------------------------------ headings under the root

_heading_part = st.recursive(
    st.sampled_from(["<h2>a</h2>", "<H2>b</H2>", "<p>t</p>", "<h3>c</h3>",
                     "<template><h2>t</h2></template>", "<svg><h2>s</h2></svg>",
                     "<math><h2>m</h2></math>", "<table><h2>x</h2></table>"]),
    lambda inner: st.builds(lambda tag, kids: f"<{tag}>{''.join(kids)}</{tag}>",
                            st.sampled_from(["div", "section", "h2"]),
                            st.lists(inner, max_size=3)),
    max_leaves=10)


@PROFILE
@given(st.lists(_heading_part, max_size=4), st.lists(_heading_part, max_size=4),
       st.lists(_heading_part, max_size=3), st.sampled_from(["div", "h2", "section"]))
def test_headings_under_root_are_its_css_h2(before: list[str], inside: list[str],
                                            after: list[str], root_tag: str) -> None:
    tree = LexborHTMLParser(f"<body>{''.join(before)}<{root_tag} id=\"root\">"
                            f"{''.join(inside)}</{root_tag}>{''.join(after)}</body>")
    root = tree.css_first("#root")
    assert root is not None
    assert [node.mem_id for node in mediawiki.headings_under(tree, root)] == \
        [node.mem_id for node in root.css("h2")]
