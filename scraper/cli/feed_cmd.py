"""Command: feed (an Atom feed of the archive's changes, written atomically for a web server);
also the Atom output of `scraper changes --format atom`."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from scraper import __version__
from scraper.archive import Archive, ArchiveBackend
from scraper.archive.location import parse_archive_location
from scraper.cli.app import When, archive_option, handle_errors, main, resolve_archive_path
from scraper.export.atomic import atomic_output
from scraper.watch.feed import FeedInfo, build_atom, feed_id
from scraper.watch.feed_entries import DEFAULT_LIMIT, feed_entries


def atom_feed(archive: ArchiveBackend, archive_path: str, since: datetime,
              until: datetime | None, site: str | None, *, limit: int = DEFAULT_LIMIT,
              self_url: str | None = None, title: str | None = None) -> tuple[bytes, int]:
    """The feed's XML and its number of entries."""
    entries = feed_entries(archive, since, until, site, limit)
    # The id is named by where the archive is, as the user would name it again: an absolute
    # file path (a relative one changes with the working folder), a server URL without its
    # password.
    location = parse_archive_location(archive_path, key="--archive")
    where = os.path.abspath(archive_path) if location.kind == "sqlite" else location.display
    info = FeedInfo(
        feed_id=feed_id(self_url, where, site),
        title=title or (f"Changes to {site}" if site else "Changes in the archive"),
        updated=until or datetime.now(UTC), self_url=self_url,
        generator_version=__version__)
    return build_atom(info, entries), len(entries)


@main.command("feed")
@click.argument("archive", required=False, metavar="[ARCHIVE]")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, writable=True),
              help="The feed file. Replaced atomically: a web server serving it never sees "
                   "half a feed.")
@click.option("--since", type=When(), default="7d", show_default=True,
              help="Start of the period: an age (7d, 12h) or a date / ISO datetime.")
@click.option("--until", type=When(), default=None, help="End of the period (default: now).")
@click.option("--site", default=None, help="Only pages of this site (the config's name).")
@click.option("--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True,
              help="At most this many entries, the newest.")
@click.option("--self-url", default=None, metavar="URL",
              help="Where the feed is served (its rel=self link, and its id).")
@click.option("--title", default=None, help="The feed's title.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing when the feed is written (for cron, which mails output).")
@archive_option
@handle_errors
def feed_command(archive: str | None, output: str, since: datetime, until: datetime | None,
                 site: str | None, limit: int, self_url: str | None, title: str | None,
                 quiet: bool, archive_path: str | None) -> None:
    """Write an Atom feed of the changes in a period: one entry per new version of a page
    (and per page gone), newest first, with the change's gist as its title and the diff as
    HTML.

    Each entry's id is fixed by the version it is about, so a feed reader shows a version
    once however often the feed is written. Run it after each crawl (or from cron) and
    serve the file.

    The archive is ARCHIVE or --archive (the default archive when neither is given).

    \b
    Examples:
      scraper feed archive/wiki.db -o /var/www/feeds/changes.xml
      scraper feed -q -o /var/www/feeds/changes.xml      # from cron
      scraper feed --site nato-mirror --since 30d -o nato.xml \\
          --self-url https://example.org/feeds/nato.xml
    """
    if until is not None and until <= since:
        raise click.BadParameter(f"--until ({until.isoformat()}) must be after --since "
                                 f"({since.isoformat()})", param_hint="--until")
    if archive is not None and archive_path is not None and archive != archive_path:
        raise click.UsageError(f"two archives given: {archive} and --archive {archive_path}; "
                               "give one")
    path = resolve_archive_path(archive or archive_path)
    with Archive.open(path, create=False) as opened:
        xml, count = atom_feed(opened, path, since, until, site, limit=limit,
                               self_url=self_url, title=title)
    with atomic_output(output, force=True) as stream:
        stream.write(xml)
    if not quiet:
        click.echo(f"wrote {output} ({count} entr{'y' if count == 1 else 'ies'})", err=True)
