"""The generic parser: any page's title, description or first paragraph, text and links."""

from __future__ import annotations

from scraper.parse import detect_parser, parse_page

URL = "https://blog.example.org/posts/hello"

ARTICLE = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>Hello world | Example Blog</title>{meta}</head><body>
<header><nav><a href="/">Home</a> <a href="/about">About</a></nav><h1>Example Blog</h1></header>
<main><h2 class="entry-title">Hello world</h2>
<p>Short.</p>
<p>This is the first paragraph that is long enough to stand for the whole page in a summary,
with <a href="/posts/other#top">a link</a> and <b>bold</b>text.</p>
<p>Second paragraph.</p></main>
<footer><a href="https://elsewhere.example.net/x">partner</a>
<a href="mailto:me@example.org">mail</a> <a href="javascript:void(0)">js</a>
<a href="data:text/plain,hi">data</a> <a href="#top">top</a></footer>
</body></html>"""


def test_title_text_and_first_substantial_paragraph() -> None:
    page = parse_page(ARTICLE.format(meta="").encode(), URL)
    assert page.parser == "generic"
    assert page.kind == "article"
    assert page.title == "Hello world"  # the heading the <title> starts with
    assert page.summary.startswith("This is the first paragraph that is long enough")
    assert page.summary.endswith("a link and boldtext.")
    assert page.text.split("\n\n") == ["Hello world", "Short.", page.summary,
                                       "Second paragraph."]
    assert page.language == "fr"


def test_meta_description_and_og_fields_win() -> None:
    meta = ('<meta name="description" content="  The description.  ">'
            '<meta property="og:title" content="OG title">'
            '<meta property="og:image" content="/img/cover.png">'
            '<link rel="canonical" href="/posts/hello">')
    page = parse_page(ARTICLE.format(meta=meta).encode(), URL)
    assert page.summary == "The description."
    assert page.title == "OG title"
    assert page.image == "https://blog.example.org/img/cover.png"
    assert page.canonical_url == "https://blog.example.org/posts/hello"


def test_links_internal_external_and_dropped() -> None:
    page = parse_page(ARTICLE.format(meta="").encode(), URL)
    assert [(link.kind, link.url, link.title) for link in page.links] == [
        ("internal", "https://blog.example.org/", "Home"),
        ("internal", "https://blog.example.org/about", "About"),
        ("internal", "https://blog.example.org/posts/other", "a link"),
        ("external", "https://elsewhere.example.net/x", "partner"),
    ]
    capped = parse_page(ARTICLE.format(meta="").encode(), URL, max_links=2)
    assert len(capped.links) == 2


def test_title_without_a_matching_heading_drops_the_site_suffix() -> None:
    body = (b"<html><head><title>Plain page - Site</title>"
            b'<meta property="og:site_name" content="Site"></head>'
            b"<body><p>text</p></body></html>")
    assert parse_page(body, URL).title == "Plain page"
    assert parse_page(b"<html><body><h1>Only heading</h1></body></html>", URL).title == \
        "Only heading"


def test_nothing_found_is_other() -> None:
    for body in (b"", b"<html></html>", b"\x00\x01\x02", b"<script>x()</script>"):
        page = parse_page(body, URL)
        assert page.kind == "other"
        assert page.title == "" and page.summary == "" and page.links == ()


def test_non_markup_content_types_are_not_parsed() -> None:
    page = parse_page(b"\x89PNG\r\n\x1a\n", URL, content_type="image/png")
    assert page.kind == "other" and page.parser_version


def test_detection_prefers_generic_for_ordinary_pages() -> None:
    assert detect_parser(ARTICLE.format(meta="").encode(), URL) == "generic"


def test_hidden_markup_and_tables_of_contents_are_not_text() -> None:
    body = (b"<html><body><main><div id='toc'><a href='#a'>Fold</a> Contents</div>"
            b"<p style='display: none'>hidden <a href='/secret'>link</a></p>"
            b"<p hidden>also hidden</p><p>Visible text.</p></main></body></html>")
    page = parse_page(body, URL)
    assert page.text == "Visible text."
    assert page.summary == "Visible text."
    assert [link.url for link in page.links] == ["https://blog.example.org/secret"]
