"""The three profiles answer like the clusters they stand for."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from sandbox.agent.kube import KubeError
from waiting import wait_until

pytestmark = pytest.mark.integration

DEFAULT = "storageclass.kubernetes.io/is-default-class"


def classes(box: Sandbox) -> dict[str, bool]:
    items = box.kube().list("/apis/storage.k8s.io/v1/storageclasses")["items"]
    return {
        sc["metadata"]["name"]: (sc["metadata"].get("annotations") or {}).get(DEFAULT) == "true"
        for sc in items
    }


def platform(box: Sandbox) -> str:
    infra = box.kube().get("/apis/config.openshift.io/v1/infrastructures/cluster")
    return str(infra["status"]["platformStatus"]["type"])


def domain(box: Sandbox) -> str:
    return str(box.kube().get("/apis/config.openshift.io/v1/ingresses/cluster")["spec"]["domain"])


def test_aws_profile(sandbox_aws: Sandbox) -> None:
    assert platform(sandbox_aws) == "AWS"
    assert domain(sandbox_aws) == "apps.aws.sandbox.test"
    assert classes(sandbox_aws) == {"gp3-csi": True, "gp2-csi": False}


def test_cnv_profile(sandbox_cnv: Sandbox) -> None:
    assert platform(sandbox_cnv) == "BareMetal"
    assert domain(sandbox_cnv) == "apps.cnv.sandbox.test"
    assert classes(sandbox_cnv) == {
        "ocs-external-storagecluster-ceph-rbd": True,
        "hostpath-csi": False,
    }


def test_vanilla_profile_has_no_openshift_apis(
    sandbox_vanilla: Sandbox, namespace_name: str
) -> None:
    kube = sandbox_vanilla.kube()
    groups = {g["name"] for g in kube.get("/apis")["groups"]}
    assert "route.openshift.io" not in groups and "config.openshift.io" not in groups
    with pytest.raises(KubeError) as missing:
        kube.list("/apis/route.openshift.io/v1/routes")
    assert missing.value.status == 404
    assert classes(sandbox_vanilla) == {"standard": True}
    ingress_classes = kube.list("/apis/networking.k8s.io/v1/ingressclasses")["items"]
    assert [c["metadata"]["name"] for c in ingress_classes] == ["nginx"]
    info = kube.get("/api/v1/namespaces/kube-public/configmaps/sandbox-info")
    assert info["data"]["domain"] == sandbox_vanilla.domain == "apps.vanilla.sandbox.test"
    # An Ingress is admitted by the sandbox's ingress controller.
    kube.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name}},
    )
    kube.create(
        f"/apis/networking.k8s.io/v1/namespaces/{namespace_name}/ingresses",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web"},
            "spec": {
                "rules": [
                    {
                        "host": f"web.{sandbox_vanilla.domain}",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    lb = wait_until(
        lambda: (
            kube.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace_name}/ingresses/web")
            .get("status", {})
            .get("loadBalancer", {})
            .get("ingress")
        ),
        what="Ingress load balancer status",
    )
    assert lb == [{"ip": "127.0.0.1"}]
    # Its default class is filled in on creation, as the admission plugin does.
    got = kube.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace_name}/ingresses/web")
    assert got["spec"]["ingressClassName"] == "nginx"
