"""What summaries, text, links and diffs carry for MediaWiki pages (issue 17, "Extraction
fidelity"): formulas said once and readably, nothing of a revision view's revision box, and a
red link that turns blue is no change (at extraction, in stored versions of before, and
through a real crawl of a loopback server).

The real-page corpus has no formula (no mwe-math markup); the formulas below are MediaWiki's
markup as Wikipedia serves it, one per variant. The revision views are saved from a real
MediaWiki 1.39 (tests/data/pages/mediawiki-revision-views/README.md).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from scraper.archive import Archive
from scraper.changes import changes_report, diff_versions, version_gist
from scraper.config import load_config_text
from scraper.crawl import CrawlLimits, crawl
from scraper.diff import diff_pages, diff_text, diff_to_json, render_html, render_text
from scraper.models import FetchResult, Link, Page, content_hash
from scraper.parse import parse_page
from scraper.parse.formulas import readable_tex
from tests.local_http import serve
from tests.paths import CORPUS, REPO

URL = "https://wiki.example.org/wiki/Test_page"
WIKI = "https://wiki.example.org/wiki/"
REVISION_VIEWS = REPO / "tests" / "data" / "pages" / "mediawiki-revision-views"
COLD_WAR = "http://127.0.0.1:58331/wiki/Cold_War"


def vector(content: str, *, subtitle: str = "", title: str = "Test page") -> bytes:
    """A page in the Vector skin's layout around `content` (the parser output)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title} - Example Wiki</title>'
        '<meta name="generator" content="MediaWiki 1.41.0"><script>RLCONF={"wgPageName":'
        f'"{title.replace(" ", "_")}","wgRevisionId":4242}};</script></head><body>'
        f'<h1 id="firstHeading" class="firstHeading">{title}</h1><div id="bodyContent">'
        f'<div id="contentSub">{subtitle}</div><div id="mw-content-text">'
        f'<div class="mw-parser-output">{content}</div></div></div></body></html>'
    ).encode()


def parse(body: bytes, url: str = URL) -> Page:
    page = parse_page(body, url)
    assert page.parser == "mediawiki"
    return page


# -- 1. formulas -----------------------------------------------------------------------------

TEX = r"{\displaystyle E=mc^{2}}"
MATHML = ('<semantics><mrow class="MJX-TeXAtom-ORD"><mstyle displaystyle="true" '
          'scriptlevel="0"><mi>E</mi><mo>=</mo><mi>m</mi><msup><mi>c</mi><mrow '
          'class="MJX-TeXAtom-ORD"><mn>2</mn></mrow></msup></mstyle></mrow>'
          f'<annotation encoding="application/x-tex">{TEX}</annotation></semantics>')
MATH = f'<math xmlns="http://www.w3.org/1998/Math/MathML" alttext="{TEX}">{MATHML}</math>'
IMG = ('<img src="https://wikimedia.org/api/rest_v1/media/math/render/svg/{}" '
       'class="mwe-math-fallback-image-{}" aria-hidden="true" '
       'style="vertical-align: -0.338ex; width:8.976ex; height:2.676ex;" alt="{}">')
# MediaWiki's forms of one formula, E=mc²: what a reader sees is "E=mc2".
FORMULAS = {
    "mathml and image, inline": (
        '<span class="mwe-math-element"><span class="mwe-math-mathml-inline '
        f'mwe-math-mathml-a11y" style="display: none;">{MATH}</span>'
        f'{IMG.format("a1", "inline", TEX)}</span>'),
    "mathml hidden without a space": (
        '<span class="mwe-math-element"><span class="mwe-math-mathml-inline '
        f'mwe-math-mathml-a11y" style="display:none">{MATH}</span>'
        f'{IMG.format("a1", "inline", TEX)}</span>'),
    "native mathml only": (
        f'<span class="mwe-math-element mwe-math-element-inline">{MATH}</span>'),
    "bare mathml": MATH,
}
DISPLAY = (
    '<div class="mwe-math-element"><div class="mwe-math-mathml-display mwe-math-mathml-a11y" '
    f'style="display: none;"><math display="block" alttext="{TEX}">{MATHML}</math></div>'
    f'{IMG.format("b2", "display", TEX)}</div>')


def assert_said_once(text: str, formula: str) -> None:
    assert text.count(formula) == 1, text
    for tex in ("displaystyle", "^{", "\\"):
        assert tex not in text, text


