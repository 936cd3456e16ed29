"""PageDiff renderings: text for people, a stable JSON structure, and a unified diff (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from scraper.diff.engine import EntryChange, FieldChange, PageDiff, TextChange
from scraper.diff.html import render_html
from scraper.diff.paragraphs import ParagraphOp, split_paragraphs
from scraper.diff.sequences import diff_sequences
from scraper.diff.words import WordOp, elide
from scraper.models import Entry, Link
from scraper.timeutil import iso

# Bumped when a key is renamed or removed or its meaning changes; adding keys does not.
DIFF_JSON_VERSION = 1
_PREVIEW = 120  # characters shown of a moved paragraph

Styler = Callable[[str, str], str]  # (role, text) -> styled text


# -- text --------------------------------------------------------------------------------

def _plain_style(role: str, text: str) -> str:
    # Inline changes get git's --word-diff=plain marks; whole lines already carry + or -.
    if role == "delete":
        return f"[-{text}-]"
    if role == "insert":
        return f"{{+{text}+}}"
    return text


def _color_style(role: str, text: str) -> str:
    import click  # only the text renderer with colour needs it

    if role == "delete":
        return click.style(text, fg="red", strikethrough=True)
    if role == "insert":
        return click.style(text, fg="green", bold=True)
    if role == "removed":
        return click.style(text, fg="red")
    if role == "added":
        return click.style(text, fg="green")
    if role == "header":
        return click.style(text, bold=True)
    if role == "meta":
        return click.style(text, fg="cyan")
    return text


def _words(ops: Sequence[WordOp], style: Styler) -> str:
    return "".join(style(tag, text) if tag in ("insert", "delete") else text
                   for tag, text in elide(ops))


def _side(label: str, version: int | None, revision: int | None, fetched: datetime | None
          ) -> str:
    parts = [label] + ([f"version {version}"] if version is not None else [])
    if revision is not None:
        parts.append(f"revision {revision}")
    if fetched is not None:
        parts.append(f"fetched {iso(fetched)}")
    return "  ".join(parts)


def render_text(d: PageDiff, *, color: bool) -> str:
    """The diff for a person: headers with both sides' versions, then what changed."""
    style: Styler = _color_style if color else _plain_style
    lines = [style("header", f"diff {d.url}" + (f"  ({d.new_title})" if d.new_title else "")),
             style("meta", _side("---", d.old_version, d.old_revision_id, d.old_fetched_at)),
             style("meta", _side("+++", d.new_version, d.new_revision_id, d.new_fetched_at))]
    if d.is_empty:
        lines.append("no change")
        return "\n".join(lines) + "\n"
    lines.append(f"changes: {d.gist()}")
    for label, change in (("title", d.title), ("summary", d.summary)):
        if change is not None:
            lines += ["", style("header", f"{label} ({change.kind}):"),
                      "  " + _words(change.words, style)]
    if d.text.changed:
        lines += ["", style("header", "text:")]
        lines += _text_ops(d.text.ops, style)
    if d.links_added or d.links_removed or d.links_retitled:
        lines += ["", style("header", "links:")]
        lines += ["  " + style("removed", f"- {ln.kind} {_link(ln)}") for ln in d.links_removed]
        lines += ["  " + style("added", f"+ {ln.kind} {_link(ln)}") for ln in d.links_added]
        lines += [f"  ~ {new.kind} <{new.url}>: {style('removed', old.title)} → "
                  f"{style('added', new.title)}" for old, new in d.links_retitled]
    if d.categories_added or d.categories_removed:
        lines += ["", style("header", "categories:")]
        lines += ["  " + style("removed", f"- {c}") for c in d.categories_removed]
        lines += ["  " + style("added", f"+ {c}") for c in d.categories_added]
    if d.infobox_changes:
        lines += ["", style("header", "infobox:")]
        lines += [_field_line(c, style) for c in d.infobox_changes]
    if d.entries_added or d.entries_removed or d.entries_changed or d.entries_reordered:
        lines += ["", style("header", "entries:")]
        for entry in d.entries_removed:
            lines += _entry_lines("-", entry, style, "removed")
        for entry in d.entries_added:
            lines += _entry_lines("+", entry, style, "added")
        for entry_change in d.entries_changed:
            lines += _entry_change_lines(entry_change, style)
        if d.entries_reordered:
            lines.append("  entries reordered")
    if d.field_changes:
        lines += ["", style("header", "fields:")]
        lines += [_field_line(c, style) for c in d.field_changes]
    return "\n".join(lines) + "\n"


