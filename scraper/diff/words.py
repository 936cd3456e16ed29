"""Sequence and word diffs that stay near-linear: patience anchors, bounded Myers, chunking."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

# (tag, i1, i2, j1, j2) as difflib's get_opcodes: equal, replace, delete, insert.
Opcode = tuple[str, int, int, int, int]
WordOp = tuple[str, str]  # ("equal" | "insert" | "delete", text)
# Characters of unchanged text kept on each side of a change when a diff is shown.
CONTEXT_CHARS = 80

# Myers is the fallback for regions without unique anchors; past this many edits in one
# region its O(D^2) inner loop costs more than it is worth, and the region is a replace.
MYERS_MAX_D = 256
# Total matching work allowed per element of input, so no input can make the diff quadratic.
# The units are elements scanned and Myers steps, each roughly a microsecond.
WORK_PER_ITEM = 4
WORK_BASE = 100_000
_SMALL = 24  # regions with fewer elements (both sides) skip the unique-anchor search

# Word tokens: runs of word characters, runs of whitespace, single other characters.
# Joining the tokens gives the text back exactly.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
# Sentence-like chunks: up to a terminator (and the spaces after it) or a line end.
_JOINED = re.compile(r"\w\w|\s\s")  # two characters the tokenizer keeps in one token
_RUN_CUT = re.compile(r" [^ \n]{7} +")
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


def matching_blocks(a: Sequence[Hashable], b: Sequence[Hashable], *,
                    max_d: int = MYERS_MAX_D) -> list[tuple[int, int, int]]:
    """Blocks (i, j, n) with a[i:i+n] == b[j:j+n], increasing in i and j, adjacent ones merged.

    Common prefix and suffix first, then unique elements common to both sides as anchors
    (their longest increasing subsequence, as patience diff), recursing between anchors;
    a region with no unique anchor falls back to Myers with at most `max_d` edits.
    """
    blocks: list[tuple[int, int, int]] = []
    budget = WORK_BASE + WORK_PER_ITEM * (len(a) + len(b))
    stack = [(0, len(a), 0, len(b))] if a and b else []
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        # Regions on the stack are never empty; the first-element tests avoid a call in
        # the common case of a region that starts and ends with a difference.
        if a[alo] == b[blo]:
            n = _prefix_len(a, b, alo, ahi, blo, bhi)
            blocks.append((alo, blo, n))
            alo += n
            blo += n
            if alo >= ahi or blo >= bhi:
                continue
        if a[ahi - 1] == b[bhi - 1]:
            n = _suffix_len(a, b, alo, ahi, blo, bhi)
            blocks.append((ahi - n, bhi - n, n))
            ahi -= n
            bhi -= n
            if alo >= ahi or blo >= bhi:
                continue
        if ahi - alo == 1 or bhi - blo == 1:
            _single_match(a, b, alo, ahi, blo, bhi, blocks)
            continue
        size = (ahi - alo) + (bhi - blo)
        budget -= size
        if budget < 0:
            continue  # out of budget: the rest of this region is a replace
        # Small regions (a changed word and the spaces around it) go straight to Myers:
        # counting uniques costs more there than the edit script.
        anchors = _unique_anchors(a, b, alo, ahi, blo, bhi) if size > _SMALL else []
        if anchors:
            pi, pj = alo, blo
            run_i, run_j, run_n = -1, -1, 0  # consecutive anchors make one block
            for i, j in anchors:
                if pi < i and pj < j:
                    stack.append((pi, i, pj, j))
                if run_i + run_n == i and run_j + run_n == j:
                    run_n += 1
                else:
                    if run_n:
                        blocks.append((run_i, run_j, run_n))
                    run_i, run_j, run_n = i, j, 1
                pi, pj = i + 1, j + 1
            blocks.append((run_i, run_j, run_n))
            if pi < ahi and pj < bhi:
                stack.append((pi, ahi, pj, bhi))
        elif not set(a[alo:ahi]).isdisjoint(b[blo:bhi]):
            # Myers may use what is left of the budget, and no more edits than max_d.
            found, steps = _myers(a, b, alo, ahi, blo, bhi, min(max_d, _isqrt(budget)))
            budget -= steps
            blocks.extend(found)
    blocks.sort()
    merged: list[tuple[int, int, int]] = []
    for i, j, n in blocks:
        if merged:
            pi, pj, pn = merged[-1]
            if pi + pn == i and pj + pn == j:
                merged[-1] = (pi, pj, pn + n)
                continue
        merged.append((i, j, n))
    return merged


def diff_sequences(a: Sequence[Hashable], b: Sequence[Hashable], *,
                   max_d: int = MYERS_MAX_D) -> list[Opcode]:
    """Opcodes turning `a` into `b`, shaped like difflib's SequenceMatcher.get_opcodes()."""
    ops: list[Opcode] = []
    i = j = 0
    for bi, bj, n in [*matching_blocks(a, b, max_d=max_d), (len(a), len(b), 0)]:
        if i < bi and j < bj:
            ops.append(("replace", i, bi, j, bj))
        elif i < bi:
            ops.append(("delete", i, bi, j, j))
        elif j < bj:
            ops.append(("insert", i, i, j, bj))
        if n:
            ops.append(("equal", bi, bi + n, bj, bj + n))
        i, j = bi + n, bj + n
    return ops


