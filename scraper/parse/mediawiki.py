"""The MediaWiki article parser: any skin (Vector, Minerva, Timeless, Fandom), Parsoid and PCS HTML."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import Link, Page
from scraper.parse.blocks import HEADINGS, rendered_text, walk_blocks
from scraper.parse.html import Head, attr, class_tokens, has_words, norm, read_head
from scraper.parse.urls import Resolver, page_base
from scraper.parse.wikilinks import LinkReader, article_prefix
from scraper.parse.wikitext import is_wikitable, remove_junk, skip_container

NAME = "mediawiki"

# The anchors to read: a fragment-only href ("#cite_note-1") is no link, and Lexbor leaves
# out hundreds of them per article for less than making a node of each costs.
_ANCHORS = 'a[href]:not([href^="#"])'
_TH_ID, _TD_ID = (LexborHTMLParser("").create_node(tag).tag_id for tag in ("th", "td"))
_TITLE = ("h1#firstHeading, h1.firstHeading, h1.page-header__title, h1#section_0, "
          "h1.pcs-edit-section-title")
_TITLE_CLASSES = frozenset({"firstHeading", "page-header__title", "pcs-edit-section-title"})
SEE_ALSO = frozenset({
    "see also", "related pages", "related articles", "siehe auch", "voir aussi",
    "véase también", "vea también", "ver también", "ver também", "vedi anche", "zie ook",
    "se även", "se også", "katso myös", "zobacz też", "zobacz także", "viz též", "lásd még",
    "см. также", "див. також", "参见", "參見", "参看", "參看", "相关条目", "相關條目",
    "関連項目", "관련 항목", "انظر أيضا", "انظر أيضًا", "ראו גם", "همچنین ببینید",
    "ayrıca bakınız", "lihat pula", "lihat juga", "xem thêm", "vidu ankaŭ",
})
_CONFIG_MARKERS = ("wgPageName", "wgRevisionId", "wgCategories")
_RE_REVISION = re.compile(r'"wgRevisionId"\s*:\s*(\d+)')
_RE_CATEGORIES = re.compile(r'"wgCategories"\s*:\s*(\[[^\]]*\])')
_RE_STRING = r'\s*:\s*("(?:[^"\\]|\\.)*")'
_RE_PAGENAME = re.compile(r'"wgPageName"' + _RE_STRING)
_RE_SITENAME = re.compile(r'"wgSiteName"' + _RE_STRING)
_RE_LANGUAGE = re.compile(r'"wgPageContentLanguage"' + _RE_STRING)
_RE_ARTICLE_PATH = re.compile(r'"wgArticlePath"' + _RE_STRING)
_RE_OLDID = re.compile(r"[?&;]oldid=(\d+)")
_RE_ABOUT_REVISION = re.compile(r"/revision/(\d+)")
# The box a revision view (?oldid=N) shows above the article: who saved the revision, when,
# its edit summary (whose links are no links of the article) and the older/newer links.
# MediaWiki puts it in the subtitle (#contentSub); all its forms since 1.2x.
_REVISION_BOX = ("#mw-revision-info, #mw-revision-nav, .mw-revision, .mw-revision-info, "
                 ".mw-revision-nav")
_RE_EMPTY_PARENS = re.compile(r"\s*\(\s*[;,:]?\s*\)")
_RE_PAREN_OPEN = re.compile(r"\(\s*[;,:]\s*")
_RE_PAREN_CLOSE = re.compile(r"\s*[;,:]\s*\)")


@dataclass(slots=True)
class WikiConfig:
    """The values read from the page's mw.config / RLCONF block."""

    revision_id: int | None = None
    categories: list[str] = field(default_factory=list)
    page_name: str = ""
    site_name: str = ""
    language: str = ""
    article_path: str = ""  # "/wiki/$1"


def _json_string(match: re.Match[str] | None) -> str:
    if match is None:
        return ""
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


