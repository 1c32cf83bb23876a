"""The kubelet's part, for real processes: exit codes, restarts and back-off, probes, faults,
the pod's environment and volumes, and the PostgreSQL image's run-once initialisation."""

from __future__ import annotations

import base64
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeobjects import claim, make_namespace
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from waiting import wait_until

from .podkit import (
    condition,
    cut_connections,
    identities,
    netns_inode,
    processes_in,
    ready,
    wait_for_default_service_account,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def ns(sandbox_real: Sandbox) -> Iterator[str]:
    kube = sandbox_real.kube()
    name = make_namespace(kube, f"k-{uuid.uuid4().hex[:8]}")
    wait_for_default_service_account(kube, name)
    yield name
    kube.delete(f"/api/v1/namespaces/{name}")


def _pod(name: str, script: str, policy: str = "Always", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": policy,
            "containers": [
                {
                    "name": "main",
                    "image": "postgres:16",
                    "command": ["sh", "-c", script],
                    **container,
                }
            ],
        },
    }


def _status(kube: Kube, ns: str, name: str) -> dict[str, Any]:
    pod = kube.get(f"/api/v1/namespaces/{ns}/pods/{name}") or {}
    return ((pod.get("status") or {}).get("containerStatuses") or [{}])[0]


def test_a_failing_program_fails_its_pod_with_its_exit_code(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("fail", "exit 3", policy="Never"))
    pod = wait_until(
        lambda: (
            (p := kube.get(f"/api/v1/namespaces/{ns}/pods/fail"))
            and p["status"].get("phase") == "Failed"
            and p
        ),
        what="phase Failed",
    )
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")


def test_a_crashing_container_is_restarted_with_back_off(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("crash", "sleep 0.2; exit 1"))
    status = wait_until(
        lambda: (
            (s := _status(kube, ns, "crash"))
            and s.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and s
        ),
        what="CrashLoopBackOff",
    )
    # First restart at once, the second after 10 s of back-off, as the kubelet does.
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s" in status["state"]["waiting"]["message"]


def test_a_failing_liveness_probe_restarts_the_container(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    script = "touch /tmp/alive; sleep 1; rm /tmp/alive; exec sleep 600"
    probe = {"exec": {"command": ["test", "-e", "/tmp/alive"]}, "periodSeconds": 1}
    probe["failureThreshold"] = 2
    kube.create(
        f"/api/v1/namespaces/{ns}/pods",
        _pod("sick", script, livenessProbe=probe, terminationMessagePolicy="File"),
    )
    status = wait_until(
        lambda: (s := _status(kube, ns, "sick")) and s.get("restartCount", 0) >= 1 and s,
        timeout=40,
        what="a restart",
    )
    # The kubelet stops it with the image's STOPSIGNAL: SIGINT for postgres images (128 + 2).
    assert status["lastState"]["terminated"]["exitCode"] == 130


def _claim_directory(kube: Kube, ns: str, claim: str) -> Path | None:
    """The host directory of a bound claim: its PersistentVolume's hostPath."""
    pvc = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}") or {}
    volume = pvc.get("spec", {}).get("volumeName")
    pv = kube.get(f"/api/v1/persistentvolumes/{volume}") if volume else None
    path = (pv or {}).get("spec", {}).get("hostPath", {}).get("path")
    return Path(path) if path else None


# Healthy once the test opens the gate: a start exactly as slow as the test needs, no clock.
SLOW_START = "until test -e /marks/open; do sleep 0.1; done; touch /tmp/healthy; exec sleep 600"


def _recording_probe(name: str, **settings: int) -> dict[str, Any]:
    """An exec probe of /tmp/healthy that leaves a line in /marks/NAME for every success and in
    /marks/NAME-failed for every failure: the test sees which probes ran, and when they passed."""
    script = (
        f"if test -e /tmp/healthy; then echo >> /marks/{name}; "
        f"else echo >> /marks/{name}-failed; exit 1; fi"
    )
    command = ["sh", "-c", script]
    return {"exec": {"command": command}, "periodSeconds": 1, "timeoutSeconds": 10, **settings}


