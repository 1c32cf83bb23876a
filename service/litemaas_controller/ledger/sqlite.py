"""The embedded ledger: ``Store`` on one SQLite file (WAL), one connection on the loop's thread.

Split by concept: ``sqlite_base`` (connection, transactions, instances, audit), ``sqlite_orders``
(orders and the queue), ``sqlite_retention`` (pruning), this module (runs and their events).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from litemaas_controller.errors import NotFoundError
from litemaas_controller.ledger import rows, sqlite_retention
from litemaas_controller.ledger.models import (
    Cutoffs,
    DeadLetterRecord,
    EventRecord,
    HealthRecord,
    InstanceStatus,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
)
from litemaas_controller.ledger.rows import dumps
from litemaas_controller.ledger.sqlite_orders import SqliteOrders


class SqliteStore(SqliteOrders):
    """``Store`` on a SQLite file; see ``ledger.store.Store`` for the contract of each method."""

    # --- runs -----------------------------------------------------------------------------------
    async def create_run(
        self, order_id: str, playbook: str, extravars: dict[str, Any]
    ) -> RunRecord:
        order = await self.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        async with self._tx() as db:
            (attempts,) = db.execute(
                "SELECT COUNT(*) FROM runs WHERE order_id=?", (order_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status,"
                " attempt, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    order_id,
                    order.instance,
                    order.action,
                    playbook,
                    dumps(extravars),
                    RunStatus.QUEUED,
                    attempts + 1,
                    time.time(),
                ),
            )
        return await self._run(run_id)

    async def _run(self, run_id: str) -> RunRecord:
        row = self._one("SELECT * FROM runs WHERE id=?", run_id)
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return rows.run(row)

    async def start_run(
        self, run_id: str, instance_status: InstanceStatus, instance_vars: dict[str, Any]
    ) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        async with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, started_at=? WHERE id=?",
                (RunStatus.RUNNING, now, run_id),
            )
            db.execute(
                "UPDATE orders SET status=?, updated_at=? WHERE id=?",
                (OrderStatus.RUNNING, now, run.order_id),
            )
            db.execute(
                "UPDATE instances SET status=?, vars=?, last_order=?, updated_at=? WHERE name=?",
                (instance_status, dumps(instance_vars), run.order_id, now, run.instance),
            )
            detail = {"order": run.order_id, "attempt": run.attempt}
            self._audit(db, "run.started", run_id, detail)
        return await self._run(run_id)

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        async with self._tx() as db:
            db.execute("UPDATE runs SET pid=?, pid_start=? WHERE id=?", (pid, pid_start, run_id))

    async def finish_run(self, run_id: str, outcome: RunOutcome) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        results = dumps(outcome.results) if outcome.results is not None else None
        async with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, finished_at=?, rc=?, reason=?, results=? WHERE id=?",
                (outcome.status, now, outcome.rc, outcome.reason, results, run_id),
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
            self._audit(db, "run.finished", run_id, detail)
        return await self._run(run_id)

    async def requeue_run(self, run_id: str, status: str, reason: str) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        async with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, finished_at=?, reason=? WHERE id=?",
                (RunStatus(status), now, reason, run_id),
            )
            db.execute(
                "UPDATE orders SET status=?, updated_at=?, message=?"
                " WHERE id=? AND status IN (?,?)",
                (
                    OrderStatus.QUEUED,
                    now,
                    reason,
                    run.order_id,
                    OrderStatus.RUNNING,
                    OrderStatus.QUEUED,
                ),
            )
            self._audit(db, "run.interrupted", run_id, {"order": run.order_id, "reason": reason})
        return await self._run(run_id)

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = self._one("SELECT * FROM runs WHERE id=?", run_id)
        return rows.run(row) if row else None

    async def list_runs(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        where, args = rows.newest_first("order_id", order_id or None, before)
        sql = f"SELECT * FROM runs{where} ORDER BY seq DESC LIMIT ?"  # noqa: S608
        return [rows.run(r) for r in self._db.execute(sql, (*args, limit))]

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        cur = self._db.execute(
            "SELECT * FROM runs WHERE status IN (?,?) ORDER BY seq",
            (RunStatus.QUEUED, RunStatus.RUNNING),
        )
        return [rows.run(r) for r in cur]

    async def append_events(self, events: Iterable[EventRecord]) -> None:
        async with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?)",
                [
                    (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout)
                    for e in events
                ],
            )

    async def events_after(
        self, run_id: str, after: int, limit: int = 500
    ) -> Sequence[EventRecord]:
        cur = self._db.execute(
            "SELECT * FROM events WHERE run_id=? AND seq>? ORDER BY seq LIMIT ?",
            (run_id, after, limit),
        )
        return [rows.event(r) for r in cur]

    # --- health ---------------------------------------------------------------------------------
    async def record_health(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        async with self._tx() as db:
            current = db.execute(
                "SELECT status, reason FROM health_history WHERE instance=? ORDER BY seq DESC"
                " LIMIT 1",
                (instance,),
            ).fetchone()
            if current is not None and tuple(current) == (status, reason):
                return None
            db.execute(
                "INSERT INTO health_history (instance, status, reason, since, at)"
                " VALUES (?,?,?,?,?)",
                (instance, status, reason, since, time.time()),
            )
        return await self.get_health(instance)

    async def get_health(self, instance: str) -> HealthRecord | None:
        row = self._one(
            "SELECT * FROM health_history WHERE instance=? ORDER BY seq DESC LIMIT 1", instance
        )
        return rows.health(row) if row else None

    async def health_history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        cur = self._db.execute(
            "SELECT * FROM health_history WHERE instance=? AND seq>? ORDER BY seq LIMIT ?",
            (instance, after, limit),
        )
        return [rows.health(r) for r in cur]

    async def count_health_by_status(self) -> dict[str, int]:
        cur = self._db.execute(
            "SELECT h.status, COUNT(*) FROM health_history h JOIN instances i ON i.name=h.instance"
            " WHERE i.status!=? AND h.seq=(SELECT MAX(seq) FROM health_history"
            " WHERE instance=h.instance) GROUP BY h.status",
            (InstanceStatus.DESTROYED,),
        )
        return {status: count for status, count in cur}

    # --- retention and dead letters -------------------------------------------------------------
    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        async with self._tx() as db:
            counts = sqlite_retention.prune(db, cutoffs)
            if any(counts.values()):
                self._audit(db, "ledger.pruned", "ledger", counts, source="retention")
        return counts

    async def record_dead_letter(self, entry: str, message_id: str | None, kind: str) -> None:
        async with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO dead_letters VALUES (?,?,?,?)",
                (entry, message_id, kind, time.time()),
            )

    async def dead_lettered(self, entry: str) -> bool:
        return self._one("SELECT 1 FROM dead_letters WHERE entry=?", entry) is not None

    async def list_dead_letters(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        where = "" if before is None else " WHERE rowid<?"
        sql = f"SELECT rowid AS seq, * FROM dead_letters{where} ORDER BY rowid DESC LIMIT ?"  # noqa: S608
        args = (limit,) if before is None else (before, limit)
        return [DeadLetterRecord(**dict(r)) for r in self._db.execute(sql, args)]
