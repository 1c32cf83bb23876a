"""Ending a run's process tree: stubborn, daemonised and re-parented processes included."""

from __future__ import annotations

import errno
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from litemaas_controller.runner import procs
from waiting import wait_for

from .credentials import BEARER
from .procscan import alive
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration

# a shell that ignores SIGTERM, with a child that double-forks into its own session
STUBBORN = """
trap '' TERM
setsid sh -c 'trap "" TERM; echo $$ > "$1"; exec sleep 300' sh "$1" &
echo started > "$2"
sleep 300 &
wait
"""


@pytest.fixture(params=["pidfd", "kill"])
def signal_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of signalling: pidfds (this kernel has them) and kill() after a start check."""
    assert procs.pidfds_available()  # Linux >= 5.3: the path the service takes here
    if request.param == "kill":
        monkeypatch.setattr(procs, "pidfds_available", lambda: False)
    return str(request.param)


async def test_end_tree_reaches_daemons_and_sigterm_ignorers(
    tmp_path: Path, signal_path: str
) -> None:
    marker = f"ledger-test/run-{uuid.uuid4().hex}"
    env = {**os.environ, procs.MARKER: marker}
    daemon_pid_file, started = tmp_path / "daemon.pid", tmp_path / "started"
    leader = subprocess.Popen(
        ["sh", "-c", STUBBORN, "sh", str(daemon_pid_file), str(started)],
        env=env,
        start_new_session=True,
    )
    try:
        await wait_for(lambda: started.exists() and daemon_pid_file.exists(), what="the tree")
        daemon = int(daemon_pid_file.read_text())
        members = {p.pid for p in procs.run_processes(marker)}
        assert {leader.pid, daemon} <= members and len(members) == 3  # sh, daemon, sleep
        start = procs.start_time(leader.pid)
        assert start is not None
        ending = procs.end_tree(marker, (leader.pid, start), grace=0.5)
    finally:
        procs.end_tree(marker, None, grace=0)  # never leave the tree behind a failed test
        leader.wait()  # reap our own child; the daemon was re-parented and is reaped by init

    assert (ending.ended, ending.left) == (len(members), ())
    assert procs.run_processes(marker) == []
    assert not alive(daemon)


def test_a_reused_pid_is_not_taken_for_the_leader() -> None:
    me = os.getpid()
    start = procs.start_time(me)
    assert start is not None
    # our own pid with another start time: not the recorded leader, nothing is signalled
    assert procs.run_processes("nobody/none", (me, start + 1)) == []


FREEZER = Path("/sys/fs/cgroup/freezer")


@pytest.fixture
def freezer() -> Iterator[Path]:
    """A cgroup-v1 freezer group: a frozen process keeps a pending SIGKILL until thawed."""
    if not (FREEZER / "cgroup.procs").exists() or os.geteuid() != 0:
        pytest.skip("needs root and the cgroup-v1 freezer")
    group = FREEZER / f"litemaas-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        yield group
    finally:
        (group / "freezer.state").write_text("THAWED")  # the pending SIGKILL ends it now
        remove_when_empty(group)


def remove_when_empty(group: Path, timeout: float = 60.0) -> None:
    """rmdir the group once the kernel lets go of it.

    An empty cgroup.procs is not enough: the ended shell stays a zombie in the group until its
    parent reaps it, and rmdir answers EBUSY until then (CI saw it on a loaded machine).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            group.rmdir()
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


async def test_a_process_that_cannot_be_ended_is_logged_and_counted(
    make_service: ServiceFactory, freezer: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = await make_service("hold", kill_grace=0.3)
    assert (
        await svc.post_order({"id": "o1", "action": "provision", "instance": "demo"})
    ).status == 202
    await svc.evidence.started(1)
    [shell] = svc.evidence.pids("start")
    (freezer / "cgroup.procs").write_text(str(shell))
    (freezer / "freezer.state").write_text("FROZEN")
    run = await svc.running_run("o1")

    response = await svc.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=BEARER)
    assert (await response.json())["status"] == "cancelled"

    metrics = await (await svc.client.get("/metrics")).text()
    assert "litemaas_run_processes_unended_total 1.0" in metrics
    [stuck] = [r.getMessage() for r in caplog.records if "could not end" in r.getMessage()]
    assert f"pids {shell})" in stuck and run["id"] in stuck
    assert alive(shell)  # frozen, SIGKILL pending: what the log and the metric report
