"""The command group: every command is listed, found and loaded on demand."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

from click.testing import CliRunner

import scraper.cli
from scraper.cli import main
from scraper.cli.app import COMMAND_MODULES


def test_the_lazy_table_names_every_command_and_its_module() -> None:
    defined: dict[str, str] = {}
    for info in pkgutil.iter_modules(scraper.cli.__path__):
        if info.name == "app":
            continue
        module = importlib.import_module(f"scraper.cli.{info.name}")
        for name, command in main.commands.items():
            if command.callback is not None and command.callback.__module__ == module.__name__:
                defined[name] = info.name
    config = main.commands["config"]
    defined["config"] = config.callback.__module__.rsplit(".", 1)[-1] if config.callback else ""
    assert defined == COMMAND_MODULES


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(main, ["--help"]).output
    for name in COMMAND_MODULES:
        assert f"  {name} " in out


def test_an_export_does_not_load_the_crawler() -> None:
    code = ("import sys; from scraper.cli import main\n"
            "try:\n    main(['export', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('httpx', 'scraper.crawl', 'scraper.testsite',"
            " 'sqlite_utils') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