@pytest.mark.parametrize("markup", list(FORMULAS.values()), ids=list(FORMULAS))
def test_an_inline_formula_is_its_mathml_text_once(markup: str) -> None:
    page = parse(vector(f"<p>The formula {markup} relates mass and energy.</p>"
                        f"<h2>Use</h2><p>Again, {markup}, in a section.</p>"))
    assert page.summary == "The formula E=mc2 relates mass and energy."
    assert page.text.split("\n\n") == ["The formula E=mc2 relates mass and energy.", "Use",
                                       "Again, E=mc2, in a section."]


def test_a_display_formula_is_its_mathml_text_once() -> None:
    as_spans = DISPLAY.replace("<div", "<span").replace("</div", "</span")
    for block in (f"<dl><dd>{DISPLAY}</dd></dl>", DISPLAY, f"<dl><dd>{as_spans}</dd></dl>"):
        page = parse(vector(f"<p>Einstein wrote</p>{block}<p>in 1905.</p>"))
        assert page.text.split("\n\n") == ["Einstein wrote", "E=mc2", "in 1905."], block
    inline_div = parse(vector(f"<div>Einstein wrote{DISPLAY}in 1905.</div>"))
    assert inline_div.text == "Einstein wrote E=mc2 in 1905."


def test_without_mathml_the_image_alt_text_is_read_without_its_wrapper() -> None:
    alt = r"{\displaystyle \alpha +\beta ^{2}}"
    image_only = f'<span class="mwe-math-element">{IMG.format("c3", "inline", alt)}</span>'
    png = r'<img class="mwe-math-fallback-png-inline tex" alt="a^2+b^2=c^2" src="/m/1.png">'
    texvc = r'<img class="tex" alt="\sqrt{2}" src="/images/math/2.png">'
    page = parse(vector(f"<p>Sum {image_only}.</p><p>Pythagoras: {png}.</p>"
                        f"<p>Root {texvc}.</p>"))
    assert page.text.split("\n\n") == [r"Sum \alpha +\beta ^{2}.", "Pythagoras: a^2+b^2=c^2.",
                                       r"Root \sqrt{2}."]


def test_readable_tex_removes_only_a_whole_wrapper() -> None:
    assert readable_tex(r"{\displaystyle E=mc^{2}}") == "E=mc^{2}"
    assert readable_tex(r" {\textstyle {\frac {1}{2}}} ") == r"{\frac {1}{2}}"
    assert readable_tex(r"{\displaystyle a}{b}") == r"{\displaystyle a}{b}"  # two groups
    assert readable_tex(r"x^{2}") == "x^{2}"


def test_fractions_roots_and_tables_read_on_one_line() -> None:
    quadratic = (
        '<math alttext="x"><semantics><mrow><mi>x</mi><mo>=</mo><mfrac><mrow><mo>−</mo>'
        '<mi>b</mi><mo>±</mo><msqrt><msup><mi>b</mi><mn>2</mn></msup><mo>−</mo><mn>4</mn>'
        '<mi>a</mi><mi>c</mi></msqrt></mrow><mrow><mn>2</mn><mi>a</mi></mrow></mfrac>'
        '<mo>&#x2062;</mo></mrow><annotation encoding="application/x-tex">x</annotation>'
        '</semantics></math>')
    matrix = ('<math><mrow><mo>(</mo><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>0</mn></mtd>'
              '</mtr><mtr><mtd><mn>0</mn></mtd><mtd><mn>1</mn></mtd></mtr></mtable><mo>)</mo>'
              '</mrow></math>')
    cube = '<math><mroot><mi>x</mi><mn>3</mn></mroot></math>'
    page = parse(vector(f"<p>Roots: {quadratic}.</p><p>Identity: {matrix}.</p>"
                        f"<p>Cube root: {cube}.</p>"))
    assert page.text.split("\n\n") == ["Roots: x=(−b±√(b2−4ac))/2a.",
                                       "Identity: ((1, 0; 0, 1)).", "Cube root: 3√x."]


def test_formulas_in_infobox_values_and_parsoid_html() -> None:
    inline = FORMULAS["mathml and image, inline"]
    page = parse(vector('<table class="infobox"><tr><th>Law</th>'
                        f'<td>{inline}</td></tr></table><p>Text {inline}.</p>'))
    assert page.infobox == (("Law", "E=mc2"),)
    parsoid = ('<!DOCTYPE html><html><head><title>Test page</title></head>'
               '<body class="mw-content-ltr mw-parser-output"><section><p>The formula '
               f'<span typeof="mw:Extension/math" {inline[6:]} holds.</p></section></body></html>')
    assert parse(parsoid.encode()).summary == "The formula E=mc2 holds."


