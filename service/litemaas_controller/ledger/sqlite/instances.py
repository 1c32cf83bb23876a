"""The SQLite ledger's instances, as their orders and runs left them."""

from __future__ import annotations

from collections.abc import Sequence

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import InstanceRecord
from litemaas_controller.ledger.sqlite.db import Db


class SqliteInstances:
    """``Instances`` on SQLite."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def get(self, name: str) -> InstanceRecord | None:
        row = await self._db.one("SELECT * FROM instances WHERE name=?", name)
        return rows.instance(row) if row else None

    async def list(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        found = await self._db.all(
            "SELECT * FROM instances WHERE name>? ORDER BY name LIMIT ?", after, limit
        )
        return [rows.instance(r) for r in found]