def _link(link: Link) -> str:
    return f"{link.title} <{link.url}>" if link.title else f"<{link.url}>"


def _field_line(change: FieldChange, style: Styler) -> str:
    if change.old is None:
        return "  " + style("added", f"+ {change.key}: {change.new}")
    if change.new is None:
        return "  " + style("removed", f"- {change.key}: {change.old}")
    return f"  ~ {change.key}: {style('removed', change.old)} → {style('added', change.new)}"


def _entry_lines(sign: str, entry: Entry, style: Styler, role: str) -> list[str]:
    head = f"{sign} {entry.title}" + (f" <{entry.more_info}>" if entry.more_info else "")
    lines = ["  " + style(role, head)]
    if entry.summary:
        summary = entry.summary + (" ..." if entry.summary_truncated else "")
        lines.append("      " + style(role, summary))
    return lines


def _entry_change_lines(change: EntryChange, style: Styler) -> list[str]:
    lines = [f"  ~ {change.new.title}" + (f" <{change.key}>" if change.key != change.new.title
                                          else "")]
    if change.summary is not None:
        lines.append("      summary: " + _words(change.summary.words, style))
    for field in change.fields:
        lines.append("    " + _field_line(field, style))
    return lines


def _span(index: int | None, count: int) -> str:
    if index is None:
        return "¶?"
    return f"¶{index + 1}" if count == 1 else f"¶{index + 1}–{index + count}"


def _text_ops(ops: Sequence[ParagraphOp], style: Styler) -> list[str]:
    lines: list[str] = []
    for op in ops:
        if op.op == "replace":
            lines.append(f"  {_span(op.new_index, 1)} edited: " + _words(op.words, style))
        elif op.op == "insert":
            lines.append(f"  {_span(op.new_index, len(op.new))} added:")
            lines += ["    " + style("added", "+ " + p) for p in op.new]
        elif op.op == "delete":
            lines.append(f"  {_span(op.old_index, len(op.old))} removed:")
            lines += ["    " + style("removed", "- " + p) for p in op.old]
        elif op.op == "move":
            lines.append(f"  {_span(op.old_index, len(op.old))} moved to "
                         f"{_span(op.new_index, len(op.new))}:")
            lines += [f"    ↕ {_preview(p)}" for p in op.new]
    return lines


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[:_PREVIEW].rstrip() + " …"


# -- json --------------------------------------------------------------------------------

