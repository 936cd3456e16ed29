"""Recrawl cost of a MediaWiki: plain HTML with conditional GET against `source: mediawiki`.

Builds the test harness's sample wiki (Debian's MediaWiki 1.39 on loopback; see
docs/mediawiki.md), archives it once both ways (the Main Page and every page it links), then
for each round edits one page (or none) and recrawls both ways, counting the requests the
wiki's own server log received and timing each run.

    python tests/bench/bench_mediawiki.py [--rounds 5] [--pages-edited 1] [--extra-pages 0]

`--extra-pages N` adds N short articles linked from the Main Page, to show how each way's
cost grows with the size of the wiki.

Needs PHP and MediaWiki (`sudo bash .ci/mediawiki-setup.sh`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the harness
sys.path.insert(0, str(HERE.parent.parent))

from mediawiki_harness import (
    DATA_DIR,
    MediaWikiServer,
    build_instance,
    missing_reason,
    start_clone,
)

from scraper.archive import Archive
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import RunResult, crawl

UA = "scraper-bench/1.0 (mailto:bench@example.org)"
EDITED = ["Cold War", "Warsaw Pact", "North Atlantic Treaty", "Collective security",
          "Partnership for Peace"]


def html_config(wiki: MediaWikiServer) -> CrawlConfig:
    return load_config_text(textwrap.dedent(f"""\
        name: html
        start_urls: ["{wiki.page_url('Main Page')}"]
        parser: mediawiki
        follow: [internal, see_also]
        max_depth: 1
        recrawl_after: 0s          # every page is due: each recrawl asks for all of them
        scope:
          include: ["^/wiki/"]
          exclude: ['^/wiki/[^/?]*:']
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {{allow_loopback: true}}
        """), "html.yaml")


def wiki_config(wiki: MediaWikiServer) -> CrawlConfig:
    return load_config_text(textwrap.dedent(f"""\
        name: wiki
        start_urls: ["{wiki.page_url('Main Page')}"]
        source: mediawiki
        mediawiki: {{follow_links: true}}
        politeness: {{delay: 0, user_agent: "{UA}"}}
        network: {{allow_loopback: true}}
        """), "wiki.yaml")


def measure(wiki: MediaWikiServer, config: CrawlConfig, archive: Archive
            ) -> tuple[RunResult, int, Counter[str], float]:
    wiki.reset_request_log()
    started = time.perf_counter()
    result = asyncio.run(crawl([config], archive))[0]
    seconds = time.perf_counter() - started
    log = wiki.request_log()
    kinds: Counter[str] = Counter()
    for request in log:
        if request.is_api:
            p = request.params
            kinds["api:" + (p.get("meta") or p.get("list") or p.get("prop", "?").split("|")[0])] += 1
        elif request.path == "/robots.txt":
            kinds["robots.txt"] += 1
        elif request.if_modified_since or request.if_none_match:
            kinds["conditional GET"] += 1
        else:
            kinds["page view"] += 1
    return result, len(log), kinds, seconds


def edit(wiki: MediaWikiServer, title: str, round_no: int) -> None:
    path = DATA_DIR / "pages" / f"{title.replace(' ', '_')}.wiki"
    text = path.read_text(encoding="utf-8")
    wiki.edit(title, text + f"\n\nBenchmark round {round_no}.", summary=f"round {round_no}")


def add_pages(wiki: MediaWikiServer, tmpdir: Path, count: int) -> None:
    """`count` short articles, imported back-dated, and linked from the Main Page."""
    print(f"adding {count} articles ...", file=sys.stderr)
    titles = [f"Bench article {i:04d}" for i in range(count)]
    bold = "'" * 3
    pages = "".join(
        f"<page><title>{t}</title><ns>0</ns><revision><timestamp>2024-02-01T00:00:00Z"
        f"</timestamp><contributor><username>Archivist</username></contributor>"
        f"<comment>bench</comment><model>wikitext</model><format>text/x-wiki</format>"
        f'<text xml:space="preserve">{bold}{t}{bold} is an article made for the benchmark.'
        f" It links to the [[Cold War]].\n\n== See also ==\n* [[Warsaw Pact]]</text>"
        f"</revision></page>" for t in titles)
    dump = tmpdir / "extra.xml"
    dump.write_text('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" '
                    f'version="0.11" xml:lang="en">{pages}</mediawiki>', encoding="utf-8")
    wiki.import_xml(dump)
    main_page = (DATA_DIR / "pages" / "Main_Page.wiki").read_text(encoding="utf-8")
    links = "".join(f"* [[{t}]]\n" for t in titles)
    wiki.edit("Main Page", main_page + "\n== More ==\n" + links,
              summary="link the benchmark articles")
    wiki.run_jobs()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages-edited", type=int, default=1, choices=range(6))
    parser.add_argument("--extra-pages", type=int, default=0)
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        print(f"cannot run: {reason} (sudo bash .ci/mediawiki-setup.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-mw-") as tmp:
        tmpdir = Path(tmp)
        print("building the sample wiki ...", file=sys.stderr)
        build_instance(tmpdir / "pristine")
        wiki = start_clone(tmpdir / "pristine", tmpdir / "wiki")
        try:
            if args.extra_pages:
                add_pages(wiki, tmpdir, args.extra_pages)
            return run_rounds(wiki, tmpdir, args.rounds, args.pages_edited)
        finally:
            wiki.stop()


def run_rounds(wiki: MediaWikiServer, tmpdir: Path, rounds: int, edited: int) -> int:
    html, api = html_config(wiki), wiki_config(wiki)
    figures: dict[str, list[tuple[int, float, int]]] = {"html": [], "wiki": []}
    kinds_seen: dict[str, Counter[str]] = {"html": Counter(), "wiki": Counter()}
    with Archive.open(str(tmpdir / "html.db")) as html_db, \
            Archive.open(str(tmpdir / "wiki.db")) as wiki_db:
        for name, config, db in (("html", html, html_db), ("wiki", api, wiki_db)):
            result, requests, kinds, seconds = measure(wiki, config, db)
            print(f"first run, {name}: {result.stats.new_versions} pages, {requests} requests,"
                  f" {seconds:.2f} s  {dict(kinds)}")
        for round_no in range(1, rounds + 1):
            for title in EDITED[:edited]:
                edit(wiki, title, round_no)
            # A run must start in a later second than the edits (the wiki's timestamps are
            # whole seconds); the HTML run goes first and takes longer than that.
            for name, config, db in (("html", html, html_db), ("wiki", api, wiki_db)):
                result, requests, kinds, seconds = measure(wiki, config, db)
                figures[name].append((requests, seconds, result.stats.new_versions))
                kinds_seen[name] += kinds
                if result.stats.new_versions != edited:
                    print(f"round {round_no}, {name}: {result.stats.new_versions} new "
                          f"versions, expected {edited}", file=sys.stderr)
    print(f"\nrecrawl of the sample wiki with {edited} page(s) edited, {rounds} rounds "
          f"(medians):")
    print(f"{'mode':<34} {'requests':>9} {'seconds':>9} {'new versions':>13}")
    labels = {"html": "html, conditional GET (304s)", "wiki": "mediawiki, recentchanges"}
    for name in ("html", "wiki"):
        rows = figures[name]
        print(f"{labels[name]:<34} {statistics.median(r[0] for r in rows):>9.0f} "
              f"{statistics.median(r[1] for r in rows):>9.3f} "
              f"{statistics.median(r[2] for r in rows):>13.0f}")
    for name in ("html", "wiki"):
        per_round = {k: v / rounds for k, v in sorted(kinds_seen[name].items())}
        print(f"  {name} requests per round: {per_round}")
    worst = max(r[0] for r in figures["wiki"])
    target = 5 + edited
    print(f"\ntarget: an incremental run makes at most 5 + {edited} requests; "
          f"worst round: {worst} ({'met' if worst <= target else 'MISSED'})")
    return 0 if worst <= target else 1


if __name__ == "__main__":
    sys.exit(main())
