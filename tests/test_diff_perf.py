"""No quadratic blow-up: megabyte texts diff within a generous bound (a regression guard,
not a benchmark; tests/bench/bench_diff.py measures)."""

from __future__ import annotations

import random
import time

import pytest

from scraper.diff import diff_pages, diff_words, render_html, render_text
from scraper.diff.words import new_text, old_text
from scraper.models import Page

BOUND_S = 10.0
MB = 1_000_000


def prose(size: int, seed: int, *, sep: str = "\n\n") -> str:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(3000)]
    paragraphs, total = [], 0
    while total < size:
        sentences = [" ".join(rng.choices(vocab, k=rng.randint(5, 25))).capitalize() + "."
                     for _ in range(rng.randint(2, 7))]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + len(sep)
    return sep.join(paragraphs)[:size]


def scatter_edits(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split(" ")
    for k in rng.sample(range(len(words)), int(len(words) * rate)):
        roll = rng.random()
        if roll < 0.4:
            words[k] = f"edited{k}"
        elif roll < 0.7:
            words[k] += f" inserted{k}"
        else:
            words[k] = ""
    return " ".join(words)


def timed_words(a: str, b: str) -> float:
    start = time.perf_counter()
    ops = diff_words(a, b)
    elapsed = time.perf_counter() - start
    assert old_text(ops) == a and new_text(ops) == b
    return elapsed


def test_one_megabyte_single_line() -> None:
    a = prose(MB, 1, sep=" ")
    assert "\n" not in a
    assert timed_words(a, scatter_edits(a, 0.01, 2)) < BOUND_S


def test_two_megabyte_texts_with_scattered_edits() -> None:
    a = prose(MB, 3)
    b = scatter_edits(a, 0.01, 4)
    assert timed_words(a, b) < BOUND_S
    start = time.perf_counter()
    d = diff_pages(Page(url="http://x/a", text=a), Page(url="http://x/a", text=b))
    render_text(d, color=False)
    render_html(d)
    assert time.perf_counter() - start < BOUND_S
    assert d.text.counts()["edited"] > 100


@pytest.mark.parametrize("case", ["unrelated", "no-punctuation", "repetitive", "one-token",
                                  "repeated-phrases", "shuffled-sentences",
                                  "shuffled-paragraphs"])
def test_adversarial_megabyte_inputs(case: str) -> None:
    rng = random.Random(9)
    if case == "unrelated":
        a, b = prose(MB, 5, sep=" "), prose(MB, 6, sep=" ")
    elif case == "no-punctuation":
        a = prose(MB, 7, sep=" ").replace(".", "")
        b = scatter_edits(a, 0.01, 8)
    elif case == "repetitive":  # no unique token anywhere: Myers' bound must hold
        a = "a b " * (MB // 4)
        b = "b a " * (MB // 4 - 10) + "c"
    elif case == "repeated-phrases":  # no phrase, sentence or word found only once
        a = "the cat sat on the mat and the dog ran. " * (MB // 40)
        b = scatter_edits(a, 0.01, 3)
    elif case == "shuffled-sentences":  # every region a Myers fallback: one budget for all
        sentences = prose(MB, 12, sep=" ").split(". ")
        a = ". ".join(sentences)
        rng.shuffle(sentences)
        b = ". ".join(sentences)
    elif case == "shuffled-paragraphs":
        paragraphs = prose(MB, 11).split("\n\n")
        a = "\n\n".join(paragraphs)
        rng.shuffle(paragraphs)
        b = "\n\n".join(paragraphs)
    else:  # one huge token each side
        a, b = "x" * MB, "x" * (MB // 2) + "y" + "x" * (MB // 2)
    assert timed_words(a, b) < BOUND_S