def read_config(scripts: list[str]) -> WikiConfig:
    config = WikiConfig()
    for text in scripts:
        if not any(marker in text for marker in _CONFIG_MARKERS):
            continue
        if config.revision_id is None:
            match = _RE_REVISION.search(text)
            if match and int(match.group(1)) > 0:
                config.revision_id = int(match.group(1))
        if not config.categories:
            match = _RE_CATEGORIES.search(text)
            if match:
                try:
                    names = json.loads(match.group(1))
                except ValueError:
                    names = []
                config.categories = [n for n in names if isinstance(n, str)]
        config.page_name = config.page_name or _json_string(_RE_PAGENAME.search(text))
        config.site_name = config.site_name or _json_string(_RE_SITENAME.search(text))
        config.language = config.language or _json_string(_RE_LANGUAGE.search(text))
        config.article_path = config.article_path or _json_string(
            _RE_ARTICLE_PATH.search(text))
    return config


@dataclass(slots=True)
class Landmarks:
    """The nodes the parser starts from."""

    title: LexborNode | None = None
    root: LexborNode | None = None
    catlinks: LexborNode | None = None
    subtitles: list[LexborNode] = field(default_factory=list)
    skinned: bool = False  # a skin's page (#mw-content-text), not bare Parsoid or PCS HTML
    whole_body: bool = False  # no content landmark: the root is the page's <body>


def _is_title_heading(node: LexborNode) -> bool:
    return (attr(node, "id") in ("firstHeading", "section_0")
            or not _TITLE_CLASSES.isdisjoint(class_tokens(node)))


def find_landmarks(tree: LexborHTMLParser) -> Landmarks:
    # Each lookup stops at its first match, and in every skin the title and the content
    # come early, so this costs a fraction of a pass over the document. The category box
    # and the subtitle are siblings of #mw-content-text in every skin that has it.
    marks = Landmarks()
    body = tree.body
    if body is not None and "mw-parser-output" in class_tokens(body):
        marks.root = body  # Parsoid HTML: no skin, no title heading
        return marks
    content_text = tree.css_first("#mw-content-text")
    if content_text is not None:
        marks.skinned = True
        marks.root = content_text
        # The first child with the class (usually the first child; in old HTML there is
        # none, and looking at each of the hundreds of children costs a third of a CSS
        # lookup through all the content, which finds nothing).
        for child in content_text.iter():
            value = child.attributes.get("class")
            if value and "mw-parser-output" in value and "mw-parser-output" in value.split():
                marks.root = child
                break
        parent = content_text.parent
        sibling = parent.first_child if parent is not None else None
        while sibling is not None:
            ident = attr(sibling, "id")
            if ident == "catlinks":
                marks.catlinks = sibling
            elif ident in ("contentSub", "mw-content-subtitle"):
                marks.subtitles.append(sibling)
            sibling = sibling.next
    else:
        marks.root = tree.css_first(".mw-parser-output, #pcs")
        if marks.root is None:
            marks.root = body
            marks.whole_body = body is not None
    marks.title = tree.css_first(_TITLE)
    return marks


def _fallbacks(tree: LexborHTMLParser, marks: Landmarks, config: WikiConfig) -> list[LexborNode]:
    """What the config did not say (categories, revision), looked up in one pass."""
    wanted = []
    if not config.categories and (marks.catlinks is None or
                                  marks.catlinks.css_first("li a") is None):
        wanted.append("#catlinks, link[rel~=\"mw:PageProp/Category\"], li.category[data-name]")
    if not config.revision_id:
        wanted.append("#t-permalink")
        if len(wanted) == 1:
            # The first permalink settles the revision when it gives one, and a lookup
            # that stops there costs a fraction of one through the whole document.
            first = tree.css_first("#t-permalink")
            if first is None:
                return []
            if _permalink_revision(first) is not None:
                return [first]
    return tree.css(", ".join(wanted)) if wanted else []


