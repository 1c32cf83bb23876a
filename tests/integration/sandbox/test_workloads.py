"""Workloads on the sandbox become Ready, claims bind or stay Pending, Jobs run to completion."""

from __future__ import annotations

import pytest

from kubeobjects import claim, deployment, make_namespace, pods_of
from sandbox.agent.kube import Kube
from waiting import wait_until

pytestmark = pytest.mark.integration


def test_deployment_becomes_available(kube: Kube, namespace_name: str) -> None:
    ns = make_namespace(kube, namespace_name)
    kube.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", replicas=2))

    def available() -> dict | None:
        d = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
        conds = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
        return (
            d
            if d["status"].get("readyReplicas") == 2 and conds.get("Available") == "True"
            else None
        )

    wait_until(available, what="Deployment web available with 2 ready replicas")
    pods = pods_of(kube, ns, "web")
    assert {p["spec"]["nodeName"] for p in pods} == {"sandbox-node"}
    for pod in pods:
        status = pod["status"]
        assert status["phase"] == "Running"
        assert status["containerStatuses"][0]["state"]["running"]["startedAt"]
        assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_statefulset_with_claim_becomes_ready_on_a_provisioned_volume(
    kube: Kube, namespace_name: str
) -> None:
    ns = make_namespace(kube, namespace_name)
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": "postgres:16",
                            "readinessProbe": {"exec": {"command": ["pg_isready"]}},
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    kube.create(f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts)
    wait_until(
        lambda: (
            (kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/db") or {})
            .get("status", {})
            .get("readyReplicas")
            == 1
        ),
        what="StatefulSet db ready",
    )
    pvc = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data-db-0")
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == "gp3-csi"  # the profile's default class
    pv = kube.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["spec"]["capacity"]["storage"] == "1Gi"


def test_claim_for_unknown_storage_class_stays_pending(kube: Kube, namespace_name: str) -> None:
    ns = make_namespace(kube, namespace_name)
    kube.create(
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims",
        claim("lost", storage_class="no-such-class"),
    )
    # The PV controller reports the missing class; the claim never binds.
    event = wait_until(
        lambda: next(
            (
                e
                for e in kube.list(f"/api/v1/namespaces/{ns}/events")["items"]
                if e["involvedObject"]["name"] == "lost" and e["reason"] == "ProvisioningFailed"
            ),
            None,
        ),
        what="ProvisioningFailed event for the claim",
    )
    assert "no-such-class" in event["message"]
    lost = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/lost")
    assert lost["status"]["phase"] == "Pending"
    assert not lost["spec"].get("volumeName")


def test_job_runs_to_completion(kube: Kube, namespace_name: str) -> None:
    ns = make_namespace(kube, namespace_name)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "psql", "image": "postgres:16", "command": ["true"]}],
                }
            },
        },
    }
    kube.create(f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    done = wait_until(
        lambda: (
            (kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/once") or {})
            .get("status", {})
            .get("succeeded")
        ),
        what="Job once succeeded",
    )
    assert done == 1
    pod = kube.list(f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Donce")["items"][0]
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
