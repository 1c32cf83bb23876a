"""The PostgreSQL ledger's connections, the gateways' shared part: a pool, transactions, errors.

Reads take any pooled connection (autocommit: each statement sees what is committed).  Writes
are one transaction each, one at a time in this process as on SQLite.  A pooled connection is
checked before use, so one broken by a restart of the server is replaced; while the server is
unreachable every read and write fails after a few seconds with ``LedgerWriteError`` (a
temporary error: the dispatcher and the callers retry), and nothing half-written is kept.

The password never travels in the URL (the settings refuse one there): it comes from the
password file, read again for every new connection (``pg.password``), or libpq's own environment
(``PGPASSWORD``, ``PGPASSFILE``), and every message built from a driver error has it blanked.

Every write transaction ends with a notification on ``CHANNEL`` (delivered on commit), which the
change listener of every replica (``pg.listen``) turns into its ``changes.notify()``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
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
from litemaas_controller.ledger.pg.password import Password
from litemaas_controller.ledger.pg.schema import migrate
from litemaas_controller.ledger.rows import append_audit

Conn = psycopg.AsyncConnection[DictRow]

#: seconds a statement waits for a pooled connection before the ledger counts as unreachable
POOL_TIMEOUT = 5.0
POOL_MAX = 8
#: the channel every write transaction notifies (the payload: the writing store's ``origin``)
CHANNEL = "litemaas_ledger"
#: the listener's connection as ``pg_stat_activity`` shows it
LISTENER = "litemaas-controller listener"


class _NulFreeText(StrDumperUnknown):
    """PostgreSQL's text holds no NUL character, SQLite's does: a run's output or a message
    field that has one keeps it as U+FFFD instead of failing the write."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_dumper(str, _NulFreeText)


class Db:
    """The pool, change notification and ledger id.  Build it with ``await Db.open(...)``.

    ``reachable`` is False from a call that found the server unreachable until one succeeds.
    """

    mark = "%s"  # the driver's placeholder

    def __init__(
        self, pool: AsyncConnectionPool[Conn], ledger_id: str, password: Password, url: str
    ) -> None:
        self._pool = pool
        self.ledger_id = ledger_id
        self._password = password
        self._url = url
        self._writing = asyncio.Lock()  # one write transaction at a time, as on SQLite
        self.changes = Changes()
        self.reachable = True
        self.origin = uuid.uuid4().hex  # this store's notifications: its listener skips them

    @classmethod
    async def open(cls, url: str, password_file: Path | None = None) -> Db:
        """Migrate the schema (under the advisory lock), then open the pool."""
        password = Password(password_file)
        try:
            async with await psycopg.AsyncConnection.connect(
                url, **await password.connect_kwargs(context=_ADAPTERS)
            ) as conn:
                ledger_id, _ = await migrate(conn)
        except psycopg.Error as exc:
            raise LedgerWriteError(
                f"the ledger (PostgreSQL) could not be opened: {password.blank(str(exc))}"
            ) from None
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            connection_class=psycopg.AsyncConnection[DictRow],
            kwargs=partial(
                password.connect_kwargs, autocommit=True, row_factory=dict_row, context=_ADAPTERS
            ),
            min_size=1,
            max_size=POOL_MAX,
            timeout=POOL_TIMEOUT,
            check=AsyncConnectionPool.check_connection,
            open=False,
        )
        await pool.open()
        return cls(pool, ledger_id, password, url)

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        """A pooled connection; an unreachable server is ``LedgerUnreachableError``."""
        try:
            async with self._pool.connection() as conn:
                self.reachable = True
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self.unreachable(exc) from None

    def unreachable(self, exc: Exception) -> LedgerUnreachableError:
        """Note that the server is unreachable; the error saying so (the password blanked)."""
        self.reachable = False
        message = self._password.blank(str(exc))
        return LedgerUnreachableError(f"the ledger (PostgreSQL) is unreachable: {message}")

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """A connection of its own, outside the pool, in autocommit (the change listener's)."""
        return await psycopg.AsyncConnection.connect(
            self._url,
            **await self._password.connect_kwargs(
                autocommit=True,
                application_name=LISTENER,
                connect_timeout=int(POOL_TIMEOUT),  # a server that does not answer counts as away
            ),
        )

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        """One write transaction: committed at the end of the block, else rolled back."""
        async with self._writing, self._conn() as conn, conn.transaction():
            yield conn
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.origin))
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


#: append to the audit trail in the caller's transaction (``rows.append_audit``), to await
audit = partial(append_audit, mark=Db.mark)
