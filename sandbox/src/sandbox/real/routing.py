"""Which pods a host leads to: a Route's or an Ingress's host (the ready endpoints of its Service's
target port), or a Service's cluster DNS name with a port (what a pod, or a controller running in
the cluster, reaches through cluster DNS and kube-proxy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..agent.kube import Obj

Lookup = Callable[[str, str], Obj | None]  # (namespace, name) -> object from a cache


@dataclass(frozen=True)
class Target:
    host: str
    tls: str | None  # None (plain HTTP), "edge", "passthrough" or "reencrypt"
    insecure: str  # what plain HTTP gets on a TLS host: "Allow", "Redirect" or "None"
    addresses: list[tuple[str, int]]
    service: bool = False  # a Service's DNS name: plain TCP to its pods, whatever the bytes


def _admitted(route: Obj) -> bool:
    for ingress in (route.get("status") or {}).get("ingress") or []:
        for cond in ingress.get("conditions") or []:
            if cond.get("type") == "Admitted" and cond.get("status") == "True":
                return True
    return False


def _ready(endpoints: Obj | None, port: int | str | None) -> list[tuple[str, int]]:
    """Addresses of ready pods with the port named or numbered `port` (None: the first)."""
    found = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        if port is None:
            chosen = ports[:1]
        elif isinstance(port, str) and not port.isdigit():
            chosen = [p for p in ports if p.get("name") == port]
        else:
            chosen = [p for p in ports if p.get("port") == int(port)]
        for p in chosen:
            found += [(a["ip"], int(p["port"])) for a in subset.get("addresses") or []]
    return found


def from_route(route: Obj, endpoints: Lookup) -> Target:
    spec, ns = route["spec"], route["metadata"]["namespace"]
    tls = spec.get("tls") or {}
    port = (spec.get("port") or {}).get("targetPort")
    return Target(
        host=spec["host"],
        tls=tls.get("termination"),
        insecure=tls.get("insecureEdgeTerminationPolicy") or "None",
        addresses=_ready(endpoints(ns, spec["to"]["name"]), port),
    )


def from_ingress(ingress: Obj, rule: Obj, services: Lookup, endpoints: Lookup) -> Target | None:
    ns = ingress["metadata"]["namespace"]
    paths = (rule.get("http") or {}).get("paths") or []
    if not paths:
        return None
    backend = paths[0]["backend"]["service"]
    svc = services(ns, backend["name"])
    wanted = backend.get("port") or {}
    port_name: int | str | None = None
    for p in (svc or {}).get("spec", {}).get("ports", []):
        if p.get("port") == wanted.get("number") or p.get("name") == wanted.get("name"):
            port_name = p.get("name") or None  # unnamed: the Service's only port
    tls = any(rule["host"] in (t.get("hosts") or []) for t in ingress["spec"].get("tls") or [])
    return Target(
        host=rule["host"],
        tls="edge" if tls else None,
        insecure="Redirect" if tls else "Allow",
        addresses=_ready(endpoints(ns, backend["name"]), port_name),
    )


SERVICE_SUFFIXES = (".svc.cluster.local", ".svc")


def from_service(host: str, port: int, services: Lookup, endpoints: Lookup) -> Target | None:
    """`<name>.<namespace>.svc[.cluster.local]`:`port` → ready pods on the Service port's target."""
    suffix = next((s for s in SERVICE_SUFFIXES if host.endswith(s)), None)
    if suffix is None:
        return None
    parts = host[: -len(suffix)].split(".")
    if len(parts) != 2:
        return None
    name, ns = parts
    svc = services(ns, name)
    if svc is None:
        return None
    svc_ports = (svc.get("spec") or {}).get("ports") or []
    chosen = [p for p in svc_ports if p.get("port") == port]
    if not chosen:
        return Target(host=host, tls=None, insecure="Allow", addresses=[], service=True)
    # Endpoints name their ports after the Service's ports; an unnamed one is the only one.
    return Target(
        host=host,
        tls=None,
        insecure="Allow",
        addresses=_ready(endpoints(ns, name), chosen[0].get("name") or None),
        service=True,
    )


def find(
    host: str,
    port: int,
    routes: list[Obj],
    ingresses: list[Obj],
    services: Lookup,
    endpoints: Lookup,
) -> Target | None:
    host = host.lower().rstrip(".")
    if (service := from_service(host, port, services, endpoints)) is not None:
        return service
    for route in routes:
        same = (route.get("spec") or {}).get("host", "").lower() == host
        if same and _admitted(route) and not route["metadata"].get("deletionTimestamp"):
            return from_route(route, endpoints)
    for ingress in ingresses:
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            if (rule.get("host") or "").lower() == host:
                return from_ingress(ingress, rule, services, endpoints)
    return None
