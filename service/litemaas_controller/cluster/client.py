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

from litemaas_controller.errors import ClusterError, ClusterRefusedError

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
                self._api = client.CoreV1Api(self.new_api_client())
            return self._api

    def new_api_client(self, pool_size: int | None = None) -> Any:
        """A client of its own (the watch holds one connection per stream: ``pool_size``);
        ``ClusterError`` when there is no cluster configuration."""
        configuration = client.Configuration()
        try:
            if self._kubeconfig:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=self._kubeconfig, client_configuration=configuration
                )
            else:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise ClusterError(
                f"no cluster configuration: set KUBECONFIG or run in a cluster ({exc})"
            ) from exc
        if pool_size is not None:
            configuration.connection_pool_maxsize = pool_size
        return client.ApiClient(configuration)

    def read(self, what: str, call: Callable[[Any], T]) -> T | None:
        """``call(core)``: None when the object does not exist, ``ClusterError`` when the cluster
        refuses (RBAC...) or does not answer."""
        try:
            return call(self.core())
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise ClusterRefusedError(
                    f"the cluster refused to read {what}: {exc.status} {exc.reason}; give the "
                    "controller's identity get on it (see the RBAC of the install docs)"
                ) from exc
            raise ClusterError(
                f"the cluster refused to read {what}: {exc.status} {exc.reason}"
            ) from exc
        except HTTPError as exc:
            raise ClusterError(f"the cluster is unreachable: {exc}") from exc
