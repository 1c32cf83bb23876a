"""The ledger on both stores (SQLite, PostgreSQL): dedupe, conflicts, supersede, requeue, the
append-only audit, change notification, retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledgerkit import START, PgLedger, claimed, new
from litemaas_controller.errors import ConflictError
from litemaas_controller.healing.history import HistoryRecorder
from litemaas_controller.healing.model import Health, HealthStatus
from litemaas_controller.ledger import (
    Action,
    Cutoffs,
    EventRecord,
    InstanceStatus,
    NewOrder,
    OrderStatus,
    RunOutcome,
    RunStatus,
    Store,
)

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0


def tamper(backend: str, tmp_path: Path, request: pytest.FixtureRequest, sql: str) -> str:
    """Run ``sql`` on the ledger beside the store; the error it raised ("" when it passed)."""
    try:
        if backend == "sqlite":
            db = sqlite3.connect(tmp_path / "ledger.sqlite3")
            try:
                db.execute(sql)
            finally:
                db.close()
        else:
            pg: PgLedger = request.getfixturevalue("pg")
            with pg.sql() as conn:
                conn.execute(sql.encode())
    except (sqlite3.DatabaseError, psycopg.Error) as exc:
        return str(exc)
    return ""


async def test_same_id_same_body_is_one_order(store: Store) -> None:
    first, created = await store.orders.accept(new("o1"))
    again, created_again = await store.orders.accept(new("o1"))
    assert (created, created_again) == (True, False) and again == first
    with pytest.raises(ConflictError, match="another body"):
        await store.orders.accept(new("o1", body='{"id":"o1","x":1}'))


async def test_destroy_supersedes_queued_provisions_and_updates(store: Store) -> None:
    await store.orders.accept(new("o1"))
    await claimed(store, "o1")  # o1 is running: untouched
    await store.orders.accept(new("o2", Action.UPDATE))
    await store.orders.accept(new("o3", Action.DESTROY))
    await store.orders.accept(new("o4"))  # after the destroy: stays queued
    statuses = {o: (await store.orders.get(o)).status for o in ("o1", "o2", "o3", "o4")}  # type: ignore[union-attr]
    assert statuses == {
        "o1": OrderStatus.RUNNING,
        "o2": OrderStatus.SUPERSEDED,
        "o3": OrderStatus.QUEUED,
        "o4": OrderStatus.QUEUED,
    }
    assert (await store.orders.next_queued("demo")).id == "o3"  # type: ignore[union-attr]


async def test_finish_and_requeue(store: Store) -> None:
    await store.orders.accept(new("o1"))
    run = await claimed(store, "o1", replace(START, extravars={"ocp4_workload_litemaas_x": 1}))
    await store.runs.record_process(run.id, 1234, 99, token=run.token)
    assert [r.id for r in await store.runs.unfinished()] == [run.id]
    await store.runs.requeue(run.id, RunStatus.FAILED, "interrupted", token=run.token)
    assert (await store.orders.get("o1")).status == OrderStatus.QUEUED  # type: ignore[union-attr]
    second = await claimed(store, "o1", replace(START, instance_vars={"v": 1}))
    assert second.attempt == 2
    outcome = RunOutcome(
        RunStatus.SUCCEEDED,
        OrderStatus.SUCCEEDED,
        InstanceStatus.READY,
        0,
        None,
        {"credentials_secret": "litellm-secret"},
    )
    await store.runs.finish(second.id, outcome, token=second.token)
    instance = await store.instances.get("demo")
    assert instance is not None and instance.status == InstanceStatus.READY
    assert instance.results == {"credentials_secret": "litellm-secret"}
    assert instance.vars == {"v": 1}
    assert await store.runs.unfinished() == []


async def test_events_are_kept_once_in_order(store: Store) -> None:
    await store.orders.accept(new("o1"))
    run = await claimed(store, "o1")
    events = [EventRecord(run.id, n, 0.0, "e") for n in (2, 1, 3)]
    assert await store.events.append(events, token=run.token, run_id=run.id)
    await store.events.append(events[:1], token=run.token, run_id=run.id)  # changes nothing
    assert [e.seq for e in await store.events.after(run.id, 1)] == [2, 3]


async def test_untrusted_text_with_a_nul_character_is_kept(store: Store) -> None:
    """A run's output, a health reason or a stream's message id may hold any character."""
    await store.orders.accept(new("o1"))
    run = await claimed(store, "o1")
    event = EventRecord(run.id, 1, 0.0, "e", "t\x00", None, None, "a\x00b")
    await store.events.append([event], token=run.token, run_id=run.id)
    await store.health.record("demo", "failed", "bad\x00", NOW)
    await store.dead_letters.record("s/1-0", "m\x00", "malformed")
    [event] = await store.events.after(run.id, 0)
    health = await store.health.get("demo")
    [letter] = await store.dead_letters.list()
    kept = [event.stdout, event.task, health.reason if health else "", letter.message_id or ""]
    # SQLite keeps the character itself, PostgreSQL (no NUL in its text) U+FFFD
    assert [k.replace("\ufffd", "\x00") for k in kept] == ["a\x00b", "t\x00", "bad\x00", "m\x00"]


async def test_audit_trail_is_append_only(
    store: Store, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await store.orders.accept(new("o1"))
    [entry] = await store.audit.list(subject="o1")
    assert (entry.actor, entry.action, entry.source) == ("bearer", "order.accepted", "test")
    assert "append-only" in tamper(backend, tmp_path, request, "DELETE FROM audit")
    assert "append-only" in tamper(backend, tmp_path, request, "UPDATE audit SET actor='x'")
    assert [a.actor for a in await store.audit.list(subject="o1")] == ["bearer"]


async def test_waiters_wake_on_writes(store: Store) -> None:
    assert await store.wait_changed(0.01) is False
    waiter = asyncio.create_task(store.wait_changed(30))
    await asyncio.sleep(0)
    await store.orders.accept(new("o1"))
    assert await waiter is True


# --- health (the cluster watch's observations) ----------------------------------------------


async def test_the_history_keeps_transitions_once_and_any_status(store: Store) -> None:
    recorder = HistoryRecorder(store)
    seen = [("healthy", ""), ("healthy", ""), ("failed", "Service litellm is missing"),
            ("degraded", "budget spent"), ("healthy", "")]  # fmt: skip
    for status, reason in seen:
        await recorder.observed("demo", Health(HealthStatus(status), reason, NOW))
    history = await store.health.history("demo")
    assert [h.status for h in history] == ["healthy", "failed", "degraded", "healthy"]
    assert [h.status for h in await store.health.history("demo", history[1].seq, 2)] == [
        "degraded", "healthy"
    ]  # fmt: skip
    current = await store.health.get("demo")
    assert current is not None and current.seq == history[-1].seq


async def test_retention_prunes_old_transitions_but_keeps_the_current_one(
    store: Store,
) -> None:
    await store.orders.accept(new("p1"))
    for instance in ("demo", "forgotten"):
        for status in ("healthy", "failed", "healthy"):
            await store.health.record(instance, status, status, NOW)
    counts = await store.prune(Cutoffs(events=PAST, audit=NOW * 2, payloads=PAST, tombstones=PAST))
    assert counts["health"] == 2 + 3  # all of an instance the ledger does not know
    assert [h.status for h in await store.health.history("demo")] == ["healthy"]
    assert await store.health.history("forgotten") == []


# --- retention --------------------------------------------------------------------------------

FUTURE, PAST = time.time() + 3600, 0.0


async def _finished(store: Store, oid: str, **order: Any) -> str:
    """Accept ``oid`` and run it to success; return its run's id."""
    await store.orders.accept(new(oid, **order))
    run = await claimed(store, oid, replace(START, extravars={"ocp4_workload_litemaas_v": "1"}))
    await store.events.append([EventRecord(run.id, 1, time.time(), "e")], token=run.token,
                              run_id=run.id)  # fmt: skip
    done = RunOutcome(RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY, 0,
                      None, {"credentials_secret": "litellm-secret"})  # fmt: skip
    await store.runs.finish(run.id, done, token=run.token)
    return run.id


