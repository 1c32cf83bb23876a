"""install_controller.yml / remove_controller.yml against the sandbox's real API server, and the
least privilege of the controller's ServiceAccount (docs/in-cluster.md): its token, issued by the
sandbox's kube-controller-manager, is refused Secrets outside the namespaces the controller was
given, and a deploy, repair and removal run with it alone succeed."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerfile import build
from integration.collection.playrun import PlayRun, run_playbook
from integration.real.podkit import pod_processes
from integration.service.leaderkit import candidate, leads
from sandbox import Sandbox
from waiting import wait_for_async, wait_until

from .installkit import (
    NS,
    SA,
    SYSTEM,
    WRITES,
    Installed,
    api_path,
    as_controller,
    manifests,
    ok,
    sa_kubeconfig,
    status,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(
    sandbox_aws: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installed]:
    workdir = tmp_path_factory.mktemp("install-controller")
    first = ok(run_playbook(sandbox_aws, "install_controller.yml", {}, workdir))
    second = ok(run_playbook(sandbox_aws, "install_controller.yml", {}, workdir))
    yield Installed(sandbox_aws, workdir, first, second, sa_kubeconfig(sandbox_aws, workdir))
    if sandbox_aws.kube().get(f"/api/v1/namespaces/{NS}") is not None:  # a test stopped early
        run_playbook(sandbox_aws, "remove_controller.yml", {}, workdir)


def test_install_creates_every_object_ready_and_a_second_run_changes_nothing(
    installed: Installed,
) -> None:
    kube = installed.sandbox.kube()
    missing = [api_path(o) for o in manifests() if kube.get(api_path(o)) is None]
    assert not missing
    assert kube.get(f"/api/v1/namespaces/{NS}/secrets/litemaas-controller")["data"].keys() == {
        "LITEMAAS_WEBHOOK_SECRET",
        "LITEMAAS_API_TOKEN",
    }
    deployment = kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments/litemaas-controller")
    assert deployment["status"].get("readyReplicas") == 1
    assert installed.first.changed > 0
    assert installed.second.changed == 0, installed.second.changed_tasks()


def test_the_controller_token_is_refused_secrets_it_was_not_given(installed: Installed) -> None:
    kube = installed.sandbox.kube()
    other = f"t-{uuid.uuid4().hex[:8]}"
    kube.create("/api/v1/namespaces", {"metadata": {"name": other}})
    refused = {
        "/api/v1/namespaces/kube-system/secrets": 403,
        f"/api/v1/namespaces/{other}/secrets": 403,
        "/api/v1/secrets": 403,
        f"/api/v1/namespaces/{NS}/secrets": 403,  # not even its own namespace's
    }
    allowed = {"/api/v1/namespaces": 200, "/apis/apps/v1/deployments": 200}
    answers = {path: status(installed, path) for path in {**refused, **allowed}}
    kube.delete(f"/api/v1/namespaces/{other}")
    assert answers == {**refused, **allowed}


async def test_the_controller_token_elects_its_leader_on_its_own_lease_only(
    installed: Installed, caplog: pytest.LogCaptureFixture
) -> None:
    """The install's Role is what leader election needs (docs/replicas.md), and no more."""
    replica = candidate(installed.kubeconfig, NS, "replica-0")
    elsewhere = candidate(installed.kubeconfig, "default", "replica-1")
    try:
        await leads(replica)
        await wait_for_async(lambda: _logged(caplog, "the Role litemaas-controller-lease"),
                             what="the refusal logged")  # fmt: skip
        assert not elsewhere.elector.leads
    finally:
        await replica.stop()
        await elsewhere.stop()
    leases = "/apis/coordination.k8s.io/v1/namespaces/{}/leases"
    released = installed.sandbox.kube().get(leases.format(NS) + "/litemaas-controller")
    assert not released["spec"].get("holderIdentity")  # created, then released (an update)
    assert status(installed, leases.format(NS) + "/another") == 403
    assert status(installed, leases.format("kube-system") + "/litemaas-controller") == 403


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


@pytest.fixture(scope="module")
def instance(installed: Installed) -> Iterator[tuple[str, PlayRun, PlayRun]]:
    """An instance deployed and deployed again by the controller's ServiceAccount alone."""
    namespace = f"lm-{uuid.uuid4().hex[:8]}"
    extravars = {
        "ocp4_workload_litemaas_namespace": namespace,
        "ocp4_workload_litemaas_managed_by": "litemaas-controller",
        "ocp4_workload_litemaas_user_info_secrets": False,
        "ocp4_workload_litemaas_controller_account": f"{NS}/litemaas-controller",
        "ocp4_workload_litemaas_wait_timeout": 120,
    }
    env = as_controller(installed)
    first = run_playbook(
        installed.sandbox, "deploy_litemaas.yml", extravars, installed.workdir, env=env
    )
    repair = run_playbook(
        installed.sandbox, "repair_litemaas.yml", extravars, installed.workdir, env=env
    )
    yield namespace, ok(first), ok(repair)
    installed.sandbox.kube().delete(f"/api/v1/namespaces/{namespace}")


