"""The sandbox's one Node object, as a kubelet registers it."""

from __future__ import annotations

import time

from .kube import Kube
from .runtime import stamp


def register_node(kube: Kube, name: str) -> None:
    now = stamp(time.time())
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "250", "ephemeral-storage": "100Gi"}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
            },
        },
    }
    kube.create("/api/v1/nodes", node)
    status = {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": name},
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "sandbox node agent is posting ready status",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.20.2",
            "kubeProxyVersion": "v1.20.2",
            "containerRuntimeVersion": "sandbox://1",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "osImage": "litemaas sandbox",
            "kernelVersion": "",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }
    kube.patch(f"/api/v1/nodes/{name}/status", {"status": status})
