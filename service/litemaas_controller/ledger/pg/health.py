"""The PostgreSQL ledger's health history: each instance's observed transitions."""

from __future__ import annotations

import time
from collections.abc import Sequence

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import HealthRecord, InstanceStatus
from litemaas_controller.ledger.pg.db import Db


class PgHealth:
    """``Health`` on PostgreSQL; see ``ledger.store.Health`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def record(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        async with self._db.tx() as db:
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
        return await self.get(instance)

    async def get(self, instance: str) -> HealthRecord | None:
        row = await self._db.one(
            "SELECT * FROM health_history WHERE instance=%s ORDER BY seq DESC LIMIT 1", instance
        )
        return rows.health(row) if row else None

    async def history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        found = await self._db.all(
            "SELECT * FROM health_history WHERE instance=%s AND seq>%s ORDER BY seq LIMIT %s",
            instance,
            after,
            limit,
        )
        return [rows.health(r) for r in found]

    async def count_by_status(self) -> dict[str, int]:
        found = await self._db.all(
            "SELECT h.status, COUNT(*) AS n FROM health_history h"
            " JOIN instances i ON i.name=h.instance"
            " WHERE i.status!=%s AND h.seq=(SELECT MAX(seq) FROM health_history"
            " WHERE instance=h.instance) GROUP BY h.status",
            InstanceStatus.DESTROYED,
        )
        return {r["status"]: r["n"] for r in found}
