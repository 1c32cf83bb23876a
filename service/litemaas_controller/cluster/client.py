"""One lazily built Kubernetes API client for the service's own reads (runs have their own).

The kubernetes client is synchronous: callers run its calls in a thread.  The client is built on
first use from ``KUBECONFIG`` (the setting) or the in-cluster service account.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from litemaas_controller.errors import ClusterError

#: seconds a read may take before the cluster counts as unreachable
REQUEST_TIMEOUT = 10.0

T = TypeVar("T")


class KubeClient:
    def __init__(self, kubeconfig: str | None) -> None:
        self._kubeconfig = kubeconfig
        self._api: Any = None
        self._lock = threading.Lock()

    def core(self) -> Any:
        """The CoreV1Api; ``ClusterError`` when there is no cluster configuration."""
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

    def read(self, what: str, call: Callable[[Any], T]) -> T | None:
        """``call(core)``: None when the object does not exist, ``ClusterError`` when the cluster
        refuses (RBAC...) or does not answer."""
        try:
            return call(self.core())
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClusterError(
                f"the cluster refused to read {what}: {exc.status} {exc.reason}"
            ) from exc
        except HTTPError as exc:
            raise ClusterError(f"the cluster is unreachable: {exc}") from exc
