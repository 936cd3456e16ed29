"""The command line: turns library results into output. The only place that prints."""

# Each command's module registers it on `main` when imported, which `main` does on demand
# (scraper.cli.app.COMMAND_MODULES).
from scraper.cli.app import main

__all__ = ["main"]
