"""A replica's runs under their leases, with the real dispatcher and runner (the `hold` fixture
playbook): a run another replica took over is stopped and nothing of it is recorded; a cancel
asked through another replica stops the run at its owner's next heartbeat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledgerkit import claimed, new
from litemaas_controller.dispatch.dispatcher import Dispatcher
from litemaas_controller.ledger import RunRecord, RunStatus, SqliteStore
from litemaas_controller.runner import PlaybookRunner, Redactor

from .conftest import Evidence, base_settings, wait_for
from .procscan import alive

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    yield s
    await s.close()


async def test_a_lost_run_is_stopped_and_unrecorded_a_cancel_from_another_replica_stops_its_run(
    tmp_path: Path, run_env: Evidence, store: SqliteStore
) -> None:
    settings = base_settings(tmp_path, "hold", replica="replica-a", run_heartbeat=0.2,
                             run_lease=30.0)  # fmt: skip
    runner = PlaybookRunner(settings, store.ledger_id, Redactor([]))
    observed: list[RunRecord] = []
    dispatcher = Dispatcher(store, runner, settings, observers=[observed.append])
    settings_b = base_settings(tmp_path, "hold", replica="replica-b")
    runner_b = PlaybookRunner(settings_b, store.ledger_id, Redactor([]))
    other = Dispatcher(store, runner_b, settings_b)  # replica B, on the same ledger
    for name in ("lost", "cancelled"):
        await store.orders.accept(new(name, instance=name))
    try:
        await dispatcher.start()
        await run_env.started(2)
        lost, cancelled = [
            next(r for r in await store.runs.unfinished() if r.instance == name)
            for name in ("lost", "cancelled")
        ]
        leaders = {f[3]: int(f[2]) for f in run_env.lines() if f[1] == "start"}

        # replica B's sweeper found the lease of "lost" run out, closed it, and B runs it now
        await store.runs.requeue(lost.id, RunStatus.FAILED, "swept by B", token=lost.token)
        taken = await claimed(store, "lost", owner="replica-b")
        # and a cancel of the other run is asked through replica B
        final = await other.cancel(cancelled.id)

        await wait_for(lambda: not runner.in_flight, what="both runs ended")
    finally:
        await dispatcher.drain(0)
        await runner.close()
        await runner_b.close()

    assert final.status == RunStatus.CANCELLED and final.reason == "run cancelled"
    assert [r.id for r in observed] == [cancelled.id]  # the lost run's end went nowhere
    gone = await store.runs.get(lost.id)
    assert gone is not None and (gone.status, gone.reason) == (RunStatus.FAILED, "swept by B")
    assert [r.id for r in await store.runs.unfinished()] == [taken.id]  # B's, untouched
    assert not any(alive(pid) for pid in leaders.values())
    assert run_env.count("end") == 0  # neither playbook got to its end
    finished = [a.subject for a in await store.audit.list() if a.action == "run.finished"]
    assert finished == [cancelled.id]
