"""A replica's hold on one run it claimed: the heartbeat that renews the run's lease, and the
run's writes while it goes, each carrying the claim's fencing token.

The lease counts on the ledger's clock.  A renewal that finds the run LOST (another replica
swept it once the lease ran out: this replica was paused, or cut off from the ledger past the
lease) stops the process tree at once: the order runs elsewhere now, and nothing more of this
run is recorded.  CANCEL (a cancel asked through any replica) stops it as a cancel.  A renewal
the ledger does not answer keeps the run going: the next beat tries again, and if the lease ran
out meanwhile the run's end is refused (fenced) and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from litemaas_controller.config import Settings
from litemaas_controller.errors import FencedError, LedgerWriteError
from litemaas_controller.ledger import EventRecord, Lease, RunRecord, RunStatus, Store
from litemaas_controller.runner import PlaybookRunner

log = logging.getLogger(__name__)


class Tenure:
    """``async with Tenure(...)`` around a claimed run's execution: the heartbeat beats inside."""

    def __init__(
        self, store: Store, runner: PlaybookRunner, settings: Settings, run: RunRecord
    ) -> None:
        self._store = store
        self._runner = runner
        self._settings = settings
        self.run = run
        #: why the run is no longer this replica's (None while it is)
        self.lost: str | None = None
        self._beat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tenure:
        self._beat = asyncio.create_task(self._heartbeat(), name=f"heartbeat:{self.run.id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)

    async def append_events(self, events: list[EventRecord]) -> None:
        """The runner's event sink: events of a run that was taken over are dropped."""
        kept = await self._store.events.append(events, token=self.run.token, run_id=self.run.id)
        if not kept:
            await self._lose("its events were refused")

    async def record_process(self, pid: int, pid_start: int) -> None:
        """The runner's process sink, fenced like every write about the run."""
        try:
            await self._store.runs.record_process(self.run.id, pid, pid_start, token=self.run.token)
        except FencedError as exc:
            await self._lose(exc.message)

    async def _heartbeat(self) -> None:
        while self.lost is None:
            await asyncio.sleep(self._settings.run_heartbeat)
            try:
                lease = await self._store.runs.renew(
                    self.run.id, self.run.token, self._settings.run_lease
                )
            except LedgerWriteError as exc:
                log.warning("run %s: its lease could not be renewed (%s); the run goes on",
                            self.run.id, exc.message)  # fmt: skip
                continue
            if lease == Lease.LOST:
                await self._lose("its lease ran out and another replica took it over")
            elif lease == Lease.CANCEL:
                # asked again at every beat until the run is gone (it may not be in flight yet)
                log.info("run %s: a cancel was asked for; ending it", self.run.id)
                await self._runner.stop(self.run.id, RunStatus.CANCELLED)

    async def _lose(self, why: str) -> None:
        """The run is another replica's now: end its tree (again, if it started since)."""
        if self.lost is None:
            self.lost = why
            log.warning("run %s of order %s lost: %s; ending its processes, recording nothing",
                        self.run.id, self.run.order_id, why)  # fmt: skip
        await self._runner.stop(self.run.id, RunStatus.CANCELLED)
