"""A stop that comes when the playbook has already got to its end changes nothing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from litemaas_controller.ledger import EventRecord, RunStatus
from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner, RunRequest

from .servicekit import Evidence, base_settings

pytestmark = pytest.mark.integration


async def exited(pid: int) -> None:
    """Wait for the process ``pid`` to end (its pidfd turns readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # ended and reaped already
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, ended.set)
    try:
        await ended.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_a_run_that_ended_with_rc_0_is_not_recorded_as_cancelled(
    tmp_path: Path, run_env: Evidence
) -> None:
    runner = PlaybookRunner(base_settings(tmp_path, "quick"), "ledger-test", Redactor([]))
    request = RunRequest(
        run_id="run-race",
        playbook="deploy_litemaas.yml",
        extravars={"ACTION": "provision", "ocp4_workload_litemaas_instance": "demo",
                   "ocp4_workload_litemaas_namespace": "litemaas-demo"},
    )  # fmt: skip
    leader: list[int] = []
    stopped: list[bool] = []

    async def on_process(pid: int, _start: int) -> None:
        leader.append(pid)

    async def on_events(records: list[EventRecord]) -> None:
        if any(r.event == "playbook_on_stats" for r in records):
            await exited(leader[0])  # ansible-playbook is gone: the run is over, rc 0
            stopped.append(await runner.stop("run-race", RunStatus.CANCELLED))

    try:
        result = await runner.run(request, on_events, on_process)
    finally:
        await runner.close()
    assert stopped == [True]  # the stop reached the run while it was still in flight
    assert (result.status, result.rc, result.reason) == (RunStatus.SUCCEEDED, 0, None)
    assert result.results is not None and result.results["instance"] == "demo"
