"""The SQLite ledger's audit trail: append-only (the table's triggers refuse the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import AuditRecord
from litemaas_controller.ledger.sqlite.db import Db, audit


class SqliteAudit:
    """``Audit`` on SQLite (the table's triggers keep it append-only)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        await self._db.write(
            lambda db: audit(db, action, subject, detail, actor=actor, source=source)
        )

    async def list(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        args: tuple[object, ...] = (after, subject) if subject else (after,)
        where = "seq>? AND subject=?" if subject else "seq>?"
        sql = f"SELECT * FROM audit WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
        return [rows.audit(r) for r in await self._db.all(sql, *args, limit)]
