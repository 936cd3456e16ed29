"""Reliability figures for the README: the server-fault matrix, hostile bodies with the peak
memory of a crawl process, bad configs and archives tried, network-safety refusals, SIGKILLs
survived and a soak with faults, all against the built-in site on loopback. Prints a Markdown
section (docs/reliability.md is its output).

    python tests/bench/reliability.py [--quick] [--kills 30] [--soak-pages 2000]
                                      [--output docs/reliability.md]

Takes about 5 minutes (--quick: about 1). Each figure is measured, none is typed in: the
tests in tests/test_hostile_*.py, test_network_safety.py, test_bad_*.py, test_durability.py
and test_soak.py assert the same behaviour.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

import hostile_helpers as H
from click.testing import CliRunner

from scraper.cli import main
from scraper.testsite import TestSite

Lines = list[str]


def section(title: str, lines: Lines) -> Lines:
    return [f"### {title}", "", *lines, ""]


def mb(value: float) -> str:
    return f"{value:,.0f} MB"


# -- server faults -------------------------------------------------------------------------

def server_faults(tmp: Path) -> tuple[Lines, int, int]:
    result, rows = H.fault_matrix(tmp)
    ok = 0
    table = ["| fault | ends | attempts | requests seen | reason recorded |",
             "| --- | --- | --- | --- | --- |"]
    for row in rows:
        case = row.case
        expected = ((case.attempts, case.attempts) if case.path == H.REFUSED
                    else case.requests)  # connections for a refused port
        good = (row.outcome == case.outcome and case.reason in row.reason
                and expected[0] <= row.requests <= expected[1])
        ok += good
        reason = row.reason.split(": <")[0].split(". ")[0]
        reason = (reason[:70] + " …") if len(reason) > 72 else reason
        seen = f"{row.requests}" + (" connects" if case.path == H.REFUSED else "")
        table.append(f"| {case.what} | {row.outcome}{'' if good else ' (UNEXPECTED)'} | "
                     f"{row.attempts} | {seen} | {reason or '—'} |")
    lines = [(f"{ok} of {len(rows)} server faults handled as specified, all in one crawl beside "
             f"a crawl of normal listings (run status: {result.status}; "
             f"{result.stats.fetched} pages stored, {result.stats.failed} failed, "
             f"{result.stats.retried} retries). network.attempts is 3, the back-off "
             "0.1 s doubling to 0.4 s, timeout 0.5 s, total_timeout 1.5 s, retry_after_max 1 s."),
             "", *table]
    return lines, ok, len(rows)


# -- hostile bodies ------------------------------------------------------------------------

def hostile_bodies(tmp: Path) -> tuple[Lines, int, int, float]:
    from test_hostile_bodies import CRAWL_ALL

    with TestSite(pages=30) as site:
        baseline_cfg = tmp / "baseline.yaml"
        baseline_cfg.write_text(H.config_yaml([site.url("/related/NATO")]))
        base = H.run_measured(H.scraper_cmd("crawl", str(baseline_cfg), "--archive",
                                            str(tmp / "baseline.db"), "-q"))
        cfg = tmp / "bodies.yaml"
        cfg.write_text(H.config_yaml([site.url(p) for p in CRAWL_ALL],
                                     network={"timeout": 30, "total_timeout": 120}))
        db = tmp / "bodies.db"
        started = time.monotonic()
        run = H.run_measured(H.scraper_cmd("crawl", str(cfg), "--archive", str(db), "-q"))
        seconds = time.monotonic() - started
        sent = sum(r.bytes_sent for r in H.settled_stats(site).log)
    got = H.outcomes(db)
    table = ["| body | ends | detail |", "| --- | --- | --- |"]
    ok = 0
    for path in CRAWL_ALL:
        outcome = got.of(path)
        if outcome == "fetched":
            detail = "stored byte-exact"
        else:
            detail = got.reason(path)
        ok += outcome in ("fetched", "failed", "skipped")
        table.append(f"| `{path}` | {outcome} | {detail} |")
    lines = [(f"One `scraper crawl` process over {len(CRAWL_ALL)} hostile bodies with the default "
             f"caps (10 MiB body, 50 MiB decompressed): exit code {run.returncode}, "
             f"{seconds:.1f} s, **peak RSS {mb(run.peak_rss_mb)}** (a crawl of one normal page: "
             f"{mb(base.peak_rss_mb)}). The server offered 2 GB of raw body and 2 GiB more "
             f"behind compression; it sent {sent / 1e6:,.0f} MB before the caps cut it off."),
             "", *table]
    return lines, ok, len(CRAWL_ALL), run.peak_rss_mb


# -- bad configs and archives --------------------------------------------------------------

def bad_configs(tmp: Path) -> tuple[Lines, int, int]:
    from test_bad_configs_crawl import BAD

    ok = 0
    with TestSite(pages=10) as site:
        for name, text, line, key, reason in BAD:
            folder = tmp / "configs" / name
            folder.mkdir(parents=True)
            path = folder / "bad.yaml"
            path.write_text(text.format(url=site.url("/related/NATO"), tmp=folder))
            result = CliRunner().invoke(main, ["crawl", str(path), "--archive",
                                               str(folder / "a.db")])
            where = f"{path}:{line}: " + (key or "")
            good = (result.exit_code == 2 and where in result.output and reason in result.output
                    and os.listdir(folder) == ["bad.yaml"])
            ok += good
        requests = site.stats().requests
    lines = [(f"{ok} of {len(BAD)} broken configs refused by `scraper crawl` with exit code 2, a "
             "message naming file, line and key, and nothing written (no archive, no lock "
             f"file); the live site they point at saw {requests} requests. (YAML errors, tabs, "
             "duplicate keys, wrong types, unknown keys with a suggestion, bad regexes, "
             "durations and sizes, start URLs empty or out of scope, Python object tags.)")]
    return lines, ok, len(BAD)


def bad_archives(tmp: Path) -> tuple[Lines, int, int]:
    from test_bad_archives import DAMAGE, files_of

    def commands(db: Path, out: Path) -> list[list[str]]:
        return [["crawl", str(config), "--archive", str(db), "-q"],
                ["history", url, "--archive", str(db)],
                ["export", "-o", str(out), "--archive", str(db)]]

    with TestSite(pages=10) as site:
        url = site.url("/related/NATO")
        extra = 'scope: {include: ["^/related/", "^/info/"]}\nmax_depth: 50\n'
        pristine = tmp / "pristine.db"
        H.run_crawl(H.make_config([url], follow=["related", "more_info"], extra=extra), pristine)
        config = tmp / "archive.yaml"
        config.write_text(H.config_yaml([url], follow=["related", "more_info"], extra=extra))
        right = {"history": CliRunner().invoke(main, commands(pristine, tmp / "p.jsonl")[1]).output}
        CliRunner().invoke(main, commands(pristine, tmp / "p.jsonl")[2])
        right["export"] = (tmp / "p.jsonl").read_text()
        site.reset_stats()
        tried = handled = refused = untouched = 0
        rows = ["| archive | crawl | history | export |", "| --- | --- | --- | --- |"]
        for name, (damage, message) in DAMAGE.items():
            folder = tmp / "archives" / name
            folder.mkdir(parents=True)
            db = folder / "a.db"
            shutil.copy(pristine, db)
            damage(db)
            before = files_of(db)
            cells = []
            out = tmp / f"{name}.jsonl"
            for command, args in zip(("crawl", "history", "export"), commands(db, out),
                                     strict=True):
                result = CliRunner().invoke(main, args)
                tried += 1
                if result.exit_code != 0 and message in result.output:
                    refused += 1
                    handled += 1
                    cells.append(f"refused (exit {result.exit_code})")
                elif result.exit_code == 0 and command != "crawl":
                    answer = result.output if command == "history" else out.read_text()
                    handled += answer == right[command]
                    cells.append("answered" + ("" if answer == right[command] else " WRONGLY"))
                else:
                    cells.append(f"UNEXPECTED exit {result.exit_code}")
            untouched += files_of(db) == before
            folder.chmod(0o755)
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
        requests = site.stats().requests
    lines = [(f"{len(DAMAGE)} kinds of bad archive × 3 commands: {handled} of {tried} handled "
              f"({refused} refused with a clear message and a non-zero exit, the rest answered "
              f"exactly as from the intact archive); {untouched} of {len(DAMAGE)} files "
              f"byte-identical afterwards; {requests} requests reached the site. A full disk "
              "(a tmpfs, or RLIMIT_FSIZE without root) is covered by tests/test_bad_archives.py."),
             "", *rows]
    return lines, handled, tried


def network_safety(tmp: Path) -> tuple[Lines, int, str]:
    from test_network_policy import NON_LOOPBACK_SPELLINGS, SPELLINGS, crawl_spellings
    from test_network_safety import EVERY_HOST, PRIVATE

    from scraper.urls import normalise_url

    with TestSite(pages=10) as site, H.ConnectionCounter("::1") as counter:
        config = H.make_config([site.url(f"/fault/private-links?port={counter.port}")],
                               follow=["internal", "external"],
                               extra=f"scope: {{domains: {EVERY_HOST}}}\nmax_depth: 1\n")
        db = tmp / "net.db"
        with H.connect_spy() as spy, H.offline_resolver():
            H.run_crawl(config, db)
    got = H.outcomes(db, full_urls=True)
    links_refused = sum(1 for url in PRIVATE
                        if got.skipped.get(url, "").startswith("refused: "))
    with H.ConnectionCounter("127.0.0.1") as counter4:
        urls, skipped, connects = crawl_spellings(tmp / "spellings.db", counter4.port)
    by_spelling = dict(zip(SPELLINGS, urls, strict=True))
    spellings_refused = sum(1 for url in NON_LOOPBACK_SPELLINGS
                            if skipped.get(normalise_url(by_spelling[url]), "")
                            .startswith("refused: "))
    loopback_refused = sum(1 for url in set(SPELLINGS) - set(NON_LOOPBACK_SPELLINGS)
                           if skipped.get(normalise_url(by_spelling[url]), "")
                           .startswith("refused: "))
    refused = links_refused + spellings_refused
    spellings = (f"{spellings_refused + loopback_refused} of {len(SPELLINGS)}, "
                 f"{len(connects)} connects")
    lines = [(f"{links_refused} of {len(PRIVATE)} private and link-local link targets "
             "(10.0.0.1, 169.254.169.254, 192.168.1.1, 172.16.0.1, 0.0.0.0) refused before any "
             f"connection ({len(spy.non_loopback())} connection attempts left loopback); "
             "file:, ftp:, javascript:, data: and mailto: links never queued. "
             f"{spellings_refused} of {len(NON_LOOPBACK_SPELLINGS)} other non-global targets "
             "crawled in every spelling (0, [::], 100.64.0.1, 169.254.169.254, "
             "[fe80::1%25lo], [fd00::1], 224.0.0.1, 255.255.255.255, 198.18.0.1, NAT64, 6to4, "
             "IPv4-compatible and Teredo forms, ...) refused before connecting, and with "
             f"network.allow_loopback off {loopback_refused} of "
             f"{len(SPELLINGS) - len(NON_LOOPBACK_SPELLINGS)} spellings of loopback (127.1, "
             "2130706433, 0x7f.1, 0177.0.0.1, [::ffff:7f00:1], ...); "
             f"{len(connects)} connection attempts in that crawl. The check is made again on "
             "every connection, on both transports, so a name that resolves to an allowed "
             "address and later to a refused one is refused on the second connect "
             "(tests/test_network_safety.py, tests/test_network_policy.py).")]
    return lines, refused, spellings


# -- malformed and fuzzed answers ------------------------------------------------------------

def malformed_answers(tmp: Path) -> tuple[Lines, int, int]:
    from test_fuzz_answers import malformed_outcomes

    rows, summary = malformed_outcomes(tmp)
    table = ["| answer | ends | reason recorded |", "| --- | --- | --- |"]
    survived = 0
    for name, outcome, reason in rows:
        good = outcome in ("failed", "skipped") and bool(reason)
        survived += good
        shown = (reason[:90] + " …") if len(reason) > 92 else reason
        table.append(f"| {name} | {outcome}{'' if good else ' (UNEXPECTED)'} | "
                     f"{shown.replace('|', '/')} |")
    lines = [(f"{survived} of {len(rows)} answers that an HTTP library, a URL library or the "
              "tree builder cannot take (each of which once ended a whole run with a traceback, "
              "or would hold a parser for hours) recorded as that URL's failure, in one crawl "
              f"that ended normally (status {summary['status']}; exit 4, as every fetch "
              "failed)."), "", *table]
    return lines, survived, len(rows)


def fuzzed_answers(tmp: Path, pages: int, seeds: tuple[int, ...]) -> tuple[Lines, int, int]:
    from collections import Counter

    from fuzz_http import FuzzServer
    from test_fuzz_answers import _accounted, _crawl

    requests = 0
    urls = 0
    totals: Counter[str] = Counter()
    for seed in seeds:
        folder = tmp / f"seed-{seed}"
        folder.mkdir()
        with FuzzServer(seed=seed, pages=pages) as server:
            db, summary = _crawl(folder, [server.base() + "/"], robots=False)
            requests += len(server.requests)
        kinds = _accounted(db, summary)
        totals.update(kinds)
        urls += sum(kinds.values())
    accounted = totals["fetched"] + totals["failed"] + totals["skipped"]
    lines = [(f"{len(seeds)} crawls of a loopback server that answers every page with a "
              "randomly mutated response (status lines, headers, lengths, chunking, "
              "encodings, Location values, bodies, resets and stalls; tests/fuzz_http.py), "
              f"{requests:,} requests in all: each crawl exited 0, every one of the {urls:,} "
              f"URLs queued ends fetched ({totals['fetched']:,}), failed ({totals['failed']:,}) "
              f"or skipped ({totals['skipped']:,}), and each archive passes integrity_check.")]
    return lines, accounted, requests


# -- durability and soak -------------------------------------------------------------------

def durability(tmp: Path, kills: int) -> tuple[Lines, int]:
    from test_durability import storm

    started = time.monotonic()
    report = storm(tmp, kills=kills, seed=kills, pages=30)
    seconds = time.monotonic() - started
    killed = sum(report.kills.values())
    lines = [(f"**{killed} SIGKILLs** at random moments ({report.kills['crawl']} during crawls, "
              f"{report.mid_fetch} of them once it was fetching, "
             f"{report.kills['export']} during exports; {sum(report.finished.values())} more "
             f"commands finished before their kill came) while {report.edits} edits were made "
             f"to the site, in {seconds:.0f} s. After each kill and at the end: "
             "integrity_check ok, every version read back and true to its body hash, versions "
             "contiguous with none repeating its predecessor; an uninterrupted run then "
             f"completed with nothing pending: {report.pages} pages, {report.versions} "
             f"versions, every last edit captured. {report.exports_left} export files left, "
             "each complete: a killed export leaves nothing under its name, only its hidden "
             f"temporary file ({report.temp_left} left).")]
    return lines, killed


def soak(tmp: Path, pages: int) -> tuple[Lines, Any]:
    report = H.soak(tmp, pages=pages)
    table = [("| run | fetched | not modified | failed | retries | server requests | "
              "faults injected | retries + failures | RSS after | Python blocks after |"),
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n, run in enumerate(report.runs, 1):
        table.append(f"| {n} | {run.fetched:,} | {run.not_modified:,} | {run.failed} | "
                     f"{run.retried:,} | {run.server_requests:,} | {run.server_faults:,} | "
                     f"{run.retried + run.failed:,} | {mb(run.rss_mb)} | "
                     f"{run.python_blocks:,} |")
    lines = [(f"The {pages:,}-topic site ({report.urls:,} URLs) crawled 3 times in one crawler "
             "process (recrawl_after 0), 10 % of answers a 500/502/503 and resets mid-body, a "
             f"tenth of the topics edited before each recrawl, in {report.seconds:.0f} s. "
             "Every injected fault shows up as a retry or, on a URL's fourth attempt, as its "
             "failure; every request the server answered is an attempt the crawler counted. "
             f"{report.stored:,} pages stored. Python holds as many memory blocks after the "
             "third run as after the first (no leak); the RSS grows by what glibc's per-thread "
             "malloc arenas keep of the parser and archive threads' memory (far less with "
             "MALLOC_ARENA_MAX=1)."),
             "", *table]
    return lines, report


def measure(name: str, func: Callable[..., Any], *args: Any) -> Any:
    print(f"... {name}", file=sys.stderr, flush=True)
    started = time.monotonic()
    out = func(*args)
    print(f"    {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return out


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 kills, a 300-topic soak")
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--soak-pages", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None, help="also write the Markdown here")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also put the summary table in this README, between the "
                             "<!-- reliability --> markers")
    args = parser.parse_args()
    kills = args.kills or (5 if args.quick else 30)
    soak_pages = args.soak_pages or (300 if args.quick else 2000)
    with tempfile.TemporaryDirectory(prefix="reliability-") as base:
        tmp = Path(base)
        dirs = {name: tmp / name for name in ("faults", "bodies", "configs", "archives", "net",
                                              "malformed", "fuzz", "kills", "soak")}
        for folder in dirs.values():
            folder.mkdir()
        faults, faults_ok, faults_n = measure("server faults", server_faults, dirs["faults"])
        bodies, bodies_ok, bodies_n, peak = measure("hostile bodies", hostile_bodies,
                                                    dirs["bodies"])
        configs, configs_ok, configs_n = measure("bad configs", bad_configs, dirs["configs"])
        archives, archives_ok, archives_n = measure("bad archives", bad_archives,
                                                    dirs["archives"])
        net, refused, spellings = measure("network safety", network_safety, dirs["net"])
        malformed, malformed_ok, malformed_n = measure("malformed answers", malformed_answers,
                                                       dirs["malformed"])
        fuzzed, fuzzed_ok, fuzzed_requests = measure(
            "fuzzed answers", fuzzed_answers, dirs["fuzz"], 500 if args.quick else 2500,
            (16,) if args.quick else (16, 17, 18))
        kill_lines, killed = measure("SIGKILLs", durability, dirs["kills"], kills)
        soak_lines, soak_report = measure("soak", soak, dirs["soak"], soak_pages)
    today = datetime.date.today().isoformat()
    summary = [
        "| | |", "| --- | --- |",
        f"| server faults survived | {faults_ok} of {faults_n} |",
        f"| hostile bodies survived | {bodies_ok} of {bodies_n}, peak RSS {mb(peak)} |",
        f"| broken configs refused before anything is written | {configs_ok} of {configs_n} |",
        (f"| bad-archive cases handled (refused clearly or answered right), file untouched | "
        f"{archives_ok} of {archives_n} |"),
        f"| private and link-local targets refused before connecting | {refused} |",
        (f"| address spellings refused by the policy (0x7f.1, [::ffff:7f00:1], 6to4, NAT64, "
         f"100.64/10, ...; allow_loopback off) | {spellings} |"),
        f"| malformed answers survived (each its URL's failure) | {malformed_ok} of {malformed_n} |",
        (f"| fuzzed responses: requests / URLs accounted for as fetched or failed | "
         f"{fuzzed_requests:,} / {fuzzed_ok:,} |"),
        f"| SIGKILLs survived with nothing lost | {killed} |",
        (f"| soak: {soak_pages:,}-topic site × 3 runs, faults injected / retries + failures | "
        f"{sum(r.server_faults for r in soak_report.runs):,} / "
        f"{sum(r.retried + r.failed for r in soak_report.runs):,} |"),
    ]
    lines = [
        "## Reliability",
        "",
        (f"Produced by `tests/bench/reliability.py` on {today} ({platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, Linux); everything runs against "
        "the built-in site over real HTTP on 127.0.0.1."),
        "",
        *summary,
        "",
        *section("Server faults", faults),
        *section("Hostile bodies", bodies),
        *section("Broken configs", configs),
        *section("Bad archives", archives),
        *section("Network safety", net),
        *section("Malformed answers", malformed),
        *section("Fuzzed answers", fuzzed),
        *section("Killed at random", kill_lines),
        *section("Soak", soak_lines),
    ]
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.readme:
        write_readme_summary(args.readme, lines[2], summary)


def write_readme_summary(readme: Path, produced: str, summary: list[str]) -> None:
    """Replace the block between the README's reliability markers, so its figures stay the
    ones this script measured."""
    start, end = "<!-- reliability -->", "<!-- /reliability -->"
    text = readme.read_text(encoding="utf-8")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    block = "\n".join([produced, "", *summary])
    readme.write_text(f"{before}{start}\n{block}\n{end}{after}", encoding="utf-8")


if __name__ == "__main__":
    main_()