async def test_a_pruned_order_stays_a_tombstone_its_retry_is_a_duplicate(
    store: Store,
) -> None:
    run_id = await _finished(store, "o1", body='{"id":"o1","vars":{"v":"1"}}')
    await store.orders.accept(new("o2", Action.UPDATE))  # queued: never pruned
    counts = await store.prune(Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=PAST))
    assert counts["payloads"] == 1 and counts["tombstones"] == 0
    pruned = await store.orders.get("o1")
    assert pruned is not None and pruned.pruned_at is not None
    assert (pruned.status, pruned.vars, pruned.results, pruned.body) == ("succeeded", {}, None, "")
    run = await store.runs.get(run_id)
    assert run is not None and (run.vars, run.results) == ({}, None)
    assert (await store.orders.get("o2")).pruned_at is None  # type: ignore[union-attr]
    # the catalog retries the old id: still a duplicate, and another body still a conflict
    again, created = await store.orders.accept(new("o1", body='{"id":"o1","vars":{"v":"1"}}'))
    assert not created and again.id == "o1"
    with pytest.raises(ConflictError, match="another body"):
        await store.orders.accept(new("o1", body='{"id":"o1","vars":{"v":"2"}}'))
    # a pruned order is never run again with its payload gone
    assert (await store.orders.retry("o1", "again")).status == OrderStatus.SUCCEEDED


