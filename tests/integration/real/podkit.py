"""What tests need to look at real pods: their conditions, their PostgreSQL, their processes and
memory on the host."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.agent.kube import Kube
from sandbox.real import procfs
from sandbox.real.network import PodNetwork
from waiting import wait_until

PSQL = "/usr/lib/postgresql/15/bin/psql"


def wait_for_default_service_account(kube: Kube, ns: str) -> None:
    """Pods can be created once the namespace's default service account has its token."""
    wait_until(
        lambda: (kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default") or {}).get("secrets"),
        what=f"the default service account of {ns} with its token",
    )


def condition(pod: dict[str, Any] | None, kind: str) -> bool:
    conds = (pod or {}).get("status", {}).get("conditions") or []
    return any(c["type"] == kind and c["status"] == "True" for c in conds)


def pod(kube: Kube, ns: str, name: str) -> dict[str, Any] | None:
    return kube.get(f"/api/v1/namespaces/{ns}/pods/{name}")


def ready(kube: Kube, ns: str, name: str, timeout: float = 30) -> dict[str, Any]:
    """The pod once it is Ready."""
    found: dict[str, Any] = wait_until(
        lambda: (p := pod(kube, ns, name)) and condition(p, "Ready") and p,
        timeout=timeout,
        what=f"{name} Ready",
    )
    return found


def postgres_login(kube: Kube, ns: str) -> tuple[str, str]:
    """(user, password) the role gave its PostgreSQL, read from the cluster."""
    sts = kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres")
    assert sts is not None
    env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    secret = kube.get(f"/api/v1/namespaces/{ns}/secrets/postgres-secret")
    assert secret is not None
    return env["POSTGRES_USER"]["value"], base64.b64decode(
        secret["data"]["POSTGRES_PASSWORD"]
    ).decode()


def psql(
    kube: Kube, ns: str, sql: str, database: str = "postgres", pod_name: str = "postgres-0"
) -> str:
    """Run SQL against the pod's PostgreSQL over TCP at the pod's own address, from the host."""
    address = (pod(kube, ns, pod_name) or {}).get("status", {}).get("podIP")
    assert address, f"{pod_name} has no address"
    user, password = postgres_login(kube, ns)
    result = subprocess.run(
        [PSQL, "-h", address, "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        env={"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5", "PATH": os.defpath},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def netns_inode(box: Sandbox, pod_obj: dict[str, Any]) -> int:
    """The identity of a real pod's network namespace (PIDs wrap quickly here: pid_max 32768)."""
    return PodNetwork(box.directory).path(pod_obj["metadata"]["uid"]).stat().st_ino


def pod_processes(box: Sandbox, pod_obj: dict[str, Any]) -> list[int]:
    """Host PIDs of the processes inside a real pod's network namespace."""
    return processes_in(netns_inode(box, pod_obj))


def processes_in(target: int) -> list[int]:
    """Host PIDs of the processes in the network namespace with inode `target`."""
    return procfs.sharing("net", target)


def identities(pids: list[int]) -> set[tuple[int, int]]:
    """(pid, start time) of the live processes among `pids`: a process's identity even after its
    PID is reused (pid_max is 32768 here). Zombies are dead: only their exit status is left."""
    return {(pid, int(started)) for pid in pids if (started := procfs.start_time(pid))}


def cut_connections(pid: int) -> int:
    """Abort every established TCP connection of process `pid` (`ss -K`), as a network partition
    would; returns how many there were."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                sockets.add(target[len("socket:[") : -1])
    ports = [
        int(fields[1].rsplit(":", 1)[1], 16)
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[9] in sockets and fields[3] == "01"  # 01: ESTABLISHED
    ]
    for port in ports:
        subprocess.run(
            ["ss", "-K", "state", "established", "sport", "=", f":{port}"],
            check=True,
            capture_output=True,
        )
    return len(ports)


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def memory_mib(pids: list[int]) -> float:
    """Proportional set size of the processes (shared pages split between sharers)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
