"""Retention on the PostgreSQL ledger: the rules of ``sqlite.retention``, in one transaction.

Audit entries go under the append-only trigger's mark (``meta.audit_pruned_to``), set first.
"""

from __future__ import annotations

import time

from litemaas_controller.ledger.models import TERMINAL_ORDER, TERMINAL_RUN, Cutoffs, InstanceStatus
from litemaas_controller.ledger.pg.db import Conn

_ENDED = sorted(str(s) for s in TERMINAL_ORDER)
_RUN_ENDED = sorted(str(s) for s in TERMINAL_RUN)
_OLD_ORDERS = "SELECT id FROM orders WHERE status=ANY(%(ended)s) AND updated_at<%(before)s"


async def _count(db: Conn, sql: str, **args: object) -> int:
    cur = await db.execute(sql, {"ended": _ENDED, "run_ended": _RUN_ENDED, **args})
    return cur.rowcount


async def _audit(db: Conn, before: float) -> int:
    cur = await db.execute("SELECT MAX(seq) AS upto FROM audit WHERE at<%s", (before,))
    row = await cur.fetchone()
    if row is None or row["upto"] is None:
        return 0
    await db.execute(
        "INSERT INTO meta VALUES ('audit_pruned_to', %s)"
        " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
        (str(row["upto"]),),
    )
    return await _count(db, "DELETE FROM audit WHERE seq<=%(upto)s", upto=row["upto"])


async def _payloads(db: Conn, before: float, now: float) -> int:
    await _count(
        db,
        f"UPDATE runs SET vars='{{}}', results=NULL WHERE order_id IN ({_OLD_ORDERS}"  # noqa: S608
        " AND pruned_at IS NULL)",
        before=before,
    )
    return await _count(
        db,
        "UPDATE orders SET vars='{}', body='', results=NULL, pruned_at=%(now)s"  # noqa: S608
        f" WHERE id IN ({_OLD_ORDERS} AND pruned_at IS NULL)",
        before=before,
        now=now,
    )


async def _tombstones(db: Conn, before: float) -> int:
    old_runs = f"SELECT id FROM runs WHERE order_id IN ({_OLD_ORDERS})"  # noqa: S608
    await _count(db, f"DELETE FROM events WHERE run_id IN ({old_runs})", before=before)  # noqa: S608
    await _count(db, f"DELETE FROM runs WHERE order_id IN ({_OLD_ORDERS})", before=before)  # noqa: S608
    await _count(db, "DELETE FROM dead_letters WHERE at<%(before)s", before=before)
    await _count(
        db,
        "DELETE FROM instances WHERE status=%(destroyed)s AND updated_at<%(before)s",
        before=before,
        destroyed=InstanceStatus.DESTROYED,
    )
    return await _count(db, f"DELETE FROM orders WHERE id IN ({_OLD_ORDERS})", before=before)  # noqa: S608


async def prune(db: Conn, cutoffs: Cutoffs) -> dict[str, int]:
    """Prune in the caller's transaction; return how many of each went."""
    return {
        "events": await _count(
            db,
            "DELETE FROM events WHERE at<%(before)s AND run_id IN"
            " (SELECT id FROM runs WHERE status=ANY(%(run_ended)s))",
            before=cutoffs.events,
        ),
        "audit": await _audit(db, cutoffs.audit),
        "payloads": await _payloads(db, cutoffs.payloads, time.time()),
        "tombstones": await _tombstones(db, cutoffs.tombstones),
        # never an instance's newest transition (its current health), and every one of an
        # instance the ledger has forgotten
        "health": await _count(
            db,
            "DELETE FROM health_history WHERE (at<%(before)s AND seq NOT IN"
            " (SELECT MAX(seq) FROM health_history GROUP BY instance))"
            " OR instance NOT IN (SELECT name FROM instances)",
            before=cutoffs.audit,
        ),
    }
