"""Orders through the real ansible-rulebook and rhpds.litemaas.order_webhook, on the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.service.redisproc import RedisServer
from litemaas_controller.intake.auth import signed_headers
from sandbox import Sandbox
from waiting import wait_until

from .rulebook import BIN, REPO, SECRET, Rulebook

pytestmark = pytest.mark.integration

TAKE_ORDER = "Take the order's variables from the event, as data"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def rulebook(
    sandbox_aws: Sandbox, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rulebook]:
    """rulebooks/litemaas.yml from the checkout (the collection path links to it)."""
    book = Rulebook(
        tmp_path_factory.mktemp("rulebook"),
        REPO / ".venv" / "collections",
        str(REPO / "rulebooks" / "litemaas.yml"),
        REPO / "rulebooks" / "inventory.yml",
        sandbox_aws.env(),
        redis_url,
    )
    try:
        yield book.start()
    finally:
        book.stop()


def _instance() -> str:
    return f"eda-{uuid.uuid4().hex[:8]}"


def _order(instance: str, **extra: object) -> dict[str, object]:
    vars_ = {"ocp4_workload_litemaas_wait_timeout": 180}
    return {"id": f"{instance}-1", "action": "provision", "instance": instance, "vars": vars_,
            **extra}  # fmt: skip


def test_refused_orders_run_nothing_and_a_signed_order_deploys(
    rulebook: Rulebook, sandbox_aws: Sandbox
) -> None:
    kube = sandbox_aws.kube()
    forged, templated, good = _instance(), _instance(), _instance()

    body = json.dumps(_order(forged)).encode()
    status, problem = rulebook.post_raw(body, signed_headers("not-the-secret", body, time.time()))
    assert status == 401 and "does not match" in problem["detail"]

    order = _order(templated)
    order["vars"] = {"ocp4_workload_litemaas_litellm_tag": "{{ lookup('pipe', 'id -un') }}"}
    status, problem = rulebook.post(order)
    assert status == 422 and "never templates" in problem["detail"]

    body = json.dumps(_order(good)).encode()
    headers = signed_headers(SECRET, body, time.time())
    status, accepted = rulebook.post_raw(body, headers)
    assert status == 202 and accepted["namespace"] == f"litemaas-{good}"
    # the same signed request again, inside its timestamp window: a replay runs nothing
    assert rulebook.post_raw(body, headers) == (200, {"id": f"{good}-1", "status": "duplicate"})

    ns = f"litemaas-{good}"

    def deployed() -> bool:
        dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
        return bool(dep) and dep["status"].get("availableReplicas") == 1

    wait_until(deployed, 180, f"the litellm Deployment of {ns} available")
    wait_until(lambda: "PLAY RECAP" in rulebook.output(), 60, "the deploy's end")
    recap = rulebook.output().split("PLAY RECAP", 1)[1]
    assert "failed=0" in recap.splitlines()[1]
    assert rulebook.runs(TAKE_ORDER) == 1  # the accepted order only, once
    for refused in (forged, templated):
        assert kube.get(f"/api/v1/namespaces/litemaas-{refused}") is None
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/litellm")
    assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "litemaas-controller"
    assert SECRET not in rulebook.output()  # the webhook secret never reaches the output


def test_the_built_tarball_runs_the_rulebook_by_its_collection_name(
    sandbox_aws: Sandbox, redis_url: str, collection_tarball: Path, tmp_path: Path
) -> None:
    installed = tmp_path / "installed"
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", str(collection_tarball),
         "-p", str(installed), "--no-deps", "--force"],
        check=True,
        capture_output=True,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed)},
    )  # fmt: skip
    core = REPO / ".venv" / "collections" / "ansible_collections" / "kubernetes" / "core"
    (installed / "ansible_collections" / "kubernetes").mkdir()
    (installed / "ansible_collections" / "kubernetes" / "core").symlink_to(core.resolve())
    shipped = installed / "ansible_collections" / "rhpds" / "litemaas"
    assert (shipped / "extensions/eda/rulebooks/litemaas.yml").read_text() == (
        REPO / "rulebooks" / "litemaas.yml"
    ).read_text()
    book = Rulebook(
        tmp_path / "run",
        installed,
        "rhpds.litemaas.litemaas",
        shipped / "rulebooks" / "inventory.yml",
        sandbox_aws.env(),
        redis_url,
        consumer="eda-tarball",
    )
    try:
        book.start()
        instance = _instance()  # never deployed: the removal finds nothing and succeeds
        status, _ = book.post({"id": f"{instance}-rm", "action": "destroy", "instance": instance})
        assert status == 202
        wait_until(lambda: "PLAY RECAP" in book.output(), 120, "the removal's end")
    finally:
        book.stop()
    out = book.output()
    assert "PLAY [Remove LiteMaaS]" in out
    assert "failed=0" in out.split("PLAY RECAP", 1)[1].splitlines()[1]
