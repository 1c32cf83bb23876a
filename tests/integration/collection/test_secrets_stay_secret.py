"""With user_info_secrets false, a planted canary password reaches no artifact, event or output."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from sandbox import Sandbox

from .playrun import PlayRun, assert_ok, deploy, new_namespace, remove

pytestmark = pytest.mark.integration


def _places_holding(run: PlayRun, canary: str) -> list[str]:
    found = []
    for path in run.private_data_dir.rglob("*"):
        if path.is_file() and canary.encode() in path.read_bytes():
            found.append(str(path.relative_to(run.private_data_dir)))
    if canary in run.stdout:
        found.append("stdout")
    if canary in json.dumps(run.events):
        found.append("events")
    return found


def test_canary_password_appears_nowhere_unless_user_info_secrets(
    sandbox_aws: Sandbox, module_workdir: Path
) -> None:
    ns = new_namespace()
    canary = f"canary{uuid.uuid4().hex}"
    kube = sandbox_aws.kube()
    kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    kube.create(
        f"/api/v1/namespaces/{ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "litellm-secret"},
            "type": "Opaque",
            "data": {
                "UI_USERNAME": base64.b64encode(b"admin").decode(),
                "UI_PASSWORD": base64.b64encode(canary.encode()).decode(),
            },
        },
    )

    # AgnosticD's output_dir: the user-info plugin writes its files there, and only there.
    output_dir = module_workdir / f"agnosticd-output-{ns}"
    quiet = deploy(
        sandbox_aws,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_user_info_secrets=False,
        output_dir=str(output_dir),
    )
    assert_ok(quiet)
    assert _places_holding(quiet, canary) == []
    written = sorted(p.name for p in output_dir.iterdir())
    assert written == ["provision-user-data.yaml", "provision-user-info.yaml"]
    for path in output_dir.iterdir():
        assert canary not in path.read_text(), path.name
    assert "litellm_admin_url" in (output_dir / "provision-user-data.yaml").read_text()
    # The password is in use (kept from the planted Secret); user info still says where it is.
    stored = kube.get(f"/api/v1/namespaces/{ns}/secrets/litellm-secret")["data"]["UI_PASSWORD"]
    assert base64.b64decode(stored).decode() == canary
    info = quiet.task_results("agnosticd_user_info")
    assert len(info) == 1
    assert "litellm_admin_password" not in info[0]["data"]
    assert any("Secret litellm-secret" in line for line in info[0]["msg"])

    # The control: AgnosticD's default hands the password over, so the scan above can see it.
    told = deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert not list(told.private_data_dir.rglob("*-user-*.yaml"))  # no output_dir: no files
    assert_ok(told)
    assert told.changed == 0
    assert "events" in _places_holding(told, canary)
    assert told.task_results("agnosticd_user_info")[0]["data"]["litellm_admin_password"] == canary


def test_backend_enabled_later_and_destroy_in_a_namespace_the_instance_does_not_own(
    sandbox_aws: Sandbox, module_workdir: Path
) -> None:
    ns = new_namespace()
    kube = sandbox_aws.kube()
    kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    kube.create(
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "someone-elses"}},
    )
    assert_ok(deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns))
    (first_job,) = kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]

    # Backend enabled on a later run: a Job of a new spec creates litemaas_db too; the old Job goes.
    run = deploy(
        sandbox_aws,
        module_workdir,
        ocp4_workload_litemaas_namespace=ns,
        ocp4_workload_litemaas_deploy_backend=True,
    )
    assert_ok(run)
    jobs = kube.list(f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]
    assert [j["metadata"]["name"] for j in jobs] != [first_job["metadata"]["name"]]
    env = {
        e["name"]: e.get("value")
        for e in jobs[-1]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DATABASES"] == "litellm_db litemaas_db"
    assert (
        kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/backend")["status"].get(
            "readyReplicas"
        )
        == 1
    )
    assert "app.kubernetes.io/part-of" not in (
        kube.get(f"/api/v1/namespaces/{ns}")["metadata"].get("labels") or {}
    )

    removed = remove(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns)
    assert_ok(removed)
    # The namespace was not the instance's: it stays with what else it holds; the instance is gone.
    assert kube.get(f"/api/v1/namespaces/{ns}") is not None
    assert kube.get(f"/api/v1/namespaces/{ns}/configmaps/someone-elses") is not None
    selector = f"?labelSelector=litemaas.rhpds.io/instance%3D{ns}"
    for path in ("secrets", "services", "persistentvolumeclaims"):
        assert kube.list(f"/api/v1/namespaces/{ns}/{path}{selector}")["items"] == [], path
    for group, resource in (
        ("apps/v1", "deployments"),
        ("apps/v1", "statefulsets"),
        ("batch/v1", "jobs"),
        ("route.openshift.io/v1", "routes"),
    ):
        items = kube.list(f"/apis/{group}/namespaces/{ns}/{resource}{selector}")["items"]
        assert items == [], resource
    kube.delete(f"/api/v1/namespaces/{ns}")
