"""Bringing an older SQLite ledger to the current schema, at start, one version at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from litemaas_controller.ledger.rows import body_hash
from litemaas_controller.ledger.sqlite.schema import HEALTH_DDL, RUN_OWNER_COLUMNS, SCHEMA_VERSION


def _v2(db: sqlite3.Connection) -> None:
    """Retention: body hashes (duplicates outlive bodies), pruning marks, a prunable audit."""
    db.execute("ALTER TABLE orders ADD COLUMN body_hash TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE orders ADD COLUMN pruned_at REAL")
    rows = db.execute("SELECT id, body FROM orders").fetchall()
    db.executemany("UPDATE orders SET body_hash=? WHERE id=?", [(body_hash(b), i) for i, b in rows])
    db.execute("DROP TRIGGER IF EXISTS audit_append_only_d")  # replaced by audit_retained_d


def _v3(db: sqlite3.Connection) -> None:
    """``orders.queue_seq``: the place of a retried order in its instance's queue (NULL: its
    ``seq``, the place it arrived at)."""
    db.execute("ALTER TABLE orders ADD COLUMN queue_seq INTEGER")


def _v4(db: sqlite3.Connection) -> None:
    """``health_history``: each instance's observed health transitions (the cluster watch)."""
    for statement in HEALTH_DDL:
        db.execute(statement)


def _v5(db: sqlite3.Connection) -> None:
    """Run ownership: owner, fencing token, lease, cancel request (``schema.INDEX_DDL`` follows
    the migrations).  A ledger older than the runs table got it whole from the DDL."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, kind in RUN_OWNER_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")


_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _v2, 3: _v3, 4: _v4, 5: _v5}


def migrate(db: sqlite3.Connection) -> None:
    """Apply every step past the ledger's recorded version (in one transaction each)."""
    (found,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    for version in range(int(found) + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            _STEPS[version](db)
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
