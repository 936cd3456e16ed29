"""Word and sequence diffs: exact reconstruction, sensible ops, bounded work."""

from __future__ import annotations

import difflib
import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.diff import diff_sequences, diff_words, tokenize
from scraper.diff.sequences import (
    WorkBudget,
    heaviest_common_blocks,
    matching_blocks,
    prefix_len,
    suffix_len,
)
from scraper.diff.words import cleanup, elide, new_text, old_text

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "x1", "é", "日本"]
PIECES = [*WORDS, " ", "  ", "\n", "\n\n", ".", ",", "!", "'", "--"]

texts = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


def rebuild(a: list[str], ops: list[tuple[str, int, int, int, int]]) -> list[str]:
    return [x for tag, i1, i2, j1, j2 in ops for x in (a[i1:i2] if tag == "equal" else [])]


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_word_diff_rebuilds_both_texts(a: str, b: str) -> None:
    ops = diff_words(a, b)
    assert old_text(ops) == a
    assert new_text(ops) == b
    assert all(tag in ("equal", "insert", "delete") and text for tag, text in ops)
    # Coalesced: no two neighbours share a tag, and an insert never precedes its delete.
    for (t1, _), (t2, _) in itertools.pairwise(ops):
        assert t1 != t2
        assert (t1, t2) != ("insert", "delete")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=40), st.lists(st.integers(0, 6), max_size=40))
def test_sequence_opcodes_cover_both_sides(a: list[int], b: list[int]) -> None:
    ops = diff_sequences(a, b)
    i = j = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        assert tag in ("equal", "replace", "insert", "delete")
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    assert (not a and not b) or ops


def test_myers_fallback_finds_a_longest_match_without_unique_anchors() -> None:
    # No element is unique on both sides, so patience finds no anchor and Myers decides.
    rng = random.Random(3)
    for _ in range(200):
        a = [rng.choice("ab") for _ in range(rng.randint(0, 14))]
        b = [rng.choice("ab") for _ in range(rng.randint(0, 14))]
        if any(a.count(x) == 1 and b.count(x) == 1 for x in "ab"):
            continue  # an anchor exists: patience decides, and it is not always minimal
        matched = sum(n for _, _, n in matching_blocks(a, b))
        assert matched == _lcs(a, b), (a, b)


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for k, y in enumerate(b):
            cur = row[k + 1]
            row[k + 1] = prev + 1 if x == y else max(row[k + 1], row[k])
            prev = cur
    return row[-1]


def test_patience_matches_as_much_as_difflib_on_prose() -> None:
    rng = random.Random(7)
    words = [f"w{n}" for n in range(300)]
    a = [rng.choice(words) for _ in range(2000)]
    b = list(a)
    for _ in range(40):
        k = rng.randrange(len(b))
        b[k] = "changed"
    ours = sum(n for _, _, n in matching_blocks(a, b))
    theirs = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False)
                 .get_matching_blocks())
    assert ours >= theirs - 5


def test_tokens_keep_every_character() -> None:
    text = "Hello,  world!\n\nIt's 3.14 — naïve 日本語 foo_bar"
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert tokens[:4] == ["Hello", ",", "  ", "world"]


def test_one_word_replaced() -> None:
    assert diff_words("The cat sat on the mat.", "The dog sat on the mat.") == [
        ("equal", "The "), ("delete", "cat"), ("insert", "dog"), ("equal", " sat on the mat.")]


def test_insertion_and_deletion() -> None:
    assert diff_words("a red car", "a big red car") == [
        ("equal", "a "), ("insert", "big "), ("equal", "red car")]
    assert diff_words("a big red car", "a red car") == [
        ("equal", "a "), ("delete", "big "), ("equal", "red car")]


def test_spaces_between_two_changes_are_folded_into_one_change() -> None:
    ops = diff_words("Alice walked to the shop.", "Bob ran to the market.")
    assert ops == [("delete", "Alice walked"), ("insert", "Bob ran"), ("equal", " to the "),
                   ("delete", "shop"), ("insert", "market"), ("equal", ".")]


def test_equal_and_empty_texts() -> None:
    assert diff_words("same text", "same text") == [("equal", "same text")]
    assert diff_words("", "") == []
    assert diff_words("", "new") == [("insert", "new")]
    assert diff_words("old", "") == [("delete", "old")]


def test_change_inside_a_word_is_shown_as_the_whole_word() -> None:
    ops = diff_words("population 1234567 people", "population 1234667 people")
    assert ops == [("equal", "population "), ("delete", "1234567"), ("insert", "1234667"),
                   ("equal", " people")]