def _single_match(a: Sequence[Hashable], b: Sequence[Hashable], alo: int, ahi: int,
                  blo: int, bhi: int, blocks: list[tuple[int, int, int]]) -> None:
    """A region with one element on a side matches it at its first place on the other."""
    try:
        if ahi - alo == 1:
            blocks.append((alo, b.index(a[alo], blo, bhi), 1))
        else:
            blocks.append((a.index(b[blo], alo, ahi), blo, 1))
    except ValueError:
        pass


def _prefix_len(a: Sequence[Hashable], b: Sequence[Hashable],
                alo: int, ahi: int, blo: int, bhi: int) -> int:
    limit = min(ahi - alo, bhi - blo)
    if limit <= 0 or a[alo] != b[blo]:
        return 0
    # Binary search on slice equality: the comparisons run in C, so a long common run
    # costs a few slice copies instead of a Python loop over every element.
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[alo + lo:alo + mid] == b[blo + lo:blo + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _suffix_len(a: Sequence[Hashable], b: Sequence[Hashable],
                alo: int, ahi: int, blo: int, bhi: int) -> int:
    limit = min(ahi - alo, bhi - blo)
    if limit <= 0 or a[ahi - 1] != b[bhi - 1]:
        return 0
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[ahi - mid:ahi - lo] == b[bhi - mid:bhi - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _unique_anchors(a: Sequence[Hashable], b: Sequence[Hashable],
                    alo: int, ahi: int, blo: int, bhi: int) -> list[tuple[int, int]]:
    """Pairs (i, j) of elements unique in both regions, longest increasing run of j."""
    region_a = a[alo:ahi]
    region_b = b[blo:bhi]
    count_a = Counter(region_a)
    count_b = Counter(region_b)
    common = {x for x, n in count_a.items() if n == 1 and count_b.get(x) == 1}
    if not common:
        return []
    pos_b = {x: j for j, x in enumerate(region_b, blo) if x in common}
    pairs = [(i, pos_b[x]) for i, x in enumerate(region_a, alo) if x in common]
    return _longest_increasing(pairs)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by i) whose j values increase."""
    js = [j for _, j in pairs]
    if js == sorted(js):
        return pairs  # the usual case: unique elements kept their order
    tails: list[int] = []  # smallest last j of an increasing run of each length
    tail_at: list[int] = []  # index in pairs of that last element
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[pos] = j
            tail_at[pos] = k
        back[k] = tail_at[pos - 1] if pos else -1
    out: list[tuple[int, int]] = []
    k = tail_at[-1] if tail_at else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


def _isqrt(n: int) -> int:
    return int(max(n, 0) ** 0.5)


def _myers(a: Sequence[Hashable], b: Sequence[Hashable], alo: int, ahi: int, blo: int,
           bhi: int, max_d: int) -> tuple[list[tuple[int, int, int]], int]:
    """Matching blocks of a shortest edit script (or [] when it needs more than max_d
    edits), and the steps it took."""
    n, m = ahi - alo, bhi - blo
    dmax = min(n + m, max_d)
    off = dmax + 1
    v = [0] * (2 * dmax + 3)
    trace: list[list[int]] = []
    steps = 0
    for d in range(dmax + 1):
        trace.append(v[:])
        steps += d + 1
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]
            else:
                x = v[off + k - 1] + 1
            y = x - k
            # Follow the snake: a few steps inline, then by slices for long runs.
            run = 0
            while x < n and y < m and a[alo + x] == b[blo + y]:
                x += 1
                y += 1
                run += 1
                if run == 8:
                    grow = _prefix_len(a, b, alo + x, ahi, blo + y, bhi)
                    x += grow
                    y += grow
                    break
            v[off + k] = x
            if x >= n and y >= m:
                return _myers_backtrack(trace, d, n, m, off, alo, blo), steps
    return [], steps


def _myers_backtrack(trace: list[list[int]], dfinal: int, n: int, m: int, off: int,
                     alo: int, blo: int) -> list[tuple[int, int, int]]:
    blocks: list[tuple[int, int, int]] = []
    x, y = n, m
    for d in range(dfinal, 0, -1):
        v = trace[d]  # the state after round d - 1
        k = x - y
        if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
            prev_k = k + 1
            start_x = v[off + prev_k]
        else:
            prev_k = k - 1
            start_x = v[off + prev_k] + 1
        if x > start_x:
            blocks.append((alo + start_x, blo + start_x - k, x - start_x))
        x = v[off + prev_k]
        y = x - prev_k
    if x > 0:
        blocks.append((alo, blo, x))
    blocks.reverse()
    return blocks


# -- words ------------------------------------------------------------------------------

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
    p = _prefix_len(a, b, 0, len(a), 0, len(b))
    p = _snap_prefix(a, b, p)
    s = _suffix_len(a, b, p, len(a), p, len(b))
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
