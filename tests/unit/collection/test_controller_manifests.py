"""deploy/controller/: complete for `oc apply -k`, restricted, and RBAC in step with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from litemaas_controller.api.health import routes
from litemaas_controller.cluster.kinds import cluster_wide
from litemaas_controller.config.settings import Settings

pytestmark = pytest.mark.unit

MANIFESTS = Path(__file__).resolve().parents[3] / "deploy" / "controller"
#: the kinds cluster/kinds.py lists and watches across namespaces -> (API group, resource)
WATCHED = {
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "Pod": ("", "pods"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Service": ("", "services"),
    "Route": ("route.openshift.io", "routes"),
    "Ingress": ("networking.k8s.io", "ingresses"),
}


def objects() -> dict[tuple[str, str], dict[str, Any]]:
    names = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    docs = [d for n in names for d in yaml.safe_load_all((MANIFESTS / n).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        if "resourceNames" not in rule
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_pod_is_restricted_and_probed_where_the_service_answers() -> None:
    deployment = objects()[("Deployment", "litemaas-controller")]
    # one pod on the ReadWriteOnce volume: a rollout stops the old pod before it starts the new
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    served = {r.path for r in routes if hasattr(r, "path")}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in served
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in served
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True and context["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/var/lib/litemaas-controller", "/tmp"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_the_kubelet_waits_for_the_drain_and_the_replica_is_the_pod() -> None:
    pod = objects()[("Deployment", "litemaas-controller")]["spec"]["template"]["spec"]
    defaults = Settings.__dataclass_fields__
    drain, kill = defaults["drain_grace"].default, defaults["kill_grace"].default
    assert isinstance(drain, float) and isinstance(kill, float)
    # SIGKILL only after the drain and the ending of what it left
    assert pod["terminationGracePeriodSeconds"] > drain + kill
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LITEMAAS_REPLICA"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_no_secret_is_readable_cluster_wide_and_the_watch_is_covered() -> None:
    found = objects()
    cluster = granted(found[("ClusterRole", "litemaas-controller")])
    assert not {g for g in cluster if g[1] == "secrets"}
    watched = {
        k for openshift in (True, False) for k in cluster_wide(client.ApiClient(), "", openshift)
    }
    assert watched == WATCHED.keys()  # a kind the watch gains needs its rule here too
    for group, resource in WATCHED.values():
        assert {(group, resource, "list"), (group, resource, "watch")} <= cluster, resource
    cluster_bound = {
        b["roleRef"]["name"] for (kind, _), b in found.items() if kind == "ClusterRoleBinding"
    }
    assert cluster_bound == {"litemaas-controller"}  # the instance role is bound per namespace
    bind = [
        r for r in found[("ClusterRole", "litemaas-controller")]["rules"] if "bind" in r["verbs"]
    ]
    assert bind == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": ["litemaas-controller-instance"],
        }
    ]
