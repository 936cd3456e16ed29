"""Sequence diffs that stay near-linear: patience anchors, bounded Myers, a work budget."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Sequence

# (tag, i1, i2, j1, j2) as difflib's get_opcodes: equal, replace, delete, insert.
Opcode = tuple[str, int, int, int, int]

# Myers is the fallback for regions without unique anchors; past this many edits in one
# region its O(D^2) inner loop costs more than it is worth, and the region is a replace.
MYERS_MAX_D = 256
# Total matching work allowed per element of input, so no input can make the diff quadratic.
# The units are elements scanned and Myers steps, each roughly a microsecond.
WORK_PER_ITEM = 4
WORK_BASE = 100_000
_SMALL = 24  # regions with fewer elements (both sides) skip the unique-anchor search


class WorkBudget:
    """Matching work left to one diff made of many sequence diffs, which draw on it in turn.

    A word diff runs one sequence diff per region it narrows down to; with a budget each,
    a text of many pathological regions would cost each region's budget over again.
    """

    __slots__ = ("left",)

    def __init__(self, items: int) -> None:
        self.left = WORK_BASE + WORK_PER_ITEM * items


def matching_blocks(a: Sequence[Hashable], b: Sequence[Hashable], *,
                    max_d: int = MYERS_MAX_D, budget: WorkBudget | None = None,
                    ) -> list[tuple[int, int, int]]:
    """Blocks (i, j, n) with a[i:i+n] == b[j:j+n], increasing in i and j, adjacent ones merged.

    Common prefix and suffix first, then unique elements common to both sides as anchors
    (their longest increasing subsequence, as patience diff), recursing between anchors;
    a region with no unique anchor falls back to Myers with at most `max_d` edits. The
    work is bounded by `budget` (by default one for these two sequences alone); regions
    left when it runs out are replacements.
    """
    blocks: list[tuple[int, int, int]] = []
    shared = budget if budget is not None else WorkBudget(len(a) + len(b))
    left = shared.left
    stack = [(0, len(a), 0, len(b))] if a and b else []
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        # Regions on the stack are never empty; the first-element tests avoid a call in
        # the common case of a region that starts and ends with a difference.
        if a[alo] == b[blo]:
            n = prefix_len(a, b, alo, ahi, blo, bhi)
            blocks.append((alo, blo, n))
            alo += n
            blo += n
            if alo >= ahi or blo >= bhi:
                continue
        if a[ahi - 1] == b[bhi - 1]:
            n = suffix_len(a, b, alo, ahi, blo, bhi)
            blocks.append((ahi - n, bhi - n, n))
            ahi -= n
            bhi -= n
            if alo >= ahi or blo >= bhi:
                continue
        if ahi - alo == 1 or bhi - blo == 1:
            if ahi - alo + bhi - blo > 2:  # one against one: their ends differ, no match
                _single_match(a, b, alo, ahi, blo, bhi, blocks)
            continue
        size = (ahi - alo) + (bhi - blo)
        left -= size
        if left < 0:
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
            found, steps = _myers(a, b, alo, ahi, blo, bhi, min(max_d, _isqrt(left)))
            left -= steps
            blocks.extend(found)
    shared.left = left
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


def heaviest_common_blocks(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """Matching blocks of the common subsequence of `a` and `b` with the most characters.

    Exact, in O(len(a) * len(b)): for a handful of tokens, where a count of equal
    elements cannot tell a shared word from a shared space.
    """
    n, m = len(a), len(b)
    # best[i][j]: the most characters a common subsequence of a[i:] and b[j:] can hold.
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below, x = best[i], best[i + 1], a[i]
        for j in range(m - 1, -1, -1):
            if x == b[j]:
                row[j] = below[j + 1] + len(x)
            else:
                row[j] = max(below[j], row[j + 1])
    blocks: list[tuple[int, int, int]] = []
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j] and best[i][j] == best[i + 1][j + 1] + len(a[i]):
            if blocks and blocks[-1][0] + blocks[-1][2] == i and blocks[-1][1] + blocks[-1][2] == j:
                blocks[-1] = (blocks[-1][0], blocks[-1][1], blocks[-1][2] + 1)
            else:
                blocks.append((i, j, 1))
            i += 1
            j += 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return blocks


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


def prefix_len(a: Sequence[Hashable], b: Sequence[Hashable],
               alo: int, ahi: int, blo: int, bhi: int) -> int:
    """Length of the common run at the start of a[alo:ahi] and b[blo:bhi]."""
    limit = min(ahi - alo, bhi - blo)
    if limit <= 0 or a[alo] != b[blo]:
        return 0
    # Galloping, then a binary search, on slice equality: the comparisons run in C, and
    # a common run of n elements costs slices of O(n) elements in all, however long the
    # sequences are (a search over the whole length would copy half of it first).
    lo, step = 1, 8
    while True:
        hi = min(lo + step, limit)
        if a[alo + lo:alo + hi] != b[blo + lo:blo + hi]:
            break
        if hi == limit:
            return limit
        lo, step = hi, step * 2
    hi -= 1  # an element of [lo, hi) differs
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[alo + lo:alo + mid] == b[blo + lo:blo + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def suffix_len(a: Sequence[Hashable], b: Sequence[Hashable],
               alo: int, ahi: int, blo: int, bhi: int) -> int:
    """Length of the common run at the end of a[alo:ahi] and b[blo:bhi]."""
    limit = min(ahi - alo, bhi - blo)
    if limit <= 0 or a[ahi - 1] != b[bhi - 1]:
        return 0
    lo, step = 1, 8
    while True:
        hi = min(lo + step, limit)
        if a[ahi - hi:ahi - lo] != b[bhi - hi:bhi - lo]:
            break
        if hi == limit:
            return limit
        lo, step = hi, step * 2
    hi -= 1
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
    # Lines, paragraphs and sentences are usually all different: then every element both
    # sides have is an anchor, found with C-level dict and set building.
    pos_b = dict(zip(region_b, range(blo, bhi)))
    if len(pos_b) == len(region_b) and len(set(region_a)) == len(region_a):
        return _longest_increasing([(i, j) for i, j in zip(range(alo, ahi),
                                                         map(pos_b.get, region_a))
                                    if j is not None])
    count_a = Counter(region_a)
    count_b = Counter(region_b)
    common = {x for x, n in count_a.items() if n == 1 and count_b.get(x) == 1}
    if not common:
        return []
    positions = {x: j for j, x in enumerate(region_b, blo) if x in common}
    pairs = [(i, positions[x]) for i, x in enumerate(region_a, alo) if x in common]
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
                    grow = prefix_len(a, b, alo + x, ahi, blo + y, bhi)
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
