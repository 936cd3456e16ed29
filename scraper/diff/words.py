"""Word diffs of texts of any size: narrowed by lines, unique probes and sentences, then tokens."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rapidfuzz.distance import Postfix, Prefix

from scraper.diff.sequences import (
    WORK_PER_ITEM,
    WorkBudget,
    heaviest_common_blocks,
    matching_blocks,
)

WordOp = tuple[str, str]  # ("equal" | "insert" | "delete", text)
# Characters of unchanged text kept on each side of a change when a diff is shown.
CONTEXT_CHARS = 80

# Word tokens: runs of word characters, runs of whitespace, single other characters.
# Joining the tokens gives the text back exactly.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
_JOINED = re.compile(r"\w\w|\s\s")  # two characters the tokenizer keeps in one token
# Lines, each with the blank lines after it: paragraphs stay whole, and a blank line
# (which is everywhere) is never a unit of its own.
_LINE = re.compile(r".*\n\s*|.+")
# Sentence-like chunks: up to a terminator (and the spaces after it) or a line end.
_SENTENCE = re.compile(r"[^.!?;\n]*(?:[.!?;]+\s*|\n\s*)|[^.!?;\n]+")
# Word runs cut after a seven-letter word (see _split_word_runs).
_RUN_CUT = re.compile(r" [^ \n]{7} +")
# A probe: three words and what separates them, from a word's start to a word's end.
_PROBE = re.compile(r"\b\w+\W+\w+\W+\w+\b")
# Regions larger than this (characters, both sides) with line breaks are cut into lines
# first: one regular-expression pass leaves one region per run of edited paragraphs.
_LINES_FIRST = 40_000
# Other regions of at least this size are split at a phrase found once on each side.
_PROBE_MIN = 48
# Regions no phrase splits are tokenised whole below this size (characters, both sides);
# larger ones are cut into sentences, then word runs, first.
_WORD_DIRECT = 4000
# How far a common prefix or suffix is walked back to reach a token boundary; a longer
# token (a base64 blob, say) is cut where it differs instead.
_SNAP_LIMIT = 256
# A region this small (tokens, both sides) with no token in common is one replacement.
_SMALL = 24

# Common prefix and suffix lengths, computed in C: a Python binary search over slices
# costs ten times as much, and a dense edit pays it two or three times.
_prefix_len = Prefix.similarity
_suffix_len = Postfix.similarity


def tokenize(text: str) -> list[str]:
    """Word, whitespace-run and single-punctuation tokens; "".join(tokenize(t)) == t."""
    return _TOKEN.findall(text)


def _split_word_runs(text: str) -> list[str]:
    """Runs of words, each ending after a seven-letter word (about one word in ten).

    Content-defined cuts: an insertion moves no cut elsewhere, so text without sentence
    punctuation still splits into units that match between versions.
    """
    cuts = [m.end() for m in _RUN_CUT.finditer(text)]
    return [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)]) if i < j]


# Units a region is cut into, coarsest first, each diffed by unique units: lines (level
# 0) only in large regions before any phrase is looked for; sentences and word runs in
# regions no phrase splits. Each narrows the text to tokenise to the parts that differ.
_LEVELS: tuple[Callable[[str], list[str]], ...] = (
    _LINE.findall, _SENTENCE.findall, _split_word_runs)


def diff_words(a: str, b: str) -> list[WordOp]:
    """Word-level ops ("equal" | "insert" | "delete", text) turning `a` into `b`.

    Joining the equal and delete texts gives `a` back, equal and insert give `b`.
    The common prefix and suffix are cut off first; what is left is split at short
    phrases found once on each side (large texts: at unchanged lines or sentences), so
    that only the few words around each change are tokenised and compared.
    """
    if a == b:
        return [("equal", a)] if a else []
    raw: list[WordOp] = []
    # Shared by every region's sequence diff: a text of many pathological regions still
    # costs work in proportion to its length (about one unit per character).
    _diff(a, b, 0, raw, WorkBudget((len(a) + len(b)) // WORK_PER_ITEM))
    return cleanup(raw)


def _diff(a: str, b: str, level: int, out: list[WordOp], budget: WorkBudget) -> None:
    """Append the ops turning `a` into `b`."""
    if not a or not b or a == b:
        if a and a == b:
            out.append(("equal", a))
        elif a:
            out.append(("delete", a))
        elif b:
            out.append(("insert", b))
        return
    len_a, len_b = len(a), len(b)
    p = _prefix_len(a, b)
    if p and _inside_token(a[p - 1], a[p:p + 1], b[p:p + 1]):
        p = _snap_prefix(a, p)
    s = min(_suffix_len(a, b), min(len_a, len_b) - p)
    if s and _inside_token(a[len_a - s], a[len_a - s - 1:len_a - s], b[len_b - s - 1:len_b - s]):
        s = _snap_suffix(a, s)
    if p:
        out.append(("equal", a[:p]))
    end_a, end_b = len_a - s, len_b - s
    if p == end_a:
        out.append(("insert", b[p:end_b]))
    elif p == end_b:
        out.append(("delete", a[p:end_a]))
    else:
        mid_a, mid_b = a[p:end_a], b[p:end_b]
        if mid_a.isalnum() and mid_b.isalnum():
            out.append(("delete", mid_a))  # one word for another: the usual edit
            out.append(("insert", mid_b))
        else:
            _diff_middle(mid_a, mid_b, level, out, budget)
    if s:
        out.append(("equal", a[end_a:]))


def _inside_token(shared: str, a_side: str, b_side: str) -> bool:
    """Whether a cut falls inside a token of either text.

    `shared` is the character both texts have on one side of the cut; `a_side` and
    `b_side` are each text's character on the other side ("" at its end). The same test
    as _JOINED, with string methods, which cost half as much as two regex calls.
    """
    if shared.isspace():
        return a_side.isspace() or b_side.isspace()
    if shared.isalnum() or shared == "_":
        return a_side.isalnum() or a_side == "_" or b_side.isalnum() or b_side == "_"
    return False


def _snap_prefix(a: str, p: int) -> int:
    """Walk a common prefix length that ends inside a token back to the token's start.

    Below `p` both texts are the same, so a boundary of `a` is one of the other text too.
    """
    q = p - 1
    stop = p - _SNAP_LIMIT
    while q > 0:
        if q <= stop:
            return p
        if _JOINED.match(a, q - 1) is None:
            return q
        q -= 1
    return 0


def _snap_suffix(a: str, s: int) -> int:
    """Walk a common suffix length that starts inside a token forward to the token's end."""
    end = len(a)
    q = s - 1
    stop = s - _SNAP_LIMIT
    while q > 0:
        if q <= stop:
            return s
        if _JOINED.match(a, end - q - 1) is None:
            return q
        q -= 1
    return 0


