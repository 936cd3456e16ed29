"""Word diffs of texts of any size: narrowed by lines and sentences, then tokens."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from scraper.diff.sequences import diff_sequences, prefix_len, suffix_len

WordOp = tuple[str, str]  # ("equal" | "insert" | "delete", text)
# Characters of unchanged text kept on each side of a change when a diff is shown.
CONTEXT_CHARS = 80

# Word tokens: runs of word characters, runs of whitespace, single other characters.
# Joining the tokens gives the text back exactly.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
_JOINED = re.compile(r"\w\w|\s\s")  # two characters the tokenizer keeps in one token
# Word runs cut after a seven-letter word (see _split_word_runs).
_RUN_CUT = re.compile(r" [^ \n]{7} +")
# Sentence-like chunks: up to a terminator (and the spaces after it) or a line end.
_SENTENCE = re.compile(r"[^.!?;\n]*(?:[.!?;]+\s*|\n\s*)|[^.!?;\n]+")
# Below this many characters (both sides) a region is tokenised into words directly.
_WORD_DIRECT = 400
# Texts longer than this, with at least _LINES_MIN lines a side, are tried line by line
# first.
_LINES_FIRST = 20_000
_LINES_MIN = 16
# How far a common prefix or suffix is walked back to reach a token boundary; a longer
# token (a base64 blob, say) is cut where it differs instead.
_SNAP_LIMIT = 256
# A region this small (tokens, both sides) with no token in common is one replacement.
_SMALL = 24


def tokenize(text: str) -> list[str]:
    """Word, whitespace-run and single-punctuation tokens; "".join(tokenize(t)) == t."""
    return _TOKEN.findall(text)


def _is_boundary(text: str, pos: int) -> bool:
    """True where the tokenizer cuts: not inside a run of word or of space characters."""
    return pos <= 0 or pos >= len(text) or _JOINED.match(text, pos - 1) is None


def _snap_prefix(a: str, b: str, p: int) -> int:
    """Walk a common prefix length back to a token boundary of both texts."""
    q = p
    while q > 0 and p - q < _SNAP_LIMIT:
        if _is_boundary(a, q) and _is_boundary(b, q):
            return q
        q -= 1
    return q if q == 0 else p


def _snap_suffix(a: str, b: str, s: int) -> int:
    q = s
    while q > 0 and s - q < _SNAP_LIMIT:
        if _is_boundary(a, len(a) - q) and _is_boundary(b, len(b) - q):
            return q
        q -= 1
    return q if q == 0 else s


def _split_sentences(text: str) -> list[str]:
    return _SENTENCE.findall(text)


def _split_word_runs(text: str) -> list[str]:
    """Runs of words, each ending after a seven-letter word (about one word in ten).

    Content-defined cuts: an insertion moves no cut elsewhere, so text without sentence
    punctuation still splits into units that match between versions.
    """
    cuts = [m.end() for m in _RUN_CUT.finditer(text)]
    return [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)]) if i < j]


# Coarse levels tried, in order, on large regions before words: each narrows the text
# that must be tokenised to the parts that differ.
_LEVELS: tuple[Callable[[str], list[str]], ...] = (_split_sentences, _split_word_runs)


def diff_words(a: str, b: str) -> list[WordOp]:
    """Word-level ops ("equal" | "insert" | "delete", text) turning `a` into `b`.

    Joining the equal and delete texts gives `a` back, equal and insert give `b`.
    Large texts are narrowed first by common prefix/suffix, then lines, then sentences,
    so only the parts that differ are tokenised.
    """
    raw: list[WordOp] = []
    _diff_text(a, b, 0, raw, lines=True)
    return cleanup(raw)


def _diff_text(a: str, b: str, level: int, out: list[WordOp], *, lines: bool = False) -> None:
    if a == b:
        if a:
            out.append(("equal", a))
        return
    p = prefix_len(a, b, 0, len(a), 0, len(b))
    p = _snap_prefix(a, b, p)
    s = suffix_len(a, b, p, len(a), p, len(b))
    s = _snap_suffix(a, b, s) if s else 0
    if p:
        out.append(("equal", a[:p]))
    mid_a, mid_b = a[p:len(a) - s], b[p:len(b) - s]
    if not mid_a or not mid_b:
        if mid_a:
            out.append(("delete", mid_a))
        if mid_b:
            out.append(("insert", mid_b))
    else:
        _diff_middle(mid_a, mid_b, level, out, lines=lines)
    if s:
        out.append(("equal", a[len(a) - s:]))


def _diff_lines_first(a: str, b: str, out: list[WordOp]) -> bool:
    """Diff by lines when most lines are unchanged (the usual revision); False otherwise.

    Lines are the cheapest cut (str.splitlines runs in C), but when edits touch most lines
    the per-line regions cost more than splitting the whole text into sentences.
    """
    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    if len(lines_a) < _LINES_MIN or len(lines_b) < _LINES_MIN:
        return False
    opcodes = diff_sequences(lines_a, lines_b)
    changed = sum(i2 - i1 + j2 - j1 for tag, i1, i2, j1, j2 in opcodes if tag != "equal")
    if changed * 4 > len(lines_a) + len(lines_b):
        return False
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            out.append(("equal", "".join(lines_a[i1:i2])))
        elif tag == "replace":
            _diff_text("".join(lines_a[i1:i2]), "".join(lines_b[j1:j2]), 0, out)
        elif tag == "delete":
            out.append(("delete", "".join(lines_a[i1:i2])))
        else:
            out.append(("insert", "".join(lines_b[j1:j2])))
    return True


def _diff_middle(a: str, b: str, level: int, out: list[WordOp], *, lines: bool = False
                 ) -> None:
    if lines and len(a) + len(b) > _LINES_FIRST and _diff_lines_first(a, b, out):
        return
    while level < len(_LEVELS) and len(a) + len(b) > _WORD_DIRECT:
        units_a, units_b = _LEVELS[level](a), _LEVELS[level](b)
        level += 1
        if len(units_a) <= 2 and len(units_b) <= 2:
            continue  # this level does not cut the text: try a finer one
        _emit_units(units_a, units_b, level, out)
        return
    tokens_a, tokens_b = tokenize(a), tokenize(b)
    if len(tokens_a) + len(tokens_b) <= _SMALL and set(tokens_a).isdisjoint(tokens_b):
        out.append(("delete", a))  # the usual one-word edit: nothing in common
        out.append(("insert", b))
        return
    for tag, i1, i2, j1, j2 in diff_sequences(tokens_a, tokens_b):
        if tag == "equal":
            out.append(("equal", "".join(tokens_a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("delete", "".join(tokens_a[i1:i2])))
        if j2 > j1:
            out.append(("insert", "".join(tokens_b[j1:j2])))


def _emit_units(units_a: list[str], units_b: list[str], level: int, out: list[WordOp]) -> None:
    for tag, i1, i2, j1, j2 in diff_sequences(units_a, units_b):
        if tag == "equal":
            out.append(("equal", "".join(units_a[i1:i2])))
        elif tag == "replace":
            _diff_text("".join(units_a[i1:i2]), "".join(units_b[j1:j2]), level, out)
        elif tag == "delete":
            out.append(("delete", "".join(units_a[i1:i2])))
        else:
            out.append(("insert", "".join(units_b[j1:j2])))


# -- cleanup ----------------------------------------------------------------------------

# An equal run this short, between two changes at least as long, is folded into them:
# "[-Alice-] [-walked-]" reads better as one change than as two around a space.
_ABSORB_MAX = 12


def cleanup(ops: list[WordOp]) -> list[WordOp]:
    """Coalesce ops (deletes before inserts in each change) and fold trivial equal runs."""
    groups: list[list[str]] = []  # [equal] or [deleted, inserted]
    for tag, text in ops:
        if not text:
            continue
        if tag == "equal":
            if groups and len(groups[-1]) == 1:
                groups[-1][0] += text
            else:
                groups.append([text])
            continue
        if not groups or len(groups[-1]) == 1:
            groups.append(["", ""])
        groups[-1][0 if tag == "delete" else 1] += text
    # Fold short equal runs sitting between two changes.
    folded: list[list[str]] = []
    k = 0
    while k < len(groups):
        group = groups[k]
        if (len(group) == 1 and folded and len(folded[-1]) == 2 and k + 1 < len(groups)
                and _foldable(group[0], folded[-1], groups[k + 1])):
            nxt = groups[k + 1]
            prev = folded[-1]
            prev[0] += group[0] + nxt[0]
            prev[1] += group[0] + nxt[1]
            k += 2
            continue
        folded.append(list(group))
        k += 1
    result: list[WordOp] = []
    for group in folded:
        if len(group) == 1:
            result.append(("equal", group[0]))
        else:
            if group[0]:
                result.append(("delete", group[0]))
            if group[1]:
                result.append(("insert", group[1]))
    return result


def _foldable(equal: str, before: list[str], after: list[str]) -> bool:
    if not equal.strip():
        return len(equal) <= _ABSORB_MAX
    # A short word or mark between two changes at least as long as it.
    size = len(equal)
    return (size <= 3 and size <= max(len(before[0]), len(before[1]))
            and size <= max(len(after[0]), len(after[1])))


def elide(ops: Sequence[WordOp], context: int = CONTEXT_CHARS) -> list[tuple[str, str]]:
    """Word ops with long unchanged runs cut to `context` characters around each change.

    The cut parts become ("elided", "…"). Used by the text and HTML renderings so that a
    one-word edit in a megabyte-long paragraph shows as one short line.
    """
    out: list[tuple[str, str]] = []
    last = len(ops) - 1
    for k, (tag, text) in enumerate(ops):
        if tag != "equal" or len(text) <= 2 * context + 10:
            out.append((tag, text))
            continue
        head = text[:context] if k > 0 else ""
        tail = text[-context:] if k < last else ""
        if k == 0 and k == last:
            head = text[:context]
        if head:
            out.append(("equal", head))
        out.append(("elided", "…"))
        if tail:
            out.append(("equal", tail))
    return out


def old_text(ops: Sequence[WordOp]) -> str:
    """The first text of a word diff (equal and deleted parts)."""
    return "".join(text for tag, text in ops if tag != "insert")


def new_text(ops: Sequence[WordOp]) -> str:
    """The second text of a word diff (equal and inserted parts)."""
    return "".join(text for tag, text in ops if tag != "delete")