async def test_tombstones_go_last_with_their_runs_and_events(store: Store) -> None:
    run_id = await _finished(store, "o1")
    await store.dead_letters.record("litemaas:changes/1-0", "m-1", "failed")
    keep = Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=PAST)
    await store.prune(keep)
    assert await store.dead_letters.is_dead("litemaas:changes/1-0")
    counts = await store.prune(Cutoffs(events=PAST, audit=PAST, payloads=FUTURE, tombstones=FUTURE))
    assert counts["tombstones"] == 1
    assert await store.orders.get("o1") is None and await store.runs.get(run_id) is None
    assert await store.events.after(run_id, 0) == []
    assert not await store.dead_letters.is_dead("litemaas:changes/1-0")


async def test_events_of_finished_runs_go_after_their_retention(store: Store) -> None:
    run_id = await _finished(store, "o1")
    await store.orders.accept(new("o2", instance="other"))
    live = await claimed(store, "o2")
    await store.events.append([EventRecord(live.id, 1, PAST, "e")], token=live.token,
                              run_id=live.id)  # fmt: skip
    counts = await store.prune(Cutoffs(events=FUTURE, audit=PAST, payloads=PAST, tombstones=PAST))
    assert counts["events"] == 1
    assert await store.events.after(run_id, 0) == []
    assert len(await store.events.after(live.id, 0)) == 1  # its run is still going


