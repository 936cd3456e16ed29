"""The PostgreSQL archive's tables and their versioned migrations.

The tables mirror the SQLite archive's (scraper/archive/sqlite/schema.py, at its version 5):
the same tables, columns and meanings, in PostgreSQL's types:

- keys are `bigint GENERATED ALWAYS AS IDENTITY`;
- points in time are `timestamptz`, not ISO text: leases and host delays are compared with
  the server's clock (`now()`), so that workers on several machines need not agree on theirs,
  and psycopg hands back aware datetimes, which is what the records (Snapshot, FrontierItem)
  hold. Microseconds, as the SQLite archive's text, so a copy between the two loses nothing.
  Times as a remote party wrote them stay text: a wiki's revision timestamp, HTTP's
  Last-Modified;
- flags (gone, keyframe) are boolean;
- JSON values (runs.sites, snapshots.headers, ...) stay text holding the JSON the shared code
  writes: jsonb would reorder keys and respace them, and a copied archive must compare equal;
- blob data is bytea;
- full-text search is a tsvector column on pages with a GIN index, in place of FTS5. The
  `simple` configuration: wikis come in every language, and stemming in the wrong one finds
  less than none. Since version 3 a trigger fills it (see V3_SEARCH_TRIGGER);
- links are one table: the SQLite archive's links_recent/links_settled split works around
  the cost of SQLite's index writes and is not needed here; the views keep their names.

Version 2 adds what workers sharing one archive need: `workers`, the frontier's lease
columns, `hosts` (per-host politeness and robots.txt) and `host_slots` (who holds a host's
slots, so that a dead worker's can be given back).

Version 3 makes the search column cheaper to keep: a trigger fills it from the title, the
summary and the first SEARCH_TEXT_CHARS characters of the text, and only when one of the
three changed.

Migrations run in one transaction under a transaction-level advisory lock: N workers
opening a fresh database at once migrate it once; the others wait, then find it done.
Never edit a shipped step: add a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scraper.archive.postgres.core import Connection, PostgresCore
from scraper.errors import ArchiveError, SchemaVersionError

# pg_advisory_xact_lock's key for migrating: any bigint that no other tool on the database
# uses; these are the bytes of "scraper!" read as a big-endian integer.
MIGRATION_LOCK_KEY = int.from_bytes(b"scraper!", "big")

V1_TABLES = """
CREATE TABLE runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    status text NOT NULL DEFAULT 'running',
    sites text NOT NULL DEFAULT '[]',
    config text NOT NULL DEFAULT '{}',
    fetched bigint NOT NULL DEFAULT 0,
    new_versions bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    not_modified bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    retried bigint NOT NULL DEFAULT 0,
    queued bigint NOT NULL DEFAULT 0,
    elapsed_s double precision NOT NULL DEFAULT 0,
    alerts text NOT NULL DEFAULT '[]',
    extra text NOT NULL DEFAULT '{}'
);
CREATE TABLE blobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash text NOT NULL UNIQUE,
    kind text NOT NULL,
    size bigint NOT NULL,
    stored_size bigint NOT NULL,
    base text REFERENCES blobs(hash),
    depth integer NOT NULL,
    keyframe boolean NOT NULL,
    created_at timestamptz NOT NULL,
    data bytea NOT NULL
);
CREATE TABLE pages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url text NOT NULL UNIQUE,
    site text NOT NULL,
    kind text NOT NULL DEFAULT 'other',
    title text NOT NULL DEFAULT '',
    summary text NOT NULL DEFAULT '',
    text text NOT NULL DEFAULT '',
    first_seen timestamptz NOT NULL,
    last_fetched timestamptz NOT NULL,
    last_changed timestamptz NOT NULL,
    current_version integer NOT NULL,
    seen_count bigint NOT NULL DEFAULT 1,
    not_modified_count bigint NOT NULL DEFAULT 0,
    gone boolean NOT NULL DEFAULT false,
    gone_at timestamptz,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A')
        || setweight(to_tsvector('simple'::regconfig, summary), 'B')
        || setweight(to_tsvector('simple'::regconfig, text), 'C')) STORED
);
CREATE INDEX pages_site_url ON pages(site, url);
CREATE INDEX pages_first_seen ON pages(first_seen);
CREATE INDEX pages_search ON pages USING gin (search);
CREATE TABLE snapshots (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id bigint NOT NULL REFERENCES pages(id),
    version integer NOT NULL,
    run_id bigint REFERENCES runs(id),
    fetched_at timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    seen_count bigint NOT NULL DEFAULT 1,
    status integer NOT NULL,
    final_url text,
    etag text,
    last_modified text,
    revision_id bigint,
    revision_timestamp text,
    revision_user text,
    revision_comment text,
    kind text NOT NULL,
    title text NOT NULL,
    summary text NOT NULL,
    image text,
    categories text NOT NULL DEFAULT '[]',
    infobox text NOT NULL DEFAULT '[]',
    text_length bigint NOT NULL DEFAULT 0,
    link_count integer NOT NULL DEFAULT 0,
    entry_count integer NOT NULL DEFAULT 0,
    parser text NOT NULL DEFAULT '',
    parser_version text NOT NULL DEFAULT '',
    content_hash text NOT NULL,
    body_hash text NOT NULL REFERENCES blobs(hash),
    body_size bigint NOT NULL,
    fields_hash text NOT NULL REFERENCES blobs(hash),
    headers text NOT NULL DEFAULT '[]',
    change_gist text NOT NULL DEFAULT '',
    summary_truncated boolean,
    related text,
    UNIQUE (page_id, version)
);
CREATE INDEX snapshots_fetched_at ON snapshots(fetched_at);
CREATE INDEX snapshots_run ON snapshots(run_id);
CREATE INDEX snapshots_revision ON snapshots(page_id, revision_id);
CREATE TABLE links (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_id bigint NOT NULL REFERENCES pages(id),
    target text NOT NULL,
    kind text NOT NULL,
    anchor text NOT NULL DEFAULT '',
    from_version integer NOT NULL,
    to_version integer
);
CREATE INDEX links_target ON links(target, to_version);
CREATE INDEX links_page ON links(page_id, to_version);
CREATE TABLE failures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id bigint REFERENCES runs(id),
    site text NOT NULL,
    url text NOT NULL,
    reason text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    status integer,
    gone boolean NOT NULL DEFAULT false,
    at timestamptz NOT NULL
);
CREATE INDEX failures_url ON failures(url);
CREATE INDEX failures_run ON failures(run_id);
CREATE TABLE skips (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id bigint REFERENCES runs(id),
    site text NOT NULL,
    url text NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX skips_run ON skips(run_id);
CREATE TABLE frontier (
    url text PRIMARY KEY,
    site text NOT NULL,
    depth integer NOT NULL DEFAULT 0,
    discovered_from text,
    link_kind text,
    added_at timestamptz NOT NULL,
    next_due timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    fetch_count integer NOT NULL DEFAULT 0,
    last_fetched timestamptz,
    last_status integer,
    etag text,
    last_modified text,
    page_id bigint REFERENCES pages(id),
    gone boolean NOT NULL DEFAULT false
);
CREATE INDEX frontier_due ON frontier(site, (fetch_count > 0), next_due);
CREATE VIEW page_versions AS
    SELECT p.url, p.site, s.version, s.fetched_at, s.last_seen, s.seen_count, s.status,
           s.revision_id, s.revision_timestamp, s.revision_user, s.revision_comment,
           s.title, s.summary, s.change_gist, s.content_hash, s.body_hash, s.body_size,
           s.run_id, s.id AS snapshot_id
    FROM snapshots s JOIN pages p ON p.id = s.page_id;
CREATE VIEW current_links AS
    SELECT p.url AS source, p.site, l.target, l.kind, l.anchor, l.from_version AS since_version
    FROM links l JOIN pages p ON p.id = l.page_id
    WHERE l.to_version IS NULL;
CREATE VIEW snapshot_links AS
    SELECT s.id AS snapshot_id, p.url AS source, s.version, l.target, l.kind, l.anchor
    FROM links l
    JOIN pages p ON p.id = l.page_id
    JOIN snapshots s ON s.page_id = l.page_id AND s.version >= l.from_version
        AND (l.to_version IS NULL OR s.version <= l.to_version);
"""

# Version 2: what workers sharing the archive need. A frontier row is leased by one worker
# until lease_until; a host's politeness state is one row updated atomically.
V2_SHARED_CRAWL = """
CREATE TABLE workers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz
);
ALTER TABLE frontier
    ADD COLUMN leased_by bigint REFERENCES workers(id),
    ADD COLUMN lease_until timestamptz;
