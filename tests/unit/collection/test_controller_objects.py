"""The filter that adapts deploy/controller/ to a cluster (plugins/filter/controller.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

import filterplugins

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "deploy" / "controller"


F = filterplugins.load("controller")


def documents() -> list[dict[str, Any]]:
    names = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    names += ["optional/ingress.yaml", "optional/servicemonitor.yaml", "optional/pdb.yaml"]
    names += ["optional/postgresql.yaml"]
    return [d for n in names for d in yaml.safe_load_all((MANIFESTS / n).read_text()) if d]


def options(**changes: Any) -> dict[str, Any]:
    return {
        "namespace": "ctl",
        "image": "registry.example/ctl:1",
        "settings": {"LITEMAAS_HEALING": "observe", "LITEMAAS_MAX_CONCURRENT_RUNS": 2},
        "storage_size": "2Gi",
        "storage_class": "",
        "exposure": "route",
        "host": "",
        "ingress_class": "",
        "pdb_api_version": "policy/v1beta1",
        "service_monitor": False,
        "secret_data": {"LITEMAAS_API_TOKEN": "eA=="},
        **changes,
    }


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def test_openshift_gets_a_route_and_everything_lands_in_the_namespace() -> None:
    objects = F.controller_objects(documents(), options())
    kinds = by_kind(objects)
    assert "Route" in kinds and "Ingress" not in kinds and "ServiceMonitor" not in kinds
    assert kinds["Namespace"]["metadata"]["name"] == "ctl"
    assert {o["metadata"].get("namespace", "ctl") for o in objects} == {"ctl"}
    subjects = [s for o in objects for s in o.get("subjects", [])]
    assert subjects and {s["namespace"] for s in subjects} == {"ctl"}
    assert "PodDisruptionBudget" not in kinds and "StatefulSet" not in kinds  # one replica, SQLite
    assert kinds["ConfigMap"]["data"]["LITEMAAS_MAX_CONCURRENT_RUNS"] == "2"
    pod = kinds["Deployment"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == "registry.example/ctl:1"
    assert kinds["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "storageClassName" not in kinds["PersistentVolumeClaim"]["spec"]


def test_the_pod_rolls_only_when_its_settings_or_secret_change() -> None:
    def checksums(**changes: Any) -> dict[str, str]:
        objects = by_kind(F.controller_objects(documents(), options(**changes)))
        return objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]

    same = checksums()
    assert checksums() == same
    assert checksums(image="other:2") == same
    assert checksums(settings={"LITEMAAS_HEALING": "off"}) != same
    assert checksums(secret_data={"LITEMAAS_API_TOKEN": "eQ=="}) != same


def test_plain_kubernetes_gets_an_ingress_with_a_host_and_optional_monitoring() -> None:
    wanted = options(
        exposure="ingress",
        host="ctl.apps.test",
        ingress_class="nginx",
        service_monitor=True,
        pdb_api_version="policy/v1",
        network_from=["ingress-nginx"],
        ledger={
            "kind": "postgresql",
            "replicas": 2,
            "url": "postgresql://u@db/l",
            "password_secret": "db",
            "password_key": "password",
        },
    )
    objects = by_kind(F.controller_objects(documents(), wanted))
    assert "Route" not in objects and "ServiceMonitor" in objects
    spec = objects["Ingress"]["spec"]
    assert spec["rules"][0]["host"] == "ctl.apps.test" and spec["tls"][0]["hosts"] == [
        "ctl.apps.test"
    ]
    assert spec["ingressClassName"] == "nginx"
    assert objects["PodDisruptionBudget"]["apiVersion"] == "policy/v1"
    peers = objects["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    } in peers
    with pytest.raises(AnsibleFilterError, match="needs a host"):
        F.controller_objects(documents(), options(exposure="ingress"))


def test_the_pod_gets_an_fs_group_only_where_given_as_the_plain_kubernetes_patch_sets_it() -> None:
    def pod_context(**changes: Any) -> dict[str, Any]:
        objects = by_kind(F.controller_objects(documents(), options(**changes)))
        return dict(objects["Deployment"]["spec"]["template"]["spec"]["securityContext"])

    assert "fsGroup" not in pod_context()  # OpenShift: its SCC gives one
    patch = yaml.safe_load((MANIFESTS / "optional" / "fsgroup.yaml").read_text())
    defaults = yaml.safe_load((REPO / "roles/litemaas_controller/defaults/main.yml").read_text())
    given = defaults["litemaas_controller_fs_group"]
    assert given == patch["spec"]["template"]["spec"]["securityContext"]["fsGroup"]
    assert pod_context(fs_group=str(given)) == {**pod_context(), "fsGroup": given}


def test_the_manifests_are_not_changed_in_place() -> None:
    docs = documents()
    before = yaml.safe_dump_all(docs)
    F.controller_objects(docs, options(exposure="ingress", host="h"))
    assert yaml.safe_dump_all(docs) == before
