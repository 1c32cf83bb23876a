"""Injected faults show in pod status as a kubelet reports them, and clear again."""

from __future__ import annotations

from typing import Any

import pytest

from kubeobjects import deployment, make_namespace, pods_of
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from waiting import wait_until

pytestmark = pytest.mark.integration


def container(kube: Kube, ns: str, app: str) -> dict[str, Any] | None:
    pods = [p for p in pods_of(kube, ns, app) if not p["metadata"].get("deletionTimestamp")]
    statuses = pods[0].get("status", {}).get("containerStatuses") if pods else None
    return statuses[0] if statuses else None


def ready_deployment(kube: Kube, ns: str, name: str) -> None:
    kube.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(name))
    wait_until(lambda: (container(kube, ns, name) or {}).get("ready"), what=f"{name} ready")


@pytest.fixture
def app(kube: Kube, namespace_name: str) -> tuple[str, str]:
    ns = make_namespace(kube, namespace_name)
    ready_deployment(kube, ns, "app")
    return ns, "app"


def waiting_reason(c: dict[str, Any] | None) -> str | None:
    return ((c or {}).get("state", {}).get("waiting") or {}).get("reason")


def test_crashloop_grows_restart_count_and_clears(
    sandbox_aws: Sandbox, kube: Kube, app: tuple[str, str]
) -> None:
    ns, name = app
    sandbox_aws.set_fault("deployment", ns, name, "crashloop")
    first = wait_until(
        lambda: (c := container(kube, ns, name)) and waiting_reason(c) == "CrashLoopBackOff" and c,
        what="CrashLoopBackOff",
    )
    assert first["ready"] is False
    assert first["lastState"]["terminated"]["reason"] == "Error"
    assert first["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off" in first["state"]["waiting"]["message"]
    later = wait_until(
        lambda: (
            (c := container(kube, ns, name)) and c["restartCount"] > first["restartCount"] and c
        ),
        what="restartCount growing",
    )
    assert later["restartCount"] > first["restartCount"]
    sandbox_aws.clear_fault("deployment", ns, name)
    healed = wait_until(
        lambda: (c := container(kube, ns, name)) and c["ready"] and c, timeout=60, what="healed"
    )
    assert healed["state"]["running"]
    assert healed["restartCount"] >= later["restartCount"]  # a kubelet never resets it


def test_oomkilled_reports_exit_137(sandbox_aws: Sandbox, kube: Kube, app: tuple[str, str]) -> None:
    ns, name = app
    sandbox_aws.set_fault("deployment", ns, name, "oomkilled")
    c = wait_until(
        lambda: (c := container(kube, ns, name)) and c.get("lastState", {}).get("terminated") and c,
        what="a terminated last state",
    )
    assert c["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert c["lastState"]["terminated"]["exitCode"] == 137
    sandbox_aws.clear_fault("deployment", ns, name)
    wait_until(lambda: (container(kube, ns, name) or {}).get("ready"), timeout=60, what="healed")


def test_image_pull_error_then_back_off(
    sandbox_aws: Sandbox, kube: Kube, app: tuple[str, str]
) -> None:
    ns, name = app
    sandbox_aws.set_fault("deployment", ns, name, "imagepull")
    wait_until(
        lambda: waiting_reason(container(kube, ns, name)) == "ErrImagePull", what="ErrImagePull"
    )
    c = wait_until(
        lambda: (c := container(kube, ns, name)) and waiting_reason(c) == "ImagePullBackOff" and c,
        what="ImagePullBackOff",
    )
    assert c["state"]["waiting"]["message"] == 'Back-off pulling image "registry.example/app:1"'
    assert c["ready"] is False
    sandbox_aws.clear_fault("deployment", ns, name)
    wait_until(lambda: (container(kube, ns, name) or {}).get("ready"), what="healed")


def test_not_ready_keeps_running_but_unready(
    sandbox_aws: Sandbox, kube: Kube, app: tuple[str, str]
) -> None:
    ns, name = app
    pod_name = pods_of(kube, ns, name)[0]["metadata"]["name"]
    sandbox_aws.set_fault("pod", ns, pod_name, "notready")
    c = wait_until(
        lambda: (c := container(kube, ns, name)) and not c["ready"] and c, what="unready"
    )
    assert c["state"]["running"]
    pod = kube.get(f"/api/v1/namespaces/{ns}/pods/{pod_name}")
    ready = next(x for x in pod["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    # the Deployment controller counts it unready a moment later
    wait_until(
        lambda: (
            not kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")["status"].get(
                "readyReplicas"
            )
        ),
        what="the Deployment counting no ready replica",
    )
    sandbox_aws.clear_fault("pod", ns, pod_name)
    wait_until(lambda: (container(kube, ns, name) or {}).get("ready"), what="ready again")


def test_delete_fault_replaces_the_pod_once(
    sandbox_aws: Sandbox, kube: Kube, app: tuple[str, str]
) -> None:
    ns, name = app
    before = pods_of(kube, ns, name)[0]["metadata"]["uid"]
    sandbox_aws.set_fault("deployment", ns, name, "delete")
    fresh = wait_until(
        lambda: [
            p
            for p in pods_of(kube, ns, name)
            if p["metadata"]["uid"] != before
            and {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}.get(
                "Ready"
            )
            == "True"
        ],
        what="a new ready pod",
    )
    assert len(fresh) == 1
    deploy = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    assert "sandbox.litemaas.io/fault" not in (deploy["metadata"].get("annotations") or {})
    wait_until(lambda: len(pods_of(kube, ns, name)) == 1, what="the old pod gone")


def test_failing_job_pod(sandbox_aws: Sandbox, kube: Kube, namespace_name: str) -> None:
    ns = make_namespace(kube, namespace_name)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "bad", "annotations": {"sandbox.litemaas.io/fault": "fail"}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "postgres:16"}],
                }
            },
        },
    }
    kube.create(f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    failed = wait_until(
        lambda: next(
            (
                c
                for c in (kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/bad") or {})
                .get("status", {})
                .get("conditions", [])
                if c["type"] == "Failed" and c["status"] == "True"
            ),
            None,
        ),
        what="Job failed",
    )
    assert failed["reason"] == "BackoffLimitExceeded"
    pod = kube.list(f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Dbad")["items"][0]
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
