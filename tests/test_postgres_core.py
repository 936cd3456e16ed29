"""The PostgreSQL archive's connection: errors name the database without its password, and a
dropped connection or a server restart is survived by reconnecting."""

from __future__ import annotations

import pytest
from postgres_harness import PostgresServer, free_port

from scraper.archive.location import parse_archive_location
from scraper.archive.postgres.core import PostgresCore
from scraper.errors import ArchiveError


def test_a_wrong_port_is_reported_at_once_without_the_password(
        postgres_server: PostgresServer) -> None:
    url = f"postgresql://scraper:Sup3rSecret@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(ArchiveError) as caught:
        PostgresCore(parse_archive_location(url), retry_for=30, connect_timeout=2)
    message = str(caught.value)
    assert "Sup3rSecret" not in message
    assert message.startswith("postgresql://scraper:***@127.0.0.1:")
    assert "cannot connect" in message


def test_a_wrong_database_is_named_and_the_password_hidden(
        postgres_server: PostgresServer) -> None:
    url = (f"postgresql://postgres:Sup3rSecret@127.0.0.1:{postgres_server.port}/no_such_db"
           "?sslpassword=Sup3rSecret")
    with pytest.raises(ArchiveError, match="no_such_db") as caught:
        PostgresCore(parse_archive_location(url))
    assert "Sup3rSecret" not in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_an_sql_error_is_an_archive_error_naming_the_database(postgres_url: str) -> None:
    core = PostgresCore(parse_archive_location(postgres_url.replace("postgres@",
                                                                    "postgres:pw123@")))
    try:
        with pytest.raises(ArchiveError, match=r"postgres:\*\*\*@.*reading: .*no_such_table"):
            core.run(lambda conn: conn.execute("SELECT * FROM no_such_table").fetchall(),
                     doing="reading")
        assert core.run(lambda conn: conn.execute("SELECT 1").fetchone()) == (1,)
    finally:
        core.close()


def test_operations_go_on_after_a_server_restart(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    core = PostgresCore(parse_archive_location(postgres_url), retry_for=60)
    try:
        core.run(lambda conn: conn.execute("CREATE TABLE t (n int)"))
        core.run(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
        postgres_server.restart()
        core.run(lambda conn: conn.execute("INSERT INTO t VALUES (2)"))
        assert core.reconnects == 1
        assert core.run(lambda conn: conn.execute("SELECT n FROM t ORDER BY n").fetchall()) \
            == [(1,), (2,)]
    finally:
        core.close()


def test_a_server_that_stays_away_is_reported_after_the_retry_time(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    location = parse_archive_location(postgres_url.replace("postgres@", "postgres:pw123@"))
    core = PostgresCore(location, retry_for=1.0, connect_timeout=1)
    try:
        postgres_server.stop()
        with pytest.raises(ArchiveError, match="stayed unreachable for 1 s") as caught:
            core.run(lambda conn: conn.execute("SELECT 1").fetchone(), doing="probing")
        assert "pw123" not in str(caught.value)
    finally:
        core.close()
        postgres_server.start()
