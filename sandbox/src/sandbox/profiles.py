"""Profiles: what a sandbox cluster looks like when it starts, modelled on clusters users have."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .agent.kube import Kube, KubeError, Obj

MANIFESTS = Path(__file__).parent / "manifests"
DEFAULT = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Profile:
    name: str
    domain: str
    platform: str | None  # OpenShift Infrastructure platform type; None: plain Kubernetes
    storage_classes: list[tuple[str, str, str, bool]]  # name, provisioner, binding mode, default
    ingress_class: str | None = None
    notes: str = ""
    extra: list[Obj] = field(default_factory=list)

    @property
    def openshift(self) -> bool:
        return self.platform is not None


PROFILES = {
    "aws": Profile(
        name="aws",
        domain="apps.aws.sandbox.test",
        platform="AWS",
        storage_classes=[
            ("gp3-csi", "ebs.csi.aws.com", "WaitForFirstConsumer", True),
            ("gp2-csi", "ebs.csi.aws.com", "WaitForFirstConsumer", False),
        ],
        notes="OpenShift on AWS: gp3-csi is the default class",
    ),
    "cnv": Profile(
        name="cnv",
        domain="apps.cnv.sandbox.test",
        platform="BareMetal",
        storage_classes=[
            (
                "ocs-external-storagecluster-ceph-rbd",
                "openshift-storage.rbd.csi.ceph.com",
                "Immediate",
                True,
            ),
            ("hostpath-csi", "kubevirt.io.hostpath-provisioner", "WaitForFirstConsumer", False),
        ],
        notes="OpenShift Virtualization on bare metal: ODF external Ceph RBD is the default",
    ),
    "vanilla": Profile(
        name="vanilla",
        domain="apps.vanilla.sandbox.test",
        platform=None,
        storage_classes=[("standard", "sandbox.litemaas.io/hostpath", "Immediate", True)],
        ingress_class="nginx",
        notes="plain Kubernetes: no OpenShift APIs; pass the domain as "
        "ocp4_workload_litemaas_cluster_domain",
    ),
}


def _storage_class(name: str, provisioner: str, mode: str, default: bool) -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {DEFAULT: "true"} if default else {}},
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": mode,
        "allowVolumeExpansion": True,
    }


def _wait_for_crds(kube: Kube, names: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conds = {
                c["type"]: c["status"]
                for c in ((crd or {}).get("status") or {}).get("conditions") or []
            }
            if conds.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not established")
            time.sleep(0.1)


def _create_retrying(kube: Kube, path: str, body: Obj, timeout: float = 15) -> None:
    """CRD endpoints can answer 404 for a moment after Established; retry those."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            kube.create(path, body)
            return
        except KubeError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _create_crds(kube: Kube, manifest: str) -> None:
    crds = list(yaml.safe_load_all((MANIFESTS / manifest).read_text()))
    for crd in crds:
        kube.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    _wait_for_crds(kube, [c["metadata"]["name"] for c in crds])


def seed(kube: Kube, profile: Profile, api_server: str) -> None:
    """Create what the profile says the cluster has. Safe to run twice."""
    for sc in profile.storage_classes:
        kube.create("/apis/storage.k8s.io/v1/storageclasses", _storage_class(*sc))
    kube.create("/api/v1/namespaces/kube-public/configmaps", _sandbox_info(profile))
    if profile.ingress_class:
        kube.create("/apis/networking.k8s.io/v1/ingressclasses", _ingress_class(profile))
    # KServe's InferenceService on every profile: OpenShift AI on OpenShift, KServe on Kubernetes.
    _create_crds(kube, "kserve-crds.yaml")
    if profile.openshift:
        _create_crds(kube, "openshift-crds.yaml")
        _seed_openshift_config(kube, profile, api_server)


def _sandbox_info(profile: Profile) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sandbox-info"},
        "data": {"profile": profile.name, "domain": profile.domain, "notes": profile.notes},
    }


def _ingress_class(profile: Profile) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": profile.ingress_class,
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


def _seed_openshift_config(kube: Kube, profile: Profile, api_server: str) -> None:
    """The cluster-scoped config.openshift.io objects the role reads: Infrastructure (platform,
    API server) and Ingress (apps domain)."""
    base = "/apis/config.openshift.io/v1"
    _create_retrying(kube, f"{base}/infrastructures", {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Infrastructure",
        "metadata": {"name": "cluster"},
        "spec": {"platformSpec": {"type": profile.platform}},
    })  # fmt: skip
    kube.patch(f"{base}/infrastructures/cluster/status", {"status": {
        "platform": profile.platform,
        "platformStatus": {"type": profile.platform},
        "infrastructureName": f"sandbox-{profile.name}",
        "apiServerURL": api_server,
        "controlPlaneTopology": "SingleReplica",
        "infrastructureTopology": "SingleReplica",
    }})  # fmt: skip
    _create_retrying(kube, f"{base}/ingresses", {
        "apiVersion": "config.openshift.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "cluster"},
        "spec": {"domain": profile.domain},
    })  # fmt: skip
