"""One playbook run through ansible-runner: private dir, clean environment, events, tree kill.

The extra vars reach ansible-playbook as unsafe data (``extravars``): a file in the private dir,
outside the artifacts, removed with it.

The blocking ``ansible_runner.Runner.run`` runs in a thread of a pool sized by the global cap;
its events cross to the event loop as they happen.  Cancel and timeout end the whole process
tree (``procs.end_tree``), never only ansible-playbook's process group.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
from ansible_runner.exceptions import AnsibleRunnerException

from litemaas_controller.config import Settings
from litemaas_controller.config.paths import private_dir
from litemaas_controller.errors import ControllerError, PermanentError
from litemaas_controller.ledger import EventRecord, RunStatus
from litemaas_controller.ledger.models import PERMANENT_FAILURE
from litemaas_controller.runner import extravars, procs
from litemaas_controller.runner.env import run_environment
from litemaas_controller.runner.events import (
    data_lost,
    failure,
    is_permanent_failure,
    stats_results,
    to_record,
)
from litemaas_controller.runner.metrics import RunnerMetrics
from litemaas_controller.runner.redact import Redactor

log = logging.getLogger(__name__)

#: the stdout callback that scrubs what ansible-runner's callback writes to disk
CALLBACK_DIR = Path(__file__).parent / "callback"
#: how often ansible-runner looks at its child; small so a killed run is noticed quickly
PEXPECT_TIMEOUT = 0.2
#: why a run is ended when ansible-playbook could not hand over an event's data
DATA_LOST = (
    "ansible-playbook could not write an event's data in the run's private dir; "
    "is the disk under the state dir full?"
)


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    playbook: str  # file name inside the playbook directory
    extravars: dict[str, Any]
    results_key: str = "litemaas"  # the playbook's set_stats name that holds its results


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    rc: int | None
    reason: str | None
    results: dict[str, Any] | None


@dataclass
class _InFlight:
    marker: str
    results_key: str = "litemaas"
    leader: tuple[int, int] | None = None
    stop_reason: RunStatus | None = None  # set when we end the run (cancelled / timeout)
    #: after this (monotonic) time ansible-runner itself may kill the run: covers a stop that
    #: came before ansible-playbook was spawned, without cutting our SIGTERM grace short
    stop_deadline: float = float("inf")
    results: dict[str, Any] | None = None
    failure: str | None = None  # the first failed task and its message, redacted
    #: why the run could not be carried on (the ledger refused its events, ansible-runner
    #: could not write its own files): the run is ended and fails with this reason
    broken: str | None = None
    permanent: bool = False  # that task's module said no retry can fix it
    done: asyncio.Event = field(default_factory=asyncio.Event)


EventSink = Callable[[list[EventRecord]], Awaitable[None]]
ProcessSink = Callable[[int, int], Awaitable[None]]


class PlaybookRunner:
    def __init__(
        self,
        settings: Settings,
        ledger_id: str,
        redactor: Redactor,
        metrics: RunnerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._ledger_id = ledger_id
        self._redactor = redactor
        self._metrics = metrics or RunnerMetrics()
        self._unended: set[tuple[int, int]] = set()  # reported already: counted once
        self._pool = ThreadPoolExecutor(settings.max_concurrent_runs, thread_name_prefix="run")
        self._inflight: dict[str, _InFlight] = {}

    @property
    def replica(self) -> str:
        return self._settings.replica

    def marker(self, run_id: str) -> str:
        return procs.marker_value(self._ledger_id, self.replica, run_id)

    @property
    def in_flight(self) -> list[str]:
        return list(self._inflight)

    async def run(
        self, req: RunRequest, on_events: EventSink, on_process: ProcessSink
    ) -> RunResult:
        """Run ``req`` to its end; events and the leading process are reported as they come."""
        loop = asyncio.get_running_loop()
        flight = _InFlight(marker=self.marker(req.run_id), results_key=req.results_key)
        self._inflight[req.run_id] = flight
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        private = Path(tempfile.mkdtemp(prefix=f"{req.run_id}-", dir=self._runs_dir()))
        consumer = asyncio.create_task(
            self._consume(req.run_id, queue, flight, on_events, on_process)
        )
        try:
            job = loop.run_in_executor(
                self._pool,
                self._blocking_run,
                req,
                private,
                flight,
                lambda ev: loop.call_soon_threadsafe(queue.put_nowait, ev),
            )
            rc = await self._await_with_timeout(req.run_id, job, flight)
        finally:
            queue.put_nowait(None)
            await consumer
            # a run that ended by itself may still leave a daemonised process behind
            await self._end_tree(flight)
            shutil.rmtree(private, ignore_errors=True)
            self._inflight.pop(req.run_id, None)
        return self._result(flight, rc)

    async def _await_with_timeout(
        self, run_id: str, job: asyncio.Future[int | None], flight: _InFlight
    ) -> int | None:
        try:
            async with asyncio.timeout(self._settings.run_timeout):
                return await asyncio.shield(job)
        except TimeoutError:
            log.warning(
                "run %s passed its timeout of %ss; ending it", run_id, self._settings.run_timeout
            )
            await self.stop(run_id, RunStatus.TIMEOUT)
            return await job
        except asyncio.CancelledError:
            # our task was cancelled (shutdown without drain): never leave the run behind
            await self.stop(run_id, RunStatus.CANCELLED)
            await job
            raise

    def _result(self, flight: _InFlight, rc: int | None) -> RunResult:
        if flight.broken is not None:
            return RunResult(RunStatus.FAILED, rc, flight.broken, flight.results)
        if rc == 0:
            # the playbook got to its end: a stop that raced the end changes nothing
            return RunResult(RunStatus.SUCCEEDED, rc, None, flight.results)
        if flight.stop_reason is not None:
            reason = "cancelled" if flight.stop_reason == RunStatus.CANCELLED else "timed out"
            return RunResult(flight.stop_reason, rc, f"run {reason}", flight.results)
        reason = f"playbook failed (rc {rc})" + (f": {flight.failure}" if flight.failure else "")
        if flight.permanent:
            reason = PERMANENT_FAILURE + reason
        return RunResult(RunStatus.FAILED, rc, reason, flight.results)

    async def stop(self, run_id: str, reason: RunStatus) -> bool:
        """End a run in flight (SIGTERM, then SIGKILL after the grace): False if not in flight."""
        flight = self._inflight.get(run_id)
        if flight is None:
            return False
        if flight.stop_reason is None:
            flight.stop_reason = reason
            flight.stop_deadline = time.monotonic() + self._settings.kill_grace
        await self._end_tree(flight)
        return True

    async def _end_tree(self, flight: _InFlight) -> None:
        await self.end_processes(flight.marker, flight.leader)

    async def end_processes(self, marker: str, leader: tuple[int, int] | None) -> int:
        """End every process of the run with ``marker``; return how many there were.

        A process that outlives its SIGKILL by the kill grace is logged and counted
        (``litemaas_run_processes_unended_total``), never passed over in silence.
        """
        grace = self._settings.kill_grace
        ending = await asyncio.to_thread(procs.end_tree, marker, leader, grace)
        if ending.ended:
            log.info("ended %d process(es) of %s", ending.ended, marker)
        new = [p for p in ending.left if (p.pid, p.start) not in self._unended]
        if new:
            self._unended.update((p.pid, p.start) for p in new)
            self._metrics.unended.inc(len(new))
            log.error(
                "could not end %d process(es) of %s (pids %s): still there %ss after SIGKILL "
                "(uninterruptible I/O, a frozen cgroup, or not ours to signal); end them by hand",
                len(new), marker, ", ".join(str(p.pid) for p in new), grace,
            )  # fmt: skip
        return ending.ended

    async def _consume(
        self,
        run_id: str,
        queue: asyncio.Queue[dict[str, Any] | None],
        flight: _InFlight,
        on_events: EventSink,
        on_process: ProcessSink,
    ) -> None:
        finished = False
        while not finished:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            events = [e for e in batch if e is not None]
            # None is queued last, after the job's thread has returned: nothing follows it
            finished = len(events) != len(batch)
            if not events or flight.broken is not None:
                continue  # a broken run is being ended: its last events go nowhere
            try:
                await self._handle(run_id, events, flight, on_events, on_process)
            except ControllerError as exc:
                await self._unrecorded(run_id, flight, exc.message)
            else:
                if any(data_lost(e) for e in events):
                    await self._unrecorded(run_id, flight, DATA_LOST)

    async def _unrecorded(self, run_id: str, flight: _InFlight, why: str) -> None:
        """The run's events cannot be kept (disk full): end the run."""
        flight.broken = f"the run was ended: its events could not be recorded ({why})"
        log.error("run %s: %s", run_id, flight.broken)
        await self.stop(run_id, RunStatus.FAILED)

    async def _handle(
        self,
        run_id: str,
        batch: list[dict[str, Any]],
        flight: _InFlight,
        on_events: EventSink,
        on_process: ProcessSink,
    ) -> None:
        if flight.leader is None and isinstance(pid := batch[0].get("pid"), int):
            start = procs.start_time(pid)
            if start is not None:
                flight.leader = (pid, start)
                await on_process(pid, start)
        for event in batch:
            if flight.failure is None and (failed := failure(event)) is not None:
                flight.failure = self._redactor.text(failed)
                flight.permanent = is_permanent_failure(event)
            if (results := stats_results(event, flight.results_key)) is not None:
                flight.results = self._redactor.value(results)
        records = [r for e in batch if (r := to_record(run_id, e, self._redactor))]
        if records:
            await on_events(records)

    def _runs_dir(self) -> Path:
        return private_dir(self._settings.runs_dir)

    def sweep(self) -> int:
        """Remove the private dirs runs of an earlier life left behind (killed service or disk
        full before the ``finally``): they may hold vars.  Call before any run starts."""
        left = list(self._runs_dir().iterdir())
        for path in left:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if left:
            log.warning("removed %d private dir(s) left by earlier runs", len(left))
        return len(left)

    def prepare(self, req: RunRequest, private: Path, marker: str) -> Any:
        """ansible-runner's config for ``req`` in ``private``, with the run's environment."""
        inventory = private / "inventory"
        # the service's interpreter has the kubernetes client the modules need
        inventory.write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        )
        config = ansible_runner.RunnerConfig(
            private_data_dir=str(private),
            project_dir=str(self._settings.playbook_dir),
            playbook=req.playbook,
            # never ansible-runner's own extravars: it writes them without the !unsafe tags
            cmdline=extravars.write(private / "extravars.yml", req.extravars),
            inventory=str(inventory),
            ident=req.run_id,
            quiet=True,
            suppress_env_files=True,
            settings={"pexpect_timeout": PEXPECT_TIMEOUT, "suppress_output_file": True},
        )
        config.prepare()
        config.env = run_environment(
            config.env,
            os.environ,
            self._settings.run_env_passthrough,
            marker,
            self._settings.kubeconfig,
        )
        # awx_display's partial event files, scrubbed before they are written
        config.env["ANSIBLE_STDOUT_CALLBACK"] = "litemaas_display"
        plugins = [str(CALLBACK_DIR), config.env.get("ANSIBLE_CALLBACK_PLUGINS", "")]
        config.env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(p for p in plugins if p)
        return config

    def _blocking_run(
        self,
        req: RunRequest,
        private: Path,
        flight: _InFlight,
        on_event: Callable[[dict[str, Any]], object],
    ) -> int | None:
        config = self.prepare(req, private, flight.marker)

        def forward(event: dict[str, Any]) -> bool:
            on_event(event)
            return False  # keep job events off the disk: the ledger has the redacted copy

        def late_stop() -> bool:
            return time.monotonic() > flight.stop_deadline

        runner = ansible_runner.Runner(
            config, event_handler=forward, status_handler=_scrub_command, cancel_callback=late_stop
        )
        try:
            _status, rc = runner.run()
        except AnsibleRunnerException as exc:
            raise PermanentError(f"ansible-runner could not run {req.playbook}: {exc}") from exc
        except OSError as exc:  # its artifacts on a full disk: the playbook ran, or part of it
            flight.broken = flight.broken or f"ansible-runner failed during the run: {exc}"
            return None
        return rc if isinstance(rc, int) else None

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _scrub_command(status: dict[str, Any], runner_config: Any) -> None:
    """Remove ``artifacts/<id>/command`` as soon as it is written: it holds the environment."""
    if status.get("status") == "running":
        Path(runner_config.artifact_dir, "command").unlink(missing_ok=True)
