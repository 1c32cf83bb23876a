"""The PostgreSQL ledger's dead-letter marks: stream entries given up, never run again."""

from __future__ import annotations

import time
from collections.abc import Sequence

from litemaas_controller.ledger.models import DeadLetterRecord
from litemaas_controller.ledger.pg.db import Db


class PgDeadLetters:
    """``DeadLetters`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def record(self, entry: str, message_id: str | None, kind: str) -> None:
        async with self._db.tx() as db:
            await db.execute(
                "INSERT INTO dead_letters (entry, message_id, kind, at) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (entry) DO NOTHING",
                (entry, message_id, kind, time.time()),
            )

    async def is_dead(self, entry: str) -> bool:
        return await self._db.one("SELECT 1 FROM dead_letters WHERE entry=%s", entry) is not None

    async def list(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        found = await self._db.all(
            "SELECT seq, entry, message_id, kind, at FROM dead_letters"
            " WHERE %s::BIGINT IS NULL OR seq<%s ORDER BY seq DESC LIMIT %s",
            before, before, limit,
        )  # fmt: skip
        return [DeadLetterRecord(**r) for r in found]
