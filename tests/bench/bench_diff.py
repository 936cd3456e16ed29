"""Benchmark of the diff engine beside difflib and git's word diff (a script, not a test).

    .venv/bin/python tests/bench/bench_diff.py [--repeat 5] [--rounds 3] [--cap 20]
        [--skip-difflib] [--baseline DIR]

Pairs: two revisions of a 200 KB and of a 1 MB article (paragraphs) and of a 1 MB text
that is one single line, each with scattered edits of two densities: 1% of the words
replaced, inserted or deleted at random places (dense: about half the paragraphs change),
and one word replaced in 1% of the paragraphs (of the sentences, for the single line).
For each pair, milliseconds (best of --repeat runs, wall clock):

  words       scraper.diff.diff_words on the whole texts (word level)
  page        scraper.diff.diff_pages on two Pages with those texts (paragraphs, moves,
              word diffs inside edited paragraphs)
  difflib-ul  difflib.unified_diff on lines
  difflib-sm  difflib.SequenceMatcher(None, words_a, words_b).get_opcodes() on word
              tokens, in a child process killed after --cap seconds (shown as >cap)
  git-wd      git diff --no-index --word-diff on the two files (a process each run)
  words/git   words divided by git-wd: below 1, our word diff is the faster

Also CPU milliseconds (process time) of our word diff (wordscpu) and of git's processes
(git-cpu), since a loaded machine inflates wall-clock figures.

--rounds N measures every pair N times, taking turns between the contenders, and prints
medians (words/git is the median of the rounds' ratios: each round's figures were taken
under the same load from the rest of the machine). --baseline DIR also times diff_words
of the scraper package in that folder (a `git worktree` of an older commit, say), in a
child process, in the same rounds: columns base and base/git.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from scraper.diff import diff_pages, diff_words
from scraper.diff.words import new_text, old_text
from scraper.models import Page

TOKEN = r"\w+|\s+|[^\w\s]"


def article(size: int, seed: int, *, one_line: bool) -> str:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(5000)]
    weights = [1 / (k + 1) for k in range(len(vocab))]  # Zipf-like word frequencies
    paragraphs: list[str] = []
    total = 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(2, 8)):
            words = rng.choices(vocab, weights, k=rng.randint(5, 30))
            sentence = " ".join(words).capitalize()
            if rng.random() < 0.3:
                sentence = sentence.replace(" ", ", ", 1)
            sentences.append(sentence + rng.choice("........?!"))
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return (" " if one_line else "\n\n").join(paragraphs)[:size]


def edit(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    tokens = re.findall(r"\S+|\s+", text)
    words = [k for k, t in enumerate(tokens) if not t.isspace()]
    for k in rng.sample(words, int(len(words) * rate)):
        roll = rng.random()
        if roll < 0.4:
            tokens[k] = f"edited{rng.randint(0, 999)}"
        elif roll < 0.7:
            tokens[k] += f" inserted{rng.randint(0, 99)}"
        else:
            tokens[k] = ""
    return "".join(tokens)


def unified_lines(a: str, b: str) -> list[str]:
    return list(difflib.unified_diff(a.splitlines(True), b.splitlines(True)))


def edit_paragraphs(text: str, rate: float, seed: int, *, one_line: bool) -> str:
    """One word replaced in `rate` of the paragraphs (of the sentences for one line)."""
    rng = random.Random(seed)
    sep = ". " if one_line else "\n\n"
    parts = text.split(sep)
    for k in rng.sample(range(len(parts)), max(1, int(len(parts) * rate))):
        words = parts[k].split(" ")
        words[rng.randrange(len(words))] = f"edited{rng.randint(0, 999)}"
        parts[k] = " ".join(words)
    return sep.join(parts)


def best_ms(func: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def best_cpu_ms(func: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return best * 1000


def sequence_matcher_ms(path_a: Path, path_b: Path, cap: float) -> str:
    code = (
        "import difflib, re, sys, time\n"
        f"a = re.findall({TOKEN!r}, open(sys.argv[1], encoding='utf-8').read())\n"
        f"b = re.findall({TOKEN!r}, open(sys.argv[2], encoding='utf-8').read())\n"
        "t = time.perf_counter()\n"
        "difflib.SequenceMatcher(None, a, b).get_opcodes()\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path_a), str(path_b)],
                             capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return f">{cap * 1000:.0f}"
    return f"{float(out.stdout):.1f}"


def git_ms(git: str, path_a: Path, path_b: Path, repeat: int) -> tuple[float, float]:
    """Best wall-clock ms of one git word diff, and its best CPU ms (user + system)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([git, "diff", "--no-index", "--word-diff", "--no-color",
                        str(path_a), str(path_b)], stdout=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall * 1000, best_cpu * 1000


# Times diff_words of the scraper package in the folder it runs in (the baseline's).
BASELINE_CHILD = (
    "import os, sys, time\n"
    "import scraper\n"
    "from scraper.diff import diff_words\n"
    "if not os.path.abspath(scraper.__file__).startswith(os.getcwd() + os.sep):\n"
    "    sys.exit(f'the baseline imported {scraper.__file__}')\n"
    "a = open(sys.argv[1], encoding='utf-8').read()\n"
    "b = open(sys.argv[2], encoding='utf-8').read()\n"
    "best = float('inf')\n"
    "for _ in range(int(sys.argv[3])):\n"
    "    t = time.perf_counter()\n"
    "    diff_words(a, b)\n"
    "    best = min(best, time.perf_counter() - t)\n"
    "print(best * 1000)\n"
)


def baseline_ms(source: str, path_a: Path, path_b: Path, repeat: int) -> float:
    # Run in the baseline's folder: `python -c` puts the working directory first on the
    # path, ahead of PYTHONPATH, and this checkout's package would be the one imported.
    env = {**os.environ, "PYTHONPATH": os.path.abspath(source)}
    out = subprocess.run([sys.executable, "-c", BASELINE_CHILD, str(path_a), str(path_b),
                          str(repeat)], capture_output=True, text=True, check=False, env=env,
                         cwd=os.path.abspath(source))
    if out.returncode:
        sys.exit(f"baseline {source}: {out.stderr.strip()}")
    return float(out.stdout)


# Columns: name, width, format of one figure.
COLUMNS = [("words", 8, ".1f"), ("wordscpu", 8, ".1f"), ("page", 8, ".1f"),
           ("difflib-ul", 11, ".1f"), ("difflib-sm", 11, ""), ("git-wd", 8, ".1f"),
           ("git-cpu", 8, ".1f"), ("words/git", 9, ".2f"), ("base", 8, ".1f"),
           ("base/git", 9, ".2f")]


def measure_round(a: str, b: str, path_a: Path, path_b: Path, git: str | None,
                  args: argparse.Namespace) -> dict[str, float | str]:
    """One round of every contender on one pair, one after the other."""
    row: dict[str, float | str] = {}
    row["words"] = best_ms(partial(diff_words, a, b), args.repeat)
    row["wordscpu"] = best_cpu_ms(partial(diff_words, a, b), args.repeat)
    if git:
        row["git-wd"], row["git-cpu"] = git_ms(git, path_a, path_b, args.repeat)
        row["words/git"] = float(row["words"]) / float(row["git-wd"])
    if args.baseline:
        row["base"] = baseline_ms(args.baseline, path_a, path_b, args.repeat)
        if git:
            row["base/git"] = float(row["base"]) / float(row["git-wd"])
    if not args.skip_page:
        page_a, page_b = Page(url="http://x/", text=a), Page(url="http://x/", text=b)
        row["page"] = best_ms(partial(diff_pages, page_a, page_b), args.repeat)
    if not args.skip_difflib:
        row["difflib-ul"] = best_ms(partial(unified_lines, a, b), args.repeat)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best taken)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measurements of each pair, in turns; the table shows medians")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds for difflib-sm")
    parser.add_argument("--skip-difflib", action="store_true",
                        help="leave out the difflib columns (difflib-sm takes minutes)")
    parser.add_argument("--skip-page", action="store_true", help="leave out diff_pages")
    parser.add_argument("--baseline", metavar="DIR", default=None,
                        help="also time diff_words of the scraper package in this folder")
    args = parser.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        parser.error("--rounds and --repeat must be at least 1")
    if args.baseline and not Path(args.baseline, "scraper", "diff").is_dir():
        parser.error(f"--baseline {args.baseline}: no scraper/diff package in that folder")
    git = shutil.which("git")
    cases = [("200 KB article", 200_000, False), ("1 MB article", 1_000_000, False),
             ("1 MB single line", 1_000_000, True)]
    edits = [("1% of words", lambda text, one_line: edit(text, 0.01, 2)),
             ("1% of paragraphs", lambda text, one_line: edit_paragraphs(text, 0.01, 2,
                                                                       one_line=one_line))]
    shown = [c for c in COLUMNS
             if not (args.skip_difflib and c[0].startswith("difflib"))
             and not (args.skip_page and c[0] == "page")
             and not (not git and "git" in c[0])
             and not (not args.baseline and c[0].startswith("base"))]
    header = f"{'pair':18} {'edits':17} " + " ".join(f"{n:>{w}}" for n, w, _ in shown)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}, "
          f"median of {args.rounds} round(s), ms")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for (name, size, one_line), (edits_name, make_edits) in itertools.product(cases, edits):
            a = article(size, 1, one_line=one_line)
            b = make_edits(a, one_line)
            ops = diff_words(a, b)
            assert old_text(ops) == a and new_text(ops) == b
            path_a, path_b = Path(tmp, "a.txt"), Path(tmp, "b.txt")
            path_a.write_text(a, encoding="utf-8")
            path_b.write_text(b, encoding="utf-8")
            rounds = [measure_round(a, b, path_a, path_b, git, args) for _ in range(args.rounds)]
            row: dict[str, float | str] = {
                key: statistics.median(float(r[key]) for r in rounds) for key in rounds[0]}
            if not args.skip_difflib:
                row["difflib-sm"] = sequence_matcher_ms(path_a, path_b, args.cap)
            cells = [f"{row[n]:>{w}{f}}" if f else f"{row[n]:>{w}}" for n, w, f in shown]
            print(f"{name:18} {edits_name:17} " + " ".join(cells))
    if not git:
        print("git not found: no git columns")


if __name__ == "__main__":
    main()
