"""The PostgreSQL ledger's connections, the gateways' shared part: a pool, transactions, errors.

Reads take any pooled connection (autocommit: each statement sees what is committed).  Writes
are one transaction each, one at a time in this process as on SQLite.  A pooled connection is
checked before use, so one broken by a restart of the server is replaced; while the server is
unreachable every read and write fails after a few seconds with ``LedgerWriteError`` (a
temporary error: the dispatcher and the callers retry), and nothing half-written is kept.

The password never travels in the URL (the settings refuse one there): it comes from the
password file or libpq's own environment (``PGPASSWORD``, ``PGPASSFILE``), and every message
built from a driver error has it blanked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap
from psycopg.rows import DictRow, dict_row
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from litemaas_controller.errors import LedgerUnreachableError, LedgerWriteError
from litemaas_controller.ledger.changes import Changes
from litemaas_controller.ledger.pg.schema import migrate
from litemaas_controller.ledger.rows import dumps

Conn = psycopg.AsyncConnection[DictRow]

#: seconds a statement waits for a pooled connection before the ledger counts as unreachable
POOL_TIMEOUT = 5.0
POOL_MAX = 8


class _NulFreeText(StrDumperUnknown):
    """PostgreSQL's text holds no NUL character, SQLite's does: a run's output or a message
    field that has one keeps it as U+FFFD instead of failing the write."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_dumper(str, _NulFreeText)


def no_limit(limit: int) -> int | None:
    """The ledger's ``limit=-1`` (all) is PostgreSQL's ``LIMIT NULL``."""
    return None if limit < 0 else limit


class Db:
    """The pool, change notification and ledger id.  Build it with ``await Db.open(...)``."""

    def __init__(self, pool: AsyncConnectionPool[Conn], ledger_id: str, password: str) -> None:
        self._pool = pool
        self.ledger_id = ledger_id
        self._password = password
        self._writing = asyncio.Lock()  # one write transaction at a time, as on SQLite
        self.changes = Changes()

    @classmethod
    async def open(cls, url: str, password_file: Path | None = None) -> Db:
        """Migrate the schema (under the advisory lock), then open the pool."""
        password = password_file.read_text(encoding="utf-8").strip() if password_file else ""
        try:
            async with await psycopg.AsyncConnection.connect(
                url, password=password or None, context=_ADAPTERS
            ) as conn:
                ledger_id, _ = await migrate(conn)
        except psycopg.Error as exc:
            raise LedgerWriteError(
                f"the ledger (PostgreSQL) could not be opened: {_blank(str(exc), password)}"
            ) from None
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            connection_class=psycopg.AsyncConnection[DictRow],
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "password": password or None,
                "context": _ADAPTERS,
            },
            min_size=1,
            max_size=POOL_MAX,
            timeout=POOL_TIMEOUT,
            check=AsyncConnectionPool.check_connection,
            open=False,
        )
        await pool.open()
        return cls(pool, ledger_id, password)

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        """A pooled connection; an unreachable server is ``LedgerUnreachableError``."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            message = _blank(str(exc), self._password)
            raise LedgerUnreachableError(
                f"the ledger (PostgreSQL) is unreachable: {message}"
            ) from None

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        """One write transaction: committed at the end of the block, else rolled back."""
        async with self._writing, self._conn() as conn, conn.transaction():
            yield conn
        self.changes.notify()

    async def one(self, sql: str, *args: Any) -> DictRow | None:
        async with self._conn() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchone()

    async def all(self, sql: str, *args: Any) -> list[DictRow]:
        async with self._conn() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchall()

    async def close(self) -> None:
        async with self._writing:
            await self._pool.close()


def _blank(message: str, password: str) -> str:
    return message.replace(password, "***") if password else message


async def audit(
    db: Conn,
    action: str,
    subject: str,
    detail: dict[str, Any],
    *,
    actor: str = "controller",
    source: str = "dispatch",
) -> None:
    """Append to the audit trail in ``db``'s transaction."""
    await db.execute(
        "INSERT INTO audit (at, actor, action, subject, source, detail) VALUES (%s,%s,%s,%s,%s,%s)",
        (time.time(), actor, action, subject, source, dumps(detail)),
    )