def test_a_deploy_and_a_repair_run_with_the_controller_token_alone(
    installed: Installed, instance: tuple[str, PlayRun, PlayRun]
) -> None:
    namespace, deploy, repair = instance
    assert deploy.admin_requests == 0 and repair.admin_requests == 0
    writers = {
        e["user"]["username"]
        for e in installed.sandbox.audit_events()
        if e.get("objectRef", {}).get("namespace") == namespace and e["verb"] in WRITES
    }
    assert writers - SYSTEM == {SA}
    kube = installed.sandbox.kube()
    binding = kube.get(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/litemaas-controller"
    )
    assert binding["roleRef"]["name"] == "litemaas-controller-instance"
    assert status(installed, f"/api/v1/namespaces/{namespace}/secrets") == 200


#: a password given where none may be: it must show in no output of the refused run
CANARY = "pw-canary-2f7d"
BESIDE = "litemaas-controller-postgresql"
PDB = f"/apis/policy/v1beta1/namespaces/{NS}/poddisruptionbudgets/litemaas-controller"


def test_hostile_replicas_and_ledgers_are_refused_by_name_and_change_nothing(
    installed: Installed,
) -> None:
    """Through the role: its argument_specs, the filter's refusal shown without the value, and the
    check of the password Secret (the filter's other refusals: test_controller_replicas.py)."""
    box, kube = installed.sandbox, installed.sandbox.kube()
    deployment = f"/apis/apps/v1/namespaces/{NS}/deployments/litemaas-controller"
    before = kube.get(deployment)["metadata"]["resourceVersion"]
    url = {"litemaas_controller_ledger": "postgresql", "litemaas_controller_replicas": 3,
           "litemaas_controller_ledger_password_secret": "ledger-db"}  # fmt: skip
    refusals = [
        ({"litemaas_controller_replicas": "3; rm -rf /"}, "litemaas_controller_replicas"),
        ({**url, "litemaas_controller_ledger_url": f"postgresql://ctl:{CANARY}@db/ledger"},
         "litemaas_controller_ledger_url must not carry a password"),
        ({**url, "litemaas_controller_ledger_url": "postgresql://ctl@db/ledger"},
         "The Secret ledger-db in namespace litemaas-controller has no key password"),
    ]  # fmt: skip
    for extravars, says in refusals:
        run = run_playbook(box, "install_controller.yml", extravars, installed.workdir)
        assert run.failed and run.changed == 0, extravars
        assert says in " ".join(run.stdout.split()), run.stdout[-2000:]
        assert CANARY not in run.stdout
    assert kube.get(deployment)["metadata"]["resourceVersion"] == before


def test_three_replicas_on_a_postgresql_beside_converge_and_back_to_sqlite_drop_the_budget(
    installed: Installed,
) -> None:
    box, kube = installed.sandbox, installed.sandbox.kube()
    three = {"litemaas_controller_ledger": "postgresql_beside", "litemaas_controller_replicas": 3}
    first = ok(run_playbook(box, "install_controller.yml", three, installed.workdir), box)
    secret = f"/api/v1/namespaces/{NS}/secrets/{BESIDE}"
    password = kube.get(secret)["data"]["password"]
    second = ok(run_playbook(box, "install_controller.yml", three, installed.workdir), box)
    assert first.changed > 0
    assert second.changed == 0, second.changed_tasks()
    assert kube.get(secret)["data"]["password"] == password  # generated once
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/litemaas-controller"
    deployment = kube.get(path)
    assert deployment["spec"]["replicas"] == 3 == deployment["status"].get("readyReplicas")
    assert kube.get(PDB)["spec"]["maxUnavailable"] == 1
    database = kube.get(f"/apis/apps/v1/namespaces/{NS}/statefulsets/{BESIDE}")
    assert database["status"].get("readyReplicas") == 1
    config = f"/api/v1/namespaces/{NS}/configmaps/litemaas-controller"
    settings = kube.get(config)["data"]
    assert settings["LITEMAAS_LEDGER_URL"].startswith(f"postgresql://litemaas@{BESIDE}.{NS}.svc:")
    assert base64.b64decode(password).decode() not in json.dumps([deployment, database, settings])
    # the SQLite ledger's volume is not used any more, and kept
    assert kube.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/litemaas-controller-state")
    # back to the defaults: one replica on SQLite, no budget; the PostgreSQL keeps its data
    back = ok(run_playbook(box, "install_controller.yml", {}, installed.workdir), box)
    assert back.changed > 0 and kube.get(PDB) is None
    deployment = kube.get(path)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["status"].get("readyReplicas") == 1
    assert "LITEMAAS_LEDGER_URL" not in kube.get(config)["data"]
    assert kube.get(secret)["data"]["password"] == password


