"""A throwaway real PostgreSQL server on loopback, for tests.

How it works:

- `PostgresServer.create()` makes a temp folder (in /tmp, owned by the user the server runs
  as), runs `initdb` into `<folder>/data` and starts the cluster with `pg_ctl` on a free port
  of 127.0.0.1 only, its unix socket inside the folder, trust authentication, and the
  settings that make a test server fast (fsync and full_page_writes off).
  PostgreSQL refuses to run as root, so when the tests run as root `initdb` and `pg_ctl` run
  as the `postgres` system user (Debian's package creates it).
- `stop()` stops exactly this cluster (`pg_ctl stop -D <its data folder>`, then its own
  postmaster PID if that did not work); `destroy()` stops it and removes the folder. The
  Debian package's own cluster (15/main on port 5432) is never touched.
- The server programs are looked for in SCRAPER_PG_BIN when set, then on PATH, then in
  Debian's versioned folders /usr/lib/postgresql/<version>/bin (the newest first), which are
  not on PATH. SCRAPER_HIDE_SYSTEM_PACKAGES=1 skips that last place, so that with the
  programs also left off PATH the tests see a machine without PostgreSQL (.ci/run's first
  phase).

Pytest fixtures (registered in tests/conftest.py):

- `postgres_server` (session): the running server, a `PostgresServer`: `host`, `port`,
  `user`, `url(dbname)`, `create_database`/`drop_database`, `execute`/`connect` (psycopg),
  `stop()`/`start()`/`restart()` for tests that take the server away mid-run. A test that
  stops it should start it again; `postgres_url` starts it if a test did not.
- `postgres_url` (function): the URL of a fresh empty database (`test_<n>`), dropped after
  the test.

When the programs or psycopg are missing the tests are skipped with the reason and the
install command; with CI=true they fail instead.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

PG_ROOT = Path(os.environ.get("SCRAPER_PG_ROOT", "/usr/lib/postgresql"))
INSTALL_COMMAND = "sudo apt-get install -y postgresql"
PIP_COMMAND = ".venv/bin/pip install -e '.[test]'"
SERVER_USER = "postgres"  # the system user the server runs as when the tests run as root
SUPERUSER = "postgres"  # the database superuser initdb creates
HOST = "127.0.0.1"
PROGRAMS = ("initdb", "pg_ctl")

# A server for tests: losing data when the machine crashes is fine, waiting for the disk is
# not. synchronous_commit stays on: without fsync it costs only a write() per commit, and with
# it a commit the server acknowledged survives a crash of the server (stop("immediate"),
# SIGKILL), as in production, which tests of workers surviving a restart rely on.
TEST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "max_connections": "200",  # several worker processes, each with a pool
    "jit": "off",  # JIT compiling costs more than it saves on test-sized queries
    "timezone": "UTC",
    "log_timezone": "UTC",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


class HarnessError(RuntimeError):
    """initdb, pg_ctl or the server failed; the message carries their output."""


# --- availability -----------------------------------------------------------------------------

def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def in_ci() -> bool:
    return _truthy("CI")


def _has_programs(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) and (folder / name).is_file()
               for name in PROGRAMS)


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.name)) or (0,)


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None (see the module docstring for where)."""
    explicit = os.environ.get("SCRAPER_PG_BIN")
    if explicit:
        return Path(explicit) if _has_programs(Path(explicit)) else None
    on_path = shutil.which("initdb")
    if on_path is not None and _has_programs(Path(on_path).parent):
        return Path(on_path).parent
    if _truthy("SCRAPER_HIDE_SYSTEM_PACKAGES"):
        return None
    try:
        versions = sorted((d for d in PG_ROOT.iterdir() if d.is_dir()), key=_version_key,
                          reverse=True)
    except OSError:
        return None
    for version in versions:
        if _has_programs(version / "bin"):
            return version / "bin"
    return None


