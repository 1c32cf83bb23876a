"""The PostgreSQL ledger's health history: each instance's observed transitions."""

from __future__ import annotations

import time

from litemaas_controller.ledger.models import HealthRecord
from litemaas_controller.ledger.pg.db import Db
from litemaas_controller.ledger.reads import HealthReads


class PgHealth:
    """``Health`` on PostgreSQL; see ``ledger.store.Health`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = HealthReads(db)
        self.get, self.history = reads.get, reads.history
        self.count_by_status = reads.count_by_status

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
