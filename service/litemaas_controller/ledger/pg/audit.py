"""The PostgreSQL ledger's audit trail: append-only (the table's triggers refuse the rest)."""

from __future__ import annotations

from typing import Any

from litemaas_controller.ledger.pg.db import Db, audit
from litemaas_controller.ledger.reads import AuditReads


class PgAudit:
    """``Audit`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.list = AuditReads(db).list

    async def append(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        async with self._db.tx() as db:
            await audit(db, action, subject, detail, actor=actor, source=source)