def test_the_tex_source_mode_keeps_its_only_text() -> None:
    # With no MathML and no image, the TeX is the formula's only form: it stays, once.
    source = '<span class="mwe-math-fallback-source-inline tex" dir="ltr">$ E=mc^2 $</span>'
    page = parse(vector(f'<p>Source <span class="mwe-math-element">{source}</span> and '
                        f'{source}.</p>'))
    assert page.summary == "Source $ E=mc^2 $ and $ E=mc^2 $."


# -- 2. the revision box of revision views ----------------------------------------------------

def saved_view(name: str) -> Page:
    return parse((REVISION_VIEWS / f"Cold_War-{name}.html").read_bytes(), COLD_WAR)


def test_real_revision_views_read_as_the_current_view() -> None:
    current = saved_view("current")
    latest = saved_view("oldid-36")
    older = saved_view("oldid-35")
    # The edit summaries linked Treaty of Brussels and Partnership for Peace: not the article's.
    for page in (latest, older):
        titles = {link.title for link in page.links}
        assert "Treaty of Brussels" not in titles and "Partnership for Peace" not in titles
        for words in ("Revision as of", "revision", "Harness", "contribs", "in the summary"):
            assert words not in page.text and words not in page.summary
    assert (latest.links, latest.text, latest.summary) == \
        (current.links, current.text, current.summary)
    assert older.links == current.links
    d = diff_pages(older, latest)
    assert d.gist() == "1 paragraph edited"
    assert (d.links_added, d.links_removed) == ((), ())


REVISION_INFO = (
    '<div id="mw-revision-info">Revision as of 10:00, 1 May 2024 by <a href="/wiki/User:Ann" '
    'class="mw-userlink">Ann</a> <span class="comment">(see <a href="/wiki/Edit_summary_topic" '
    'title="Edit summary topic">Edit summary topic</a>)</span></div>'
    '<div id="mw-revision-nav">(<a href="/w/index.php?title=Test_page&amp;diff=prev&amp;'
    'oldid=4242">diff</a>) <a href="/w/index.php?title=Test_page&amp;direction=prev&amp;'
    'oldid=4242">← Older revision</a> | <a href="/wiki/Nav_target">Latest revision</a></div>')
BREADCRUMB = '<span class="subpages">&lt; <a href="/wiki/Parent_page">Parent page</a></span>'
SUBTITLES = {
    "vector 2022": ('<div id="mw-content-subtitle"><div class="mw-message-box-warning '
                    f'mw-revision mw-message-box">{REVISION_INFO}</div>{BREADCRUMB}</div>'),
    "mediawiki 1.2x": f"{REVISION_INFO}{BREADCRUMB}",
    "class variant": f'{REVISION_INFO.replace("id=", "class=")}{BREADCRUMB}',
}


@pytest.mark.parametrize("subtitle", list(SUBTITLES.values()), ids=list(SUBTITLES))
def test_the_revision_box_is_no_content(subtitle: str) -> None:
    page = parse(vector('<p>Body text <a href="/wiki/Body_link">body link</a>.</p>',
                        subtitle=subtitle))
    # The subpage breadcrumb beside it is kept: it is the page's own.
    assert [link.title for link in page.links] == ["Body link", "Parent page"]
    assert page.text == page.summary == "Body text body link."


def test_the_revision_box_when_no_landmark_holds_the_content() -> None:
    # A skin without #mw-content-text or .mw-parser-output: the whole body is read.
    body = (f'<!DOCTYPE html><html><head><meta name="generator" content="MediaWiki 1.39">'
            f'<title>Test page</title></head><body><h1 id="firstHeading">Test page</h1>'
            f'<div id="contentSub">{SUBTITLES["vector 2022"]}</div><p>Body text '
            f'<a href="/wiki/Body_link">body link</a>.</p></body></html>').encode()
    page = parse(body)
    assert [link.title for link in page.links] == ["Parent page", "Body link"]
    assert "Revision" not in page.text and "Body text body link." in page.text


def test_revision_views_with_different_edit_summaries_diff_empty() -> None:
    first = parse(vector("<p>Same text.</p>", subtitle=SUBTITLES["vector 2022"]))
    second = parse(vector("<p>Same text.</p>", subtitle=SUBTITLES["vector 2022"].replace(
        "Edit_summary_topic", "Another_topic")))
    assert first == second


# -- 3. red links at extraction ---------------------------------------------------------------

