"""playbooks/repair_litemaas.yml on the package's instance (real LiteLLM on its real PostgreSQL),
run directly: four faults at once (an edited command and env, a deleted litellm-secret, a deleted
Service, the Deployment scaled to 0) restored by one repair, a second run that changes nothing, and
the refusal when both Secrets are gone. The data stays: a model registered before the faults (its
upstream key stored encrypted, the fake model server checking it) still answers a chat through a
virtual key issued before them, on the same volume with the same rows. Healing each fault through
the service, one repair each, is tests/e2e/test_healing_real.py.

The tests build on each other in the order of the file. No key is ever printed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.realworld import UPSTREAM_MODEL, upstream_objects
from integration.collection.conftest import PlayRun, run_playbook
from integration.real.conftest import condition, psql
from kubeobjects import has_ready_endpoints, make_namespace
from waiting import wait_until

from .conftest import WAIT, Instance, curl, shown

pytestmark = pytest.mark.integration

#: the repair's own readiness wait: a LiteLLM start takes 20-60 s on an idle machine, minutes on a
#: busy one (the role's default, 300 s, is not always enough here)
REPAIR_WAIT = WAIT


@dataclass
class Before:
    """What the instance held before the first fault."""

    model: str
    virtual_key: str
    postgres_secret: dict[str, Any]
    pvc_uid: str
    rows: dict[str, str]


def data_rows(inst: Instance) -> dict[str, str]:
    """Models and keys in LiteLLM's tables (counts and ids, never a key)."""
    tables = {
        "models": "SELECT count(*) || ':' || string_agg(model_id, ',' ORDER BY model_id)"
        ' FROM "LiteLLM_ProxyModelTable"',
        "keys": "SELECT count(*) || ':' || md5(string_agg(token, ',' ORDER BY token))"
        ' FROM "LiteLLM_VerificationToken"',
    }
    return {
        name: psql(inst.kube, inst.ns, sql, database="litellm_db") for name, sql in tables.items()
    }


def pvc_uid(inst: Instance) -> str:
    claim = inst.kube.get(
        f"/api/v1/namespaces/{inst.ns}/persistentvolumeclaims/postgres-storage-postgres-0"
    )
    assert claim is not None, "the database volume's claim is gone"
    return str(claim["metadata"]["uid"])


def chat(inst: Instance, key: str, model: str) -> tuple[int, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "ping"}]}
    return curl(inst.box, "POST", f"{inst.url}/v1/chat/completions", key=key, body=body)


def assert_chat(inst: Instance, before: Before) -> None:
    status, answer = chat(inst, before.virtual_key, before.model)
    assert status == 200, f"the model registered before answered {status}: {shown(answer)}"
    assert answer["choices"][0]["message"]["content"] == "pong"


def repair(inst: Instance, workdir: Path) -> PlayRun:
    return run_playbook(
        inst.box,
        "repair_litemaas.yml",
        {
            "ocp4_workload_litemaas_namespace": inst.ns,
            "ocp4_workload_litemaas_wait_timeout": WAIT,
            "ocp4_workload_litemaas_repair_wait_timeout": REPAIR_WAIT,
        },
        workdir,
    )


def assert_repaired(run: PlayRun) -> None:
    assert not run.failed, f"repair {run.status} (rc {run.rc}):\n{run.stdout[-6000:]}"
    assert run.changed > 0, "the repair changed nothing"


def deployment(inst: Instance) -> dict[str, Any]:
    found = inst.kube.get(f"/apis/apps/v1/namespaces/{inst.ns}/deployments/litellm")
    assert found is not None, "Deployment litellm is gone"
    return found


def ready(inst: Instance) -> bool:
    dep = deployment(inst)
    status = dep.get("status", {})
    return (
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("readyReplicas", 0) == dep["spec"]["replicas"] == 1
        and status.get("updatedReplicas", 0) == 1
        and status.get("replicas", 0) == 1
    )


@pytest.fixture(scope="module")
def before(instance: Instance) -> Iterator[Before]:
    """The fake model server in a namespace of its own, a model on it whose upstream key LiteLLM
    stores encrypted, and a virtual key for it; then what the database holds."""
    kube = instance.kube
    models_ns = f"models-{uuid.uuid4().hex[:6]}"
    upstream_key = f"sk-upstream-{uuid.uuid4().hex}"
    make_namespace(kube, models_ns)
    for path, obj in upstream_objects(models_ns, upstream_key):
        kube.create(path, obj)
    wait_until(lambda: has_ready_endpoints(kube, models_ns, "vllm"), timeout=120, what="vllm")
    master = instance.master_key()
    model = f"repair-{uuid.uuid4().hex[:6]}"
    params = {
        "model": f"openai/{UPSTREAM_MODEL}",
        "api_base": f"http://vllm.{models_ns}.svc:8000/v1",
        "api_key": upstream_key,
    }
    body = {"model_name": model, "litellm_params": params}
    status, answer = curl(instance.box, "POST", f"{instance.url}/model/new", key=master, body=body)
    assert status == 200, shown(answer)
    status, answer = curl(
        instance.box, "POST", f"{instance.url}/key/generate", key=master, body={"models": [model]}
    )
    assert status == 200, shown(answer)
    found = Before(
        model=model,
        virtual_key=answer["key"],
        postgres_secret=kube.get(f"/api/v1/namespaces/{instance.ns}/secrets/postgres-secret")[
            "data"
        ],
        pvc_uid=pvc_uid(instance),
        rows=data_rows(instance),
    )
    assert_chat(instance, found)
    yield found


