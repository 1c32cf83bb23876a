"""The embedded ledger: ``Store`` on one SQLite file (WAL), its statements off the event loop.

Composed of one gateway per concern, each on the shared ``Db`` (``sqlite.db``: the file, its two
connections and their threads): ``orders``, ``runs`` and ``events``, ``health``,
``dead_letters``, ``instances`` and ``audit``; ``retention`` prunes, ``migrate`` brings an
older file to the current schema.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from litemaas_controller.ledger.models import Cutoffs
from litemaas_controller.ledger.reads import InstanceReads
from litemaas_controller.ledger.sqlite import retention
from litemaas_controller.ledger.sqlite.audit import SqliteAudit
from litemaas_controller.ledger.sqlite.db import Db, audit
from litemaas_controller.ledger.sqlite.dead_letters import SqliteDeadLetters
from litemaas_controller.ledger.sqlite.health import SqliteHealth
from litemaas_controller.ledger.sqlite.orders import SqliteOrders
from litemaas_controller.ledger.sqlite.runs import SqliteEvents, SqliteRuns


class SqliteStore:
    """``Store`` on a SQLite file.  Open it with ``await SqliteStore.open(path)``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.orders = SqliteOrders(db)
        self.runs = SqliteRuns(db)
        self.events = SqliteEvents(db)
        self.health = SqliteHealth(db)
        self.dead_letters = SqliteDeadLetters(db)
        self.instances = InstanceReads(db)
        self.audit = SqliteAudit(db)

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        return cls(await Db.open(path))

    @property
    def ledger_id(self) -> str:
        return self._db.ledger_id

    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        def prune(db: sqlite3.Connection) -> dict[str, int]:
            counts = retention.prune(db, cutoffs)
            if any(counts.values()):
                audit(db, "ledger.pruned", "ledger", counts, source="retention")
            return counts

        return await self._db.write(prune)

    async def wait_changed(self, timeout: float) -> bool:
        return await self._db.changes.wait(timeout)

    @property
    def reachable(self) -> bool:
        return True  # a file on the replica's own volume

    async def close(self) -> None:
        await self._db.close()
