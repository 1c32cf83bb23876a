"""StorageClass choice (cnv), Ingress on plain Kubernetes (vanilla)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import assert_ok, deploy, new_namespace

pytestmark = pytest.mark.integration


def _pvc_class(sandbox: Sandbox, ns: str) -> str:
    pvc = sandbox.kube().get(
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims/postgres-storage-postgres-0"
    )
    assert pvc is not None, "no PVC"
    assert pvc["status"].get("phase") == "Bound"
    return str(pvc["spec"]["storageClassName"])


def test_cnv_without_a_class_uses_the_cluster_default(
    sandbox_cnv: Sandbox, module_workdir: Path
) -> None:
    # cnv lacks gp3-csi and the usual ocs-storagecluster-ceph-rbd: the default class wins.
    ns = new_namespace()
    run = deploy(sandbox_cnv, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(run)
    assert _pvc_class(sandbox_cnv, ns) == "ocs-external-storagecluster-ceph-rbd"
    assert run.set_stats["litemaas"]["storage_class"] == "ocs-external-storagecluster-ceph-rbd"
    assert run.set_stats["litemaas"]["cloud_provider"] == "baremetal"


def test_an_explicit_class_wins(sandbox_cnv: Sandbox, module_workdir: Path) -> None:
    ns = new_namespace()
    run = deploy(
        sandbox_cnv,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_postgres_storage_class="hostpath-csi",
    )
    assert_ok(run)
    assert _pvc_class(sandbox_cnv, ns) == "hostpath-csi"


def test_an_unknown_class_fails_early_listing_the_classes(
    sandbox_cnv: Sandbox, module_workdir: Path
) -> None:
    ns = new_namespace()
    run = deploy(
        sandbox_cnv,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_postgres_storage_class="gp3-csi",
    )
    assert run.failed
    assert "StorageClass gp3-csi" in run.stdout and "does not exist" in run.stdout
    assert "ocs-external-storagecluster-ceph-rbd" in run.stdout and "hostpath-csi" in run.stdout
    assert run.changed == 0
    assert sandbox_cnv.kube().get(f"/api/v1/namespaces/{ns}") is None  # nothing created


def test_vanilla_gets_an_ingress_and_converges(
    sandbox_vanilla: Sandbox, module_workdir: Path
) -> None:
    ns = new_namespace()
    kube = sandbox_vanilla.kube()
    runs = [
        deploy(
            sandbox_vanilla,
            module_workdir,
            ocp4_workload_litemaas_namespace=ns,
            ocp4_workload_litemaas_cluster_domain=sandbox_vanilla.domain,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert_ok(run)
    assert runs[1].changed == 0, runs[1].changed_tasks()
    ingress = kube.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/litellm")
    assert ingress is not None
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == f"litellm-{ns}.{sandbox_vanilla.domain}"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "litellm",
        "port": {"number": 4000},
    }
    assert _pvc_class(sandbox_vanilla, ns) == "standard"
    stats = runs[0].set_stats["litemaas"]
    assert stats["admin_url"] == f"http://litellm-{ns}.{sandbox_vanilla.domain}"
    assert stats["cloud_provider"] == "kubernetes"


def test_vanilla_without_a_domain_fails_clearly(
    sandbox_vanilla: Sandbox, module_workdir: Path
) -> None:
    ns = new_namespace()
    run = deploy(sandbox_vanilla, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert run.failed
    assert "ocp4_workload_litemaas_cluster_domain" in run.stdout
    assert sandbox_vanilla.kube().get(f"/api/v1/namespaces/{ns}") is None
