"""Start-up recovery: end the processes of runs nobody owns, and queue their orders again.

A run's processes outlive a killed service.  Before anything runs again, every process tagged
with a marker of this ledger and this replica (or the two-part marker of a controller from before
replicas were named) is ended, never another replica's, and every unfinished run is closed as
interrupted, its order back in the queue: playbooks are idempotent, so running an order again is
safe; running two playbooks on one instance at once is not.  Rotations are the exception
(:data:`NOT_REPEATED`): running one again rotates again, so an interrupted rotation is closed for
good (its order cancelled, its message dead-lettered) with a reason that says what to check
before sending it again.  A replica closes its own unfinished runs and those without an owner
(from before replicas shared a ledger); another live replica's runs are its own, and those of a
replica that died are closed by the sweeper once their lease has run out (``dispatch.sweeper``),
the same way.  Every close carries the token read: of two replicas closing one run, one wins.
"""

from __future__ import annotations

import logging

from litemaas_controller.errors import FencedError
from litemaas_controller.ledger import (
    Action,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
    Store,
)
from litemaas_controller.runner import procs
from litemaas_controller.runner.run import PlaybookRunner

log = logging.getLogger(__name__)

#: what to check before sending an interrupted rotation again (docs/models-and-keys.md)
NOT_REPEATED = {
    Action.MASTER_KEY_ROTATE: (
        "Secret litellm-master-key-rotation in the instance namespace records how far it got: "
        "send master_key.rotate again to resume from it (the resume establishes what took effect, "
        "or fails saying what to check); without that Secret the rotation finished or never "
        "started, and litellm-secret holds the key in force"
    ),
    Action.KEY_ROTATE: (
        "check the key's Secret and the key alias in LiteLLM (a key under the alias with "
        "'-rotating' appended is an unfinished rotation) and send key.rotate again if the Secret "
        "does not hold a working key"
    ),
}


async def recover(store: Store, runner: PlaybookRunner) -> int:
    """End leftover run processes and requeue this replica's interrupted runs; return how many."""
    unfinished = await store.runs.owned(runner.replica)
    swept: set[str] = set()
    for run in unfinished:
        marker = runner.marker(run.id)
        swept.add(marker)
        ended = await runner.end_processes(marker, _leader(run, store.ledger_id, runner.replica))
        await close_interrupted(
            store, run, f"the service stopped during this run ({ended} leftover process(es) ended)"
        )
    # processes of runs the ledger already closed (the service died while sweeping them), and
    # those marked in the two-part form by this controller before an upgrade
    for marker in procs.own_markers(store.ledger_id, runner.replica) - swept:
        await runner.end_processes(marker, None)
    return len(unfinished)


async def close_interrupted(store: Store, run: RunRecord, why: str) -> bool:
    """Close an interrupted run with the token it was read with: its order back in the queue,
    or closed for good (a rotation).  False when another replica closed or took it first."""
    stopped = f"interrupted: {why}"
    try:
        if run.status == RunStatus.RUNNING and run.action in NOT_REPEATED:
            await _close_for_good(store, run, stopped)
            return True
        status = RunStatus.FAILED if run.status == RunStatus.RUNNING else RunStatus.CANCELLED
        reason = f"{stopped}; the order runs again"
        await store.runs.requeue(run.id, status, reason, token=run.token)
    except FencedError:
        log.info("run %s was closed by another replica first", run.id)
        return False
    log.warning("run %s of order %s was interrupted; order queued again", run.id, run.order_id)
    return True


def _leader(run: RunRecord, ledger_id: str, replica: str) -> tuple[int, int] | None:
    """The run's recorded leading process, unless it carries a marker that is not this ledger's
    and this replica's (a run without an owner may be another replica's from before the
    upgrade: its marker says)."""
    if not (run.pid and run.pid_start) or procs.carries_another_marker(run.pid, ledger_id, replica):
        return None
    return (run.pid, run.pid_start)


async def _close_for_good(store: Store, run: RunRecord, stopped: str) -> None:
    reason = f"{stopped}; a {run.action} is not run again automatically: {NOT_REPEATED[run.action]}"
    outcome = RunOutcome(RunStatus.FAILED, OrderStatus.CANCELLED, None, reason=reason)
    await store.runs.finish(run.id, outcome, token=run.token)
    log.warning("run %s of order %s (%s) was interrupted; not run again", run.id, run.order_id,
                run.action)  # fmt: skip
