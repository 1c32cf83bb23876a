"""Each replica's sweeper: runs whose lease ran out are closed, and the queue is looked at.

A replica that dies (kill -9, a lost node) or stalls past its runs' leases stops renewing
them; once a lease has run out on the ledger's clock, any replica's sweeper closes the run as
start-up recovery does (its order back in the queue, a rotation closed for good), with the
token it read: of two sweepers at once one wins, the other is fenced off and passes.  A run
still in flight here is left to its heartbeat.

The sweeper also wakes the workers of every instance with a queued order that nobody runs: on
every change any replica writes (the ledger's notification), and at least every heartbeat
(the polling fallback when notifications are lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from litemaas_controller.config import Settings
from litemaas_controller.dispatch.recovery import close_interrupted
from litemaas_controller.errors import ControllerError
from litemaas_controller.ledger import Store
from litemaas_controller.runner.run import PlaybookRunner

log = logging.getLogger(__name__)

#: after a change, how long to let the burst it belongs to settle before looking at the queue
SETTLE = 0.2


class Sweeper:
    def __init__(
        self,
        store: Store,
        runner: PlaybookRunner,
        settings: Settings,
        wake: Callable[[str], None],
    ) -> None:
        self._store = store
        self._runner = runner
        self._settings = settings
        self._wake = wake

    async def run(self) -> None:
        """Until cancelled: sweep every heartbeat, wake workers on every change."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            try:
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + self._settings.run_heartbeat
                    await self.sweep()
                await self.wake_queued()
            except ControllerError as exc:  # the ledger unreachable, mostly: the next turn retries
                log.warning("the sweeper could not sweep: %s", exc.message)
            if await self._store.wait_changed(max(0.0, next_sweep - loop.time())):
                await asyncio.sleep(SETTLE)

    async def sweep(self) -> int:
        """Close the runs whose lease ran out (not those in flight here); return how many."""
        closed = 0
        for run in await self._store.runs.expired():
            if run.id in self._runner.in_flight:
                continue  # alive here: its heartbeat renews it, or finds it lost
            why = f"its replica {run.owner} stopped renewing its lease"
            if await close_interrupted(self._store, run, why):
                closed += 1
                self._wake(run.instance)
        return closed

    async def wake_queued(self) -> None:
        for instance in await self._store.orders.instances_with_queued():
            self._wake(instance)
