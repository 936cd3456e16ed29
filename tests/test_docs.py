"""Every command has help with an example and appears in the README; the README's set-up
commands are the ones CI runs; __all__ lists are complete."""

from __future__ import annotations

import importlib
import re

import click
import pytest
from click.testing import CliRunner

from scraper import __version__
from scraper.cli import main
from tests.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(commands(command, prefix + name + " "))
    return found


@pytest.mark.parametrize(("name", "command"), commands(main), ids=lambda v: str(v))
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip(), f"`scraper {name}` has no help text"
    if not isinstance(command, click.Group):
        assert f"scraper {name}" in README, f"`scraper {name}` is not in the README"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.output.strip() == f"scraper, version {__version__}"
    assert f"## {__version__}" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them() -> None:
    block = re.search(r"<!-- setup-commands -->\n```\n(.*?)```\n<!-- /setup-commands -->",
                      README, re.DOTALL)
    assert block is not None
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("scraper demo")
    assert "pytest" in lines[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "setup-commands" in ci


def test_exit_codes_are_documented() -> None:
    from scraper.cli.app import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_USAGE

    table = README[README.index("### Exit codes"):]
    for code in (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LOCKED):
        assert f"\n| {code} |" in table


@pytest.mark.parametrize("module", ["scraper.archive", "scraper.diff", "scraper.export",
                                    "scraper.testsite", "scraper.parse", "scraper.config",
                                    "scraper.crawl"])
def test_all_is_complete(module: str) -> None:
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    assert exported, f"{module} has no __all__"
    for name in exported:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it lacks"
