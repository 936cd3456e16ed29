"""Commands: crawl_cmds (to be filled)."""

from scraper.cli.app import main  # noqa: F401
