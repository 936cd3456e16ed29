"""Where an archive lives, read from what `archive:` or `--archive` holds: a SQLite file path
or a PostgreSQL URL. Pure: nothing is opened or connected to here.

A PostgreSQL URL is libpq's URI form, `postgresql://[user[:password]@][host][:port][,...]
[/dbname][?param=value&...]` (`postgres://` too). Anything it leaves out (user, password,
host, port, database) libpq fills in itself from PGUSER, PGPASSWORD, PGHOST, PGPORT,
PGDATABASE and ~/.pgpass when it connects, so none of that is read here. The URL is split the
way libpq splits it (the user part ends at the first `@` before any `/`), so that the
password hidden in `display` is exactly the one libpq will send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from scraper.errors import ConfigError

ArchiveKind = Literal["sqlite", "postgresql"]

POSTGRES_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"

_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# `postgres:host/db` is not a URL libpq reads (it would take it for `key=value` settings).
_POSTGRES_WITHOUT_SLASHES = re.compile(r"(?i)(postgresql|postgres):(?!//)")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Query parameters whose values are secrets. libpq knows `password` and `sslpassword`; the
# rest are hidden too in case a future libpq or a typo puts a secret there.
_SECRET_PARAM = re.compile(r"(?i)pass|secret|token")


@dataclass(frozen=True, slots=True)
class ArchiveLocation:
    """An archive's place: a SQLite file or a PostgreSQL database.

    `path_or_dsn` is what the backend opens (the file path as given, or the URL for libpq,
    with its password); it is left out of the repr. `display` is safe to print or log: a
    password in the URL, or in a `password=` parameter, reads `***`.
    """

    kind: ArchiveKind
    path_or_dsn: str = field(repr=False)
    display: str

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgresql"

    def __str__(self) -> str:
        return self.display


def parse_archive_location(
    value: str, *, key: str = "archive", path: str | None = None, line: int | None = None,
) -> ArchiveLocation:
    """Reads an `archive:` value or an `--archive` option.

    A value with no `scheme://` is a SQLite file path; `postgresql://` and `postgres://` URLs
    name a PostgreSQL database. Anything else is refused with a ConfigError that names `key`
    (and `path`/`line` when the value came from a config file) and shows the value with any
    password replaced by `***`.
    """

    def refuse(reason: str) -> ConfigError:
        return ConfigError(f"{redact(value)!r}: {reason}", key=key, path=path, line=line)

    if not isinstance(value, str) or not value.strip():
        raise ConfigError("is empty: give a file path (SQLite) or a postgresql:// URL",
                          key=key, path=path, line=line)
    if "\x00" in value:
        raise refuse("holds a NUL character")
    scheme_match = _URL_SCHEME.match(value)
    if scheme_match is None:
        if _POSTGRES_WITHOUT_SLASHES.match(value):
            raise refuse("a PostgreSQL URL starts with postgresql:// "
                         "(postgresql://user@host:port/dbname)")
        if value.endswith("/"):
            raise refuse("names a folder; a SQLite archive is a file, e.g. archive/archive.db")
        return ArchiveLocation(kind="sqlite", path_or_dsn=value, display=value)
    scheme = scheme_match.group(1).lower()
    if scheme not in POSTGRES_SCHEMES:
        hint = ("a SQLite archive is given as a plain file path" if scheme in ("sqlite", "file")
                else "an archive is a file path (SQLite) or a postgresql:// URL")
        raise refuse(f"unsupported URL scheme {scheme_match.group(1)}://: {hint}")
    # libpq compares the scheme case-sensitively; any case is read here, lower case is passed on.
    rest = value[scheme_match.end():]
    problem = _postgres_problem(rest)
    if problem is not None:
        raise refuse(problem)
    userinfo, after = _split_userinfo(rest)
    shown_userinfo = ""
    if userinfo is not None:
        user, colon, _password = userinfo.partition(":")
        shown_userinfo = f"{user}:{REDACTED}@" if colon else f"{user}@"
    return ArchiveLocation(
        kind="postgresql",
        path_or_dsn=f"{scheme}://{rest}",
        display=f"{scheme}://{shown_userinfo}{_redact_query(after)}",
    )


def redact(value: str) -> str:
    """`value` with the password of any `scheme://user:password@...` URL, and the values of
    password-like query parameters, replaced by `***`; other values are returned unchanged.

    Made for error messages about values that may be malformed: everything between the first
    `:` after `://` and the last `@` before the query counts as password, which hides more
    than libpq's split would rather than less.
    """
    scheme_match = _URL_SCHEME.match(value)
    if scheme_match is None:
        return value
    rest = value[scheme_match.end():]
    query_at = rest.find("?")
    authority_and_path = rest if query_at < 0 else rest[:query_at]
    at = authority_and_path.rfind("@")
    if at >= 0:
        userinfo = authority_and_path[:at]
        colon = userinfo.find(":")
        if colon >= 0:
            rest = f"{userinfo[:colon]}:{REDACTED}{rest[at:]}"
    return value[:scheme_match.end()] + _redact_query(rest)


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(user[:password] or None, the rest), split as libpq does: the user part ends at the
    first `@` that comes before any `/`."""
    for i, char in enumerate(rest):
        if char == "@":
            return rest[:i], rest[i + 1:]
        if char == "/":
            break
    return None, rest