def test_cleanup_merges_and_orders() -> None:
    raw = [("equal", "a"), ("insert", "x"), ("delete", "y"), ("equal", " "), ("delete", "z"),
           ("equal", "b")]
    assert cleanup(raw) == [("equal", "a"), ("delete", "y z"), ("insert", "x "), ("equal", "b")]


def test_elide_keeps_context_around_changes() -> None:
    long = "word " * 200
    ops = [("equal", long), ("insert", "NEW"), ("equal", long)]
    shown = elide(ops, 20)
    assert shown[0] == ("elided", "…")
    assert shown[1] == ("equal", long[-20:])
    assert shown[2] == ("insert", "NEW")
    assert shown[3] == ("equal", long[:20])
    assert shown[4] == ("elided", "…")


def test_long_texts_are_diffed_through_sentences_exactly() -> None:
    rng = random.Random(11)
    sentences = [" ".join(rng.choice(WORDS[:8]) + str(rng.randint(0, 99)) for _ in range(12))
                 + ". " for _ in range(400)]
    a = "".join(sentences)
    edited = list(sentences)
    edited[100] = edited[100].replace(" ", " inserted ", 1)
    del edited[200]
    edited[300] = "A new sentence. "
    b = "".join(edited)
    ops = diff_words(a, b)
    assert old_text(ops) == a and new_text(ops) == b
    changed = [text for tag, text in ops if tag != "equal"]
    assert "inserted " in changed
    assert sentences[200] in changed
    assert sum(len(t) for t in changed) < 3 * len(sentences[0]) + 40


def test_large_texts_rebuild_exactly_through_every_level() -> None:
    # Large enough for the line, sentence and word-run levels, with edits of every kind.
    rng = random.Random(5)
    for trial in range(12):
        lines = [" ".join(rng.choice(WORDS) + rng.choice(["", ".", ",", "!"])
                          for _ in range(rng.randint(1, 40))) + "\n" for _ in range(600)]
        edited = list(lines)
        for _ in range(rng.choice([3, 30, 300])):
            k = rng.randrange(len(edited))
            roll = rng.random()
            if roll < 0.3:
                del edited[k]
            elif roll < 0.6:
                edited.insert(k, "a brand new line here.\n")
            else:
                words = edited[k].split(" ")
                words[rng.randrange(len(words))] = "CHANGED"
                edited[k] = " ".join(words)
        sep = "" if trial % 2 else " "  # odd trials: many lines; even: one long line
        a = sep.join(x if sep == "" else x.rstrip("\n") for x in lines)
        b = sep.join(x if sep == "" else x.rstrip("\n") for x in edited)
        ops = diff_words(a, b)
        assert old_text(ops) == a and new_text(ops) == b, trial


def test_sparse_edits_in_many_lines_stay_small() -> None:
    lines = [f"Line {n} says something about topic {n * 7 % 13}.\n" for n in range(2000)]
    edited = list(lines)
    edited[10] = "Line 10 says nothing at all.\n"
    edited[1500] = edited[1500].replace("something", "anything")
    a, b = "".join(lines), "".join(edited)
    ops = diff_words(a, b)
    assert old_text(ops) == a and new_text(ops) == b
    assert [(tag, text) for tag, text in ops if tag != "equal"] == [
        ("delete", "something about topic 5"), ("insert", "nothing at all"),
        ("delete", "something"), ("insert", "anything")]


def changed(ops: list[tuple[str, str]]) -> int:
    return sum(len(text) for tag, text in ops if tag != "equal")


def test_a_deleted_sentence_is_shown_whole_wherever_the_cut_was_found() -> None:
    # "A. The [-cat. The -]dog." deletes the same characters; cuts after a sentence read
    # better, whichever of the equivalent places the narrowing found first.
    assert diff_words("A. The cat. The dog.", "A. The dog.") == [
        ("equal", "A. "), ("delete", "The cat. "), ("equal", "The dog.")]
    assert diff_words("A. The dog.", "A. The cat. The dog.") == [
        ("equal", "A. "), ("insert", "The cat. "), ("equal", "The dog.")]


def test_an_insertion_by_a_space_is_placed_after_it() -> None:
    # Equivalent places: before the space or after it; after it reads as the usual edit.
    assert cleanup([("equal", "foo"), ("insert", " new"), ("equal", " bar")]) == [
        ("equal", "foo "), ("insert", "new "), ("equal", "bar")]
    assert cleanup([("equal", "foo "), ("delete", "old "), ("equal", "bar")]) == [
        ("equal", "foo "), ("delete", "old "), ("equal", "bar")]
    assert cleanup([("equal", "End."), ("insert", " New."), ("equal", " More")]) == [
        ("equal", "End. "), ("insert", "New. "), ("equal", "More")]