def _diff_middle(a: str, b: str, level: int, out: list[WordOp], budget: WorkBudget
                 ) -> None:
    """Append the ops for two texts that differ at both ends.

    `level` is the coarsest of _LEVELS still to try on them.
    """
    size = len(a) + len(b)
    if level == 0 and size > _LINES_FIRST and "\n" in a and "\n" in b:
        lines_a, lines_b = _LEVELS[0](a), _LEVELS[0](b)
        if len(lines_a) > 2 or len(lines_b) > 2:
            _diff_units(lines_a, lines_b, 1, out, budget)
            return
    if size >= _PROBE_MIN:
        anchor = _find_anchor(a, b)
        if anchor is not None:
            i, j, n = anchor
            _diff(a[:i], b[:j], level, out, budget)
            out.append(("equal", a[i:i + n]))
            _diff(a[i + n:], b[j + n:], level, out, budget)
            return
    level = max(level, 1)
    while level < len(_LEVELS) and size > _WORD_DIRECT:
        units_a, units_b = _LEVELS[level](a), _LEVELS[level](b)
        level += 1
        if len(units_a) <= 2 and len(units_b) <= 2:
            continue  # this level does not cut the text: try a finer one
        _diff_units(units_a, units_b, level, out, budget)
        return
    _diff_tokens(a, b, out, budget)


