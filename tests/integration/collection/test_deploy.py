"""Deploy on the aws profile: creates and waits for everything, then converges without change."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubeobjects import secret_data
from sandbox import Sandbox

from .playrun import PlayRun, assert_ok, deploy, new_namespace, remove

pytestmark = pytest.mark.integration

INSTANCE_LABEL = "litemaas.rhpds.io/instance"


@pytest.fixture(scope="module")
def three_runs(sandbox_aws: Sandbox, module_workdir: Path) -> dict[str, Any]:
    """One instance deployed three times; Secrets read after each run."""
    ns = new_namespace()
    runs: list[PlayRun] = []
    secrets: list[dict[str, dict[str, str]]] = []
    for _ in range(3):
        run = deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
        assert_ok(run)
        runs.append(run)
        secrets.append(
            {
                n: secret_data(sandbox_aws.kube(), ns, n)
                for n in ("litellm-secret", "postgres-secret")
            }
        )
    print(
        f"\n[collection] aws deploy: first {runs[0].seconds:.1f}s /"
        f" {runs[0].admin_requests} API requests,"
        f" second {runs[1].seconds:.1f}s / {runs[1].admin_requests} API requests"
    )
    return {"ns": ns, "runs": runs, "secrets": secrets}


def test_first_run_creates_and_waits_for_everything(
    sandbox_aws: Sandbox, three_runs: dict[str, Any]
) -> None:
    ns, first = three_runs["ns"], three_runs["runs"][0]
    kube = sandbox_aws.kube()
    assert first.changed > 0
    sts = kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres")
    assert sts and sts["status"].get("readyReplicas") == 1
    assert sts["status"]["observedGeneration"] == sts["metadata"]["generation"]
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    assert dep and dep["status"].get("availableReplicas") == 1
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/health/readiness",
        "port": 4000,
        "scheme": "HTTP",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    # a slow start is judged by the startup probe (minutes), not killed by liveness after a delay
    assert "initialDelaySeconds" not in container["livenessProbe"] or (
        container["livenessProbe"]["initialDelaySeconds"] == 0
    )
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/health/liveliness"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    env = {e["name"]: e for e in container["env"]}
    assert env["STORE_MODEL_IN_DB"]["value"] == "True"
    for key in ("DATABASE_URL", "LITELLM_MASTER_KEY", "UI_USERNAME", "UI_PASSWORD"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "litellm-secret", "key": key}
    assert dep["spec"]["template"]["spec"]["initContainers"][0]["name"] == "wait-for-database"
    jobs = kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]
    assert len(jobs) == 1 and jobs[0]["status"].get("succeeded") == 1
    script = jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "CREATE DATABASE" in script and "NOT EXISTS" in script and "DROP" not in script.upper()
    pvc = kube.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/postgres-storage-postgres-0")
    assert pvc and pvc["spec"]["storageClassName"] == "gp3-csi"  # the platform's usual class
    route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litellm")
    assert route and route["spec"]["host"] == f"litellm-{ns}.{sandbox_aws.domain}"
    assert first.set_stats["litemaas"] == {
        "instance": ns,
        "namespace": ns,
        "admin_url": f"https://litellm-{ns}.{sandbox_aws.domain}",
        "api_url": f"https://litellm-{ns}.{sandbox_aws.domain}",
        "version": "0.1.2",
        "storage_class": "gp3-csi",
        "cloud_provider": "aws",
        "credentials_secret": "litellm-secret",
    }


def test_every_object_carries_the_instance_labels(
    sandbox_aws: Sandbox, three_runs: dict[str, Any]
) -> None:
    ns, kube = three_runs["ns"], sandbox_aws.kube()
    paths = [
        f"/api/v1/namespaces/{ns}",
        f"/api/v1/namespaces/{ns}/secrets/litellm-secret",
        f"/api/v1/namespaces/{ns}/secrets/postgres-secret",
        f"/api/v1/namespaces/{ns}/services/postgres",
        f"/api/v1/namespaces/{ns}/services/litellm",
        f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres",
        f"/apis/apps/v1/namespaces/{ns}/deployments/litellm",
        f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litellm",
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims/postgres-storage-postgres-0",
    ]
    for path in paths:
        labels = (kube.get(path) or {}).get("metadata", {}).get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "litemaas", path
        assert labels.get(INSTANCE_LABEL) == ns, path


def test_second_and_third_runs_change_nothing(
    sandbox_aws: Sandbox, three_runs: dict[str, Any]
) -> None:
    second, third = three_runs["runs"][1], three_runs["runs"][2]
    assert second.changed == 0, second.changed_tasks()
    assert third.changed == 0, third.changed_tasks()
    ns, kube = three_runs["ns"], sandbox_aws.kube()
    # Nothing rolled: one ReplicaSet, the Deployment still at its first generation.
    assert len(kube.list(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]) == 1
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")["metadata"]["generation"]
        == 1
    )
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres")["metadata"]["generation"]
        == 1
    )


def test_secrets_are_byte_identical_after_three_runs(three_runs: dict[str, Any]) -> None:
    first, second, third = three_runs["secrets"]
    assert first == second == third
    litellm, postgres = first["litellm-secret"], first["postgres-secret"]
    assert set(litellm) == {"LITELLM_MASTER_KEY", "UI_USERNAME", "UI_PASSWORD", "DATABASE_URL"}
    assert set(postgres) == {"POSTGRES_PASSWORD", "DATABASE_URL"}
    # One password everywhere (0.1.2 drew a new one for each reference).
    password = postgres["POSTGRES_PASSWORD"]
    assert len(password) == 32
    assert urlsplit(postgres["DATABASE_URL"]).password == password
    assert urlsplit(litellm["DATABASE_URL"]).password == password
    assert urlsplit(litellm["DATABASE_URL"]).path == "/litellm_db"
    assert litellm["LITELLM_MASTER_KEY"].startswith("sk-")


def test_a_changed_secret_rolls_litellm_and_nothing_else(
    sandbox_aws: Sandbox, three_runs: dict[str, Any], module_workdir: Path
) -> None:
    ns, kube = three_runs["ns"], sandbox_aws.kube()
    sts_before = kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres")["metadata"][
        "generation"
    ]
    kube.patch(
        f"/api/v1/namespaces/{ns}/secrets/litellm-secret",
        {"stringData": {"UI_PASSWORD": "rotated-by-test"}},
    )
    run = deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(run)
    assert secret_data(sandbox_aws.kube(), ns, "litellm-secret")["UI_PASSWORD"] == "rotated-by-test"
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")["metadata"]["generation"]
        == 2
    )
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/postgres")["metadata"]["generation"]
        == sts_before
    )


def test_two_instances_do_not_collide_and_destroy_leaves_nothing(
    sandbox_aws: Sandbox, three_runs: dict[str, Any], module_workdir: Path
) -> None:
    first_ns, kube = three_runs["ns"], sandbox_aws.kube()
    first_secrets = {
        n: secret_data(sandbox_aws.kube(), first_ns, n)
        for n in ("litellm-secret", "postgres-secret")
    }
    ns = new_namespace()
    run = deploy(
        sandbox_aws,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
        ocp4_workload_litemaas_deploy_frontend=True,
        ocp4_workload_litemaas_oauth_enabled=True,
        ocp4_workload_litemaas_managed_by="litemaas-controller",
    )
    assert_ok(run)
    hosts = {
        kube.get(f"/apis/route.openshift.io/v1/namespaces/{n}/routes/litellm")["spec"]["host"]
        for n in (first_ns, ns)
    }
    assert len(hosts) == 2
    client = kube.get(f"/apis/oauth.openshift.io/v1/oauthclients/litemaas-{ns}")
    assert (
        client
        and client["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "litemaas-controller"
    )
    assert client["redirectURIs"] == [
        f"https://litemaas-{ns}.{sandbox_aws.domain}/api/auth/callback"
    ]
    # The frontend holds the LiteMaaS host and proxies /api/ to the backend: one URL for both.
    route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litemaas")
    assert route["spec"]["to"]["name"] == "frontend"
    assert run.set_stats["litemaas"]["backend_url"] == f"https://litemaas-{ns}.{sandbox_aws.domain}"
    backend = secret_data(sandbox_aws.kube(), ns, "backend-secret")
    litellm = secret_data(sandbox_aws.kube(), ns, "litellm-secret")
    assert backend["litellm-api-key"] == litellm["LITELLM_MASTER_KEY"]
    assert backend["oauth-client-secret"] == client["secret"]
    job = kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"][0]
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DATABASES"] == "litellm_db litemaas_db"
    for name in ("backend", "frontend"):
        assert (
            kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")["status"].get(
                "readyReplicas"
            )
            == 1
        )

    # A workload that stops being ready: the deploy fails at its deadline and says which and why.
    sandbox_aws.set_fault("deployment", ns, "frontend", "crashloop")
    stuck = deploy(
        sandbox_aws,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
        ocp4_workload_litemaas_deploy_frontend=True,
        ocp4_workload_litemaas_oauth_enabled=True,
        ocp4_workload_litemaas_managed_by="litemaas-controller",
        ocp4_workload_litemaas_wait_timeout=15,
    )
    assert stuck.failed
    assert "Deployment/frontend not ready" in stuck.stdout
    assert "CrashLoopBackOff" in stuck.stdout or "terminated" in stuck.stdout
    assert "Deployment/litellm not ready" not in stuck.stdout

    removed = remove(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(removed)
    assert removed.changed > 0
    assert kube.get(f"/api/v1/namespaces/{ns}") is None
    assert kube.get(f"/apis/oauth.openshift.io/v1/oauthclients/litemaas-{ns}") is None
    selector = f"?labelSelector={INSTANCE_LABEL}%3D{ns}"
    for path in (
        "/api/v1/persistentvolumeclaims",
        "/api/v1/secrets",
        "/apis/apps/v1/deployments",
        "/apis/route.openshift.io/v1/routes",
        "/apis/oauth.openshift.io/v1/oauthclients",
    ):
        assert kube.list(path + selector)["items"] == [], path
    # The other instance is untouched.
    assert {n: secret_data(sandbox_aws.kube(), first_ns, n) for n in first_secrets} == first_secrets
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{first_ns}/deployments/litellm")["status"].get(
            "readyReplicas"
        )
        == 1
    )

    again = remove(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(again)
    assert again.changed == 0