def _permalink_revision(node: LexborNode) -> int | None:
    """The oldid of the "Permanent link" in the tools menu."""
    match = _RE_OLDID.search(attr(node.css_first("a[href]"), "href"))
    return int(match.group(1)) if match else None


_AFTER_OPEN = frozenset("); ,:")  # "()", "( ", "(;", "(,", "(:"
_BEFORE_CLOSE = frozenset(" ;,:")  # " )", ";)", ",)", ":)"


def has_debris(text: str) -> bool:
    """True when text has an opening parenthesis, and one of "()", "( ", " )", "(;",
    "(,", "(:", ";)", ",)", ":)" (looked for around each parenthesis, as there are few)."""
    at = text.find("(")
    if at < 0:
        return False
    while at >= 0:
        if text[at + 1: at + 2] in _AFTER_OPEN:
            return True
        at = text.find("(", at + 1)
    at = text.find(")", 1)
    while at >= 0:
        if text[at - 1] in _BEFORE_CLOSE:
            return True
        at = text.find(")", at + 1)
    return False


def tidy(text: str) -> str:
    """Debris left by removed pronunciation and reference marks: "( ; x)", "(x; )", "()"."""
    if has_debris(text):
        text = _RE_EMPTY_PARENS.sub("", text)
        text = _RE_PAREN_OPEN.sub("(", text)
        text = _RE_PAREN_CLOSE.sub(")", text)
    return text


def _strip_site_suffix(title: str, site_name: str) -> str:
    for sep in (" - ", " – ", " — ", " | "):
        head, found, tail = title.rpartition(sep)
        if found and head and (tail == site_name or "wiki" in tail.lower()):
            return head
    return title


def page_title(marks: Landmarks, head: Head, config: WikiConfig) -> str:
    """The displayed title: the skin's title heading, else wgPageName, og:title, <title>."""
    if marks.title is not None:
        text = norm(marks.title.text())
        if text:
            return text
    if config.page_name:
        return config.page_name.replace("_", " ")
    og_title = head.first("og:title")
    if og_title:
        return _strip_site_suffix(norm(og_title), config.site_name)
    return _strip_site_suffix(head.title, config.site_name)


def _heading_key(text: str) -> str:
    """A heading's words, without an edit link's "[edit]" and in lower case."""
    key = norm(text)
    if key.endswith("]") and "[" in key:
        key = key[: key.rindex("[")]
    return key.strip(" :：").lower()


def headings_under(tree: LexborHTMLParser, root: LexborNode) -> list[LexborNode]:
    """root.css("h2"): the document's <h2>s (Lexbor's list by tag name costs a third of a
    CSS lookup through the same nodes) that are root or under it, in document order."""
    stop = root.mem_id
    found = []
    for heading in tree.tags("h2"):
        node: LexborNode | None = heading
        while node is not None:
            if node.mem_id == stop:
                found.append(heading)
                break
            node = node.parent
    return found


def see_also_nodes(headings: list[LexborNode]) -> list[LexborNode]:
    """The nodes of the "See also" section: after its <h2> up to the next h1/h2."""
    for heading in headings:
        key = _heading_key(heading.text())
        if key not in SEE_ALSO and attr(heading, "id").replace("_", " ").lower() not in SEE_ALSO:
            continue
        start = heading
        parent = heading.parent
        if parent is not None and parent.tag == "div" and any(
                "heading" in token or "section-header" in token for token in class_tokens(parent)):
            start = parent  # <div class="mw-heading"><h2>, PCS's section header
        nodes = []
        sibling = start.next
        while sibling is not None:
            tag = sibling.tag
            if tag in ("h1", "h2"):
                break
            if tag == "div" and sibling.css_first("h1, h2") is not None and any(
                    "heading" in token for token in class_tokens(sibling)):
                break
            if tag != "-text" and tag != "-comment":
                nodes.append(sibling)
            sibling = sibling.next
        return nodes
    return []


