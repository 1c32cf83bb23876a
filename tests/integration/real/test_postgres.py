"""The collection's PostgreSQL, deployed by its own playbook, running for real in the sandbox."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.real.network import PodNetwork
from waiting import wait_until

from .deploykit import assert_ok, changed, deploy
from .podkit import (
    comm,
    condition,
    identities,
    memory_mib,
    netns_inode,
    parent,
    pod,
    pod_processes,
    postgres_login,
    processes_in,
    psql,
    ready,
)

pytestmark = pytest.mark.integration


def _parse(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def deployed(sandbox_real: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One instance with the backend on, deployed once; the time until PostgreSQL was Ready."""
    ns = f"lm-{uuid.uuid4().hex[:8]}"
    kube = sandbox_real.kube()
    ready_after: list[float] = []
    done = threading.Event()
    started = time.monotonic()

    def watch_ready() -> None:
        while not done.is_set():
            if condition(pod(kube, ns, "postgres-0"), "Ready"):
                ready_after.append(time.monotonic() - started)
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_ready, daemon=True)
    watcher.start()
    workdir = tmp_path_factory.mktemp("real-runs")
    run, seconds = deploy(
        sandbox_real,
        workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
    )
    done.set()
    watcher.join(5)
    assert_ok(run)
    print(
        f"\n[real] deploy {seconds:.1f}s; PostgreSQL Ready "
        f"{ready_after[0] if ready_after else float('nan'):.1f}s after the deploy started"
    )
    return {"ns": ns, "workdir": workdir, "run": run}


def test_postgres_becomes_ready_through_its_real_probe(
    sandbox_real: Sandbox, deployed: dict[str, Any]
) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    p = pod(kube, ns, "postgres-0")
    assert p and condition(p, "Ready")
    status = p["status"]["containerStatuses"][0]
    ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
    # The readiness probe (pg_isready, initialDelaySeconds 5) made it Ready, not the start alone.
    started = _parse(status["state"]["running"]["startedAt"])
    assert _parse(ready["lastTransitionTime"]) - started >= 4
    assert psql(kube, ns, "SHOW server_version").startswith("15.")
    assert psql(kube, ns, "SELECT current_setting('data_directory')") == (
        "/var/lib/postgresql/data/pgdata"
    )
    pids = pod_processes(sandbox_real, p)
    print(f"\n[real] PostgreSQL pod: {len(pids)} processes, {memory_mib(pids):.1f} MiB PSS")


def test_db_job_creates_the_databases_owned_by_the_role_user(
    sandbox_real: Sandbox, deployed: dict[str, Any]
) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    user, _ = postgres_login(kube, ns)
    owners = psql(
        kube,
        ns,
        "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database"
        " WHERE datname IN ('litellm_db', 'litemaas_db') ORDER BY 1",
    )
    assert owners.splitlines() == [f"litellm_db:{user}", f"litemaas_db:{user}"]
    jobs = kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]
    assert [j["status"].get("succeeded") for j in jobs] == [1]
    job_pods = kube.list(
        f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3D{jobs[0]['metadata']['name']}"
    )["items"]
    terminated = [p["status"]["containerStatuses"][0]["state"]["terminated"] for p in job_pods]
    assert [t["exitCode"] for t in terminated if t["reason"] == "Completed"] == [0]


def test_second_run_changes_nothing(sandbox_real: Sandbox, deployed: dict[str, Any]) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    oids = psql(kube, ns, "SELECT string_agg(oid::text, ',' ORDER BY datname) FROM pg_database")
    pod_uid = pod(kube, ns, "postgres-0")["metadata"]["uid"]  # type: ignore[index]
    run, _ = deploy(
        sandbox_real,
        deployed["workdir"],
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
    )
    assert_ok(run)
    assert changed(run) == 0
    assert len(kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]) == 1
    assert pod(kube, ns, "postgres-0")["metadata"]["uid"] == pod_uid  # type: ignore[index]
    assert (
        psql(kube, ns, "SELECT string_agg(oid::text, ',' ORDER BY datname) FROM pg_database")
        == oids
    )


def test_a_new_pod_after_deletion_has_the_same_data(
    sandbox_real: Sandbox, deployed: dict[str, Any]
) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    psql(kube, ns, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')", "litellm_db")
    old = pod(kube, ns, "postgres-0")
    assert old is not None
    kube.delete(f"/api/v1/namespaces/{ns}/pods/postgres-0")
    new = wait_until(
        lambda: (
            (p := pod(kube, ns, "postgres-0"))
            and p["metadata"]["uid"] != old["metadata"]["uid"]
            and condition(p, "Ready")
            and p
        ),
        timeout=90,
        what="a new Ready postgres-0",
    )
    assert new["status"]["containerStatuses"][0]["restartCount"] == 0
    assert psql(kube, ns, "SELECT v FROM kept", "litellm_db") == "before"


def test_killing_postgres_is_a_crash_and_the_pod_recovers(
    sandbox_real: Sandbox, deployed: dict[str, Any]
) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    p = pod(kube, ns, "postgres-0")
    assert p and condition(p, "Ready")
    pids = pod_processes(sandbox_real, p)
    postmaster = next(
        pid for pid in pids if comm(pid) == "postgres" and comm(parent(pid)) != "postgres"
    )
    os.kill(postmaster, signal.SIGKILL)
    crashed = wait_until(
        lambda: (
            (q := pod(kube, ns, "postgres-0"))
            and q["status"]["containerStatuses"][0]["restartCount"] == 1
            and q
        ),
        timeout=30,
        what="restartCount 1",
    )
    last = crashed["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "Error")
    ready(kube, ns, "postgres-0", timeout=90)
    assert psql(kube, ns, "SELECT v FROM kept", "litellm_db") == "before"


def test_namespace_deletion_removes_processes_and_data(
    sandbox_real: Sandbox, deployed: dict[str, Any]
) -> None:
    kube, ns = sandbox_real.kube(), deployed["ns"]
    p = pod(kube, ns, "postgres-0")
    assert p is not None
    claim = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/postgres-storage-postgres-0")
    assert claim is not None
    data = sandbox_real.directory / "volumes" / claim["spec"]["volumeName"]
    assert (data / "pgdata" / "PG_VERSION").is_file()
    before = identities(processes_in(netns_inode(sandbox_real, p)))
    assert before
    kube.delete(f"/api/v1/namespaces/{ns}")
    wait_until(lambda: not data.exists(), timeout=120, what="the volume's data removed")
    # The pod's processes end with its deletion, but not necessarily before the claim's data
    # goes: a 1.20 API server deleting a namespace can force-delete the pod (the grace 0 of the
    # Succeeded job pod before it carries over), which releases the claim at once, while the
    # node is still stopping the processes. So this waits for them.
    wait_until(
        lambda: not identities([pid for pid, _ in before]) & before,
        timeout=30,
        what="the pod's processes gone",
    )
    pin = PodNetwork(sandbox_real.directory).path(p["metadata"]["uid"])
    log = sandbox_real.directory / "logs" / "agent.log"
    deadline = time.monotonic() + 10
    while pin.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    real_lines = [line for line in log.read_text().splitlines() if "sandbox.real" in line]
    assert not pin.exists(), "\n".join(real_lines[-30:])
