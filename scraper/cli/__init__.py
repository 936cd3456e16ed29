"""The command line: turns library results into output. The only place that prints."""

# Each module registers its commands on `main` when imported.
from scraper.cli import (  # noqa: F401
    archive_cmds,
    config_cmds,
    crawl_cmds,
    demo_cmd,
    diff_cmds,
    export_cmd,
    parse_cmd,
    testsite_cmd,
)
from scraper.cli.app import main

__all__ = ["main"]
