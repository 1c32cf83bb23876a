"""Service names inside pods: a hosts file per pod, made from the ready endpoints of Services.

There is no cluster DNS and no kube-proxy, so a Service name resolves straight to the addresses
of its ready pods (as for a headless Service): `postgres` and `postgres.<ns>` from the pod's own
namespace, `postgres.<ns>.svc[.cluster.local]` from anywhere. The one exception is the
`kubernetes` Service, whose ClusterIP answers inside every real pod (`kubernetes_service.py`).
The file is rewritten in place, because each container sees it through a bind mount of this very
inode.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..agent.kube import Obj

CLUSTER_DOMAIN = "cluster.local"


def _service_names(name: str, svc_ns: str, ns: str) -> list[str]:
    """`name.<ns>` resolves from every namespace (search domain svc.cluster.local); the bare name
    only from the Service's own namespace."""
    fqdn = f"{name}.{svc_ns}.svc"
    names = [f"{fqdn}.{CLUSTER_DOMAIN}", fqdn, f"{name}.{svc_ns}"]
    return [*names, name] if svc_ns == ns else names


def render(
    pod: Obj, pod_ip: str, endpoints: list[Obj], cluster_ips: dict[str, str] | None = None
) -> str:
    """The pod's hosts file; `cluster_ips` (`namespace/name` -> address): Services that answer on
    their ClusterIP inside pods, named by it rather than by their endpoints."""
    cluster_ips = cluster_ips or {}
    meta, spec = pod["metadata"], pod["spec"]
    ns = meta["namespace"]
    hostname = spec.get("hostname") or meta["name"]
    own = [hostname]
    if spec.get("subdomain"):
        own.insert(0, f"{hostname}.{spec['subdomain']}.{ns}.svc.{CLUSTER_DOMAIN}")
    lines = [
        "# Kubernetes-managed hosts file (sandbox: Service names from ready endpoints).",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{pod_ip}\t{' '.join(own)}",
    ]
    for key, address in sorted(cluster_ips.items()):
        svc_ns, _, name = key.partition("/")
        lines.append(f"{address}\t{' '.join(_service_names(name, svc_ns, ns))}")
    for ep in sorted(endpoints, key=lambda e: (e["metadata"]["namespace"], e["metadata"]["name"])):
        name, svc_ns = ep["metadata"]["name"], ep["metadata"]["namespace"]
        if f"{svc_ns}/{name}" in cluster_ips:
            continue
        fqdn = f"{name}.{svc_ns}.svc"
        names = _service_names(name, svc_ns, ns)
        for subset in ep.get("subsets") or []:
            for address in subset.get("addresses") or []:
                lines.append(f"{address['ip']}\t{' '.join(names)}")
                if address.get("hostname"):
                    lines.append(f"{address['ip']}\t{address['hostname']}.{fqdn}.{CLUSTER_DOMAIN}")
    return "\n".join(lines) + "\n"


RESOLV = (
    "search {ns}.svc.{d} svc.{d} {d}\nnameserver 127.0.0.1\noptions ndots:5 attempts:1 timeout:1\n"
)


def resolv_conf(namespace: str) -> str:
    """Search domains as in a pod; the name server is the pod's own loopback, where nothing
    listens, so a name that is not in the hosts file fails at once and never leaves the pod."""
    return RESOLV.format(ns=namespace, d=CLUSTER_DOMAIN)


def write_in_place(path: Path, text: str) -> None:
    """Rewrite a bind-mounted file without replacing its inode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        data = text.encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)
