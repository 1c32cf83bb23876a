"""Start-up recovery with several replicas on one host and one ledger: a starting replica ends
the leftover processes its own runs' markers name (and those of the two-part marker a controller
from before the upgrade left), never a process of another replica's run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ledgerkit import claimed
from litemaas_controller.dispatch.recovery import recover
from litemaas_controller.ledger import Action, NewOrder, RunStatus, SqliteStore
from litemaas_controller.runner import procs
from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner

from .procscan import alive
from .servicekit import base_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def file(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
async def store(file: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(file)
    yield s
    await s.close()


@pytest.fixture
def runner_a(tmp_path: Path, store: SqliteStore) -> PlaybookRunner:
    settings = base_settings(tmp_path, "quick", replica="replica-a", kill_grace=0.2)
    return PlaybookRunner(settings, store.ledger_id, Redactor([]))


Spawn = Callable[[str], subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a process carrying the run marker it is given; every one is ended afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(marker: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, procs.MARKER: marker}
        started.append(subprocess.Popen(["sleep", "300"], env=env, start_new_session=True))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def living(spawned: dict[str, subprocess.Popen[bytes]]) -> set[str]:
    return {name for name, proc in spawned.items() if alive(proc.pid)}


async def test_recovery_ends_this_replicas_and_old_form_markers_and_leaves_another_replicas(
    store: SqliteStore, runner_a: PlaybookRunner, spawn: Spawn
) -> None:
    ledger = store.ledger_id
    spawned = {
        "a": spawn(f"{ledger}/replica-a/run-0000000000a1"),  # a run the ledger closed already
        "b": spawn(f"{ledger}/replica-b/run-0000000000b1"),  # another replica's, live
        "old": spawn(f"{ledger}/run-0000000000c1"),  # left by this controller before the upgrade
        "b-same-id": spawn(f"{ledger}/replica-b/run-0000000000a1"),  # B's, with A's run id
    }

    assert await recover(store, runner_a) == 0

    assert living(spawned) == {"b", "b-same-id"}


async def unfinished(store: SqliteStore, oid: str, owner: str | None, file: Path) -> str:
    """A run of the ledger left running by replica ``owner`` (None: by a controller from before
    replicas shared a ledger: no owner, no token)."""
    await store.orders.accept(
        NewOrder(id=oid, action=Action.PROVISION, instance=oid, namespace=f"litemaas-{oid}",
                 vars={}, body="{}", source="test", principal="bearer")
    )  # fmt: skip
    run = await claimed(store, oid, owner=owner or "replica-x")
    if owner is None:
        with closing(sqlite3.connect(file)) as db, db:
            db.execute("UPDATE runs SET owner=NULL, token=NULL WHERE id=?", (run.id,))
    return run.id


async def led_by(store: SqliteStore, run_id: str, leader: subprocess.Popen[bytes]) -> None:
    start = procs.start_time(leader.pid)
    run = await store.runs.get(run_id)
    assert start is not None and run is not None
    await store.runs.record_process(run_id, leader.pid, start, token=run.token)


async def test_the_recorded_leader_of_another_replicas_run_is_left_running(
    store: SqliteStore, runner_a: PlaybookRunner, spawn: Spawn, file: Path
) -> None:
    # runs from before the upgrade name no owner: their leader's marker says whose they are
    ledger, theirs, ours = (
        store.ledger_id,
        await unfinished(store, "theirs", None, file),
        await unfinished(store, "ours", None, file),
    )
    spawned = {"b": spawn(f"{ledger}/replica-b/{theirs}"), "old": spawn(f"{ledger}/{ours}")}
    await led_by(store, theirs, spawned["b"])
    await led_by(store, ours, spawned["old"])

    assert await recover(store, runner_a) == 2

    assert living(spawned) == {"b"}


async def test_recovery_closes_this_replicas_and_ownerless_runs_not_another_live_replicas(
    store: SqliteStore, runner_a: PlaybookRunner, spawn: Spawn, file: Path
) -> None:
    ledger = store.ledger_id
    runs = {
        "a": await unfinished(store, "a", "replica-a", file),
        "b": await unfinished(store, "b", "replica-b", file),
        "old": await unfinished(store, "old", None, file),
    }
    spawned = {
        "a": spawn(f"{ledger}/replica-a/{runs['a']}"),
        "b": spawn(f"{ledger}/replica-b/{runs['b']}"),
    }
    for name, proc in spawned.items():
        await led_by(store, runs[name], proc)

    assert await recover(store, runner_a) == 2

    status = {name: (await store.runs.get(run_id)).status for name, run_id in runs.items()}  # type: ignore[union-attr]
    assert status == {"a": RunStatus.FAILED, "b": RunStatus.RUNNING, "old": RunStatus.FAILED}
    assert living(spawned) == {"b"}
    assert [r.id for r in await store.runs.unfinished()] == [runs["b"]]
