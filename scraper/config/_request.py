"""Checkers for the `request:` block (headers, cookies, auth) and `network.proxy`.

Every string value may hold `${ENV_VAR}` or `${file:PATH}` (secrets.py) and becomes a
Secret. Messages name the key, never a value: a value may be a password.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scraper.config._fields import _check_keys, _Ctx, _describe, _text, _valid_host
from scraper.config._model import BasicAuth, FileCookie, RequestSettings
from scraper.config.secrets import REDACTED, Secret, expand_secrets
from scraper.errors import ConfigError

# RFC 9110 token: a header name, a cookie name.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers the fetcher or the HTTP library sets itself, or that have a key of their own.
_NOT_SETTABLE = {
    "host": "is set from the URL",
    "content-length": "is set by the HTTP library",
    "transfer-encoding": "is set by the HTTP library",
    "connection": "is set by the HTTP library",
    "cookie": "has a key of its own: use request.cookies or request.cookies_file",
    "user-agent": "has a key of its own: use politeness.user_agent",
}
PROXY_SCHEMES = ("http", "https", "socks5")
MAX_COOKIES_FILE_BYTES = 4 * 1024 * 1024
MAX_FILE_COOKIES = 3000  # the client's jar holds as many (client.MAX_COOKIES)


def _base_dir(ctx: _Ctx) -> str:
    """Relative paths in a config are taken from its file's folder."""
    if ctx.path.startswith("<"):
        return "."
    return os.path.dirname(os.path.abspath(ctx.path))


def _secret(ctx: _Ctx, key: str, value: Any) -> Secret:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ctx.error(key, f"must be a string, got {_describe(value)}")
    if not str(value).strip():
        raise ctx.error(key, "must be a non-empty string")
    return expand_secrets(str(value), key=key, base_dir=_base_dir(ctx), path=ctx.path,
                          line=ctx.line(key))


def _header_value(ctx: _Ctx, key: str, value: Any) -> Secret:
    """A header value: printable ASCII on one line (httpx encodes values as ASCII and h11
    refuses control characters), checked after expansion and blanks around it dropped."""
    secret = _secret(ctx, key, value)
    text = secret.reveal().strip(" \t")
    if not text or any(not " " <= c <= "~" for c in text):
        raise ctx.error(key, "must expand to one line of printable ASCII (it is sent as an "
                             "HTTP header); the value is not shown here")
    return Secret(text)


def _mapping(ctx: _Ctx, key: str, value: Any, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"must be a mapping of {what}, got {_describe(value)}")
    return value


def _headers(ctx: _Ctx, key: str, value: Any) -> tuple[tuple[str, Secret], ...]:
    out: dict[str, tuple[str, Secret]] = {}
    for name, text in _mapping(ctx, key, value, "header names to values").items():
        sub = f"{key}.{name}"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ctx.error(sub, f"not a valid header name: {name!r}")
        why = _NOT_SETTABLE.get(name.lower())
        if why:
            raise ctx.error(sub, f"the {name} header {why}")
        if name.lower() in out:
            raise ctx.error(sub, f"the header {name} is given twice")
        out[name.lower()] = (name, _header_value(ctx, sub, text))
    return tuple(out.values())


def _cookie_value(ctx: _Ctx, key: str, value: Any) -> Secret:
    secret = _secret(ctx, key, value)
    # RFC 6265 cookie-octet: no blanks, quotes, commas, semicolons or backslashes.
    if any(not "!" <= c <= "~" or c in '",;\\' for c in secret.reveal()):
        raise ctx.error(key, "must expand to a cookie value (printable ASCII without blanks, "
                             "quotes, commas, semicolons or backslashes); the value is not "
                             "shown here")
    return secret


def _cookies(ctx: _Ctx, key: str, value: Any) -> tuple[tuple[str, Secret], ...]:
    out = []
    for name, text in _mapping(ctx, key, value, "cookie names to values").items():
        sub = f"{key}.{name}"
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ctx.error(sub, f"not a valid cookie name: {name!r}")
        out.append((name, _cookie_value(ctx, sub, text)))
    return tuple(out)


