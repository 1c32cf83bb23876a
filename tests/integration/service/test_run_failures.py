"""The run's own failures: a full disk under the state dir, leftovers of a killed service, modes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.intake.auth import signed_headers
from waiting import wait_for, wait_until

from .credentials import SECRET
from .procscan import run_pids
from .serveproc import ServeProcess
from .servicekit import PROJECTS, Evidence, Service, ServiceFactory

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def tmpfs(mount: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs on ``mount``: a disk that fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
                   check=True)  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A small disk to hold the state dir."""
    with tmpfs(tmp_path / "disk") as mount:
        yield mount


def fill(disk: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of the disk with a ballast file."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with ballast.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return ballast


def submit(svc: ServeProcess, order: dict) -> int:
    body = json.dumps(order).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    status, _ = svc.request("POST", "/api/v1/orders", body, **headers)
    return status


def test_a_full_disk_during_a_run_fails_the_order_and_the_service_goes_on(
    tmp_path: Path, run_env: Evidence, small_disk: Path
) -> None:
    state = small_disk / "state"
    svc = ServeProcess(state, PROJECTS / "chatty", tmp_path / "serve.log").start()
    try:
        ballast = fill(small_disk, leave=320 * 1024)
        assert submit(svc, {"id": "o-full", "action": "provision", "instance": "talker"}) == 202
        run_id = wait_until(
            lambda: (o := svc.order("o-full")) and o["runs"] and o["runs"][0]["id"],
            what="the run to be created",
        )
        # the run was ended and cleaned up although its end may not fit on the disk yet
        wait_until(lambda: not run_pids(run_id) and not any((state / "runs").iterdir()),
                   timeout=60, what="the run's processes and private dir gone")  # fmt: skip
        ballast.unlink()  # the operator frees space
        final = svc.finished("o-full", timeout=60)
        assert final["status"] == "failed"
        # whichever write met the full disk first: the ledger's, ansible-playbook's event data
        # or ansible-runner's own files; each reason says the disk is full
        assert re.search(
            r"events could not be recorded \(.*full|ansible-runner failed during the run: "
            r"\[Errno 28\] No space left",
            final["message"],
        ), final["message"]

        quiet = {"id": "o-next", "action": "provision", "instance": "next",
                 "vars": {"ocp4_workload_litemaas_version": "quiet"}}  # fmt: skip
        assert submit(svc, quiet) == 202
        assert svc.finished("o-next", timeout=60)["status"] == "succeeded"
    finally:
        svc.stop()


async def test_a_full_disk_under_the_runs_alone_ends_the_run_instead_of_hanging_it(
    tmp_path: Path, make_service: ServiceFactory
) -> None:
    """The ledger has room; ansible-playbook's event data does not: the run ends, failed.

    Ansible's results thread stops for good on an OSError from the display callback; before
    the callback kept the error to itself, this play waited forever.
    """
    with tmpfs(tmp_path / "state" / "runs") as runs:
        svc = await make_service("chatty")
        held = {"id": "o-held", "action": "provision", "instance": "talker",
                "vars": {"ocp4_workload_litemaas_version": "held"}}  # fmt: skip
        assert (await svc.post_order(held)).status == 202
        run = await svc.running_run("o-held")
        await wait_for(lambda: any(e[4] == "Wait for the release" for e in events(svc, run["id"])),
                       what="the held task to start")  # fmt: skip
        fill(runs, leave=0)
        svc.evidence.release()

        final = await asyncio.wait_for(svc.finished("o-held"), 60)
        assert final["status"] == "failed"
        assert "could not write an event's data" in final["message"]
        assert "full" in final["message"]
        assert not run_pids(run["id"])
        assert [p.name for p in runs.iterdir()] == ["ballast"]


def events(svc: Service, run_id: str) -> list[tuple[Any, ...]]:
    return [e for e in svc.ledger()["events"] if e[0] == run_id]


async def test_state_dir_is_owner_only_and_leftover_private_dirs_are_swept(
    tmp_path: Path, make_service: ServiceFactory
) -> None:
    state = tmp_path / "state"
    leftover = state / "runs" / "run-0123456789ab-x1y2z3" / "env"
    leftover.mkdir(parents=True)
    (leftover / "extravars").write_text('{"ocp4_workload_litemaas_version": "0.2.0"}')
    state.chmod(0o755)

    svc = await make_service("quick")
    assert (
        await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})
    ).status == 202
    assert (await svc.finished("o1"))["status"] == "succeeded"

    assert state.stat().st_mode & 0o777 == 0o700
    ledger_files = sorted(state.glob("ledger.sqlite3*"))
    assert [p.name for p in ledger_files] == [
        "ledger.sqlite3", "ledger.sqlite3-shm", "ledger.sqlite3-wal"
    ]  # fmt: skip
    assert {p.name: p.stat().st_mode & 0o777 for p in ledger_files} == {
        p.name: 0o600 for p in ledger_files
    }
    assert list((state / "runs").iterdir()) == []
