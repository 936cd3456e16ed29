"""Commands: validate and config show (to be filled)."""

from scraper.cli.app import main  # noqa: F401
