"""Storage benchmark: 100 revisions of a ~100 KB article, each changing ~1% of its text.

Prints, for the same revisions: raw size, each revision gzip-compressed alone, git's pack after
`git gc --aggressive`, and the archive (bytes of body blobs, ratio to raw, write time per
version, cold read time of any version) for several zstd levels and K (full_copy_every).

    .venv/bin/python tests/bench/bench_storage.py [--revisions 100] [--quick]

Two articles: a synthetic wiki page (always) and a real Wikipedia page trimmed to ~100 KB
(when the shared corpus is present: /work/shared/corpus/real/wikipedia-en-mozilla-vector-2016.html).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scraper.archive import Archive
from scraper.archive import blobs as blobs_module
from scraper.archive.blobs import ChainLink, DeltaPlan
from scraper.models import FetchResult, Page

REAL = Path("/work/shared/corpus/real/wikipedia-en-mozilla-vector-2016.html")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_SIZE = 100_000


def synthetic_article(rng: random.Random) -> bytes:
    """Wiki-like HTML: sections, paragraphs of Zipf-distributed words, links every few words."""
    syllables = ["ka", "to", "ri", "an", "el", "mo", "su", "der", "ing", "tion", "al", "ve",
                 "na", "or", "is", "us", "pre", "con", "ment", "ly"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(4000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    out = [('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Article</title>'
            '<link rel="stylesheet" href="/w/load.php?modules=site.styles"></head><body>'
            '<div id="content"><h1 id="firstHeading">Article</h1><div id="mw-content-text">')]
    size = sum(len(part) for part in out)
    section = 0
    while size < TARGET_SIZE - 400:
        if rng.random() < 0.1:
            section += 1
            part = (f'<h2><span class="mw-headline" id="Section_{section}">Section {section}'
                    '</span></h2>')
        else:
            words = rng.choices(vocab, weights, k=rng.randint(40, 120))
            part = "<p>" + " ".join(
                f'<a href="/wiki/{w.capitalize()}" title="{w.capitalize()}">{w}</a>'
                if j % 11 == 5 else w for j, w in enumerate(words)) + ".</p>\n"
        out.append(part)
        size += len(part)
    out.append('</div><div id="catlinks">Categories: Things</div></div></body></html>')
    return "".join(out).encode()


def real_article() -> bytes | None:
    if not REAL.exists():
        return None
    html = REAL.read_bytes()
    start, tail_at = html.index(b'<div id="mw-content-text"'), html.index(b'id="catlinks"')
    head, tail = html[:start], html[tail_at - 5:]
    return head + html[start:start + TARGET_SIZE - len(head) - len(tail)] + tail


TEXT_NODE = re.compile(rb">([^<>]{20,})<")


def revisions(first: bytes, count: int, rng: random.Random) -> list[bytes]:
    """`count` bodies, each with ~1% of the previous one's text replaced word by word."""
    body = first
    vocab = sorted({w for m in TEXT_NODE.finditer(body) for w in m.group(1).split() if w.isalpha()})
    out = [body]
    for _ in range(count - 1):
        nodes = list(TEXT_NODE.finditer(body))
        text_size = sum(len(m.group(1)) for m in nodes)
        changed = 0
        spans: dict[int, bytes] = {}
        while changed < text_size / 100:
            node = rng.choices(nodes, [len(m.group(1)) for m in nodes])[0]
            words = (spans.get(node.start(1)) or node.group(1)).split(b" ")
            at = rng.randrange(len(words))
            new = rng.choice(vocab)
            changed += max(len(new), len(words[at]))
            words[at] = new
            spans[node.start(1)] = b" ".join(words)
        pieces, last = [], 0
        for node in nodes:
            if node.start(1) in spans:
                pieces += [body[last:node.start(1)], spans[node.start(1)]]
                last = node.end(1)
        body = b"".join(pieces) + body[last:]
        out.append(body)
    return out


def gzip_alone(revs: list[bytes]) -> int:
    return sum(len(gzip.compress(r, compresslevel=9)) for r in revs)


def git_pack(revs: list[bytes]) -> tuple[int, int] | None:
    """(pack file bytes, bytes of the blob objects inside it) after git gc --aggressive."""
    if shutil.which("git") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        git = ["git", "-C", tmp, "-c", "user.name=bench", "-c", "user.email=bench@example.org",
               "-c", "commit.gpgsign=false"]
        subprocess.run([*git, "init", "-q"], check=True)
        for number, body in enumerate(revs):
            Path(tmp, "article.html").write_bytes(body)
            subprocess.run([*git, "add", "article.html"], check=True)
            subprocess.run([*git, "commit", "-q", "-m", f"revision {number}"], check=True)
        subprocess.run([*git, "gc", "-q", "--aggressive", "--prune=now"], check=True)
        packs = list(Path(tmp, ".git", "objects", "pack").glob("*.pack"))
        pack_bytes = sum(p.stat().st_size for p in packs)
        listing = subprocess.run([*git, "verify-pack", "-v", *map(str, packs)], check=True,
                                 capture_output=True, text=True).stdout
        blob_bytes = sum(int(line.split()[3]) for line in listing.splitlines()
                         if len(line.split()) > 4 and line.split()[1] == "blob")
        return pack_bytes, blob_bytes


def plain_chain(previous: ChainLink | None, keyframe: ChainLink | None,
                max_depth: int) -> DeltaPlan:
    """The single-level alternative: delta on the previous version, full copy every K."""
    if previous is None or previous.depth + 1 > max_depth:
        return DeltaPlan(None, True)
    return DeltaPlan(previous, False)


