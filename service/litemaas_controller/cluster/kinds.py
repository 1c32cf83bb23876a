"""The kinds the cluster watch follows, as list calls of the ``kubernetes`` client.

Every kind but Secrets is watched across namespaces; Secrets only per namespace (the controller
in a cluster is granted Secret access per instance namespace, never cluster-wide).  Routes when
the API serves ``route.openshift.io``, Ingresses otherwise.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes import client

from litemaas_controller.cluster.client import REQUEST_TIMEOUT
from litemaas_controller.cluster.listwatch import Target

ROUTE_GROUP = "route.openshift.io"


def serves_routes(api_client: Any) -> bool:
    groups = client.ApisApi(api_client).get_api_versions(_request_timeout=REQUEST_TIMEOUT)
    return any(group.name == ROUTE_GROUP for group in groups.groups or [])


def exposure_kind(routes: bool) -> str:
    return "Route" if routes else "Ingress"


def cluster_wide(api_client: Any, selector: str, routes: bool) -> dict[str, Target]:
    """kind -> what to list and watch, in every namespace."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    exposure = (
        partial(client.CustomObjectsApi(api_client).list_cluster_custom_object,
                ROUTE_GROUP, "v1", "routes")
        if routes
        else client.NetworkingV1Api(api_client).list_ingress_for_all_namespaces
    )  # fmt: skip
    calls = {
        "Deployment": apps.list_deployment_for_all_namespaces,
        "StatefulSet": apps.list_stateful_set_for_all_namespaces,
        "Pod": core.list_pod_for_all_namespaces,
        "PersistentVolumeClaim": core.list_persistent_volume_claim_for_all_namespaces,
        "Service": core.list_service_for_all_namespaces,
        exposure_kind(routes): exposure,
    }
    return {kind: Target(kind, call, selector) for kind, call in calls.items()}


def secrets_in(api_client: Any, namespace: str, selector: str) -> Target:
    call = partial(client.CoreV1Api(api_client).list_namespaced_secret, namespace)
    return Target(f"Secret/{namespace}", call, selector)
