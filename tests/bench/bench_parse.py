"""Benchmark of the parsers over the real-page corpus (a script: prints a table).

    .venv/bin/python tests/bench/bench_parse.py [--repeat N] [--corpus DIR] [--no-bs4]
    .venv/bin/python tests/bench/bench_parse.py --site [--site-topics N] [--page-kb KB]

For each page, in the same run and interleaved (so that machine noise hits all alike):

- bare:  selectolax (Lexbor) parse + <title> + first <p> + every <a href> (the floor);
- each of our parsers through parse_page (auto, mediawiki, generic, listing);
- bs4:   BeautifulSoup with lxml doing the same extraction as our mediawiki parser.

Reports the median milliseconds per page and the median over pages. Targets: our full
extraction within 2x of bare, and at least 20x faster than bs4.

With --site: the pages of the built-in site as the crawl benchmark serves them (2,000
topics, pages padded to about --page-kb KB): listing pages in each markup and article
pages, parsed as the crawler parses them (parser "auto"), beside the bare parse.

Times are CPU time of this process (time.process_time), not wall time: the machine is
shared, and wall time then measures the neighbours as much as the code.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from scraper.parse import parse_page

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "real"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/real")
PARSERS = ("auto", "mediawiki", "generic", "listing")


def _ours(body: bytes, url: str, parser: str) -> Any:
    return parse_page(body, url, parser=parser)


def bare(body: bytes) -> Any:
    tree = LexborHTMLParser(body)
    title = tree.css_first("title")
    first_p = tree.css_first("p")
    return (title.text() if title else "", first_p.text() if first_p else "",
            [a.attrs.get("href") for a in tree.css("a[href]")])


# ------------------------------------------------------------- BeautifulSoup equivalent

_JUNK_CLASSES = {"reference", "mw-ref", "mw-editsection", "noprint", "noexcerpt", "mw-empty-elt",
                 "ext-phonos", "haudio"}
_SKIP_CLASSES = {"infobox", "portable-infobox", "navbox", "vertical-navbox", "sidebar", "toc",
                 "hatnote", "thumb", "gallery", "reflist", "references", "mw-references-wrap",
                 "metadata", "ambox", "catlinks", "shortdescription", "navigation-not-searchable"}
_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dd", "dt", "pre", "tr"}
_REV = re.compile(r'"wgRevisionId"\s*:\s*(\d+)')
_CATS = re.compile(r'"wgCategories"\s*:\s*(\[[^\]]*\])')


def bs4_mediawiki(body: bytes, url: str) -> dict[str, Any]:
    """What our mediawiki parser extracts, written the usual BeautifulSoup way."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(url, base_tag["href"]) if base_tag else url
    h1 = soup.find("h1", id="firstHeading") or soup.find("h1")
    title = " ".join(h1.get_text().split()) if h1 else (soup.title.get_text() if soup.title
                                                        else "")
    content = soup.find(id="mw-content-text") or soup.find(class_="mw-parser-output") or soup.body
    host = urlsplit(base).hostname
    links: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    see_also: list[str] = []
    if content is not None:
        for h2 in content.find_all("h2"):
            if h2.get_text().strip().lower().startswith("see also"):
                for sib in (h2.parent if "mw-heading" in (h2.parent.get("class") or [])
                            else h2).find_next_siblings():
                    if sib.name == "h2" or sib.find("h2"):
                        break
                    see_also += [a["href"] for a in sib.find_all("a", href=True)]
        for a in content.find_all("a", href=True):
            target = urljoin(base, a["href"]).split("#")[0]
            if not target.startswith("http") or target in seen:
                continue
            seen.add(target)
            parts = urlsplit(target)
            if parts.hostname == host:
                if not parts.path.startswith("/wiki/") or parts.query:
                    continue
                name = unquote(parts.path[6:]).replace("_", " ")
                if ":" in name:
                    continue
                links.append((target, a.get("title") or name, "internal"))
            else:
                links.append((target, a.get_text(" ", strip=True), "external"))
        for node in content.find_all(True):
            if node.decomposed:
                continue
            classes = set(node.get("class") or ())
            if classes & _JUNK_CLASSES or node.name == "style" or node.get("id") == "coordinates":
                node.decompose()
        infobox = []
        box = content.find(class_="infobox")
        if box is not None:
            for row in box.find_all("tr"):
                th, td = row.find("th"), row.find("td")
                if th and td:
                    infobox.append((th.get_text(" ", strip=True), td.get_text(" ", strip=True)))
        paragraphs = []
        for node in content.find_all(_BLOCKS):
            if any(set(parent.get("class") or ()) & _SKIP_CLASSES for parent in node.parents):
                continue
            text = " ".join(node.get_text().split())
            if text:
                paragraphs.append((node.name, text))
    rev = cats = None
    for script in soup.find_all("script"):
        text = script.string or ""
        if "wgRevisionId" in text:
            match = _REV.search(text)
            rev = int(match.group(1)) if match else None
            match = _CATS.search(text)
            cats = json.loads(match.group(1)) if match else None
    catlinks = soup.find(id="catlinks")
    categories = [a.get_text() for a in catlinks.select("li a")] if catlinks else cats
    og = soup.find("meta", property="og:image")
    return {"title": title, "links": links, "see_also": see_also, "revision": rev,
            "categories": categories, "image": og["content"] if og else None}