@contextmanager
def strategy(plan: Callable[[ChainLink | None, ChainLink | None, int], DeltaPlan]
             ) -> Iterator[None]:
    saved = blobs_module.plan_delta
    blobs_module.plan_delta = plan
    try:
        yield
    finally:
        blobs_module.plan_delta = saved


def archive_run(revs: list[bytes], *, level: int, k: int) -> dict[str, float]:
    url = "http://bench.test/wiki/Article"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        archive = Archive.open(path, full_copy_every=k)
        archive.blobs.level = level
        run = archive.start_run(["bench"], {}, T0)
        write_times = []
        first_file_size = 0
        for number, body in enumerate(revs):
            if number == 1:
                archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                first_file_size = os.path.getsize(path)
            at = T0 + timedelta(hours=number)
            page = Page(url, title="Article", summary=f"revision {number}")
            started = time.perf_counter()
            archive.save(run, "bench", FetchResult(url, url, 200, (), body, at, 0.1), page,
                         next_due=at)
            write_times.append(time.perf_counter() - started)
        archive.close()
        # Cold reads: a fresh connection, and the decompression cache emptied before each.
        archive = Archive.open(path, create=False, full_copy_every=k)
        read_times = []
        for version in range(1, len(revs) + 1):
            # Best of 3 cold reads, so that another process taking the CPU does not count.
            best = float("inf")
            for _ in range(3):
                archive.blobs.forget()
                started = time.perf_counter()
                body = archive.body(url, version)
                best = min(best, time.perf_counter() - started)
            read_times.append(best)
            assert body == revs[version - 1]
        stats = archive.stats()
        depth = archive.conn.execute("SELECT max(depth) FROM blobs WHERE kind = 'body'"
                                     ).fetchone()[0]
        fulls = archive.conn.execute("SELECT count(*) FROM blobs WHERE kind = 'body' AND"
                                     " base IS NULL").fetchone()[0]
        archive.close()
        file_size = os.path.getsize(path)
    return {"growth": file_size - first_file_size,"stored": stats["bytes_stored"], "raw": stats["bytes_fetched"],
            "write_ms": statistics.median(write_times[1:]) * 1000,
            "read_ms_max": max(read_times) * 1000, "read_ms_median":
            statistics.median(read_times) * 1000, "depth": depth, "fulls": fulls,
            "file": file_size}


def report(name: str, revs: list[bytes], configs: list[tuple[str, int, int]]) -> None:
    raw = sum(map(len, revs))
    print(f"\n## {name}: {len(revs)} revisions of {len(revs[0]):,} bytes, raw {raw:,} bytes")
    print(f"{'method':<34} {'bytes':>10} {'x smaller':>9} {'write ms':>9} {'read max':>9}"
          f" {'read med':>9} {'depth':>5} {'full':>4}")
    gz = gzip_alone(revs)
    print(f"{'gzip -9, each revision alone':<34} {gz:>10,} {raw / gz:>9.1f}")
    packed = git_pack(revs)
    if packed:
        pack, blob_bytes = packed
        print(f"{'git gc --aggressive: whole pack':<34} {pack:>10,} {raw / pack:>9.1f}")
        print(f"{'git gc --aggressive: blobs only':<34} {blob_bytes:>10,} {raw / blob_bytes:>9.1f}")
    file_size = growth = 0
    for label, level, k in configs:
        plan = plain_chain if label.startswith("plain") else blobs_module.plan_delta
        with strategy(plan):
            r = archive_run(revs, level=level, k=k)
        default = (level, k) == (blobs_module.DEFAULT_LEVEL, blobs_module.DEFAULT_FULL_COPY_EVERY)
        if default and not label.startswith("plain"):
            label, file_size, growth = "archive (default)", int(r["file"]), int(r["growth"])
        title = f"{label} zstd-{level} K={k}"
        print(f"{title:<34} {int(r['stored']):>10,} {raw / r['stored']:>9.1f} "
              f"{r['write_ms']:>9.2f} {r['read_ms_max']:>9.2f} {r['read_ms_median']:>9.2f} "
              f"{int(r['depth']):>5} {int(r['fulls']):>4}")
    if file_size:
        print(f"archive file with the defaults: {file_size:,} bytes in all; versions 2-{len(revs)}"
              f" grew it by {growth:,} bytes (bodies, extracted fields, snapshot rows, indexes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="only the default settings")
    parser.add_argument("--configs", default="",
                        help="LEVEL:K,... to measure instead of the built-in list")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    default = blobs_module.DEFAULT_LEVEL
    configs = [("archive", default, blobs_module.DEFAULT_FULL_COPY_EVERY)]
    if args.configs:
        configs = [("archive", int(c.split(":")[0]), int(c.split(":")[1]))
                   for c in args.configs.split(",")]
    elif not args.quick:
        k = blobs_module.DEFAULT_FULL_COPY_EVERY
        configs = [("plain chain", default, k), ("plain chain", default, 50)]
        configs += [("archive", level, k) for level in (3, 9, 12, 19)]
        configs += [("archive", default, other) for other in (8, 16, 32)]
    articles = [("synthetic wiki article", synthetic_article(random.Random(args.seed)))]
    real = real_article()
    if real is not None:
        articles.append(("real Wikipedia page (Mozilla, 2016, trimmed)", real))
    else:
        print(f"({REAL} not found: synthetic article only)", file=sys.stderr)
    for name, first in articles:
        report(name, revisions(first, args.revisions, random.Random(args.seed)), configs)


if __name__ == "__main__":
    main()