RED = ('<a href="/w/index.php?title={t}&amp;action=edit&amp;redlink=1" class="new" '
       'title="{n} (page does not exist)">{n}</a>')
BLUE = '<a href="/wiki/{t}" title="{n}">{n}</a>'


def article(link: str, *, edited: bool = False) -> bytes:
    """A page linking Mass and O'Brien's law in its text and Rest energy under "See also"."""
    def a(t: str, n: str) -> str:
        return link.format(t=t, n=n)
    history = "It was edited." if edited else "It was written."
    return vector(
        f'<p>Energy is related to {a("Mass", "Mass")} and {a("O%27Brien%27s_law", "O&#39;Brien&#39;s law")}.</p>'
        f'<h2 id="History">History</h2><p>{history}</p>'
        f'<h2 id="See_also">See also</h2><ul><li>{a("Rest_energy", "Rest energy")}</li>'
        f'<li>{BLUE.format(t="Power", n="Power")}</li></ul>', title="Energy")


def test_a_red_link_is_the_article_it_names() -> None:
    red = parse(article(RED), WIKI + "Energy")
    assert [(ln.kind, ln.title, ln.url) for ln in red.links] == [
        ("see_also", "Rest energy", WIKI + "Rest_energy"), ("see_also", "Power", WIKI + "Power"),
        ("internal", "Mass", WIKI + "Mass"),
        ("internal", "O'Brien's law", WIKI + "O%27Brien%27s_law")]
    blue = parse(article(BLUE), WIKI + "Energy")
    assert red == blue and content_hash(red) == content_hash(blue)


def test_red_link_forms_and_limits() -> None:
    links = ('<a href="/wiki/Path_form?action=edit&amp;redlink=1" class="new">p</a> '
             '<a href="https://wiki.example.org/w/index.php?title=Absolute&amp;action=edit'
             '&amp;redlink=1" class="new">a</a> '
             '<a href="/w/index.php?title=With+plus&amp;redlink=1&amp;action=edit">w</a> '
             '<a href="/w/index.php?title=Talk:Energy&amp;action=edit&amp;redlink=1">t</a> '
             '<a href="/w/index.php?title=Not_red&amp;action=edit&amp;redlink=0">n</a> '
             '<a href="/w/index.php?title=Test_page&amp;action=edit&amp;redlink=1">self</a> '
             '<a href="https://other.example.net/w/index.php?title=Else&amp;action=edit'
             '&amp;redlink=1">x</a>')
    page = parse(vector(f"<p>{links}</p>"))
    assert [(ln.kind, ln.url) for ln in page.links] == [
        ("internal", WIKI + "Path_form"), ("internal", WIKI + "Absolute"),
        ("internal", WIKI + "With_plus"),
        ("external", "https://other.example.net/w/index.php?title=Else&action=edit&redlink=1")]


def test_corpus_red_links_are_kept_as_articles() -> None:
    path = CORPUS / "wikipedia-en-mozilla-vector-2016.html"
    page = parse_page(path.read_bytes(), "https://en.wikipedia.org/wiki/Mozilla")
    internal = {ln.title: ln.url for ln in page.links_of("internal", "see_also")}
    assert internal["Robert O'Callahan"] == "https://en.wikipedia.org/wiki/Robert_O%27Callahan"
    assert internal["Boris Zbarsky"] == "https://en.wikipedia.org/wiki/Boris_Zbarsky"
    assert not any("redlink" in ln.url for ln in page.links)


# -- 3. red links in versions stored before, and paragraphs equal as text -------------------

OLD_RED = "https://wiki.example.org/w/index.php?title={}&action=edit&redlink=1"
TEXT = "Energy is related to mass.\n\nHistory\n\nIt was written.\n\nSee also\n\nRest energy"


def stored(links: tuple[Link, ...], text: str = TEXT) -> Page:
    return Page(url=WIKI + "Energy", kind="article", title="Energy",
                summary="Energy is related to mass.", text=text, links=links)


RED_BEFORE = stored((Link(OLD_RED.format("Rest_energy"), "Rest energy", "see_also"),
                     Link(OLD_RED.format("Mass"), "Mass", "internal"),
                     Link(WIKI + "O%27Brien%27s_law?action=edit&redlink=1", "O'Brien's law",
                          "internal")))
BLUE_NOW = stored((Link(WIKI + "Rest_energy", "Rest energy", "see_also"),
                   Link(WIKI + "Mass", "Mass", "internal"),
                   Link(WIKI + "O%27Brien%27s_law", "O'Brien's law", "internal")))


