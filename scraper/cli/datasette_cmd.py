"""`scraper datasette`: an archive in Datasette, with its labels, settings and canned queries."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from scraper.archive import Archive
from scraper.archive.datasette_meta import (
    SETTINGS,
    database_name,
    datasette_config,
    datasette_metadata,
)
from scraper.archive.sqlite.files import is_read_only
from scraper.cli.app import EXIT_ERROR, ScraperClickError, handle_errors, main

INSTALL_HINT = "Datasette is not installed (in this Python or on PATH): pip install datasette"


def _check_archive(path: str) -> None:
    """Refuse, naming the file, what is not an archive; upgrade an older one like the other
    read commands do (the metadata describes this release's tables). A read-only file is only
    checked, never upgraded."""
    readonly = os.path.isfile(path) and is_read_only(path) is not None
    Archive.open(path, create=False, readonly=readonly).close()


def find_datasette() -> tuple[list[str], str] | None:
    """How to run Datasette, and its version: this interpreter's, else one on PATH (pipx)."""
    try:
        version = importlib.import_module("datasette.version").__version__
    except ImportError:
        pass
    else:
        return [sys.executable, "-m", "datasette"], str(version)
    exe = shutil.which("datasette")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version (\S+)", out)
    return ([exe], match.group(1)) if match else None


def _major_version(version: str) -> int:
    match = re.match(r"\d+", version)
    return int(match.group()) if match else 0


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def serve_command(datasette: list[str], version: str, archive: str, workdir: Path, *,
                  immutable: bool, extra: tuple[str, ...]) -> list[str]:
    """The `datasette serve` command line, its metadata (and 1.x config) written in `workdir`.

    Datasette 0.x reads table options and canned queries from metadata; 1.x from a separate
    configuration file (-c), and ignores queries left in metadata. Settings go as --setting,
    which both read, before `extra` so that a --setting there wins.
    """
    name = database_name(archive)
    major = _major_version(version)
    metadata = workdir / "metadata.json"
    _write_json(metadata, datasette_metadata(name, with_options=major < 1))
    command = [*datasette, "serve", *(["-i", archive] if immutable else [archive]),
               "--metadata", str(metadata)]
    if major >= 1:
        config = workdir / "datasette.json"
        _write_json(config, datasette_config(name))
        command += ["-c", str(config)]
    for key, value in SETTINGS.items():
        command += ["--setting", key, str(value)]
    return [*command, *extra]


@main.command(name="datasette")
@click.argument("archive", type=click.Path(dir_okay=False))
@click.argument("datasette_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--metadata-only", is_flag=True,
              help="Print the metadata for this archive and exit (Datasette 0.x's one-file "
                   "form: labels, table options, canned queries).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write that metadata to FILE instead of printing it, and exit.")
@click.option("--immutable", is_flag=True,
              help="Serve with Datasette's -i: faster, but it ignores the archive's "
                   "write-ahead log, so use it only when no crawl is writing the archive.")
@click.pass_context
@handle_errors
def datasette_command(ctx: click.Context, archive: str, datasette_args: tuple[str, ...],
                      metadata_only: bool, output: str | None, immutable: bool) -> None:
    """Browse ARCHIVE in Datasette: table and column labels, long text cut to 200 characters
    in tables, canned queries (search by relevance, a page's history, recent changes).

    Datasette names the database after the file (wiki-2026.db: wiki-2026); the metadata is
    made for that name. Arguments after -- go to `datasette serve`. Readers do not block a
    running crawl.

    \b
    Examples:
      scraper datasette archive/archive.db
      scraper datasette archive/wiki-2026.db -- --port 8002 --open
      scraper datasette archive/archive.db --metadata-only > datasette/metadata.json
    """
    _check_archive(archive)
    if metadata_only or output is not None:
        if datasette_args:
            raise click.UsageError("arguments after -- are for `datasette serve`: drop "
                                   "--metadata-only / -o to start it")
        text = json.dumps(datasette_metadata(database_name(archive)), ensure_ascii=False,
                          indent=2)
        if output is None:
            click.echo(text)
        else:
            try:
                Path(output).write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise ScraperClickError(f"{output}: cannot write: {exc.strerror}",
                                        EXIT_ERROR) from exc
        return
    found = find_datasette()
    if found is None:
        raise ScraperClickError(INSTALL_HINT, EXIT_ERROR)
    datasette, version = found
    with tempfile.TemporaryDirectory(prefix="scraper-datasette-") as workdir:
        command = serve_command(datasette, version, archive, Path(workdir),
                                immutable=immutable, extra=datasette_args)
        click.echo(f"Datasette {version}: {archive} as database "
                   f"{database_name(archive)!r}", err=True)
        code = run_until_stopped(command)
    ctx.exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says


def run_until_stopped(command: list[str]) -> int:
    """Run Datasette until it exits; SIGINT or SIGTERM to this process is passed on to it.

    Datasette runs in its own process group, so that Ctrl-C at a terminal reaches it once,
    through here, and this process outlives it to remove the temporary metadata (a SIGINT
    ignored since the start, as in a script's background job, is passed on too).
    """
    proc = subprocess.Popen(command, process_group=0)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, forward) for signum in stops}
    try:
        return proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
