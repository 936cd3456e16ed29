"""Benchmark of `scraper export`: records/s and peak RSS per format on a 100,000-version archive.

    .venv/bin/python tests/bench/bench_export.py                 # build (cached) and measure
    .venv/bin/python tests/bench/bench_export.py --versions 20000 --source synthetic

The archive is built once and cached under --cache (default /tmp/scraper-bench-export), keyed
by source, size and schema version; a build that did not finish is rebuilt. Pages come from
the built-in site (its listing and article pages rendered and parsed by scraper.parse) when
scraper.testsite offers the renderers, else from synthetic pages shaped like them
(--source chooses). Each page gets many versions, each a small edit of the one before, as a
recrawl of edited pages would store.

Each export runs as its own process (`python -m scraper export ...`); its peak RSS is that
process's ru_maxrss from os.wait4, its time the wall clock from start to exit (interpreter
start included). Targets: peak RSS < 200 MB for every format, JSONL >= 20,000 records/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scraper.archive import Archive
from scraper.archive.sqlite import SCHEMA_VERSION
from scraper.models import Entry, FetchResult, Link, Page

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"
RSS_TARGET_MB = 200
JSONL_TARGET = 20_000

# (label, export arguments); the archive's every version is exported (--all-versions).
RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("jsonl pages", ("--format", "jsonl")),
    ("csv pages", ("--format", "csv")),
    ("parquet pages", ("--format", "parquet")),
    ("warc.gz pages", ("--format", "warc")),
    ("jsonl pages --with-text", ("--format", "jsonl", "--with-text")),
    ("parquet pages --with-text", ("--format", "parquet", "--with-text")),
    ("jsonl links", ("--format", "jsonl", "--records", "links")),
    ("jsonl entries", ("--format", "jsonl", "--records", "entries")),
    ("parquet entries", ("--format", "parquet", "--records", "entries")),
)
SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet", "warc": ".warc.gz"}


# -- page sources -----------------------------------------------------------------------------

BasePage = tuple[str, Page, bytes]  # (url, parsed page, body)


def site_pages(count: int) -> list[BasePage] | None:
    """Listing and article pages of the built-in site, rendered and parsed; None without it."""
    try:
        from scraper.parse import parse_page
        from scraper.testsite import (
            MARKUPS,
            SiteModel,
            info_path,
            related_path,
            render_article,
            render_listing,
        )
    except ImportError:
        return None
    model = SiteModel(seed=1, pages=max(1, count // 2))
    out: list[BasePage] = []
    for i, slug in enumerate(model.slugs):
        bodies = [(related_path(slug, n), render_listing(model, slug, n,
                                                         markup=MARKUPS[i % len(MARKUPS)]))
                  for n in range(1, model.listing_pages(slug) + 1)]
        bodies.append((info_path(slug), render_article(model, slug)))
        for path, body in bodies:
            url = BASE + path
            out.append((url, parse_page(body, url), body))
            if len(out) >= count:
                return out
    return out


def _sentence(rnd: random.Random, words: list[str], n: int) -> str:
    return " ".join(rnd.choice(words) for _ in range(n)).capitalize() + "."


def synthetic_pages(count: int) -> list[BasePage]:
    """Pages shaped like the built-in site's: listings of 11 entries, articles with infoboxes."""
    rnd = random.Random(1)
    words = [w for w in re.findall(r"[a-z]+", (__doc__ or "").lower() * 3) if len(w) > 2]
    titles = [f"{_sentence(rnd, words, 2)[:-1]} {i}" for i in range(count)]
    slugs = [t.replace(" ", "_") for t in titles]
    out: list[BasePage] = []
    for i, slug in enumerate(slugs):
        title = titles[i]
        if i % 2 == 0:
            url = f"{BASE}/related/{slug}"
            shown = [i] + rnd.sample(range(count), 10)
            entries = tuple(Entry(
                title=titles[j], summary=_sentence(rnd, words, 45)[:280] + " ...",
                summary_truncated=True, image=f"{BASE}/img/{slugs[j]}.jpg",
                more_info=f"{BASE}/info/{slugs[j]}", related=f"{BASE}/related/{slugs[j]}",
                search_links=(("Wikipedia", f"https://en.wikipedia.org/wiki/{slugs[j]}"),
                              ("Google", f"https://www.google.com/search?q={slugs[j]}"),
                              ("Baidu", f"https://www.baidu.com/s?wd={slugs[j]}")))
                for j in shown)
            links = tuple(Link(e.related or "", "Related Items", "related") for e in entries)
            links += tuple(Link(e.more_info or "", "More Info", "more_info") for e in entries)
            links += tuple(Link(u, n, "search") for e in entries for n, u in e.search_links)
            page = Page(url=url, kind="listing", title=title, summary=entries[0].summary,
                        summary_truncated=True, links=links, entries=entries,
                        parser="listing")
        else:
            url = f"{BASE}/info/{slug}"
            text = "\n\n".join(" ".join(_sentence(rnd, words, 14) for _ in range(5))
                               for _ in range(6))
            links = tuple(Link(f"{BASE}/info/{slugs[j]}", titles[j], "internal")
                          for j in rnd.sample(range(count), 30))
            links += tuple(Link(f"{BASE}/info/{slugs[j]}", titles[j], "see_also")
                           for j in rnd.sample(range(count), 5))
            page = Page(url=url, kind="article", title=title, summary=text.split("\n")[0],
                        text=text, links=links, categories=(f"Category {i % 17}", "Topics"),
                        infobox=tuple((f"Key {k}", _sentence(rnd, words, 3)) for k in range(8)),
                        revision_id=1_000_000 + i, parser="mediawiki")
        body = render_html(page)
        out.append((url, page, body))
    return out


