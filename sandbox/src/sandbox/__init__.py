"""A local Kubernetes cluster without Docker: real etcd, kube-apiserver and kube-controller-manager
on loopback, a node agent standing in for the kubelet, and OpenShift's APIs as CRDs."""

from .handle import Sandbox, SandboxError
from .profiles import PROFILES

__all__ = ["PROFILES", "Sandbox", "SandboxError"]
