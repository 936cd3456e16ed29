"""Command: serve (a read-only web view of an archive)."""

from __future__ import annotations

import socket

import click

from scraper.cli.app import (
    EXIT_ERROR,
    ScraperClickError,
    archive_option,
    handle_errors,
    main,
    resolve_archive_path,
)
from scraper.serve.access import TOKEN_ENV, ServeSettings, check_settings
from scraper.serve.listening import listening_socket


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), for uvicorn to serve on."""
    try:
        return listening_socket(host, port)
    except OSError as exc:
        raise ScraperClickError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                EXIT_ERROR) from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --public and a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: a free one, printed).")
@click.option("--public", is_flag=True,
              help="Allow a non-loopback --host: other machines can then reach the view, "
                   "each request carrying the token.")
@click.option("--token", envvar=TOKEN_ENV, default=None, show_envvar=True,
              help="Every request must carry it: ?token=... once (a cookie is set), or "
                   "`Authorization: Bearer ...`. Required with --public.")
@archive_option
@handle_errors
def serve(host: str, port: int, public: bool, token: str | None,
          archive_path: str | None) -> None:
    """Serve a read-only web view of the archive: search, sites and recent changes, each
    page's timeline, any version's fields and stored page (sandboxed: its scripts do not
    run, nothing is loaded from the original site), and diffs between versions.

    Listens on 127.0.0.1 unless told otherwise. Nothing in the view writes to the archive,
    which is opened read-only. Stop it with Ctrl-C.

    \b
    Examples:
      scraper serve --archive archive/archive.db
      scraper serve --archive postgresql://archivist@db.example.org/archive --port 8800
      SCRAPER_SERVE_TOKEN=s3cret scraper serve --host 0.0.0.0 --public
    """
    # Imported here: the other commands need neither uvicorn nor Starlette.
    import uvicorn

    from scraper.serve import create_app

    settings = ServeSettings(archive=resolve_archive_path(archive_path), host=host, port=port,
                             public=public, token=token)
    check_settings(settings)  # ConfigError (exit 2) before anything is opened or bound
    app = create_app(settings)
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    click.echo(f"serving {settings.archive} read-only at http://{shown}:{bound_port}/"
               + (" (token required)" if token else ""), err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on"))
    server.run(sockets=[sock])
