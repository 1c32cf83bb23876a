"""The SQLite ledger's file and connections, each used by a thread of its own.

The event loop runs no SQLite statement: a lock held from outside (a write lock past the busy
timeout, or the WAL's read marks, which a reader retries for up to about ten seconds) stalls the
reads or writes queued behind it and nothing else: health checks and every other request go on.

Two connections.  Reads use one (under WAL a reader does not wait for a writer).  Writes use the
other, one transaction at a time (its one thread runs one job at a time): ``write(fn)`` runs a
whole transaction (``BEGIN IMMEDIATE``, ``fn``, ``COMMIT``) as one job, so a caller cancelled
meanwhile leaves nothing half-done: a job not started yet is dropped, a started one runs to its
end.  ``close`` closes each connection in its thread, after the jobs before it (closing a
connection another thread uses crashes the process).  WAL with ``synchronous=NORMAL`` survives a
crash of the process (a power cut may lose the last commits, which at-least-once delivery
covers).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from litemaas_controller.errors import LedgerWriteError
from litemaas_controller.ledger.changes import Changes
from litemaas_controller.ledger.rows import append_audit
from litemaas_controller.ledger.sqlite.migrate import migrate
from litemaas_controller.ledger.sqlite.schema import DDL, INDEX_DDL, SCHEMA_VERSION

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]


def _connect(path: Path) -> sqlite3.Connection:
    _owner_only(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


def _owner_only(path: Path) -> None:
    """Create the ledger's directory 0700 and file 0600 before SQLite opens it (its -wal and -shm
    files take the database file's mode), and tighten an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_uid == os.getuid():
            file.chmod(0o600)


class _Connection:
    """One connection and the one thread that runs its statements."""

    def __init__(self, name: str) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._db: sqlite3.Connection | None = None

    async def open(self, path: Path) -> None:
        self._db = await self._run(_connect, path)

    async def call(self, job: Job[T]) -> T:
        if self._db is None:
            raise sqlite3.ProgrammingError("the ledger is closed")
        return await self._run(job, self._db)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def close(self) -> None:
        """After every job queued before; a cancelled ``close`` still closes."""
        if self._db is not None:
            await asyncio.shield(self._run(self._db.close))
            self._db = None
        await asyncio.to_thread(self._thread.shutdown, wait=True)


class Db:
    """The ledger file's two connections, change notification and ledger id; the gateways'
    shared part.  Build it with ``await Db.open(path)``."""

    mark = "?"  # the driver's placeholder

    def __init__(self) -> None:
        self._reader = _Connection("ledger-read")
        self._writer = _Connection("ledger-write")
        self._loop = asyncio.get_running_loop()
        self.changes = Changes()
        self.ledger_id = ""

    @classmethod
    async def open(cls, path: Path) -> Db:
        """Create (0600, in a 0700 directory) or migrate the ledger in ``path``."""
        db = cls()
        try:
            await db._writer.open(path)
            db.ledger_id = await db._writer.call(db._setup)
            await db._reader.open(path)
        except BaseException:
            await db.close()
            raise
        return db

    def _setup(self, conn: sqlite3.Connection) -> str:
        """In the writer's thread: WAL, the tables, the meta rows, the migrations."""
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(DDL)
        ledger_id = self._transaction(conn, _init_meta)
        migrate(conn)
        conn.executescript(INDEX_DDL)
        return ledger_id

    async def read(self, job: Job[T]) -> T:
        """``job`` on the reading connection, in its thread."""
        return await self._reader.call(job)

    async def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = await self.read(lambda db: db.execute(sql, args).fetchone())
        return row

    async def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return await self.read(lambda db: db.execute(sql, args).fetchall())

    async def write(self, job: Job[T]) -> T:
        """``job`` in one write transaction, in the writer's thread: committed when it returns,
        else rolled back.  A write SQLite refuses (disk full, a lock held past the busy
        timeout...) is ``LedgerWriteError``."""
        return await self._writer.call(lambda db: self._transaction(db, job))

    def _transaction(self, db: sqlite3.Connection, job: Job[T]) -> T:
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = job(db)
                db.execute("COMMIT")
            except BaseException:
                # a failed COMMIT leaves the transaction open unless SQLite rolled it back
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise LedgerWriteError(f"the ledger could not be written: {exc}") from exc
        if not self._loop.is_closed():  # wake the waiters, also when the caller gave up
            self._loop.call_soon_threadsafe(self.changes.notify)
        return result

    async def close(self) -> None:
        """Close both connections once the work queued on them is done."""
        await self._writer.close()
        await self._reader.close()


def _init_meta(db: sqlite3.Connection) -> str:
    db.execute("INSERT OR IGNORE INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    return str(db.execute("SELECT value FROM meta WHERE key='ledger_id'").fetchone()[0])


#: append to the audit trail in the caller's transaction (``rows.append_audit``)
audit = partial(append_audit, mark=Db.mark)