def _fallback_categories(fallbacks: list[LexborNode]) -> list[str]:
    """Parsoid's category links and Fandom's category list (read before the junk goes:
    their nodes need not survive the junk removal, which empties their containers)."""
    names: list[str] = []
    for node in fallbacks:
        if node.tag == "link":
            href = attr(node, "href").split("#", 1)[0]
            name = unquote(href.rsplit("/", 1)[-1]).replace("_", " ")
            if ":" in name:
                names.append(name.split(":", 1)[1].strip())
        elif node.tag == "li" and attr(node, "data-name"):
            names.append(norm(attr(node, "data-name")))
    return names


def _catlinks(marks: Landmarks, fallbacks: list[LexborNode]) -> LexborNode | None:
    return marks.catlinks or next(
        (node for node in fallbacks if attr(node, "id") == "catlinks"), None)


def _categories(catlinks: LexborNode | None, config: WikiConfig,
                fallback_names: list[str]) -> tuple[str, ...]:
    """#catlinks (shown, then hidden), wgCategories; else Parsoid's category links and
    Fandom's category list."""
    names: list[str] = []
    if catlinks is not None:
        for anchor in catlinks.css("li a"):
            names.append(norm(anchor.text()))
    names.extend(config.categories)
    if not names:
        names = fallback_names
    seen: set[str] = set()
    unique = []
    for name in names:
        if name and name not in seen:
            seen.add(name)
            unique.append(name)
    return tuple(unique)


def _revision(tree: LexborHTMLParser, config: WikiConfig,
              fallbacks: list[LexborNode]) -> int | None:
    """wgRevisionId; else the "Permanent link" oldid; else Parsoid's <html about=".../N">."""
    if config.revision_id:
        return config.revision_id
    for node in fallbacks:
        if attr(node, "id") == "t-permalink":
            revision = _permalink_revision(node)
            if revision is not None:
                return revision
    match = _RE_ABOUT_REVISION.search(attr(tree.root, "about"))
    return int(match.group(1)) if match else None


def _image_src(img: LexborNode, resolver: Resolver) -> str | None:
    return resolver.resolve(attr(img, "src") or attr(img, "data-src"))


def _infobox(box: LexborNode | None, resolver: Resolver) -> tuple[tuple[tuple[str, str], ...],
                                                                  str | None]:
    if box is None:
        return (), None
    pairs: list[tuple[str, str]] = []
    if box.tag == "aside":
        for item in box.css(".pi-data"):
            key = norm((item.css_first(".pi-data-label") or item).text())
            value_node = item.css_first(".pi-data-value")
            value = rendered_text(value_node) if value_node is not None else ""
            if key and value:
                pairs.append((tidy(key), tidy(value)))
    else:
        for row in box.css("tr"):
            key = value = ""
            for cell in row.iter():
                tag_id = cell.tag_id
                if tag_id == _TH_ID and not key:
                    key = norm(cell.text())
                elif tag_id == _TD_ID:
                    if not key and "infobox-label" in class_tokens(cell):
                        key = norm(cell.text())
                    else:
                        value = (value + " " + rendered_text(cell)).strip()
            if key and value:
                pairs.append((tidy(key), tidy(value)))
    img = box.css_first("img")
    return tuple(pairs), (_image_src(img, resolver) if img is not None else None)


def _og_image(head: Head, resolver: Resolver) -> str | None:
    """The og:image; of several sizes of one picture, the smallest (MediaWiki lists its
    1200/800/640 px thumbnails; 640 px is the one its own apps show)."""
    if not head.og_images:
        return None
    sized = [(width, url) for url, width in head.og_images if width]
    url = min(sized)[1] if len(sized) == len(head.og_images) else head.og_images[0][0]
    return resolver.resolve(url)