def read_cookies_file(path: str) -> tuple[FileCookie, ...]:
    """The unexpired cookies of a Netscape cookies.txt (as browsers' extensions export it),
    read by the standard library's MozillaCookieJar once each line has been checked, so that
    an error names the file and the line. Raises ConfigError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_COOKIES_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the cookies file: {exc.strerror or exc}",
                          path=path) from None
    if len(data) > MAX_COOKIES_FILE_BYTES:
        raise ConfigError(f"over {MAX_COOKIES_FILE_BYTES} bytes: not a cookies file?", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    lines = text.splitlines()
    if not lines or not re.search(r"#( Netscape)? HTTP Cookie File", lines[0]):
        raise ConfigError("not a Netscape cookies.txt: its first line must be "
                          "'# Netscape HTTP Cookie File'", path=path, line=1)
    count = 0
    for number, line in enumerate(lines, start=1):
        problem = _cookie_line_problem(line)
        if problem:
            raise ConfigError(problem, path=path, line=number)
        count += bool(line.strip()) and not _is_comment(line)
    if count > MAX_FILE_COOKIES:
        raise ConfigError(f"holds {count} cookies, over {MAX_FILE_COOKIES}", path=path)
    jar = MozillaCookieJar()
    now = time.time()
    try:
        # Expiry is checked below: MozillaCookieJar takes the 0 that exports write for a
        # session cookie as long expired, while the export is that session.
        jar.load(path, ignore_discard=True, ignore_expires=True)
    except (LoadError, OSError) as exc:
        raise ConfigError(f"cannot read the cookies file: {exc}", path=path) from None
    cookies = tuple(
        FileCookie(domain=c.domain.lstrip(".").lower(), subdomains=c.domain_specified,
                   path=c.path or "/", secure=c.secure, name=c.name,
                   value=Secret(c.value or ""))
        for c in jar if not c.expires or c.expires > now)
    if not cookies:
        raise ConfigError("holds no cookie that has not expired", path=path)
    return cookies


def _is_comment(line: str) -> bool:
    return line.startswith("#") and not line.startswith("#HttpOnly_")


def _cookie_line_problem(line: str) -> str | None:
    if not line.strip() or _is_comment(line):
        return None
    fields = line.split("\t")
    if len(fields) != 7:
        return (f"a cookie line has 7 fields separated by tabs (domain, subdomains, path, "
                f"secure, expiry, name, value), this one has {len(fields)}")
    domain, subdomains, path, secure, expires, name, _value = fields
    domain = domain.removeprefix("#HttpOnly_")
    if not domain.strip(".") or not _valid_host(domain.strip(".")):
        return f"not a valid cookie domain: {domain!r}"
    for field_name, flag in (("subdomains", subdomains), ("secure", secure)):
        if flag not in ("TRUE", "FALSE"):
            return f"the {field_name} field must be TRUE or FALSE, got {flag!r}"
    if not path.startswith("/"):
        return f"the path field must start with '/', got {path!r}"
    if not expires.isdigit():
        return f"the expiry field must be a Unix time (0: a session cookie), got {expires!r}"
    if not _TOKEN.fullmatch(name):
        return f"not a valid cookie name: {name!r}"
    return None


def _referenced(ctx: _Ctx, key: str, value: Any) -> Any:
    """A password or token must come from ${ENV_VAR} or ${file:PATH}: a config file is
    copied, committed and shared, which a secret written in it would go along with."""
    if isinstance(value, str) and "${" not in value.replace("$${", ""):
        raise ctx.error(key, "must come from the environment or a file: write "
                             "\"${ENV_VAR}\" or \"${file:PATH}\", not the secret itself")
    return value


def _auth(ctx: _Ctx, key: str, value: Any) -> tuple[BasicAuth | None, Secret | None]:
    value = _mapping(ctx, key, value, "one of basic: {user, password} or bearer: TOKEN")
    _check_keys(ctx, key, value, ("basic", "bearer"))
    if len(value) != 1:
        raise ctx.error(key, "must hold exactly one of basic: {user, password} or "
                             "bearer: TOKEN")
    if "bearer" in value:
        bearer = _referenced(ctx, f"{key}.bearer", value["bearer"])
        return None, _header_value(ctx, f"{key}.bearer", bearer)
    sub = f"{key}.basic"
    basic = _mapping(ctx, sub, value["basic"], "user and password")
    _check_keys(ctx, sub, basic, ("user", "password"))
    for name in ("user", "password"):
        if name not in basic:
            raise ctx.error(f"{sub}.{name}", "missing", at=sub)
    user = _secret(ctx, f"{sub}.user", basic["user"]).reveal()
    if ":" in user or any(ord(c) < 32 or ord(c) == 127 for c in user):
        raise ctx.error(f"{sub}.user", "must be one line without ':' (HTTP basic auth "
                                       "separates the user from the password with it)")
    password = _secret(ctx, f"{sub}.password",
                       _referenced(ctx, f"{sub}.password", basic["password"]))
    if any(ord(c) < 32 or ord(c) == 127 for c in password.reveal()):
        raise ctx.error(f"{sub}.password", "must be one line without control characters; "
                                           "the value is not shown here")
    return BasicAuth(user, password), None


def request_settings(ctx: _Ctx, key: str, value: Any) -> RequestSettings:
    """The `request:` block."""
    if value is None:
        return RequestSettings()
    value = _mapping(ctx, key, value, "headers, cookies or cookies_file, and auth")
    _check_keys(ctx, key, value, ("headers", "cookies", "cookies_file", "auth"))
    if "cookies" in value and "cookies_file" in value:
        raise ctx.error(f"{key}.cookies_file", "give either cookies or cookies_file, not both")
    settings: dict[str, Any] = {}
    if "headers" in value:
        settings["headers"] = _headers(ctx, f"{key}.headers", value["headers"])
    if "cookies" in value:
        settings["cookies"] = _cookies(ctx, f"{key}.cookies", value["cookies"])
    if value.get("cookies_file") is not None:
        name = _text(ctx, f"{key}.cookies_file", value["cookies_file"])
        assert name is not None
        file = Path(name).expanduser()
        if not file.is_absolute():
            file = Path(_base_dir(ctx)) / file
        settings["cookies_file"] = name
        settings["file_cookies"] = read_cookies_file(str(file))
    if value.get("auth") is not None:
        settings["basic"], settings["bearer"] = _auth(ctx, f"{key}.auth", value["auth"])
    return RequestSettings(**settings)


def proxy_url(ctx: _Ctx, key: str, value: Any) -> Secret | None:
    """`network.proxy`: an http://, https:// or socks5:// URL with a host and a port; it
    may carry a user and password (from ${ENV_VAR})."""
    if value is None:
        return None
    secret = _secret(ctx, key, value)
    url = secret.reveal().strip()
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ctx.error(key, f"not a valid proxy URL: {shown!r} ({exc})") from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise ctx.error(key, f"must be an http://, https:// or socks5:// URL, got {shown!r}")
    if not host or not _valid_host(host):
        raise ctx.error(key, f"has no valid host: {shown!r}")
    if port is None or port == 0:
        raise ctx.error(key, f"must name the proxy's port (such as :3128), got {shown!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ctx.error(key, f"must be scheme://host:port only, got {shown!r}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ctx.error(key, f"must be a URL without spaces or control characters, "
                             f"got {shown!r}")
    return Secret(url)


def redact_url(url: str) -> str:
    """`url` with the password of its user part shown as `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':' + REDACTED if colon else ''}@{hostport}{slash}{tail}"


def request_to_dict(settings: RequestSettings) -> dict[str, Any]:
    """The block in the file's shape with every value as `***` (config show, run rows)."""
    out: dict[str, Any] = {}
    if settings.headers:
        out["headers"] = {name: REDACTED for name, _ in settings.headers}
    if settings.cookies:
        out["cookies"] = {name: REDACTED for name, _ in settings.cookies}
    if settings.cookies_file is not None:
        out["cookies_file"] = settings.cookies_file
    if settings.basic is not None:
        out["auth"] = {"basic": {"user": settings.basic.user, "password": REDACTED}}
    elif settings.bearer is not None:
        out["auth"] = {"bearer": REDACTED}
    return out