CREATE INDEX frontier_leased_by ON frontier(leased_by) WHERE leased_by IS NOT NULL;
CREATE TABLE hosts (
    host text PRIMARY KEY,
    next_allowed_at timestamptz NOT NULL DEFAULT '-infinity',
    in_flight integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    robots_txt text,
    robots_status integer,
    robots_fetched_at timestamptz
);
CREATE TABLE host_slots (
    host text NOT NULL REFERENCES hosts(host),
    worker_id bigint NOT NULL REFERENCES workers(id),
    held integer NOT NULL CHECK (held >= 0),
    PRIMARY KEY (host, worker_id)
);
"""

# The characters of a page's text that search indexes (its title and summary are indexed
# whole). Parsing text into a tsvector costs the server ~0.1 ms of CPU per KB, whatever the
# GIN index does: a Wikipedia article's ~60 KB of text took ~6 ms per stored page, more than
# the rest of a save together, and the crawl benchmark's pages (19 KB of text) 1.8 ms of the
# server's 5.5 ms per page. The first 8 K characters hold the lead and the first sections,
# where a page says what it is about. What search loses is the words that occur only further
# down: on the long Wikipedia articles of the test corpus (52-62 K characters of text), ~80%
# of their distinct words. The SQLite archive's FTS5 index takes the whole text.
SEARCH_TEXT_CHARS = 8192

# Version 3: `search` stops being a generated column, which PostgreSQL computes again on every
# UPDATE that sets title, summary or text (the save path sets all three for each new version,
# also when a version changed only links or fields), and becomes a column a trigger fills:
# on INSERT, and on an UPDATE that changes the title, the summary or the text (IS DISTINCT
# FROM; comparing costs a read of the old text, ~1/50 of parsing it). The trigger leaves NEW
# as it came when nothing changed, so the row keeps the tsvector it had, toast pointer and
# all. Rows already stored keep their vectors (computed from the whole text) until their page
# changes: no rewrite of the table under the migration's lock. DROP EXPRESSION changes the
# catalog only.
# The page's text and its vector are compressed with lz4 rather than pglz when TOASTed: on
# the crawl benchmark's pages an INSERT of a page row then cost the server 0.72 ms of CPU
# instead of 0.87, and lz4 reads back faster too. Values already stored stay as they are. A
# server built without lz4 refuses the method (feature_not_supported) and keeps pglz.
V3_SEARCH_TRIGGER = f"""
ALTER TABLE pages ALTER COLUMN search DROP EXPRESSION;
DO $$
BEGIN
    ALTER TABLE pages ALTER COLUMN text SET COMPRESSION lz4,
        ALTER COLUMN search SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
