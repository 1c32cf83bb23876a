"""Start-up recovery: an interrupted run is queued again, except a rotation's, which must not
repeat blindly: it is closed for good with a reason that says what to check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledgerkit import claimed
from litemaas_controller.config.settings import Settings
from litemaas_controller.dispatch.recovery import recover
from litemaas_controller.dispatch.sweeper import Sweeper
from litemaas_controller.ledger import (
    Action,
    InstanceStatus,
    NewOrder,
    OrderStatus,
    RunOutcome,
    RunStart,
    RunStatus,
    SqliteStore,
)
from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner

pytestmark = pytest.mark.unit

REPLICA = "replica-a"


def order(oid: str, action: Action) -> NewOrder:
    return NewOrder(
        id=oid,
        action=action,
        instance="demo",
        namespace="litemaas-demo",
        vars={},
        body=f'{{"id":"{oid}"}}',
        source="test",
        principal="bearer",
    )


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        webhook_secret="s" * 32,
        api_token="t" * 32,
        state_dir=tmp_path,
        kill_grace=0.1,
        replica=REPLICA,
    )


@pytest.fixture
def runner(tmp_path: Path) -> PlaybookRunner:
    return PlaybookRunner(settings_for(tmp_path), "ledger-test", Redactor([]))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    await s.orders.accept(order("p", Action.PROVISION))
    run = await claimed(s, "p", owner=REPLICA)
    ready = RunOutcome(RunStatus.SUCCEEDED, OrderStatus.SUCCEEDED, InstanceStatus.READY, 0)
    await s.runs.finish(run.id, ready, token=run.token)
    yield s
    await s.close()


async def interrupted(store: SqliteStore, oid: str, action: Action) -> str:
    await store.orders.accept(order(oid, action))
    start = RunStart("rotate_keys.yml", {}, InstanceStatus.READY, {})
    return (await claimed(store, oid, start, owner=REPLICA)).id


@pytest.mark.parametrize(
    ("action", "what_to_check"),
    [
        (Action.MASTER_KEY_ROTATE, "Secret litellm-master-key-rotation"),
        (Action.KEY_ROTATE, "-rotating"),
    ],
)
async def test_an_interrupted_rotation_is_not_run_again(
    store: SqliteStore, runner: PlaybookRunner, action: Action, what_to_check: str
) -> None:
    run_id = await interrupted(store, "r", action)
    assert await recover(store, runner) == 1
    run = await store.runs.get(run_id)
    found = await store.orders.get("r")
    assert run is not None and found is not None
    assert run.status == RunStatus.FAILED
    assert found.status == OrderStatus.CANCELLED  # terminal: no retry, its message dead-letters
    assert what_to_check in (found.message or "")
    assert "not run again automatically" in (found.message or "")
    assert await store.orders.next_queued("demo") is None


async def test_another_interrupted_change_is_queued_again(
    store: SqliteStore, runner: PlaybookRunner
) -> None:
    await interrupted(store, "m", Action.MODEL_UPSERT)
    await recover(store, runner)
    found = await store.orders.get("m")
    assert found is not None and found.status == OrderStatus.QUEUED


async def test_the_sweeper_closes_runs_whose_lease_ran_out_and_leaves_live_ones(
    store: SqliteStore, runner: PlaybookRunner, tmp_path: Path
) -> None:
    """Runs of a replica that died: the order runs again, a rotation is closed for good."""
    for oid, action in (("dead", Action.UPDATE), ("rot", Action.KEY_ROTATE),
                        ("live", Action.UPDATE)):  # fmt: skip
        await store.orders.accept(replace(order(oid, action), instance=oid))
    # leases that ran out already
    dead = await claimed(store, "dead", owner="replica-dead", lease=-1.0)
    rotation = RunStart("rotate_keys.yml", {}, InstanceStatus.READY, {})
    rot = await claimed(store, "rot", rotation, owner="replica-dead", lease=-1.0)
    live = await claimed(store, "live", owner="replica-b")
    woken: list[str] = []
    sweeper = Sweeper(store, runner, settings_for(tmp_path), woken.append)

    assert await sweeper.sweep() == 2
    assert await sweeper.sweep() == 0  # swept once

    assert woken == ["dead", "rot"]
    statuses = {r.order_id: (await store.orders.get(r.order_id)) for r in (dead, rot, live)}
    assert {oid: o.status for oid, o in statuses.items() if o} == {
        "dead": OrderStatus.QUEUED,
        "rot": OrderStatus.CANCELLED,  # not run again: its message dead-letters
        "live": OrderStatus.RUNNING,
    }
    assert "stopped renewing its lease" in (statuses["dead"].message or "")  # type: ignore[union-attr]
    assert [r.id for r in await store.runs.unfinished()] == [live.id]
