"""The throwaway PostgreSQL server of tests/postgres_harness.py, tested on a real server."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import postgres_harness
import psycopg
import pytest
from postgres_harness import HarnessError, PostgresServer

TESTS_DIR = Path(__file__).resolve().parent


# --- the session's server and a test's database -----------------------------------------------

def test_a_test_gets_a_fresh_empty_database_that_psycopg_reaches_by_its_url(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        dbname, user = conn.execute("SELECT current_database(), current_user").fetchone() or ()
        tables = conn.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = 'public'").fetchone()
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'one')")
    assert postgres_url == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{dbname}"
    assert dbname.startswith("test_") and user == "postgres"
    assert tables == (0,)
    assert postgres_server.execute("SELECT v FROM t", dbname=dbname) == [("one",)]


def test_the_server_listens_on_127_0_0_1_only_with_its_socket_in_its_folder(
        postgres_server: PostgresServer) -> None:
    settings = dict(postgres_server.execute(
        "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
        (["listen_addresses", "unix_socket_directories", "fsync", "port", "data_directory"],)))
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["port"] == str(postgres_server.port)
    assert settings["unix_socket_directories"] == str(postgres_server.socket_dir)
    assert Path(settings["data_directory"]) == postgres_server.data_dir
    assert settings["fsync"] == "off"
    assert str(postgres_server.folder).startswith(tempfile.gettempdir())
    # Another loopback address on the same port has nobody listening.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", postgres_server.port), timeout=2).close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only as root is the server run as postgres")
def test_as_root_the_server_runs_as_the_postgres_user(postgres_server: PostgresServer) -> None:
    pid = postgres_server.pid
    assert pid is not None
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    assert uid == pwd.getpwnam("postgres").pw_uid
    assert postgres_server.data_dir.stat().st_uid == uid


def test_drop_database_cuts_connections_still_open(postgres_server: PostgresServer) -> None:
    name = postgres_server.new_database()
    conn = psycopg.connect(postgres_server.url(name), autocommit=True)
    try:
        postgres_server.drop_database(name)
        assert name not in postgres_server.databases()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()


# --- restarts ---------------------------------------------------------------------------------

def test_after_a_restart_open_connections_are_cut_and_new_ones_work(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    old_pid, port = postgres_server.pid, postgres_server.port
    conn = psycopg.connect(postgres_url, autocommit=True)
    try:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('before the restart')")
        postgres_server.restart()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    assert postgres_server.port == port
    assert postgres_server.pid not in (None, old_pid)
    with psycopg.connect(postgres_url) as fresh:
        assert fresh.execute("SELECT v FROM kept").fetchall() == [("before the restart",)]


def test_a_stopped_server_refuses_connections_until_started_again(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE acknowledged (v int)")
        conn.execute("INSERT INTO acknowledged VALUES (1)")
    # `immediate` is a crash of the server: what it acknowledged is still there afterwards.
    postgres_server.stop("immediate")
    try:
        assert not postgres_server.running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(postgres_url, connect_timeout=2).close()
        postgres_server.stop()  # stopping a stopped server is nothing
    finally:
        postgres_server.start()
    assert postgres_server.running
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT v FROM acknowledged").fetchall() == [(1,)]


# --- a server of its own: the end of a session, failures ---------------------------------------

def test_a_session_drops_each_test_database_and_removes_its_server_even_after_a_failure(
        tmp_path: Path) -> None:
    # A pytest session of its own, so that its end can be watched: the second test sees
    # neither the first's database nor its table; after the session (whose last test fails)
    # the server is gone, its port closed and its folder removed.
    postgres_harness.require_postgres()
    result = _run_inner_pytest(tmp_path, """
        import psycopg

        def test_one(postgres_url):
            with psycopg.connect(postgres_url) as conn:
                conn.execute("CREATE TABLE left_behind (id int)")
            record(first=postgres_url.rsplit("/", 1)[1])

        def test_two(postgres_server, postgres_url):
            record(second=postgres_url.rsplit("/", 1)[1], databases=postgres_server.databases())
            with psycopg.connect(postgres_url) as conn:
                assert conn.execute("SELECT to_regclass('left_behind')").fetchone() == (None,)

        def test_three_fails(postgres_server):
            record(folder=str(postgres_server.folder), pid=postgres_server.pid,
                   port=postgres_server.port)
            assert False, "a failing test"
    """)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "1 failed" in result.stdout, result.stdout
    facts = _facts(tmp_path)
    assert facts["first"] != facts["second"]
    assert facts["first"] not in facts["databases"]  # type: ignore[operator]
    assert facts["second"] in facts["databases"]  # type: ignore[operator]
    assert not Path(str(facts["folder"])).exists()
    # Not running; it may be a zombie for a while, until init reaps it.
    assert not postgres_harness.process_running(int(str(facts["pid"])))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(str(facts["port"]))), timeout=2).close()


def test_a_server_that_cannot_start_leaves_no_folder_and_says_why() -> None:
    postgres_harness.require_postgres()
    parent = Path(tempfile.mkdtemp(prefix="scraper-pg-test-"))
    try:
        parent.chmod(0o755)  # the postgres user must reach the cluster's folder inside
        with pytest.raises(HarnessError, match="invalid value for parameter"):
            PostgresServer.create(settings={"shared_buffers": "plenty"}, parent=parent)
        assert list(parent.iterdir()) == []
    finally:
        shutil.rmtree(parent)


def test_a_cluster_whose_session_died_is_stopped_and_removed_by_the_next_one() -> None:
    postgres_harness.require_postgres()
    parent = Path(tempfile.mkdtemp(prefix="scraper-pg-test-"))
    try:
        parent.chmod(0o755)
        orphan = PostgresServer.create(parent=parent)
        alive = PostgresServer.create(parent=parent)
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        (orphan.folder / postgres_harness.OWNER_FILE).write_text(str(gone.pid))
        postmaster = orphan.pid
        assert postmaster is not None
        assert postgres_harness.reap_orphans(parent) == [orphan.folder]
        assert not postgres_harness.process_running(postmaster)
        assert not orphan.folder.exists()
        # A cluster whose session lives (this one) is left alone.
        assert alive.running and alive.folder.exists()
        alive.destroy()
    finally:
        shutil.rmtree(parent)


# --- finding the programs, skipping and failing -----------------------------------------------

def _make_programs(folder: Path, names: tuple[str, ...] = ("initdb", "pg_ctl")) -> None:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)


def test_the_programs_are_found_in_the_newest_versioned_folder_that_has_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make_programs(tmp_path / "9.6" / "bin")
    _make_programs(tmp_path / "15" / "bin")
    _make_programs(tmp_path / "16" / "bin", names=("initdb",))  # half an install
    (tmp_path / "README").write_text("not a version folder")
    monkeypatch.setattr(postgres_harness, "PG_ROOT", tmp_path)
    monkeypatch.setenv("PATH", _path_without_postgres())
    monkeypatch.delenv("SCRAPER_PG_BIN", raising=False)
    monkeypatch.delenv("SCRAPER_HIDE_SYSTEM_PACKAGES", raising=False)
    assert postgres_harness.find_bin_dir() == tmp_path / "15" / "bin"
    # PATH comes before the versioned folders, SCRAPER_PG_BIN before both.
    _make_programs(tmp_path / "on-path")
    monkeypatch.setenv("PATH", f"{tmp_path / 'on-path'}:{_path_without_postgres()}")
    assert postgres_harness.find_bin_dir() == tmp_path / "on-path"
    monkeypatch.setenv("SCRAPER_PG_BIN", str(tmp_path / "9.6" / "bin"))
    assert postgres_harness.find_bin_dir() == tmp_path / "9.6" / "bin"


def test_hiding_system_packages_hides_the_versioned_folders(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_postgres(monkeypatch)
    assert postgres_harness.find_bin_dir() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        postgres_harness.require_postgres()
    assert "`sudo apt-get install -y postgresql`" in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        postgres_harness.require_postgres()
    assert "`sudo apt-get install -y postgresql`" in str(failed.value)


@pytest.mark.parametrize("ci", [None, "true"])
def test_without_postgres_the_fixture_skips_with_the_install_command_or_fails_under_ci(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    _hide_postgres(monkeypatch)
    result = _run_inner_pytest(tmp_path, """
        def test_needs_postgres(postgres_url):
            pass
    """, ci=ci)
    if ci is None:
        assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout
        assert "SKIPPED" in result.stdout
    else:
        assert result.returncode == 1 and "1 error" in result.stdout, result.stdout
    assert "were not found on PATH or in /usr/lib/postgresql/*/bin" in result.stdout
    assert "install them with `sudo apt-get install -y postgresql`" in result.stdout


# --- helpers ----------------------------------------------------------------------------------

def _path_without_postgres() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not (Path(d) / "initdb").exists()
                           and not (Path(d) / "pg_ctl").exists())


def _hide_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    """As .ci/run's first phase: the programs off PATH, the versioned folders hidden."""
    monkeypatch.setenv("PATH", _path_without_postgres())
    monkeypatch.setenv("SCRAPER_HIDE_SYSTEM_PACKAGES", "1")
    monkeypatch.delenv("SCRAPER_PG_BIN", raising=False)


def _run_inner_pytest(folder: Path, tests: str, *, ci: str | None = None
                      ) -> subprocess.CompletedProcess[str]:
    """Runs `tests` in a pytest session of their own (with the harness's fixtures), so that
    a session's start and end can be watched. `record(**facts)` in them writes facts.json."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from postgres_harness import postgres_server, postgres_url  # noqa: F401

        FACTS = Path(__file__).parent / "facts.json"

        def read():
            return json.loads(FACTS.read_text()) if FACTS.exists() else {{}}

        def record(**facts):
            FACTS.write_text(json.dumps({{**read(), **facts}}))
    """))
    (folder / "test_inner.py").write_text("from conftest import read, record\n"
                                          + textwrap.dedent(tests))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False)


def _facts(folder: Path) -> dict[str, object]:
    facts: dict[str, object] = json.loads((folder / "facts.json").read_text())
    return facts


@pytest.fixture(autouse=True)
def _server_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test here that stops the session's server must leave it running for the next."""
    yield
    server = request.node.funcargs.get("postgres_server")
    if isinstance(server, PostgresServer):
        assert server.running, "the test left the session's PostgreSQL server stopped"
