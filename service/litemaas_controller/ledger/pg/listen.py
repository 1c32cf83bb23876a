"""The ledger's writes of other replicas, heard: PostgreSQL LISTEN on a connection of its own.

Each write transaction notifies ``db.CHANNEL`` with its store's ``origin`` (``Db.tx``), delivered
on commit.  The listener holds one connection outside the pool, in autocommit, listening on that
channel, and turns every notification of another store into ``changes.notify()``: a replica's
``wait_changed`` wakes on any replica's write.  The store's own writes notify it directly.

While the server is away the listener tries again with a back-off (``BACKOFF``), marks the ledger
unreachable, and the waiters fall back to polling (``wait_changed`` returns at its timeout).  Once
it listens again it wakes every waiter once, for what was written while it did not hear.  A
connection lost without a word (a dead peer) is found by a ping when nothing came for ``PING``
seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg

from litemaas_controller.ledger.pg.db import CHANNEL, Db

log = logging.getLogger(__name__)

BACKOFF = (0.2, 10.0)  # first and longest wait between two attempts to listen again
PING = 30.0  # seconds without a notification before the connection is checked


class ChangeListener:
    """``start`` the task at open (it returns once the first attempt listens or failed), ``stop``
    it at close."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._task: asyncio.Task[None] | None = None
        self._tried = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-listener")
        await self._tried.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            await self._listen()
        finally:
            self._tried.set()  # also when the task ends: ``start`` never waits for nothing

    async def _listen(self) -> None:
        backoff = BACKOFF[0]
        heard = True  # whether the last attempt listened (a failure after one is worth a warning)
        while True:
            try:
                async with await self._db.connect() as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    backoff, heard = BACKOFF[0], True
                    self._listening()
                    await self._hear(conn)
            except (psycopg.Error, TimeoutError) as exc:
                error = self._db.unreachable(exc)
                level = logging.WARNING if heard else logging.DEBUG
                log.log(level, "not listening to the ledger's changes (%s); trying again in "
                        "%.1f s, polling meanwhile", error, backoff)  # fmt: skip
                heard = False
                self._tried.set()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF[1])

    def _listening(self) -> None:
        self._db.reachable = True
        self._tried.set()
        log.info("listening to the ledger's changes (channel %s)", CHANNEL)
        self._db.changes.notify()  # what was written while nobody listened

    async def _hear(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Until the connection fails: each notification of another store wakes the waiters."""
        while True:
            async for notice in conn.notifies(timeout=PING):
                if notice.payload != self._db.origin:
                    self._db.changes.notify()
            async with asyncio.timeout(PING):
                await conn.execute("SELECT 1")