def test_a_startup_probe_holds_liveness_and_readiness_until_the_start_is_done(
    sandbox_real: Sandbox, ns: str
) -> None:
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", claim("marks", "1Mi"))
    pod = _pod(
        "slow",
        SLOW_START,
        # As the LiteLLM Deployment: a liveness probe that would kill a slow start at once, and
        # a startup probe with the budget for it.
        startupProbe=_recording_probe("startup", failureThreshold=600),
        livenessProbe=_recording_probe("liveness", failureThreshold=1),
        readinessProbe=_recording_probe("readiness"),
        volumeMounts=[{"name": "marks", "mountPath": "/marks"}],
    )
    pod["spec"]["volumes"] = [{"name": "marks", "persistentVolumeClaim": {"claimName": "marks"}}]
    kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
    marks = wait_until(lambda: _claim_directory(kube, ns, "marks"), what="the claim bound")

    def runs(name: str) -> int:
        return (marks / name).read_text().count("\n") if (marks / name).exists() else 0

    # Still starting: the startup probe has failed again and again, liveness and readiness have
    # not run at all (one failed liveness probe would have killed the container).
    def restarted() -> bool:
        return _status(kube, ns, "slow").get("restartCount", 0) > 0

    wait_until(
        lambda: runs("startup-failed") >= 3 or len(list(marks.iterdir())) > 1 or restarted(),
        what="three failed startup probes (or another probe run, or a restart)",
    )
    starting = wait_until(
        lambda: (
            (s := _status(kube, ns, "slow"))
            and ("running" in s.get("state", {}) or s.get("restartCount"))
            and s
        ),
        what="the container running",
    )
    assert (starting["started"], starting["ready"], starting["restartCount"]) == (False, False, 0)
    assert sorted(p.name for p in marks.iterdir()) == ["startup-failed"]

    (marks / "open").touch()
    wait_until(
        lambda: condition(kube.get(f"/api/v1/namespaces/{ns}/pods/slow"), "Ready"),
        timeout=60,
        what="Ready",
    )
    wait_until(lambda: runs("liveness") >= 3, what="liveness probes after the start")
    status = _status(kube, ns, "slow")
    assert (status["started"], status["ready"], status["restartCount"]) == (True, True, 0)
    assert "running" in status["state"]
    # Liveness and readiness ran only once started, so they never failed; the startup probe
    # stopped at its first success, as the kubelet stops it.
    assert sorted(p.name for p in marks.iterdir()) == [
        "liveness",
        "open",
        "readiness",
        "startup",
        "startup-failed",
    ]
    assert runs("startup") == 1


def test_a_startup_probe_that_gives_up_restarts_the_container(
    sandbox_real: Sandbox, ns: str
) -> None:
    kube = sandbox_real.kube()
    never = {"exec": {"command": ["test", "-e", "/tmp/never"]}, "periodSeconds": 1}
    never["failureThreshold"] = 2
    always = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    kube.create(
        f"/api/v1/namespaces/{ns}/pods",
        _pod(
            "stuck",
            "exec sleep 600",
            startupProbe=never,
            livenessProbe=always,
            readinessProbe=always,
        ),
    )
    status = wait_until(
        lambda: (s := _status(kube, ns, "stuck")) and s.get("restartCount", 0) >= 1 and s,
        timeout=40,
        what="a restart",
    )
    # Stopped as a failed liveness probe stops it: the image's STOPSIGNAL, SIGINT (128 + 2).
    assert status["lastState"]["terminated"]["exitCode"] == 130
    # The new instance starts over: not started, so not ready, whatever readiness would say.
    assert (status["started"], status["ready"]) == (False, False)


def test_crashloop_fault_kills_the_real_process(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("victim", "exec sleep 600"))
    pod = ready(kube, ns, "victim")
    netns = netns_inode(sandbox_real, pod)
    first = identities(processes_in(netns))
    sandbox_real.set_fault("pod", ns, "victim", "crashloop")
    status = wait_until(
        lambda: (s := _status(kube, ns, "victim")) and s.get("restartCount", 0) >= 1 and s,
        what="a crash",
    )
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert not first & identities(processes_in(netns))
    sandbox_real.clear_fault("pod", ns, "victim")
    wait_until(
        lambda: condition(kube.get(f"/api/v1/namespaces/{ns}/pods/victim"), "Ready"),
        timeout=60,
        what="Ready again",
    )


CHECK_ENV = """
set -eu
test "$FROM_SECRET" = "$EXPECT_SECRET"
test "$FROM_CONFIG" = blue
test "$POD_NAME" = env
test "$COMBINED" = "blue-env-\\$(UNDEFINED)-\\$(COLOR)"
test "$CFG_color" = blue
test "$(cat /etc/conf/color)" = blue
test "$(cat /etc/token/secret-file)" = "$EXPECT_SECRET"
test "$(cat /etc/one)" = blue
touch /scratch/written && test -e /scratch/written
! touch /etc/conf/new 2>/dev/null
test "$(hostname)" = env
test "$(pwd)" = /scratch
test "$1" = "blue"
"""


