"""Routes get hosts as OpenShift gives them; RBAC is enforced; the audit log counts requests."""

from __future__ import annotations

import base64

import pytest

from kubeobjects import make_namespace
from sandbox import Sandbox
from sandbox.agent.kube import Kube, KubeError
from waiting import wait_until

pytestmark = pytest.mark.integration


def route(name: str, host: str | None = None) -> dict:
    spec: dict = {"to": {"kind": "Service", "name": name}, "tls": {"termination": "edge"}}
    if host:
        spec["host"] = host
    return {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": name},
        "spec": spec,
    }


def admitted(kube: Kube, ns: str, name: str) -> dict | None:
    r = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/{name}") or {}
    ingress = (r.get("status") or {}).get("ingress") or []
    return ingress[0]["conditions"][0] if ingress else None


def test_route_gets_the_platform_default_host(sandbox_aws: Sandbox, namespace_name: str) -> None:
    kube = sandbox_aws.kube()
    ns = make_namespace(kube, namespace_name)
    kube.create(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes", route("litellm"))
    cond = wait_until(lambda: admitted(kube, ns, "litellm"), what="Route admitted")
    assert cond["status"] == "True"
    r = kube.get(f"/apis/route.openshift.io/v1/namespaces/{ns}/routes/litellm")
    assert r["spec"]["host"] == f"litellm-{ns}.apps.aws.sandbox.test"
    assert r["status"]["ingress"][0]["host"] == r["spec"]["host"]


def test_second_route_for_a_claimed_host_is_rejected(
    sandbox_aws: Sandbox, namespace_name: str
) -> None:
    kube = sandbox_aws.kube()
    first = make_namespace(kube, namespace_name)
    second = make_namespace(kube, namespace_name + "-b")
    host = f"shared-{namespace_name}.apps.aws.sandbox.test"
    kube.create(f"/apis/route.openshift.io/v1/namespaces/{first}/routes", route("a", host))
    wait_until(lambda: admitted(kube, first, "a"), what="first Route admitted")
    kube.create(f"/apis/route.openshift.io/v1/namespaces/{second}/routes", route("b", host))
    cond = wait_until(lambda: admitted(kube, second, "b"), what="second Route judged")
    assert (cond["status"], cond["reason"]) == ("False", "HostAlreadyClaimed")
    assert admitted(kube, first, "a")["status"] == "True"


def test_namespaced_role_gets_403_outside_its_namespace(
    sandbox_aws: Sandbox, namespace_name: str
) -> None:
    kube = sandbox_aws.kube()
    home = make_namespace(kube, namespace_name)
    other = make_namespace(kube, namespace_name + "-x")
    kube.create(
        f"/api/v1/namespaces/{home}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant"}},
    )
    kube.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{home}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "pod-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    )
    kube.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{home}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "tenant-reads-pods"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": home}],
        },
    )
    # The token controller of kube-controller-manager issues the service account's token.
    secret = wait_until(
        lambda: next(
            (
                s
                for s in kube.list(f"/api/v1/namespaces/{home}/secrets")["items"]
                if s["type"] == "kubernetes.io/service-account-token"
                and s["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "tenant"
                and s.get("data", {}).get("token")
            ),
            None,
        ),
        what="service account token",
    )
    tenant = sandbox_aws.kube()
    tenant.headers["Authorization"] = "Bearer " + base64.b64decode(secret["data"]["token"]).decode()
    assert tenant.list(f"/api/v1/namespaces/{home}/pods")["kind"] == "PodList"
    with pytest.raises(KubeError) as denied:
        tenant.list(f"/api/v1/namespaces/{other}/pods")
    assert denied.value.status == 403
    with pytest.raises(KubeError) as denied_secrets:
        tenant.list(f"/api/v1/namespaces/{home}/secrets")
    assert denied_secrets.value.status == 403


def test_audit_log_records_each_request_by_user(sandbox_aws: Sandbox, namespace_name: str) -> None:
    kube = sandbox_aws.kube()
    before = len(sandbox_aws.audit_events(user="admin"))
    ns = make_namespace(kube, namespace_name)
    for _ in range(3):
        kube.get(f"/api/v1/namespaces/{ns}")
    events = wait_until(
        lambda: [
            e
            for e in sandbox_aws.audit_events(user="admin")[before:]
            if e.get("objectRef", {}).get("name") == ns
        ],
        what="audit events",
    )
    verbs = [e["verb"] for e in events]
    assert verbs.count("get") == 3 and verbs.count("create") == 1
    assert all(e["level"] == "Metadata" for e in events)  # never request bodies: no secrets
