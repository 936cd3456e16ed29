"""Paragraph-level diff of a page's text: aligned by hash, moves found, words inside edits."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from scraper.diff.sequences import diff_sequences
from scraper.diff.words import WordOp, diff_words

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Two paragraphs in one replaced region are shown as an edit of each other when they
# share at least this share of their words; otherwise as a removal and an addition.
_PAIR_SIMILARITY = 0.3
# Above this many candidate pairs in one region, pair in order instead of searching.
_PAIR_SEARCH_MAX = 900


@dataclass(frozen=True, slots=True)
class ParagraphOp:
    """One step of a text diff, in the order of the new text.

    op: equal | insert | delete | replace | move. Indices are 0-based paragraph positions
    (old_index for equal/delete/replace/move, new_index for equal/insert/replace/move).
    `words` holds the word ops of a replace.
    """

    op: str
    old_index: int | None
    new_index: int | None
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    words: tuple[WordOp, ...] = ()


@dataclass(frozen=True, slots=True)
class TextDiff:
    ops: tuple[ParagraphOp, ...] = ()

    @property
    def changed(self) -> bool:
        return any(op.op != "equal" for op in self.ops)

    def counts(self) -> dict[str, int]:
        """Paragraphs edited, added, removed and moved."""
        out = {"edited": 0, "added": 0, "removed": 0, "moved": 0}
        for op in self.ops:
            if op.op == "replace":
                out["edited"] += 1
            elif op.op == "insert":
                out["added"] += len(op.new)
            elif op.op == "delete":
                out["removed"] += len(op.old)
            elif op.op == "move":
                out["moved"] += len(op.new)
        return out


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a plain text: blank-line separated, stripped, empty ones dropped."""
    return [p for p in (part.strip() for part in _PARAGRAPH_BREAK.split(text)) if p]


def diff_text(old: str, new: str, *, skip_old: Collection[int] = (),
              skip_new: Collection[int] = ()) -> TextDiff:
    """Paragraphs aligned by hash; a removed paragraph equal to an added one is a move;
    paragraphs edited in place carry a word diff.

    `skip_old` / `skip_new`: positions of paragraphs left out (shown elsewhere, such as a
    lead that is the summary); op indices still count every paragraph of the text.
    """
    all_a, all_b = split_paragraphs(old), split_paragraphs(new)
    skipped_a, skipped_b = _kept_when_on_both_sides(all_a, all_b, set(skip_old),
                                                    set(skip_new))
    pos_a = [i for i in range(len(all_a)) if i not in skipped_a]
    pos_b = [j for j in range(len(all_b)) if j not in skipped_b]
    a, b = [all_a[i] for i in pos_a], [all_b[j] for j in pos_b]
    if a == b:
        return TextDiff(tuple(_equal_runs(0, 0, len(a), a, pos_a, pos_b)))
    opcodes = diff_sequences(a, b)
    # Moves: a paragraph that left one place and arrived, unchanged, at another.
    gone: dict[str, list[int]] = {}
    for tag, i1, i2, _, _ in opcodes:
        if tag in ("delete", "replace"):
            for i in range(i1, i2):
                gone.setdefault(a[i], []).append(i)
    moved_from: dict[int, int] = {}  # new index -> old index
    for tag, _, _, j1, j2 in opcodes:
        if tag in ("insert", "replace"):
            for j in range(j1, j2):
                sources = gone.get(b[j])
                if sources:
                    moved_from[j] = sources.pop(0)
    moved_out = set(moved_from.values())

    ops: list[ParagraphOp] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            ops += _equal_runs(i1, j1, i2 - i1, a, pos_a, pos_b)
            continue
        olds = [i for i in range(i1, i2) if i not in moved_out]
        news = [j for j in range(j1, j2) if j not in moved_from]
        pairs = _pair(a, b, olds, news)
        paired_old = {i for i, _ in pairs}
        paired_new = {j for _, j in pairs}
        pending_old = [i for i in olds if i not in paired_old]
        pending_new = [j for j in range(j1, j2) if j not in paired_new]
        po = pn = 0
        for i, j in [*pairs, (i2, j2)]:
            # Before each edited pair: what was removed above it, then what arrived.
            while po < len(pending_old) and pending_old[po] < i:
                k = pending_old[po]
                po += 1
                ops.append(ParagraphOp("delete", pos_a[k], None, (a[k],), ()))
            while pn < len(pending_new) and pending_new[pn] < j:
                k = pending_new[pn]
                pn += 1
                if k in moved_from:
                    ops.append(ParagraphOp("move", pos_a[moved_from[k]], pos_b[k], (b[k],),
                                           (b[k],)))
                else:
                    ops.append(ParagraphOp("insert", None, pos_b[k], (), (b[k],)))
            if i < i2:
                ops.append(ParagraphOp("replace", pos_a[i], pos_b[j], (a[i],), (b[j],),
                                       tuple(diff_words(a[i], b[j]))))
    return TextDiff(tuple(_merge_runs(ops)))


