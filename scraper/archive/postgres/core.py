"""The PostgreSQL archive's connection: connecting from an ArchiveLocation, transactions,
translation of psycopg errors into ArchiveError, and reconnecting after a dropped connection.

One connection per archive object (so one per worker), not a pool: a crawl worker talks to
its archive from one thread at a time (as with SQLite), so a pool would only add a
background thread, and its own reconnecting would hide how long the server has been away.
What a pool gives that we need, a fresh connection after a broken one, is `run()` here.
A lock still makes one object safe to share between threads (they take turns).

Statements driven by a list of keys (`= ANY(%s)`, a join with `unnest`) that a crawl runs
over and over are sent with `prepare=False`, to be planned on each call for the tables as
they are then. psycopg prepares a statement on its fifth call, and the server then keeps one
generic plan for it, made for the tables' size at that moment: in a new archive a few rows,
for which a sequential scan is the cheapest plan. Kept for the rest of the crawl, the frontier
depth update scanned a 4,000-URL frontier on every save (1.4 ms), and more as it grew. Planning
such a statement costs ~0.1 ms. Lookups by a single key need nothing: an equality on a unique
index plans as an index probe at any size.

Every message names the database by `location.display` (password hidden) and is scrubbed of
the password too, since libpq may quote a piece of the connection string.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import conninfo

from scraper.archive.location import REDACTED, ArchiveLocation, redact
from scraper.errors import ArchiveError

log = logging.getLogger(__name__)

R = TypeVar("R")
Connection = psycopg.Connection[tuple[Any, ...]]

# How long an operation waits for a server that went away (a restart, a failover, a dropped
# connection) before giving up; the back-off between attempts doubles up to the cap.
DEFAULT_RETRY_FOR = 60.0
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0
CONNECT_TIMEOUT = 10


def password_of(dsn: str) -> str | None:
    """The password written in the connection string, if any (to scrub it from messages)."""
    try:
        secret = conninfo.conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        return None
    return str(secret) if secret else None


def describe_error(location: ArchiveLocation, exc: BaseException) -> str:
    """psycopg's message for `exc`, one line, with the location's password never in it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    secret = password_of(location.path_or_dsn)
    if secret:
        text = text.replace(secret, REDACTED)
    text = text.replace(location.path_or_dsn, location.display)
    return " ".join(redact(word) for word in text.split(" "))


def archive_error(location: ArchiveLocation, doing: str, exc: BaseException) -> ArchiveError:
    return ArchiveError(location.display, f"{doing}: {describe_error(location, exc)}")


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` says the connection or the server went away (or a transaction lost a
    race that a retry wins): worth reconnecting and doing the operation again."""
    return isinstance(exc, psycopg.OperationalError)


class PostgresCore:
    """One connection to the archive's database, made again when it breaks.

    `run(op)` is how everything talks to the database: `op(conn)` runs inside one
    transaction; if the connection breaks (OperationalError) the transaction is lost, so
    `op` is run again on a new connection, after a back-off, for up to `retry_for` seconds.
    Only idempotent operations, or ones that can tell a retry from a first try (the
    frontier's claims adopt what a lost commit leased them), may go through `run`.
    Connecting the first time is not retried: a server never reached is a wrong URL or a
    server that is not running, which the user should hear about at once.
    """

    def __init__(self, location: ArchiveLocation, *, retry_for: float = DEFAULT_RETRY_FOR,
                 connect_timeout: int = CONNECT_TIMEOUT,
                 application_name: str = "scraper") -> None:
        if not location.is_postgres:
            raise ArchiveError(location.display, "not a PostgreSQL URL")
        self.location = location
        self.retry_for = retry_for
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self.reconnects = 0  # how many times a broken connection was replaced
        self._after_reconnect: list[Callable[[Connection], None]] = []
        # Statements run on every new connection (the first, and each after a drop).
        self.session_settings: list[str] = []
        self._lock = threading.RLock()
        self._conn: Connection | None = self._connect()

    @property
    def path(self) -> str:
        return self.location.display

    def _connect(self) -> Connection:
        try:
            return self._open()
        except psycopg.Error as exc:
            raise archive_error(self.location, "cannot connect to the archive database",
                                exc) from None

    def _open(self) -> Connection:
        conn = psycopg.connect(self.location.path_or_dsn, autocommit=True,
                               connect_timeout=self.connect_timeout,
                               application_name=self.application_name)
        try:
            # Times come back in UTC, as the SQLite archive stores them.
            conn.execute("SET TIME ZONE 'UTC'")
            for statement in self.session_settings:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def on_reconnect(self, hook: Callable[[Connection], None]) -> None:
        """Run `hook(conn)` in a transaction on each new connection made after a broken one,
        before the interrupted operation is tried again."""
        self._after_reconnect.append(hook)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The connection inside one transaction, committed when the block ends. Not retried:
        psycopg errors become ArchiveError."""
        with self._lock:
            conn = self._live()
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise archive_error(self.location, "database error", exc) from None

    def run(self, op: Callable[[Connection], R], *, doing: str = "database error",
            pipelined: bool = False, transaction: bool = True) -> R:
        """`op(conn)` in one transaction, retried on a new connection while the server is
        away (see the class docstring); other psycopg errors become ArchiveError.
        `pipelined`: in pipeline mode (an `op` that reads no cursor's rowcount).
        `transaction=False`: each statement commits on its own (the connection is in
        autocommit mode): for an `op` of one statement, one round trip instead of the three
        that BEGIN and COMMIT around it make."""
        deadline = time.monotonic() + self.retry_for
        backoff = FIRST_BACKOFF
        reconnected = False
        with self._lock:
            while True:
                try:
                    conn = self._live()
                    if reconnected:
                        for hook in self._after_reconnect:
                            with conn.transaction():
                                hook(conn)
                        reconnected = False
                    with contextlib.ExitStack() as stack:
                        if pipelined:
                            stack.enter_context(conn.pipeline())
                        if transaction:
                            stack.enter_context(conn.transaction())
                        return op(conn)
                except ArchiveError:
                    raise
                except psycopg.Error as exc:
                    if not is_transient(exc):
                        raise archive_error(self.location, doing, exc) from None
                    if time.monotonic() + backoff > deadline:
                        raise ArchiveError(
                            self.location.display,
                            f"{doing}: the database stayed unreachable for "
                            f"{self.retry_for:g} s ({describe_error(self.location, exc)})"
                        ) from None
                    log.warning("%s: %s; retrying in %.2f s", self.location.display,
                                describe_error(self.location, exc), backoff)
                    self._drop()
                    time.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    reconnected = True

    def _live(self) -> Connection:
        """The open connection, made again if it was dropped (errors propagate as psycopg's,
        for run() to retry)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = self._open()
            self.reconnects += 1
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