def _when(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _change_json(change: TextChange | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"kind": change.kind, "old": change.old, "new": change.new,
            "words": [[tag, text] for tag, text in change.words]}


def _field_json(change: FieldChange, key: str = "key") -> dict[str, Any]:
    return {key: change.key, "change": change.kind, "old": change.old, "new": change.new}


def _link_json(link: Link) -> dict[str, str]:
    return {"url": link.url, "title": link.title, "kind": link.kind}


def entry_json(entry: Entry) -> dict[str, Any]:
    return {"title": entry.title, "summary": entry.summary,
            "summary_truncated": entry.summary_truncated, "image": entry.image,
            "more_info": entry.more_info, "related": entry.related,
            "search_links": [{"name": n, "url": u} for n, u in entry.search_links]}


def _op_json(op: ParagraphOp) -> dict[str, Any]:
    if op.op == "equal":
        return {"op": "equal", "old_index": op.old_index, "new_index": op.new_index,
                "count": len(op.new)}
    if op.op == "replace":
        return {"op": "replace", "old_index": op.old_index, "new_index": op.new_index,
                "old": op.old[0], "new": op.new[0],
                "words": [[tag, text] for tag, text in op.words]}
    if op.op == "insert":
        return {"op": "insert", "new_index": op.new_index, "paragraphs": list(op.new)}
    if op.op == "delete":
        return {"op": "delete", "old_index": op.old_index, "paragraphs": list(op.old)}
    return {"op": "move", "old_index": op.old_index, "new_index": op.new_index,
            "paragraphs": list(op.new)}


def diff_to_json(d: PageDiff) -> dict[str, Any]:
    """The documented JSON structure of a diff (docs/diff.md); `version` names its shape."""
    return {
        "format": "scraper-diff",
        "version": DIFF_JSON_VERSION,
        "url": d.url,
        "old": {"version": d.old_version, "revision_id": d.old_revision_id,
                "fetched_at": _when(d.old_fetched_at), "title": d.old_title},
        "new": {"version": d.new_version, "revision_id": d.new_revision_id,
                "fetched_at": _when(d.new_fetched_at), "title": d.new_title},
        "empty": d.is_empty,
        "gist": d.gist(),
        "title": _change_json(d.title),
        "summary": _change_json(d.summary),
        "text": {"counts": d.text.counts(),
                 "ops": [_op_json(op) for op in d.text.ops]},
        "links": {
            "added": [_link_json(ln) for ln in d.links_added],
            "removed": [_link_json(ln) for ln in d.links_removed],
            "retitled": [{"url": new.url, "kind": new.kind, "old_title": old.title,
                          "new_title": new.title} for old, new in d.links_retitled],
        },
        "categories": {"added": list(d.categories_added),
                       "removed": list(d.categories_removed)},
        "infobox": [_field_json(c) for c in d.infobox_changes],
        "entries": {
            "added": [entry_json(e) for e in d.entries_added],
            "removed": [entry_json(e) for e in d.entries_removed],
            "changed": [{"key": c.key, "title": c.new.title, "summary": _change_json(c.summary),
                         "fields": [_field_json(f, "field") for f in c.fields]}
                        for c in d.entries_changed],
            "reordered": d.entries_reordered,
        },
        "fields": [_field_json(c, "field") for c in d.field_changes],
    }


# -- unified -----------------------------------------------------------------------------

def page_plain_text(title: str, summary: str, paragraphs: Sequence[str]) -> str:
    """The plain text a unified diff compares: title, summary, then the paragraphs,
    separated by blank lines, ending with a newline."""
    blocks = [title, summary, *paragraphs]
    return "\n\n".join(blocks) + "\n"


def _body(summary: str, text: str) -> list[str]:
    """The text's paragraphs, without a lead that repeats the summary."""
    paragraphs = split_paragraphs(text)
    lead = split_paragraphs(summary)
    if lead and paragraphs[:len(lead)] == lead:
        return paragraphs[len(lead):]
    return paragraphs


def plain_texts(d: PageDiff) -> tuple[str, str]:
    """Both sides as the plain text of page_plain_text (a lead equal to the summary once)."""
    return (page_plain_text(d.old_title, d.old_summary, _body(d.old_summary, d.old_text)),
            page_plain_text(d.new_title, d.new_summary, _body(d.new_summary, d.new_text)))


def _label(d: PageDiff, new: bool) -> str:
    version = d.new_version if new else d.old_version
    fetched = d.new_fetched_at if new else d.old_fetched_at
    name = f"{d.url}@{version}" if version is not None else d.url
    return name + (f"\t{iso(fetched)}" if fetched is not None else "")


def render_unified(d: PageDiff, *, context: int = 3) -> str:
    """A unified diff of both sides' plain text (page_plain_text), for patch tools.

    Empty when the plain texts are equal (changes in links or fields only).
    """
    old_text, new_text = plain_texts(d)
    if old_text == new_text:
        return ""
    a = old_text.splitlines(keepends=True)
    b = new_text.splitlines(keepends=True)
    out = [f"--- {_label(d, False)}\n", f"+++ {_label(d, True)}\n"]
    for group in _grouped(diff_sequences(a, b), context):
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [" " + line for line in a[a1:a2]]
                continue
            out += ["-" + line for line in a[a1:a2]]
            out += ["+" + line for line in b[b1:b2]]
    return "".join(out)


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1
    if length == 1:
        return f"{first}"
    if length == 0:
        first -= 1  # an empty range names the line before it
    return f"{first},{length}"


def _grouped(opcodes: list[tuple[str, int, int, int, int]], n: int
             ) -> list[list[tuple[str, int, int, int, int]]]:
    """Hunks of opcodes with up to n lines of context (difflib's get_grouped_opcodes)."""
    codes = list(opcodes)
    if not codes:
        return []
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    groups: list[list[tuple[str, int, int, int, int]]] = []
    group: list[tuple[str, int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return [g for g in groups if any(op[0] != "equal" for op in g)]


__all__ = ["DIFF_JSON_VERSION", "diff_to_json", "entry_json",
           "page_plain_text", "plain_texts", "render_html", "render_text", "render_unified"]
