"""The PostgreSQL ledger's runs and their events: the rules of ``sqlite.runs``.

Starting, finishing and requeueing a run update its order and instance (and the audit trail) in
the same transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    EventRecord,
    InstanceStatus,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
)
from litemaas_controller.ledger.pg.db import Db, audit
from litemaas_controller.ledger.rows import dumps


class PgRuns:
    """``Runs`` on PostgreSQL; see ``ledger.store.Runs`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def _found(self, run_id: str) -> RunRecord:
        return rows.existing(await self.get(run_id), "run", run_id)

    async def create(self, order_id: str, playbook: str, extravars: dict[str, Any]) -> RunRecord:
        row = await self._db.one("SELECT * FROM orders WHERE id=%s", order_id)
        order = rows.order(rows.existing(row, "order", order_id))
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        async with self._db.tx() as db:
            await db.execute(
                "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status,"
                " attempt, created_at) SELECT %s,%s,%s,%s,%s,%s,%s,COUNT(*) + 1,%s"
                " FROM runs WHERE order_id=%s",
                (run_id, order_id, order.instance, order.action, playbook, dumps(extravars),
                 RunStatus.QUEUED, time.time(), order_id),
            )  # fmt: skip
        return await self._found(run_id)

    async def start(
        self, run_id: str, instance_status: InstanceStatus, instance_vars: dict[str, Any]
    ) -> RunRecord:
        run = await self._found(run_id)
        now = time.time()
        async with self._db.tx() as db:
            await db.execute(
                "UPDATE runs SET status=%s, started_at=%s WHERE id=%s",
                (RunStatus.RUNNING, now, run_id),
            )
            await db.execute(
                "UPDATE orders SET status=%s, updated_at=%s WHERE id=%s",
                (OrderStatus.RUNNING, now, run.order_id),
            )
            await db.execute(
                "UPDATE instances SET status=%s, vars=%s, last_order=%s, updated_at=%s"
                " WHERE name=%s",
                (instance_status, dumps(instance_vars), run.order_id, now, run.instance),
            )
            detail = {"order": run.order_id, "attempt": run.attempt}
            await audit(db, "run.started", run_id, detail)
        return await self._found(run_id)

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        async with self._db.tx() as db:
            await db.execute(
                "UPDATE runs SET pid=%s, pid_start=%s WHERE id=%s", (pid, pid_start, run_id)
            )

    async def finish(self, run_id: str, outcome: RunOutcome) -> RunRecord:
        run = await self._found(run_id)
        now = time.time()
        results = dumps(outcome.results) if outcome.results is not None else None
        async with self._db.tx() as db:
            await db.execute(
                "UPDATE runs SET status=%s, finished_at=%s, rc=%s, reason=%s, results=%s"
                " WHERE id=%s",
                (outcome.status, now, outcome.rc, outcome.reason, results, run_id),
            )
            await db.execute(
                "UPDATE orders SET status=%s, updated_at=%s, message=%s, results=%s WHERE id=%s",
                (outcome.order_status, now, outcome.reason, results, run.order_id),
            )
            if outcome.instance_status is not None:
                await db.execute(
                    "UPDATE instances SET status=%s, results=COALESCE(%s, results),"
                    " updated_at=%s WHERE name=%s",
                    (outcome.instance_status, results, now, run.instance),
                )
            detail = {"order": run.order_id, "status": outcome.status, "reason": outcome.reason}
            await audit(db, "run.finished", run_id, detail)
        return await self._found(run_id)

    async def requeue(self, run_id: str, status: str, reason: str) -> RunRecord:
        run = await self._found(run_id)
        now = time.time()
        async with self._db.tx() as db:
            await db.execute(
                "UPDATE runs SET status=%s, finished_at=%s, reason=%s WHERE id=%s",
                (RunStatus(status), now, reason, run_id),
            )
            await db.execute(
                "UPDATE orders SET status=%s, updated_at=%s, message=%s"
                " WHERE id=%s AND status IN (%s,%s)",
                (OrderStatus.QUEUED, now, reason, run.order_id, OrderStatus.RUNNING,
                 OrderStatus.QUEUED),
            )  # fmt: skip
            await audit(db, "run.interrupted", run_id, {"order": run.order_id, "reason": reason})
        return await self._found(run_id)

    async def get(self, run_id: str) -> RunRecord | None:
        row = await self._db.one("SELECT * FROM runs WHERE id=%s", run_id)
        return rows.run(row) if row else None

    async def list(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        where, args = rows.newest_first("order_id", order_id or None, before, mark="%s")
        sql = f"SELECT * FROM runs{where} ORDER BY seq DESC LIMIT %s"  # noqa: S608
        found = await self._db.all(sql, *args, limit)
        return [rows.run(r) for r in found]

    async def unfinished(self) -> Sequence[RunRecord]:
        found = await self._db.all(
            "SELECT * FROM runs WHERE status IN (%s,%s) ORDER BY seq",
            RunStatus.QUEUED,
            RunStatus.RUNNING,
        )
        return [rows.run(r) for r in found]


class PgEvents:
    """``Events`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(self, events: Iterable[EventRecord]) -> None:
        async with self._db.tx() as db, db.cursor() as cur:
            await cur.executemany(
                "INSERT INTO events VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                [
                    (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout)
                    for e in events
                ],
            )

    async def after(self, run_id: str, after: int, limit: int = 500) -> Sequence[EventRecord]:
        found = await self._db.all(
            "SELECT * FROM events WHERE run_id=%s AND seq>%s ORDER BY seq LIMIT %s",
            run_id,
            after,
            limit,
        )
        return [rows.event(r) for r in found]
