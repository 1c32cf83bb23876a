"""Start-up recovery: end the processes of runs nobody owns, and queue their orders again.

A run's processes outlive a killed service.  Before anything runs again, every process tagged
with this ledger's marker is ended and every unfinished run is closed as interrupted, its order
back in the queue: playbooks are idempotent, so running an order again is safe; running two
playbooks on one instance at once is not.
"""

from __future__ import annotations

import logging

from litemaas_controller.ledger import RunStatus, Store
from litemaas_controller.runner import PlaybookRunner, procs

log = logging.getLogger(__name__)


async def recover(store: Store, runner: PlaybookRunner) -> int:
    """End leftover run processes and requeue interrupted runs; return how many runs."""
    unfinished = await store.unfinished_runs()
    for run in unfinished:
        leader = (run.pid, run.pid_start) if run.pid and run.pid_start else None
        ended = await runner.end_processes(runner.marker(run.id), leader)
        status = RunStatus.FAILED if run.status == RunStatus.RUNNING else RunStatus.CANCELLED
        reason = (
            f"interrupted: the service stopped during this run ({ended} leftover process(es) "
            "ended); the order runs again"
        )
        await store.requeue_run(run.id, status, reason)
        log.warning("run %s of order %s was interrupted; order queued again", run.id, run.order_id)
    # processes of runs the ledger already closed (the service died while sweeping them)
    known = {r.id for r in unfinished}
    for run_id in procs.marked_runs(store.ledger_id):
        if run_id not in known:
            await runner.end_processes(runner.marker(run_id), None)
    return len(unfinished)