def render_html(page: Page) -> bytes:
    parts = [f"<!doctype html><html><head><title>{page.title}</title></head><body>",
             f"<h1>{page.title}</h1><p>{page.summary}</p>"]
    parts += [f"<div class=entry><h2>{e.title}</h2><p>{e.summary}</p></div>" for e in page.entries]
    parts += [f"<p>{p}</p>" for p in page.text.split("\n\n") if p]
    parts += [f'<a href="{ln.url}">{ln.title}</a>' for ln in page.links]
    return ("\n".join(parts) + "</body></html>").encode()


def edited(page: Page, body: bytes, version: int) -> tuple[Page, bytes]:
    """Version `version` of a page: its summary edited, as a wiki edit or a mirror update would."""
    mark = f" (edit {version})"
    if page.entries:
        first = dataclasses.replace(page.entries[0], summary=page.entries[0].summary + mark)
        page = dataclasses.replace(page, entries=(first, *page.entries[1:]))
    page = dataclasses.replace(page, summary=page.summary + mark,
                               revision_id=(page.revision_id or 0) + version
                               if page.revision_id else None)
    return page, body.replace(b"</body>", f"<!-- {mark} --></body>".encode(), 1)


# -- archive ----------------------------------------------------------------------------------

def build_archive(path: Path, versions: int, pages: list[BasePage], site: str) -> None:
    tmp = path.with_suffix(".building")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    per_page = max(1, versions // len(pages))
    started = time.perf_counter()
    done = 0
    with Archive.open(str(tmp)) as archive:
        run = archive.start_run([site], {"bench": True}, T0)
        for v in range(1, per_page + 1):
            for i, (url, page, body) in enumerate(pages):
                if done >= versions:
                    break
                pg, bd = edited(page, body, v) if v > 1 else (page, body)
                when = T0 + timedelta(days=v, seconds=i)
                fetch = FetchResult(url=url, final_url=url, status=200,
                                    headers=(("Content-Type", "text/html; charset=utf-8"),
                                             ("Content-Length", str(len(bd)))),
                                    body=bd, fetched_at=when, elapsed_s=0.05)
                archive.save(run, site, fetch, pg, next_due=when + timedelta(days=1))
                done += 1
                if done % 10_000 == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  built {done:,} versions ({rate:,.0f}/s)", file=sys.stderr)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    print(f"  archive built in {time.perf_counter() - started:,.0f} s: {path}", file=sys.stderr)


def cached_archive(cache: Path, source: str, versions: int) -> tuple[Path, str]:
    cache.mkdir(parents=True, exist_ok=True)
    n_pages = 2_000
    pages: list[BasePage] | None = None
    if source in ("auto", "site"):
        path = cache / f"archive-site-{versions}-v{SCHEMA_VERSION}.db"
        if path.exists():
            return path, "site"
        pages = site_pages(n_pages)
        if pages is None and source == "site":
            raise SystemExit("scraper.testsite has no render_listing/render_article yet")
    if pages is None:
        source = "synthetic"
        path = cache / f"archive-synthetic-{versions}-v{SCHEMA_VERSION}.db"
        if path.exists():
            return path, source
        pages = synthetic_pages(n_pages)
    else:
        source = "site"
    print(f"building a {versions:,}-version archive from {len(pages)} {source} pages",
          file=sys.stderr)
    build_archive(path, versions, pages, "bench")
    return path, source


def ensure_archive(cache: Path, source: str, versions: int) -> tuple[Path, str]:
    """The cached archive, built by a child process: a child forked from a parent grown by the
    build would report the parent's pages in its own ru_maxrss."""
    done = subprocess.run([sys.executable, __file__, "--build-only", "--cache", str(cache),
                           "--source", source, "--versions", str(versions)],
                          stdout=subprocess.PIPE, text=True, check=True)
    built, found = done.stdout.strip().splitlines()[-1].split("\t")
    return Path(built), found


# -- measuring --------------------------------------------------------------------------------

@dataclasses.dataclass
class Measure:
    label: str
    records: int
    seconds: float
    peak_mb: float
    out_mb: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def measure(cmd: list[str], out: Path) -> tuple[int, float, float, str]:
    """Run one export process: (exit code, seconds, peak RSS in MB, stderr)."""
    err_path = out.with_name(out.name + ".stderr")
    with err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text()
    err_path.unlink()
    return proc.returncode, seconds, usage.ru_maxrss / 1024, stderr  # Linux: KiB


def run_all(archive: Path, workdir: Path, only: Callable[[str], bool]) -> Iterator[Measure]:
    for label, args in RUNS:
        if not only(label):
            continue
        fmt = args[args.index("--format") + 1]
        out = workdir / ("export" + SUFFIX[fmt])
        cmd = [sys.executable, "-m", "scraper", "export", "--archive", str(archive),
               "--all-versions", "--force", "-o", str(out), *args]
        code, seconds, peak, stderr = measure(cmd, out)
        if code != 0:
            raise SystemExit(f"{label}: exit {code}\n{stderr}")
        found = re.search(r"exported (\d+)", stderr)
        records = int(found.group(1)) if found else 0
        size = out.stat().st_size / 1e6
        out.unlink()
        yield Measure(label, records, seconds, peak, size)


def baseline_rss() -> float:
    """Peak RSS of the interpreter with the export modules imported, for reference."""
    code = ("import scraper.cli, scraper.export, pyarrow.parquet, warcio.warcwriter, "
            "scraper.archive")
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/scraper-bench-export"))
    parser.add_argument("--source", choices=("auto", "site", "synthetic"), default="auto")
    parser.add_argument("--only", default="", help="run only the exports whose label has this")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        built, found = cached_archive(args.cache, args.source, args.versions)
        print(f"{built}\t{found}")
        return
    archive, source = ensure_archive(args.cache, args.source, args.versions)
    print(f"archive: {archive} ({archive.stat().st_size / 1e6:,.0f} MB, {source} pages)")
    print(f"interpreter + export modules imported: {baseline_rss():.0f} MB peak RSS")
    print(f"{'export':<27} {'records':>9} {'seconds':>8} {'records/s':>10} {'peak RSS':>9} "
          f"{'output':>9}  target")
    failed = False
    for m in run_all(archive, args.cache, lambda label: args.only in label):
        ok = m.peak_mb < RSS_TARGET_MB and (m.label != "jsonl pages" or m.rate >= JSONL_TARGET)
        failed |= not ok
        print(f"{m.label:<27} {m.records:>9,} {m.seconds:>8.1f} {m.rate:>10,.0f} "
              f"{m.peak_mb:>6.0f} MB {m.out_mb:>6.0f} MB  {'ok' if ok else 'MISSED'}",
              flush=True)
    print(f"targets: peak RSS < {RSS_TARGET_MB} MB for every export; "
          f"jsonl pages >= {JSONL_TARGET:,} records/s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
