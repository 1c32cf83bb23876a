"""The SQLite ledger's runs and their events.

Claiming, finishing and requeueing a run update its order and instance (and the audit trail) in
the same transaction.  SQLite has one writer at a time; the unique index on the instance's
unfinished run keeps one per instance all the same, as on PostgreSQL.  The fencing tokens come
from a counter row in ``meta``; leases count on this host's clock (the one replica's).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable

from litemaas_controller.errors import FencedError, NotFoundError
from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    EventRecord,
    Lease,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStart,
    RunStatus,
)
from litemaas_controller.ledger.reads import EventReads, RunReads
from litemaas_controller.ledger.rows import dumps
from litemaas_controller.ledger.sqlite.db import Db, audit

#: the ledger's clock, in epoch seconds: this host's, as ``time.time()`` writes the leases
NOW = "((julianday('now') - 2440587.5) * 86400.0)"
#: a write about a run applies only while the run is unfinished and still carries its token
HELD = "id=? AND token IS ? AND status IN ('queued', 'running')"


class SqliteRuns:
    """``Runs`` on SQLite; see ``ledger.store.Runs`` for the contract of each method.
    The reads are ``RunReads``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = RunReads(db, NOW)
        self.get, self.list, self.unfinished = reads.get, reads.list, reads.unfinished
        self.owned, self.expired = reads.owned, reads.expired

    async def _found(self, run_id: str) -> RunRecord:
        return rows.existing(await self.get(run_id), "run", run_id)

    async def claim(
        self, order_id: str, start: RunStart, owner: str, lease: float
    ) -> RunRecord | None:
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        try:
            claimed = await self._db.write(
                lambda db: _claim(db, run_id, order_id, start, owner, lease)
            )
        except sqlite3.IntegrityError:
            return None  # the instance has an unfinished run
        return await self._found(run_id) if claimed else None

    async def renew(self, run_id: str, token: int | None, lease: float) -> Lease:
        def renew(db: sqlite3.Connection) -> Lease:
            row = db.execute(
                f"UPDATE runs SET lease_until=? WHERE {HELD} RETURNING cancel_requested",  # noqa: S608
                (time.time() + lease, run_id, token),
            ).fetchall()  # all: a RETURNING statement ends once its rows are read
            if not row:
                return Lease.LOST
            return Lease.CANCEL if row[0][0] else Lease.HELD

        return await self._db.write(renew)

    async def request_cancel(self, run_id: str) -> RunRecord:
        sql = "UPDATE runs SET cancel_requested=1 WHERE id=? AND status IN (?,?)"
        args = (run_id, RunStatus.QUEUED, RunStatus.RUNNING)
        await self._db.write(lambda db: db.execute(sql, args))
        return await self._found(run_id)

    async def record_process(
        self, run_id: str, pid: int, pid_start: int, *, token: int | None
    ) -> None:
        sql = f"UPDATE runs SET pid=?, pid_start=? WHERE {HELD}"  # noqa: S608
        changed = await self._db.write(
            lambda db: db.execute(sql, (pid, pid_start, run_id, token)).rowcount
        )
        if not changed:
            raise await self._refused(run_id, token)

    async def finish(self, run_id: str, outcome: RunOutcome, *, token: int | None) -> RunRecord:
        if not await self._db.write(lambda db: _finish(db, run_id, token, outcome)):
            raise await self._refused(run_id, token)
        return await self._found(run_id)

    async def requeue(
        self, run_id: str, status: str, reason: str, *, token: int | None
    ) -> RunRecord:
        requeued = await self._db.write(
            lambda db: _requeue(db, run_id, token, RunStatus(status), reason)
        )
        if not requeued:
            raise await self._refused(run_id, token)
        return await self._found(run_id)

    async def _refused(self, run_id: str, token: int | None) -> Exception:
        """Why a write about ``run_id`` changed nothing: no such run, or not this token's."""
        if await self.get(run_id) is None:
            return NotFoundError(f"run {run_id} does not exist")
        return FencedError(run_id, token)


