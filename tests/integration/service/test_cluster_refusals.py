"""The cluster's refusals that retrying cannot change: a give-up answer (no Retry-After) that
says what to fix; a cluster that did not answer stays a retry."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeobjects import make_namespace
from sandbox import Sandbox
from waiting import wait_until

from .credentials import BEARER
from .orderkit import accepted, managed, order
from .servicekit import ServiceFactory, problem

pytestmark = pytest.mark.integration


def _bind(sandbox: Sandbox, ns: str, name: str, kind: str, rules: list[dict[str, Any]]) -> None:
    """A Role (in ``ns``) or ClusterRole with ``rules``, bound to the SA ``ns/reader``."""
    kube = sandbox.kube()
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    base = f"{rbac}/namespaces/{ns}" if kind == "Role" else rbac
    kube.create(f"{base}/{kind.lower()}s", {"apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": kind, "metadata": {"name": name}, "rules": rules})  # fmt: skip
    kube.create(f"{base}/{kind.lower()}bindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
    })  # fmt: skip


def _reader_kubeconfig(sandbox: Sandbox, ns: str, path: Path) -> Path:
    """A kubeconfig for the service account ``ns/reader``, which may read namespaces only."""
    kube = sandbox.kube()
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}
    kube.create(f"/api/v1/namespaces/{ns}/serviceaccounts", account)
    _bind(sandbox, ns, f"{ns}-namespaces", "ClusterRole",
          [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}])  # fmt: skip
    token = wait_until(
        lambda: next(
            (s["data"]["token"] for s in kube.list(f"/api/v1/namespaces/{ns}/secrets")["items"]
             if s["type"] == "kubernetes.io/service-account-token"
             and s["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "reader"
             and s.get("data", {}).get("token")),
            None,
        ),
        what="the service account's token",
    )  # fmt: skip
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": base64.b64decode(token).decode()}
    path.write_text(yaml.safe_dump(config))
    return path


async def test_an_rbac_refusal_and_a_broken_secret_are_give_ups_that_say_what_to_fix(
    make_service: ServiceFactory, sandbox_vanilla: Sandbox, namespace_name: str, tmp_path: Path
) -> None:
    ns = make_namespace(sandbox_vanilla.kube(), namespace_name, managed("demo"))
    kubeconfig = _reader_kubeconfig(sandbox_vanilla, ns, tmp_path / "reader.kubeconfig")
    service = await make_service("quick", kubeconfig=str(kubeconfig))
    await accepted(service, order("p1", "provision", namespace=ns))
    path = "/api/v1/instances/demo/credentials"

    refused = await service.client.get(path, headers=BEARER)
    body = await problem(refused, 502)
    assert body["type"] == "urn:litemaas:problem:cluster-refused"
    assert "403" in body["detail"] and "give the controller's identity get" in body["detail"]
    assert "Retry-After" not in refused.headers

    _bind(sandbox_vanilla, ns, "secret-reader", "Role",
          [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])  # fmt: skip
    only_user = {"UI_USERNAME": base64.b64encode(b"admin").decode()}
    sandbox_vanilla.kube().create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1",
        "kind": "Secret", "metadata": {"name": "litellm-secret"}, "data": only_user})  # fmt: skip
    broken = await service.client.get(path, headers=BEARER)
    body = await problem(broken, 502)
    assert "lacks ['UI_PASSWORD']" in body["detail"] and "update order" in body["detail"]
    assert "Retry-After" not in broken.headers
