"""Orders → runs: one worker per instance (its orders run in arrival order), a cap per replica.

Instances run in parallel up to ``max_concurrent_runs``; the semaphore is fair, so instances take
turns.  The queue itself is the ledger (orders in status ``queued``): nothing lives only in
memory, so a restart loses nothing.  Replicas sharing a ledger share the queue: a worker claims
its instance's next order (``Runs.claim``; the ledger gives each order to one replica, and one
unfinished run per instance), runs it under a lease its heartbeat renews (``dispatch.tenure``),
and records its end with the claim's token; a run another replica took over meanwhile is
dropped, not recorded (docs/replicas.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from litemaas_controller.config import Settings
from litemaas_controller.dispatch import changes, plans
from litemaas_controller.dispatch.recovery import recover
from litemaas_controller.dispatch.sweeper import Sweeper
from litemaas_controller.dispatch.tenure import Tenure
from litemaas_controller.errors import (
    ConflictError,
    ControllerError,
    FencedError,
    LedgerWriteError,
    NotFoundError,
)
from litemaas_controller.ledger import (
    TERMINAL_RUN,
    OrderRecord,
    OrderStatus,
    RunRecord,
    RunStart,
    RunStatus,
    Store,
)
from litemaas_controller.runner.run import PlaybookRunner, RunRequest, RunResult

log = logging.getLogger(__name__)

RunObserver = Callable[[RunRecord], None]

DRAINED = "the service shut down during this run; the order runs again on the next start"
T = TypeVar("T")

#: longest wait between two tries of a ledger write the ledger refused (disk full)
LEDGER_RETRY_MAX = 30.0


class Dispatcher:
    def __init__(
        self,
        store: Store,
        runner: PlaybookRunner,
        settings: Settings,
        observers: list[RunObserver] | None = None,
    ) -> None:
        self._store = store
        self._runner = runner
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending: set[str] = set()
        self._draining = False
        self._drained: set[str] = set()
        self._observers = list(observers or [])
        self._sweeper = Sweeper(store, runner, settings, self.wake)
        self._sweeping: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._runner.in_flight)

    @property
    def draining(self) -> bool:
        return self._draining

    async def start(self) -> None:
        """Recover from this replica's last life, then pick up every queued order and keep
        sweeping (runs of replicas that died, orders nobody runs)."""
        interrupted = await recover(self._store, self._runner)
        if interrupted:
            log.warning(
                "%d interrupted run(s) recovered; their orders are queued again", interrupted
            )
        await asyncio.to_thread(self._runner.sweep)
        await self._sweeper.wake_queued()
        self._sweeping = asyncio.create_task(self._sweeper.run(), name="dispatch:sweeper")

    def wake(self, instance: str) -> None:
        """A new order for ``instance`` is in the ledger: make sure a worker will see it."""
        if self._draining:
            return
        if instance in self._workers:
            self._pending.add(instance)
            return
        task = asyncio.create_task(self._worker(instance), name=f"dispatch:{instance}")
        self._workers[instance] = task
        task.add_done_callback(partial(self._worker_done, instance))

    def _worker_done(self, instance: str, task: asyncio.Task[None]) -> None:
        self._workers.pop(instance, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("dispatch worker for %s died", instance, exc_info=exc)
        if instance in self._pending and not self._draining:
            self._pending.discard(instance)
            self.wake(instance)

    async def _worker(self, instance: str) -> None:
        while not self._draining:
            self._pending.discard(instance)
            try:
                if not await self._next(instance):
                    return
            except LedgerWriteError as exc:
                # the order stays queued; it starts once the ledger takes writes again (the
                # first write that gets through, any replica's, says so)
                log.error("instance %s: no order could start: %s; trying again at the ledger's "
                          "next change or in %ss",
                          instance, exc.message, LEDGER_RETRY_MAX)  # fmt: skip
                await self._store.wait_changed(LEDGER_RETRY_MAX)

    async def _next(self, instance: str) -> bool:
        """Claim the instance's next order and run it; False when this worker is done (no
        order, another replica has it, or the run was lost)."""
        async with self._slots:
            if self._draining:
                return False
            # a ledger that does not answer (PostgreSQL unreachable) is waited for
            order = await _kept(partial(self._store.orders.next_queued, instance))
            if order is None:
                return False
            if await self._stale(order):
                return True
            claimed = await self._claim(order)
            if claimed is None:
                return False
            run, extravars = claimed
            async with Tenure(self._store, self._runner, self._settings, run) as tenure:
                result = await self._execute(tenure, extravars)
        return await self._record(tenure, order, result)

    async def _claim(self, order: OrderRecord) -> tuple[RunRecord, dict[str, object]] | None:
        instance = await self._store.instances.get(order.instance)
        extravars = plans.extravars(
            order, instance, self._settings.upstream_allow, self._settings.service_account
        )
        start = RunStart(
            plans.playbook(order), extravars, *plans.instance_on_start(order, instance, extravars)
        )
        run = await self._store.runs.claim(
            order.id, start, self._settings.replica, self._settings.run_lease
        )
        return None if run is None else (run, extravars)

    async def _stale(self, order: OrderRecord) -> bool:
        """Drop a change when a newer message about the same model or alias has already run
        (a retried message, queued again behind it): running it would undo the newer one."""
        subject = changes.same_subject(order.action)
        if subject is None:
            return False
        newer = await self._store.orders.newer_run_about(order, *subject)
        if newer is None:
            return False
        reason = f"dropped: newer order {newer} about the same {subject[1]} has already run"
        final = await self._store.orders.supersede(order.id, reason)
        log.info("order %s %s", order.id, reason)
        return final.status == OrderStatus.SUPERSEDED

    async def _execute(self, tenure: Tenure, extravars: dict[str, object]) -> RunResult:
        run = tenure.run
        request = RunRequest(
            run_id=run.id,
            playbook=run.playbook,
            extravars=dict(extravars),
            results_key=plans.results_key(run.action),
        )
        try:
            return await self._runner.run(request, tenure.append_events, tenure.record_process)
        except (ControllerError, OSError) as exc:
            # ansible-runner refused to start (bad playbook dir, missing ansible-playbook...)
            log.error("run %s could not run: %s", run.id, exc)
            return RunResult(RunStatus.FAILED, None, f"the run could not start: {exc}", None)

    async def _record(self, tenure: Tenure, order: OrderRecord, result: RunResult) -> bool:
        """Record the run's end with its token; False (nothing recorded, nobody told) when the
        run is no longer this replica's."""
        run = tenure.run
        await _kept(tenure.flush)
        if tenure.lost is not None:
            log.warning("run %s of order %s lost (%s): its end (%s) is not recorded",
                        run.id, order.id, tenure.lost, result.status)  # fmt: skip
            return False
        if run.id in self._drained and result.status != RunStatus.SUCCEEDED:
            write = partial(self._store.runs.requeue, run.id, RunStatus.CANCELLED, DRAINED,
                            token=run.token)  # fmt: skip
        else:
            outcome = plans.outcome(order.action, result)
            write = partial(self._store.runs.finish, run.id, outcome, token=run.token)
        try:
            final = await _kept(write)
        except FencedError as exc:
            log.warning("run %s of order %s lost: %s", run.id, order.id, exc.message)
            return False
        log.info("run %s of order %s ended %s", run.id, order.id, final.status)
        for observe in self._observers:
            observe(final)
        return True

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run: its whole process tree is ended; returns the recorded run.

        A run of another replica is asked to stop through the ledger: its owner ends it at its
        next heartbeat (or the sweeper closes it, if its owner is gone)."""
        run = await self._store.runs.get(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        if run.status in TERMINAL_RUN:
            raise ConflictError(f"run {run_id} already ended ({run.status}); nothing to cancel")
        if not await self._runner.stop(run_id, RunStatus.CANCELLED):
            # another replica's, or this one's about to start or just ended (being recorded)
            await self._store.runs.request_cancel(run_id)
        return await self._wait_recorded(run_id)

    async def _wait_recorded(self, run_id: str) -> RunRecord:
        """The run once its worker has recorded how it ended (right after the tree is gone)."""
        while True:
            run = await self._store.runs.get(run_id)
            if run is None:
                raise NotFoundError(f"run {run_id} does not exist")
            if run.status in TERMINAL_RUN:
                return run
            await self._store.wait_changed(timeout=5.0)

    async def drain(self, grace: float) -> None:
        """Stop taking orders, let runs finish for ``grace`` s, then cancel and requeue the rest."""
        self._draining = True
        if self._sweeping is not None:
            self._sweeping.cancel()
            await asyncio.gather(self._sweeping, return_exceptions=True)
        workers = list(self._workers.values())
        if not workers:
            return
        deadline = time.monotonic() + grace
        _done, pending = await asyncio.wait(workers, timeout=grace)
        if pending:
            log.warning("%d run(s) still in flight after %ss; cancelling them", len(pending), grace)
            late = self._runner.in_flight
            self._drained.update(late)
            await asyncio.gather(*(self._runner.stop(r, RunStatus.CANCELLED) for r in late))
            await asyncio.wait(pending, timeout=max(5.0, deadline - time.monotonic()))
        for task in pending:
            task.cancel()  # last resort: a worker stuck outside a run
        await asyncio.gather(*pending, return_exceptions=True)


async def _kept(call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` once the ledger takes it: a run's end is never dropped, and the instance's
    next order waits until it is recorded (a disk that was full gets space again, a PostgreSQL
    server is back)."""
    delay = 1.0
    while True:
        try:
            return await call()
        except LedgerWriteError as exc:
            log.error("%s; trying again in %.0fs", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LEDGER_RETRY_MAX)
