"""Reading an instance's admin credentials from its Secret, on demand; never stored anywhere."""

from __future__ import annotations

import asyncio
import base64

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.client import REQUEST_TIMEOUT
from litemaas_controller.errors import ClusterError, NotFoundError


class SecretReader:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def _read(self, namespace: str, name: str) -> dict[str, str]:
        try:
            secret = self._kube.core().read_namespaced_secret(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                raise NotFoundError(
                    f"Secret {namespace}/{name} does not exist (yet); is the instance deployed?"
                ) from exc
            raise ClusterError(f"the cluster refused to read Secret {namespace}/{name}: "
                               f"{exc.status} {exc.reason}") from exc  # fmt: skip
        except HTTPError as exc:
            raise ClusterError(f"the cluster is unreachable: {exc}") from exc
        data = secret.data or {}
        return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}

    async def read(self, namespace: str, name: str) -> dict[str, str]:
        return await asyncio.to_thread(self._read, namespace, name)
