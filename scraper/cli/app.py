"""The `scraper` click group, shared options and the mapping of errors to exit codes."""

from __future__ import annotations

import difflib
import functools
import importlib
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from scraper import __version__
from scraper.errors import ArchiveLocked, ConfigError, ScraperError
from scraper.timeutil import parse_when

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # a usage or config error
EXIT_LOCKED = 3  # another run holds the archive
EXIT_ALL_FAILED = 4  # a crawl in which every fetch failed (a site down): cron mails it

DEFAULT_ARCHIVE = "archive/archive.db"

F = TypeVar("F", bound=Callable[..., Any])


class ScraperClickError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance


def exit_code_for(exc: ScraperError) -> int:
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if isinstance(exc, ArchiveLocked):
        return EXIT_LOCKED
    return EXIT_ERROR


def handle_errors(func: F) -> F:
    """Turn a ScraperError raised by the library into a message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScraperError as exc:
            raise ScraperClickError(str(exc), exit_code_for(exc)) from exc

    return wrapper  # type: ignore[return-value]


def archive_option(func: F) -> F:
    return click.option(
        "--archive", "archive_path", type=click.Path(dir_okay=False), default=None,
        help=f"Archive database (default: the config's `archive:`, else {DEFAULT_ARCHIVE}).",
    )(func)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return click.option(
            "--format", "output_format", type=click.Choice(choices), default=default,
            show_default=True, help="Output for people (text) or programs (json).",
        )(func)
    return decorate


class When(click.ParamType[datetime, Any]):
    """A date (2026-11-01), an ISO datetime or an age (7d), as an aware UTC datetime."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def resolve_archive_path(archive_path: str | None, config_archive: str | None = None) -> str:
    return archive_path or config_archive or DEFAULT_ARCHIVE


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# The module of scraper.cli that defines each command. A command's module is imported when
# the command runs, so `scraper export` loads the archive and export code only, not the
# crawler's (httpx, asyncio) nor the test site's: startup is part of every cron job and of an
# export's records/s. tests/test_cli.py checks this table against the modules.
COMMAND_MODULES: dict[str, str] = {
    "add": "frontier_cmds",
    "archive": "archive_copy_cmd",
    "changes": "diff_cmds",
    "config": "config_cmds",
    "crawl": "crawl_cmds",
    "datasette": "datasette_cmd",
    "demo": "demo_cmd",
    "diff": "diff_cmds",
    "export": "export_cmd",
    "feed": "feed_cmd",
    "forget": "frontier_cmds",
    "history": "archive_cmds",
    "notify": "notify_cmd",
    "parse": "parse_cmd",
    "serve": "serve_cmd",
    "show": "archive_cmds",
    "stats": "archive_cmds",
    "testsite": "testsite_cmd",
    "validate": "config_cmds",
}


class LazyGroup(click.Group):
    """A group whose commands register themselves when their module is first imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"scraper.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # click suggests among the commands already imported, which in this lazy group is
        # none: the suggestion is made here, among all of them.
        name = click.utils.make_str(args[0])
        if (not ctx.resilient_parsing and not name.startswith("-")
                and self.get_command(ctx, name) is None):
            raise click.UsageError(unknown_command_message(name, self.list_commands(ctx)), ctx)
        return super().resolve_command(ctx, args)


def unknown_command_message(name: str, commands: list[str]) -> str:
    """'No such command ...', with the closest commands when some are close."""
    close = difflib.get_close_matches(name, commands, n=3)
    if not close:
        return f"No such command {name!r}. Commands: {', '.join(commands)}."
    if len(close) == 1:
        return f"No such command {name!r}. Did you mean {close[0]!r}?"
    return f"No such command {name!r}. Did you mean one of: {', '.join(close)}?"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scraper")
def main() -> None:
    """Crawl encyclopedia pages, keep versioned snapshots, diff and export them.

    \b
    Start with:  scraper demo
    Then:        scraper validate config/testsite.yaml
                 scraper crawl config/testsite.yaml
    """


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
