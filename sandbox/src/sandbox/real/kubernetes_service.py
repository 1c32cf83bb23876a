"""The `kubernetes` Service for real pods: the API server reached from inside pods as on a cluster.

kube-apiserver listens on 127.0.0.1 only (nothing on the machine's own networks should reach it).
Real pods reach it the way a cluster's pods do:

- **its endpoint**: the node's address on the pod network (the bridge's) at the API server's
  port, forwarded to the loopback listener. The sandbox writes it into the Endpoints
  `default/kubernetes`, as the API server's endpoint reconciler writes its `--advertise-address`.
- **its ClusterIP**: kube-proxy makes a Service's address answer in every pod. Here each real
  pod's network namespace gets the `kubernetes` Service's ClusterIP on its loopback and a listener
  on the Service's port, forwarded to the API server (kube-proxy's old userspace mode): nothing
  changes in the machine's own network namespace, and sandboxes side by side never collide.
- **its variables**: `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT` and the rest of the
  Docker-link set, which the kubelet gives every container.
- **its names**: `kubernetes.default.svc[.cluster.local]`, `kubernetes.default` (and `kubernetes`
  in `default`) resolve to the ClusterIP, as cluster DNS answers them (`names.py`).

The bytes are forwarded untouched: TLS is between the pod and the API server, whose certificate
carries these names and the ClusterIP (`pki.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..agent.kube import Kube, Obj
from .network import PodNetwork
from .proxy import splice

log = logging.getLogger("sandbox.real")
CLONE_NEWNET = 0x40000000
SERVICE = "/api/v1/namespaces/default/services/kubernetes"
ENDPOINTS = "/api/v1/namespaces/default/endpoints"
KEY = "default/kubernetes"
T = TypeVar("T")


@dataclass(frozen=True)
class ClusterIP:
    address: str
    port: int
    port_name: str

    def env(self) -> dict[str, str]:
        """The variables the kubelet sets in every container for the `kubernetes` Service."""
        link = f"tcp://{self.address}:{self.port}"
        prefix = f"KUBERNETES_PORT_{self.port}_TCP"
        return {
            "KUBERNETES_SERVICE_HOST": self.address,
            "KUBERNETES_SERVICE_PORT": str(self.port),
            f"KUBERNETES_SERVICE_PORT_{self.port_name.upper()}": str(self.port),
            "KUBERNETES_PORT": link,
            prefix: link,
            f"{prefix}_PROTO": "tcp",
            f"{prefix}_PORT": str(self.port),
            f"{prefix}_ADDR": self.address,
        }


def _cluster_ip(service: Obj | None) -> ClusterIP | None:
    spec = (service or {}).get("spec") or {}
    ports = spec.get("ports") or []
    if not spec.get("clusterIP") or not ports:
        return None
    return ClusterIP(spec["clusterIP"], int(ports[0]["port"]), ports[0].get("name") or "https")


def listen_in(netns: Path, address: str, port: int) -> socket.socket:
    """A listening socket inside the network namespace pinned at `netns`: made by a thread of its
    own that enters the namespace (setns acts on the calling thread only) and then ends."""
    made: Future[socket.socket] = Future()

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"setns {netns}: {os.strerror(error)}")
            finally:
                os.close(fd)
            made.set_result(socket.create_server((address, port)))
        except OSError as exc:  # handed to the caller
            made.set_exception(exc)

    thread = threading.Thread(target=make, name=f"listen in {netns.name}", daemon=True)
    thread.start()
    thread.join()
    return made.result()


class KubernetesService:
    """The endpoint on the pod network, and the ClusterIP inside each real pod."""

    def __init__(self, kube: Kube, network: PodNetwork) -> None:
        self.kube, self.network = kube, network
        server = urlsplit(kube.server)
        self.upstream = (server.hostname or "127.0.0.1", server.port or 443)
        self.cluster_ip: ClusterIP | None = None
        self._endpoint: asyncio.Server | None = None
        self._pods: dict[str, asyncio.Server] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubernetes service", daemon=True
        )
        self._thread.start()

    def attach(self, uid: str, netns: Path) -> dict[str, str]:
        """Make the Service answer inside the pod (after its network is up); returns the
        variables its containers get."""
        with self._lock:
            self._ensure_endpoint()
            if self.cluster_ip is None:
                self.cluster_ip = _cluster_ip(self.kube.get(SERVICE))
            cluster_ip = self.cluster_ip
        if cluster_ip is None:
            log.warning("the kubernetes Service has no ClusterIP: pods cannot reach the API")
            return {}
        self.detach(uid)  # what an earlier, interrupted attempt left
        self.network.add_local_address(uid, cluster_ip.address)
        sock = listen_in(netns, cluster_ip.address, cluster_ip.port)
        self._pods[uid] = self._run(asyncio.start_server(self._client, sock=sock))
        return cluster_ip.env()

    def detach(self, uid: str) -> None:
        """Close the pod's listener: it holds the pod's network namespace open."""
        server = self._pods.pop(uid, None)
        if server is not None:
            self._run(self._close(server))

    def names(self) -> dict[str, str]:
        """Services that resolve to their ClusterIP in pods (`namespace/name` -> address)."""
        return {KEY: self.cluster_ip.address} if self.cluster_ip else {}

    def stop(self) -> None:
        for uid in list(self._pods):
            self.detach(uid)
        if self._endpoint is not None:
            self._run(self._close(self._endpoint))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _ensure_endpoint(self) -> None:
        """Listen on the node's pod-network address once the network exists, and say so in the
        Endpoints `default/kubernetes`."""
        if self._endpoint is not None or self.network.subnet is None:
            return
        gateway = str(self.network.subnet.network_address + 1)
        port = self.upstream[1]
        self._endpoint = self._run(asyncio.start_server(self._client, gateway, port))
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "subsets": [
                {
                    "addresses": [{"ip": gateway}],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                }
            ],
        }
        try:
            if self.kube.create(ENDPOINTS, endpoints) is None:
                self.kube.patch(f"{ENDPOINTS}/kubernetes", {"subsets": endpoints["subsets"]})
        except Exception:  # written at the next pod's start
            self._run(self._close(self._endpoint))
            self._endpoint = None
            raise
        log.info("the API server's endpoint on the pod network: %s:%s", gateway, port)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            log.warning("kubernetes Service: cannot reach the API server: %s", exc)
        else:
            await splice(reader, writer, up_reader, up_writer)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    @staticmethod
    async def _close(server: asyncio.Server) -> None:
        server.close()  # the listening sockets close at once; open connections end with the pod
