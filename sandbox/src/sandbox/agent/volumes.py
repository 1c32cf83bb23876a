"""A volume provisioner for every StorageClass the cluster has: a PersistentVolume per claim.

Claims of classes that do not exist stay Pending, as on a real cluster. Late-binding classes
(WaitForFirstConsumer) are provisioned once a pod using the claim is scheduled.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from .kube import Kube, Obj

log = logging.getLogger("sandbox.agent")
SELECTED_NODE = "volume.kubernetes.io/selected-node"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


class VolumeProvisioner:
    def __init__(self, kube: Kube, classes: object, root: Path) -> None:
        self.kube, self.classes, self.root = kube, classes, root

    def storage_class(self, name: str | None) -> Obj | None:
        return self.classes.get(f"/{name}") if name else None  # type: ignore[attr-defined]

    def reconcile_claim(self, pvc: Obj) -> None:
        meta, spec = pvc["metadata"], pvc["spec"]
        if meta.get("deletionTimestamp") or spec.get("volumeName"):
            return
        if pvc.get("status", {}).get("phase") == "Bound":
            return
        sc = self.storage_class(spec.get("storageClassName"))
        if sc is None:
            return  # Pending: the PV controller reports "storageclass ... not found"
        late = sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        if late and SELECTED_NODE not in (meta.get("annotations") or {}):
            return
        name = f"pvc-{meta['uid']}"
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "annotations": {"pv.kubernetes.io/provisioned-by": sc["provisioner"]},
            },
            "spec": {
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                "storageClassName": sc["metadata"]["name"],
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        if self.kube.create("/api/v1/persistentvolumes", pv) is not None:
            log.info("provisioned %s for %s/%s", name, meta["namespace"], meta["name"])

    def reconcile_volume(self, pv: Obj) -> None:
        """Released volumes with reclaim policy Delete go, data included (the provisioner's job)."""
        if pv.get("status", {}).get("phase") != "Released":
            return
        if pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
            return
        name = pv["metadata"]["name"]
        self.kube.delete(f"/api/v1/persistentvolumes/{name}")
        shutil.rmtree(self.root / name, ignore_errors=True)

    def select_node(self, namespace: str, claims: list[str], node: str) -> None:
        for claim in claims:
            self.kube.patch(
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}",
                {"metadata": {"annotations": {SELECTED_NODE: node}}},
            )