CREATE FUNCTION pages_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.title IS DISTINCT FROM OLD.title
            OR NEW.summary IS DISTINCT FROM OLD.summary OR NEW.text IS DISTINCT FROM OLD.text
    THEN
        NEW.search := setweight(to_tsvector('simple'::regconfig, NEW.title), 'A')
            || setweight(to_tsvector('simple'::regconfig, NEW.summary), 'B')
            || setweight(to_tsvector('simple'::regconfig,
                                     left(NEW.text, {SEARCH_TEXT_CHARS})), 'C');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER pages_search BEFORE INSERT OR UPDATE OF title, summary, text ON pages
    FOR EACH ROW EXECUTE FUNCTION pages_search_vector();
"""

# Version 4: a run that several workers share. Each worker's part of a run is a run_workers
# row with its own counts; the runs row adds them up and ends with the last part. A host's
# robots.txt fetch is taken by one worker (robots_claimed_*), the others wait for its copy.
V4_WORKER_RUNS = """
CREATE TABLE run_workers (
    run_id bigint NOT NULL REFERENCES runs(id),
    worker_id bigint NOT NULL REFERENCES workers(id),
    joined_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    status text,
    fetched bigint NOT NULL DEFAULT 0,
    new_versions bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    not_modified bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    retried bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, worker_id)
);
CREATE INDEX run_workers_worker ON run_workers(worker_id);
ALTER TABLE hosts
    ADD COLUMN robots_claimed_by bigint,
    ADD COLUMN robots_claimed_until timestamptz;
