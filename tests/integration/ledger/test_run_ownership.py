"""Run ownership among replicas on both stores: claims, leases, fencing tokens; and on
PostgreSQL, two stores (two replicas) claiming at once."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from ledgerkit import START, PgLedger, claimed, new, opened
from litemaas_controller.config import Settings
from litemaas_controller.dispatch.recovery import close_interrupted, recover
from litemaas_controller.errors import FencedError
from litemaas_controller.ledger import (
    EventRecord,
    InstanceStatus,
    Lease,
    OrderStatus,
    PgStore,
    RunOutcome,
    RunStatus,
    Store,
)
from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner

pytestmark = pytest.mark.integration

DONE = RunOutcome(RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY, 0)


async def test_a_claim_takes_the_first_queued_order_of_an_instance_without_a_run(
    store: Store,
) -> None:
    for oid, instance in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        await store.orders.accept(new(oid, instance=instance))
    assert await store.runs.claim("a2", START, "r1", 60.0) is None  # a1 comes first
    run = await claimed(store, "a1", replace(START, instance_vars={"v": 1}))
    assert (run.status, run.owner, run.attempt, run.cancel_requested) == (
        RunStatus.RUNNING, "r1", 1, False,
    )  # fmt: skip
    assert run.token is not None and run.lease_until is not None
    order, instance = await store.orders.get("a1"), await store.instances.get("a")
    assert order is not None and order.status == OrderStatus.RUNNING
    assert instance is not None and instance.vars == {"v": 1}
    assert await store.runs.claim("a1", START, "r2", 60.0) is None  # running already
    assert await store.orders.instances_with_queued() == ["b"]  # a has its run
    await store.runs.finish(run.id, DONE, token=run.token)
    assert await store.orders.instances_with_queued() == ["a", "b"]
    second = await claimed(store, "a2", owner="r2")
    assert second.token is not None and second.token > run.token  # tokens only grow


async def test_a_write_with_a_stale_token_is_refused_after_another_owner_took_the_run(
    store: Store,
) -> None:
    await store.orders.accept(new("o1"))
    lost = await claimed(store, "o1", owner="r1", lease=-1.0)  # its lease ran out already
    [expired] = await store.runs.expired()
    assert expired.id == lost.id
    # replica r2's sweeper closes it with the token it read, then claims the order again
    await store.runs.requeue(lost.id, RunStatus.FAILED, "swept", token=expired.token)
    taken = await claimed(store, "o1", owner="r2")

    with pytest.raises(FencedError, match="no longer this replica's"):
        await store.runs.finish(lost.id, DONE, token=lost.token)
    with pytest.raises(FencedError):
        await store.runs.requeue(lost.id, RunStatus.CANCELLED, "drained", token=lost.token)
    with pytest.raises(FencedError):
        await store.runs.record_process(lost.id, 1234, 99, token=lost.token)
    assert not await store.events.append(
        [EventRecord(lost.id, 1, 0.0, "e")], token=lost.token, run_id=lost.id
    )
    assert await store.events.after(lost.id, 0) == []
    # the new owner's writes, with its token, apply; and the old token fits no run of it
    with pytest.raises(FencedError):
        await store.runs.finish(taken.id, DONE, token=lost.token)
    final = await store.runs.finish(taken.id, DONE, token=taken.token)
    assert final.status == RunStatus.SUCCEEDED
    order = await store.orders.get("o1")
    assert order is not None and order.status == OrderStatus.SUCCEEDED
    gone = await store.runs.get(lost.id)
    assert gone is not None and (gone.status, gone.reason) == (RunStatus.FAILED, "swept")


async def test_renew_holds_the_lease_or_finds_it_lost_or_cancelled(store: Store) -> None:
    await store.orders.accept(new("o1"))
    run = await claimed(store, "o1", lease=-1.0)
    assert [r.id for r in await store.runs.expired()] == [run.id]
    assert await store.runs.renew(run.id, run.token, 3600.0) == Lease.HELD
    assert await store.runs.expired() == []  # renewed on the ledger's clock
    assert await store.runs.renew(run.id, (run.token or 0) + 1, 60.0) == Lease.LOST
    asked = await store.runs.request_cancel(run.id)
    assert asked.cancel_requested
    assert await store.runs.renew(run.id, run.token, 60.0) == Lease.CANCEL
    await store.runs.finish(run.id, DONE, token=run.token)
    assert await store.runs.renew(run.id, run.token, 60.0) == Lease.LOST  # it ended


async def test_owned_runs_are_the_owners_and_those_without_an_owner(store: Store) -> None:
    for oid in ("a", "b"):
        await store.orders.accept(new(oid, instance=oid))
    mine, theirs = await claimed(store, "a", owner="r1"), await claimed(store, "b", owner="r2")
    assert [r.id for r in await store.runs.owned("r1")] == [mine.id]
    assert [r.id for r in await store.runs.owned("r2")] == [theirs.id]
    assert [r.id for r in await store.runs.unfinished()] == [mine.id, theirs.id]


async def test_two_replicas_claiming_at_once_claim_each_order_once(pg: PgLedger) -> None:
    one, two = await pg.open(), await pg.open()
    try:
        instances = sorted(f"i{n}" for n in range(12))
        for name in instances:
            for k in range(3):
                await one.orders.accept(new(f"{name}-{k}", instance=name))
        stores: tuple[PgStore, PgStore] = (one, two)
        # every replica tries every order of every instance at once
        claims = [
            store.runs.claim(f"{name}-{k}", START, f"r{n}", 60.0)
            for name in instances
            for k in range(3)
            for n, store in enumerate(stores)
        ]
        runs = [run for run in await asyncio.gather(*claims) if run is not None]
        # one run per instance (its first order), whichever replica got it
        assert sorted(r.order_id for r in runs) == [f"{name}-0" for name in instances]
        unfinished = await two.runs.unfinished()
        assert sorted(r.instance for r in unfinished) == instances
        assert len({r.token for r in runs}) == len(runs)
        # once they end, the next orders go the same way
        await asyncio.gather(*(one.runs.finish(r.id, DONE, token=r.token) for r in runs))
        again = await asyncio.gather(*(
            store.runs.claim(f"{name}-{k}", START, "r", 60.0)
            for name in instances for k in (1, 2) for store in stores
        ))  # fmt: skip
        assert sorted(r.order_id for r in again if r) == [f"{name}-1" for name in instances]
    finally:
        await one.close()
        await two.close()


async def test_two_replicas_sweeping_one_expired_run_close_it_once(pg: PgLedger) -> None:
    one, two = await pg.open(), await pg.open()
    try:
        await one.orders.accept(new("o1"))
        await claimed(one, "o1", owner="dead", lease=-1.0)
        [seen_by_one], [seen_by_two] = await one.runs.expired(), await two.runs.expired()
        closed = await asyncio.gather(
            close_interrupted(one, seen_by_one, "swept"),
            close_interrupted(two, seen_by_two, "swept"),
        )
        assert sorted(closed) == [False, True]  # the other close was fenced off
        interrupted = [a for a in await one.audit.list() if a.action == "run.interrupted"]
        assert len(interrupted) == 1
    finally:
        await one.close()
        await two.close()


async def test_one_unfinished_run_per_instance_is_the_databases_rule(
    backend: str, store: Store, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Even a write that skipped the claim's checks cannot add a second unfinished run."""
    await store.orders.accept(new("o1"))
    run = await claimed(store, "o1")
    row = ("run-x", "o1", "demo", "provision", "p.yml", "{}", "running", 2, 0.0)
    sql = (
        "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status, attempt,"
        " created_at) VALUES ({})"
    )
    if backend == "postgres":
        pg: PgLedger = request.getfixturevalue("pg")
        with pg.sql() as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(sql.format(",".join(["%s"] * len(row))).encode(), row)
    else:
        db = sqlite3.connect(tmp_path / "ledger.sqlite3")
        with closing(db), pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            db.execute(sql.format(",".join("?" * len(row))), row)
    assert [r.id for r in await store.runs.unfinished()] == [run.id]


