"""Reading a namespace's labels: does it exist, and who manages it."""

from __future__ import annotations

import asyncio

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster.client import REQUEST_TIMEOUT, KubeClient
from litemaas_controller.errors import ClusterError


class NamespaceReader:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def _labels(self, name: str) -> dict[str, str] | None:
        try:
            found = self._kube.core().read_namespace(name, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClusterError(f"the cluster refused to read namespace {name}: "
                               f"{exc.status} {exc.reason}") from exc  # fmt: skip
        except HTTPError as exc:
            raise ClusterError(f"the cluster is unreachable: {exc}") from exc
        return dict(found.metadata.labels or {})

    async def labels(self, name: str) -> dict[str, str] | None:
        """The namespace's labels, or None when it does not exist."""
        return await asyncio.to_thread(self._labels, name)
