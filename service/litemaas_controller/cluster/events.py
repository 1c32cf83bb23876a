"""Warning Events (core/v1) in an instance's namespace, where ``kubectl get events`` shows them."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster.client import REQUEST_TIMEOUT, KubeClient
from litemaas_controller.errors import ClusterError

log = logging.getLogger(__name__)

#: the ``source.component`` and ``reportingComponent`` of every Event the controller writes
COMPONENT = "litemaas-controller"
#: what the Events are about: LiteLLM's Deployment, so ``kubectl describe`` shows them there too
INVOLVED = {"api_version": "apps/v1", "kind": "Deployment", "name": "litellm"}


class EventWriter:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def _create(self, namespace: str, instance: str, reason: str, message: str) -> None:
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(
                generate_name=f"{instance}.",
                namespace=namespace,
                labels={"litemaas.rhpds.io/instance": instance},
            ),
            involved_object=client.V1ObjectReference(namespace=namespace, **INVOLVED),
            type="Warning",
            reason=reason,
            message=message[:1024],
            source=client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        self._kube.core().create_namespaced_event(
            namespace, event, _request_timeout=REQUEST_TIMEOUT
        )

    async def warning(self, namespace: str, instance: str, reason: str, message: str) -> bool:
        """Write a Warning Event; False (logged) when the cluster refuses or does not answer:
        the Event is a notice, what it says is also in the instance's health."""
        try:
            await asyncio.to_thread(self._create, namespace, instance, reason, message)
        except (ApiException, HTTPError, ClusterError) as exc:
            log.warning("no %s Event for instance %s in %s: %s", reason, instance, namespace, exc)
            return False
        return True
