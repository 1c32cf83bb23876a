"""Ownership: the controller acts only on instances it provisioned, in namespaces it may take.

The service runs in-process on a real port; where the cluster matters it reads the sandbox (the
namespace an order names, the Secret credentials come from), and the rhpds case runs the real
playbooks, so an accepted destroy would really delete.
"""

from __future__ import annotations

import base64

import pytest

from kubeobjects import make_namespace
from litemaas_controller.config.paths import default_playbook_dir
from sandbox import Sandbox

from .credentials import BEARER
from .orderkit import accepted, managed, order, submitted
from .servicekit import ServiceFactory, problem

pytestmark = pytest.mark.integration


async def test_orders_for_an_instance_never_provisioned_are_refused(
    make_service: ServiceFactory,
) -> None:
    service = await make_service("quick")
    before = service.ledger()
    for action in ("destroy", "update"):
        body = await problem(await service.post_order(order(f"o-{action}", action, "ghost")), 409)
        assert "never provisioned by this controller" in body["detail"]
    assert service.ledger() == before
    assert service.evidence.lines() == []


async def test_an_explicit_namespace_must_be_new_or_made_for_the_instance(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox, namespace_name: str
) -> None:
    service = await make_service("quick", kubeconfig=str(sandbox_vanilla.kubeconfig))
    theirs = make_namespace(sandbox_vanilla.kube(), f"{namespace_name}-theirs", {"team": "x"})
    other = make_namespace(sandbox_vanilla.kube(), f"{namespace_name}-other", managed("other"))
    before = service.ledger()
    for taken in (theirs, other):
        refused = await service.post_order(order("p1", "provision", namespace=taken))
        assert "not managed by this controller" in (await problem(refused, 409))["detail"]
    assert service.ledger() == before
    # not there yet: the deploy creates it (one made for the instance: see the credentials test)
    fresh = f"{namespace_name}-new"
    record = await submitted(service, order("p1", "provision", namespace=fresh))
    assert record["namespace"] == fresh
    # one instance per namespace, and an instance keeps its namespace
    held = await service.post_order(order("p2", "provision", "second", namespace=fresh))
    assert "already holds instance demo" in (await problem(held, 409))["detail"]
    moved = await service.post_order(order("u1", "update", namespace=theirs))
    assert "lives in namespace" in (await problem(moved, 409))["detail"]


async def test_destroy_of_an_unknown_instance_in_rhpds_is_refused_and_rhpds_is_untouched(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox
) -> None:
    kube = sandbox_vanilla.kube()
    # as rhpds.litemaas 0.1.2 labels its namespace: the role's adoption would delete it
    make_namespace(sandbox_vanilla.kube(), "rhpds", {"app": "litemaas", "workload": "litemaas"})
    configmaps = "/api/v1/namespaces/rhpds/configmaps"
    kube.create(configmaps, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "precious"}, "data": {"k": "v"}})  # fmt: skip
    try:
        seen = (kube.get("/api/v1/namespaces/rhpds"), kube.list(configmaps)["items"])
        service = await make_service(
            "quick", playbook_dir=default_playbook_dir(), kubeconfig=str(sandbox_vanilla.kubeconfig)
        )
        body = await problem(
            await service.post_order(order("d1", "destroy", "ghost", namespace="rhpds")), 409
        )
        assert "never provisioned" in body["detail"]
        assert service.ledger()["orders"] == [] and service.ledger()["runs"] == []
        assert (kube.get("/api/v1/namespaces/rhpds"), kube.list(configmaps)["items"]) == seen
    finally:
        kube.delete("/api/v1/namespaces/rhpds")


async def test_a_destroyed_instance_serves_no_credentials_and_a_second_destroy_runs_nothing(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox, namespace_name: str
) -> None:
    service = await make_service("quick", kubeconfig=str(sandbox_vanilla.kubeconfig))
    ns = make_namespace(sandbox_vanilla.kube(), namespace_name, managed("demo"))
    data = {"UI_USERNAME": "admin", "UI_PASSWORD": "pw-of-whoever-lives-here"}
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "litellm-secret"},
              "data": encoded}  # fmt: skip
    sandbox_vanilla.kube().create(f"/api/v1/namespaces/{ns}/secrets", secret)
    path = "/api/v1/instances/demo/credentials"
    await accepted(service, order("p1", "provision", namespace=ns))  # made for it: accepted
    assert (await service.get(path))["password"] == data["UI_PASSWORD"]  # while it lives
    assert (await accepted(service, order("d1", "destroy")))["status"] == "succeeded"
    # the fixture's destroy leaves the namespace and its Secret, as if another instance took it
    response = await service.client.get(path, headers=BEARER)
    body = await problem(response, 409)
    assert "destroyed" in body["detail"] and data["UI_PASSWORD"] not in await response.text()

    runs_before = len(service.ledger()["runs"])
    response = await service.post_order(order("d2", "destroy"))
    assert response.status == 202, await response.text()
    record = await response.json()
    assert record["status"] == "succeeded" and "already destroyed" in record["message"]
    assert (await service.get("/api/v1/orders/d2"))["runs"] == []
    assert len(service.ledger()["runs"]) == runs_before
    # an update of it is refused: a provision must create it again
    body = await problem(await service.post_order(order("u1", "update")), 409)
    assert "was destroyed" in body["detail"]
