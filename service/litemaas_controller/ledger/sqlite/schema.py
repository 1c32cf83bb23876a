"""The SQLite ledger's schema (its rows map to records in ``ledger.rows``)."""

from __future__ import annotations

SCHEMA_VERSION = 5

#: each instance's health transitions (v4); the current health is its newest row
HEALTH_DDL = (
    "CREATE TABLE IF NOT EXISTS health_history ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, instance TEXT NOT NULL, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, since REAL NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS health_by_instance ON health_history (instance, seq)",
)

#: run ownership (v5): the columns a ledger from before replicas lacks
RUN_OWNER_COLUMNS = (
    ("owner", "TEXT"),
    ("token", "INTEGER"),
    ("lease_until", "REAL"),
    ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
)

#: made after the migrations (they index columns older versions lack): one unfinished run per
#: instance, kept by the database itself; the queued orders in queue order
INDEX_DDL = """
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_unfinished ON runs (instance)
  WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS orders_queued ON orders (instance, COALESCE(queue_seq, seq))
  WHERE status = 'queued';
"""

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
  instance TEXT NOT NULL, namespace TEXT NOT NULL, vars TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL, source TEXT NOT NULL, principal TEXT NOT NULL,
  received_at REAL NOT NULL, updated_at REAL NOT NULL, message TEXT, results TEXT,
  queue_seq INTEGER, body_hash TEXT NOT NULL DEFAULT '', pruned_at REAL);
CREATE INDEX IF NOT EXISTS orders_by_instance ON orders (instance, status, seq);
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,
  instance TEXT NOT NULL, action TEXT NOT NULL, playbook TEXT NOT NULL, vars TEXT NOT NULL,
  status TEXT NOT NULL, attempt INTEGER NOT NULL, created_at REAL NOT NULL, started_at REAL,
  finished_at REAL, rc INTEGER, reason TEXT, pid INTEGER, pid_start INTEGER, results TEXT,
  owner TEXT, token INTEGER, lease_until REAL, cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_by_order ON runs (order_id, seq);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
  task TEXT, host TEXT, status TEXT, stdout TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS instances (
  name TEXT PRIMARY KEY, namespace TEXT NOT NULL, status TEXT NOT NULL, vars TEXT NOT NULL,
  results TEXT, last_order TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- retention alone removes audit entries: only those up to the mark it sets first
CREATE TRIGGER IF NOT EXISTS audit_retained_d BEFORE DELETE ON audit
  WHEN old.seq > COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='audit_pruned_to'), 0)
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only until retention'); END;
-- stream entries given up as dead letters (stream/entry id): a re-read never runs them again
CREATE TABLE IF NOT EXISTS dead_letters (
  entry TEXT PRIMARY KEY, message_id TEXT, kind TEXT NOT NULL, at REAL NOT NULL);
""" + "".join(f"{statement};\n" for statement in HEALTH_DDL)  # noqa: S608 - constants
