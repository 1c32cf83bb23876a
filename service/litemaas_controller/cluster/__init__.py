"""The Kubernetes client the service itself uses (kubeconfig or in-cluster), and its reads."""

from litemaas_controller.cluster.client import KubeClient
from litemaas_controller.cluster.events import EventWriter
from litemaas_controller.cluster.namespaces import NamespaceReader

__all__ = ["EventWriter", "KubeClient", "NamespaceReader"]
