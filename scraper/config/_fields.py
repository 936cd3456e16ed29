"""Checkers for single config values; each error names the file, line and key."""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from scraper.config._model import Scope
from scraper.config._regex import regex_problem
from scraper.errors import ConfigError
from scraper.timeutil import DurationError, parse_duration


class _Ctx:
    """Where values came from, so that each error names the file, line and key."""

    def __init__(self, path: str, lines: dict[str, int]) -> None:
        self.path = path
        self.lines = lines
        self.overridden: set[str] = set()

    def _from_override(self, key: str) -> bool:
        return any(key == o or key.startswith((o + ".", o + "[")) for o in self.overridden)

    def line(self, key: str) -> int | None:
        if self._from_override(key):
            return None
        while key not in self.lines:
            if not key:
                return None
            key = key[: key.rfind("[")] if key.endswith("]") else key[: max(key.rfind("."), 0)]
        return self.lines[key]

    def error(self, key: str, message: str, *, at: str | None = None) -> ConfigError:
        where = key if at is None else at
        if self._from_override(where):
            message += " (set by an override)"
        return ConfigError(message, path=self.path, line=self.line(where), key=key or None)


_Field = Callable[[_Ctx, str, Any], Any]

# Upper bounds for numbers that have no natural one, so that a typo such as 10**20 is refused
# here rather than overflowing later (SQLite integers are 64-bit; datetime ends in year 9999).
MAX_INT = 2**31 - 1
MAX_SECONDS = 3650 * 86400.0  # ten years
MAX_SIZE = 2**40  # 1 TiB


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _suggest(word: Any, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def _check_keys(ctx: _Ctx, key: str, value: Mapping[Any, Any], allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for name in value:
        if name not in allowed:
            sub = f"{key}.{name}" if key else str(name)
            hint = _suggest(name, allowed) or f"; valid keys: {', '.join(allowed)}"
            raise ctx.error(sub, f"unknown key {name!r}{hint}")


def _text(ctx: _Ctx, key: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, f"must be a non-empty string, got {_describe(value)}")
    return value


def _header_text(ctx: _Ctx, key: str, value: Any) -> str:
    """Text sent as an HTTP header value. httpx encodes header values as ASCII and h11
    refuses leading or trailing blanks, so a value that would fail at the first request is
    refused here: printable ASCII only. Blanks around it are dropped (as YAML does for an
    unquoted value)."""
    text = _text(ctx, key, value)
    assert text is not None
    text = text.strip(" \t")
    bad = next((c for c in text if not " " <= c <= "~"), None)
    if bad is not None:
        kind = "control characters" if bad < " " or bad == "\x7f" else "non-ASCII characters"
        raise ctx.error(key, f"must be one line of printable ASCII (it is sent as an HTTP "
                             f"header); {kind} such as {bad!r} are refused, got {text!r}")
    return text


def _archive(ctx: _Ctx, key: str, value: Any) -> str | None:
    """An SQLite file path or a postgresql:// URL, checked as `Archive.open` reads it; a
    message shows a URL's password as `***`."""
    from scraper.archive.location import parse_archive_location  # (only when one is given)

    text = _text(ctx, key, value, optional=True)
    if text is None:
        return None
    if "\0" in text:
        raise ctx.error(key, "a path cannot contain a NUL character")
    try:
        parse_archive_location(text, key=key)
    except ConfigError as exc:
        raise ctx.error(key, exc.reason) from None
    return text


def _plain_text(ctx: _Ctx, key: str, value: Any, *, optional: bool = False) -> str | None:
    """Text without control characters (page titles and such, sent in API queries)."""
    text = _text(ctx, key, value, optional=optional)
    if text is not None and any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ctx.error(key, f"must be one line without control characters, got {text!r}")
    return text


def _integer(ctx: _Ctx, key: str, value: Any, *, minimum: int, maximum: int = MAX_INT,
             optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        more = " or null" if optional else ""
        raise ctx.error(key, f"must be an integer >= {minimum}{more}, got {_describe(value)}")
    if value > maximum:
        raise ctx.error(key, f"must be at most {maximum}, got {_describe(value)}")
    return value


def _flag(ctx: _Ctx, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"must be true or false, got {_describe(value)}")
    return value


def _positive_number(ctx: _Ctx, key: str, value: Any, *, maximum: float) -> float:
    """A number > 0 (an integer or a decimal), at most `maximum`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ctx.error(key, f"must be a number > 0, got {_describe(value)}")
    if value > maximum:
        raise ctx.error(key, f"must be at most {maximum:g}, got {_describe(value)}")
    return float(value)


def _auto_or_positive_number(ctx: _Ctx, key: str, value: Any, *,
                             maximum: float) -> float | None:
    """"auto" or null (None, as Config.to_dict writes it) or a number > 0, at most
    `maximum`."""
    if value is None or value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ctx.error(key, f'must be "auto" or a number > 0, got {_describe(value)}')
    return _positive_number(ctx, key, value, maximum=maximum)


def _seconds(ctx: _Ctx, key: str, value: Any, *, positive: bool = False,
             maximum: float = MAX_SECONDS) -> float:
    seconds = -1.0
    detail = ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            detail = f" ({exc.detail})" if exc.detail and isinstance(value, str) else ""
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "> 0" if positive else ">= 0"
        raise ctx.error(key, f"must be a number {bound} or a duration such as 250ms, 30s, 5m, "
                             f"1h30m or 1d, got {_describe(value)}{detail}")
    if seconds > maximum:
        raise ctx.error(key, f"must be at most {_span(maximum)}, got {_describe(value)}")
    return seconds


def _span(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days >= 1 else f"{seconds:g} seconds"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}


def parse_size(value: str | float) -> int:
    """Bytes in `value`: an integer, or a number with a unit: 512KiB, 10MB (10**7), 1GiB, 64k.

    KB/MB/GB are powers of 1000, KiB/MiB/GiB and the bare K/M/G powers of 1024.
    Raises ValueError naming the accepted forms.
    """
    number: float | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int) or isinstance(value, float) and value.is_integer():
        number = value
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if match and match.group(2).lower() in _SIZE_UNITS:
            number = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if number is None or number < 0 or not math.isfinite(number):
        raise ValueError(f"expected a number of bytes or a size such as 512KiB or 10MB, "
                         f"got {value!r}")
    return round(number)


def _size(ctx: _Ctx, key: str, value: Any) -> int:
    try:
        size = parse_size(value)
    except ValueError:
        size = 0
    if size < 1:
        raise ctx.error(key, f"must be a number of bytes >= 1 or a size such as 512KiB or 10MB, "
                             f"got {_describe(value)}")
    if size > MAX_SIZE:
        raise ctx.error(key, f"must be at most {MAX_SIZE} bytes (1TiB), got {_describe(value)}")
    return size


def _choice(ctx: _Ctx, key: str, value: Any, *, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ctx.error(key, f"must be one of {', '.join(choices)}, got {_describe(value)}"
                             f"{_suggest(value, choices)}")
    return value


def _list(ctx: _Ctx, key: str, value: Any, item: _Field) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        hint = f" (write it as a list: [{value}])" if isinstance(value, str) else ""
        raise ctx.error(key, f"must be a list, got {_describe(value)}{hint}")
    return tuple(item(ctx, f"{key}[{i}]", v) for i, v in enumerate(value))


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def _regex(ctx: _Ctx, key: str, value: Any) -> re.Pattern[str]:
    text = _text(ctx, key, value)
    assert text is not None
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise ctx.error(key, f"not a valid regular expression: {exc.msg} at position {exc.pos} "
                             f"in {text!r}") from exc
    except RecursionError as exc:  # re's parser recurses once per group
        raise ctx.error(key, f"not a usable regular expression: nested too deeply in "
                             f"{_describe(text)}") from exc
    problem = regex_problem(text)
    if problem:
        raise ctx.error(key, f"refused regular expression {_describe(text)}: {problem}")
    return compiled


def _css(ctx: _Ctx, key: str, value: Any) -> str | None:
    text = _text(ctx, key, value, optional=True)
    if text is None:
        return None
    # Checked here so a typo is refused before the crawl; parse.py is selectolax's real user.
    from selectolax.lexbor import LexborHTMLParser

    try:
        LexborHTMLParser("<p></p>").css(text)
    except Exception as exc:  # selectolax raises its own error type for bad selectors
        raise ctx.error(key, f"not a valid CSS selector: {text!r} ({exc})") from exc
    return text


def _crawlable_urls(ctx: _Ctx, key: str, value: Any, *, refused: str) -> tuple[str, ...]:
    """A list of http(s) URLs, each one the crawl can put in its normal form: one it cannot
    would stop the run after the archive is opened, so it is refused here (`refused`: the
    message's verb, "cannot be crawled")."""
    urls = _list(ctx, key, value, _http_url)
    # Imported here: the frontier imports this package.
    from scraper.urls import normalise_url

    for i, url in enumerate(urls):
        try:
            normalise_url(url)
        except ValueError as exc:
            raise ctx.error(f"{key}[{i}]", f"{refused}: {exc}") from exc
    return _unique(urls)


def _http_url(ctx: _Ctx, key: str, value: Any) -> str:
    text = _text(ctx, key, value)
    assert text is not None
    url = text.strip()
    if any(c.isspace() for c in url):
        raise ctx.error(key, f"must be a URL without spaces, got {url!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise ctx.error(key, f"must be a URL without control characters, got {url!r}")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ctx.error(key, f"not a valid URL: {url!r} ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https"):
        hint = ""
        head = url.split("/")[0]
        if not parts.scheme and "." in head and not head.endswith((".php", ".html", ".htm")):
            hint = f"; did you mean {'https://' + url!r}?"
        raise ctx.error(key, f"must be an http or https URL, got {url!r}{hint}")
    if not host:
        raise ctx.error(key, f"has no host: {url!r}")
    if "@" in parts.netloc:
        # The crawl refuses such URLs (frontier.normalise_url); a password does not belong
        # in a config that is stored with every run.
        raise ctx.error(key, f"must not carry a user name or password: {url!r}")
    if _port == 0:
        raise ctx.error(key, f"port 0 cannot be connected to: {url!r}")
    if not _valid_host(host.rstrip(".")):
        raise ctx.error(key, f"not a valid host name in {url!r}")
    return url


def _valid_host(host: str) -> bool:
    """An IP address, or a name whose labels are 1 to 63 characters once IDNA-encoded (the
    encoding httpx applies when it connects; an empty label makes it raise)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(ascii_host) and all(0 < len(label) < 64 for label in ascii_host.split("."))


_HOSTNAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def _host(ctx: _Ctx, key: str, value: Any) -> str:
    text = _text(ctx, key, value)
    assert text is not None
    host = text.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if "/" in host:
        raise ctx.error(key, f"must be a host name such as example.org, not a URL: {text!r}")
    if "*" in host:
        raise ctx.error(key, f"wildcards are not needed: a domain admits its subdomains: {text!r}")
    if ":" in host:
        raise ctx.error(key, f"must be a host name without a port: {text!r}")
    try:
        host = _ascii_host(host)
    except UnicodeError:
        host = ""
    if not _HOSTNAME.match(host):
        raise ctx.error(key, f"not a valid host name: {text!r}")
    return host


def _ascii_host(host: str) -> str:
    # The frontier stores hosts in their IDNA form; compare like with like.
    return host if host.isascii() else host.encode("idna").decode("ascii")


def _url_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return _ascii_host(host)
    except UnicodeError:
        return host


def _scope_target(url: str) -> str:
    # Start URLs are not normalised yet; normalisation turns an empty path into "/".
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _scope_problem(scope: Scope, url: str) -> str | None:
    """Why a start URL is outside the scope, or None. The crawl's own check is
    scraper.urls.out_of_scope_reason; this one only refuses a config early."""
    # Like the frontier (and Scrapy's allowed_domains), a domain admits its subdomains.
    host = _url_host(url)
    if not any(host == d or host.endswith("." + d) for d in scope.domains):
        return f"its host {host!r} is not in scope.domains ({', '.join(scope.domains)})"
    target = _scope_target(url)
    if scope.include and not any(p.search(target) for p in scope.include):
        return f"{target!r} matches none of scope.include"
    for pattern in scope.exclude:
        if pattern.search(target):
            return f"{target!r} matches scope.exclude {pattern.pattern!r}"
    return None