# ------------------------------------------------------------- measuring


def measure(pages: list[tuple[str, bytes, str]], runners: dict[str, Callable[[bytes, str], Any]],
            repeat: int, slow: dict[str, int],
            ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Median and fastest ms per page for each runner, interleaving runners within each
    round (the fastest run is the one least disturbed by the neighbours).

    :param slow: runners to run in fewer rounds (label -> rounds), such as bs4.
    """
    times: dict[str, dict[str, list[float]]] = {r: {n: [] for n, _, _ in pages} for r in runners}
    for name, body, url in pages:
        for runner in runners.values():  # warm up
            runner(body, url)
    gc.disable()
    try:
        for round_number in range(repeat):
            for name, body, url in pages:
                for label, runner in runners.items():
                    if round_number >= slow.get(label, repeat):
                        continue
                    start = time.process_time()
                    runner(body, url)
                    times[label][name].append((time.process_time() - start) * 1000)
                gc.collect()
    finally:
        gc.enable()
    medians = {label: {name: statistics.median(values) for name, values in per_page.items()}
               for label, per_page in times.items()}
    fastest = {label: {name: min(values) for name, values in per_page.items()}
               for label, per_page in times.items()}
    return medians, fastest


def site_pages(topics: int, page_kb: int) -> list[tuple[str, bytes, str]]:
    """(group/name, body, url) of listing pages (each markup) and article pages of the
    built-in site, configured as bench_crawl.py serves it."""
    from scraper.testsite import (
        MARKUPS,
        SiteModel,
        info_path,
        related_path,
        render_article,
        render_listing,
    )

    base = "http://127.0.0.1:8000"
    model = SiteModel(seed=1, pages=2000, page_kb=page_kb)
    pages = []
    for slug in model.slugs[:topics]:
        for markup in MARKUPS:
            pages.append((f"listing-{markup}/{slug}", render_listing(model, slug, 1, markup),
                          base + related_path(slug, 1)))
        pages.append((f"article/{slug}", render_article(model, slug), base + info_path(slug)))
    return pages


def site_main(args: argparse.Namespace) -> int:
    pages = site_pages(args.site_topics, args.page_kb)
    runners: dict[str, Callable[[bytes, str], Any]] = {
        "bare": lambda b, u: bare(b), "auto": functools.partial(_ours, parser="auto")}
    results, fastest = measure(pages, runners, args.repeat, {})
    groups = sorted({name.split("/", 1)[0] for name, _, _ in pages})
    print(f"{'pages (median ms/page)':<24} {'n':>4} {'KB':>5} {'bare':>8} {'auto':>8} {'ratio':>7}"
          f" {'auto fastest':>13}")
    for group in groups:
        names = [name for name, _, _ in pages if name.startswith(group + "/")]
        kb = statistics.mean(len(b) for name, b, _ in pages if name in names) / 1024
        med = {label: statistics.median(results[label][n] for n in names) for label in runners}
        best = statistics.median(fastest["auto"][n] for n in names)
        print(f"{group:<24} {len(names):>4} {kb:>5.0f} {med['bare']:>8.2f} {med['auto']:>8.2f}"
              f" {med['auto'] / med['bare']:>6.1f}x {best:>13.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--bs4-repeat", type=int, default=3,
                        help="rounds for BeautifulSoup (about 50x slower than the others)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--no-bs4", action="store_true", help="skip the BeautifulSoup runs")
    parser.add_argument("--parsers", default=",".join(PARSERS),
                        help="which of our parsers to run (comma-separated)")
    parser.add_argument("--site", action="store_true",
                        help="measure the built-in site's listing and article pages instead")
    parser.add_argument("--site-topics", type=int, default=20,
                        help="with --site: topics whose listing (3 markups) and article "
                             "pages are measured")
    parser.add_argument("--page-kb", type=int, default=60,
                        help="with --site: page size the site pads to (bench_crawl's default)")
    args = parser.parse_args(argv)
    if args.site:
        return site_main(args)

    pages = []
    for path in sorted(args.corpus.glob("*.html")):
        sidecar = path.with_name(path.stem + ".expected.json")
        url = json.loads(sidecar.read_text())["url"] if sidecar.exists() else path.as_uri()
        pages.append((path.name, path.read_bytes(), url))
    if not pages:
        print(f"no .html pages in {args.corpus}", file=sys.stderr)
        return 1

    runners: dict[str, Callable[[bytes, str], Any]] = {"bare": lambda b, u: bare(b)}
    for name in args.parsers.split(","):
        runners[name] = functools.partial(_ours, parser=name)
    if not args.no_bs4:
        runners["bs4"] = bs4_mediawiki
    results, fastest = measure(pages, runners, args.repeat, {"bs4": args.bs4_repeat})

    labels = list(runners)
    width = max(len(name) for name, _, _ in pages)
    print(f"{'page (median ms)':<{width}} {'KB':>6} " + " ".join(f"{label:>9}" for label in labels))
    for name, body, _ in pages:
        print(f"{name:<{width}} {len(body) // 1024:>6} "
              + " ".join(f"{results[label][name]:>9.2f}" for label in labels))
    medians = {label: statistics.median(results[label].values()) for label in labels}
    means = {label: statistics.mean(results[label].values()) for label in labels}
    best = {label: statistics.median(fastest[label].values()) for label in labels}
    mean_kb = statistics.mean(len(b) for _, b, _ in pages) // 1024
    print(f"{'MEDIAN ms/page':<{width}} {'':>6} "
          + " ".join(f"{medians[label]:>9.2f}" for label in labels))
    print(f"{'MEAN ms/page':<{width}} {mean_kb:>6} "
          + " ".join(f"{means[label]:>9.2f}" for label in labels))
    print(f"{'MEDIAN of fastest runs':<{width}} {'':>6} "
          + " ".join(f"{best[label]:>9.2f}" for label in labels))
    print()
    for title, figures in (("median", medians), ("fastest runs", best)):
        ours = figures["mediawiki"]
        print(f"[{title}] mediawiki / bare: {ours / figures['bare']:.2f}x (target <= 2x)", end="")
        if "auto" in figures:
            print(f"; auto / bare: {figures['auto'] / figures['bare']:.2f}x", end="")
        if "bs4" in figures:
            print(f"; bs4 / mediawiki: {figures['bs4'] / ours:.1f}x (target >= 20x)", end="")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
