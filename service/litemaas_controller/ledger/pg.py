"""The shared ledger: ``Store`` on PostgreSQL (psycopg 3, async, pooled), for
``LITEMAAS_LEDGER_URL=postgresql://...``.

Split like the SQLite store: ``pg_schema`` (versioned migrations under an advisory lock),
``pg_base`` (pool, transactions, instances, audit), ``pg_orders`` (orders and the queue),
``pg_retention`` (pruning), this module (runs, their events, health, dead letters).  Rows map
to records through ``ledger.rows``, as SQLite's do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from litemaas_controller.errors import NotFoundError
from litemaas_controller.ledger import pg_retention, rows
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
from litemaas_controller.ledger.pg_orders import PgOrders
from litemaas_controller.ledger.rows import dumps


class PgStore(PgOrders):
    """``Store`` on PostgreSQL; see ``ledger.store.Store`` for the contract of each method."""

    # --- runs -----------------------------------------------------------------------------------
    async def create_run(
        self, order_id: str, playbook: str, extravars: dict[str, Any]
    ) -> RunRecord:
        order = await self.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status,"
                " attempt, created_at) SELECT %s,%s,%s,%s,%s,%s,%s,COUNT(*) + 1,%s"
                " FROM runs WHERE order_id=%s",
                (run_id, order_id, order.instance, order.action, playbook, dumps(extravars),
                 RunStatus.QUEUED, time.time(), order_id),
            )  # fmt: skip
        return await self._run(run_id)

    async def _run(self, run_id: str) -> RunRecord:
        run = await self.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return run

    async def start_run(
        self, run_id: str, instance_status: InstanceStatus, instance_vars: dict[str, Any]
    ) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        async with self._tx() as db:
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
            await self._audit(db, "run.started", run_id, detail)
        return await self._run(run_id)

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        async with self._tx() as db:
            await db.execute(
                "UPDATE runs SET pid=%s, pid_start=%s WHERE id=%s", (pid, pid_start, run_id)
            )

    async def finish_run(self, run_id: str, outcome: RunOutcome) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        results = dumps(outcome.results) if outcome.results is not None else None
        async with self._tx() as db:
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
            await self._audit(db, "run.finished", run_id, detail)
        return await self._run(run_id)

    async def requeue_run(self, run_id: str, status: str, reason: str) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        async with self._tx() as db:
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
            await self._audit(
                db, "run.interrupted", run_id, {"order": run.order_id, "reason": reason}
            )
        return await self._run(run_id)

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = await self._one("SELECT * FROM runs WHERE id=%s", run_id)
        return rows.run(row) if row else None

    async def list_runs(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        where, args = rows.newest_first("order_id", order_id or None, before, mark="%s")
        sql = f"SELECT * FROM runs{where} ORDER BY seq DESC LIMIT %s"  # noqa: S608
        found = await self._all(sql, *args, limit)
        return [rows.run(r) for r in found]

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        found = await self._all(
            "SELECT * FROM runs WHERE status IN (%s,%s) ORDER BY seq",
            RunStatus.QUEUED,
            RunStatus.RUNNING,
        )
        return [rows.run(r) for r in found]

    async def append_events(self, events: Iterable[EventRecord]) -> None:
        async with self._tx() as db, db.cursor() as cur:
            await cur.executemany(
                "INSERT INTO events VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                [
                    (e.run_id, e.seq, e.at, e.event, e.task, e.host, e.status, e.stdout)
                    for e in events
                ],
            )

    async def events_after(
        self, run_id: str, after: int, limit: int = 500
    ) -> Sequence[EventRecord]:
        found = await self._all(
            "SELECT * FROM events WHERE run_id=%s AND seq>%s ORDER BY seq LIMIT %s",
            run_id,
            after,
            limit,
        )
        return [rows.event(r) for r in found]

    # --- health ---------------------------------------------------------------------------------
    async def record_health(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO health_history (instance, status, reason, since, at)"
                " SELECT %(i)s, %(s)s, %(r)s, %(since)s, %(at)s WHERE NOT EXISTS ("
                "  SELECT 1 FROM (SELECT status, reason FROM health_history WHERE instance=%(i)s"
                "  ORDER BY seq DESC LIMIT 1) AS current"
                "  WHERE current.status=%(s)s AND current.reason=%(r)s)",
                {"i": instance, "s": status, "r": reason, "since": since, "at": time.time()},
            )
            if not cur.rowcount:
                return None
        return await self.get_health(instance)

    async def get_health(self, instance: str) -> HealthRecord | None:
        row = await self._one(
            "SELECT * FROM health_history WHERE instance=%s ORDER BY seq DESC LIMIT 1", instance
        )
        return rows.health(row) if row else None

    async def health_history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        found = await self._all(
            "SELECT * FROM health_history WHERE instance=%s AND seq>%s ORDER BY seq LIMIT %s",
            instance,
            after,
            limit,
        )
        return [rows.health(r) for r in found]

    async def count_health_by_status(self) -> dict[str, int]:
        found = await self._all(
            "SELECT h.status, COUNT(*) AS n FROM health_history h"
            " JOIN instances i ON i.name=h.instance"
            " WHERE i.status!=%s AND h.seq=(SELECT MAX(seq) FROM health_history"
            " WHERE instance=h.instance) GROUP BY h.status",
            InstanceStatus.DESTROYED,
        )
        return {r["status"]: r["n"] for r in found}

    # --- retention and dead letters -------------------------------------------------------------
    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        async with self._tx() as db:
            counts = await pg_retention.prune(db, cutoffs)
            if any(counts.values()):
                await self._audit(db, "ledger.pruned", "ledger", counts, source="retention")
        return counts

    async def record_dead_letter(self, entry: str, message_id: str | None, kind: str) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO dead_letters (entry, message_id, kind, at) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (entry) DO NOTHING",
                (entry, message_id, kind, time.time()),
            )

    async def dead_lettered(self, entry: str) -> bool:
        return await self._one("SELECT 1 FROM dead_letters WHERE entry=%s", entry) is not None

    async def list_dead_letters(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        found = await self._all(
            "SELECT seq, entry, message_id, kind, at FROM dead_letters"
            " WHERE %s::BIGINT IS NULL OR seq<%s ORDER BY seq DESC LIMIT %s",
            before, before, limit,
        )  # fmt: skip
        return [DeadLetterRecord(**r) for r in found]
