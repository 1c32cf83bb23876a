"""Real workloads for the sandbox: pods of known images run as local processes, each pod with its
own network namespace and address, its volumes at the container paths, its probes run for real;
Service names resolve per namespace, and Route hosts are reachable through the router."""

from . import controller_image, litellm_image  # noqa: F401  (register their images)
from .images import Image, register
from .network import teardown
from .runtime import LABEL, RealRuntime

__all__ = ["LABEL", "Image", "RealRuntime", "register", "teardown"]
