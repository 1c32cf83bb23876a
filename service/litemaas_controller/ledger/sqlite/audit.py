"""The SQLite ledger's audit trail: append-only (the table's triggers refuse the rest)."""

from __future__ import annotations

from typing import Any

from litemaas_controller.ledger.reads import AuditReads
from litemaas_controller.ledger.sqlite.db import Db, audit


class SqliteAudit:
    """``Audit`` on SQLite (the table's triggers keep it append-only)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.list = AuditReads(db).list

    async def append(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        await self._db.write(
            lambda db: audit(db, action, subject, detail, actor=actor, source=source)
        )