def test_environment_and_volumes_are_as_the_pod_spec_says(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    value = uuid.uuid4().hex
    kube.create(
        f"/api/v1/namespaces/{ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"secret-file": base64.b64encode(value.encode()).decode()},
        },
    )
    kube.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"color": "blue"},
        },
    )
    pod = _pod(
        "env",
        CHECK_ENV,
        policy="Never",
        args=["$(FROM_CONFIG)"],
        workingDir="/scratch",
        envFrom=[{"prefix": "CFG_", "configMapRef": {"name": "c"}}],
        env=[
            {"name": "EXPECT_SECRET", "value": value},
            {
                "name": "FROM_SECRET",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "secret-file"}},
            },
            {
                "name": "FROM_CONFIG",
                "valueFrom": {"configMapKeyRef": {"name": "c", "key": "color"}},
            },
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "COMBINED", "value": "$(FROM_CONFIG)-$(POD_NAME)-$(UNDEFINED)-$$(COLOR)"},
        ],
        volumeMounts=[
            {"name": "conf", "mountPath": "/etc/conf", "readOnly": True},
            {"name": "token", "mountPath": "/etc/token"},
            {"name": "conf", "mountPath": "/etc/one", "subPath": "color"},
            {"name": "scratch", "mountPath": "/scratch"},
        ],
    )
    pod["spec"]["volumes"] = [
        {"name": "conf", "configMap": {"name": "c"}},
        {"name": "token", "secret": {"secretName": "s"}},
        {"name": "scratch", "emptyDir": {}},
    ]
    # `sh -c SCRIPT ARG0 ARG1`: the script sees args[0] as $0, so pass a placeholder first.
    pod["spec"]["containers"][0]["args"] = ["sh", "$(FROM_CONFIG)"]
    kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
    done = wait_until(
        lambda: (
            (p := kube.get(f"/api/v1/namespaces/{ns}/pods/env"))
            and p["status"].get("phase") in ("Succeeded", "Failed")
            and p
        ),
        what="the check finished",
    )
    log = sandbox_real.directory / "logs" / "pods" / f"{ns}_env_main.log"
    assert done["status"]["phase"] == "Succeeded", log.read_text()[-2000:]


def test_initdb_scripts_run_once_per_volume(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    kube.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "init"},
            "data": {"10-seed.sql": "CREATE TABLE seeded (n int); INSERT INTO seeded VALUES (1);"},
        },
    )
    kube.create(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", claim("data"))
    # Over TCP: during initialisation the image's temporary server listens on its socket only.
    count = "psql -h 127.0.0.1 -U app -d appdb -Atc 'SELECT count(*) FROM seeded'"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pg"},
        "spec": {
            "containers": [
                {
                    "name": "postgres",
                    "image": "postgres:16.4",
                    "env": [
                        {"name": "POSTGRES_USER", "value": "app"},
                        {"name": "POSTGRES_DB", "value": "appdb"},
                        {"name": "POSTGRES_PASSWORD", "value": "not-a-secret"},
                    ],
                    # Ready only when the seeded table has exactly one row.
                    "readinessProbe": {
                        "exec": {"command": ["sh", "-c", f'test "$({count})" = 1']},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [
                        {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                        {"name": "init", "mountPath": "/docker-entrypoint-initdb.d"},
                    ],
                }
            ],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "init", "configMap": {"name": "init"}},
            ],
        },
    }
    for attempt in range(2):
        kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
        wait_until(
            lambda: condition(kube.get(f"/api/v1/namespaces/{ns}/pods/pg"), "Ready"),
            timeout=60,
            what=f"Ready (pod {attempt + 1})",
        )
        kube.delete(f"/api/v1/namespaces/{ns}/pods/pg")
        wait_until(lambda: kube.get(f"/api/v1/namespaces/{ns}/pods/pg") is None, what="pod gone")
    log = sandbox_real.directory / "logs" / "pods" / f"{ns}_pg_postgres.log"
    assert log.read_text().count("PostgreSQL init process complete") == 1


