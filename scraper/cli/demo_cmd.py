"""Command: demo (the whole job offline on the built-in site)."""

from __future__ import annotations

import click

from scraper.cli.app import handle_errors, main, stdout_is_terminal


@main.command("demo")
@click.option("--dir", "workdir", default="archive/demo", show_default=True,
              type=click.Path(file_okay=False),
              help="Where the demo's archive and exported dataset go (made anew each run).")
@click.option("--pages", default=60, show_default=True, type=click.IntRange(min=10),
              help="Topics on the built-in site.")
@handle_errors
def demo_command(workdir: str, pages: int) -> None:
    """The whole job offline: serve the built-in site, crawl it, edit pages, recrawl, show
    the history and a diff of an edited page, and export a dataset.

    \b
    Example:
      scraper demo
      scraper history http://127.0.0.1:PORT/info/NATO --archive archive/demo/demo.db
    """
    from scraper.demo import run_demo
    from scraper.diff import render_text

    result = run_demo(workdir, pages=pages, say=click.echo)
    click.echo(f"\n5. History of {result.edited_url}:")
    for snap in result.history:
        when = snap.fetched_at.strftime("%Y-%m-%d %H:%M:%S")
        rev = f"revision {snap.revision_id}" if snap.revision_id else "no revision id"
        click.echo(f"   version {snap.version}  {when} UTC  {rev}  "
                   f"{snap.change_gist or 'first version'}")
    click.echo(f"\n6. What changed between versions {result.history[-2].version} and "
               f"{result.history[-1].version}:\n")
    click.echo(render_text(result.diff, color=stdout_is_terminal()))
    click.echo(f"\n7. Archive:  {result.archive_path}")
    click.echo(f"   Dataset:  {result.export_path} ({result.exported} pages, JSON lines)")
    click.echo("\nTry next:")
    click.echo(f"   scraper stats --archive {result.archive_path}")
    click.echo(f"   scraper changes --since 1h --archive {result.archive_path}")
    click.echo(f"   scraper diff {result.edited_url} --format html -o nato.html "
               f"--archive {result.archive_path}")
    click.echo(f"   scraper serve --archive {result.archive_path}     "
               "# then open http://127.0.0.1:8080/")
