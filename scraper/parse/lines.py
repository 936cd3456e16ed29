"""Visible lines of a run of nodes (listing pages): their text split at <br> and block
boundaries, each line marked when it is emphasised (bold, a heading, a "title" class)."""

from __future__ import annotations

from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from scraper.parse.blocks import HEADINGS, INLINE, MAX_DEPTH, TAG_NAMES, TEXT_ID
from scraper.parse.html import norm

EMPHASIS = frozenset({"b", "strong"}) | HEADINGS
LINE_SKIP = frozenset({"script", "style", "noscript", "template", "img", "svg", "picture",
                        "video", "audio", "iframe", "object", "input", "select", "textarea",
                        "button", "head", "title", "meta", "link", "-comment"})


@dataclass(slots=True)
class Line:
    text: str
    emphasised: bool


@dataclass(slots=True)
class Lines:
    """Visible lines of a run of nodes: split at <br> and block boundaries.

    A line is emphasised when its emphasised parts hold at least 90 % of its characters
    (spaces and line breaks not counted). The counting is done only for a line with
    both kinds of parts: a line with visible text and no emphasised part is not
    emphasised, one with emphasised parts only is.
    """

    lines: list[Line] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    emphasised_parts: list[str] = field(default_factory=list)

    def add(self, text: str, emphasised: bool) -> None:
        self.parts.append(text)
        if emphasised:
            self.emphasised_parts.append(text)

    def newline(self) -> None:
        parts = self.parts
        if parts:
            text = norm("".join(parts))
            if text:
                emphasised = self.emphasised_parts
                if not emphasised:
                    strong = False
                elif len(emphasised) == len(parts):
                    strong = True
                else:
                    strong = _chars(emphasised) >= _chars(parts) * 0.9
                self.lines.append(Line(text, strong))
            parts.clear()
            self.emphasised_parts.clear()


def _chars(parts: list[str]) -> int:
    """The characters of `parts` but spaces and line breaks."""
    text = "".join(parts)
    return len(text) - text.count(" ") - text.count("\n")


def collect(node: LexborNode, out: Lines, emphasised: bool, depth: int,
             skip: set[int]) -> None:
    tag_id = node.tag_id  # (an id and a dict lookup cost half of reading .tag)
    if tag_id == TEXT_ID:
        out.add(node.text_content or "", emphasised)
        return
    tag = TAG_NAMES.get(tag_id)
    if tag is None:
        tag = node.tag or ""
        if not tag or tag.startswith("-"):
            return  # a comment or another node that is no element
    if tag == "br":
        out.newline()
        return
    if tag in LINE_SKIP:
        return
    if node.mem_id in skip:
        out.newline()  # an entry's own links separate the text around them
        return
    if depth > MAX_DEPTH:
        out.add(" " + (node.text() or "") + " ", emphasised)
        return
    block = tag not in INLINE
    # ("title" in a class token: in the class attribute, which has no space in a token)
    if not emphasised and (tag in EMPHASIS or
                           "title" in (node.attributes.get("class") or "").lower()):
        emphasised = True
    if block and out.parts:
        out.newline()
    for child in node.iter(include_text=True):
        collect(child, out, emphasised, depth + 1, skip)
    if block and out.parts:
        out.newline()


def tag_name(node: LexborNode) -> str:
    """node.tag ("" for None), from a dict for the usual tags."""
    return TAG_NAMES.get(node.tag_id) or node.tag or ""


def collect_until(node: LexborNode, out: Lines, stop: int, skip: set[int],
                   depth: int) -> bool:
    """The lines of node's children up to the node `stop`; True once it is met."""
    for child in node.iter(include_text=True):
        if child.mem_id == stop:
            return True
        tag = child.tag or ""
        if tag == "-text":
            out.add(child.text_content or "", False)
        elif tag == "br" or child.mem_id in skip:
            out.newline()
        elif tag in LINE_SKIP or tag.startswith("-"):
            continue
        elif depth > MAX_DEPTH:
            return True
        else:
            block = tag not in INLINE
            if block:
                out.newline()
            if collect_until(child, out, stop, skip, depth + 1):
                return True
            if block:
                out.newline()
    return False