async def test_audit_entries_go_only_past_their_retention(
    store: Store, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await store.orders.accept(new("o1"))
    cutoff = time.time()
    await store.orders.accept(new("o2", instance="other"))
    await store.prune(Cutoffs(events=PAST, audit=cutoff, payloads=PAST, tombstones=PAST))
    subjects = [a.subject for a in await store.audit.list()]
    assert "o1" not in subjects and "o2" in subjects and "ledger" in subjects  # the prune's own
    # newer than the retention: still append-only
    assert "append-only" in tamper(backend, tmp_path, request, "DELETE FROM audit")


# --- the rest of the interface: listings, counts, the queue's order -----------------------------


async def test_the_queue_runs_in_arrival_order_and_a_retry_goes_behind(store: Store) -> None:
    await store.orders.accept(new("a1", instance="a"))
    await store.orders.accept(new("b1", instance="b"))
    run = await claimed(store, "a1")
    failed = RunOutcome(RunStatus.FAILED, OrderStatus.FAILED, InstanceStatus.FAILED, 2, "boom")
    await store.runs.finish(run.id, failed, token=run.token)
    await store.orders.accept(new("a2", Action.UPDATE, instance="a"))
    assert await store.orders.instances_with_queued() == ["b", "a"]
    assert (await store.orders.retry("a1", "again")).status == OrderStatus.QUEUED
    assert (await store.orders.next_queued("a")).id == "a2"  # type: ignore[union-attr]
    assert (await store.orders.supersede("a2", "replaced")).status == OrderStatus.SUPERSEDED
    assert (await store.orders.supersede("b1", "x")).status == OrderStatus.SUPERSEDED
    assert (await store.orders.next_queued("a")).id == "a1"  # type: ignore[union-attr]
    counts = await store.orders.count_by_status()
    assert (counts[OrderStatus.QUEUED], counts[OrderStatus.SUPERSEDED]) == (1, 2)
    assert await store.orders.namespace_holder("litemaas-a") == "a"
    assert await store.orders.namespace_holder("litemaas-c") is None
    settled, created = await store.orders.accept(replace(new("s1", instance="s"), settled="done"))
    assert created and (settled.status, settled.message) == (OrderStatus.SUCCEEDED, "done")
    assert (
        await store.instances.get("s") is None
        and await store.orders.namespace_holder("litemaas-s") is None
    )


async def test_pages_newest_first_and_oldest_first(store: Store) -> None:
    for n in range(5):
        await store.orders.accept(new(f"o{n}", instance=f"i{n % 2}"))
    page = await store.orders.list(limit=2)
    assert [o.id for o in page] == ["o4", "o3"]
    assert [o.id for o in await store.orders.list(limit=2, before=page[-1].seq)] == ["o2", "o1"]
    assert [o.id for o in await store.orders.list(instance="i1")] == ["o3", "o1"]
    assert [o.id for o in await store.orders.list(status="running")] == []
    assert [i.name for i in await store.instances.list()] == ["i0", "i1"]
    assert [i.name for i in await store.instances.list(after="i0", limit=5)] == ["i1"]
    audit = await store.audit.list()
    assert len(audit) == 5 and [a.subject for a in await store.audit.list(limit=1)] == ["o0"]
    assert [a.subject for a in await store.audit.list(after=audit[-2].seq)] == ["o4"]
    runs = []
    for _ in range(3):
        runs.append(run := await claimed(store, "o0"))
        await store.runs.requeue(run.id, RunStatus.FAILED, "again", token=run.token)
    assert [r.attempt for r in runs] == [1, 2, 3]
    listed = await store.runs.list(order_id="o0", limit=2)
    assert [r.id for r in listed] == [runs[2].id, runs[1].id]
    assert [r.id for r in await store.runs.list(before=listed[-1].seq)] == [runs[0].id]
    for n in range(3):
        await store.dead_letters.record(f"s/{n}-0", None if n else "m-0", "failed")
    await store.dead_letters.record("s/0-0", "m-0", "failed")  # once
    letters = await store.dead_letters.list(limit=2)
    assert [d.entry for d in letters] == ["s/2-0", "s/1-0"]
    older = await store.dead_letters.list(before=letters[-1].seq)
    assert [(d.entry, d.message_id) for d in older] == [("s/0-0", "m-0")]


async def test_a_newer_run_about_the_same_value_is_found(store: Store) -> None:
    def change(oid: str, value: str) -> NewOrder:
        return replace(new(oid, Action.UPDATE), vars={"model": value})

    await store.orders.accept(new("p1"))
    first, _ = await store.orders.accept(change("u1", "m1"))
    await store.orders.accept(change("u2", "m1"))
    assert (
        await store.orders.newer_run_about(first, [Action.UPDATE], "model") is None
    )  # not started
    done = RunOutcome(RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY, 0)
    await store.runs.finish((p1 := await claimed(store, "p1")).id, done, token=p1.token)
    await store.orders.supersede("u1", "the test starts u2 first")
    await claimed(store, "u2", replace(START, instance_status=InstanceStatus.UPDATING))
    assert await store.orders.newer_run_about(first, [Action.UPDATE], "model") == "u2"
    assert await store.orders.newer_run_about(first, [Action.DESTROY], "model") is None
    other, _ = await store.orders.accept(change("u0", "m2"))
    assert await store.orders.newer_run_about(other, [Action.UPDATE], "model") is None


async def test_health_counts_only_instances_still_there(store: Store) -> None:
    await store.orders.accept(new("p1"))
    await store.orders.accept(new("p2", instance="other"))
    await store.health.record("demo", "failed", "x", NOW)
    await store.health.record("demo", "healthy", "", NOW)
    await store.health.record("other", "healthy", "", NOW)
    await store.health.record("gone", "failed", "x", NOW)  # not in the ledger: not counted
    assert await store.health.count_by_status() == {"healthy": 2}
