"""Small builders and queries for Kubernetes objects used across tests."""

from __future__ import annotations

from typing import Any

from sandbox.agent.kube import Kube


def make_namespace(kube: Kube, name: str) -> str:
    kube.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
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


def pods_of(kube: Kube, namespace: str, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.list(
        f"/api/v1/namespaces/{namespace}/pods?labelSelector=app%3D{app}"
    )["items"]
    return items
