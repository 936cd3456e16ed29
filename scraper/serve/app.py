"""The web view's Starlette application: routes, templates, and the archive's stored bodies
served so that nothing in them runs or reaches the network."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from scraper import __version__
from scraper.archive import ArchiveBackend
from scraper.diff.html import HTML_DIFF_CSS as DIFF_CSS
from scraper.errors import NotArchived
from scraper.serve import views
from scraper.serve.access import AccessGuard, ServeSettings, check_settings
from scraper.serve.readers import ArchiveReaders
from scraper.timeutil import iso

BODY_CHUNK = 64 * 1024
# A stored body is the original site's markup, scripts and all. Served with this policy
# (and framed by <iframe sandbox>), it runs no script, submits no form, and loads nothing
# from anywhere: no image, style sheet, font or frame from the original site or this one.
BODY_CSP = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            "font-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
_SNIPPET_MARK = re.compile(r"\[([^\[\]]*)\]")


class BadRequest(ValueError):
    """A query parameter the route cannot use; the message names it."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("scraper.serve", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals.update(href=href, diff_css=Markup(DIFF_CSS), version=__version__)
    env.filters.update(when=_when, snippet=_snippet, size=_size,
                       urlquote=lambda text: quote_plus(str(text), safe=""))
    return env


def href(path: str, **params: Any) -> str:
    """A link inside the view: `path` with the parameters that are not None."""
    kept = [(k, str(v)) for k, v in params.items() if v is not None]
    return path + ("?" + urlencode(kept) if kept else "")


def _when(value: datetime | str | None) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return iso(value)[:19].replace("T", " ")


def _snippet(text: str) -> Markup:
    """A search snippet, escaped, its [matches] marked."""
    return Markup(_SNIPPET_MARK.sub(r"<mark>\1</mark>", str(escape(text))))


def _size(count: int) -> str:
    return f"{count / 1024:,.1f} KB" if count >= 1024 else f"{count} bytes"


def _int_param(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    value = text.strip().removeprefix("v")
    if not value.isdigit() or int(value) < 1:
        raise BadRequest(f"{name}: expected a version number (1, 2, ...), got {text!r}")
    return int(value)


def _url_param(request: Request) -> str:
    url = request.query_params.get("url", "").strip()
    if not url:
        raise BadRequest("url: the page's URL is missing (?url=...)")
    return url


def body_content_type(headers: list[tuple[str, str]]) -> str:
    """The type a stored body is served as: HTML stays HTML (sandboxed), with its charset;
    anything else is shown as text, never as what the original site declared (an SVG or
    a PDF viewer is not a place for an archived file to run)."""
    declared = next((v for k, v in headers if k.lower() == "content-type"), "")
    found = _CHARSET.search(declared)
    charset = f"; charset={found.group(1)}" if found else ""
    if declared.split(";")[0].strip().lower() in _HTML_TYPES or not declared:
        return "text/html" + charset
    return "text/plain" + (charset or "; charset=utf-8")


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), BODY_CHUNK):
        yield data[start:start + BODY_CHUNK]


def create_app(settings: ServeSettings, *, readers: ArchiveReaders | None = None,
               pool_size: int = 4) -> Starlette:
    """The read-only web view of the archive at `settings.archive`.

    Opens one archive object now (ArchiveError for a location that holds no archive this
    release reads) and raises ConfigError for a binding check_settings refuses.
    """
    check_settings(settings)
    pool = readers or ArchiveReaders(settings.archive, size=pool_size)
    pool.open_one()
    env = _environment()
    diffs = views.DiffCache()

    def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        html = env.get_template(template).render(request_path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    async def read(call: Callable[[ArchiveBackend], Any]) -> Any:
        return await pool.run(call)

    async def home(request: Request) -> Response:
        view = await read(lambda a: views.home(a, datetime.now(UTC)))
        return page(request, "home.html", view=view, archive=settings.archive)

    async def search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        results = await read(lambda a: views.search(a, query))
        return page(request, "search.html", query=query, results=results)

    async def timeline(request: Request) -> Response:
        url = _url_param(request)
        view = await read(lambda a: views.timeline(a, url))
        return page(request, "timeline.html", view=view, gist_of=views.gist_of)

    async def version(request: Request) -> Response:
        url, number = _url_param(request), _int_param(request, "v")
        view = await read(lambda a: views.version(a, url, number))
        return page(request, "version.html", view=view, gist_of=views.gist_of)

    async def body(request: Request) -> Response:
        url, number = _url_param(request), _int_param(request, "v")
        data, headers = await read(lambda a: views.body(a, url, number))
        # The type as a header, not media_type: Starlette would add "charset=utf-8" to a
        # body that declares none, overriding the <meta charset> the browser should read.
        return StreamingResponse(_chunks(data),
                                 headers={"content-type": body_content_type(headers),
                                          "content-security-policy": BODY_CSP,
                                          "content-length": str(len(data)),
                                          "cache-control": "private, max-age=3600"})

    async def diff(request: Request) -> Response:
        url = _url_param(request)
        old, new = _int_param(request, "from"), _int_param(request, "to")
        view = await read(lambda a: views.diff(a, url, old, new, diffs))
        return page(request, "diff.html", view=view)

    async def not_archived(request: Request, exc: Exception) -> Response:
        return page(request, "error.html", 404, title="Not in the archive",
                    message=str(getattr(exc, "reason", exc)))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return page(request, "error.html", 400, title="Bad request", message=str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(request, "error.html", 404, title="Not found",
                    message=f"no page at {request.url.path}")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()

    routes = [Route("/", home, methods=["GET", "HEAD"]),
              Route("/search", search, methods=["GET", "HEAD"]),
              Route("/page", timeline, methods=["GET", "HEAD"]),
              Route("/version", version, methods=["GET", "HEAD"]),
              Route("/body", body, methods=["GET", "HEAD"]),
              Route("/diff", diff, methods=["GET", "HEAD"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={NotArchived: not_archived, BadRequest: bad_request,
                                        404: not_found})
    app.add_middleware(AccessGuard, settings=settings)
    return app
