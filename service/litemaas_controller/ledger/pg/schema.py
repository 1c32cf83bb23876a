"""The PostgreSQL ledger's schema, brought up to date at start one version at a time.

Every starter takes the same transaction-scoped advisory lock before it reads the recorded version:
of two services starting at once, one migrates and the other then finds the schema current.  DDL
is transactional in PostgreSQL, so a failed step leaves the schema as it was.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from litemaas_controller.errors import PermanentError

#: the advisory lock every starter takes around the migration (any fixed 64-bit number)
MIGRATION_LOCK = 0x6C6D_6C65_6467_6572  # "lmledger"

_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE orders ("
    " seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,"
    " instance TEXT NOT NULL, namespace TEXT NOT NULL, vars TEXT NOT NULL, body TEXT NOT NULL,"
    " status TEXT NOT NULL, source TEXT NOT NULL, principal TEXT NOT NULL,"
    " received_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
    " message TEXT, results TEXT, queue_seq BIGINT, body_hash TEXT NOT NULL,"
    " pruned_at DOUBLE PRECISION)",
    "CREATE INDEX orders_by_instance ON orders (instance, status, seq)",
    "CREATE TABLE runs ("
    " seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,"
    " instance TEXT NOT NULL, action TEXT NOT NULL, playbook TEXT NOT NULL, vars TEXT NOT NULL,"
    " status TEXT NOT NULL, attempt INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, rc INTEGER, reason TEXT,"
    " pid INTEGER, pid_start BIGINT, results TEXT)",
    "CREATE INDEX runs_by_order ON runs (order_id, seq)",
    "CREATE INDEX runs_by_status ON runs (status)",
    "CREATE TABLE events ("
    " run_id TEXT NOT NULL, seq INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL,"
    " event TEXT NOT NULL, task TEXT, host TEXT, status TEXT, stdout TEXT NOT NULL,"
    " PRIMARY KEY (run_id, seq))",
    "CREATE TABLE instances ("
    " name TEXT PRIMARY KEY, namespace TEXT NOT NULL, status TEXT NOT NULL, vars TEXT NOT NULL,"
    " results TEXT, last_order TEXT, updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE audit ("
    " seq BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, subject TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL)",
    # append-only: no update, no truncate; retention alone deletes, up to the mark it sets first
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'DELETE' AND OLD.seq <= COALESCE("
    "  (SELECT value::BIGINT FROM meta WHERE key = 'audit_pruned_to'), 0) THEN RETURN OLD;"
    " END IF;"
    " RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP; END $$",
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
    "CREATE TABLE dead_letters ("
    " seq BIGSERIAL PRIMARY KEY, entry TEXT NOT NULL UNIQUE, message_id TEXT,"
    " kind TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE health_history ("
    " seq BIGSERIAL PRIMARY KEY, instance TEXT NOT NULL, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, since DOUBLE PRECISION NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX health_by_instance ON health_history (instance, seq)",
)

#: run ownership among replicas (docs/replicas.md): the owner, its fencing token (from a sequence:
#: it only grows), its lease on the ledger's clock, a cancel asked by any replica; the database
#: itself keeps one unfinished run per instance, whichever replicas claim at once
_V2 = (
    "ALTER TABLE runs ADD COLUMN owner TEXT",
    "ALTER TABLE runs ADD COLUMN token BIGINT",
    "ALTER TABLE runs ADD COLUMN lease_until DOUBLE PRECISION",
    "ALTER TABLE runs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE SEQUENCE run_tokens",
    "CREATE UNIQUE INDEX runs_one_unfinished ON runs (instance)"
    " WHERE status IN ('queued', 'running')",
    "CREATE INDEX orders_queued ON orders (instance, (COALESCE(queue_seq, seq)))"
    " WHERE status = 'queued'",
)

#: version -> its statements, in order; a new version is a new entry (never edit a past one)
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2}
SCHEMA_VERSION = max(MIGRATIONS)


async def _version(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT to_regclass('meta') IS NOT NULL")
    exists = await cur.fetchone()
    if not exists or not exists[0]:
        return 0
    cur = await conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: psycopg.AsyncConnection[Any]) -> tuple[str, list[int]]:
    """Apply every version past the recorded one, under the advisory lock, in one transaction;
    return the ledger's id and the versions applied (none when another starter did them)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        found = await _version(conn)
        if found > SCHEMA_VERSION:
            raise PermanentError(
                f"the ledger's schema is version {found}, newer than this controller's "
                f"{SCHEMA_VERSION}: run a newer controller"
            )
        applied = list(range(found + 1, SCHEMA_VERSION + 1))
        for version in applied:
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
        await conn.execute(
            "INSERT INTO meta VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        await conn.execute(
            "INSERT INTO meta VALUES ('ledger_id', %s) ON CONFLICT (key) DO NOTHING",
            (uuid.uuid4().hex,),
        )
        cur = await conn.execute("SELECT value FROM meta WHERE key = 'ledger_id'")
        row = await cur.fetchone()
    assert row is not None
    return str(row[0]), applied
