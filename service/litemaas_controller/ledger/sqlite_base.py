"""The SQLite ledger's connections: WAL, transactions, change notification, instances, audit.

Two connections.  Reads use one on the event loop's thread: statements are short (an index
lookup), and under WAL a reader never waits for a writer.  Writes use the other, one transaction
at a time: its ``BEGIN IMMEDIATE``, the one statement that may wait (up to the busy timeout, for
a write lock another process holds), runs in a thread, so such a lock stalls the writes queued
behind it and nothing else: health checks, reads and streams go on.  The transaction's own
statements then run inline, the lock held.  WAL with ``synchronous=NORMAL`` survives a crash of
the process (a power cut may lose the last commits, which at-least-once delivery covers).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from litemaas_controller.errors import LedgerWriteError
from litemaas_controller.ledger import rows
from litemaas_controller.ledger.changes import Changes
from litemaas_controller.ledger.models import (
    AuditRecord,
    InstanceRecord,
)
from litemaas_controller.ledger.rows import dumps
from litemaas_controller.ledger.sqlite_migrate import migrate
from litemaas_controller.ledger.sqlite_rows import DDL, SCHEMA_VERSION


def _connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


def _owner_only(path: Path) -> None:
    """Create the ledger file 0600 before SQLite opens it (its -wal and -shm files take the
    database file's mode), and tighten an existing one."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_uid == os.getuid():
            file.chmod(0o600)


class SqliteBase:
    """What every part of ``SqliteStore`` shares."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _owner_only(path)
        self._db = _connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(DDL)
        self._writer = _connect(path, check_same_thread=False)  # its BEGIN waits in a thread
        self._writing = asyncio.Lock()  # one write transaction at a time on the writer
        #: the one thread the writer's BEGINs wait in; close() waits for it before closing
        self._begins = ThreadPoolExecutor(1, thread_name_prefix="ledger-begin")
        self._changes = Changes()
        self._ledger_id = self._init_meta()
        migrate(self._db)

    def _init_meta(self) -> str:
        with self._in_tx() as db:
            self._begin()  # inline: nothing else runs yet; a refusal is LedgerWriteError too
            db.execute("INSERT OR IGNORE INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            return str(db.execute("SELECT value FROM meta WHERE key='ledger_id'").fetchone()[0])

    @property
    def ledger_id(self) -> str:
        return self._ledger_id

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[sqlite3.Connection]:
        """One write transaction; a write SQLite refuses (disk full, a lock held past the busy
        timeout...) is ``LedgerWriteError``.  Its statements run inline: no await in the body."""
        async with self._writing:
            try:
                await asyncio.get_running_loop().run_in_executor(self._begins, self._begin)
            except sqlite3.OperationalError as exc:
                raise LedgerWriteError(f"the ledger could not be written: {exc}") from exc
            with self._in_tx() as db:
                yield db
        self._changes.notify()

    def _begin(self) -> None:
        """In the begin thread.  A caller cancelled while its BEGIN waited left the writer in
        that transaction (its thread went on): roll it back first."""
        if self._writer.in_transaction:
            self._writer.execute("ROLLBACK")
        self._writer.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _in_tx(self) -> Iterator[sqlite3.Connection]:
        """The writer inside its begun transaction: committed at the end, else rolled back."""
        db = self._writer
        try:
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # a failed COMMIT leaves the transaction open unless SQLite rolled it back
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise LedgerWriteError(f"the ledger could not be written: {exc}") from exc

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    def _audit(
        self,
        db: sqlite3.Connection,
        action: str,
        subject: str,
        detail: dict[str, Any],
        *,
        actor: str = "controller",
        source: str = "dispatch",
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, action, subject, source, detail) VALUES (?,?,?,?,?,?)",
            (time.time(), actor, action, subject, source, dumps(detail)),
        )

    # --- instances and audit --------------------------------------------------------------------
    async def get_instance(self, name: str) -> InstanceRecord | None:
        row = self._one("SELECT * FROM instances WHERE name=?", name)
        return rows.instance(row) if row else None

    async def list_instances(self, *, after: str = "", limit: int = -1) -> Sequence[InstanceRecord]:
        """By name, those after ``after``; at most ``limit`` (-1: all)."""
        cur = self._db.execute(
            "SELECT * FROM instances WHERE name>? ORDER BY name LIMIT ?", (after, limit)
        )
        return [rows.instance(r) for r in cur]

    async def audit(
        self, actor: str, action: str, subject: str, source: str, detail: dict[str, Any]
    ) -> None:
        async with self._tx() as db:
            self._audit(db, action, subject, detail, actor=actor, source=source)

    async def list_audit(
        self, *, subject: str | None = None, after: int = 0, limit: int = -1
    ) -> Sequence[AuditRecord]:
        """Oldest first, those after the seq ``after``; at most ``limit`` (-1: all)."""
        args: tuple[object, ...] = (after, subject) if subject else (after,)
        where = "seq>? AND subject=?" if subject else "seq>?"
        sql = f"SELECT * FROM audit WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
        cur = self._db.execute(sql, (*args, limit))
        return [rows.audit(r) for r in cur]

    async def wait_changed(self, timeout: float) -> bool:
        return await self._changes.wait(timeout)

    async def close(self) -> None:
        """Close both connections, never while a BEGIN still runs in its thread (closing a
        connection another thread uses crashes the process)."""
        async with self._writing:
            await asyncio.to_thread(self._begins.shutdown, wait=True)
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
            self._db.close()
            self._writer.close()