def _find_anchor(a: str, b: str) -> tuple[int, int, int] | None:
    """A place (i, j, n) where a[i:i+n] == b[j:j+n] is a phrase found once in each text.

    A phrase of three words is looked for at the middle of `a`, then at a quarter and
    three quarters, so that the parts left on each side are about even and the
    recursion shallow. Found once on each side, it is the same place in both texts
    (patience diff's rule) unless it was moved: see _is_detour.
    """
    size = len(a)
    for start in (size // 2, size // 4, size * 3 // 4):
        match = _PROBE.search(a, start)
        if match is None:
            continue
        probe = match.group()
        i, n = match.start(), len(probe)
        j = b.find(probe)
        if j < 0 or a.find(probe) != i or a.find(probe, i + n) >= 0 or b.find(probe, j + 1) >= 0:
            continue
        before, after = b[j - 1:j], b[j + n:j + n + 1]
        if before.isalnum() or before == "_" or after.isalnum() or after == "_":
            continue  # inside a longer word of b
        if not _is_detour(a, b, i, j, n):
            return i, j, n
    return None


def _is_detour(a: str, b: str, i: int, j: int, n: int) -> bool:
    """Whether matching a[i:i+n] with b[j:j+n] would cost more edits than it saves.

    Going from the start of both texts to their ends, the offset (j - i) moves by what
    is inserted or deleted. An anchor whose offset leaves that line and comes back (a
    passage moved) forces at least that detour in changed characters; left unmatched,
    the unchanged run around it costs twice its length (deleted, then inserted). When
    the detour costs more, the finer levels, which weigh every unique word, decide.
    """
    offset, offset_end = j - i, len(b) - len(a)
    detour = abs(offset) + abs(offset_end - offset) - abs(offset_end)
    if detour <= 2 * n:
        return False
    run = n + _suffix_len(a[:i], b[:j]) + _prefix_len(a[i + n:], b[j + n:])
    return detour > 2 * run


def _diff_units(units_a: list[str], units_b: list[str], level: int, out: list[WordOp],
                budget: WorkBudget) -> None:
    """Append the ops of two texts cut into units: runs of changed units are diffed finer."""
    i = j = 0
    blocks = matching_blocks(units_a, units_b, budget=budget)
    for bi, bj, n in [*blocks, (len(units_a), len(units_b), 0)]:
        if i < bi and j < bj:
            olds, news = units_a[i:bi], units_b[j:bj]
            if len(olds) > 1 and len(olds) == len(news) and all(map(_edited, olds, news)):
                for old, new in zip(olds, news):  # units edited in place: each on its own
                    _diff(old, new, level, out, budget)
            else:
                _diff("".join(olds), "".join(news), level, out, budget)
        elif i < bi:
            out.append(("delete", "".join(units_a[i:bi])))
        elif j < bj:
            out.append(("insert", "".join(units_b[j:bj])))
        if n:
            out.append(("equal", "".join(units_a[bi:bi + n])))
        i, j = bi + n, bj + n


def _edited(old: str, new: str) -> bool:
    """Whether two units keep at least half of the longer one at their start and end.

    A run of changed paragraphs (or sentences) is usually each edited in place; diffed
    pair by pair, none is searched for in the others. Pairs that are not alike so (a
    unit removed here, another added there) are diffed as one text instead.
    """
    kept = _prefix_len(old, new) + _suffix_len(old, new)
    return 2 * kept >= max(len(old), len(new))


def _diff_tokens(a: str, b: str, out: list[WordOp], budget: WorkBudget) -> None:
    """Append the ops of two texts diffed token by token."""
    tokens_a, tokens_b = _TOKEN.findall(a), _TOKEN.findall(b)
    if len(tokens_a) + len(tokens_b) <= _SMALL:
        if set(tokens_a).isdisjoint(tokens_b):
            out.append(("delete", a))  # the usual one-word edit: nothing in common
            out.append(("insert", b))
            return
        # Few tokens: the exact alignment that keeps the most characters, so a shared
        # word wins over a shared space (which ties with it by count).
        blocks = heaviest_common_blocks(tokens_a, tokens_b)
    else:
        blocks = matching_blocks(tokens_a, tokens_b, budget=budget)
    i = j = 0
    for bi, bj, n in blocks:
        if i < bi:
            out.append(("delete", "".join(tokens_a[i:bi])))
        if j < bj:
            out.append(("insert", "".join(tokens_b[j:bj])))
        out.append(("equal", "".join(tokens_a[bi:bi + n])))
        i, j = bi + n, bj + n
    if i < len(tokens_a):
        out.append(("delete", "".join(tokens_a[i:])))
    if j < len(tokens_b):
        out.append(("insert", "".join(tokens_b[j:])))


# -- cleanup ----------------------------------------------------------------------------

# An equal run this short, between two changes at least as long, is folded into them:
# "[-Alice-] [-walked-]" reads better as one change than as two around a space.
_ABSORB_MAX = 12


_Change = tuple[list[str], list[str]]  # deleted and inserted pieces of one change


def cleanup(ops: list[WordOp]) -> list[WordOp]:
    """Coalesce ops (deletes before inserts in each change) and fold trivial equal runs."""
    # Equal runs (str) alternating with changes ([deleted pieces, inserted pieces]); the
    # pieces are joined once at the end, so merging never copies a long text twice.
    seq: list[str | _Change] = []
    equal: list[str] = []
    change: _Change | None = None
    for tag, text in ops:
        if not text:
            continue
        if tag == "equal":
            if change is not None:
                seq.append(change)
                change = None
            equal.append(text)
            continue
        if change is None:
            if equal:
                seq.append("".join(equal))
                equal = []
            change = ([], [])
        change[tag != "delete"].append(text)
    if change is not None:
        seq.append(change)
    elif equal:
        seq.append("".join(equal))
    _slide_to_boundaries(seq)
    result: list[WordOp] = []
    pending: _Change | None = None  # the last change, which a short equal run may extend
    k = 0
    while k < len(seq):
        item = seq[k]
        k += 1
        if not isinstance(item, str):
            pending = item
            continue
        if pending is not None and k < len(seq) and len(item) <= _ABSORB_MAX:
            after = seq[k]
            if not isinstance(after, str) and _foldable(item, pending, after):
                pending[0].append(item)
                pending[0].extend(after[0])
                pending[1].append(item)
                pending[1].extend(after[1])
                k += 1
                continue
        if pending is not None:
            _write_change(pending, result)
            pending = None
        result.append(("equal", item))
    if pending is not None:
        _write_change(pending, result)
    return result


def _slide_to_boundaries(seq: list[str | _Change]) -> None:
    """Move each lone insertion or deletion to the place among its equivalents that reads best.

    "A. [-The cat. -]The dog." and "A. The [-cat. The -]dog." are the same edit: the
    place whose cuts fall at line, then sentence, then word ends wins; of equals, the
    later one (where a common prefix taken first puts it).
    """
    first = 1 if seq and isinstance(seq[0], str) else 2  # changes and equal runs alternate
    for k in range(first, len(seq) - 1, 2):
        change, before, after = seq[k], seq[k - 1], seq[k + 1]
        if isinstance(change, str) or not isinstance(before, str) or not isinstance(after, str):
            continue
        deleted, inserted = change
        if deleted and inserted:
            continue
        pieces = deleted or inserted
        text = pieces[0] if len(pieces) == 1 else "".join(pieces)
        # How far it can move and stay the same edit, keeping an equal run on each side.
        left = min(_suffix_len(before, text), len(before) - 1) if text[-1] == before[-1] else 0
        right = min(_prefix_len(text, after), len(after) - 1) if text[0] == after[0] else 0
        if left <= 0 and right <= 0:
            continue
        if left + right == 1 and len(text) > 1:
            # Across one space (the usual case), the place after it reads at least as well
            # as the one before (_placement_score: 2 or 3 for each cut after a space, at
            # most 5 in all for the other place); it is taken unless it cuts a token.
            if left and text[-1] == " " and not (text[0].isspace() or after[0].isspace()):
                continue
            if right and text[0] == " " and not (text[1].isspace() or after[1].isspace()):
                seq[k - 1], seq[k + 1] = before + " ", after[1:]
                seq[k] = ([text[1:] + " "], []) if deleted else ([], [text[1:] + " "])
                continue
        context = min(left + 2, len(before))
        window = before[len(before) - context:] + text + after[:right + 2]
        best, best_score = 0, -1
        for shift in range(-left, right + 1):
            score = _placement_score(window, context + shift, context + shift + len(text))
            if score >= best_score and score >= 0:
                best, best_score = shift, score
        if best < 0:
            seq[k - 1], text, seq[k + 1] = (before[:best], before[best:] + text[:best],
                                            text[best:] + after)
        elif best > 0:
            seq[k - 1], text, seq[k + 1] = (before + text[:best], text[best:] + after[:best],
                                            after[best:])
        else:
            continue
        seq[k] = ([text], []) if deleted else ([], [text])


def _placement_score(window: str, start: int, end: int) -> int:
    """How well window[start:end] reads as an insertion or a deletion; -1: it cuts a token.

    The scores of its cuts, at both its ends and where it was in the other version: 5
    after a line break, 4 before one, 3 after a sentence, 2 by a space, 1 elsewhere.
    """
    total = 0
    for at, after in ((start, window[start]), (end, window[end]), (start, window[end])):
        before = window[at - 1]
        if before.isspace():
            if after.isspace():
                return -1
            total += 5 if before == "\n" else 3 if at >= 2 and window[at - 2] in ".!?;:" else 2
        elif after.isspace():
            total += 4 if after == "\n" else 2
        elif (before.isalnum() or before == "_") and (after.isalnum() or after == "_"):
            return -1
        else:
            total += 1
    return total


def _write_change(change: _Change, result: list[WordOp]) -> None:
    if change[0]:
        result.append(("delete", "".join(change[0])))
    if change[1]:
        result.append(("insert", "".join(change[1])))


def _foldable(equal: str, before: _Change, after: _Change) -> bool:
    """Whether an equal run (at most _ABSORB_MAX long) between two changes joins them."""
    if not equal.strip():
        return True
    # A short word or mark between two changes at least as long as it.
    size = len(equal)
    return (size <= 3 and size <= max(_length(before[0]), _length(before[1]))
            and size <= max(_length(after[0]), _length(after[1])))


def _length(pieces: list[str]) -> int:
    return sum(map(len, pieces))


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
