"""The salt key (Secret litellm-salt-key) and the repair's refusals, on the aws profile: an instance
deployed before the salt key gets its current master key as its first salt (what its stored
credentials are encrypted with); a salt key that LiteLLM used and that is gone is never made up
again (refused by the deploy's own Secret step, here through a repair); a repair without the data
volume refuses and changes nothing. One instance, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeobjects import secret_data
from sandbox import Sandbox

from .playrun import PlayRun, assert_ok, deploy, new_namespace, run_playbook

pytestmark = pytest.mark.integration

SALT = "litellm-salt-key"


@pytest.fixture(scope="module")
def ns(sandbox_aws: Sandbox, module_workdir: Path) -> str:
    name = new_namespace()
    assert_ok(deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=name))
    return name


def litellm_env(box: Sandbox, ns: str) -> list[dict[str, Any]]:
    dep = box.kube().get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    assert dep is not None
    env: list[dict[str, Any]] = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def as_before_the_salt_key(box: Sandbox, ns: str) -> None:
    """The instance as a deploy before the salt key left it: no Secret, no env entry."""
    kube = box.kube()
    kube.delete(f"/api/v1/namespaces/{ns}/secrets/{SALT}")
    kept = [e for e in litellm_env(box, ns) if e["name"] != "LITELLM_SALT_KEY"]
    kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/litellm",
        [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": kept}],
        content_type="application/json-patch+json",
    )


def refusal(run: PlayRun) -> dict[str, Any]:
    assert run.failed
    [failed] = [e["event_data"]["res"] for e in run.events if e.get("event") == "runner_on_failed"]
    assert failed["failure_kind"] == "permanent"
    return failed


def test_a_new_instance_has_a_salt_key_of_its_own(sandbox_aws: Sandbox, ns: str) -> None:
    salt = secret_data(sandbox_aws.kube(), ns, SALT)["LITELLM_SALT_KEY"]
    assert len(salt) >= 32
    assert salt != secret_data(sandbox_aws.kube(), ns, "litellm-secret")["LITELLM_MASTER_KEY"]
    [entry] = [e for e in litellm_env(sandbox_aws, ns) if e["name"] == "LITELLM_SALT_KEY"]
    assert entry["valueFrom"]["secretKeyRef"] == {"name": SALT, "key": "LITELLM_SALT_KEY"}


def test_an_instance_from_before_the_salt_key_gets_its_master_key_as_salt(
    sandbox_aws: Sandbox, ns: str, module_workdir: Path
) -> None:
    as_before_the_salt_key(sandbox_aws, ns)
    master = secret_data(sandbox_aws.kube(), ns, "litellm-secret")["LITELLM_MASTER_KEY"]
    assert_ok(deploy(sandbox_aws, module_workdir, ocp4_workload_litemaas_namespace=ns))
    assert secret_data(sandbox_aws.kube(), ns, SALT) == {"LITELLM_SALT_KEY": master}
    assert "LITELLM_SALT_KEY" in [e["name"] for e in litellm_env(sandbox_aws, ns)]


def test_a_salt_key_in_use_that_is_gone_is_not_made_up_again(
    sandbox_aws: Sandbox, ns: str, module_workdir: Path
) -> None:
    kube = sandbox_aws.kube()
    kube.delete(f"/api/v1/namespaces/{ns}/secrets/{SALT}")
    # the deploy's own step (secrets.yml), so a deploy refuses the same way
    run = run_playbook(
        sandbox_aws, "repair_litemaas.yml", {"ocp4_workload_litemaas_namespace": ns}, module_workdir
    )
    assert "Secret litellm-salt-key" in refusal(run)["msg"]
    assert run.changed == 0
    assert secret_data(kube, ns, SALT) == {}


def test_a_repair_without_the_data_volume_refuses_and_changes_nothing(
    sandbox_aws: Sandbox, ns: str, module_workdir: Path
) -> None:
    kube = sandbox_aws.kube()
    claim = f"/api/v1/namespaces/{ns}/persistentvolumeclaims/postgres-storage-postgres-0"
    assert kube.get(claim) is not None
    # the claim goes; the StatefulSet (and its pod) would otherwise hold it back (protection)
    kube.patch(claim, {"metadata": {"finalizers": None}})
    kube.delete(claim)
    before = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    run = run_playbook(
        sandbox_aws, "repair_litemaas.yml", {"ocp4_workload_litemaas_namespace": ns}, module_workdir
    )
    message = refusal(run)["msg"]
    assert "PersistentVolumeClaim postgres-storage-postgres-0" in message, message
    assert "nothing was changed" in message
    assert run.changed == 0
    after = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    assert after == before
