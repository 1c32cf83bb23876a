"""What a pod tells the service about itself: the files Kubernetes mounts for its service account.

In a pod, the kubelet sets ``KUBERNETES_SERVICE_HOST`` and mounts the service account's token, the
cluster CA and the pod's namespace under ``/var/run/secrets/kubernetes.io/serviceaccount``; the
kubernetes client's in-cluster configuration reads the first two, the namespace is read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def pod_namespace(environ: Mapping[str, str], directory: Path | None = None) -> str | None:
    """The namespace of the pod the service runs in, from its service account's mount
    (``directory``, default ``SERVICE_ACCOUNT_DIR``); None outside a cluster (no
    ``KUBERNETES_SERVICE_HOST``) or without the mount."""
    if not environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    try:
        path = (directory or SERVICE_ACCOUNT_DIR) / "namespace"
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
