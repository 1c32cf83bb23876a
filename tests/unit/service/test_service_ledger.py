"""The SQLite ledger: dedupe, conflicts, supersede, requeue, append-only audit, retention."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litemaas_controller.errors import ConflictError
from litemaas_controller.ledger import (
    Action,
    EventRecord,
    InstanceStatus,
    NewOrder,
    OrderStatus,
    RunOutcome,
    RunStatus,
    SqliteStore,
)

pytestmark = pytest.mark.unit


def new(
    oid: str,
    action: Action = Action.PROVISION,
    instance: str = "demo",
    namespace: str | None = None,
    body: str | None = None,
) -> NewOrder:
    return NewOrder(
        id=oid,
        action=action,
        instance=instance,
        namespace=namespace or f"litemaas-{instance}",
        vars={},
        body=body or f'{{"id":"{oid}"}}',
        source="test",
        principal="bearer",
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "ledger.sqlite3")
    yield s
    await s.close()


async def test_same_id_same_body_is_one_order(store: SqliteStore) -> None:
    first, created = await store.accept_order(new("o1"))
    again, created_again = await store.accept_order(new("o1"))
    assert (created, created_again) == (True, False) and again == first
    with pytest.raises(ConflictError, match="another body"):
        await store.accept_order(new("o1", body='{"id":"o1","x":1}'))


async def test_destroy_supersedes_queued_provisions_and_updates(store: SqliteStore) -> None:
    await store.accept_order(new("o1"))
    run = await store.create_run("o1", "deploy_litemaas.yml", {})
    await store.start_run(run.id, InstanceStatus.PROVISIONING, {})  # o1 is running: untouched
    await store.accept_order(new("o2", Action.UPDATE))
    await store.accept_order(new("o3", Action.DESTROY))
    await store.accept_order(new("o4"))  # after the destroy: stays queued
    statuses = {o: (await store.get_order(o)).status for o in ("o1", "o2", "o3", "o4")}  # type: ignore[union-attr]
    assert statuses == {
        "o1": OrderStatus.RUNNING,
        "o2": OrderStatus.SUPERSEDED,
        "o3": OrderStatus.QUEUED,
        "o4": OrderStatus.QUEUED,
    }
    assert (await store.next_queued_order("demo")).id == "o3"  # type: ignore[union-attr]


async def test_finish_and_requeue(store: SqliteStore) -> None:
    await store.accept_order(new("o1"))
    run = await store.create_run("o1", "deploy_litemaas.yml", {"ocp4_workload_litemaas_x": 1})
    await store.start_run(run.id, InstanceStatus.PROVISIONING, {})
    await store.record_process(run.id, 1234, 99)
    assert [r.id for r in await store.unfinished_runs()] == [run.id]
    await store.requeue_run(run.id, RunStatus.FAILED, "interrupted")
    assert (await store.get_order("o1")).status == OrderStatus.QUEUED  # type: ignore[union-attr]
    second = await store.create_run("o1", "deploy_litemaas.yml", {})
    assert second.attempt == 2
    await store.start_run(second.id, InstanceStatus.PROVISIONING, {"v": 1})
    outcome = RunOutcome(
        RunStatus.SUCCEEDED,
        OrderStatus.SUCCEEDED,
        InstanceStatus.READY,
        0,
        None,
        {"credentials_secret": "litellm-secret"},
    )
    await store.finish_run(second.id, outcome)
    instance = await store.get_instance("demo")
    assert instance is not None and instance.status == InstanceStatus.READY
    assert instance.results == {"credentials_secret": "litellm-secret"}
    assert instance.vars == {"v": 1}
    assert await store.unfinished_runs() == []


async def test_events_are_kept_once_in_order(store: SqliteStore) -> None:
    await store.accept_order(new("o1"))
    run = await store.create_run("o1", "deploy_litemaas.yml", {})
    events = [EventRecord(run.id, n, 0.0, "e") for n in (2, 1, 3)]
    await store.append_events(events)
    await store.append_events(events[:1])  # a repeat changes nothing
    assert [e.seq for e in await store.events_after(run.id, 1)] == [2, 3]


async def test_audit_trail_is_append_only(store: SqliteStore, tmp_path: Path) -> None:
    await store.accept_order(new("o1"))
    [entry] = await store.list_audit(subject="o1")
    assert (entry.actor, entry.action, entry.source) == ("bearer", "order.accepted", "test")
    db = sqlite3.connect(tmp_path / "ledger.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET actor='x'")
    db.close()


async def test_waiters_wake_on_writes(store: SqliteStore) -> None:
    assert await store.wait_changed(0.01) is False
    import asyncio

    waiter = asyncio.create_task(store.wait_changed(30))
    await asyncio.sleep(0)
    await store.accept_order(new("o1"))
    assert await waiter is True
