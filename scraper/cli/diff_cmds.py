"""Commands: diff (two versions of a page) and changes (what changed in a period)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import click

from scraper.archive import Archive, ArchiveBackend
from scraper.changes import changes_report, diff_versions, report_text, report_to_json
from scraper.cli.app import (
    When,
    archive_option,
    format_option,
    handle_errors,
    main,
    resolve_archive_path,
    stdout_is_terminal,
)
from scraper.cli.terminal import (
    safe_fields,
    safe_json_dumps,
    terminal_safe,
    terminal_safe_styled,
)
from scraper.diff import diff_to_json, render_html, render_text, render_unified
from scraper.timeutil import looks_like_age, parse_when

_VERSION = re.compile(r"^v?(\d+)$")


class VersionOrDate(click.ParamType):  # type: ignore[type-arg]
    """A version number (3 or v3), or a date, ISO datetime or age (2026-11-01, 7d)."""

    name = "N|DATE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int | datetime:
        if isinstance(value, (int, datetime)):
            return value
        text = str(value).strip()
        match = _VERSION.match(text)
        if match:
            number = int(match.group(1))
            if number < 1:
                self.fail(f"versions are numbered from 1, got {text!r}", param, ctx)
            return number
        try:
            return parse_when(text)
        except ValueError as exc:
            if looks_like_age(text):
                self.fail(str(exc), param, ctx)  # names the part of the age that is wrong
            self.fail(f"expected a version number (3), a date (2026-11-01), an ISO datetime "
                      f"or an age (7d, 1h30m), got {text!r}", param, ctx)




def _open(archive_path: str | None) -> ArchiveBackend:
    # create=False: a mistyped path is an error, not a new empty archive.
    return Archive.open(resolve_archive_path(archive_path), create=False)


@main.command()
@click.argument("url")
@click.option("--from", "from_", type=VersionOrDate(), default=None,
              help="Old side: a version number, or a date (the version current then). "
                   "Default: the version before --to.")
@click.option("--to", "to", type=VersionOrDate(), default=None,
              help="New side: a version number or a date. Default: the latest version.")
@format_option("text", "json", "unified", "html")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True),
              default=None, help="Write to this file instead of standard output.")
@click.option("--context", type=click.IntRange(min=0), default=3, show_default=True,
              help="Lines of context in --format unified.")
@click.option("--color", "color", type=click.Choice(["auto", "always", "never"]),
              default="auto", show_default=True,
              help="Colour in --format text (auto: when writing to a terminal).")
@archive_option
@handle_errors
def diff(url: str, from_: int | datetime | None, to: int | datetime | None, output_format: str,
         output: str | None, context: int, color: str, archive_path: str | None) -> None:
    """Show what changed in a page between two stored versions (default: the last two).

    Title and summary word by word; the text paragraph by paragraph (moved paragraphs as
    moves, words inside edited ones); links, categories, infobox fields and listing
    entries added, removed and changed; both sides' revision ids and fetch times.

    The URL may be pasted as a browser shows it: without a scheme, with any case of
    host, a #fragment, a trailing slash or none.

    \b
    Examples:
      scraper diff http://127.0.0.1:8000/info/NATO
      scraper diff http://127.0.0.1:8000/info/NATO --from 1 --to 3
      scraper diff http://127.0.0.1:8000/info/NATO --from 2026-11-01 --format json
      scraper diff http://127.0.0.1:8000/info/NATO --format html -o nato.html
      scraper diff http://127.0.0.1:8000/info/NATO --format unified > nato.patch
    """
    with _open(archive_path) as archive:
        d = diff_versions(archive, archive.find_page_url(url), from_, to)
    # Scraped text may hold escape sequences and bidi overrides: every rendering shows them
    # as visible escapes (`\x1b`, `\u202e`) rather than letting a terminal or browser obey
    # them; JSON writes them as \u escapes, which decode to the same text.
    if output_format == "json":
        rendered = safe_json_dumps(diff_to_json(d)) + "\n"
    elif output_format == "html":
        rendered = terminal_safe(render_html(d))
    elif output_format == "unified":
        rendered = terminal_safe(render_unified(d, context=context))
    else:
        use_color = color == "always" or (color == "auto" and not output
                                           and stdout_is_terminal())
        if use_color:
            # The colours are ours: clean the fields before they are styled.
            rendered = terminal_safe_styled(render_text(safe_fields(d), color=True))
        else:
            rendered = terminal_safe(render_text(d, color=False))
    if output:
        Path(output).write_text(rendered, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(rendered, nl=False, color=True if color == "always" else None)


@main.command()
@click.option("--since", type=When(), default="7d", show_default=True,
              help="Start of the period: an age (7d, 12h) or a date / ISO datetime.")
@click.option("--until", type=When(), default=None,
              help="End of the period (default: now).")
@click.option("--site", default=None, help="Only pages of this site (the config's name).")
@format_option("text", "json", "atom")
@click.option("--exit-code", "exit_code", is_flag=True,
              help="Exit 1 when something changed in the period (a new version, a new page "
                   "or a page gone), 0 when nothing did, as `git diff --exit-code` does.")
@archive_option
@handle_errors
def changes(since: datetime, until: datetime | None, site: str | None, output_format: str,
            exit_code: bool, archive_path: str | None) -> None:
    """List the pages that changed in a period, with a one-line gist of each change.

    Pages newly seen and pages gone (404/410 after having existed) are listed apart.
    --format atom gives the same period as an Atom feed: one entry per new version, with
    the diff as HTML (`scraper feed` writes one to a file).

    With --exit-code the command exits 1 when something changed and 0 when nothing did,
    whatever the format: `scraper changes --since 1h --exit-code >/dev/null || mail ...`.
    Errors exit 2 (usage, config) or 1 with a message on standard error.

    \b
    Examples:
      scraper changes                      # the last 7 days
      scraper changes --since 1d --site nato-mirror
      scraper changes --since 2026-11-01 --until 2026-11-08 --format json
      scraper changes --since 1d --format atom > changes.xml
    """
    if until is not None and until <= since:
        raise click.BadParameter(f"--until ({until.isoformat()}) must be after --since "
                                 f"({since.isoformat()})", param_hint="--until")
    if output_format == "atom":
        from scraper.cli.feed_cmd import atom_feed

        path = resolve_archive_path(archive_path)
        with _open(archive_path) as archive:
            xml, count = atom_feed(archive, path, since, until, site)
        click.echo(xml.decode("utf-8"), nl=False)
        changed = count > 0  # every version and every page gone in the period is an entry
    else:
        with _open(archive_path) as archive:
            report = changes_report(archive, since, until, site)
        if output_format == "json":
            click.echo(safe_json_dumps(report_to_json(report)))
        else:
            click.echo(terminal_safe(report_text(report)), nl=False)
        changed = bool(report.changed or report.new or report.gone)
    if exit_code and changed:
        raise SystemExit(1)
