"""The PostgreSQL ledger's connections: a pool, transactions, errors, instances, audit.

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
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap
from psycopg.rows import DictRow, dict_row
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from litemaas_controller.errors import LedgerWriteError
from litemaas_controller.ledger import rows
from litemaas_controller.ledger.changes import Changes
from litemaas_controller.ledger.models import AuditRecord, InstanceRecord
from litemaas_controller.ledger.pg_schema import migrate
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


def _no_limit(limit: int) -> int | None:
    """The ledger's ``limit=-1`` (all) is PostgreSQL's ``LIMIT NULL``."""
    return None if limit < 0 else limit


class PgBase:
    """What every part of ``PgStore`` shares.  Build it with ``await PgStore.open(...)``."""

    def __init__(self, pool: AsyncConnectionPool[Conn], ledger_id: str, password: str) -> None:
        self._pool = pool
        self._ledger_id = ledger_id
        self._password = password
        self._writing = asyncio.Lock()  # one write transaction at a time, as on SQLite
        self._changes = Changes()

    @classmethod
    async def open(cls, url: str, password_file: Path | None = None) -> Self:
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

    @property
    def ledger_id(self) -> str:
        return self._ledger_id

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        """A pooled connection; an unreachable server is ``LedgerWriteError``."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            message = _blank(str(exc), self._password)
            raise LedgerWriteError(f"the ledger (PostgreSQL) is unreachable: {message}") from None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        """One write transaction: committed at the end of the block, else rolled back."""
        async with self._writing, self._conn() as conn, conn.transaction():
            yield conn
        self._changes.notify()

    async def _one(self, sql: str, *args: Any) -> DictRow | None:
        async with self._conn() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchone()

    async def _all(self, sql: str, *args: Any) -> list[DictRow]:
        async with self._conn() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchall()

    async def _audit(
        self,
        db: Conn,
        action: str,
        subject: str,
        detail: dict[str, Any],
        *,
        actor: str = "controller",
        source: str = "dispatch",
    ) -> None:
        await db.execute(
            "INSERT INTO audit (at, actor, action, subject, source, detail)"
            " VALUES (%s,%s,%s,%s,%s,%s)",
            (time.time(), actor, action, subject, source, dumps(detail)),
        )

    # --- instances and audit --------------------------------------------------------------------
    async def get_instance(self, name: str) -> InstanceRecord | None:
        row = await self._one("SELECT * FROM instances WHERE name=%s", name)
        return rows.instance(row) if row else None

    async def list_instances(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        found = await self._all(
            "SELECT * FROM instances WHERE name>%s ORDER BY name LIMIT %s", after, _no_limit(limit)
        )
        return [rows.instance(r) for r in found]

    async def audit(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        async with self._tx() as db:
            await self._audit(db, action, subject, detail, actor=actor, source=source)

    async def list_audit(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        found = await self._all(
            "SELECT * FROM audit WHERE seq>%s AND (%s::TEXT IS NULL OR subject=%s)"
            " ORDER BY seq LIMIT %s",
            after, subject or None, subject or None, _no_limit(limit),
        )  # fmt: skip
        return [rows.audit(r) for r in found]

    async def wait_changed(self, timeout: float) -> bool:
        return await self._changes.wait(timeout)

    async def close(self) -> None:
        async with self._writing:
            await self._pool.close()


def _blank(message: str, password: str) -> str:
    return message.replace(password, "***") if password else message
