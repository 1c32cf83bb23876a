"""The kubelet's part for the sandbox's node: bind pods, report their status, finish deletion."""

from __future__ import annotations

import logging
import time
from typing import Any

from .faults import ANNOTATION, Lookup, fault_of
from .kube import Kube, KubeError, Obj, path_of
from .runtime import Runtime, stamp

log = logging.getLogger("sandbox.agent")
NODE = "sandbox-node"


def _condition(kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> Obj:
    cond: Obj = {"type": kind, "status": "True" if ok else "False"}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


class PodReconciler:
    def __init__(
        self,
        kube: Kube,
        runtimes: list[tuple[Any, Runtime]],
        lookup: Lookup,
        pods_of: Any,
        pvc_bound: Any,
        select_node_for_claims: Any,
        ip_for: Any,
    ) -> None:
        self.kube = kube
        self.pods_of = pods_of  # (owner object) -> pods it controls, from the agent's caches
        self.runtimes = runtimes  # [(predicate(pod) -> bool, runtime)], first match wins
        self.lookup = lookup
        self.pvc_bound = pvc_bound
        self.select_node_for_claims = select_node_for_claims
        self.ip_for = ip_for

    def runtime_for(self, pod: Obj) -> Runtime:
        return next(rt for accepts, rt in self.runtimes if accepts(pod))

    def reconcile(self, pod: Obj) -> float | None:
        meta, spec = pod["metadata"], pod["spec"]
        if meta.get("deletionTimestamp"):
            return self._finish_deletion(pod)
        if not spec.get("nodeName"):
            return self._bind(pod)
        if spec["nodeName"] != NODE:
            return None
        fault, carrier = fault_of(pod, self.lookup)
        if fault == "delete":
            self._delete_once(pod, carrier)
            return None
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return None
        init, containers, wake = self.runtime_for(pod).sync(pod, fault)
        self._write_status(pod, init, containers)
        return wake

    def _bind(self, pod: Obj) -> float | None:
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        ]
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        unbound = [c for c in claims if not self.pvc_bound(ns, c)]
        if unbound:
            # As the scheduler does: ask for late-bound volumes on this node, then wait for them.
            self.select_node_for_claims(ns, unbound, NODE)
            self._patch_status(
                pod,
                {
                    "conditions": [
                        _condition(
                            "PodScheduled",
                            False,
                            "Unschedulable",
                            "0/1 nodes are available: "
                            "1 pod has unbound immediate PersistentVolumeClaims.",
                        )
                    ],
                    "phase": "Pending",
                },
            )
            return 1.0
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
        }
        try:
            self.kube.request("POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding", binding)
        except KubeError as exc:
            if exc.status not in (404, 409):
                raise
        return None

    def _write_status(self, pod: Obj, init: list[Obj], containers: list[Obj]) -> None:
        old = pod.get("status", {})
        run_once = pod["spec"].get("restartPolicy", "Always") != "Always"
        terminated = [c["state"].get("terminated") for c in containers]
        if run_once and all(terminated):
            phase = "Succeeded" if all(t["exitCode"] == 0 for t in terminated) else "Failed"
        elif any(
            c.get("started") or c["restartCount"] or c["state"].get("terminated")
            for c in containers
        ):
            phase = "Running"
        else:
            phase = "Pending"
        ready = phase == "Running" and all(c["ready"] for c in containers)
        initialized = all(c.get("ready") for c in init)
        init_why = None if initialized else "ContainersNotInitialized"
        not_ready = [c["name"] for c in containers if not c["ready"]]
        finished = phase in ("Succeeded", "Failed")
        why = "PodCompleted" if finished else "ContainersNotReady"
        msg = (
            None
            if ready or finished
            else f"containers with unready status: [{' '.join(not_ready)}]"
        )
        conditions = [
            _condition("Initialized", initialized, init_why),
            _condition("Ready", ready, None if ready else why, msg),
            _condition("ContainersReady", ready, None if ready else why, msg),
            _condition("PodScheduled", True),
        ]
        previous = {c["type"]: c for c in old.get("conditions", [])}
        now = stamp(time.time())
        for cond in conditions:
            before = previous.get(cond["type"])
            cond["lastTransitionTime"] = (
                before["lastTransitionTime"]
                if before
                and before.get("status") == cond["status"]
                and "lastTransitionTime" in before
                else now
            )
            cond["lastProbeTime"] = None
        ip = self.runtime_for(pod).pod_ip(pod) or self.ip_for(pod)
        status: Obj = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": old.get("startTime") or now,
            "containerStatuses": containers,
            "qosClass": old.get("qosClass", "BestEffort"),
        }
        if init:
            status["initContainerStatuses"] = init
        if any(status.get(k) != old.get(k) for k in status):
            self._patch_status(pod, status)

    def _patch_status(self, pod: Obj, status: Obj) -> None:
        self.kube.patch(
            path_of({**pod, "apiVersion": "v1", "kind": "Pod"}, "status"), {"status": status}
        )

    def _finish_deletion(self, pod: Obj) -> float | None:
        """Once the runtime has stopped the containers, confirm the deletion as the kubelet does
        (grace 0); a runtime still stopping them asks to be called again."""
        again = self.runtime_for(pod).stop(pod)
        if again:
            return again
        meta = pod["metadata"]
        self.kube.delete(
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
            {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
        )
        return None

    def _delete_once(self, pod: Obj, carrier: Obj | None) -> None:
        """The `delete` fault deletes the pods it covers once, then removes itself."""
        meta = pod["metadata"]
        log.info("fault delete: pod %s/%s", meta["namespace"], meta["name"])
        self.kube.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
        if carrier is not None and carrier is not pod:
            for sibling in self.pods_of(carrier):
                m = sibling["metadata"]
                self.kube.delete(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}")
        if carrier is not None:
            self.kube.patch(path_of(carrier), {"metadata": {"annotations": {ANNOTATION: None}}})