def test_a_red_link_stored_before_and_its_blue_link_are_one_link() -> None:
    for old, new in ((RED_BEFORE, BLUE_NOW), (BLUE_NOW, RED_BEFORE)):
        d = diff_pages(old, new)
        assert d.is_empty and d.gist() == "no change", d.gist()
        assert diff_to_json(d)["links"] == {"added": [], "removed": [], "retitled": []}
        assert "links:" not in render_text(d, color=False)
        assert "redlink" not in render_html(d)
    # A real change beside it is still reported, and only it.
    moved = replace(BLUE_NOW, links=(*BLUE_NOW.links, Link(WIKI + "Heat", "Heat", "internal")))
    d = diff_pages(RED_BEFORE, moved)
    assert d.gist() == "1 internal added"
    assert [ln.url for ln in d.links_added] == [WIKI + "Heat"]


def test_red_links_without_a_blue_counterpart() -> None:
    # Two spellings of the red link to one page are one link; another page's is another.
    index_form = stored((Link(OLD_RED.format("Rest_energy"), "Rest energy", "see_also"),))
    path_form = stored((Link(WIKI + "Rest_energy?action=edit&redlink=1", "Rest energy",
                             "see_also"),))
    assert diff_pages(index_form, path_form).is_empty
    other = stored((Link(OLD_RED.format("Kinetic_energy"), "Kinetic energy", "see_also"),))
    assert diff_pages(index_form, other).gist() == "1 see_also added, 1 see_also removed"


def test_paragraphs_equal_as_text_are_unchanged_whatever_is_skipped() -> None:
    # A paragraph skipped on one side only (shown in a structured field there) is the same
    # paragraph as the other side's copy.
    d = diff_text("Lead\n\nRest energy", "Lead\n\nRest energy", skip_new={1})
    assert not d.changed and d.counts() == {"edited": 0, "added": 0, "removed": 0, "moved": 0}
    d = diff_text("Rest energy\n\nLead", "Lead", skip_old={0})
    assert not d.changed
    d = diff_text("A\n\nB\n\nB", "A\n\nB", skip_new={1})  # one copy of B did go
    assert d.counts()["removed"] == 1


def test_a_see_also_link_appearing_leaves_its_unchanged_paragraph_unchanged() -> None:
    # Versions the mediawiki parser stored before it kept red links have no link where the
    # red link was: the blue link is news there, its list item's text is not.
    before = stored((Link(WIKI + "Mass", "Mass", "internal"),))
    d = diff_pages(before, BLUE_NOW)
    assert d.gist() == "1 see_also added, 1 internal added"
    assert not d.text.changed
    assert "Rest energy" not in "".join(p for op in d.text.ops if op.op != "equal"
                                        for p in (*op.old, *op.new))


# -- 4. through a real crawl: two versions of a page served on loopback ----------------------

class ChangingWiki(BaseHTTPRequestHandler):
    """Serves /wiki/Energy as `body` says at the time of the request."""

    body: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        if self.path != "/wiki/Energy":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def changing_wiki() -> Iterator[str]:
    ChangingWiki.body = b""
    with serve(ChangingWiki) as base:
        yield base


def crawl_twice(base: str, archive_path: Path, first: bytes, second: bytes) -> tuple[int, str]:
    """Crawl /wiki/Energy serving `first`, then again serving `second`; (the second run's new
    versions, the page URL)."""
    config = load_config_text(textwrap.dedent(f"""\
        name: fidelity
        start_urls: ["{base}/wiki/Energy"]
        parser: mediawiki
        max_depth: 0
        recrawl_after: 0s
        politeness: {{delay: 0}}
        network: {{allow_loopback: true, backoff_base: 0.05, backoff_max: 0.2}}
        """), "fidelity.yaml")
    new_versions = []
    with Archive.open(str(archive_path)) as archive:
        for body in (first, second):
            ChangingWiki.body = body
            result = asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]
            assert result.stats.failed == 0
            new_versions.append(result.stats.new_versions)
    assert new_versions[0] == 1
    return new_versions[1], f"{base}/wiki/Energy"


def test_a_link_turning_blue_makes_no_new_version(changing_wiki: str, tmp_path: Path) -> None:
    new_versions, url = crawl_twice(changing_wiki, tmp_path / "a.db", article(RED), article(BLUE))
    assert new_versions == 0
    with Archive.open(str(tmp_path / "a.db"), create=False) as archive:
        assert [s.version for s in archive.history(url)] == [1]


