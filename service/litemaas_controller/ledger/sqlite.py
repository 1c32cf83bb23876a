"""The embedded ledger: SQLite in WAL mode, one connection, used from the event loop's thread.

Statements are short (an index lookup or a few row writes), so they run inline instead of in a
thread; WAL with ``synchronous=NORMAL`` survives a crash of the process (a power cut may lose the
last commits, which at-least-once delivery from catalogs covers).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litemaas_controller.errors import ConflictError, NotFoundError
from litemaas_controller.ledger import sqlite_rows as rows
from litemaas_controller.ledger.models import (
    Action,
    AuditRecord,
    EventRecord,
    InstanceRecord,
    InstanceStatus,
    NewOrder,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
    check_namespace_free,
    resolve_namespace,
)
from litemaas_controller.ledger.sqlite_rows import dumps


class SqliteStore:
    """``Store`` on a SQLite file; see ``ledger.store.Store`` for the contract of each method."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(rows.DDL)
        self._ledger_id = self._init_meta()
        self._changed = asyncio.Event()

    def _init_meta(self) -> str:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (rows.SCHEMA_VERSION,)
            )
            return str(db.execute("SELECT value FROM meta WHERE key='ledger_id'").fetchone()[0])

    @property
    def ledger_id(self) -> str:
        return self._ledger_id

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        if hasattr(self, "_changed"):
            # wake every waiter, then arm a fresh event for the next write
            self._changed.set()
            self._changed = asyncio.Event()

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    def _audit(
        self,
        db: sqlite3.Connection,
        action: str,
        subject: str,
        detail: dict[str, Any],
        *,
        actor: str = "controller",
        source: str = "dispatch",
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, action, subject, source, detail) VALUES (?,?,?,?,?,?)",
            (time.time(), actor, action, subject, source, dumps(detail)),
        )

    # --- orders ---------------------------------------------------------------------------------
    async def accept_order(self, order: NewOrder) -> tuple[OrderRecord, bool]:
        existing = self._one("SELECT * FROM orders WHERE id=?", order.id)
        if existing is not None:
            if existing["body"] != order.body:
                raise ConflictError(
                    f"order {order.id} was already accepted with another body; "
                    "send a new id for a new order",
                    details={"order": order.id},
                )
            return rows.order(existing), False
        with self._tx() as db:
            inst = self._one("SELECT * FROM instances WHERE name=?", order.instance)
            namespace = resolve_namespace(order, rows.instance(inst) if inst else None)
            holder = self._one(
                "SELECT name FROM instances WHERE namespace=? AND status!=? AND name!=?",
                namespace,
                InstanceStatus.DESTROYED,
                order.instance,
            )
            check_namespace_free(order, namespace, holder["name"] if holder else None)
            now = time.time()
            db.execute(
                "INSERT INTO orders (id, action, instance, namespace, vars, body, status, source,"
                " principal, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order.id,
                    order.action,
                    order.instance,
                    namespace,
                    dumps(order.vars),
                    order.body,
                    OrderStatus.QUEUED,
                    order.source,
                    order.principal,
                    now,
                    now,
                ),
            )
            if inst is None or inst["status"] == InstanceStatus.DESTROYED:
                db.execute(
                    "INSERT OR REPLACE INTO instances (name, namespace, status, vars, results,"
                    " last_order, updated_at) VALUES (?,?,?,?,?,?,?)",
                    (order.instance, namespace, InstanceStatus.PENDING, "{}", None, order.id, now),
                )
            self._audit(
                db,
                "order.accepted",
                order.id,
                {"action": order.action, "instance": order.instance},
                actor=order.principal,
                source=order.source,
            )
            if order.action == Action.DESTROY:
                self._supersede(db, order, now)
        record = await self.get_order(order.id)
        assert record is not None
        return record, True

    def _supersede(self, db: sqlite3.Connection, destroy: NewOrder, now: float) -> None:
        victims = db.execute(
            "SELECT id FROM orders WHERE instance=? AND status=? AND action IN (?,?) AND id!=?",
            (destroy.instance, OrderStatus.QUEUED, Action.PROVISION, Action.UPDATE, destroy.id),
        ).fetchall()
        for (victim,) in victims:
            db.execute(
                "UPDATE orders SET status=?, message=?, updated_at=? WHERE id=?",
                (OrderStatus.SUPERSEDED, f"superseded by destroy order {destroy.id}", now, victim),
            )
            db.execute(
                "UPDATE runs SET status=?, reason=?, finished_at=? WHERE order_id=? AND status=?",
                (RunStatus.CANCELLED, "superseded", now, victim, RunStatus.QUEUED),
            )
            self._audit(db, "order.superseded", victim, {"by": destroy.id}, source=destroy.source)

    async def get_order(self, order_id: str) -> OrderRecord | None:
        row = self._one("SELECT * FROM orders WHERE id=?", order_id)
        return rows.order(row) if row else None

    async def list_orders(
        self, *, instance: str | None = None, limit: int = 100
    ) -> Sequence[OrderRecord]:
        sql, args = "SELECT * FROM orders", [instance] if instance else []
        sql += " WHERE instance=?" if instance else ""
        cur = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [rows.order(r) for r in cur]

    async def next_queued_order(self, instance: str) -> OrderRecord | None:
        row = self._one(
            "SELECT * FROM orders WHERE instance=? AND status=? ORDER BY seq LIMIT 1",
            instance,
            OrderStatus.QUEUED,
        )
        return rows.order(row) if row else None

    async def instances_with_queued_orders(self) -> Sequence[str]:
        cur = self._db.execute(
            "SELECT instance, MIN(seq) AS first FROM orders WHERE status=? GROUP BY instance"
            " ORDER BY first",
            (OrderStatus.QUEUED,),
        )
        return [r["instance"] for r in cur]

    async def count_orders_by_status(self) -> dict[OrderStatus, int]:
        cur = self._db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status")
        counts = {s: 0 for s in OrderStatus}
        counts.update({OrderStatus(s): n for s, n in cur})
        return counts

    # --- runs -----------------------------------------------------------------------------------
    async def create_run(
        self, order_id: str, playbook: str, extravars: dict[str, Any]
    ) -> RunRecord:
        order = await self.get_order(order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        with self._tx() as db:
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

    async def start_run(self, run_id: str, instance_status: InstanceStatus) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, started_at=? WHERE id=?",
                (RunStatus.RUNNING, now, run_id),
            )
            db.execute(
                "UPDATE orders SET status=?, updated_at=? WHERE id=?",
                (OrderStatus.RUNNING, now, run.order_id),
            )
            recorded = {k: v for k, v in run.vars.items() if k.startswith("ocp4_workload_")}
            db.execute(
                "UPDATE instances SET status=?, vars=?, last_order=?, updated_at=? WHERE name=?",
                (instance_status, dumps(recorded), run.order_id, now, run.instance),
            )
            detail = {"order": run.order_id, "attempt": run.attempt}
            self._audit(db, "run.started", run_id, detail)
        return await self._run(run_id)

    async def record_process(self, run_id: str, pid: int, pid_start: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET pid=?, pid_start=? WHERE id=?", (pid, pid_start, run_id))

    async def finish_run(self, run_id: str, outcome: RunOutcome) -> RunRecord:
        run = await self._run(run_id)
        now = time.time()
        results = dumps(outcome.results) if outcome.results is not None else None
        with self._tx() as db:
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
        with self._tx() as db:
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
        self, *, order_id: str | None = None, limit: int = 100
    ) -> Sequence[RunRecord]:
        sql, args = "SELECT * FROM runs", [order_id] if order_id else []
        sql += " WHERE order_id=?" if order_id else ""
        cur = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
        return [rows.run(r) for r in cur]

    async def unfinished_runs(self) -> Sequence[RunRecord]:
        cur = self._db.execute(
            "SELECT * FROM runs WHERE status IN (?,?) ORDER BY seq",
            (RunStatus.QUEUED, RunStatus.RUNNING),
        )
        return [rows.run(r) for r in cur]

    async def append_events(self, events: Iterable[EventRecord]) -> None:
        with self._tx() as db:
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

    # --- instances and audit --------------------------------------------------------------------
    async def get_instance(self, name: str) -> InstanceRecord | None:
        row = self._one("SELECT * FROM instances WHERE name=?", name)
        return rows.instance(row) if row else None

    async def list_instances(self) -> Sequence[InstanceRecord]:
        return [rows.instance(r) for r in self._db.execute("SELECT * FROM instances ORDER BY name")]

    async def audit(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        with self._tx() as db:
            self._audit(db, action, subject, detail, actor=actor, source=source)

    async def list_audit(self, *, subject: str | None = None) -> Sequence[AuditRecord]:
        sql, args = "SELECT * FROM audit", (subject,) if subject else ()
        sql += " WHERE subject=?" if subject else ""
        return [rows.audit(r) for r in self._db.execute(sql + " ORDER BY seq", args)]

    async def wait_changed(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._db.close()
