"""The ledger's reads, one class per table, shared by both stores (SQLite, PostgreSQL).

Their SQL is the same on both but for the driver's placeholder: written with ``?``, each
statement runs with its ``Db``'s ``mark``.  The gateways of ``ledger.sqlite`` and ``ledger.pg``
hold these reads beside their writes, which stay per backend (their transactions differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import (
    AuditRecord,
    DeadLetterRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunRecord,
    RunStatus,
)


class Db(Protocol):
    """What the reads need of a store's ``Db``: a row, all rows, and the driver's placeholder."""

    mark: str

    async def one(self, sql: str, *args: Any) -> rows.Row | None: ...

    async def all(self, sql: str, *args: Any) -> Sequence[rows.Row]: ...


def _limit(limit: int) -> tuple[str, tuple[int, ...]]:
    """The ``LIMIT`` clause of at most ``limit`` rows, none for -1 (all: SQLite's ``LIMIT -1``,
    PostgreSQL's ``LIMIT NULL``)."""
    return (" LIMIT ?", (limit,)) if limit >= 0 else ("", ())


class _Reads:
    """Statements written with ``?`` on ``db``, with its placeholder."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def _one(self, sql: str, *args: Any) -> rows.Row | None:
        return await self._db.one(sql.replace("?", self._db.mark), *args)

    async def _all(self, sql: str, *args: Any) -> Sequence[rows.Row]:
        return await self._db.all(sql.replace("?", self._db.mark), *args)


class OrderReads(_Reads):
    """The reads of ``ledger.store.Orders`` (but ``newer_run_about``: JSON differs)."""

    async def get(self, order_id: str) -> OrderRecord | None:
        row = await self._one("SELECT * FROM orders WHERE id=?", order_id)
        return rows.order(row) if row else None

    async def namespace_holder(self, namespace: str) -> str | None:
        row = await self._one(
            "SELECT name FROM instances WHERE namespace=? AND status!=?",
            namespace,
            InstanceStatus.DESTROYED,
        )
        return str(row["name"]) if row else None

    async def list(
        self,
        *,
        instance: str | None = None,
        limit: int = 100,
        before: int | None = None,
        status: str | None = None,
    ) -> Sequence[OrderRecord]:
        where, args = rows.newest_first("instance", instance or None, before, status=status or None)
        sql = f"SELECT * FROM orders{where} ORDER BY seq DESC LIMIT ?"  # noqa: S608
        return [rows.order(r) for r in await self._all(sql, *args, limit)]

    async def next_queued(self, instance: str) -> OrderRecord | None:
        row = await self._one(
            "SELECT * FROM orders WHERE instance=? AND status=?"
            " ORDER BY COALESCE(queue_seq, seq) LIMIT 1",
            instance,
            OrderStatus.QUEUED,
        )
        return rows.order(row) if row else None

    async def instances_with_queued(self) -> Sequence[str]:
        found = await self._all(
            "SELECT instance, MIN(COALESCE(queue_seq, seq)) AS first FROM orders o WHERE status=?"
            " AND NOT EXISTS (SELECT 1 FROM runs WHERE instance=o.instance AND status IN (?,?))"
            " GROUP BY instance ORDER BY first",
            OrderStatus.QUEUED,
            RunStatus.QUEUED,
            RunStatus.RUNNING,
        )
        return [r["instance"] for r in found]

    async def count_by_status(self) -> dict[OrderStatus, int]:
        found = await self._all("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
        return rows.status_counts((r["status"], r["n"]) for r in found)


class HealthReads(_Reads):
    """The reads of ``ledger.store.Health``."""

    async def get(self, instance: str) -> HealthRecord | None:
        row = await self._one(
            "SELECT * FROM health_history WHERE instance=? ORDER BY seq DESC LIMIT 1", instance
        )
        return rows.health(row) if row else None

    async def history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        found = await self._all(
            "SELECT * FROM health_history WHERE instance=? AND seq>? ORDER BY seq LIMIT ?",
            instance,
            after,
            limit,
        )
        return [rows.health(r) for r in found]

    async def count_by_status(self) -> dict[str, int]:
        found = await self._all(
            "SELECT h.status, COUNT(*) AS n FROM health_history h"
            " JOIN instances i ON i.name=h.instance"
            " WHERE i.status!=? AND h.seq=(SELECT MAX(seq) FROM health_history"
            " WHERE instance=h.instance) GROUP BY h.status",
            InstanceStatus.DESTROYED,
        )
        return {r["status"]: r["n"] for r in found}


class DeadLetterReads(_Reads):
    """The reads of ``ledger.store.DeadLetters``; ``seq``: the column that orders the marks
    (SQLite's table has none of its own: ``rowid``)."""

    def __init__(self, db: Db, seq: str = "seq") -> None:
        super().__init__(db)
        self._seq = seq

    async def is_dead(self, entry: str) -> bool:
        return await self._one("SELECT 1 FROM dead_letters WHERE entry=?", entry) is not None

    async def list(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        seq = self._seq
        where, args = ("", ()) if before is None else (f" WHERE {seq}<?", (before,))
        sql = (
            f"SELECT {seq} AS seq, entry, message_id, kind, at FROM dead_letters{where}"  # noqa: S608
            f" ORDER BY {seq} DESC LIMIT ?"
        )
        return [DeadLetterRecord(**dict(r)) for r in await self._all(sql, *args, limit)]


class InstanceReads(_Reads):
    """``ledger.store.Instances``: all reads."""

    async def get(self, name: str) -> InstanceRecord | None:
        row = await self._one("SELECT * FROM instances WHERE name=?", name)
        return rows.instance(row) if row else None

    async def list(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        clause, args = _limit(limit)
        sql = f"SELECT * FROM instances WHERE name>? ORDER BY name{clause}"  # noqa: S608
        return [rows.instance(r) for r in await self._all(sql, after, *args)]


class AuditReads(_Reads):
    """The reads of ``ledger.store.Audit``."""

    async def list(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        args: tuple[object, ...] = (after, subject) if subject else (after,)
        where = "seq>? AND subject=?" if subject else "seq>?"
        clause, more = _limit(limit)
        sql = f"SELECT * FROM audit WHERE {where} ORDER BY seq{clause}"  # noqa: S608
        return [rows.audit(r) for r in await self._all(sql, *args, *more)]


class RunReads(_Reads):
    """The reads of ``ledger.store.Runs``; ``clock``: the SQL expression of the ledger's clock in
    epoch seconds, the one the backend's leases are written on."""

    def __init__(self, db: Db, clock: str) -> None:
        super().__init__(db)
        self._clock = clock

    async def get(self, run_id: str) -> RunRecord | None:
        row = await self._one("SELECT * FROM runs WHERE id=?", run_id)
        return rows.run(row) if row else None

    async def list(
        self, *, order_id: str | None = None, limit: int = 100, before: int | None = None
    ) -> Sequence[RunRecord]:
        where, args = rows.newest_first("order_id", order_id or None, before)
        sql = f"SELECT * FROM runs{where} ORDER BY seq DESC LIMIT ?"  # noqa: S608
        return [rows.run(r) for r in await self._all(sql, *args, limit)]

    async def unfinished(self) -> Sequence[RunRecord]:
        return await self._unfinished("")

    async def owned(self, owner: str) -> Sequence[RunRecord]:
        return await self._unfinished(" AND (owner=? OR owner IS NULL)", owner)

    async def expired(self) -> Sequence[RunRecord]:
        return await self._unfinished(f" AND lease_until < {self._clock}")

    async def _unfinished(self, where: str, *args: object) -> Sequence[RunRecord]:
        found = await self._all(
            f"SELECT * FROM runs WHERE status IN (?,?){where} ORDER BY seq",  # noqa: S608
            RunStatus.QUEUED, RunStatus.RUNNING, *args,
        )  # fmt: skip
        return [rows.run(r) for r in found]


class EventReads(_Reads):
    """The reads of ``ledger.store.Events``."""

    async def after(self, run_id: str, after: int, limit: int = 500) -> Sequence[EventRecord]:
        found = await self._all(
            "SELECT * FROM events WHERE run_id=? AND seq>? ORDER BY seq LIMIT ?",
            run_id,
            after,
            limit,
        )
        return [rows.event(r) for r in found]