def test_a_line_inserted_between_like_lines_is_shown_whole() -> None:
    a = "intro\nitem one\nitem two\nend"
    b = "intro\nitem one\nitem new\nitem two\nend"
    assert [op for op in diff_words(a, b) if op[0] != "equal"] == [("insert", "item new\n")]


def test_a_shared_word_wins_over_a_shared_space() -> None:
    # Both align one token; keeping the word keeps five characters, the space one.
    assert diff_words("dog and15 a.", "dog new and15") == [
        ("equal", "dog "), ("insert", "new "), ("equal", "and15"), ("delete", " a.")]


def test_a_short_passage_moved_across_a_long_one_is_the_one_shown_moved() -> None:
    # The passage sits in the middle of the changed region, where a unique phrase is
    # looked for first: matching it there would delete and insert the long passage.
    words = [f"w{n}" for n in range(300)]
    before, passage, after = (" ".join(words[100:140]), " ".join(words[200:210]),
                              " ".join(words[230:270]))
    a = f"x {before} {passage} {after} end"
    b = f"y {before} {after} {passage} end"
    ops = diff_words(a, b)
    assert old_text(ops) == a and new_text(ops) == b
    assert changed(ops) <= 2 * len(passage) + 4


def test_a_moved_passage_larger_than_what_it_crossed_stays() -> None:
    words = [f"w{n}" for n in range(300)]
    crossed, passage = " ".join(words[:8]), " ".join(words[100:150])
    a = f"x {crossed} {passage} end"
    b = f"y {passage} {crossed} end"
    ops = diff_words(a, b)
    assert old_text(ops) == a and new_text(ops) == b
    assert changed(ops) <= 2 * len(crossed) + 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "cc", " ", "ddd"]), max_size=7),
       st.lists(st.sampled_from(["a", "b", "cc", " ", "ddd"]), max_size=7))
def test_heaviest_common_blocks_keep_the_most_characters(a: list[str], b: list[str]) -> None:
    blocks = heaviest_common_blocks(a, b)
    i = j = 0
    for bi, bj, n in blocks:
        assert bi >= i and bj >= j and n > 0
        assert a[bi:bi + n] == b[bj:bj + n]
        i, j = bi + n, bj + n
    kept = sum(len(x) for bi, _, n in blocks for x in a[bi:bi + n])
    # Every common subsequence, by brute force over the subsets of a's positions.
    best = 0
    for mask in range(1 << len(a)):
        chosen = [x for k, x in enumerate(a) if mask >> k & 1]
        if _is_subsequence(chosen, b):
            best = max(best, sum(map(len, chosen)))
    assert kept == best


def _is_subsequence(items: list[str], seq: list[str]) -> bool:
    it = iter(seq)
    return all(x in it for x in items)


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(12)), st.permutations(range(12)), st.integers(0, 12),
       st.integers(0, 12))
def test_patience_finds_a_longest_match_when_no_element_repeats(
        p: list[int], q: list[int], cut_a: int, cut_b: int) -> None:
    # All elements different (lines, sentences): unique anchors are all the common ones,
    # and their longest increasing run is a longest common subsequence.
    a, b = [f"s{x}" for x in p[cut_a:]], [f"s{x}" for x in q[:12 - cut_b]]
    matched = sum(n for _, _, n in matching_blocks(a, b))
    assert matched == _lcs(a, b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("ab"), max_size=80), st.lists(st.sampled_from("ab"), max_size=80),
       st.data())
def test_common_run_lengths_of_any_slice(a: list[str], b: list[str], data: st.DataObject) -> None:
    alo = data.draw(st.integers(0, len(a)))
    ahi = data.draw(st.integers(alo, len(a)))
    blo = data.draw(st.integers(0, len(b)))
    bhi = data.draw(st.integers(blo, len(b)))
    n = 0
    while alo + n < ahi and blo + n < bhi and a[alo + n] == b[blo + n]:
        n += 1
    assert prefix_len(a, b, alo, ahi, blo, bhi) == n
    n = 0
    while ahi - n > alo and bhi - n > blo and a[ahi - 1 - n] == b[bhi - 1 - n]:
        n += 1
    assert suffix_len(a, b, alo, ahi, blo, bhi) == n


def test_sequence_diffs_sharing_a_budget_draw_on_it_in_turn() -> None:
    # No element unique: only Myers can match these, and it spends the budget.
    a, b = ["a", "b"] * 200, ["b", "a"] * 200
    budget = WorkBudget(0)
    first = matching_blocks(a, b, budget=budget)
    assert sum(n for _, _, n in first) > 300
    assert budget.left < WorkBudget(0).left
    budget.left = 0  # spent: the next diff is left a replacement
    assert matching_blocks(a, b, budget=budget) == []
    assert matching_blocks(a, b) == first  # alone, a diff has a budget of its own
