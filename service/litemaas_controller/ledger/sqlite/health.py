"""The SQLite ledger's health history: each instance's observed transitions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import HealthRecord, InstanceStatus
from litemaas_controller.ledger.sqlite.db import Db


class SqliteHealth:
    """``Health`` on SQLite; see ``ledger.store.Health`` for the contract of each method."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def record(
        self, instance: str, status: str, reason: str, since: float
    ) -> HealthRecord | None:
        if not await self._db.write(lambda db: _append(db, instance, status, reason, since)):
            return None
        return await self.get(instance)

    async def get(self, instance: str) -> HealthRecord | None:
        row = await self._db.one(
            "SELECT * FROM health_history WHERE instance=? ORDER BY seq DESC LIMIT 1", instance
        )
        return rows.health(row) if row else None

    async def history(
        self, instance: str, after: int = 0, limit: int = 100
    ) -> Sequence[HealthRecord]:
        found = await self._db.all(
            "SELECT * FROM health_history WHERE instance=? AND seq>? ORDER BY seq LIMIT ?",
            instance,
            after,
            limit,
        )
        return [rows.health(r) for r in found]

    async def count_by_status(self) -> dict[str, int]:
        found = await self._db.all(
            "SELECT h.status, COUNT(*) FROM health_history h JOIN instances i ON i.name=h.instance"
            " WHERE i.status!=? AND h.seq=(SELECT MAX(seq) FROM health_history"
            " WHERE instance=h.instance) GROUP BY h.status",
            InstanceStatus.DESTROYED,
        )
        return {status: count for status, count in found}


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
