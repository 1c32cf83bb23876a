"""Nothing of a real sandbox outlives it: no process, network namespace, bridge, mount or file."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from kubeobjects import make_namespace
from sandbox import Sandbox
from sandbox.real.network import tag_of

from .podkit import identities, netns_inode, processes_in, ready, wait_for_default_service_account

pytestmark = pytest.mark.integration

POSTGRES = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "db"},
    "spec": {
        "containers": [
            {
                "name": "postgres",
                "image": "postgres:16",
                "env": [{"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"}],
                "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}},
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
            }
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}


def _running_postgres(box: Sandbox) -> set[tuple[int, int]]:
    """Start a PostgreSQL pod and wait until it is Ready; the identities of its processes."""
    kube = box.kube()
    make_namespace(kube, "leave")
    wait_for_default_service_account(kube, "leave")
    kube.create("/api/v1/namespaces/leave/pods", POSTGRES)
    before = identities(processes_in(netns_inode(box, ready(kube, "leave", "db", timeout=60))))
    assert before
    return before


def _leftovers(directory: Path, before: set[tuple[int, int]]) -> list[str]:
    tag = tag_of(directory)
    found = [
        f"process {pid} ({comm(pid)}, {state(pid)})"
        for pid, _ in identities([p for p, _ in before]) & before
    ]
    netns_dir = Path("/run/netns")
    if netns_dir.is_dir():
        found += [f"netns {e.name}" for e in netns_dir.iterdir() if e.name.startswith(f"lms{tag}")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    found += [
        f"link {line.split(':')[1].strip()}"
        for line in links.splitlines()
        if f"lms{tag}" in line or f"lmv{tag}" in line
    ]
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if str(directory) in mountinfo.read_text():
                found.append(f"mount in {mountinfo}")
        except OSError:
            continue
    if directory.exists():
        found.append(f"state directory {directory}")
    return found


@pytest.mark.parametrize("how", ["down", "supervisor-killed"])
def test_nothing_is_left_after_the_sandbox_stops(
    how: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp(f"sandbox-gone-{how}")
    box = Sandbox.start(directory, "vanilla", parent=os.getpid(), real=True)
    try:
        before = _running_postgres(box)
        if how == "supervisor-killed":
            # The supervisor dies without cleaning up; `make sandbox-down` must still clean up.
            pid = box.supervisor_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
    finally:
        Sandbox(directory).stop()
    # (A container's /dev/shm and /tmp are tmpfs mounts of its own: the mount check covers them.)
    assert _leftovers(directory, before) == []


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].strip()
    except (OSError, IndexError):
        return "?"


def test_a_new_sandbox_sweeps_what_a_killed_one_left(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The supervisor and whoever started it both die (kill -9): the next sandbox cleans up."""
    first_dir = tmp_path_factory.mktemp("sandbox-orphan")
    second: Sandbox | None = None
    try:
        first = Sandbox.start(first_dir, "vanilla", real=True)
        before = _running_postgres(first)
        pid = first.supervisor_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        second = Sandbox.start(tmp_path_factory.mktemp("sandbox-sweeper"), "vanilla", real=True)
        assert not identities([pid for pid, _ in before]) & before
        tag = tag_of(first_dir)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        assert f"lms{tag}" not in links.stdout and f"lmv{tag}" not in links.stdout
    finally:
        if second is not None:
            second.stop()
        Sandbox(first_dir).stop()  # its control plane, which outlived the supervisor
