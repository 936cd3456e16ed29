"""What of a MediaWiki article is running text: the containers left out, and the junk removed."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.blocks import unread_containers
from scraper.parse.formulas import FORMULA_CLASSES, FORMULA_SELECTOR, replace_formulas
from scraper.parse.html import class_tokens

# Removed before reading text (after the links are taken): reference marks (sup.reference in
# skins, sup.mw-ref in Parsoid and REST HTML), edit links,
# hidden and print-less bits ([citation needed], [update], "listen" audio links),
# what MediaWiki marks as not for excerpts (pronunciation audio, short descriptions),
# coordinates, and invisible markup. (<br>s are found in the same pass: they become
# spaces once the infobox, whose values they split, is read.)
_JUNK = (".reference, .mw-ref, .mw-editsection, .noprint, .noexcerpt, .ext-phonos, "
         ".geo-nondefault, style, #coordinates, [style*=\"display:none\"], br")
_BR_ID = LexborHTMLParser("").create_node("br").tag_id
# What the selectors above can match, as a superset: ASCII case folded (class and id
# selectors ignore case in quirks mode), attribute values split at any whitespace.
_JUNK_CLASSES = frozenset({"reference", "mw-ref", "mw-editsection", "noprint", "noexcerpt",
                           "ext-phonos", "geo-nondefault"})
# ".infobox" covers "table.infobox": one selector less to match on every element.
_INFOBOX = ".infobox, aside.portable-infobox"

# Containers that are not running text: boxes, navigation, media, maintenance notices.
_SKIP_CLASSES = frozenset({
    "infobox", "portable-infobox", "navbox", "vertical-navbox", "navbox-styles", "sidebar",
    "toc", "toclimit-2", "toclimit-3", "toclimit-4", "hatnote", "dablink", "rellink",
    "thumb", "gallery", "wikia-gallery", "reflist", "references", "mw-references-wrap",
    "references-small", "metadata", "ambox", "ombox", "tmbox", "mbox-small", "sistersitebox",
    "portal", "portalbox", "catlinks", "printfooter", "shortdescription",
    "pcs-collapse-table-container", "authority-control", "navigation-not-searchable",
    "mw-authority-control", "mw-indicators", "side-box", "box-Multiple_issues", "notice",
    "mw-kartographer-maplink", "switcher-container",
})
_SKIP_IDS = frozenset({"toc", "catlinks", "coordinates", "siteSub", "contentSub", "jump-to-nav",
                       "siteNotice", "mw-navigation", "footer", "references"})
_SKIP_TAGS = frozenset({"table", "aside", "figure", "header", "footer", "nav", "gallery"})


def skip_container(node: LexborNode, tag: str) -> bool:
    """True for the containers whose text is not the article's (walk_blocks' `skip`)."""
    if tag in _SKIP_TAGS:
        return True
    # (.attributes builds a dict of a few entries: cheaper than attrs.get(), which raises
    # and catches a KeyError inside when the attribute is missing)
    value = node.attributes.get("class")
    if value and not _SKIP_CLASSES.isdisjoint(value.split()):
        return True
    ident = node.id  # (a sixth of attrs.get("id"): no attribute has "id" as local name only)
    return bool(ident) and ident in _SKIP_IDS


def is_wikitable(table: LexborNode) -> bool:
    return "wikitable" in class_tokens(table)


def remove_junk(root: LexborNode, keep: list[LexborNode | None]
                ) -> tuple[LexborNode | None, list[LexborNode]]:
    """Remove the junk under `root` (once its links are read); return the infobox (the
    first under root after the removal) and the <br>s left.

    The junk selectors cost a pass over every element each, and more than half of an
    article's elements are in boxes, navigation and reference lists, whose text is not
    read: so the containers that the text walk leaves out are emptied first, and the
    junk is looked for in what is left. The result is the same where anything is
    read afterwards: the text, the infobox, and the nodes in `keep` (what the categories
    and the revision are read from), whose containers are not emptied. The infobox is
    the first one before the removal, when nothing around it can be junk (else the old
    way: remove the junk everywhere, then look).
    """
    box = root.css_first(_INFOBOX)
    kept: set[int] = set()
    scoped = True
    if box is not None:
        chain = _chain(box, root)
        if any(_may_be_junk(node) for node in chain):
            scoped = False
        kept.update(node.mem_id for node in chain)
    for node in keep:
        if node is not None:
            kept.update(node.mem_id for node in _chain(node, root))
    if scoped:
        for container in unread_containers(root, skip_container, is_wikitable):
            if container.mem_id not in kept:
                container.inner_html = ""  # (the cheapest way to drop all its children)
    # Formulas first: their MathML copy is hidden, which a junk selector may match.
    replace_formulas(root.css(FORMULA_SELECTOR))
    breaks: list[LexborNode] = []
    for node in root.css(_JUNK):
        if node.tag_id == _BR_ID:
            breaks.append(node)
        else:
            node.decompose()
    if not scoped:
        box = root.css_first(_INFOBOX)
    return box, breaks


def _chain(node: LexborNode, root: LexborNode) -> list[LexborNode]:
    """`node` and its ancestors up to `root` (included); [] when root is not one of them."""
    chain = []
    stop = root.mem_id
    current: LexborNode | None = node
    while current is not None:
        chain.append(current)
        if current.mem_id == stop:
            return chain
        current = current.parent
    return []


def _may_be_junk(node: LexborNode) -> bool:
    """False when no junk selector can match the node (whatever the quirks mode), nor a
    formula's (which is replaced)."""
    if not node.is_element_node:
        return False
    if node.tag in ("style", "br", "math"):
        return True
    attrs = node.attrs
    value = attrs.get("class")
    if value and (not _JUNK_CLASSES.isdisjoint(value.lower().split()) or "mwe-math" in value
                  or not FORMULA_CLASSES.isdisjoint(value.lower().split())):
        return True
    value = attrs.get("id")
    if value and value.lower() == "coordinates":
        return True
    value = attrs.get("style")
    return value is not None and "display:none" in value.lower()
