"""Reading a namespace's labels: does it exist, and who manages it."""

from __future__ import annotations

import asyncio

from litemaas_controller.cluster.client import REQUEST_TIMEOUT, KubeClient


class NamespaceReader:
    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    def _labels(self, name: str) -> dict[str, str] | None:
        found = self._kube.read(
            f"namespace {name}",
            lambda core: core.read_namespace(name, _request_timeout=REQUEST_TIMEOUT),
        )
        return None if found is None else dict(found.metadata.labels or {})

    async def labels(self, name: str) -> dict[str, str] | None:
        """The namespace's labels, or None when it does not exist."""
        return await asyncio.to_thread(self._labels, name)