# --- a ledger from before run ownership: its unfinished run is closed at start -----------------

OLD_RUN = (
    "INSERT INTO runs (id, order_id, instance, action, playbook, vars, status, attempt,"
    " created_at, started_at) VALUES ('run-old', 'o1', 'demo', 'provision',"
    " 'deploy_litemaas.yml', '{}', 'running', 1, 1.0, 1.0)"
)


def old_ledger(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Turn the fresh ledger into one of the version before (PostgreSQL 1, SQLite 4) with a run
    left running: no owner, no token, no lease."""
    statements = [
        "DROP INDEX runs_one_unfinished",
        "DROP INDEX orders_queued",
        *(f"ALTER TABLE runs DROP COLUMN {c}" for c in OWNER_COLUMNS),
        "UPDATE orders SET status='running'",
        OLD_RUN,
    ]
    if backend == "postgres":
        pg: PgLedger = request.getfixturevalue("pg")
        with pg.sql() as conn:
            for sql in [*statements, "DROP SEQUENCE run_tokens"]:
                conn.execute(sql.encode())
            conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    else:
        db = sqlite3.connect(tmp_path / "ledger.sqlite3")
        with closing(db), db:
            for sql in [*statements, "DELETE FROM meta WHERE key='run_token'"]:
                db.execute(sql)
            db.execute("UPDATE meta SET value='4' WHERE key='schema_version'")


OWNER_COLUMNS = ("owner", "token", "lease_until", "cancel_requested")


async def test_an_old_ledgers_unfinished_run_is_closed_by_recovery_after_the_upgrade(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg = request.getfixturevalue("pg") if backend == "postgres" else None
    async with opened(backend, tmp_path, pg) as store:
        await store.orders.accept(new("o1"))
    old_ledger(backend, tmp_path, request)
    settings = Settings(webhook_secret="s" * 32, api_token="t" * 32, state_dir=tmp_path,
                        kill_grace=0.1, replica="replica-a")  # fmt: skip

    async with opened(backend, tmp_path, pg) as store:
        [old] = await store.runs.owned("replica-a")
        assert (old.id, old.owner, old.token) == ("run-old", None, None)
        runner = PlaybookRunner(settings, store.ledger_id, Redactor([]))
        assert await recover(store, runner) == 1
        closed, order = await store.runs.get("run-old"), await store.orders.get("o1")
        assert closed is not None and closed.status == RunStatus.FAILED
        assert order is not None and order.status == OrderStatus.QUEUED
        run = await claimed(store, "o1")  # and the upgraded ledger claims as any
        assert run.attempt == 2 and run.token is not None
