"""scraper.archive.location: what `archive:` / `--archive` holds, read without I/O.

libpq's own URI parser (psycopg's conninfo_to_dict, which connects to nothing) is the
reference: what is accepted here libpq reads the same way, and the password hidden in
`display` is the one libpq would send.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

from scraper.archive.location import ArchiveLocation, parse_archive_location, redact
from scraper.errors import ConfigError

# --- SQLite file paths ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["archive/archive.db", "/var/lib/scraper/wiki.sqlite",
                                   "archive.db", "./a b/ü.db", "C:\\archives\\wiki.db",
                                   "weird:name.db"])
def test_a_value_without_scheme_is_a_sqlite_path_kept_as_given(value: str) -> None:
    loc = parse_archive_location(value)
    assert loc == ArchiveLocation(kind="sqlite", path_or_dsn=value, display=value)
    assert not loc.is_postgres
    assert str(loc) == value


def test_a_path_ending_in_a_slash_is_refused_as_a_folder() -> None:
    with pytest.raises(ConfigError, match=r"archive: 'archive/': names a folder"):
        parse_archive_location("archive/")


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_value_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="archive: is empty"):
        parse_archive_location(value)


# --- PostgreSQL URLs --------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "display"), [
    ("postgresql://scraper@db.example.org:5432/archive",
     "postgresql://scraper@db.example.org:5432/archive"),
    ("postgresql://scraper:s3cret@db.example.org/archive",
     "postgresql://scraper:***@db.example.org/archive"),
    ("postgres://scraper:s3cret@127.0.0.1:6543/archive?sslmode=require",
     "postgres://scraper:***@127.0.0.1:6543/archive?sslmode=require"),
    ("postgresql://db.example.org/archive?password=s3cret&sslmode=verify-full",
     "postgresql://db.example.org/archive?password=***&sslmode=verify-full"),
    ("postgresql://u@h/db?sslpassword=keypass&sslcert=/etc/c.pem",
     "postgresql://u@h/db?sslpassword=***&sslcert=/etc/c.pem"),
    ("postgresql://u:p%40ss%2Fw:rd@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
    ("postgresql://", "postgresql://"),
    ("postgresql:///archive", "postgresql:///archive"),
    ("postgresql://%2Fvar%2Frun%2Fpostgresql/archive",
     "postgresql://%2Fvar%2Frun%2Fpostgresql/archive"),
    ("postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write",
     "postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write"),
    ("postgresql://u:pw@[::1]:5432,[fe80::1]/db", "postgresql://u:***@[::1]:5432,[fe80::1]/db"),
    ("postgresql://h/a@b", "postgresql://h/a@b"),
    ("postgresql://h:/db?", "postgresql://h:/db?"),
])
def test_postgres_urls_are_accepted_with_the_password_hidden_in_display(
        value: str, display: str) -> None:
    loc = parse_archive_location(value)
    assert loc.kind == "postgresql" and loc.is_postgres
    assert loc.path_or_dsn == value
    assert loc.display == display
    assert str(loc) == display
    # libpq reads the same URL without complaint, and the password it would send is the
    # very part that `display` hides.
    parsed = conninfo_to_dict(loc.path_or_dsn)
    for secret in (parsed.get("password"), parsed.get("sslpassword")):
        if secret:
            assert str(secret) not in loc.display
            assert quote(str(secret), safe="") not in loc.display


def test_the_repr_never_shows_the_password() -> None:
    loc = parse_archive_location("postgresql://scraper:hunter2hunter2@h/db")
    assert "hunter2" not in repr(loc)
    assert "postgresql://scraper:***@h/db" in repr(loc)


def test_the_scheme_is_read_in_any_case_and_passed_to_libpq_in_lower_case() -> None:
    loc = parse_archive_location("PostgreSQL://u:pw@h/db")
    assert loc.path_or_dsn == "postgresql://u:pw@h/db"
    assert loc.display == "postgresql://u:***@h/db"
    assert conninfo_to_dict(loc.path_or_dsn)["host"] == "h"


def test_a_url_leaves_unnamed_parts_to_libpq_and_its_environment_variables() -> None:
    # Nothing from PG* or ~/.pgpass is read here: the URL is passed on as written.
    loc = parse_archive_location("postgresql:///archive")
    assert loc.path_or_dsn == "postgresql:///archive"
    assert conninfo_to_dict(loc.path_or_dsn) == {"dbname": "archive"}


# Passwords of any characters, percent-encoded as a URL must hold them.
_passwords = st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s)


@given(password=_passwords, user=st.sampled_from(["scraper", "u", "d%C3%A9v"]))
def test_any_encoded_password_is_the_one_libpq_reads_and_display_hides(
        password: str, user: str) -> None:
    encoded = quote(password, safe="")
    value = f"postgresql://{user}:{encoded}@db.example.org:5432/archive?sslmode=prefer"
    loc = parse_archive_location(value)
    assert loc.path_or_dsn == value
    assert loc.display == f"postgresql://{user}:***@db.example.org:5432/archive?sslmode=prefer"
    assert conninfo_to_dict(value)["password"] == password


@given(password=_passwords)
def test_any_password_parameter_is_hidden(password: str) -> None:
    value = f"postgresql://h/db?sslmode=disable&password={quote(password, safe='')}"
    loc = parse_archive_location(value)
    assert loc.display == "postgresql://h/db?sslmode=disable&password=***"
    assert conninfo_to_dict(value)["password"] == password


# --- refused values ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    ("mysql://bob:hunter2@db/x",
     ("archive: 'mysql://bob:***@db/x': unsupported URL scheme mysql://: an archive is a "
      "file path (SQLite) or a postgresql:// URL")),
    ("http://example.org/archive.db",
     "archive: 'http://example.org/archive.db': unsupported URL scheme http://"),
    ("sqlite:///archive/archive.db",
     "unsupported URL scheme sqlite://: a SQLite archive is given as a plain file path"),
    ("postgresql:db.example.org/archive", "a PostgreSQL URL starts with postgresql://"),
])
def test_unsupported_schemes_are_refused_naming_the_redacted_value(
        value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_archive_location(value)
    assert message in str(info.value)
    assert info.value.key == "archive"
    assert "hunter2" not in str(info.value)


# Each is refused here before any connection; libpq refuses those it can tell apart while
# parsing, and misreads the rest (it takes `p@ss` before the host for a password `p` and a
# host `ss@db`, and a `/` in a password for the end of the host).
@pytest.mark.parametrize(("value", "reason", "libpq_refuses"), [
    ("postgresql://u:p@ss@db/x", "more than one @ before the host", False),
    ("postgresql://u:hunter2/x@db/x", "the port is not a number from 1 to 65535", False),
    ("postgresql://u:pw@db:99999/x", "the port is not a number from 1 to 65535", False),
    ("postgresql://u:pw@db:５４３２/x", "the port is not a number", False),
    ("postgresql://u:hunter2%zz@db/x", "bad percent-encoding in the user name or password",
     True),
    ("postgresql://u:hunter2%00@db/x", "the user name or password holds %00", True),
    ("postgresql://db/arch%2", "bad percent-encoding in the database name", True),
    ("postgresql://u:pw@[::1/x", "an IPv6 host address opened with [ is not closed", True),
    ("postgresql://u:pw@[]:5432/x", "an empty IPv6 host address", True),
    ("postgresql://u:pw@[::1]x/db", "must be followed by :port", True),
    ("postgresql://db/x?sslmode", "a query parameter without a value", True),
    ("postgresql://db/x?sslmode=require&&a=b", "a query parameter without a value", True),
    ("postgresql://db/x?=require", "a query parameter without a name", True),
    ("postgresql://db/x?options=a=b", "a query parameter with two = signs", True),
    ("postgresql://db/x?password=hunter2%zz", "bad percent-encoding in the query", True),
])
def test_malformed_postgres_urls_are_refused_without_showing_the_password(
        value: str, reason: str, libpq_refuses: bool) -> None:
    with pytest.raises(ConfigError) as info:
        parse_archive_location(value, key="--archive")
    message = str(info.value)
    assert message.startswith("--archive: '")
    assert reason in message
    assert "hunter2" not in message
    if libpq_refuses:
        with pytest.raises(ProgrammingError):
            conninfo_to_dict(value)


def test_an_error_from_a_config_file_names_the_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_archive_location("mysql://h/db", path="config/wiki.yaml", line=12)
    assert str(info.value).startswith("config/wiki.yaml:12: archive: 'mysql://h/db': ")
    assert (info.value.path, info.value.line, info.value.key) == ("config/wiki.yaml", 12, "archive")


@pytest.mark.parametrize(("value", "shown"), [
    ("archive/archive.db", "archive/archive.db"),
    ("mysql://bob:hunter2@db/x", "mysql://bob:***@db/x"),
    ("postgresql://u:hun/ter@2@db/x?a=1", "postgresql://u:***@db/x?a=1"),
    ("postgresql://db/x?PassWord=hunter2&x=1", "postgresql://db/x?PassWord=***&x=1"),
    ("postgresql://u@db/x", "postgresql://u@db/x"),
])
def test_redact_hides_more_rather_than_less(value: str, shown: str) -> None:
    assert redact(value) == shown
