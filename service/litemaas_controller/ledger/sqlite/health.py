"""The SQLite ledger's health history: each instance's observed transitions."""

from __future__ import annotations

import sqlite3
import time

from litemaas_controller.ledger.models import HealthRecord
from litemaas_controller.ledger.reads import HealthReads
from litemaas_controller.ledger.sqlite.db import Db


class SqliteHealth:
    """``Health`` on SQLite; see ``ledger.store.Health`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = HealthReads(db)
        self.get, self.history = reads.get, reads.history
        self.count_by_status = reads.count_by_status

    async def record(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        if not await self._db.write(lambda db: _append(db, instance, status, reason, since)):
            return None
        return await self.get(instance)


def _append(db: sqlite3.Connection, instance: str, status: str, reason: str, since: float) -> bool:
    """Append the transition unless it is the instance's current health; True when appended."""
    current = db.execute(
        "SELECT status, reason FROM health_history WHERE instance=? ORDER BY seq DESC LIMIT 1",
        (instance,),
    ).fetchone()
    if current is not None and tuple(current) == (status, reason):
        return False
    db.execute(
        "INSERT INTO health_history (instance, status, reason, since, at) VALUES (?,?,?,?,?)",
        (instance, status, reason, since, time.time()),
    )
    return True
