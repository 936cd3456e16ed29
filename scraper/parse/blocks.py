"""The readable text of a subtree as paragraphs, headings, list items and table rows."""

from __future__ import annotations

from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.html import norm

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
INLINE = frozenset({
    "-text", "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i",
    "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    "wbr", "big", "strike", "tt", "nobr", "label", "ruby", "rt", "rp", "del", "ins",
})
# Never text: skipped wherever they are.
SKIP_TAGS = frozenset({
    "script", "style", "noscript", "template", "link", "meta", "head", "title", "button",
    "input", "select", "textarea", "svg", "math", "iframe", "object", "embed", "video",
    "audio", "canvas", "map", "img", "picture", "source", "track", "form", "nav", "-comment",
    "hr", "br", "area", "param", "dialog", "menu",
})
MAX_DEPTH = 150  # deeper than this a subtree is read as one run of text


def _tag_ids(names: frozenset[str]) -> frozenset[int]:
    """Lexbor's numeric ids of tag names: comparing ints costs half of reading `.tag`."""
    maker = LexborHTMLParser("")
    return frozenset(maker.create_node(name).tag_id for name in names if name[0] != "-")


TEXT_ID = 2  # Lexbor's ids of text and comment nodes
_COMMENT_ID = 4
_INLINE_IDS = _tag_ids(INLINE)
_RUN_IDS = _INLINE_IDS | {TEXT_ID, _COMMENT_ID}  # what a run of text is made of
_CELL_IDS = _tag_ids(frozenset({"td", "th"}))
# Names of the usual block tags by id (reading .tag costs twice a dict lookup); only
# standard tags, whose ids are the same in every document.
TAG_NAMES = {tag_id: name for name, tag_id in (
    (name, LexborHTMLParser("").create_node(name).tag_id) for name in (
        "p", "div", "table", "ul", "ol", "li", "dl", "dd", "dt", "section", "pre", "blockquote",
        "center", "figure", "aside", "main", "article", "header", "footer", "nav", "tbody",
        "tr", "td", "th", "caption", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "form",
        "details", "summary", "figcaption", "address", "fieldset", "style", "script",
        "noscript", "link", "meta", "img", "br", "iframe", "svg", "math", "template",
        "picture", "video", "audio", "object", "input", "select", "textarea", "button",
        "head", "title", *(name for name in INLINE if name[0] != "-")))
    if tag_id < 1000}


class Blocks:
    """Text collected by walk_blocks as (kind, text); kind is p (a <p>), h1..h6, li, row, or
    text (loose text between blocks)."""

    __slots__ = ("_after_break", "_buf", "br_splits", "items")

    def __init__(self, br_splits: bool = False) -> None:
        self.items: list[tuple[str, str]] = []
        self._buf: list[str] = []
        self._after_break = False
        self.br_splits = br_splits

    def add_inline(self, text: str) -> None:
        self._buf.append(text)
        if self._after_break and not text.isspace():
            self._after_break = False

    def add_break(self, kind: str) -> None:
        """A <br>: a line break inside a paragraph; two in a row end the paragraph."""
        if self._after_break or self.br_splits:
            self.flush(kind)
        else:
            self._buf.append("\n")
            self._after_break = True

    def flush(self, kind: str = "text") -> None:
        self._after_break = False
        if self._buf:
            text = "".join(self._buf)
            self._buf.clear()
            if text.isspace():  # (the usual case: the white space between two blocks)
                return
            text = norm(text)
            if text:
                self.items.append((kind, text))

    def emit(self, kind: str, text: str) -> None:
        text = norm(text)
        if text:
            self.items.append((kind, text))


def _never(node: LexborNode, tag: str = "") -> bool:
    return False


def walk_blocks(
    root: LexborNode,
    skip: Callable[[LexborNode, str], bool] = _never,
    table_rows: Callable[[LexborNode], bool] = _never,
    *,
    br_splits: bool = False,
) -> list[tuple[str, str]]:
    """The readable text under `root` as paragraphs, headings, list items and table rows.

    Only the block structure is walked in Python; each paragraph's text comes from Lexbor
    in one call, so words keep the spacing they are rendered with. `skip(node, tag)` says
    which containers to leave out; `table_rows(table)` which tables to read row by row
    (other tables are walked as containers unless skipped). With `br_splits`, each <br>
    ends a paragraph (for short values such as an infobox cell's lines).
    """
    blocks = Blocks(br_splits)
    _walk(root, blocks, skip, table_rows, 0, "text")
    blocks.flush()
    return blocks.items


