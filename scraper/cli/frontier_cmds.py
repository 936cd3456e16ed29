"""URLs by hand: `scraper add` queues URLs for a site's next crawl, `scraper forget` drops
queued ones (`scraper crawl --url` is in crawl_cmds)."""

from __future__ import annotations

import click

from scraper.cli.app import (
    archive_option,
    echo_json,
    format_option,
    handle_errors,
    main,
    resolve_archive_path,
)
from scraper.cli.terminal import terminal_safe


@main.command("add")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.argument("urls", metavar="URL...", nargs=-1, required=True)
@archive_option
@format_option("text", "json")
@handle_errors
def add_command(config_path: str, urls: tuple[str, ...], archive_path: str | None,
                output_format: str) -> None:
    """Queue URLs of CONFIG's site, due now: the next crawl fetches them.

    Each URL is put in the site's normal form (tracking parameters dropped, the query
    sorted) and must be in the config's scope, as start URLs must: a URL out of scope is
    refused (exit 2) and then none is queued. A URL already queued is made due now.

    \b
    Example:
      scraper add config/testsite.yaml http://127.0.0.1:8000/info/NATO
    """
    from scraper.archive import Archive
    from scraper.config import load_config
    from scraper.crawl.frontier import hand_items
    from scraper.timeutil import utcnow

    cfg = load_config(config_path)
    items = hand_items(cfg, urls)
    with Archive.open(resolve_archive_path(archive_path, cfg.archive)) as archive:
        new = archive.enqueue_now(items, utcnow())
    queued = [item.url for item in items]
    if output_format == "json":
        echo_json({"site": cfg.name, "queued": queued, "new": new})
        return
    for url in queued:
        click.echo(terminal_safe(url))
    click.echo(f"queued {len(queued)} URL{'s' * (len(queued) != 1)} of site {cfg.name}, "
               f"due now ({new} new, {len(queued) - new} already known)")


@main.command("forget")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.argument("pattern", metavar="URL-PATTERN")
@click.option("--dry-run", is_flag=True, help="List the queued URLs that match; drop none.")
@archive_option
@format_option("text", "json")
@handle_errors
def forget_command(config_path: str, pattern: str, dry_run: bool, archive_path: str | None,
                   output_format: str) -> None:
    """Drop the queued URLs of CONFIG's site that URL-PATTERN matches.

    URL-PATTERN is a regular expression searched in each whole URL (checked as the
    config's regexes are). Only frontier rows go: archived pages and their versions stay,
    and a URL found again on a page is queued again. On a shared PostgreSQL archive a URL
    that a live worker is fetching is left.

    \b
    Examples:
      scraper forget config/testsite.yaml 'utm_|fbclid=' --dry-run
      scraper forget config/testsite.yaml '^http://127\\.0\\.0\\.1:8000/info/'
    """
    from scraper.archive import Archive
    from scraper.config import load_config
    from scraper.crawl.frontier import url_pattern

    cfg = load_config(config_path)
    regex = url_pattern(pattern)
    # create=False: a mistyped path is an error, not a new empty archive.
    with Archive.open(resolve_archive_path(archive_path, cfg.archive), create=False) as archive:
        urls = archive.forget(cfg.name, regex, dry_run=dry_run)
    if output_format == "json":
        echo_json({"site": cfg.name, "dry_run": dry_run, "urls": urls, "count": len(urls)})
        return
    for url in urls:
        click.echo(terminal_safe(url))
    verb = "would drop" if dry_run else "dropped"
    click.echo(f"{verb} {len(urls)} queued URL{'s' * (len(urls) != 1)} of site {cfg.name} "
               "(archived pages and versions are kept)")
