"""A write lock another process holds on the ledger stalls the writes queued behind it, and
nothing else: health checks and reads answer meanwhile."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from .conftest import ServiceFactory

pytestmark = pytest.mark.integration

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


async def test_reads_and_health_answer_while_another_process_holds_the_write_lock(
    make_service: ServiceFactory,
) -> None:
    svc = await make_service("quick")
    assert (await svc.post_order({"id": "o1", "action": "provision", "instance": "a"})).status
    assert (await svc.finished("o1"))["status"] == "succeeded"

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(svc.settings.ledger_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await asyncio.to_thread(holder.stdout.readline) == "locked\n"
        write = asyncio.create_task(
            svc.post_order({"id": "o2", "action": "provision", "instance": "b"})
        )
        await asyncio.sleep(0.3)  # the order reaches its write and waits for the lock
        assert (await svc.client.get("/healthz")).status == 200
        assert (await svc.get("/api/v1/orders/o1"))["status"] == "succeeded"
        assert not write.done()  # the write still waits: it alone was held up
    finally:
        holder.stdin.close()
        holder.wait()
    assert (await write).status == 202
    assert (await svc.finished("o2"))["status"] == "succeeded"
