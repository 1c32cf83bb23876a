"""The PostgreSQL ledger's dead-letter marks: stream entries given up, never run again."""

from __future__ import annotations

import time

from litemaas_controller.ledger.pg.db import Db
from litemaas_controller.ledger.reads import DeadLetterReads


class PgDeadLetters:
    """``DeadLetters`` on PostgreSQL."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = DeadLetterReads(db)
        self.is_dead, self.list = reads.is_dead, reads.list

    async def record(self, entry: str, message_id: str | None, kind: str) -> None:
        async with self._db.tx() as db:
            await db.execute(
                "INSERT INTO dead_letters (entry, message_id, kind, at) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (entry) DO NOTHING",
                (entry, message_id, kind, time.time()),
            )