def test_init_containers_run_first_and_share_volumes(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    pod = _pod(
        "ordered",
        "test -e /work/flag && exec sleep 600",
        volumeMounts=[{"name": "work", "mountPath": "/work"}],
    )
    pod["spec"]["initContainers"] = [
        {
            "name": "first",
            "image": "postgres:16",
            "command": ["sh", "-c", "sleep 1; echo ready > /work/flag"],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        }
    ]
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
    running = ready(kube, ns, "ordered")
    init = running["status"]["initContainerStatuses"][0]["state"]["terminated"]
    main = running["status"]["containerStatuses"][0]
    assert (init["exitCode"], init["reason"]) == (0, "Completed")
    assert main["restartCount"] == 0  # the flag was there at the first start
    assert main["state"]["running"]["startedAt"] >= init["finishedAt"]
    assert condition(running, "Initialized")


def test_a_rollout_stops_the_old_processes_and_starts_new_ones(
    sandbox_real: Sandbox, ns: str
) -> None:
    kube = sandbox_real.kube()
    spec = _pod("x", "exec sleep 600")["spec"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "roll"},
        "spec": {
            "selector": {"matchLabels": {"app": "roll"}},
            "template": {"metadata": {"labels": {"app": "roll"}}, "spec": spec},
        },
    }
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    kube.create(path, deployment)

    def ready_pods() -> list[dict[str, Any]]:
        items = kube.list(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Droll")["items"]
        return [p for p in items if condition(p, "Ready")]

    old = wait_until(ready_pods, what="the first pod Ready")[0]
    old_processes = identities(processes_in(netns_inode(sandbox_real, old)))
    assert old_processes
    kube.patch(
        f"{path}/roll",
        {"spec": {"template": {"metadata": {"annotations": {"rollout": "2"}}}}},
    )
    new = wait_until(
        lambda: [p for p in ready_pods() if p["metadata"]["uid"] != old["metadata"]["uid"]],
        timeout=60,
        what="a new pod Ready",
    )[0]
    wait_until(
        lambda: kube.get(f"/api/v1/namespaces/{ns}/pods/{old['metadata']['name']}") is None,
        timeout=60,
        what="the old pod gone",
    )
    assert not identities([pid for pid, _ in old_processes]) & old_processes
    assert identities(processes_in(netns_inode(sandbox_real, new)))


def _running(pids: list[int], command: str) -> set[tuple[int, int]]:
    """Identities of the processes among `pids` whose command line is `command`."""
    found = set()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b" ".join(a for a in argv if a).decode() == command:
            found |= identities([pid])
    return found


def test_a_force_deleted_pods_processes_end(sandbox_real: Sandbox, ns: str) -> None:
    """A pod removed from the API without the node's confirmation (`--grace-period=0 --force`,
    or the namespace deletion of a 1.20 API server, which can pass one pod's grace 0 on to the
    next) is stopped all the same, as the kubelet stops a pod it no longer finds."""
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("forced", "exec sleep 600"))
    pod = ready(kube, ns, "forced")
    processes = identities(processes_in(netns_inode(sandbox_real, pod)))
    assert processes
    # The node agent (it runs in the supervisor) is held while the pod goes, and its connections
    # to the API server are cut: it learns of the removal from a fresh list, never of a deletion
    # it could confirm, as a kubelet that was partitioned for a moment does.
    agent = sandbox_real.supervisor_pid()
    assert agent is not None
    os.kill(agent, signal.SIGSTOP)
    try:
        kube.delete(f"/api/v1/namespaces/{ns}/pods/forced", {"gracePeriodSeconds": 0})
        assert kube.get(f"/api/v1/namespaces/{ns}/pods/forced") is None  # gone at once
        assert cut_connections(agent)
    finally:
        os.kill(agent, signal.SIGCONT)
    wait_until(
        lambda: not identities([pid for pid, _ in processes]) & processes,
        timeout=30,
        what="the force-deleted pod's processes gone",
    )


def test_a_containers_processes_end_with_it_even_in_sessions_of_their_own(
    sandbox_real: Sandbox, ns: str
) -> None:
    """PostgreSQL's children call setsid(), so no process group holds them; in a container they
    die with its PID namespace when the program does. Here too, and the container restarts."""
    kube = sandbox_real.kube()
    script = "setsid sleep 601 & exec sleep 602"
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("sessions", script))
    pod = ready(kube, ns, "sessions")
    netns = netns_inode(sandbox_real, pod)
    helper = wait_until(
        lambda: _running(processes_in(netns), "sleep 601"), what="the helper in its own session"
    )
    ((pid, _),) = helper
    assert os.getsid(pid) == pid  # a session (and process group) of its own
    program = _running(processes_in(netns), "sleep 602")
    assert program
    os.kill(next(iter(program))[0], signal.SIGKILL)
    status = wait_until(
        lambda: (s := _status(kube, ns, "sessions")) and s.get("restartCount", 0) >= 1 and s,
        what="the container's restart",
    )
    assert status["lastState"]["terminated"]["exitCode"] == 137
    wait_until(lambda: not identities([pid]) & helper, timeout=10, what="the helper gone")
    restarted = wait_until(
        lambda: _running(processes_in(netns), "sleep 601"), what="the restarted container's helper"
    )
    assert not restarted & helper
