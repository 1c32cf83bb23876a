"""A replica's hold on one run it claimed: the heartbeat that renews the run's lease, and the
run's writes while it goes, each carrying the claim's fencing token.

The lease counts on the ledger's clock.  A renewal that finds the run LOST (another replica
swept it once the lease ran out: this replica was paused, or cut off from the ledger past the
lease) stops the process tree at once: the order runs elsewhere now, and nothing more of this
run is recorded.  CANCEL (a cancel asked through any replica) stops it as a cancel.  A ledger
that does not answer (PostgreSQL away) keeps the run going: the next beat renews again, the
run's events and process wait for the next write; if the lease ran out meanwhile they and the
run's end are refused (fenced) and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from litemaas_controller.config import Settings
from litemaas_controller.errors import FencedError, LedgerUnreachableError, LedgerWriteError
from litemaas_controller.ledger import EventRecord, Lease, RunRecord, RunStatus, Store
from litemaas_controller.runner.run import PlaybookRunner

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
        self._unsent: list[EventRecord] = []  # events the ledger was unreachable for
        self._process: tuple[int, int] | None = None  # the leading process, until recorded
        self._waiting = False  # for the ledger to be reachable again

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
        self._unsent.extend(events)
        await self._send()

    async def record_process(self, pid: int, pid_start: int) -> None:
        """The runner's process sink, fenced like every write about the run."""
        self._process = (pid, pid_start)
        await self._send()

    async def flush(self) -> None:
        """Send what an unreachable ledger could not take; before the run's end is recorded.
        ``LedgerUnreachableError`` while it still cannot."""
        await self._send(wait=False)

    async def _send(self, *, wait: bool = True) -> None:
        """Write the process and events not written yet.  An unreachable ledger keeps them for
        the next try and the run goes on; a write the ledger refuses (disk full) drops them and
        raises (the runner ends the run); a fenced one means the run is lost."""
        if self.lost is not None:
            self._unsent.clear()
            await self._lose(self.lost)  # the tree again, if it started since
            return
        if wait and self._waiting:
            return  # the ledger was unreachable: kept until a renewal or the run's end gets through
        run, batch = self.run, list(self._unsent)
        try:
            if self._process is not None:
                await self._store.runs.record_process(run.id, *self._process, token=run.token)
                self._process = None
            if batch and not await self._store.events.append(batch, token=run.token, run_id=run.id):
                await self._lose("its events were refused")
        except FencedError as exc:
            await self._lose(exc.message)
        except LedgerUnreachableError as exc:
            if not wait:
                raise
            if not self._waiting:
                log.warning("run %s: %s; its events wait, the run goes on", run.id, exc.message)
            self._waiting = True
            return
        except LedgerWriteError:
            self._process = None
            del self._unsent[: len(batch)]
            raise
        self._waiting = False
        del self._unsent[: len(batch)]

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
            self._waiting = False  # the ledger answers again: the next events go with the rest
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
