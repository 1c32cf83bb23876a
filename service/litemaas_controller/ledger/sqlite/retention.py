"""Retention on the SQLite ledger: what ended long enough ago is pruned, tombstones stay longer.

A finished order first loses its payload (vars, body, results, and its runs' vars and results):
its row stays as the tombstone (id, body hash, status), so a catalog's retry of the id is still a
duplicate.  Past the tombstone retention the row goes, with its runs, as do dead-letter marks
and destroyed instances.  Audit entries go past their own retention, under the delete trigger's
mark (the trail stays append-only for everything newer); so do health transitions, except each
instance's current one.
"""

from __future__ import annotations

import sqlite3
import time

from litemaas_controller.ledger.models import (
    TERMINAL_ORDER,
    TERMINAL_RUN,
    Cutoffs,
    InstanceStatus,
)

_ENDED = ",".join(f"'{s}'" for s in sorted(TERMINAL_ORDER))
_RUN_ENDED = ",".join(f"'{s}'" for s in sorted(TERMINAL_RUN))
_OLD_ORDERS = f"SELECT id FROM orders WHERE status IN ({_ENDED}) AND updated_at<?"  # noqa: S608


def _events(db: sqlite3.Connection, before: float) -> int:
    return db.execute(
        f"DELETE FROM events WHERE at<? AND run_id IN"  # noqa: S608
        f" (SELECT id FROM runs WHERE status IN ({_RUN_ENDED}))",
        (before,),
    ).rowcount


def _audit(db: sqlite3.Connection, before: float) -> int:
    (upto,) = db.execute("SELECT MAX(seq) FROM audit WHERE at<?", (before,)).fetchone()
    if upto is None:
        return 0
    db.execute("INSERT OR REPLACE INTO meta VALUES ('audit_pruned_to', ?)", (upto,))
    return db.execute("DELETE FROM audit WHERE seq<=?", (upto,)).rowcount


def _payloads(db: sqlite3.Connection, before: float, now: float) -> int:
    db.execute(
        f"UPDATE runs SET vars='{{}}', results=NULL WHERE order_id IN ({_OLD_ORDERS}"  # noqa: S608
        " AND pruned_at IS NULL)",
        (before,),
    )
    return db.execute(
        f"UPDATE orders SET vars='{{}}', body='', results=NULL, pruned_at=?"  # noqa: S608
        f" WHERE id IN ({_OLD_ORDERS} AND pruned_at IS NULL)",
        (now, before),
    ).rowcount


def _tombstones(db: sqlite3.Connection, before: float) -> int:
    old = f"SELECT id FROM runs WHERE order_id IN ({_OLD_ORDERS})"  # noqa: S608
    db.execute(f"DELETE FROM events WHERE run_id IN ({old})", (before,))  # noqa: S608
    db.execute(f"DELETE FROM runs WHERE order_id IN ({_OLD_ORDERS})", (before,))  # noqa: S608
    db.execute("DELETE FROM dead_letters WHERE at<?", (before,))
    db.execute(
        "DELETE FROM instances WHERE status=? AND updated_at<?", (InstanceStatus.DESTROYED, before)
    )
    return db.execute(f"DELETE FROM orders WHERE id IN ({_OLD_ORDERS})", (before,)).rowcount  # noqa: S608


def _health(db: sqlite3.Connection, before: float) -> int:
    """Health transitions older than the audit's retention, but never an instance's newest (its
    current health), and every one of an instance the ledger has forgotten."""
    return db.execute(
        "DELETE FROM health_history WHERE (at<? AND seq NOT IN"
        " (SELECT MAX(seq) FROM health_history GROUP BY instance))"
        " OR instance NOT IN (SELECT name FROM instances)",
        (before,),
    ).rowcount


def prune(db: sqlite3.Connection, cutoffs: Cutoffs) -> dict[str, int]:
    """Prune in one transaction (the caller's); return how many of each went."""
    return {
        "events": _events(db, cutoffs.events),
        "audit": _audit(db, cutoffs.audit),
        "payloads": _payloads(db, cutoffs.payloads, time.time()),
        "tombstones": _tombstones(db, cutoffs.tombstones),
        "health": _health(db, cutoffs.audit),
    }
