"""A replica's runs under their leases, with the real dispatcher and runner (the `hold` fixture
playbook): a run another replica took over is stopped and nothing of it is recorded; a cancel
asked through another replica stops the run at its owner's next heartbeat; a run goes on while
PostgreSQL is away, and its end and events are recorded once it is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import litellm_local
from ledgerkit import PgLedger, claimed, new
from litemaas_controller.dispatch.dispatcher import Dispatcher
from litemaas_controller.ledger import OrderStatus, RunRecord, RunStatus, SqliteStore
from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner
from sandbox.throwaway_pg import ThrowawayPostgres
from waiting import wait_for

from .procscan import alive
from .servicekit import Evidence, base_settings

pytestmark = pytest.mark.integration

postgres = litellm_local.postgres


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


async def test_a_run_goes_on_while_postgresql_is_away_and_its_end_is_recorded_once_it_is_back(
    tmp_path: Path, run_env: Evidence, postgres: ThrowawayPostgres
) -> None:
    pg = PgLedger.create(postgres, tmp_path)
    store = await pg.open()
    settings = base_settings(tmp_path, "hold", replica="replica-a", run_heartbeat=0.5,
                             run_lease=60.0)  # fmt: skip
    runner = PlaybookRunner(settings, store.ledger_id, Redactor([]))
    observed: list[RunRecord] = []
    dispatcher = Dispatcher(store, runner, settings, observers=[observed.append])
    await store.orders.accept(new("o1"))
    try:
        await dispatcher.start()
        await run_env.started()
        postgres.shutdown()
        try:
            run_env.release()  # the playbook goes on to its end, its events find no ledger
            await wait_for(lambda: not runner.in_flight, what="the run's end")
        finally:
            postgres.relaunch()
        await wait_for(lambda: observed, what="the run's end recorded")
    finally:
        await dispatcher.drain(0)
        await runner.close()
    try:
        [final] = observed
        assert final.status == RunStatus.SUCCEEDED
        order = await store.orders.get("o1")
        assert order is not None and order.status == OrderStatus.SUCCEEDED
        events = [e.event for e in await store.events.after(final.id, 0)]
        assert "playbook_on_stats" in events  # those written while the ledger was away too
    finally:
        await store.close()
