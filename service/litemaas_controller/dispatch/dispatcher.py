"""Orders → runs: one worker per instance (its orders run in arrival order), a global cap.

Instances run in parallel up to ``max_concurrent_runs``; the semaphore is fair, so instances take
turns.  The queue itself is the ledger (orders in status ``queued``): nothing lives only in
memory, so a restart loses nothing.
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
from litemaas_controller.errors import (
    ConflictError,
    ControllerError,
    LedgerWriteError,
    NotFoundError,
)
from litemaas_controller.ledger import (
    TERMINAL_RUN,
    OrderRecord,
    OrderStatus,
    RunOutcome,
    RunRecord,
    RunStatus,
    Store,
)
from litemaas_controller.runner import PlaybookRunner, RunRequest, RunResult

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

    @property
    def in_flight(self) -> int:
        return len(self._runner.in_flight)

    @property
    def draining(self) -> bool:
        return self._draining

    async def start(self) -> None:
        """Recover from the last life of the service, then pick up every queued order."""
        interrupted = await recover(self._store, self._runner)
        if interrupted:
            log.warning(
                "%d interrupted run(s) recovered; their orders are queued again", interrupted
            )
        await asyncio.to_thread(self._runner.sweep)
        for instance in await self._store.orders.instances_with_queued():
            self.wake(instance)

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
            # a ledger that does not answer (PostgreSQL unreachable) is waited for
            order = await _kept(partial(self._store.orders.next_queued, instance))
            if order is None:
                return
            try:
                await self._run_order(order)
            except LedgerWriteError as exc:
                # the order stays queued; it starts once the ledger takes writes again
                log.error("order %s could not start: %s; trying again in %ss",
                          order.id, exc.message, LEDGER_RETRY_MAX)  # fmt: skip
                await asyncio.sleep(LEDGER_RETRY_MAX)

    async def _run_order(self, order: OrderRecord) -> None:
        if await self._stale(order):
            return
        instance = await self._store.instances.get(order.instance)
        extravars = plans.extravars(
            order, instance, self._settings.upstream_allow, self._settings.service_account
        )
        run = await self._store.runs.create(order.id, plans.playbook(order), extravars)
        async with self._slots:
            current = await self._store.runs.get(run.id)
            if current is None or current.status != RunStatus.QUEUED:
                return  # superseded or cancelled while it waited for a slot
            if self._draining:
                await self._store.runs.requeue(run.id, RunStatus.CANCELLED, DRAINED)
                return
            await self._store.runs.start(
                run.id, *plans.instance_on_start(order, instance, extravars)
            )
            result = await self._execute(run, extravars)
        await self._record(run, order, result)

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

    async def _execute(self, run: RunRecord, extravars: dict[str, object]) -> RunResult:
        request = RunRequest(
            run_id=run.id,
            playbook=run.playbook,
            extravars=dict(extravars),
            results_key=plans.results_key(run.action),
        )
        on_process = partial(self._store.runs.record_process, run.id)
        try:
            return await self._runner.run(request, self._store.events.append, on_process)
        except (ControllerError, OSError) as exc:
            # ansible-runner refused to start (bad playbook dir, missing ansible-playbook...)
            log.error("run %s could not run: %s", run.id, exc)
            return RunResult(RunStatus.FAILED, None, f"the run could not start: {exc}", None)

    async def _record(self, run: RunRecord, order: OrderRecord, result: RunResult) -> None:
        if run.id in self._drained and result.status != RunStatus.SUCCEEDED:
            write = partial(self._store.runs.requeue, run.id, RunStatus.CANCELLED, DRAINED)
        else:
            write = partial(self._store.runs.finish, run.id, plans.outcome(order.action, result))
        final = await _kept(write)
        log.info("run %s of order %s ended %s", run.id, order.id, final.status)
        for observe in self._observers:
            observe(final)

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run: its whole process tree is ended; returns the recorded run."""
        run = await self._store.runs.get(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        if run.status in TERMINAL_RUN:
            raise ConflictError(f"run {run_id} already ended ({run.status}); nothing to cancel")
        if not await self._runner.stop(run_id, RunStatus.CANCELLED):
            if run.status == RunStatus.RUNNING:
                # it has just ended: its end is being recorded (maybe waiting for the ledger)
                return await self._wait_recorded(run_id)
            # still waiting for a slot: it never started
            outcome = RunOutcome(RunStatus.CANCELLED, OrderStatus.CANCELLED, None,
                                 reason="cancelled before it started")  # fmt: skip
            return await self._store.runs.finish(run_id, outcome)
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
