"""The SQLite ledger's dead-letter marks: stream entries given up, never run again."""

from __future__ import annotations

import time
from collections.abc import Sequence

from litemaas_controller.ledger.models import DeadLetterRecord
from litemaas_controller.ledger.sqlite.db import Db


class SqliteDeadLetters:
    """``DeadLetters`` on SQLite."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def record(self, entry: str, message_id: str | None, kind: str) -> None:
        values = (entry, message_id, kind, time.time())
        sql = "INSERT OR IGNORE INTO dead_letters VALUES (?,?,?,?)"
        await self._db.write(lambda db: db.execute(sql, values))

    async def is_dead(self, entry: str) -> bool:
        return await self._db.one("SELECT 1 FROM dead_letters WHERE entry=?", entry) is not None

    async def list(
        self, *, limit: int = 100, before: int | None = None
    ) -> Sequence[DeadLetterRecord]:
        where = "" if before is None else " WHERE rowid<?"
        sql = f"SELECT rowid AS seq, * FROM dead_letters{where} ORDER BY rowid DESC LIMIT ?"  # noqa: S608
        args = (limit,) if before is None else (before, limit)
        return [DeadLetterRecord(**dict(r)) for r in await self._db.all(sql, *args)]
