"""The SQLite ledger: dedupe, conflicts, supersede, requeue, append-only audit, retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.errors import ConflictError
from litemaas_controller.ledger import (
    Action,
    Cutoffs,
    EventRecord,
    InstanceStatus,
    NewOrder,
    OrderStatus,
    RunOutcome,
    RunStatus,
    SqliteStore,
)
from litemaas_controller.ledger.sqlite_rows import SCHEMA_VERSION

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
    waiter = asyncio.create_task(store.wait_changed(30))
    await asyncio.sleep(0)
    await store.accept_order(new("o1"))
    assert await waiter is True


async def test_a_schema_2_ledger_keeps_its_queue_and_can_place_retries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = SqliteStore(path)
    await old.accept_order(new("o1"))
    await old.close()
    db = sqlite3.connect(path)  # as a ledger written before orders had a queue place
    db.execute("ALTER TABLE orders DROP COLUMN queue_seq")
    db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.commit()
    db.close()

    store = SqliteStore(path)
    try:
        queued = await store.next_queued_order("demo")
        assert queued is not None and queued.id == "o1"
        run = await store.create_run("o1", "deploy_litemaas.yml", {})
        await store.start_run(run.id, InstanceStatus.PROVISIONING, {})
        await store.finish_run(
            run.id, RunOutcome(RunStatus.FAILED, OrderStatus.FAILED, InstanceStatus.FAILED)
        )
        await store.accept_order(new("o2", Action.UPDATE))
        await store.retry_order("o1", "again")
        first = await store.next_queued_order("demo")
        assert first is not None and first.id == "o2"  # the retry went behind o2
    finally:
        await store.close()


# --- retention --------------------------------------------------------------------------------

FUTURE, PAST = time.time() + 3600, 0.0


async def _finished(store: SqliteStore, oid: str, **order: Any) -> str:
    """Accept ``oid`` and run it to success; return its run's id."""
    await store.accept_order(new(oid, **order))
    run = await store.create_run(oid, "deploy_litemaas.yml", {"ocp4_workload_litemaas_v": "1"})
    await store.start_run(run.id, InstanceStatus.PROVISIONING, {})
    await store.append_events([EventRecord(run.id, 1, time.time(), "e")])
    done = RunOutcome(RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY, 0,
                      None, {"credentials_secret": "litellm-secret"})  # fmt: skip
    await store.finish_run(run.id, done)
    return run.id


async def test_a_pruned_order_stays_a_tombstone_its_retry_is_a_duplicate(
    store: SqliteStore,
) -> None:
    run_id = await _finished(store, "o1", body='{"id":"o1","vars":{"v":"1"}}')
    await store.accept_order(new("o2", Action.UPDATE))  # queued: never pruned
    counts = await store.prune(Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=PAST))
    assert counts["payloads"] == 1 and counts["tombstones"] == 0
    pruned = await store.get_order("o1")
    assert pruned is not None and pruned.pruned_at is not None
    assert (pruned.status, pruned.vars, pruned.results, pruned.body) == ("succeeded", {}, None, "")
    run = await store.get_run(run_id)
    assert run is not None and (run.vars, run.results) == ({}, None)
    assert (await store.get_order("o2")).pruned_at is None  # type: ignore[union-attr]
    # the catalog retries the old id: still a duplicate, and another body still a conflict
    again, created = await store.accept_order(new("o1", body='{"id":"o1","vars":{"v":"1"}}'))
    assert not created and again.id == "o1"
    with pytest.raises(ConflictError, match="another body"):
        await store.accept_order(new("o1", body='{"id":"o1","vars":{"v":"2"}}'))
    # a pruned order is never run again with its payload gone
    assert (await store.retry_order("o1", "again")).status == OrderStatus.SUCCEEDED


async def test_tombstones_go_last_with_their_runs_and_events(store: SqliteStore) -> None:
    run_id = await _finished(store, "o1")
    await store.record_dead_letter("litemaas:changes/1-0", "m-1", "failed")
    keep = Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=PAST)
    await store.prune(keep)
    assert await store.dead_lettered("litemaas:changes/1-0")
    counts = await store.prune(Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=FUTURE))
    assert counts["tombstones"] == 1
    assert await store.get_order("o1") is None and await store.get_run(run_id) is None
    assert await store.events_after(run_id, 0) == []
    assert not await store.dead_lettered("litemaas:changes/1-0")


async def test_events_of_finished_runs_go_after_their_retention(store: SqliteStore) -> None:
    run_id = await _finished(store, "o1")
    await store.accept_order(new("o2", instance="other"))
    live = await store.create_run("o2", "deploy_litemaas.yml", {})
    await store.start_run(live.id, InstanceStatus.PROVISIONING, {})
    await store.append_events([EventRecord(live.id, 1, PAST, "e")])
    counts = await store.prune(Cutoffs(events=FUTURE, audit=PAST, payloads=PAST, tombstones=PAST))
    assert counts["events"] == 1
    assert await store.events_after(run_id, 0) == []
    assert len(await store.events_after(live.id, 0)) == 1  # its run is still going


async def test_audit_entries_go_only_past_their_retention(
    store: SqliteStore, tmp_path: Path
) -> None:
    await store.accept_order(new("o1"))
    cutoff = time.time()
    await store.accept_order(new("o2", instance="other"))
    await store.prune(Cutoffs(events=PAST, audit=cutoff, payloads=PAST, tombstones=PAST))
    subjects = [a.subject for a in await store.list_audit()]
    assert "o1" not in subjects and "o2" in subjects and "ledger" in subjects  # the prune's own
    db = sqlite3.connect(tmp_path / "ledger.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit")  # newer than the retention: still append-only
    db.close()


V1_LEDGER = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('ledger_id', 'abc'), ('schema_version', '1');
CREATE TABLE orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
  instance TEXT NOT NULL, namespace TEXT NOT NULL, vars TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL, source TEXT NOT NULL, principal TEXT NOT NULL,
  received_at REAL NOT NULL, updated_at REAL NOT NULL, message TEXT, results TEXT);
INSERT INTO orders VALUES (1, 'o1', 'provision', 'demo', 'litemaas-demo', '{}', '{"id":"o1"}',
  'succeeded', 'test', 'bearer', 1.0, 1.0, NULL, NULL);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, subject TEXT NOT NULL, source TEXT NOT NULL, detail TEXT NOT NULL);
INSERT INTO audit VALUES (1, 1.0, 'bearer', 'order.accepted', 'o1', 'test', '{}');
CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


async def test_a_version_1_ledger_is_migrated_at_start(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V1_LEDGER)
    db.close()
    store = SqliteStore(path)
    try:
        _, created = await store.accept_order(new("o1"))  # its body hash was filled in
        assert not created
        await store.prune(Cutoffs(events=PAST, audit=FUTURE, payloads=PAST, tombstones=PAST))
        assert [a.subject for a in await store.list_audit()] == ["ledger"]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    db.close()
