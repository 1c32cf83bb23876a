"""The SQLite ledger's runs and their events.

Starting, finishing and requeueing a run update its order and instance (and the audit trail) in
the same transaction.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    EventRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
)
from litemaas_controller.ledger.rows import dumps
from litemaas_controller.ledger.sqlite.db import Db, audit


class SqliteRuns:
    """``Runs`` on SQLite; see ``ledger.store.Runs`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def _found(self, run_id: str) -> RunRecord:
        return rows.existing(await self.get(run_id), "run", run_id)

    async def create(self, order_id: str, playbook: str, extravars: dict[str, Any]) -> RunRecord:
        row = await self._db.one("SELECT * FROM orders WHERE id=?", order_id)
        order = rows.order(rows.existing(row, "order", order_id))
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        await self._db.write(lambda db: _insert(db, run_id, order, playbook, extravars))
        return await self._found(run_id)

    async def start(
        self, run_id: str, instance_status: InstanceStatus, instance_vars: dict[str, Any]
    ) -> RunRecord:
        run = await self._found(run_id)
        await self._db.write(lambda db: _start(db, run, instance_status, instance_vars))
        return await self._found(run_id)

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        sql = "UPDATE runs SET pid=?, pid_start=? WHERE id=?"
        await self._db.write(lambda db: db.execute(sql, (pid, pid_start, run_id)))

    async def finish(self, run_id: str, outcome: RunOutcome) -> RunRecord:
        run = await self._found(run_id)
        await self._db.write(lambda db: _finish(db, run, outcome))
        return await self._found(run_id)

    async def requeue(self, run_id: str, status: str, reason: str) -> RunRecord:
        run = await self._found(run_id)
        await self._db.write(lambda db: _requeue(db, run, RunStatus(status), reason))
        return await self._found(run_id)

    async def get(self, run_id: str) -> RunRecord | None:
        row = await self._db.one("SELECT * FROM runs WHERE id=?", run_id)
        return rows.run(row) if row else None

    async def list(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        where, args = rows.newest_first("order_id", order_id or None, before)
        sql = f"SELECT * FROM runs{where} ORDER BY seq DESC LIMIT ?"  # noqa: S608
        return [rows.run(r) for r in await self._db.all(sql, *args, limit)]

    async def unfinished(self) -> Sequence[RunRecord]:
        found = await self._db.all(
            "SELECT * FROM runs WHERE status IN (?,?) ORDER BY seq",
            RunStatus.QUEUED,
            RunStatus.RUNNING,
        )
        return [rows.run(r) for r in found]


def _insert(
    db: sqlite3.Connection, run_id: str, order: OrderRecord, playbook: str, extravars: Any
) -> None:
    (attempts,) = db.execute("SELECT COUNT(*) FROM runs WHERE order_id=?", (order.id,)).fetchone()
    db.execute(
        "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status,"
        " attempt, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (run_id, order.id, order.instance, order.action, playbook, dumps(extravars),
         RunStatus.QUEUED, attempts + 1, time.time()),
    )  # fmt: skip


def _start(
    db: sqlite3.Connection, run: RunRecord, status: InstanceStatus, instance_vars: dict[str, Any]
) -> None:
    now = time.time()
    db.execute(
        "UPDATE runs SET status=?, started_at=? WHERE id=?", (RunStatus.RUNNING, now, run.id)
    )
    db.execute(
        "UPDATE orders SET status=?, updated_at=? WHERE id=?",
        (OrderStatus.RUNNING, now, run.order_id),
    )
    db.execute(
        "UPDATE instances SET status=?, vars=?, last_order=?, updated_at=? WHERE name=?",
        (status, dumps(instance_vars), run.order_id, now, run.instance),
    )
    audit(db, "run.started", run.id, {"order": run.order_id, "attempt": run.attempt})


def _finish(db: sqlite3.Connection, run: RunRecord, outcome: RunOutcome) -> None:
    now = time.time()
    results = dumps(outcome.results) if outcome.results is not None else None
    db.execute(
        "UPDATE runs SET status=?, finished_at=?, rc=?, reason=?, results=? WHERE id=?",
        (outcome.status, now, outcome.rc, outcome.reason, results, run.id),
    )
    db.execute(
        "UPDATE orders SET status=?, updated_at=?, message=?, results=? WHERE id=?",
        (outcome.order_status, now, outcome.reason, results, run.order_id),
    )
    if outcome.instance_status is not None:
        db.execute(
            "UPDATE instances SET status=?, results=COALESCE(?, results), updated_at=?"
            " WHERE name=?",
            (outcome.instance_status, results, now, run.instance),
        )
    detail = {"order": run.order_id, "status": outcome.status, "reason": outcome.reason}
    audit(db, "run.finished", run.id, detail)


def _requeue(db: sqlite3.Connection, run: RunRecord, status: RunStatus, reason: str) -> None:
    now = time.time()
    db.execute(
        "UPDATE runs SET status=?, finished_at=?, reason=? WHERE id=?",
        (status, now, reason, run.id),
    )
    db.execute(
        "UPDATE orders SET status=?, updated_at=?, message=? WHERE id=? AND status IN (?,?)",
        (OrderStatus.QUEUED, now, reason, run.order_id, OrderStatus.RUNNING, OrderStatus.QUEUED),
    )
    audit(db, "run.interrupted", run.id, {"order": run.order_id, "reason": reason})


class SqliteEvents:
    """``Events`` on SQLite."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(self, events: Iterable[EventRecord]) -> None:
        values = [
            (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout) for e in events
        ]
        sql = "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?)"
        await self._db.write(lambda db: db.executemany(sql, values))

    async def after(self, run_id: str, after: int, limit: int = 500) -> Sequence[EventRecord]:
        found = await self._db.all(
            "SELECT * FROM events WHERE run_id=? AND seq>? ORDER BY seq LIMIT ?",
            run_id,
            after,
            limit,
        )
        return [rows.event(r) for r in found]
