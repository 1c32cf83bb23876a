"""Replicas on one PostgreSQL hear each other's writes (LISTEN/NOTIFY), also across a restart of
the server, and a store says when the server is unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from ledgerkit import PgLedger, new
from litemaas_controller.ledger import PgStore
from litemaas_controller.ledger.pg.db import LISTENER

pytestmark = pytest.mark.integration

NO_WRITE = 0.3  # seconds a waiter waits when nothing is written (it must see nothing)
WRITE = 30.0  # seconds a waiter may wait for a write of the other store (it returns at once)


@asynccontextmanager
async def two_replicas(pg: PgLedger) -> AsyncIterator[tuple[PgStore, PgStore]]:
    writer, waiter = await asyncio.gather(pg.open(), pg.open())
    try:
        yield writer, waiter
    finally:
        await asyncio.gather(writer.close(), waiter.close())


async def woken_by(
    waiter: PgStore, call: Callable[[], Awaitable[object]], timeout: float = WRITE
) -> bool:
    """Does ``call`` (on another store) wake a ``wait_changed`` of ``waiter`` begun before it?"""
    waiting = asyncio.create_task(waiter.wait_changed(timeout))
    await asyncio.sleep(0)  # the waiter waits before the call
    await call()
    return await waiting


async def until(probe: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        assert asyncio.get_running_loop().time() < deadline, f"{what} not within {timeout}s"
        await asyncio.sleep(0.05)


def listeners(pg: PgLedger) -> int:
    """The listening connections to the ledger's database, as the server shows them."""
    with pg.sql() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
            " AND query LIKE 'LISTEN %%'",
            (pg.database, LISTENER),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_write_on_one_replica_wakes_the_waiters_of_another(pg: PgLedger) -> None:
    async with two_replicas(pg) as (writer, waiter):
        assert await waiter.wait_changed(NO_WRITE) is False  # nothing written: the timeout
        assert await woken_by(waiter, lambda: writer.orders.accept(new("o1"))) is True
        assert await woken_by(waiter, lambda: writer.orders.supersede("o1", "test")) is True
        assert await woken_by(waiter, lambda: writer.orders.get("o1"), NO_WRITE) is False


async def test_the_listener_hears_again_after_a_restart_of_the_server(pg: PgLedger) -> None:
    async with two_replicas(pg) as (writer, waiter):
        pg.server.restart()  # every connection ends, the listeners' too
        await until(lambda: listeners(pg) == 2, "both stores listening again")
        assert await woken_by(waiter, lambda: writer.orders.accept(new("o1"))) is True


async def test_reachable_is_false_while_the_server_is_stopped(pg: PgLedger) -> None:
    store = await pg.open()
    try:
        assert store.reachable
        pg.server.shutdown()
        try:  # no call made: the listener finds the server gone
            await until(lambda: not store.reachable, "the store unreachable")
        finally:
            pg.server.relaunch()
        await until(lambda: store.reachable, "the store reachable again")
        assert (await store.orders.accept(new("o1")))[1]
    finally:
        await store.close()