def _kept_when_on_both_sides(a: list[str], b: list[str], skip_a: set[int], skip_b: set[int]
                             ) -> tuple[set[int], set[int]]:
    """The skipped positions, without those whose paragraph the other side has and does not
    skip: a paragraph whose text is on both sides is no change, and skipping it on one side
    only would show the other side's copy as added or removed."""
    if not skip_a and not skip_b:
        return skip_a, skip_b
    kept_a = Counter(a[i] for i in range(len(a)) if i not in skip_a)
    kept_b = Counter(b[j] for j in range(len(b)) if j not in skip_b)
    return _unskip(a, skip_a, kept_b), _unskip(b, skip_b, kept_a)


def _unskip(paras: list[str], skip: set[int], kept_other: Counter[str]) -> set[int]:
    out = set()
    for k in sorted(skip):
        if k < len(paras) and kept_other[paras[k]] > 0:
            kept_other[paras[k]] -= 1  # (each copy on the other side answers for one)
        else:
            out.add(k)
    return out


def _equal_runs(i: int, j: int, n: int, paras: list[str], pos_a: list[int],
                pos_b: list[int]) -> list[ParagraphOp]:
    """Equal ops for n paragraphs from local (i, j), cut where skipped paragraphs intervene
    so that each op covers consecutive positions on both sides."""
    ops: list[ParagraphOp] = []
    start = 0
    for k in range(1, n + 1):
        if k == n or pos_a[i + k] != pos_a[i + k - 1] + 1 or pos_b[j + k] != pos_b[j + k - 1] + 1:
            run = tuple(paras[i + start:i + k])
            ops.append(ParagraphOp("equal", pos_a[i + start], pos_b[j + start], run, run))
            start = k
    return ops


def _pair(a: list[str], b: list[str], olds: list[int], news: list[int]
          ) -> list[tuple[int, int]]:
    """Monotonic pairs (old, new) of similar paragraphs in one replaced region."""
    if not olds or not news:
        return []
    words_a = [set(a[i].split()) for i in olds]
    words_b = [set(b[j].split()) for j in news]
    # The usual case, paragraphs edited in place: pair them in order when all are alike.
    diagonal = [(i, j) for i, j, wa, wb in zip(olds, news, words_a, words_b)
                if _similarity(wa, wb) >= _PAIR_SIMILARITY]
    if len(diagonal) == min(len(olds), len(news)) or len(olds) * len(news) > _PAIR_SEARCH_MAX:
        return diagonal
    sim = [[_similarity(wa, wb) for wb in words_b] for wa in words_a]
    # Best monotonic matching by total similarity (a weighted LCS over a small grid).
    n, m = len(olds), len(news)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for x in range(n - 1, -1, -1):
        for y in range(m - 1, -1, -1):
            take = sim[x][y] + best[x + 1][y + 1] if sim[x][y] >= _PAIR_SIMILARITY else -1.0
            best[x][y] = max(take, best[x + 1][y], best[x][y + 1])
    pairs = []
    x = y = 0
    while x < n and y < m:
        if sim[x][y] >= _PAIR_SIMILARITY and best[x][y] == sim[x][y] + best[x + 1][y + 1]:
            pairs.append((olds[x], news[y]))
            x += 1
            y += 1
        elif best[x][y] == best[x + 1][y]:
            x += 1
        else:
            y += 1
    return pairs


def _similarity(a: set[str], b: set[str]) -> float:
    """Dice's coefficient of two paragraphs' word sets."""
    total = len(a) + len(b)
    if not total:
        return 1.0
    return 2 * len(a & b) / total


def _merge_runs(ops: list[ParagraphOp]) -> list[ParagraphOp]:
    """Adjacent inserts, deletes and moves of consecutive paragraphs become one op each."""
    out: list[ParagraphOp] = []
    for op in ops:
        prev = out[-1] if out else None
        if prev is not None and prev.op == op.op:
            if op.op == "insert" and prev.new_index is not None and op.new_index is not None \
                    and prev.new_index + len(prev.new) == op.new_index:
                out[-1] = ParagraphOp("insert", None, prev.new_index, (), prev.new + op.new)
                continue
            if op.op == "delete" and prev.old_index is not None and op.old_index is not None \
                    and prev.old_index + len(prev.old) == op.old_index:
                out[-1] = ParagraphOp("delete", prev.old_index, None, prev.old + op.old, ())
                continue
            if (op.op == "move" and prev.old_index is not None and op.old_index is not None
                    and prev.new_index is not None and op.new_index is not None
                    and prev.old_index + len(prev.old) == op.old_index
                    and prev.new_index + len(prev.new) == op.new_index):
                out[-1] = ParagraphOp("move", prev.old_index, prev.new_index, prev.old + op.old,
                                      prev.new + op.new)
                continue
        out.append(op)
    return out