def _claim(
    db: sqlite3.Connection, run_id: str, order_id: str, start: RunStart, owner: str, lease: float
) -> bool:
    """The run of ``order_id``, running, when the order is queued, first of its instance's
    queue, and the instance has no unfinished run; False (nothing written) otherwise."""
    order = db.execute(
        "SELECT instance, action FROM orders WHERE id=? AND status=?",
        (order_id, OrderStatus.QUEUED),
    ).fetchone()
    if order is None:
        return False
    first = db.execute(
        "SELECT id FROM orders WHERE instance=? AND status=? ORDER BY COALESCE(queue_seq, seq)"
        " LIMIT 1",
        (order["instance"], OrderStatus.QUEUED),
    ).fetchone()
    if first is None or first["id"] != order_id:
        return False
    ((token,),) = db.execute(
        "INSERT INTO meta VALUES ('run_token', '1') ON CONFLICT (key) DO UPDATE"
        " SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)"
    ).fetchall()
    (attempts,) = db.execute("SELECT COUNT(*) FROM runs WHERE order_id=?", (order_id,)).fetchone()
    now = time.time()
    db.execute(
        "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status, attempt,"
        " created_at, started_at, owner, token, lease_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (run_id, order_id, order["instance"], order["action"], start.playbook,
         dumps(start.extravars), RunStatus.RUNNING, attempts + 1, now, now, owner, token,
         now + lease),
    )  # fmt: skip
    db.execute(
        "UPDATE orders SET status=?, updated_at=? WHERE id=?", (OrderStatus.RUNNING, now, order_id)
    )
    db.execute(
        "UPDATE instances SET status=?, vars=?, last_order=?, updated_at=? WHERE name=?",
        (start.instance_status, dumps(start.instance_vars), order_id, now, order["instance"]),
    )
    detail = {"order": order_id, "attempt": attempts + 1, "owner": owner}
    audit(db, "run.started", run_id, detail)
    return True


def _finish(db: sqlite3.Connection, run_id: str, token: int | None, outcome: RunOutcome) -> bool:
    now = time.time()
    results = dumps(outcome.results) if outcome.results is not None else None
    found = db.execute(
        "UPDATE runs SET status=?, finished_at=?, rc=?, reason=?, results=?"  # noqa: S608
        f" WHERE {HELD} RETURNING order_id, instance",
        (outcome.status, now, outcome.rc, outcome.reason, results, run_id, token),
    ).fetchall()
    if not found:
        return False
    run = found[0]
    db.execute(
        "UPDATE orders SET status=?, updated_at=?, message=?, results=? WHERE id=?",
        (outcome.order_status, now, outcome.reason, results, run["order_id"]),
    )
    if outcome.instance_status is not None:
        db.execute(
            "UPDATE instances SET status=?, results=COALESCE(?, results), updated_at=?"
            " WHERE name=?",
            (outcome.instance_status, results, now, run["instance"]),
        )
    detail = {"order": run["order_id"], "status": outcome.status, "reason": outcome.reason}
    audit(db, "run.finished", run_id, detail)
    return True


def _requeue(
    db: sqlite3.Connection, run_id: str, token: int | None, status: RunStatus, reason: str
) -> bool:
    now = time.time()
    found = db.execute(
        f"UPDATE runs SET status=?, finished_at=?, reason=? WHERE {HELD} RETURNING order_id",  # noqa: S608
        (status, now, reason, run_id, token),
    ).fetchall()
    if not found:
        return False
    run = found[0]
    db.execute(
        "UPDATE orders SET status=?, updated_at=?, message=? WHERE id=? AND status IN (?,?)",
        (OrderStatus.QUEUED, now, reason, run["order_id"], OrderStatus.RUNNING,
         OrderStatus.QUEUED),
    )  # fmt: skip
    audit(db, "run.interrupted", run_id, {"order": run["order_id"], "reason": reason})
    return True


class SqliteEvents:
    """``Events`` on SQLite; the reads are ``EventReads``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.after = EventReads(db).after

    async def append(
        self, events: Iterable[EventRecord], *, token: int | None, run_id: str
    ) -> bool:
        values = [
            (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout) for e in events
        ]

        def kept(db: sqlite3.Connection) -> bool:
            if db.execute(f"SELECT 1 FROM runs WHERE {HELD}", (run_id, token)).fetchone() is None:  # noqa: S608
                return False
            db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?)", values)
            return True

        return await self._db.write(kept)