"""


# Version 5: the notification outbox (issue 19), as the SQLite archive's version 6: changes
# queued by the write that makes them, the targets seen and one delivery row per target and
# change (scraper/watch/ sends them).
V5_NOTIFY_OUTBOX = """
CREATE TABLE notify_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site text NOT NULL,
    url text NOT NULL,
    event text NOT NULL,
    version integer,
    run_id bigint,
    at timestamptz NOT NULL,
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX notify_outbox_site ON notify_outbox(site, id);
CREATE TABLE notify_targets (
    site text NOT NULL,
    target text NOT NULL,
    label text NOT NULL,
    since_id bigint NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (site, target)
);
CREATE TABLE notify_deliveries (
    target text NOT NULL,
    change_id bigint NOT NULL REFERENCES notify_outbox(id),
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt timestamptz,
    last_error text,
    sent_at timestamptz,
    PRIMARY KEY (target, change_id)
);
"""


# Version 6: links.page_id is no longer a foreign key. Only a save writes links rows, in the
# transaction that writes or locks their page, so the key guarded nothing; but it checked
# each of a page's ~90 rows against pages, one nested query each: 0.6 of the server's 6.4 ms
# per stored page on the crawl benchmark (pg_stat_statements). snapshots keep theirs (one
# row per version).
V6_LINKS_UNCHECKED = """
ALTER TABLE links DROP CONSTRAINT IF EXISTS links_page_id_fkey;
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", V1_TABLES),
    Migration(2, "shared_crawl", V2_SHARED_CRAWL),
    Migration(3, "search_trigger", V3_SEARCH_TRIGGER),
    Migration(4, "worker_runs", V4_WORKER_RUNS),
    Migration(5, "notify_outbox", V5_NOTIFY_OUTBOX),
    Migration(6, "links_unchecked", V6_LINKS_UNCHECKED),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0: none, a fresh database)."""
    # pg_tables, not to_regclass(): a catalog read with this statement's snapshot. to_regclass
    # goes through the backend's catalog cache, which may still say "no such table" after
    # another worker's migration committed while this one waited on the advisory lock.
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname ="
                       " current_schema() AND tablename = 'schema_version')").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(found[0]) if found else 0


def recorded_versions(conn: Connection) -> set[int]:
    """The versions of the migrations recorded in the database (none: a fresh database)."""
    if current_version(conn) == 0:
        return set()
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_version")}


def _pending(recorded: set[int], target: int) -> list[Migration]:
    # By what is recorded, not by the highest version: steps 3 and 4 were written side by
    # side, and an archive made while 4 existed without 3 must still get 3.
    return [step for step in MIGRATIONS if step.version <= target
            and step.version not in recorded]


def _user_tables(conn: Connection) -> list[str]:
    return [str(row[0]) for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]


def _check_version(version: int, where: str) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            where, f"the archive has schema version {version}, newer than this release "
                   f"understands ({SCHEMA_VERSION}); upgrade scraper to open it")


def migrate(core: PostgresCore, *, target: int = SCHEMA_VERSION,
            on_step: Callable[[Migration], None] | None = None) -> list[str]:
    """Bring the database's schema up to `target`; returns the names of the steps run here.

    A step is pending when its version is not recorded (see _pending). All pending steps and
    their schema_version rows commit together or not at all. The usual case (up to date)
    reads the recorded versions and takes no lock. `on_step` is called inside the
    transaction before each step (tests use it to see who migrated).
    """
    if not 1 <= target <= SCHEMA_VERSION:
        raise ValueError(f"target schema version {target} is not one of 1..{SCHEMA_VERSION}")
    where = core.path

    def read_versions(conn: Connection) -> set[int]:
        return recorded_versions(conn)

    recorded = core.run(read_versions, doing="reading the schema version")
    _check_version(max(recorded, default=0), where)
    if not _pending(recorded, target):
        return []

    def upgrade(conn: Connection) -> list[str]:
        # Held until the transaction ends: a second worker waits here, then reads the
        # version the first one committed.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        current = current_version(conn)
        _check_version(current, where)
        if current == 0:
            foreign = [name for name in _user_tables(conn) if name != "schema_version"]
            if foreign:
                shown = ", ".join(foreign[:5])
                raise ArchiveError(where, f"the database holds tables but no scraper schema "
                                          f"version (tables: {shown}): not a scraper archive; "
                                          "give an empty database")
            conn.execute(SCHEMA_VERSION_TABLE)
        done: list[str] = []
        for step in _pending(recorded_versions(conn), target):
            if on_step is not None:
                on_step(step)
            conn.execute(step.sql)
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                         (step.version, step.name))
            done.append(f"{step.version:03d}_{step.name}")
        return done

    # Idempotent under retry: a lost commit leaves the version recorded, and the retry
    # finds nothing to do.
    return core.run(upgrade, doing="migrating the archive schema")


def applied_steps(core: PostgresCore) -> list[tuple[int, str]]:
    """(version, name) of every migration recorded, oldest first."""

    def read(conn: Connection) -> list[tuple[int, str]]:
        if current_version(conn) == 0:
            return []
        return [(int(v), str(n)) for v, n in conn.execute(
            "SELECT version, name FROM schema_version ORDER BY version")]

    return core.run(read, doing="reading the schema version")
