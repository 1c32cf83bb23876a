"""The sandbox's node agent: one simulated node that does what a kubelet, a scheduler, a volume
provisioner and a router would do for the workloads this project deploys."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from urllib3.exceptions import HTTPError

from ..real import routing
from ..real.runtime import LABEL, RealRuntime, missing_tools, runnable
from . import kserve
from .informer import Informer, WorkQueue
from .kserve import KServe
from .kube import Kube, KubeError, Obj
from .node import register_node
from .pods import NODE, PodReconciler
from .router import Router
from .runtime import Runtime, SimulatedRuntime
from .volumes import VolumeProvisioner

log = logging.getLogger("sandbox.agent")

OWNER_KINDS = {
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "Deployment": "/apis/apps/v1/deployments",
    "StatefulSet": "/apis/apps/v1/statefulsets",
    "DaemonSet": "/apis/apps/v1/daemonsets",
    "Job": "/apis/batch/v1/jobs",
}


class Agent:
    def __init__(
        self,
        kubeconfig: str,
        state_dir: Path,
        domain: str,
        openshift: bool,
        workers: int = 3,
        extra_runtimes: list[tuple[Callable[[Obj], bool], Runtime]] | None = None,
        real: bool = False,
    ) -> None:
        self.kube = Kube(kubeconfig)
        self.queue = WorkQueue()
        self.workers = workers
        self.threads: list[threading.Thread] = []
        self.informers: dict[str, Informer] = {}
        inf = self._informer
        self.pods = inf("pod", "/api/v1/pods")
        self.owners = {kind: inf(f"owner:{kind}", path) for kind, path in OWNER_KINDS.items()}
        self.claims = inf("pvc", "/api/v1/persistentvolumeclaims")
        self.volumes_inf = inf("pv", "/api/v1/persistentvolumes")
        self.classes = inf("sc", "/apis/storage.k8s.io/v1/storageclasses")
        self.ingresses = inf("ingress", "/apis/networking.k8s.io/v1/ingresses")
        self.routes = inf("route", "/apis/route.openshift.io/v1/routes") if openshift else None
        # For real pods: Service names (from ready endpoints), the per-namespace opt-in label,
        # and the router's view of Services.
        self.endpoints = inf("endpoints", "/api/v1/endpoints")
        self.services = inf("service", "/api/v1/services")
        self.namespaces = inf("namespace", "/api/v1/namespaces")
        # KServe's InferenceServices, served by a stand-in for its controller (kserve.py).
        self.kserve = KServe(
            self.kube, inf("isvc", kserve.PATH).get, lambda key: self.queue.add(f"isvc|{key}")
        )
        self.real_everywhere = real
        missing = missing_tools()
        if real and missing:
            raise RuntimeError(f"real workloads need {', '.join(missing)} on this machine")
        self.real_possible = not missing
        self.real = RealRuntime(
            self.kube,
            state_dir,
            notify=lambda key: self.queue.add(f"pod|{key}"),
            endpoints=self.endpoints.items,
            openshift=openshift,
        )
        self.volumes = VolumeProvisioner(self.kube, self.classes, state_dir / "volumes")
        self.router = Router(self.kube, domain, self.routes)
        runtimes: list[tuple[Callable[[Obj], bool], Runtime]] = [
            *(extra_runtimes or []),
            (self._runs_real, self.real),
            (lambda _pod: True, SimulatedRuntime()),
        ]
        self.pod_reconciler = PodReconciler(
            self.kube,
            runtimes,
            self._lookup,
            self._pods_of,
            self._claim_bound,
            self.volumes.select_node,
            _pod_ip,
        )

    def _informer(self, kind: str, path: str) -> Informer:
        informer = Informer(self.kube, path, lambda key: self.queue.add(f"{kind}|{key}"))
        self.informers[kind] = informer
        return informer

    def _runs_real(self, pod: Obj) -> bool:
        """Real processes for pods of known images, where asked: everywhere, or per namespace."""
        if self.real.manages(pod):
            return True  # a pod keeps its runtime for life
        ns = self.namespaces.get(f"/{pod['metadata']['namespace']}") or {}
        labelled = (ns.get("metadata", {}).get("labels") or {}).get(LABEL) == "true"
        return (self.real_everywhere or labelled) and self.real_possible and runnable(pod)

    def route_target(self, host: str, port: int) -> routing.Target | None:
        """Where the router sends a request for `host`:`port` (a Route's or an Ingress's host, or
        a Service's cluster DNS name)."""

        def cached(informer: Informer) -> Callable[[str, str], Obj | None]:
            return lambda ns, name: informer.get(f"{ns}/{name}")

        return routing.find(
            host,
            port,
            self.routes.items() if self.routes else [],
            self.ingresses.items(),
            cached(self.services),
            cached(self.endpoints),
        )

    def _lookup(self, kind: str, namespace: str, name: str) -> Obj | None:
        informer = self.owners.get(kind)
        return informer.get(f"{namespace}/{name}") if informer else None

    def _pods_of(self, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        result = []
        for pod in self.pods.items():
            chain = [pod]
            for _ in range(3):
                ref = next(
                    (
                        r
                        for r in chain[-1]["metadata"].get("ownerReferences", [])
                        if r.get("controller")
                    ),
                    None,
                )
                if ref is None:
                    break
                if ref["uid"] == uid:
                    result.append(pod)
                    break
                parent = self._lookup(ref["kind"], pod["metadata"]["namespace"], ref["name"])
                if parent is None:
                    break
                chain.append(parent)
        return result

    def _claim_bound(self, namespace: str, name: str) -> bool:
        claim = self.claims.get(f"{namespace}/{name}")
        return bool(claim and claim.get("status", {}).get("phase") == "Bound")

    def start(self) -> None:
        register_node(self.kube, NODE)
        for informer in self.informers.values():
            self._thread(informer.run, f"watch {informer.path}")
        for informer in self.informers.values():
            informer.synced.wait(30)
        for i in range(self.workers):
            self._thread(self._work, f"worker-{i}")

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                self._handle(item)
            except (KubeError, HTTPError, OSError) as exc:
                log.warning("%s: %s; retrying", item, getattr(exc, "reason", exc))
                self.queue.add(item, 1.0)
            except Exception:
                log.exception("%s: unexpected error; retrying", item)
                self.queue.add(item, 2.0)

    def _handle(self, item: str) -> None:
        kind, key = item.split("|", 1)
        if kind == "pod":
            pod = self.pods.get(key)
            removed = self.real.release_removed(key, pod["metadata"]["uid"] if pod else None)
            wake = self.pod_reconciler.reconcile(pod) if pod is not None else None
            pending = [delay for delay in (removed, wake) if delay is not None]
            if pending:
                self.queue.add(item, min(pending))
        elif kind.startswith("owner:"):
            owner = self.owners[kind.split(":", 1)[1]].get(key)
            if owner is not None and kind == "owner:Deployment":
                self.kserve.deployment(owner)
            for pod in self._pods_of(owner) if owner else []:
                self.queue.add(f"pod|{pod['metadata']['namespace']}/{pod['metadata']['name']}")
        elif kind == "pvc" and (claim := self.claims.get(key)):
            self.volumes.reconcile_claim(claim)
        elif kind == "pv" and (volume := self.volumes_inf.get(key)):
            self.volumes.reconcile_volume(volume)
        elif kind == "route" and self.routes and (route := self.routes.get(key)):
            self.router.reconcile_route(route)
            # another Route may be waiting for this host
            for other in self.routes.items():
                if other["metadata"]["uid"] != route["metadata"]["uid"]:
                    self.router.reconcile_route(other)
        elif kind == "ingress" and (ingress := self.ingresses.get(key)):
            self.router.reconcile_ingress(ingress)
        elif kind == "isvc":
            self.kserve.reconcile(key)
        elif kind == "endpoints":
            self.real.refresh_names()
        elif kind == "sc":
            for claim in self.claims.items():  # a class that appears late provisions waiting claims
                self.volumes.reconcile_claim(claim)

    def stop(self) -> None:
        self.queue.close()
        for informer in self.informers.values():
            informer.stop()
        self.real.shutdown()


def _pod_ip(pod: Obj) -> str:
    digest = hashlib.sha256(pod["metadata"]["uid"].encode()).digest()
    return f"10.88.{digest[0]}.{max(digest[1], 2)}"