def rendered_text(node: LexborNode, separator: str = ", ") -> str:
    """The text of a small subtree with its blocks (list items, lines) kept apart."""
    # Most cells hold text and inline elements only: walk_blocks then reads one block,
    # the node's whole text.
    if _RUN_IDS.issuperset([child.tag_id for child in node.iter(include_text=True)]):
        return norm(node.text())
    return separator.join(text for _, text in walk_blocks(node, br_splits=True))


def _walk(node: LexborNode, blocks: Blocks, skip: Callable[[LexborNode, str], bool],
          table_rows: Callable[[LexborNode], bool], depth: int, kind: str) -> None:
    if depth > MAX_DEPTH:
        blocks.add_inline(" " + (node.text() or "") + " ")
        return
    children = list(node.iter(include_text=True))
    ids = [child.tag_id for child in children]
    if _RUN_IDS.issuperset(ids):
        # Only text and inline elements (a list item, a caption): one call reads it all.
        blocks.add_inline(node.text())
        return
    buf = blocks._buf  # (add_inline inlined: most children are text between blocks)
    for child, tag_id in zip(children, ids, strict=True):
        if tag_id == TEXT_ID:
            text = child.text_content or ""
            buf.append(text)
            if blocks._after_break and not text.isspace():
                blocks._after_break = False
            continue
        if tag_id in _INLINE_IDS:
            blocks.add_inline(child.text())
            continue
        if tag_id == _COMMENT_ID:
            continue
        tag = TAG_NAMES.get(tag_id) or child.tag or ""
        if tag == "br":
            blocks.add_break(kind)
        elif tag in SKIP_TAGS:
            continue
        elif tag == "p" or tag == "pre":
            blocks.flush(kind)
            blocks.emit("p", child.text())
        elif tag in HEADINGS:
            blocks.flush(kind)
            blocks.emit(tag, child.text())
        elif tag == "table" and table_rows(child):
            blocks.flush(kind)
            blocks.items.extend(("row", line) for line in row_lines(child))
        elif skip(child, tag):
            blocks.flush(kind)
        else:
            blocks.flush(kind)
            sub = "li" if tag in ("li", "dd", "dt") else "text"
            _walk(child, blocks, skip, table_rows, depth + 1, sub)
            blocks.flush(sub)



def row_lines(table: LexborNode) -> list[str]:
    """A table read row by row: the cells of each row joined by " | "."""
    lines = []
    for row in table.css("tr"):
        cells = [cell.text() for cell in row.iter() if cell.tag_id in _CELL_IDS]
        # norm() spelled out (a cell's text mostly ends with a line break, so the row
        # goes through split() anyway): one call less per row of a long table.
        line = " ".join(" | ".join([c for c in cells if c and not c.isspace()]).split())
        if line:
            lines.append(line)
    return lines


def unread_containers(root: LexborNode, skip: Callable[[LexborNode, str], bool],
                      table_rows: Callable[[LexborNode], bool],
                      max_depth: int = 1) -> list[LexborNode]:
    """Containers whose subtree walk_blocks(root, skip, table_rows) does not read (those it
    skips), found as _walk finds them, down to `max_depth` levels of containers under
    root (deeper ones are not looked for: the walk costs about what finding them saves).

    Removing nodes from the tree (junk) only takes containers off this list, so what it
    says before a removal holds after it.
    """
    out: list[LexborNode] = []
    _unread(root, skip, table_rows, 0, min(max_depth, MAX_DEPTH), out)
    return out


def _unread(node: LexborNode, skip: Callable[[LexborNode, str], bool],
            table_rows: Callable[[LexborNode], bool], depth: int, max_depth: int,
            out: list[LexborNode]) -> None:
    # Elements only: text and comments never change what _walk does with the others.
    children = list(node.iter())
    ids = [child.tag_id for child in children]
    if _RUN_IDS.issuperset(ids):
        return  # read as one run of text
    for child, tag_id in zip(children, ids, strict=True):
        if tag_id in _RUN_IDS:
            continue
        tag = child.tag or ""
        if tag == "br" or tag == "p" or tag == "pre" or tag in HEADINGS:
            continue
        if tag in SKIP_TAGS:
            out.append(child)
        elif tag == "table" and table_rows(child):
            continue
        elif skip(child, tag):
            out.append(child)
        elif depth < max_depth:
            _unread(child, skip, table_rows, depth + 1, max_depth, out)
