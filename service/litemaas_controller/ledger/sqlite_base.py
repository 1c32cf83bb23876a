"""The SQLite ledger's connection: WAL, transactions, change notification, instances, audit.

Statements are short (an index lookup or a few row writes), so they run inline on the event
loop's thread instead of in a thread; WAL with ``synchronous=NORMAL`` survives a crash of the
process (a power cut may lose the last commits, which at-least-once delivery from catalogs covers).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litemaas_controller.errors import LedgerWriteError
from litemaas_controller.ledger import sqlite_rows as rows
from litemaas_controller.ledger.models import (
    AuditRecord,
    InstanceRecord,
)
from litemaas_controller.ledger.sqlite_migrate import migrate
from litemaas_controller.ledger.sqlite_rows import dumps


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
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(rows.DDL)
        self._changed = asyncio.Event()
        self._ledger_id = self._init_meta()
        migrate(self._db)

    def _init_meta(self) -> str:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (rows.SCHEMA_VERSION,)
            )
            return str(db.execute("SELECT value FROM meta WHERE key='ledger_id'").fetchone()[0])

    @property
    def ledger_id(self) -> str:
        return self._ledger_id

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a write SQLite refuses (disk full...) is ``LedgerWriteError``."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # a failed COMMIT leaves the transaction open unless SQLite rolled it back
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise LedgerWriteError(f"the ledger could not be written: {exc}") from exc
        # wake every waiter, then arm a fresh event for the next write
        self._changed.set()
        self._changed = asyncio.Event()

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
        with self._tx() as db:
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
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._db.close()
