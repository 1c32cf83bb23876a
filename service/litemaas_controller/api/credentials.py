"""Reading an instance's admin credentials from its Secret, on demand; never stored anywhere."""

from __future__ import annotations

import asyncio
import base64

from litemaas_controller.cluster import KubeClient
from litemaas_controller.cluster.client import REQUEST_TIMEOUT
from litemaas_controller.errors import NotFoundError


class SecretReader:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def _read(self, namespace: str, name: str) -> dict[str, str]:
        secret = self._kube.read(
            f"Secret {namespace}/{name}",
            lambda core: core.read_namespaced_secret(
                name, namespace, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        if secret is None:
            raise NotFoundError(
                f"Secret {namespace}/{name} does not exist (yet); is the instance deployed?"
            )
        data = secret.data or {}
        return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}

    async def read(self, namespace: str, name: str) -> dict[str, str]:
        return await asyncio.to_thread(self._read, namespace, name)
