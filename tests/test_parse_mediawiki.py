"""The MediaWiki parser on small pages that isolate one rule each."""

from __future__ import annotations

import re

import pytest
from paths import CORPUS

from scraper.models import Page
from scraper.parse import detect_parser, parse_page

CORPUS_DOG = CORPUS / "wikipedia-en-dog-parsoid-2018.html"

URL = "https://wiki.example.org/wiki/Test_page"

RLCONF = ('<script>RLCONF={"wgPageName":"Test_page","wgTitle":"Test page",'
          '"wgRevisionId":4242,"wgCategories":["Alpha","Beta \\u0026 Gamma"],'
          '"wgPageContentLanguage":"en"};</script>')


def vector(content: str, *, head: str = RLCONF, title: str = "Test page",
           catlinks: str = "", extra: str = "") -> bytes:
    """A page in the Vector skin's layout around `content` (the parser output)."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title} - Example Wiki</title>'
        f'<meta name="generator" content="MediaWiki 1.41.0">{head}</head><body>'
        f'<div id="mw-navigation"><a href="/wiki/Main_Page">Main page</a></div>'
        f'<h1 id="firstHeading" class="firstHeading"><span class="mw-page-title-main">'
        f'{title}</span></h1><div id="bodyContent"><div id="contentSub"></div>'
        f'<div id="mw-content-text"><div class="mw-parser-output">{content}</div></div>'
        f'<div id="catlinks" class="catlinks">{catlinks}</div></div>{extra}</body></html>'
    ).encode()


def parse(body: bytes, url: str = URL, **kwargs: object) -> Page:
    page = parse_page(body, url, **kwargs)  # type: ignore[arg-type]
    assert page.parser == "mediawiki"
    return page


LEAD = (
    '<div role="note" class="hatnote">For other uses, see <a href="/wiki/Test_(disambiguation)"'
    ' title="Test (disambiguation)">Test (disambiguation)</a>.</div>'
    '<p class="mw-empty-elt"> </p>'
    '<p><span id="coordinates">Coordinates: 1°N 2°E</span></p>'
    '<table class="infobox"><tr><th colspan="2">Test page</th></tr>'
    '<tr><td colspan="2"><img src="//upload.example.org/t.png"></td></tr>'
    '<tr><th>Founded</th><td>1998<sup class="reference"><a href="#cite_note-1">[1]</a></sup>'
    '</td></tr><tr><th>Founders</th><td><ul><li>Ada</li><li>Grace</li></ul></td></tr>'
    '<tr><th>Website</th><td><a class="external" href="https://example.com">example.com</a>'
    '</td></tr></table>'
    '<p><b>Test page</b> (<span class="noexcerpt">listen <a href="/w/a.ogg">audio</a></span>;'
    ' <span class="IPA">[tɛst]</span>) is a <a href="/wiki/Sample" title="Sample">sample</a>'
    '<sup class="reference"><a href="#cite_note-1">[1]</a></sup> page<sup class="noprint '
    'Inline-Template">[<i><a href="/wiki/Wikipedia:Citation_needed" title="Wikipedia:Citation '
    'needed">citation needed</a></i>]</sup> about <i>testing</i>,<br>made for '
    '<a href="/wiki/Parser" title="Parser">parsers</a>.</p>'
    '<p>As of 2014<sup class="plainlinks noprint asof-tag" style="display:none">[update]</sup>,'
    ' its second paragraph.</p>'
)


def test_lead_summary_is_clean() -> None:
    page = parse(vector(LEAD))
    assert page.kind == "article"
    assert page.title == "Test page"
    assert page.summary == ("Test page ([tɛst]) is a sample page about testing, made for "
                            "parsers.\n\nAs of 2014, its second paragraph.")


def test_infobox_pairs_and_image() -> None:
    page = parse(vector(LEAD))
    assert page.infobox == (("Founded", "1998"), ("Founders", "Ada, Grace"),
                            ("Website", "example.com"))
    assert page.image == "https://upload.example.org/t.png"  # no og:image: the infobox's


def test_og_image_wins_and_the_smallest_size_is_taken() -> None:
    head = RLCONF + "".join(
        f'<meta property="og:image" content="https://img.example.org/{w}px-t.jpg">'
        f'<meta property="og:image:width" content="{w}">' for w in (1200, 800, 640))
    assert parse(vector(LEAD, head=head)).image == "https://img.example.org/640px-t.jpg"
    single = RLCONF + '<meta property="og:image" content="https://img.example.org/t.jpg">'
    assert parse(vector(LEAD, head=single)).image == "https://img.example.org/t.jpg"


SECTIONS_OLD = (
    '<p>Lead paragraph.</p>'
    '<h2><span class="mw-headline" id="History">History</span><span class="mw-editsection">'
    '<span class="mw-editsection-bracket">[</span><a href="/w/index.php?title=Test_page&amp;'
    'action=edit&amp;section=1" title="Edit section: History">edit</a>]</span></h2>'
    '<p>Old days.</p><h3><span class="mw-headline" id="Early">Early</span></h3>'
    '<ul><li>First item<ul><li>Nested item</li></ul></li><li>Second item</li></ul>'
    '<h2><span class="mw-headline" id="See_also">See also</span></h2>'
    '<div class="div-col"><ul><li><a href="/wiki/Other_page" title="Other page">Other page'
    '</a></li><li><a href="/wiki/Third_page#Part" title="Third page">Part of the third</a>'
    '</li><li><a href="/wiki/Portal:Tests" title="Portal:Tests">Tests portal</a></li></ul></div>'
    '<h2><span class="mw-headline" id="References">References</span></h2>'
    '<div class="reflist"><ol class="references"><li id="cite_note-1">A source, '
    '<a class="external text" href="https://source.example.net/book">the book</a>.</li></ol>'
    '</div>'
    '<p>After the references, <a href="/wiki/Late_link" title="Late link">late link</a>.</p>'
)

SECTIONS_NEW = (
    '<p>Lead paragraph.</p>'
    '<div class="mw-heading mw-heading2"><h2 id="History">History</h2><span '
    'class="mw-editsection"><a href="/w/index.php?title=Test_page&amp;action=edit&amp;'
    'section=1">edit</a></span></div>'
    '<p>Old days.</p><div class="mw-heading mw-heading3"><h3 id="Early">Early</h3></div>'
    '<ul><li>First item<ul><li>Nested item</li></ul></li><li>Second item</li></ul>'
    '<div class="mw-heading mw-heading2"><h2 id="See_also">See also</h2></div>'
    '<div class="div-col"><ul><li><a href="/wiki/Other_page" title="Other page">Other page'
    '</a></li><li><a href="/wiki/Third_page#Part" title="Third page">Part of the third</a>'
    '</li><li><a href="/wiki/Portal:Tests" title="Portal:Tests">Tests portal</a></li></ul></div>'
    '<div class="mw-heading mw-heading2"><h2 id="References">References</h2></div>'
    '<div class="reflist"><ol class="references"><li id="cite_note-1">A source, '
    '<a class="external text" href="https://source.example.net/book">the book</a>.</li></ol>'
    '</div>'
    '<p>After the references, <a href="/wiki/Late_link" title="Late link">late link</a>.</p>'
)


@pytest.mark.parametrize("content", [SECTIONS_OLD, SECTIONS_NEW], ids=["old", "new"])
def test_sections_and_see_also_in_both_heading_markups(content: str) -> None:
    page = parse(vector(content))
    assert page.summary == "Lead paragraph."
    assert page.text.split("\n\n") == [
        "Lead paragraph.", "History", "Old days.", "Early", "First item", "Nested item",
        "Second item", "See also", "Other page", "Part of the third", "Tests portal",
        "References", "After the references, late link.",
    ]
    see_also = page.links_of("see_also")
    assert [(link.title, link.url) for link in see_also] == [
        ("Other page", "https://wiki.example.org/wiki/Other_page"),
        ("Third page", "https://wiki.example.org/wiki/Third_page"),
    ]
    assert [link.title for link in page.links_of("internal")] == ["Late link"]
    assert [link.url for link in page.links_of("external")] == [
        "https://source.example.net/book"]


def test_internal_links_exclude_namespaces_and_self_and_keep_red_links_as_articles() -> None:
    names = ["Special:Random", "File:Photo.jpg", "Help:Editing", "Talk:Test_page",
             "Category:Things", "Template:Infobox", "Wikipedia:About", "Portal:Science",
             "User:Someone", "User_talk:Someone", "Datei:Bild.png", "Kategorie:Dinge",
             "Spezial:Suche", "Module:Data", "MediaWiki:Common.css", "Test_page"]
    anchors = "".join(f'<a href="/wiki/{name}" title="{name.replace("_", " ")}">x</a> '
                      for name in names)
    anchors += ('<a href="/w/index.php?title=Missing&amp;action=edit&amp;redlink=1" '
                'class="new" title="Missing (page does not exist)">Missing</a> '
                '<a href="/w/index.php?title=User:Nobody&amp;action=edit&amp;redlink=1" '
                'class="new" title="User:Nobody (page does not exist)">Nobody</a> '
                '<a href="/w/index.php?title=Test_page&amp;oldid=1">old</a> '
                '<a href="#History">jump</a> <a href="mailto:a@example.org">mail</a> '
                '<a href="javascript:void(0)">js</a> '
                '<a href="/wiki/HE:Kassel" title="HE:Kassel">custom namespace</a> '
                '<a href="/wiki/Star_Trek:_Voyager" title="Star Trek: Voyager">colon title</a> '
                '<a href="//other.example.net/page#frag">elsewhere</a>')
    page = parse(vector(f"<p>{anchors}</p>"))
    # A red link is the article it names (what it links to once the page is written); to a
    # namespace's page it is no article link either.
    assert [(link.kind, link.title) for link in page.links] == [
        ("internal", "Missing"), ("internal", "HE:Kassel"), ("internal", "Star Trek: Voyager"),
        ("external", "elsewhere")]
    assert page.links[0].url == "https://wiki.example.org/wiki/Missing"
    assert page.links[-1].url == "https://other.example.net/page"


def test_links_are_deduplicated_and_capped() -> None:
    anchors = "".join(f'<a href="/wiki/P{n}" title="P{n}">p</a><a href="/wiki/P{n}#s">again</a>'
                      for n in range(50))
    page = parse(vector(f"<p>{anchors}</p>"), max_links=10)
    assert [link.title for link in page.links] == [f"P{n}" for n in range(10)]


def test_language_variant_titles_come_from_the_title_attribute() -> None:
    page = parse(vector('<p><a href="/wiki/%E6%81%92%E6%98%9F" title="恆星">恆星</a></p>'))
    assert [(link.title, link.url) for link in page.links] == [
        ("恆星", "https://wiki.example.org/wiki/%E6%81%92%E6%98%9F")]


def test_config_gives_revision_categories_and_language() -> None:
    catlinks = ('<div id="mw-normal-catlinks"><a href="/wiki/Special:Categories">Categories'
                '</a>: <ul><li><a href="/wiki/Category:Alpha">Alpha</a></li></ul></div>')
    page = parse(vector("<p>Text.</p>", catlinks=catlinks))
    assert page.revision_id == 4242
    assert page.categories == ("Alpha", "Beta & Gamma")
    assert page.language == "en"


def test_revision_from_permalink_then_html_about() -> None:
    permalink = ('<div id="p-tb"><ul><li id="t-permalink"><a href="/w/index.php?title=Test_page'
                 '&amp;oldid=777" title="Permanent link">Permanent link</a></li></ul></div>')
    page = parse(vector("<p>Text.</p>", head="", extra=permalink))
    assert page.revision_id == 777
    parsoid = (b'<!DOCTYPE html><html about="https://wiki.example.org/wiki/Special:Redirect/'
               b'revision/888"><head><title>Test page</title></head><body class="mw-content-ltr '
               b'mw-parser-output"><section><p>Text.</p></section></body></html>')
    page = parse(parsoid)
    assert page.revision_id == 888
    assert page.title == "Test page"


def test_parsoid_categories_and_relative_links() -> None:
    body = (b'<!DOCTYPE html><html><head><title>Dog</title><base href="//wiki.example.org/wiki/">'
            b'<link rel="dc:isVersionOf" href="//wiki.example.org/wiki/Dog"></head>'
            b'<body lang="en" class="mw-parser-output"><section data-mw-section-id="0">'
            b'<p>The <a rel="mw:WikiLink" href="./Dog_breed" title="Dog breed">dog</a> '
            b'<a href="./Category:Pets">cat</a>.</p>'
            b'<link rel="mw:PageProp/Category" href="./Category:Domesticated_animals#Dog">'
            b'<link rel="mw:PageProp/Category" href="./Category:Use_American_English">'
            b'</section></body></html>')
    page = parse(body, "https://wiki.example.org/wiki/Dog")
    assert page.summary == "The dog cat."  # a category link's text is still text
    assert page.categories == ("Domesticated animals", "Use American English")
    assert [(link.title, link.url) for link in page.links] == [
        ("Dog breed", "https://wiki.example.org/wiki/Dog_breed")]
    assert page.canonical_url == "https://wiki.example.org/wiki/Dog"
    assert page.language == "en"


def test_fandom_categories_and_portable_infobox() -> None:
    content = ('<aside class="portable-infobox"><h2 class="pi-title">Spell</h2>'
               '<div class="pi-item pi-data"><h3 class="pi-data-label">Type</h3>'
               '<div class="pi-data-value">Charm<br>Conjuration</div></div></aside>'
               '<p>The spell.</p>')
    extra = ('<div class="page-header__categories"><ul><li class="category" data-name="Charms">'
             '<a href="/wiki/Category:Charms">Charms</a></li></ul></div>')
    page = parse(vector(content, head="", extra=extra))
    assert page.categories == ("Charms",)
    assert page.infobox == (("Type", "Charm, Conjuration"),)
    assert page.summary == "The spell."


def test_lead_comes_after_a_leading_heading() -> None:
    # Third-party wikis sometimes open the content with a heading of their own.
    page = parse(vector("<h1>Meetings</h1><p>The next meeting is on Monday.</p>"
                        "<h2>Minutes</h2><p>Older notes.</p>"))
    assert page.summary == "The next meeting is on Monday."


def test_title_falls_back_to_config_then_title_tag() -> None:
    body = (b'<html><head><title>Fallback - Example Wiki</title>'
            b'<meta name="generator" content="MediaWiki 1.39"></head><body>'
            b'<div id="mw-content-text"><p>Text.</p></div></body></html>')
    assert parse(body).title == "Fallback"
    body = body.replace(b"</head>", b'<script>RLCONF={"wgPageName":"Help:Odd_name"};</script>'
                                    b"</head>")
    assert parse(body).title == "Help:Odd name"


def test_detection() -> None:
    assert detect_parser(vector("<p>x</p>"), URL) == "mediawiki"
    assert detect_parser(b"<html><body><div class='mw-parser-output'><p>x</p></div></body>"
                         b"</html>", URL) == "mediawiki"
    assert detect_parser(b"<html><body><p>plain</p></body></html>", URL) == "generic"


def test_article_path_from_the_page_url_or_config() -> None:
    content = ('<p><a href="/info/Other_page" title="Other page">o</a> '
               '<a href="/info/Help:Me" title="Help:Me">h</a> '
               '<a href="/static/file.css">css</a></p>')
    body = vector(content, head="").replace(b"/wiki/Main_Page", b"/info/Main_Page")
    page = parse(body, "https://wiki.example.org/info/Test_page")
    assert [(link.title, link.url) for link in page.links] == [
        ("Other page", "https://wiki.example.org/info/Other_page")]
    config = '<script>RLCONF={"wgArticlePath":"/info/$1","wgPageName":"Test_page"};</script>'
    page = parse(vector(content, head=config), "https://wiki.example.org/index.php?curid=5")
    assert [link.title for link in page.links] == ["Other page"]


def test_builtin_site_article() -> None:
    from scraper.testsite.articles import render_article
    from scraper.testsite.content import SiteModel

    model = SiteModel(seed=1, pages=200)
    slug = model.slugs[0]
    body = render_article(model, slug, "http://127.0.0.1:8000")
    page = parse_page(body, f"http://127.0.0.1:8000/info/{slug}")
    assert page.parser == "mediawiki" and page.kind == "article"
    assert page.title == model.titles[0]
    assert page.summary and page.revision_id and page.categories
    assert page.links_of("see_also")
    for link in page.links_of("see_also", "internal"):
        assert link.url.startswith("http://127.0.0.1:8000/info/")
        assert "/" not in link.title and "_" not in link.title


def test_parsoid_reference_marks_leave_summaries_and_text() -> None:
    """Parsoid and REST HTML mark references as sup.mw-ref (typeof mw:Extension/ref), with no
    `reference` class: they go from the summary and the text like a skin's sup.reference."""
    body = CORPUS_DOG.read_bytes()
    page = parse_page(body, "https://en.wikipedia.org/wiki/Dog")
    assert re.search(r"\[\d+\]", page.summary) is None
    assert re.search(r"\[\d+\]", page.text) is None
    assert page.summary.startswith("The domestic dog (Canis lupus familiaris")
    small = (b'<!DOCTYPE html><html><head><meta name="generator" content="MediaWiki 1.42">'
             b'</head><body class="mw-parser-output"><section><p>Cats purr.<sup '
             b'typeof="mw:Extension/ref" class="mw-ref" id="cite_ref-1"><a href="./Cat#cite_'
             b'note-1"><span class="mw-reflink-text">[1]</span></a></sup> They sleep.</p>'
             b"</section></body></html>")
    assert parse_page(small, "https://en.wikipedia.org/wiki/Cat").summary == \
        "Cats purr. They sleep."
