"""The small wikitext subset of the built-in site, and its two renderings: article HTML and mirror text.

Syntax (all a topic's text is written in it, edits included):

    [[Target]] / [[Target|text]]  an internal link; the mirror echoes piped links as "Target, text"
    ''words''                     italic; the mirror keeps the '' marks
    {{words}}                     a template (pronunciation, motto): the mirror drops it
    <ref>words</ref>              a footnote [n]; the mirror drops it
    <ref inline>words</ref>       a footnote the mirror inlines (conversion debris)
    a line "* words"              a bullet item; the mirror writes "* words"
    a blank line                  a paragraph break
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

# A run of text: (kind, text, target) with kind text | link | italic | template | ref | refin
Seg = tuple[str, str, str]
# A block: ("p", (runs,)) or ("ul", (runs of item 1, runs of item 2, ...))
Block = tuple[str, tuple[tuple[Seg, ...], ...]]

_INLINE = re.compile(
    r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]"  # 1 target, 2 text
    r"|''(.+?)''"  # 3 italic
    r"|\{\{(.+?)\}\}"  # 4 template
    r"|<ref( inline)?>(.+?)</ref>",  # 5 inline flag, 6 footnote
    re.DOTALL,
)


def _runs(text: str) -> tuple[Seg, ...]:
    out: list[Seg] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append(("text", text[pos:m.start()], ""))
        if m.group(1) is not None:
            target = m.group(1).strip()
            out.append(("link", m.group(2) if m.group(2) is not None else target, target))
        elif m.group(3) is not None:
            out.append(("italic", m.group(3), ""))
        elif m.group(4) is not None:
            out.append(("template", m.group(4), ""))
        else:
            out.append(("refin" if m.group(5) else "ref", m.group(6), ""))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:], ""))
    return tuple(out)


def parse(text: str) -> tuple[Block, ...]:
    """Blocks of runs from wikitext."""
    blocks: list[Block] = []

    def flush(para: list[str], items: list[tuple[Seg, ...]]) -> None:
        if para:
            blocks.append(("p", (_runs(" ".join(para).strip()),)))
            para.clear()
        if items:
            blocks.append(("ul", tuple(items)))
            items.clear()

    for chunk in re.split(r"\n\s*\n", text.strip()):
        para: list[str] = []
        items: list[tuple[Seg, ...]] = []
        for line in chunk.split("\n"):
            if line.startswith("* "):
                flush(para, [])
                items.append(_runs(line[2:].strip()))
            else:
                flush([], items)
                para.append(line)
        flush(para, items)
    return tuple(blocks)


def _mirror_runs(runs: tuple[Seg, ...]) -> str:
    parts: list[str] = []
    for kind, text, target in runs:
        if kind == "link":
            parts.append(f"{target}, {text}" if text != target else text)
        elif kind == "italic":
            parts.append(f"''{text}''")
        elif kind == "refin" or kind == "text":
            parts.append(text)
        # templates and plain footnotes: the mirror's conversion drops them
    return "".join(parts)


def mirror_text(blocks: tuple[Block, ...]) -> str:
    """The text as the encyclopedia mirror shows it, with its conversion debris, on one line."""
    parts: list[str] = []
    for kind, rows in blocks:
        if kind == "p":
            parts.append(_mirror_runs(rows[0]))
        else:
            parts.extend("* " + _mirror_runs(item) for item in rows)
    return " ".join(p for p in parts if p)


def _italics_html(text: str) -> str:
    return re.sub(r"''(.+?)''", r"<i>\1</i>", html.escape(text, quote=False))


class HtmlWriter:
    """Renders blocks as MediaWiki parser output, numbering footnotes across one article.

    :param resolve: maps a link target to an href, or None when no such page exists
        (the link is then written as plain text).
    """

    def __init__(self, resolve: Callable[[str], tuple[str, str] | None]) -> None:
        self.resolve = resolve
        self.notes: list[str] = []  # footnote HTML, in order
        self.links = 0

    def runs(self, runs: tuple[Seg, ...]) -> str:
        parts: list[str] = []
        for kind, text, target in runs:
            if kind == "text":
                parts.append(html.escape(text, quote=False))
            elif kind == "link":
                found = self.resolve(target)
                if found is None:
                    parts.append(html.escape(text, quote=False))
                else:
                    href, title = found
                    self.links += 1
                    parts.append(f'<a href="{href}" title="{html.escape(title)}">'
                                 f"{html.escape(text, quote=False)}</a>")
            elif kind == "italic":
                parts.append(f"<i>{html.escape(text, quote=False)}</i>")
            elif kind == "template":
                parts.append(f'<span class="nowrap">{html.escape(text, quote=False)}</span>')
            else:
                self.notes.append(_italics_html(text))
                n = len(self.notes)
                parts.append(f'<sup id="cite_ref-{n}" class="reference">'
                             f'<a href="#cite_note-{n}">[{n}]</a></sup>')
        return "".join(parts)

    def blocks(self, blocks: tuple[Block, ...]) -> str:
        out: list[str] = []
        for kind, rows in blocks:
            if kind == "p":
                out.append(f"<p>{self.runs(rows[0])}\n</p>")
            else:
                items = "".join(f"<li>{self.runs(item)}</li>\n" for item in rows)
                out.append(f"<ul>{items}</ul>")
        return "\n".join(out)

    def references(self) -> str:
        """The <ol class="references"> of the footnotes written so far."""
        items = "".join(
            f'<li id="cite_note-{n}"><span class="mw-cite-backlink"><b>'
            f'<a href="#cite_ref-{n}">^</a></b></span> <span class="reference-text">{note}'
            f"</span>\n</li>\n"
            for n, note in enumerate(self.notes, 1))
        return f'<div class="reflist"><div class="mw-references-wrap"><ol class="references">\n' \
               f"{items}</ol></div></div>"
