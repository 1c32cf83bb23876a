"""The PostgreSQL ledger's audit trail: append-only (the table's triggers refuse the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litemaas_controller.ledger import rows
from litemaas_controller.ledger.models import AuditRecord
from litemaas_controller.ledger.pg.db import Db, audit, no_limit


class PgAudit:
    """``Audit`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        async with self._db.tx() as db:
            await audit(db, action, subject, detail, actor=actor, source=source)

    async def list(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        found = await self._db.all(
            "SELECT * FROM audit WHERE seq>%s AND (%s::TEXT IS NULL OR subject=%s)"
            " ORDER BY seq LIMIT %s",
            after, subject or None, subject or None, no_limit(limit),
        )  # fmt: skip
        return [rows.audit(r) for r in found]
