"""Command: `parse`, which prints what a parser extracts from one page (to write selectors)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

import click

from scraper.cli.app import format_option, handle_errors, main
from scraper.cli.terminal import safe_json_dumps, terminal_safe
from scraper.config import Network, Politeness, Selectors, load_config
from scraper.crawl.client import make_client
from scraper.crawl.fetch import HTML_TYPES, Fetcher, ScopeCheck
from scraper.crawl.netpolicy import AddressPolicy
from scraper.mediawiki.answers import answer_kind, load_answer, read_answer
from scraper.models import FetchResult, Page, page_to_dict
from scraper.parse import PARSERS, parse_page
from scraper.urls import out_of_scope_reason

# The kinds a crawl follows, listed one per line in the text output; the others are counted.
FOLLOWED_KINDS = ("see_also", "related", "more_info", "next", "home")
# A saved wiki API answer is JSON; `parse` reads it with the wiki source's readers.
PARSED_TYPES = HTML_TYPES | {"application/json"}
SHOWN = 15  # links and entries shown per kind without --all


def same_host(url: str) -> ScopeCheck:
    """A redirect check that follows redirects on `url`'s host only."""
    host = urlsplit(url).hostname

    def check(target: str) -> str | None:
        if urlsplit(target).hostname == host:
            return None
        return f"another host (run `scraper parse {target}` to read it)"

    return check


def fetch_once(url: str, *, politeness: Politeness, network: Network,
               scope_check: ScopeCheck | None = None) -> FetchResult:
    """GET one page as a crawl fetches it: the crawl's Fetcher, so the address policy, the
    body and decompression caps, the timeouts, retries and redirect limit are the crawl's
    (`network`). Redirects are followed while `scope_check` allows them (default: on the
    host of `url` only).

    robots.txt is not read: one page asked for by a person, once, is not a crawl (a crawl
    of the same URL honours it). Raises a FetchError naming the URL when it cannot be read.
    """
    one_off = dataclasses.replace(politeness, robots_txt=False, delay=0.0)

    async def run() -> FetchResult:
        policies: dict[str, AddressPolicy] = {}
        async with make_client(network, policies, max_connections=4) as client:
            fetcher = Fetcher(client, policies=policies)
            return await fetcher.fetch(url, politeness=one_off, network=network,
                                       scope_check=scope_check or same_host(url),
                                       accept=PARSED_TYPES)

    return asyncio.run(run())


@main.command("parse")
@click.argument("source", metavar="URL-or-FILE")
@click.option("--url", "page_url", metavar="URL",
              help="The address of a saved FILE: its links are resolved against it.")
@click.option("--parser", type=click.Choice(("auto", *PARSERS)), default=None,
              help="The parser to use (default: auto-detect).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="Use a crawl config's parser and selectors (see `selectors:`), and its "
                   "network and user_agent settings for a URL.")
@click.option("--allow-loopback", is_flag=True,
              help="Fetch a URL on a loopback address (127.0.0.0/8, ::1, localhost), as "
                   "network.allow_loopback does.")
@click.option("--allow-private", is_flag=True,
              help="Fetch a URL on a private or link-local address, as network.allow_private "
                   "does.")
@format_option("text", "json")
@click.option("--all", "show_all", is_flag=True, help="List every link and entry.")
@handle_errors
def parse_command(source: str, page_url: str | None, parser: str | None,
                  config_path: str | None, allow_loopback: bool, allow_private: bool,
                  output_format: str, show_all: bool) -> None:
    """Print what a parser extracts from one page: the tool to write and check selectors.

    URL-or-FILE is a URL or a saved HTML file (give its address with --url so that its
    links resolve). A URL is fetched as a crawl fetches it, with the same address policy,
    size caps, timeouts, retries and redirect limit (the config's `network:` settings with
    --config, else the defaults); redirects are followed on that host only (within the
    config's scope with --config); robots.txt is not read for this one page. Loopback and
    private addresses are refused unless --allow-loopback / --allow-private (or the config)
    allow them. Selectors that match nothing on the page are listed under "missing
    selectors".

    A saved MediaWiki API answer (a REST /page/summary, action=parse, action=query with
    prop=extracts, or action=mobileview JSON) is told by its content and read as the wiki
    source reads it; an action=query answer with several pages is picked from by --url.

    \b
    Examples:
        scraper parse https://en.wikipedia.org/wiki/Mozilla
        scraper parse http://127.0.0.1:8000/related/NATO --allow-loopback
        scraper parse saved.html --url https://en.wikipedia.org/wiki/Mozilla
        scraper parse page.html --config config/mirror.yaml --format json
        scraper parse saved-summary.json
    """
    if parser is not None and config_path is not None:
        raise click.UsageError("give either --parser or --config, not both")
    selectors: Selectors | None = None
    max_links = 5000
    politeness, network = Politeness(), Network()
    scope_check: ScopeCheck | None = None
    if config_path is not None:
        cfg = load_config(config_path)
        parser, selectors, max_links = cfg.parser, cfg.selectors, cfg.max_links_per_page
        politeness, network = cfg.politeness, cfg.network

        def scope_check(target: str) -> str | None:
            return out_of_scope_reason(target, cfg.scope)

    # Command-line flags come last: defaults < config file < flags.
    network = dataclasses.replace(network, allow_loopback=network.allow_loopback or allow_loopback,
                                  allow_private=network.allow_private or allow_private)
    parser = parser or "auto"

    content_type: str | None = None
    if source.startswith(("http://", "https://")):
        result = fetch_once(source, politeness=politeness, network=network,
                            scope_check=scope_check)
        body, content_type = result.body, result.header("content-type")
        url = page_url or result.final_url
    else:
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"no such file: {source} (or give an http(s) URL)",
                                     param_hint="URL-or-FILE")
        body = path.read_bytes()
        url = page_url or path.resolve().as_uri()

    page = read_saved_answer(body, page_url or url, parser=parser, from_file=page_url is None
                             and not source.startswith(("http://", "https://")))
    if page is None:
        page = parse_page(body, url, parser=parser, selectors=selectors,
                          content_type=content_type, max_links=max_links)
    if output_format == "json":
        click.echo(safe_json_dumps(page_to_dict(page)))
        return
    detected = " (auto-detected)" if parser == "auto" else ""
    for line in describe(page, detected=detected, show_all=show_all,
                         selectors=selectors):
        click.echo(terminal_safe(line))


