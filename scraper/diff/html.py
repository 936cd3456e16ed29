"""A PageDiff as one self-contained HTML page, old and new side by side (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from scraper.diff.engine import EntryChange, FieldChange, PageDiff
from scraper.diff.paragraphs import ParagraphOp
from scraper.diff.words import WordOp, elide
from scraper.models import Entry, Link
from scraper.timeutil import iso

_CONTEXT = 160  # characters of unchanged text kept around each change
_EQUAL_PREVIEW = 300  # characters shown of an unchanged paragraph next to a change

# Inline, no external assets: the page must read the same offline and in any browser.
_CSS = """
:root { color-scheme: light dark; --del: #ffe1e1; --ins: #dcf5dc; --mv: #e6ecff;
  --line: #ccc; --muted: #666; }
@media (prefers-color-scheme: dark) {
  :root { --del: #5a2326; --ins: #1f4a25; --mv: #27345a; --line: #555; --muted: #aaa; } }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.gist, .meta { color: var(--muted); margin: .2em 0; }
table.diff { border-collapse: collapse; width: 100%; table-layout: fixed; margin-top: 1em; }
table.diff th, table.diff td { border: 1px solid var(--line); padding: .35em .5em;
  vertical-align: top; text-align: left; overflow-wrap: anywhere; white-space: pre-wrap; }
table.diff col.label { width: 9em; }
tr.section th { background: rgba(127,127,127,.15); font-size: 1.05em; }
td.empty { background: rgba(127,127,127,.06); }
del { background: var(--del); text-decoration: line-through; }
ins { background: var(--ins); text-decoration: none; }
.moved { background: var(--mv); }
.elided, .note { color: var(--muted); font-style: italic; }
td p { margin: 0 0 .6em; } td p:last-child { margin-bottom: 0; }
"""
# The style sheet render_html_fragment's markup reads best with, for pages that embed it
# (scraper serve's diff view).
HTML_DIFF_CSS = _CSS


def render_html(d: PageDiff) -> str:
    """One page, old left and new right, deletions in <del> and insertions in <ins>."""
    name = d.new_title or d.old_title or d.url
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>Diff: {escape(name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        f"<h1>Changes to {_href(d.url, name)}</h1>\n",
        render_html_fragment(d), "</body>\n</html>\n",
    ])


def render_html_fragment(d: PageDiff) -> str:
    """The gist and the side-by-side table of render_html, without the page around them: for
    embedding (an Atom entry's content). The classes are render_html's; without its style
    sheet <del> and <ins> still read as deletions and insertions."""
    rows: list[str] = []
    for label, change in (("Title", d.title), ("Summary", d.summary)):
        if change is not None:
            rows.append(_section(label))
            rows.append(_row(label.lower(), _old_words(change.words), _new_words(change.words)))
    if d.text.changed:
        rows.append(_section("Text"))
        rows += _text_rows(d.text.ops)
    if d.links_added or d.links_removed or d.links_retitled:
        rows.append(_section("Links"))
        rows += [_row(ln.kind, f"<del>{_link(ln)}</del>", "") for ln in d.links_removed]
        rows += [_row(ln.kind, "", f"<ins>{_link(ln)}</ins>") for ln in d.links_added]
        rows += [_row(new.kind, f"<del>{_link(old)}</del>", f"<ins>{_link(new)}</ins>")
                 for old, new in d.links_retitled]
    if d.categories_added or d.categories_removed:
        rows.append(_section("Categories"))
        rows += [_row("category", f"<del>{escape(c)}</del>", "") for c in d.categories_removed]
        rows += [_row("category", "", f"<ins>{escape(c)}</ins>") for c in d.categories_added]
    if d.infobox_changes:
        rows.append(_section("Infobox"))
        rows += [_field_row(c) for c in d.infobox_changes]
    if d.entries_added or d.entries_removed or d.entries_changed or d.entries_reordered:
        rows.append(_section("Entries"))
        rows += [_row("entry", f"<del>{_entry(e)}</del>", "") for e in d.entries_removed]
        rows += [_row("entry", "", f"<ins>{_entry(e)}</ins>") for e in d.entries_added]
        rows += [_entry_change_row(c) for c in d.entries_changed]
        if d.entries_reordered:
            rows.append(_row("order", "", '<span class="note">entries reordered</span>'))
    if d.field_changes:
        rows.append(_section("Fields"))
        rows += [_field_row(c) for c in d.field_changes]
    if not rows:
        rows.append(_row("", '<span class="note">no change</span>',
                         '<span class="note">no change</span>'))
    gist = "no change" if d.is_empty else d.gist()
    return "".join([
        f'<p class="gist">{escape(gist)}</p>\n',
        '<table class="diff">\n<colgroup><col class="label"><col><col></colgroup>\n',
        "<thead><tr><th></th>",
        f'<th class="old">Old: {_side(d.old_version, d.old_revision_id, d.old_fetched_at)}</th>',
        f'<th class="new">New: {_side(d.new_version, d.new_revision_id, d.new_fetched_at)}</th>',
        "</tr></thead>\n<tbody>\n", "\n".join(rows), "\n</tbody>\n</table>\n",
    ])


def _side(version: int | None, revision: int | None, fetched: datetime | None) -> str:
    parts = [f"version {version}"] if version is not None else []
    if revision is not None:
        parts.append(f"revision {revision}")
    if fetched is not None:
        parts.append(f"fetched {iso(fetched)}")
    return escape(" · ".join(parts) or "-")


def _href(url: str, text: str) -> str:
    # Scraped URLs are data: only http(s) ones become links (no javascript: or data:).
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)


def _link(link: Link) -> str:
    title = link.title or link.url
    return f"{_href(link.url, title)} <span class=\"meta\">{escape(link.url)}</span>"


def _section(label: str) -> str:
    return f'<tr class="section"><th colspan="3">{escape(label)}</th></tr>'


def _row(label: str, old: str, new: str, *, cls: str = "") -> str:
    old_cls = "old" + (f" {cls}" if cls else "") + ("" if old else " empty")
    new_cls = "new" + (f" {cls}" if cls else "") + ("" if new else " empty")
    return (f"<tr><th>{escape(label)}</th><td class=\"{old_cls}\">{old}</td>"
            f"<td class=\"{new_cls}\">{new}</td></tr>")


def _elided(ops: Sequence[WordOp]) -> list[tuple[str, str]]:
    return elide(ops, _CONTEXT)


def _old_words(ops: Sequence[WordOp]) -> str:
    parts = []
    for tag, text in _elided(ops):
        if tag == "equal":
            parts.append(escape(text))
        elif tag == "delete":
            parts.append(f"<del>{escape(text)}</del>")
        elif tag == "elided":
            parts.append('<span class="elided">…</span>')
    return "".join(parts)


def _new_words(ops: Sequence[WordOp]) -> str:
    parts = []
    for tag, text in _elided(ops):
        if tag == "equal":
            parts.append(escape(text))
        elif tag == "insert":
            parts.append(f"<ins>{escape(text)}</ins>")
        elif tag == "elided":
            parts.append('<span class="elided">…</span>')
    return "".join(parts)


def _para_label(index: int | None, count: int = 1) -> str:
    if index is None:
        return ""
    return f"¶{index + 1}" if count == 1 else f"¶{index + 1}–{index + count}"


def _preview(text: str) -> str:
    if len(text) <= _EQUAL_PREVIEW:
        return escape(text)
    return escape(text[:_EQUAL_PREVIEW].rstrip()) + '<span class="elided"> …</span>'


def _text_rows(ops: Sequence[ParagraphOp]) -> list[str]:
    rows: list[str] = []
    last = len(ops) - 1
    for k, op in enumerate(ops):
        if op.op == "equal":
            rows += _equal_rows(op, show_first=k > 0, show_last=k < last)
        elif op.op == "replace":
            rows.append(_row(_para_label(op.new_index), _old_words(op.words),
                             _new_words(op.words)))
        elif op.op == "insert":
            body = "".join(f"<p><ins>{escape(p)}</ins></p>" for p in op.new)
            rows.append(_row(_para_label(op.new_index, len(op.new)), "", body))
        elif op.op == "delete":
            body = "".join(f"<p><del>{escape(p)}</del></p>" for p in op.old)
            rows.append(_row(_para_label(op.old_index, len(op.old)), body, ""))
        elif op.op == "move":
            note = (f'<span class="note">moved from {_para_label(op.old_index, len(op.old))} '
                    f"to {_para_label(op.new_index, len(op.new))}</span>")
            body = "".join(f"<p>{escape(p)}</p>" for p in op.new)
            rows.append(_row(_para_label(op.new_index, len(op.new)), note, body, cls="moved"))
    return rows


def _equal_rows(op: ParagraphOp, *, show_first: bool, show_last: bool) -> list[str]:
    """Unchanged paragraphs: the ones touching a change as context, the rest counted."""
    paras = op.new
    new_index = op.new_index or 0
    shown_first = 1 if show_first else 0
    shown_last = 1 if show_last and len(paras) > shown_first else 0
    rows = []
    if shown_first:
        text = _preview(paras[0])
        rows.append(_row(_para_label(new_index), text, text))
    hidden = len(paras) - shown_first - shown_last
    if hidden:
        note = f'<span class="note">{hidden} unchanged paragraph{"s" if hidden > 1 else ""}</span>'
        rows.append(_row("", note, note))
    if shown_last:
        text = _preview(paras[-1])
        rows.append(_row(_para_label(new_index + len(paras) - 1), text, text))
    return rows


def _entry(entry: Entry) -> str:
    head = _href(entry.more_info, entry.title) if entry.more_info else escape(entry.title)
    summary = escape(entry.summary) + (" …" if entry.summary_truncated else "")
    return f"<strong>{head}</strong>" + (f"<br>{summary}" if entry.summary else "")


def _entry_change_row(change: EntryChange) -> str:
    if change.old.title != change.new.title:
        old = [f"<strong><del>{escape(change.old.title)}</del></strong>"]
        new = [f"<strong><ins>{escape(change.new.title)}</ins></strong>"]
    else:
        old = [f"<strong>{escape(change.old.title)}</strong>"]
        new = [f"<strong>{escape(change.new.title)}</strong>"]
    if change.summary is not None:
        old.append(_old_words(change.summary.words))
        new.append(_new_words(change.summary.words))
    for field in change.fields:
        if field.key == "title":
            continue  # shown in the headings above
        old.append(f"{escape(field.key)}: <del>{escape(field.old or '')}</del>")
        new.append(f"{escape(field.key)}: <ins>{escape(field.new or '')}</ins>")
    return _row("entry", "<br>".join(old), "<br>".join(new))


def _field_row(change: FieldChange) -> str:
    old = f"<del>{escape(change.old)}</del>" if change.old is not None else ""
    new = f"<ins>{escape(change.new)}</ins>" if change.new is not None else ""
    return _row(change.key, old, new)
