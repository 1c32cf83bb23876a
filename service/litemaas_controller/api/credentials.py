"""Reading an instance's admin credentials from its Secret, on demand; never stored anywhere.

The kubernetes client is synchronous: calls run in a thread.  The client is built on first use
from ``KUBECONFIG`` (the setting) or the in-cluster service account.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from litemaas_controller.errors import ClusterError, NotFoundError


class SecretReader:
    def __init__(self, kubeconfig: str | None) -> None:
        self._kubeconfig = kubeconfig
        self._api: Any = None
        self._lock = threading.Lock()

    def _core(self) -> Any:
        with self._lock:
            if self._api is None:
                try:
                    if self._kubeconfig:
                        api_client = config.new_client_from_config(config_file=self._kubeconfig)  # type: ignore[no-untyped-call]
                    else:
                        config.load_incluster_config()  # type: ignore[no-untyped-call]
                        api_client = client.ApiClient()
                except (ConfigException, OSError) as exc:
                    raise ClusterError(
                        f"no cluster configuration: set KUBECONFIG or run in a cluster ({exc})"
                    ) from exc
                self._api = client.CoreV1Api(api_client)
            return self._api

    def _read(self, namespace: str, name: str) -> dict[str, str]:
        try:
            secret = self._core().read_namespaced_secret(name, namespace)
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
