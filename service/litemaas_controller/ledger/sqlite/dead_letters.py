"""The SQLite ledger's dead-letter marks: stream entries given up, never run again."""

from __future__ import annotations

import time

from litemaas_controller.ledger.reads import DeadLetterReads
from litemaas_controller.ledger.sqlite.db import Db


class SqliteDeadLetters:
    """``DeadLetters`` on SQLite (its table orders the marks by ``rowid``)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        reads = DeadLetterReads(db, seq="rowid")
        self.is_dead, self.list = reads.is_dead, reads.list

    async def record(self, entry: str, message_id: str | None, kind: str) -> None:
        values = (entry, message_id, kind, time.time())
        sql = "INSERT OR IGNORE INTO dead_letters VALUES (?,?,?,?)"
        await self._db.write(lambda db: db.execute(sql, values))
