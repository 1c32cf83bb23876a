"""The shared ledger: ``Store`` on PostgreSQL (psycopg 3, async, pooled), for
``LITEMAAS_LEDGER_URL=postgresql://...``.

Composed like the SQLite store, one gateway per concern on the shared ``Db`` (``pg.db``: the
pool, transactions, errors): ``orders``, ``runs`` and ``events``, ``health``, ``dead_letters``,
``instances`` and ``audit``; ``schema`` migrates (under an advisory lock), ``retention``
prunes, ``listen`` hears the other replicas' writes.  Rows map to records through
``ledger.rows``, as SQLite's do.
"""

from __future__ import annotations

from pathlib import Path

from litemaas_controller.ledger.models import Cutoffs
from litemaas_controller.ledger.pg import retention
from litemaas_controller.ledger.pg.audit import PgAudit
from litemaas_controller.ledger.pg.db import Db, audit
from litemaas_controller.ledger.pg.dead_letters import PgDeadLetters
from litemaas_controller.ledger.pg.health import PgHealth
from litemaas_controller.ledger.pg.listen import ChangeListener
from litemaas_controller.ledger.pg.orders import PgOrders
from litemaas_controller.ledger.pg.runs import PgEvents, PgRuns
from litemaas_controller.ledger.reads import InstanceReads


class PgStore:
    """``Store`` on PostgreSQL.  Open it with ``await PgStore.open(url, password_file)``."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.orders = PgOrders(db)
        self.runs = PgRuns(db)
        self.events = PgEvents(db)
        self.health = PgHealth(db)
        self.dead_letters = PgDeadLetters(db)
        self.instances = InstanceReads(db)
        self.audit = PgAudit(db)
        self._listener = ChangeListener(db)

    @classmethod
    async def open(cls, url: str, password_file: Path | None = None) -> PgStore:
        """Migrate the schema (under the advisory lock), open the pool, listen for changes."""
        store = cls(await Db.open(url, password_file))
        await store._listener.start()
        return store

    @property
    def ledger_id(self) -> str:
        return self._db.ledger_id

    async def prune(self, cutoffs: Cutoffs) -> dict[str, int]:
        async with self._db.tx() as db:
            counts = await retention.prune(db, cutoffs)
            if any(counts.values()):
                await audit(db, "ledger.pruned", "ledger", counts, source="retention")
        return counts

    async def wait_changed(self, timeout: float) -> bool:
        return await self._db.changes.wait(timeout)

    @property
    def reachable(self) -> bool:
        return self._db.reachable

    async def close(self) -> None:
        await self._listener.stop()
        await self._db.close()
