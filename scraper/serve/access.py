"""Who may read the web view: the binding rules (loopback unless --public with a token), the
token check on every request, the Host check that stops DNS rebinding, and the headers every
answer carries."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scraper.errors import ConfigError

TOKEN_ENV = "SCRAPER_SERVE_TOKEN"
TOKEN_COOKIE = "scraper_serve_token"
TOKEN_HEADER = "x-scraper-token"
LOOPBACK_NAMES = frozenset({"localhost"})

# The pages' own policy: no script at all, styles inline, frames only from this server.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    archive: str  # a SQLite path or a postgresql:// URL
    host: str = "127.0.0.1"
    port: int = 8080
    public: bool = False  # allow a non-loopback address (a token is then required)
    token: str | None = None


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or address, IPv6 with or without brackets) is this machine's
    loopback: 127.0.0.0/8, ::1 or localhost."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_settings(settings: ServeSettings) -> None:
    """Refuse a binding that would show the archive beyond this machine without a token.
    Raises ConfigError naming the option."""
    if settings.token is not None and not settings.token.strip():
        raise ConfigError(f"the token is empty (from --token or {TOKEN_ENV})", key="--token")
    if is_loopback(settings.host):
        return
    if not settings.public:
        raise ConfigError(f"{settings.host} is not a loopback address: serving the archive to "
                          f"other machines needs --public and a token (--token or {TOKEN_ENV})",
                          key="--host")
    if settings.token is None:
        raise ConfigError(f"--public on {settings.host} needs a token (--token or {TOKEN_ENV}),"
                          " which every request must carry", key="--token")


def _host_of(header: str) -> str:
    """The host part of a Host header (without its port; IPv6 in brackets)."""
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AccessGuard:
    """ASGI middleware: checks each request's Host (on loopback) and token (when one is set),
    and adds the security headers to every answer.

    A token is accepted from the `Authorization: Bearer` or `X-Scraper-Token` header, the
    cookie this guard sets, or `?token=`; a request with `?token=` is redirected to the same
    URL without it, the cookie set (HttpOnly, SameSite=Strict), so the token stays out of the
    address bar, the history and the logs.
    """

    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app = app
        self.token = settings.token.encode() if settings.token else None
        # Bound to loopback, the view has no token to stop a page on another site that
        # rebinds its name to 127.0.0.1: only loopback Host headers are answered.
        self.check_host = is_loopback(settings.host) and not settings.public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.check_host and not is_loopback(_host_of(headers.get("host", ""))):
            await _plain(send, 421, "this server answers only to a loopback Host "
                                    "(127.0.0.1, ::1 or localhost)")
            return
        if self.token is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                              keep_blank_values=True)
            given = dict(query).get("token")
            if given is not None:
                if not self._matches(given):
                    await _plain(send, 401, "wrong token")
                    return
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                path = quote(scope.get("root_path", "") + scope["path"])
                await _redirect_setting_cookie(send, path + (f"?{rest}" if rest else ""), given)
                return
            if not self._request_has_token(headers):
                await _plain(send, 401, "a token is needed: open the address with ?token=..., "
                                        "or send it as `Authorization: Bearer ...`")
                return
        await self.app(scope, receive, _with_security_headers(send))

    def _matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode(), self.token)

    def _request_has_token(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self._matches(auth[7:].strip()):
            return True
        if TOKEN_HEADER in headers and self._matches(headers[TOKEN_HEADER]):
            return True
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header carries no token
            return False
        morsel = cookie.get(TOKEN_COOKIE)
        return morsel is not None and self._matches(morsel.value)


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            if b"content-security-policy" not in names:
                headers.append((b"content-security-policy", PAGE_CSP.encode()))
            headers += [(b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer")]
            message = {**message, "headers": headers}
        await send(message)
    return sending


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_setting_cookie(send: Send, location: str, token: str) -> None:
    cookie: SimpleCookie = SimpleCookie()
    cookie[TOKEN_COOKIE] = token
    morsel = cookie[TOKEN_COOKIE]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("ascii")),
                            (b"set-cookie", morsel.OutputString().encode("latin-1")),
                            (b"content-length", b"0"),
                            (b"referrer-policy", b"no-referrer")]})
    await send({"type": "http.response.body", "body": b""})
