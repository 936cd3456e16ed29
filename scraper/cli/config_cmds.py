"""Commands: `validate` and `config show`, which check and print crawl configs."""

from __future__ import annotations

from typing import Any

import click

from scraper.cli.app import archive_option, echo_json, handle_errors, main
from scraper.config import CrawlConfig, config_to_dict, config_to_yaml, load_config, parse_overrides


def _summary(cfg: CrawlConfig) -> dict[str, Any]:
    return {
        "path": cfg.path, "ok": True, "name": cfg.name, "start_urls": list(cfg.start_urls),
        "parser": cfg.parser, "source": cfg.source, "follow": list(cfg.follow),
        "scope": list(cfg.scope.domains),
    }


@main.command()
@click.argument("configs", nargs=-1, required=True, metavar="CONFIG...")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output for people (text) or programs (json).")
@handle_errors
def validate(configs: tuple[str, ...], output_format: str) -> None:
    """Check crawl configs without fetching or writing anything.

    Each file is read and checked in full: keys, types, durations, sizes, regexes, CSS
    selectors, start URLs against the scope. The first bad file stops the run with its
    file:line: key: problem message and exit code 2.

    \b
    Example:
        scraper validate config/testsite.yaml config/wikipedia.yaml
        config/testsite.yaml: ok (name testsite, 1 start URL, parser auto, scope 127.0.0.1)
    """
    results = []
    for path in configs:
        cfg = load_config(path)
        if output_format == "text":
            count = len(cfg.start_urls)
            click.echo(f"{path}: ok (name {cfg.name}, {count} start URL{'s' if count != 1 else ''}"
                       f", parser {cfg.parser}, scope {', '.join(cfg.scope.domains)})")
        results.append(_summary(cfg))
    if output_format == "json":
        echo_json(results)


@main.group(name="config")
def config_group() -> None:
    """Inspect crawl configs (see also: scraper validate)."""


@config_group.command(name="show")
@click.argument("config_path", metavar="CONFIG")
@click.option("--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="YAML for people, JSON for programs.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a key, as a command-line flag would (repeatable; dotted keys "
                   "reach into blocks: politeness.delay=1s).")
@archive_option
@handle_errors
def show(config_path: str, output_format: str, settings: tuple[str, ...],
         archive_path: str | None) -> None:
    """Print a config merged with the defaults and any overrides.

    Precedence: defaults < the file < --set / --archive. Durations are shown in seconds,
    sizes in bytes, and the output loads back as a config.

    \b
    Example:
        scraper config show config/testsite.yaml
        scraper config show config/wikipedia.yaml --format json --set max_pages=50
    """
    overrides = parse_overrides(settings)
    if archive_path is not None:
        overrides["archive"] = archive_path
    cfg = load_config(config_path, overrides=overrides)
    if output_format == "json":
        echo_json(config_to_dict(cfg))
    else:
        click.echo(f"# {config_path} merged with the defaults", nl=True)
        click.echo(config_to_yaml(cfg), nl=False)
