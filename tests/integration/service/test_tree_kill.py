"""Ending a run's process tree: stubborn, daemonised and re-parented processes included."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from litemaas_controller.runner import procs

from .conftest import wait_for
from .procscan import alive

pytestmark = pytest.mark.integration

# a shell that ignores SIGTERM, with a child that double-forks into its own session
STUBBORN = """
trap '' TERM
setsid sh -c 'trap "" TERM; echo $$ > "$1"; exec sleep 300' sh "$1" &
echo started > "$2"
sleep 300 &
wait
"""


async def test_end_tree_reaches_daemons_and_sigterm_ignorers(tmp_path: Path) -> None:
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
        ended = procs.end_tree(marker, (leader.pid, start), grace=0.5)
    finally:
        procs.end_tree(marker, None, grace=0)  # never leave the tree behind a failed test
        leader.wait()  # reap our own child; the daemon was re-parented and is reaped by init

    assert ended == len(members)
    assert procs.run_processes(marker) == []
    assert not alive(daemon)


def test_a_reused_pid_is_not_taken_for_the_leader() -> None:
    me = os.getpid()
    start = procs.start_time(me)
    assert start is not None
    # our own pid with another start time: not the recorded leader, nothing is signalled
    assert procs.run_processes("nobody/none", (me, start + 1)) == []
