"""A lock another process holds on the ledger stalls the ledger work queued behind it, and
nothing else: no SQLite statement runs on the event loop, so health checks (and reads, when only
the write lock is held) answer meanwhile."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from .credentials import BEARER
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration

#: the write lock: a transaction begun for writing, held open
WRITE_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""

#: what keeps WAL readers out: the read marks of the WAL index (bytes 123-127 of the -shm file,
#: SQLite's WAL_READ_LOCK(0..4)), held exclusively, as a checkpoint restarting the log holds
#: them.  A reader needs one of them shared; it retries for about ten seconds (not the busy
#: timeout), then fails with "locking protocol".
READ_MARKS = """
import fcntl, os, sys
fd = os.open(sys.argv[1] + "-shm", os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 5, 123)
print("locked", flush=True)
sys.stdin.read()
"""


@asynccontextmanager
async def held(program: str, ledger: Path) -> AsyncIterator[None]:
    """Another process holds what ``program`` takes on ``ledger`` while the context lasts."""
    holder = subprocess.Popen(
        [sys.executable, "-c", program, str(ledger)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await asyncio.to_thread(holder.stdout.readline) == "locked\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait()


async def test_reads_and_health_answer_while_another_process_holds_the_write_lock(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "a"})).status
    assert (await svc.finished("o1"))["status"] == "succeeded"

    async with held(WRITE_LOCK, svc.settings.ledger_path):
        write = asyncio.create_task(
            svc.post_order({"id": "o2", "action": "provision", "instance": "b"})
        )
        await asyncio.sleep(0.3)  # the order reaches its write and waits for the lock
        assert (await svc.client.get("/healthz")).status == 200
        assert (await svc.client.get("/metrics")).status == 200
        assert (await svc.get("/api/v1/orders/o1"))["status"] == "succeeded"
        assert not write.done()  # the write still waits: it alone was held up
    assert (await write).status == 202
    assert (await svc.finished("o2"))["status"] == "succeeded"


async def test_health_answers_while_another_process_keeps_the_ledger_s_readers_out(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    async with held(READ_MARKS, svc.settings.ledger_path):
        read = asyncio.create_task(svc.client.get("/api/v1/orders", headers=BEARER))
        await asyncio.sleep(0.3)  # the read reaches SQLite and waits for a read mark
        assert (await svc.client.get("/healthz")).status == 200
        assert not read.done()  # the read still waits, off the event loop
    response = await read
    assert response.status == 200, await response.text()
    assert (await response.json())["items"] == []
