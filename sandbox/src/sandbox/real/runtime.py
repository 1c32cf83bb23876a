"""The real runtime: pods whose every container has a known image become local processes.

It plugs into the node agent behind the same `Runtime` protocol as the simulated one; the agent
decides which pods come here (every pod with `--real`, or the pods of namespaces labelled
`sandbox.litemaas.io/real: "true"`).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..agent.kube import Kube, Obj
from . import images, network
from .environment import Fetch
from .kubernetes_service import KubernetesService
from .pod import PodContext, PodWorker
from .volumes import ClaimPath

log = logging.getLogger("sandbox.real")
LABEL = "sandbox.litemaas.io/real"
REMOVED_GRACE = 2.0  # the kubelet's minimum grace, used for pods already gone from the API


TOOLS = ("ip", "nsenter", "unshare", "mount", "umount", "pivot_root", "setpriv")


def missing_tools() -> list[str]:
    """What real pods need from the machine and it lacks: root, iproute2 and util-linux."""
    missing = [] if os.geteuid() == 0 else ["root"]
    return missing + [t for t in TOOLS if shutil.which(t) is None]


def runnable(pod: Obj) -> bool:
    """Every container and init container has a known image."""
    spec = pod["spec"]
    return all(
        images.find(c["image"]) is not None
        for c in spec.get("initContainers", []) + spec["containers"]
    )


class RealRuntime:
    def __init__(
        self,
        kube: Kube,
        state_dir: Path,
        notify: Callable[[str], None],
        endpoints: Callable[[], list[Obj]],
        time_scale: float = 1.0,
        openshift: bool = False,
    ) -> None:
        self.kube = kube
        self.state_dir = state_dir.resolve()
        self.network = network.PodNetwork(self.state_dir)
        swept = network.sweep_orphans()
        if swept:
            log.info("swept what killed sandboxes left: %s", ", ".join(swept))
        self.kubernetes = KubernetesService(kube, self.network)
        self.workers: dict[str, PodWorker] = {}
        self._gone: set[str] = set()  # pods whose deletion was confirmed: never start them again
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="probe")
        self.ctx = PodContext(
            state_dir=self.state_dir,
            network=self.network,
            fetch_for=self._fetch_for,
            claim_path_for=self._claim_path_for,
            endpoints=endpoints,
            kubernetes=self.kubernetes,
            notify=notify,
            probe_pool=self._pool,
            openshift=openshift,
            time_scale=time_scale,
        )

    def manages(self, pod: Obj) -> bool:
        return pod["metadata"]["uid"] in self.workers

    # -- the Runtime protocol ----------------------------------------------------------------
    def sync(self, pod: Obj, fault: str | None) -> tuple[list[Obj], list[Obj], float | None]:
        uid = pod["metadata"]["uid"]
        with self._lock:
            worker = self.workers.get(uid)
            if worker is None:
                if uid in self._gone or pod["metadata"].get("deletionTimestamp"):
                    return [], [], None  # a reconcile that raced the pod's deletion
                worker = self.workers[uid] = PodWorker(pod, self.ctx)
        worker.set_fault(fault)
        init, main = worker.snapshot()
        return init, main, None  # the worker says when its status changes

    def pod_ip(self, pod: Obj) -> str | None:
        worker = self.workers.get(pod["metadata"]["uid"])
        return worker.ip if worker else None

    def stop(self, pod: Obj) -> float | None:
        """Stop the pod's processes; until they are gone, ask to be called again."""
        uid = pod["metadata"]["uid"]
        with self._lock:  # a worker being created for this pod right now is waited for
            worker = self.workers.get(uid)
            if worker is None:
                self._gone.add(uid)
                return None
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        return None if self._stopped(uid, worker, grace, wait=0.2) else 0.2

    def release_removed(self, key: str, live_uid: str | None) -> float | None:
        """Stop the containers of pods named `key` that left the API without this node confirming
        their deletion (force deletion, or an API server that force-deletes: 1.20's namespace
        deletion can), as the kubelet does for a removed pod: at once, with its minimum grace.
        `live_uid` is the pod that has the name now, if any. Until they are gone, ask again."""
        stopped = [
            self._stopped(uid, worker, REMOVED_GRACE)
            for uid, worker in list(self.workers.items())
            if worker.key == key and uid != live_uid
        ]
        return None if all(stopped) else 0.2

    def _stopped(self, uid: str, worker: PodWorker, grace: float | None, wait: float = 0) -> bool:
        """Ask the pod's worker to stop; True, and the pod forgotten for good, once its processes
        are gone (waiting up to `wait` seconds for that)."""
        worker.request_stop(grace)
        if not worker.done.wait(wait):
            return False
        with self._lock:
            self.workers.pop(uid, None)
            self._gone.add(uid)
        return True

    # -- cluster lookups -----------------------------------------------------------------------
    def _fetch_for(self, namespace: str) -> Fetch:
        def fetch(kind: str, name: str) -> Obj | None:
            return self.kube.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")

        return fetch

    def _claim_path_for(self, namespace: str) -> ClaimPath:
        volumes_root = self.state_dir / "volumes"

        def claim_path(claim: str) -> Path | None:
            pvc = self.kube.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
            volume = (pvc or {}).get("spec", {}).get("volumeName")
            pv = self.kube.get(f"/api/v1/persistentvolumes/{volume}") if volume else None
            path = (pv or {}).get("spec", {}).get("hostPath", {}).get("path")
            # Only volumes the sandbox's provisioner made: never a path elsewhere on the machine.
            if not path or not Path(path).resolve().is_relative_to(volumes_root):
                return None
            return Path(path)

        return claim_path

    # -- names and shutdown ----------------------------------------------------------------------
    def refresh_names(self) -> None:
        """Endpoints changed: rewrite every pod's hosts file."""
        for worker in list(self.workers.values()):
            if not worker.done.is_set():
                worker.write_names()

    def address_of_pod(self, address: str) -> bool:
        """Whether `address` belongs to a running real pod (the router connects to no other)."""
        return any(w.ip == address and not w.done.is_set() for w in list(self.workers.values()))

    def shutdown(self, timeout: float = 20.0) -> None:
        workers = list(self.workers.values())
        for worker in workers:
            worker.request_stop(5.0)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.done.wait(max(deadline - time.monotonic(), 0.1))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.kubernetes.stop()
        removed = network.teardown(self.state_dir)
        if removed:
            log.info("removed %s", ", ".join(removed))
