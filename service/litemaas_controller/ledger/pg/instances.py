"""The PostgreSQL ledger's instances, as their orders and runs left them."""

from __future__ import annotations

from collections.abc import Sequence

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import InstanceRecord
from litemaas_controller.ledger.pg.db import Db, no_limit


class PgInstances:
    """``Instances`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def get(self, name: str) -> InstanceRecord | None:
        row = await self._db.one("SELECT * FROM instances WHERE name=%s", name)
        return rows.instance(row) if row else None

    async def list(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        found = await self._db.all(
            "SELECT * FROM instances WHERE name>%s ORDER BY name LIMIT %s", after, no_limit(limit)
        )
        return [rows.instance(r) for r in found]