def test_four_faults_at_once_are_restored_by_one_repair_and_models_and_keys_still_work(
    instance: Instance, before: Before, tmp_path: Path
) -> None:
    # The faults tests/e2e/test_healing_real.py heals one by one through the service, here all
    # together: the playbook must restore each whatever state the others left.
    old_master = instance.master_key()
    edit: dict[str, Any] = {
        "name": "litellm",
        "command": ["sh", "-c", "exit 3"],
        "env": [{"name": "LITELLM_LOG", "value": "DEBUG"}],
    }
    instance.kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{instance.ns}/deployments/litellm",
        {"spec": {"replicas": 0, "template": {"spec": {"containers": [edit]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    instance.kube.delete(f"/api/v1/namespaces/{instance.ns}/secrets/litellm-secret")
    instance.kube.delete(f"/api/v1/namespaces/{instance.ns}/services/litellm")
    wait_until(lambda: not instance.litellm_pods(), timeout=120, what="no LiteLLM pod left")

    assert_repaired(repair(instance, tmp_path))

    restored = deployment(instance)
    container = restored["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container
    assert "LITELLM_LOG" not in [e["name"] for e in container["env"]]
    assert restored["spec"]["replicas"] == 1
    assert any(condition(p, "Ready") for p in instance.litellm_pods())  # the repair waited
    assert instance.kube.get(f"/api/v1/namespaces/{instance.ns}/services/litellm") is not None
    postgres = instance.kube.get(f"/api/v1/namespaces/{instance.ns}/secrets/postgres-secret")
    assert postgres["data"] == before.postgres_secret, "postgres-secret changed"
    new_master = instance.master_key()  # restored (a new master key: the old one is unknowable)
    wait_until(lambda: ready(instance), timeout=WAIT, what="Deployment litellm ready")
    wait_until(
        lambda: has_ready_endpoints(instance.kube, instance.ns, "litellm"),
        timeout=60,
        what="Service litellm with a ready endpoint",
    )
    # the model's upstream key, stored encrypted, still decrypts: the chat reaches the upstream
    assert_chat(instance, before)
    status, answer = curl(instance.box, "GET", f"{instance.url}/model/info", key=new_master)
    assert status == 200, shown(answer)
    assert before.model in [m["model_name"] for m in answer["data"]]
    if new_master != old_master:
        status, _ = curl(instance.box, "GET", f"{instance.url}/model/info", key=old_master)
        assert status == 401


def test_after_the_repair_a_second_run_changes_nothing_and_the_data_is_the_same(
    instance: Instance, before: Before, tmp_path: Path
) -> None:
    run = repair(instance, tmp_path)
    assert not run.failed, run.stdout[-6000:]
    assert run.changed == 0, run.changed_tasks()
    assert pvc_uid(instance) == before.pvc_uid
    assert data_rows(instance) == before.rows


def namespace_state(inst: Instance) -> dict[str, str]:
    """Every object the repair could touch, by kind and name, with its resourceVersion."""
    paths = {
        "Secret": f"/api/v1/namespaces/{inst.ns}/secrets",
        "Service": f"/api/v1/namespaces/{inst.ns}/services",
        "PersistentVolumeClaim": f"/api/v1/namespaces/{inst.ns}/persistentvolumeclaims",
        "Deployment": f"/apis/apps/v1/namespaces/{inst.ns}/deployments",
        "StatefulSet": f"/apis/apps/v1/namespaces/{inst.ns}/statefulsets",
        "Route": f"/apis/route.openshift.io/v1/namespaces/{inst.ns}/routes",
    }
    return {
        f"{kind}/{item['metadata']['name']}": item["metadata"]["resourceVersion"]
        for kind, path in paths.items()
        for item in inst.kube.list(path)["items"]
    }


def test_both_secrets_gone_the_repair_refuses_and_changes_nothing(
    instance: Instance, before: Before, tmp_path: Path
) -> None:
    for name in ("litellm-secret", "postgres-secret"):
        instance.kube.delete(f"/api/v1/namespaces/{instance.ns}/secrets/{name}")
    state = namespace_state(instance)
    run = repair(instance, tmp_path)
    assert run.failed
    [failed] = [e["event_data"]["res"] for e in run.events if e.get("event") == "runner_on_failed"]
    assert failed["failure_kind"] == "permanent"
    assert "postgres-secret and litellm-secret are both gone" in failed["msg"], failed["msg"]
    assert "nothing was changed" in failed["msg"]
    assert run.changed == 0
    assert namespace_state(instance) == state
    assert pvc_uid(instance) == before.pvc_uid