def _redact_query(text: str) -> str:
    base, question, query = text.partition("?")
    if not question:
        return text
    items = []
    for item in query.split("&"):
        name, equals, _value = item.partition("=")
        if equals and _SECRET_PARAM.search(_percent_decode(name)):
            item = f"{name}={REDACTED}"
        items.append(item)
    return f"{base}?{'&'.join(items)}"


def _percent_decode(text: str) -> str:
    # Only for reading parameter names: a malformed escape is left as it is.
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def _postgres_problem(rest: str) -> str | None:
    """Why libpq would refuse (or misread) the URL after `postgresql://`, or None.

    The reasons never quote a piece of the URL: a piece may be part of a password.
    """
    userinfo, after = _split_userinfo(rest)
    hosts_end = len(after)
    for i, char in enumerate(after):
        if char in "/?":
            hosts_end = i
            break
    hostspec, tail = after[:hosts_end], after[hosts_end:]
    if tail.startswith("/"):
        dbname, _question, query = tail[1:].partition("?")
    else:
        dbname, query = "", tail[1:]

    if userinfo is not None and _BAD_PERCENT.search(userinfo):
        return ("bad percent-encoding in the user name or password "
                "(a % must be followed by two hex digits)")
    if userinfo is not None and re.search(r"(?i)%00", userinfo):
        return "the user name or password holds %00, which libpq refuses"
    if "@" in hostspec:
        return ("more than one @ before the host: write an @ inside the user name or "
                "password as %40")
    for host_problem in map(_host_problem, _split_hosts(hostspec)):
        if host_problem is not None:
            return host_problem
    for part, what in ((hostspec, "the host"), (dbname, "the database name"),
                       (query, "the query")):
        if _BAD_PERCENT.search(part):
            return f"bad percent-encoding in {what} (a % must be followed by two hex digits)"
        if re.search(r"(?i)%00", part):
            return f"{what} holds %00, which libpq refuses"
    if query:
        for item in query.split("&"):
            name, equals, value = item.partition("=")
            if not equals:
                return ("a query parameter without a value: libpq reads ?key=value&key=value "
                        "(e.g. ?sslmode=require)")
            if not name:
                return "a query parameter without a name (?=value)"
            if "=" in value:
                return ("a query parameter with two = signs: write an = inside a value "
                        "as %3D")
    return None


def _split_hosts(hostspec: str) -> list[str]:
    """The comma-separated `host[:port]` entries, keeping `[IPv6]` addresses whole."""
    hosts, current, in_brackets = [], "", False
    for char in hostspec:
        if char == "," and not in_brackets:
            hosts.append(current)
            current = ""
            continue
        in_brackets = (in_brackets or char == "[") and char != "]"
        current += char
    hosts.append(current)
    return hosts


def _host_problem(entry: str) -> str | None:
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            return "an IPv6 host address opened with [ is not closed with ]"
        if end == 1:
            return "an empty IPv6 host address []"
        after = entry[end + 1:]
        if after and not after.startswith(":"):
            return "an IPv6 host address in [] must be followed by :port, / or ?"
        port = after[1:] if after else ""
    else:
        if "]" in entry:
            return "a ] without [ in the host"
        _host, _colon, port = entry.partition(":")
    # An empty port is libpq's default (5432 or PGPORT).
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return "the port is not a number from 1 to 65535"
    return None
