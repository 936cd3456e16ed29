"""Archive.open: the one place that knows the backends, and picks one from the location."""

from __future__ import annotations

import os

from scraper.archive.blobs import DEFAULT_FULL_COPY_EVERY
from scraper.archive.location import ArchiveLocation, parse_archive_location
from scraper.archive.protocol import ArchiveBackend
from scraper.archive.sqlite import SQLiteArchive


class Archive:
    """Opens archives. What it returns is an ArchiveBackend; nothing above the archive needs
    to know which backend that is."""

    @staticmethod
    def open(location: str | os.PathLike[str] | ArchiveLocation, *, create: bool = True,
             readonly: bool = False,
             full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> ArchiveBackend:
        """Open (and with `create`, make) the archive at `location`, upgrading an older schema.

        :param location: a SQLite file path, a postgresql:// URL, or either already read
            (scraper.archive.location).

        Raises ConfigError for a location that is neither (naming the `archive` key), and
        ArchiveError naming the archive when it cannot be opened as asked (see the backend's
        open: SQLiteArchive.open, PostgresArchive.open); SchemaVersionError for a schema newer than this release.
        """
        where = (location if isinstance(location, ArchiveLocation)
                 else parse_archive_location(os.fspath(location)))
        if where.is_postgres:
            # Imported here: commands on SQLite archives need not load psycopg.
            from scraper.archive.postgres.archive import PostgresArchive

            return PostgresArchive.open(where, create=create, readonly=readonly,
                                        full_copy_every=full_copy_every)
        return SQLiteArchive.open(where.path_or_dsn, create=create, readonly=readonly,
                                  full_copy_every=full_copy_every)

    @staticmethod
    def memory(*, full_copy_every: int = DEFAULT_FULL_COPY_EVERY) -> ArchiveBackend:
        """A throwaway archive in memory, for tests (an SQLite one)."""
        return SQLiteArchive.memory(full_copy_every=full_copy_every)
