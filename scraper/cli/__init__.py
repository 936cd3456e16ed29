"""The command line: turns library results into output. The only place that prints."""

from scraper.cli.app import main

# Each module registers its commands on `main` when imported.
from scraper.cli import (  # noqa: E402,F401
    archive_cmds,
    crawl_cmds,
    demo_cmd,
    diff_cmds,
    export_cmd,
    config_cmds,
    parse_cmd,
    testsite_cmd,
)

__all__ = ["main"]