def missing_reason() -> str | None:
    """Why the real-PostgreSQL tests cannot run here (with the command that fixes it), or
    None when everything is present."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return f"psycopg is not installed (install the test extra: `{PIP_COMMAND}`)"
    if find_bin_dir() is None:
        where = (f"SCRAPER_PG_BIN={os.environ['SCRAPER_PG_BIN']}"
                 if os.environ.get("SCRAPER_PG_BIN") else f"on PATH or in {PG_ROOT}/*/bin")
        return (f"PostgreSQL's server programs ({', '.join(PROGRAMS)}) were not found {where}; "
                f"install them with `{INSTALL_COMMAND}` (Debian 12: PostgreSQL 15)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return (f"the tests run as root, which PostgreSQL refuses, and there is no "
                    f"`{SERVER_USER}` system user to run it as; `{INSTALL_COMMAND}` creates it")
    return None


def require_postgres() -> None:
    """Skips the calling test (or fails it under CI=true) when PostgreSQL cannot run here."""
    reason = missing_reason()
    if reason is None:
        return
    message = f"real-PostgreSQL tests need PostgreSQL and psycopg: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- the server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def process_running(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2:][:1] not in ("Z", "X", "")


@dataclass(frozen=True, slots=True)
class _RunAs:
    """Whom initdb, pg_ctl and the server run as: this process's user, or `postgres`."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_this_process(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls()
        entry = pwd.getpwnam(SERVER_USER)
        return cls(entry.pw_uid, entry.pw_gid)

    def popen_options(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


FOLDER_PREFIX = "scraper-pg-"
OWNER_FILE = "owner.pid"  # the PID of the process (a test session) that made the cluster


def reap_orphans(parent: Path | None = None) -> list[Path]:
    """Stops the servers and removes the folders of clusters whose test session died
    without cleaning up (SIGKILL, a CI job cancelled): those whose owner process is gone.
    A cluster with a live owner, or without an owner file, is never touched."""
    reaped = []
    for folder in sorted(Path(parent or tempfile.gettempdir()).glob(FOLDER_PREFIX + "*")):
        try:
            owner = int((folder / OWNER_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if process_running(owner):
            continue
        try:
            first = (folder / "data" / "postmaster.pid").read_text().split("\n", 1)[0]
            postmaster = int(first)
        except (OSError, ValueError):
            postmaster = None
        if postmaster is not None and process_running(postmaster):
            # SIGQUIT: the postmaster's immediate shutdown; its children follow it.
            os.kill(postmaster, signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while process_running(postmaster) and time.monotonic() < deadline:
                time.sleep(0.02)
            if process_running(postmaster):
                os.kill(postmaster, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        reaped.append(folder)
    return reaped


class PostgresServer:
    """One throwaway cluster in its own temp folder, and the server serving it."""

    def __init__(self, folder: Path, bin_dir: Path, port: int, *,
                 settings: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.bin_dir = bin_dir
        self.port = port
        self.host = HOST
        self.user = SUPERUSER
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.init_seconds = 0.0  # initdb
        self.start_seconds = 0.0  # the first start
        self._run_as = _RunAs.for_this_process()
        self._pid: int | None = None
        self._databases = itertools.count(1)

    # paths
    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while this object's server runs."""
        return self._pid if self._pid is not None and process_running(self._pid) else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # making one
    @classmethod
    def create(cls, *, bin_dir: Path | None = None, settings: dict[str, str] | None = None,
               parent: Path | None = None) -> PostgresServer:
        """Makes a new cluster in a new folder of `parent` (default: the system's temp folder)
        and starts it. If anything fails, what was started is stopped and the folder removed
        before the error is raised."""
        bin_dir = bin_dir or find_bin_dir()
        if bin_dir is None:
            raise HarnessError(missing_reason() or "PostgreSQL's programs were not found")
        reap_orphans(parent)
        # In /tmp, not pytest's tmp_path: pytest's base folder is private to the user running
        # the tests (0700), so the postgres user could not reach a cluster inside it.
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent))
        (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        server = cls(folder, bin_dir, free_port(), settings=settings)
        try:
            server._initdb()
            started = time.monotonic()
            server._start_on_a_free_port()
            server.start_seconds = time.monotonic() - started
        except BaseException:
            server.destroy()
            raise
        return server

    def _initdb(self) -> None:
        self.folder.chmod(0o700)
        self._run_as.own(self.folder)
        self.socket_dir.mkdir()
        self._run_as.own(self.socket_dir)
        started = time.monotonic()
        self._run([self.bin_dir / "initdb", "-D", self.data_dir, "-U", SUPERUSER,
                   "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync",
                   "--no-instructions"], timeout=120)
        self.init_seconds = time.monotonic() - started
        # Only loopback, and trust there: a throwaway server that nothing else can reach.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("local all all trust\n"
                       "host all all 127.0.0.1/32 trust\n")
        self._run_as.own(hba)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\ninclude 'scraper_harness.conf'\n")
        self._write_settings()

    def _write_settings(self) -> None:
        values = {**self.settings, "port": str(self.port), "listen_addresses": HOST,
                  "unix_socket_directories": str(self.socket_dir)}
        lines = [f"{key} = '{value}'" for key, value in values.items()]
        path = self.data_dir / "scraper_harness.conf"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._run_as.own(path)

    def _start_on_a_free_port(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                self.start()
                return
            except HarnessError:
                # Another process may have taken the port between free_port() and the bind.
                if attempt + 1 == attempts or "could not bind" not in self._log_tail():
                    raise
                self.port = free_port()
                self._write_settings()

    # process
    def start(self, timeout: float = 30.0) -> None:
        """Starts the server (on the same port) and waits until it accepts connections."""
        if self.running:
            return
        self._run([self.bin_dir / "pg_ctl", "start", "-D", self.data_dir, "-l",
                   self.log_path, "-w", "-t", str(int(timeout)), "-s"], timeout=timeout + 10)
        self._pid = self._read_postmaster_pid()
        if self._pid is None:
            raise HarnessError(f"pg_ctl start said the server started but {self.data_dir}"
                               f"/postmaster.pid names none:\n{self._log_tail()}")

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stops this server: `fast` ends the sessions cleanly, `immediate` is a crash (the
        next start recovers). Nothing else is stopped: pg_ctl finds the server by this
        cluster's data folder, and the last resort kills only its own postmaster PID."""
        pid = self.pid
        if pid is None:
            self._pid = None
            return
        for how in dict.fromkeys((mode, "immediate")):
            try:
                self._run([self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", how,
                           "-w", "-t", str(int(timeout)), "-s"], timeout=timeout + 10)
            except (HarnessError, subprocess.TimeoutExpired):
                continue
            if not process_running(pid):
                break
        if process_running(pid):
            os.kill(pid, signal.SIGKILL)  # the postmaster this object started; its children
            deadline = time.monotonic() + 10  # end when they see it gone
            while process_running(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._pid = None

    def restart(self, mode: str = "fast") -> None:
        """Stops and starts the server on the same port: open connections are cut, new ones
        work (as after a database restart in production)."""
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        """Stops the server and removes its folder. Safe to call more than once."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _read_postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        return int(first) if first.strip().isdigit() else None

    def _run(self, cmd: Sequence[str | Path], *, timeout: float) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C",
               "TZ": "UTC", "HOME": str(self.folder)}
        proc = subprocess.run([str(part) for part in cmd], capture_output=True, text=True,
                              cwd=self.folder, env=env, timeout=timeout, check=False,
                              **self._run_as.popen_options())
        if proc.returncode != 0:
            raise HarnessError(f"{Path(cmd[0]).name} {' '.join(str(c) for c in cmd[1:3])} "
                               f"failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                               f"{proc.stderr[-2000:]}\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    # addresses and SQL
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", *, autocommit: bool = True,
                **options: Any) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=autocommit, connect_timeout=10,
                               **options)

    def execute(self, query: Any, params: Sequence[Any] | None = None, *,
                dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Runs one statement on a new connection (autocommit); the rows, if it returns any."""
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    def create_database(self, name: str) -> None:
        from psycopg import sql

        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drops a database, cutting any connection still open to it."""
        from psycopg import sql

        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))

    def databases(self) -> list[str]:
        return [row[0] for row in self.execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname")]

    def new_database(self) -> str:
        """Creates an empty database with a name not used before in this session."""
        name = f"test_{next(self._databases)}"
        self.create_database(name)
        return name

    @property
    def version(self) -> str:
        return str(self.execute("SHOW server_version")[0][0])


# --- pytest fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running throwaway PostgreSQL for the whole session, stopped and removed at its end."""
    require_postgres()
    server = PostgresServer.create()
    # Should the session end without running fixture finalizers, the server still goes.
    atexit.register(server.destroy)
    print(f"\npostgres harness: PostgreSQL {server.version} on {server.host}:{server.port}, "
          f"initdb {server.init_seconds:.2f} s + start {server.start_seconds:.2f} s",
          file=sys.stderr)
    try:
        yield server
    finally:
        server.destroy()
        atexit.unregister(server.destroy)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database on the session's server, dropped after the test."""
    postgres_server.start()  # a no-op unless an earlier test left the server stopped
    name = postgres_server.new_database()
    try:
        yield postgres_server.url(name)
    finally:
        if postgres_server.running:
            postgres_server.drop_database(name)