def parse_mediawiki(tree: LexborHTMLParser, url: str, *, max_links: int = 5000,
                    head: Head | None = None) -> Page:
    """Extract an article from a MediaWiki page (any skin, Parsoid or PCS HTML)."""
    head = head if head is not None else read_head(tree, scripts=True)
    config = read_config(head.scripts)
    base = page_base(head, url)
    resolver = Resolver(base)
    marks = find_landmarks(tree)
    fallbacks = _fallbacks(tree, marks, config)
    root = marks.root
    title = page_title(marks, head, config)
    canonical_raw = head.link("canonical") or head.first("og:url") or head.link("dc:isversionof")
    canonical = resolver.resolve(canonical_raw) if canonical_raw else None
    hosts = {h for h in (resolver.host, Resolver(url).host,
                         resolver.host_of(canonical) if canonical else "") if h}
    html_node = tree.root
    language = (attr(html_node, "lang") if html_node is not None else "") or (
        attr(tree.body, "lang") if tree.body is not None else "") or config.language or None

    # What the junk removal may take away is read first: the revision, the category
    # links; the category box is read after it, as it is kept (and its junk removed).
    revision = _revision(tree, config, fallbacks)
    fallback_names = _fallback_categories(fallbacks)
    catlinks = _catlinks(marks, fallbacks)
    links: list[Link] = []
    infobox: tuple[tuple[str, str], ...] = ()
    infobox_image = None
    summary = text = ""
    if root is not None:
        # The revision box is in the subtitle, or in the root when that is the whole body.
        for container in (*marks.subtitles, *([root] if marks.whole_body else [])):
            for revision_box in container.css(_REVISION_BOX):
                revision_box.decompose()
        reader = LinkReader(resolver, url.split("#", 1)[0], hosts,
                             article_prefix((canonical or "", url, base),
                                            config.page_name or title, config.article_path),
                             title, relative=not marks.skinned)
        for node in see_also_nodes(headings_under(tree, root)):
            reader.read([node] if node.tag == "a" else node.css(_ANCHORS), "see_also",
                        max_links)
        # Parsoid and PCS HTML link the page's notes as "./Dog#cite_note-1", hundreds of
        # them, and saved copies as "https://host/wiki/Dog#cite_note-1": they are no
        # links, and are left out of the lookup. (In a skin's HTML they are
        # "#cite_note-1", left out already, and the filter would cost for nothing: saved
        # copies are told by their first link.)
        if not marks.skinned:
            own = reader.own_sections_filter()
        else:
            first = root.css_first(_ANCHORS)
            own = reader.own_sections_filter(absolute=True) if first is not None and \
                attr(first, "href").startswith(reader.article_base) else ""
        reader.read(root.css(_ANCHORS + own), "internal", max_links)
        for subtitle in marks.subtitles:  # subpage breadcrumbs: "< HE:Kassel"
            reader.read(subtitle.css(_ANCHORS), "internal", max_links)
        links = reader.links
        red_links = frozenset(reader.red_urls)
        box, breaks = remove_junk(root, [catlinks])
        infobox, infobox_image = _infobox(box, resolver)  # (its <br>s split values)
        for br in breaks:  # a line break is a space between words in running text
            br.replace_with("\n")
        summary, text = _lead_and_text(walk_blocks(root, skip_container, is_wikitable))

    found = has_words(title, summary, text)
    return Page(
        url=url, kind="article" if found else "other", title=title,
        canonical_url=canonical, summary=summary, text=text, links=tuple(links),
        image=_og_image(head, resolver) or infobox_image,
        categories=_categories(catlinks, config, fallback_names),
        revision_id=revision,
        infobox=infobox, language=language, parser=NAME, red_links=red_links,
    )


def _lead_and_text(blocks: list[tuple[str, str]]) -> tuple[str, str]:
    """The lead (the first run of <p> paragraphs, before the next heading) and all the text."""
    lead: list[str] = []
    lead_done = False
    parts: list[str] = []
    for kind, raw in blocks:
        content = norm(tidy(raw)) if has_debris(raw) else raw
        if not content:
            continue
        parts.append(content)
        if lead_done:
            continue
        if kind in HEADINGS:
            lead_done = bool(lead)
        elif kind == "p":
            lead.append(content)
    return "\n\n".join(lead), "\n\n".join(parts)
