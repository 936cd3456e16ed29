"""Commands: testsite_cmd (to be filled)."""

from scraper.cli.app import main  # noqa: F401