def test_a_version_stored_for_another_change_reports_no_link_change(changing_wiki: str,
                                                                     tmp_path: Path) -> None:
    new_versions, url = crawl_twice(changing_wiki, tmp_path / "a.db", article(RED),
                                    article(BLUE, edited=True))
    assert new_versions == 1
    with Archive.open(str(tmp_path / "a.db"), create=False) as archive:
        history = archive.history(url)
        assert history[-1].change_gist == "1 paragraph edited"
        d = diff_versions(archive, url)
        assert (d.links_added, d.links_removed, d.links_retitled) == ((), (), ())
        report = changes_report(archive, history[0].fetched_at - timedelta(days=1))
        assert [p.gist for p in report.changed] == ["1 paragraph edited"]


def test_versions_stored_before_compare_their_red_links_as_blue(tmp_path: Path) -> None:
    """Versions holding red links' edit URLs (as the generic parser stores them) and no
    stored gist: the diff and the gists see no link change."""
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    edited = replace(BLUE_NOW, text=TEXT.replace("written", "edited"))
    with Archive.open(str(tmp_path / "a.db"), create=True) as archive:
        run = archive.start_run(["wiki"], {"name": "wiki"}, t0)
        for n, page in enumerate((RED_BEFORE, BLUE_NOW, edited)):
            when = t0 + timedelta(days=n)
            fetch = FetchResult(url=page.url, final_url=page.url, status=200,
                                headers=(("content-type", "text/html"),), body=b"%d" % n,
                                fetched_at=when, elapsed_s=0.01)
            archive.save(run, "wiki", fetch, page, next_due=when + timedelta(days=30))
        history = archive.history(BLUE_NOW.url)
        assert [s.version for s in history] == [1, 2, 3]  # the links' URLs differ
        assert diff_versions(archive, BLUE_NOW.url, 1, 2).is_empty
        assert version_gist(archive, BLUE_NOW.url, history[1]) == "no change"
        assert diff_versions(archive, BLUE_NOW.url, 1, 3).gist() == "1 paragraph edited"
        report = changes_report(archive, t0)
        assert [p.gist for p in report.changed] == ["1 paragraph edited"]


class GrowingWiki(BaseHTTPRequestHandler):
    """/wiki/Energy as `body` says; the other articles exist once they are in `written`
    (404 before, as a wiki answers for a page not written yet). Paths asked are logged."""

    body: ClassVar[bytes] = b""
    written: ClassVar[set[str]] = set()
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        name = self.path.removeprefix("/wiki/")
        if self.path == "/wiki/Energy":
            body = self.body
        elif self.path.startswith("/wiki/") and name in self.written:
            body = vector(f"<p>{name} is an article of this wiki.</p>", title=name)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_crawl_does_not_ask_for_red_links_until_they_turn_blue(tmp_path: Path) -> None:
    GrowingWiki.body, GrowingWiki.written, GrowingWiki.asked = article(RED), {"Power"}, []
    with serve(GrowingWiki) as base:
        config = load_config_text(textwrap.dedent(f"""\
            name: growing
            start_urls: ["{base}/wiki/Energy"]
            parser: mediawiki
            follow: [internal, see_also]
            max_depth: 1
            recrawl_after: 0s
            politeness: {{delay: 0, robots_txt: false}}
            network: {{allow_loopback: true}}
            """), "growing.yaml")
        with Archive.open(str(tmp_path / "a.db")) as archive:
            first = asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]
            asked_first = sorted(set(GrowingWiki.asked))
            # The red links' pages are written; the page links them blue.
            GrowingWiki.written |= {"Mass", "Rest_energy", "O'Brien's_law", "O%27Brien%27s_law"}
            GrowingWiki.body, GrowingWiki.asked = article(BLUE), []
            second = asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]
            asked_second = sorted(set(GrowingWiki.asked))
    # Red links are links of the page (in its record) but no request: a 404 and a failure
    # each, for pages the wiki says it does not have.
    assert asked_first == ["/wiki/Energy", "/wiki/Power"]
    assert first.stats.failed == 0
    # Blue, they are followed; the page itself made no new version.
    assert {"/wiki/Mass", "/wiki/Rest_energy"} <= set(asked_second)
    assert any("Brien" in path for path in asked_second)
    assert second.stats.failed == 0
    with Archive.open(str(tmp_path / "a.db"), create=False) as archive:
        assert [s.version for s in archive.history(f"{base}/wiki/Energy")] == [1]
