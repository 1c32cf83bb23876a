"""Small builders and queries for Kubernetes objects used across tests."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.agent.kube import Kube
from waiting import wait_until


def make_namespace(kube: Kube, name: str, labels: dict[str, str] | None = None) -> str:
    """A namespace (with ``labels``), returned once kube-controller-manager has published its
    kube-root-ca.crt ConfigMap into it: a test that compares the namespace's contents before and
    after must not see that ConfigMap arrive in between."""
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    wait_until(lambda: kube.get(f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt"),
               what=f"kube-root-ca.crt in {name}")  # fmt: skip
    return name


def deployment(name: str, replicas: int = 1, **pod_spec: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": "main", "image": "registry.example/app:1"}], **pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def claim(name: str, size: str = "1Gi", storage_class: str | None = None) -> dict[str, Any]:
    """A ReadWriteOnce PersistentVolumeClaim (the cluster's default class unless named)."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    }


def pods_of(kube: Kube, namespace: str, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.list(
        f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3D{app}"
    )["items"]
    return items


def secret_data(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    """A Secret's decoded data, or {} when it does not exist."""
    obj = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    if obj is None:
        return {}
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


def has_ready_endpoints(kube: Kube, namespace: str, service: str) -> bool:
    """Whether Service `service` has at least one ready address."""
    endpoints = kube.get(f"/api/v1/namespaces/{namespace}/endpoints/{service}") or {}
    return any(s.get("addresses") for s in endpoints.get("subsets") or [])