def read_saved_answer(body: bytes, url: str, *, parser: str, from_file: bool) -> Page | None:
    """A MediaWiki API answer (REST summary, action=parse, action=query, mobileview) read
    as the wiki source reads it, or None when the body is no such answer or another parser
    was asked for. A file given without --url keeps the answer's own address."""
    if parser not in ("auto", "mediawiki"):
        return None
    data = load_answer(body)
    if data is None or answer_kind(data) is None:
        return None
    return read_answer(data, None if from_file else url)


def _cut(text: str, width: int = 300) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def describe(page: Page, *, detected: str = "", show_all: bool = False,
             selectors: Selectors | None = None) -> list[str]:
    """The text report of a Page: fields, entries, link counts, missing selectors."""
    lines = [
        f"parser      {page.parser} {page.parser_version}{detected}",
        f"kind        {page.kind}",
        f"url         {page.url}",
        f"title       {page.title or '-'}",
    ]
    for label, value in (("canonical", page.canonical_url), ("revision", page.revision_id),
                         ("language", page.language), ("image", page.image)):
        if value is not None:
            lines.append(f"{label:<11} {value}")
    if page.categories:
        lines.append(f"categories  {len(page.categories)}: " + "; ".join(page.categories))
    truncated = " [truncated ...]" if page.summary_truncated else ""
    lines.append(f"summary     {_cut(page.summary) or '-'}{truncated}")
    if page.infobox:
        lines.append(f"infobox     {len(page.infobox)} fields")
        shown = page.infobox if show_all else page.infobox[:SHOWN]
        lines.extend(f"              {key}: {_cut(value, 120)}" for key, value in shown)
    paragraphs = [p for p in page.text.split("\n\n") if p]
    lines.append(f"text        {len(paragraphs)} paragraphs, {len(page.text):,} characters")

    counts: dict[str, int] = {}
    for link in page.links:
        counts[link.kind] = counts.get(link.kind, 0) + 1
    summary = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    lines.append(f"links       {len(page.links)}" + (f": {summary}" if summary else ""))
    for kind in counts:
        if kind not in FOLLOWED_KINDS and not show_all:
            continue
        of_kind = page.links_of(kind)
        for link in of_kind if show_all else of_kind[:SHOWN]:
            lines.append(f"  {kind:<9} {_cut(link.title, 50) or '-'}  {link.url}")
        if not show_all and len(of_kind) > SHOWN:
            lines.append(f"  {kind:<9} … {len(of_kind) - SHOWN} more (--all lists them)")

    if page.entries:
        lines.append(f"entries     {len(page.entries)}")
        shown_entries = page.entries if show_all else page.entries[:SHOWN]
        for number, entry in enumerate(shown_entries, 1):
            mark = " ..." if entry.summary_truncated else ""
            lines.append(f"  {number:>3}. {entry.title or '-'}")
            lines.append(f"       summary   {_cut(entry.summary, 160) or '-'}{mark}")
            for label, value in (("more info", entry.more_info), ("related", entry.related),
                                 ("image", entry.image)):
                lines.append(f"       {label:<9} {value or '-'}")
            if entry.search_links:
                lines.append("       search    " + ", ".join(n for n, _ in entry.search_links))
        if not show_all and len(page.entries) > SHOWN:
            lines.append(f"  … {len(page.entries) - SHOWN} more entries (--all lists them)")
    if selectors is not None and page.parser == "selectors":
        if page.missing_selectors:
            lines.append("missing selectors (matched nothing on this page):")
            lines.extend(f"  {name}: {getattr(selectors, name)!r}"
                         for name in page.missing_selectors)
        else:
            lines.append("missing selectors: none")
    return lines