def test_remove_leaves_nothing_of_the_controller_and_keeps_the_instance(
    installed: Installed, instance: tuple[str, PlayRun, PlayRun]
) -> None:
    """The PostgreSQL the test above put beside the controller (the ledger's data) stays, with
    its namespace, until the removal is asked to remove data."""
    namespace = instance[0]
    ok(run_playbook(installed.sandbox, "remove_controller.yml", {}, installed.workdir))
    kube = installed.sandbox.kube()
    left = [api_path(o) for o in manifests() if kube.get(api_path(o)) is not None]
    assert left == [f"/api/v1/namespaces/{NS}"]
    kept = [f"/api/v1/namespaces/{NS}/{kind}/{BESIDE}" for kind in
            ("secrets", "persistentvolumeclaims", "services")]  # fmt: skip
    assert all(kube.get(path) for path in kept)
    assert kube.get(f"/apis/apps/v1/namespaces/{NS}/statefulsets/{BESIDE}")
    assert kube.get(PDB) is None
    remove_data = {"litemaas_controller_remove_data": True}
    ok(run_playbook(installed.sandbox, "remove_controller.yml", remove_data, installed.workdir))
    left = [api_path(o) for o in manifests() if kube.get(api_path(o)) is not None]
    assert not left
    assert (
        kube.get(
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/litemaas-controller"
        )
        is None
    )
    assert kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/litellm") is not None
    again = ok(run_playbook(installed.sandbox, "remove_controller.yml", {}, installed.workdir))
    assert again.changed == 0


SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {
            "kind": "ServiceMonitor",
            "plural": "servicemonitors",
            "singular": "servicemonitor",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture(scope="module")
def plain_kubernetes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Plain Kubernetes whose pods run for real, the controller's included (the image the
    Containerfile's instructions were carried out into: this checkout's venv would not do, the
    pod's /tmp emptyDir hides a checkout under /tmp and with it its programs' interpreter):
    nothing there gives the pod an fsGroup unless it names one, so the pod is Ready only if the
    install made the ledger's volume writable by the image's user."""
    box = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-vanilla-real"),
        "vanilla",
        parent=os.getpid(),
        real=True,
        controller_image=build().root.parent,
    )
    yield box
    box.stop()


@pytest.fixture
def prometheus_operator_api(plain_kubernetes: Sandbox) -> Iterator[None]:
    """The ServiceMonitor API as the Prometheus operator serves it (its CRD, nothing running)."""
    kube = plain_kubernetes.kube()
    kube.create(CRDS, SERVICE_MONITOR_CRD)
    wait_until(lambda: kube.get("/apis/monitoring.coreos.com/v1") is not None, 30)
    yield
    kube.delete(f"{CRDS}/servicemonitors.monitoring.coreos.com")


def test_plain_kubernetes_gets_a_writable_volume_an_ingress_and_a_service_monitor_when_served(
    plain_kubernetes: Sandbox, prometheus_operator_api: None, tmp_path: Path
) -> None:
    box = plain_kubernetes
    # the wait bounds a real pod's start (the service's imports, its probes), slower under load
    extravars = {"litemaas_controller_cluster_domain": box.domain,
                 "litemaas_controller_wait_timeout": 240}  # fmt: skip
    ok(run_playbook(box, "install_controller.yml", extravars, tmp_path), box)  # Ready: it started
    kube = box.kube()
    try:
        (pod,) = kube.list(f"/api/v1/namespaces/{NS}/pods")["items"]
        assert pod["spec"]["securityContext"]["fsGroup"] == 1001
        assert pod_processes(box, pod), "the pod does not run for real"
        ingress = kube.get(
            f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/litemaas-controller"
        )
        assert ingress["spec"]["rules"][0]["host"] == f"litemaas-controller-{NS}.{box.domain}"
        assert kube.get(
            f"/apis/monitoring.coreos.com/v1/namespaces/{NS}/servicemonitors/litemaas-controller"
        )
        # one replica: no PodDisruptionBudget (several replicas get one: tests below)
        assert not kube.get(
            f"/apis/policy/v1beta1/namespaces/{NS}/poddisruptionbudgets/litemaas-controller"
        )
    finally:
        ok(run_playbook(box, "remove_controller.yml", {}, tmp_path))
